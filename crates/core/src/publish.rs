//! Header classification for publish, enqueue, batch items, schedules and DLQ retry
//! overrides (spec §4.1). Turns the request's header list into [`PublishHeaders`],
//! validating every value, so that a bad header is refused with a clear 400 before
//! anything is stored.
//!
//! Headers come in *layers*. `Upstash-<Y>` configures the message; spec §4.1 rule 6
//! says `Upstash-Callback-<Y>` configures the callback message exactly as
//! `Upstash-<Y>` would configure a publish, and the same for
//! `Upstash-Failure-Callback-<Y>`. So one function parses a layer given its prefix,
//! and calls itself for the callback layers — bounded in depth, because the workflow
//! SDK goes two deep (`Upstash-Callback-Failure-Callback-…`) and nobody deeper.

use sha2::{Digest, Sha256};

use crate::destination_policy::DestinationPolicy;
use crate::destination_url::check_url;
use crate::duration::parse_duration;
use crate::error::{InputError, InputResult};
use crate::flow_control::parse_flow_control;
use crate::header_map::append;
use crate::message::{CallbackSpec, DeliveryOptions, Message, MessageState, Origin};
use crate::redact::{parse_redact_fields, Redaction};
use crate::retry_delay::RetryDelay;
use crate::UnixMillis;

/// Methods a message may be delivered with (spec §4.2 `Upstash-Method`).
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Callback layers nest at most this deep below the message itself.
const MAX_LAYER_DEPTH: usize = 2;

/// Server limits that bound what a publish may ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishLimits {
    /// Largest `Upstash-Retries` accepted; larger values are refused with 400.
    pub max_retries: u32,
    /// Retries of a message that does not say.
    pub default_retries: u32,
    /// Largest `Upstash-Delay` / distance of `Upstash-Not-Before` from now.
    pub max_delay_ms: u64,
    /// Largest `Upstash-Timeout`; also the timeout of messages that do not set one.
    pub max_timeout_ms: u64,
    /// Where callbacks and failure callbacks may point.
    pub destinations: DestinationPolicy,
}

impl Default for PublishLimits {
    fn default() -> Self {
        PublishLimits {
            max_retries: 20,
            default_retries: 3,
            max_delay_ms: 365 * 24 * 3_600_000,
            max_timeout_ms: 2 * 3_600_000,
            destinations: DestinationPolicy::allow_all(),
        }
    }
}

/// Everything the headers of one publish say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublishHeaders {
    /// Method, forwarded headers, retries, timeouts, delay, callbacks, flow control.
    pub options: DeliveryOptions,
    /// `Upstash-Not-Before`, converted to milliseconds. Wins over `Upstash-Delay`.
    pub not_before: Option<UnixMillis>,
    pub deduplication_id: Option<String>,
    pub content_based_deduplication: bool,
    pub labels: Vec<String>,
    pub redaction: Redaction,
    /// `Upstash-Header-Forward: true`: plain incoming headers are forwarded as they are.
    pub header_forward: bool,
    /// Schedule-only headers (spec §3.8); ignored by plain publishes.
    pub cron: Option<String>,
    pub schedule_id: Option<String>,
    pub queue_name: Option<String>,
}

/// Headers never forwarded, even with `Upstash-Header-Forward: true`: credentials of
/// the publisher, and hop-by-hop headers that describe the incoming connection.
const NEVER_FORWARDED: [&str; 12] = [
    "authorization",
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "accept-encoding",
];

/// Classifies and validates a publish's headers. `headers` are (name, value) pairs in
/// request order; names are matched case-insensitively.
pub fn classify(
    headers: &[(String, String)],
    limits: &PublishLimits,
    now: UnixMillis,
) -> InputResult<PublishHeaders> {
    let lowered: Vec<(String, &str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), n.as_str(), v.as_str()))
        .collect();
    for (_, name, value) in &lowered {
        check_header(name, value)?;
    }
    let mut out = PublishHeaders {
        header_forward: lowered.iter().any(|(n, _, v)| {
            n == "upstash-header-forward" && v.trim().eq_ignore_ascii_case("true")
        }),
        ..PublishHeaders::default()
    };
    out.options = parse_layer(&lowered, "upstash-", 0, limits)?;

    for (name, original, value) in &lowered {
        let value = value.trim();
        match name.as_str() {
            "content-type" => append(&mut out.options.headers, "Content-Type", value),
            "upstash-not-before" => {
                let secs: u64 = value.parse().map_err(|_| {
                    InputError::new(format!(
                        "invalid Upstash-Not-Before \"{value}\": expected a unix timestamp in seconds"
                    ))
                })?;
                let at = secs.saturating_mul(1000);
                if at > now.saturating_add(limits.max_delay_ms) {
                    return Err(InputError::new(format!(
                        "Upstash-Not-Before is too far in the future: at most {} seconds from now",
                        limits.max_delay_ms / 1000
                    )));
                }
                out.not_before = Some(at);
            }
            "upstash-deduplication-id" => {
                if value.is_empty() || value.len() > 512 {
                    return Err(InputError::new(
                        "invalid Upstash-Deduplication-Id: expected 1 to 512 characters",
                    ));
                }
                out.deduplication_id = Some(value.to_string());
            }
            "upstash-content-based-deduplication" => {
                out.content_based_deduplication =
                    parse_bool("Upstash-Content-Based-Deduplication", value)?;
            }
            "upstash-label" => {
                for label in value.split(',').map(str::trim).filter(|l| !l.is_empty()) {
                    if label.len() > 256 {
                        return Err(InputError::new(
                            "invalid Upstash-Label: a label is at most 256 characters",
                        ));
                    }
                    out.labels.push(label.to_string());
                }
            }
            "upstash-redact-fields" => out.redaction = parse_redact_fields(value)?,
            "upstash-header-forward" => {
                parse_bool("Upstash-Header-Forward", value)?;
            }
            "upstash-cron" => out.cron = Some(value.to_string()),
            "upstash-schedule-id" => out.schedule_id = Some(value.to_string()),
            "upstash-queue-name" => out.queue_name = Some(value.to_string()),
            _ if out.header_forward
                && !name.starts_with("upstash-")
                && !NEVER_FORWARDED.contains(&name.as_str()) =>
            {
                append(&mut out.options.headers, original, value)
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Parses one layer: the headers whose lower-case name starts with `prefix`.
fn parse_layer(
    headers: &[(String, &str, &str)],
    prefix: &str,
    depth: usize,
    limits: &PublishLimits,
) -> InputResult<DeliveryOptions> {
    let mut options = DeliveryOptions::default();
    let mut flow_key: Option<String> = None;
    let mut flow_value: Option<String> = None;
    let mut callback_url = None;
    let mut failure_callback_url = None;
    let shown = |rest: &str| display_name(prefix, rest);

    for (name, original, value) in headers {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let value = value.trim();
        // Longest prefixes first (spec §4.1): callback layers, then forwards.
        if rest.starts_with("callback-") || rest.starts_with("failure-callback-") {
            continue; // parsed by the sub-layer below
        }
        if let Some(forwarded) = rest.strip_prefix("forward-") {
            if forwarded.is_empty() {
                return Err(InputError::new(format!(
                    "invalid header {original}: nothing follows the Forward- prefix"
                )));
            }
            // Keep the publisher's spelling of the suffix; canonicalisation happens in `append`.
            let suffix = &original[original.len() - forwarded.len()..];
            append(&mut options.headers, suffix, value);
            continue;
        }
        match rest {
            "method" => {
                let method = value.to_ascii_uppercase();
                if !METHODS.contains(&method.as_str()) {
                    return Err(InputError::new(format!(
                        "invalid {} \"{value}\": expected one of {}",
                        shown("method"),
                        METHODS.join(", ")
                    )));
                }
                options.method = Some(method);
            }
            "retries" => {
                let retries: u32 = value.parse().map_err(|_| {
                    InputError::new(format!(
                        "invalid {} \"{value}\": expected a whole number of retries",
                        shown("retries")
                    ))
                })?;
                if retries > limits.max_retries {
                    return Err(InputError::new(format!(
                        "{} is {retries}, above this server's maximum of {}",
                        shown("retries"),
                        limits.max_retries
                    )));
                }
                options.retries = Some(retries);
            }
            "retry-delay" => {
                options.retry_delay =
                    Some(RetryDelay::parse_for_header(&shown("retry-delay"), value)?)
            }
            "timeout" => {
                let timeout = millis(parse_duration(&shown("timeout"), value)?);
                if timeout == 0 || timeout > limits.max_timeout_ms {
                    return Err(InputError::new(format!(
                        "{} must be between 1s and {}s",
                        shown("timeout"),
                        limits.max_timeout_ms / 1000
                    )));
                }
                options.timeout_ms = Some(timeout);
            }
            "delay" => {
                let delay = millis(parse_duration(&shown("delay"), value)?);
                if delay > limits.max_delay_ms {
                    return Err(InputError::new(format!(
                        "{} is above this server's maximum of {}s",
                        shown("delay"),
                        limits.max_delay_ms / 1000
                    )));
                }
                options.delay_ms = Some(delay);
            }
            "flow-control-key" => flow_key = Some(value.to_string()),
            "flow-control-value" => flow_value = Some(value.to_string()),
            "callback" if depth < MAX_LAYER_DEPTH => {
                callback_url = Some(check_url(&shown("callback"), value, &limits.destinations)?)
            }
            "failure-callback" if depth < MAX_LAYER_DEPTH => {
                failure_callback_url = Some(check_url(
                    &shown("failure-callback"),
                    value,
                    &limits.destinations,
                )?)
            }
            // Only a callback layer records unknown keys: the Python SDK sends
            // `callback_headers={"X": ..}` as `Upstash-Callback-X`, meaning "send X to the
            // callback" (spec §4.1 quirk). Known top-level-only names are skipped.
            _ if depth > 0 && !is_reserved_in_callback_layer(rest) => {
                let suffix = &original[original.len() - rest.len()..];
                append(&mut options.headers, suffix, value);
            }
            _ => {}
        }
    }

    options.flow_control = match (flow_key, flow_value) {
        (Some(key), value) => Some(parse_flow_control(&key, value.as_deref())?),
        (None, Some(_)) => {
            return Err(InputError::new(format!(
                "{} needs {} too",
                shown("flow-control-value"),
                shown("flow-control-key")
            )))
        }
        (None, None) => None,
    };
    if let Some(url) = callback_url {
        let sub = parse_layer(headers, &format!("{prefix}callback-"), depth + 1, limits)?;
        options.callback = Some(Box::new(CallbackSpec { url, options: sub }));
    }
    if let Some(url) = failure_callback_url {
        let sub = parse_layer(
            headers,
            &format!("{prefix}failure-callback-"),
            depth + 1,
            limits,
        )?;
        options.failure_callback = Some(Box::new(CallbackSpec { url, options: sub }));
    }
    Ok(options)
}

/// Names that configure something in a callback layer but are not per-layer options
/// (workflow plumbing, telemetry): never turned into forwarded headers.
fn is_reserved_in_callback_layer(rest: &str) -> bool {
    rest.starts_with("workflow-")
        || rest.starts_with("telemetry-")
        || rest == "feature-set"
        || rest == "not-before"
}

/// How a header is named in error messages: `Upstash-Callback-Retries`, not
/// `upstash-callback-retries`.
fn display_name(prefix: &str, rest: &str) -> String {
    crate::header_map::canonical_name(&format!("{prefix}{rest}"))
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn parse_bool(header: &str, value: &str) -> InputResult<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(InputError::new(format!(
            "invalid {header} \"{value}\": expected true or false"
        ))),
    }
}

/// A header that the store will later send must be sendable: token name, no CR/LF.
/// Headers straight from HTTP always pass; batch items (JSON) may not.
fn check_header(name: &str, value: &str) -> InputResult<()> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(InputError::new(format!("invalid header name \"{name}\"")));
    }
    if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
        return Err(InputError::new(format!(
            "invalid value for header {name}: control characters are not allowed"
        )));
    }
    Ok(())
}

/// The deduplication key of a publish: the explicit `Upstash-Deduplication-Id`, or,
/// with content-based deduplication, a hash of destination, body, content type and
/// forwarded headers (spec §4.2).
pub fn deduplication_key(
    parsed: &PublishHeaders,
    destination: &str,
    body: &[u8],
) -> Option<String> {
    if let Some(id) = &parsed.deduplication_id {
        return Some(format!("id:{id}"));
    }
    if !parsed.content_based_deduplication {
        return None;
    }
    let mut hash = Sha256::new();
    hash.update(destination.as_bytes());
    hash.update([0]);
    hash.update(body);
    hash.update([0]);
    for (name, values) in &parsed.options.headers {
        hash.update(name.as_bytes());
        for v in values {
            hash.update([1]);
            hash.update(v.as_bytes());
        }
        hash.update([0]);
    }
    let digest = hash.finalize();
    Some(format!("content:{}", hex(&digest)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where one message of a publish goes: a URL, optionally as an endpoint of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    pub topic_name: Option<String>,
    pub endpoint_name: Option<String>,
}

/// The request-independent facts a new message needs.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub id: String,
    pub user: &'a str,
    pub target: Target,
    pub queue_name: Option<String>,
    pub schedule_id: Option<String>,
    pub body: Vec<u8>,
    pub caller_ip: Option<String>,
    pub now: UnixMillis,
}

/// Builds the stored message from a classified publish.
pub fn build_message(
    new: NewMessage<'_>,
    parsed: &PublishHeaders,
    limits: &PublishLimits,
) -> Message {
    let options = &parsed.options;
    // spec §3.1: deliverable at max(now, Upstash-Not-Before | now + Upstash-Delay).
    let not_before = parsed
        .not_before
        .unwrap_or_else(|| new.now.saturating_add(options.delay_ms.unwrap_or(0)))
        .max(new.now);
    Message {
        id: new.id,
        user: new.user.to_string(),
        url: new.target.url,
        topic_name: new.target.topic_name,
        endpoint_name: new.target.endpoint_name,
        queue_name: new.queue_name,
        schedule_id: new.schedule_id,
        method: options.method().to_string(),
        headers: options.headers.clone(),
        body: new.body,
        max_retries: options
            .retries
            .unwrap_or(limits.default_retries.min(limits.max_retries)),
        retried: 0,
        retry_delay: options.retry_delay.clone(),
        timeout_ms: options.timeout_ms,
        not_before,
        created_at: new.now,
        due: not_before,
        callback: options.callback.as_deref().cloned(),
        failure_callback: options.failure_callback.as_deref().cloned(),
        caller_ip: new.caller_ip,
        labels: parsed.labels.clone(),
        redaction: parsed.redaction.clone(),
        flow_control: options.flow_control.clone(),
        dedup_id: parsed.deduplication_id.clone(),
        origin: Origin::Publish,
        state: MessageState::Pending,
        expires_at: None,
        queue_item: None,
    }
}

/// A message published to `https://example.com` by user `u` at time 0, with
/// `headers` and `body`: for the tests of the rules that start from a message.
#[cfg(test)]
pub(crate) fn sample_message(headers: &[(&str, &str)], body: &[u8]) -> Message {
    let limits = PublishLimits::default();
    let pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let parsed = classify(&pairs, &limits, 0).expect("valid headers");
    let target = Target {
        url: "https://example.com".into(),
        topic_name: None,
        endpoint_name: None,
    };
    let new = NewMessage {
        id: "msg_old".into(),
        user: "u",
        target,
        queue_name: None,
        schedule_id: None,
        body: body.to_vec(),
        caller_ip: None,
        now: 0,
    };
    build_message(new, &parsed, &limits)
}
