//! Callbacks (spec §8): after each attempt, and after the final failure, Depesha
//! publishes a *new message* to the callback URL whose body describes the outcome.
//! Callback messages are ordinary messages: stored, signed, retried, logged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::header_map::append;
use crate::message::{CallbackSpec, Message, MessageState, Origin};
use crate::redact::Redaction;
use crate::retry_policy::AttemptResult;
use crate::UnixMillis;

/// Which callback is being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackKind {
    /// After every attempt (`Upstash-Callback`).
    Callback,
    /// After the final failure (`Upstash-Failure-Callback`); the DLQ entry already exists.
    Failure { dlq_id: String },
}

/// The JSON body of a callback about one attempt of `source` (spec §8). `source.retried`
/// must still count the attempts made *before* this one.
pub fn callback_body(source: &Message, result: &AttemptResult, kind: &CallbackKind) -> Vec<u8> {
    let (status, header, body) = match result {
        AttemptResult::Response(r) => (r.status, json!(r.headers), STANDARD.encode(&r.body)),
        AttemptResult::NoResponse(_) => (0, json!({}), String::new()),
    };
    let mut out = Map::new();
    out.insert("status".into(), json!(status));
    out.insert("header".into(), header);
    out.insert("body".into(), json!(body));
    out.insert("retried".into(), json!(source.retried));
    out.insert("maxRetries".into(), json!(source.max_retries));
    out.insert("sourceMessageId".into(), json!(source.id));
    out.insert("url".into(), json!(source.url));
    out.insert("method".into(), json!(source.method));
    out.insert("sourceHeader".into(), json!(source.headers));
    out.insert("sourceBody".into(), json!(STANDARD.encode(&source.body)));
    out.insert("notBefore".into(), json!(source.not_before));
    out.insert("createdAt".into(), json!(source.created_at));
    let optional = [
        ("topicName", &source.topic_name),
        ("endpointName", &source.endpoint_name),
        ("queueName", &source.queue_name),
        ("scheduleId", &source.schedule_id),
        ("callerIP", &source.caller_ip),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            out.insert(key.into(), json!(v));
        }
    }
    if let AttemptResult::NoResponse(failure) = result {
        out.insert("error".into(), json!(failure.to_string()));
    }
    if let CallbackKind::Failure { dlq_id } = kind {
        out.insert("dlqId".into(), json!(dlq_id));
    }
    serde_json::to_vec(&Value::Object(out)).unwrap_or_default()
}

/// The callback message itself: delivered to `spec.url` with the callback layer's
/// method, forwarded headers, retries (default: the source's), timeout and delay.
pub fn callback_message(
    source: &Message,
    spec: &CallbackSpec,
    kind: &CallbackKind,
    body: Vec<u8>,
    id: String,
    now: UnixMillis,
) -> Message {
    let options = &spec.options;
    let mut headers = options.headers.clone();
    if !headers.contains_key("Content-Type") {
        append(&mut headers, "Content-Type", "application/json");
    }
    let not_before = now.saturating_add(options.delay_ms.unwrap_or(0));
    let source_message_id = source.id.clone();
    Message {
        id,
        user: source.user.clone(),
        url: spec.url.clone(),
        topic_name: None,
        endpoint_name: None,
        queue_name: None,
        schedule_id: None,
        method: options.method().to_string(),
        headers,
        body,
        max_retries: options.retries.unwrap_or(source.max_retries),
        retried: 0,
        retry_delay: options.retry_delay.clone(),
        timeout_ms: options.timeout_ms,
        not_before,
        created_at: now,
        due: not_before,
        callback: options.callback.as_deref().cloned(),
        failure_callback: options.failure_callback.as_deref().cloned(),
        caller_ip: source.caller_ip.clone(),
        labels: source.labels.clone(),
        // The body repeats the source's headers and body. If the publisher asked for
        // any of those to be redacted, reads of the callback message hide its body
        // too; the callback URL still receives it whole.
        redaction: Redaction {
            body: !source.redaction.is_empty(),
            ..Redaction::default()
        },
        flow_control: options.flow_control.clone(),
        dedup_id: None,
        origin: match kind {
            CallbackKind::Callback => Origin::Callback { source_message_id },
            CallbackKind::Failure { .. } => Origin::FailureCallback { source_message_id },
        },
        state: MessageState::Pending,
        expires_at: None,
        queue_item: None,
    }
}
