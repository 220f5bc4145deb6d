//! One delivery attempt: the signed HTTP request of spec §5 and §6, sent over a pooled
//! client, and what came back. No decisions are taken here; the retry policy of
//! `depesha-core` and [`crate::outcome`] decide what the answer means.

use std::sync::Arc;
use std::time::Duration;

use depesha_core::delivery_failure::DeliveryFailure;
use depesha_core::destination_policy::{DestinationPolicy, Refusal};
use depesha_core::header_map::{append, HeaderMap};
use depesha_core::log::HttpResponse;
use depesha_core::message::Message;
use depesha_core::retry_policy::AttemptResult;
use depesha_core::{ids, jwt};
use reqwest::header::{HeaderName, HeaderValue};

use crate::guarded_dns::GuardedResolver;

/// The `User-Agent` QStash deliveries carry (spec §5).
pub const USER_AGENT: &str = "Upstash-QStash";

/// Headers that describe the connection or the framing of the body: the HTTP client
/// sets them itself, and a forwarded copy would corrupt the request.
const NOT_FORWARDABLE: [&str; 6] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
];

/// Builds the shared HTTP client: connection pooling across deliveries, no redirects
/// (a 3xx is an answer, and not a 2xx: spec §7; and a redirect would lead around the
/// destination policy), no proxies from the environment. A policy that refuses
/// anything resolves names through [`GuardedResolver`], so the addresses connected to
/// are the addresses checked.
///
/// `max_in_flight` connections may be open to one host at once; the pool keeps as
/// many idle, so that a burst of due messages (many delayed messages come due in the
/// same second) reuses the connections of the last burst instead of opening new ones:
/// with fewer, each burst paid a TCP connect per delivery beyond the pool's size.
///
/// Header names go out title-cased (`Upstash-Signature`), as QStash sends them: hyper
/// would lower-case them, and some platforms hand a function a case-sensitive map.
///
/// A connection must open within `connect_timeout`: a destination that does not
/// answer a SYN fails its attempt early instead of holding a slot for the whole
/// attempt timeout.
pub fn http_client(
    max_in_flight: usize,
    connect_timeout: Duration,
    destinations: &DestinationPolicy,
) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .pool_max_idle_per_host(max_in_flight.max(1))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .http1_title_case_headers()
        .no_proxy();
    with_policy(builder, destinations)
        .build()
        .unwrap_or_else(|e| {
            tracing::error!("could not build the tuned HTTP client ({e}); using defaults");
            // The fallback keeps what makes deliveries safe: the policy, no redirects.
            let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
            // No client at all means no TLS backend: nothing could be delivered, and
            // a default client would drop the policy and follow redirects.
            with_policy(builder, destinations)
                .build()
                .expect("an HTTP client for deliveries (is the TLS backend usable?)")
        })
}

/// Resolves names through [`GuardedResolver`] when the policy refuses anything.
fn with_policy(
    builder: reqwest::ClientBuilder,
    destinations: &DestinationPolicy,
) -> reqwest::ClientBuilder {
    if destinations.is_public_only() {
        builder.dns_resolver(Arc::new(GuardedResolver::new(destinations.clone())))
    } else {
        builder
    }
}

/// A request ready to send, or why an attempt cannot be sent (an invalid method or URL,
/// a refused address): that still counts as an attempt, and fails like one.
pub type Prepared = Result<reqwest::Request, DeliveryFailure>;

/// Builds the signed request of an attempt of `message`, without sending it. The
/// timeout only starts when it is sent. A literal address the policy refuses is not
/// sent (the message may have been accepted before the policy changed).
pub fn prepare(
    client: &reqwest::Client,
    message: &Message,
    signing_key: &str,
    now_secs: u64,
    timeout: Duration,
    destinations: &DestinationPolicy,
) -> Prepared {
    let method = reqwest::Method::from_bytes(message.method.as_bytes())
        .map_err(|_| DeliveryFailure::InvalidMethod(message.method.clone()))?;
    // Forwarded headers first; then Depesha's own, which *replace* any forwarded
    // header of the same name, so a publisher cannot forge `Upstash-Message-Id`,
    // `Upstash-Retried` or the signature a receiver checks.
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, values) in &message.headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        if NOT_FORWARDABLE.contains(&name.as_str()) {
            continue;
        }
        for value in values {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(name.clone(), value);
            }
        }
    }
    let signature = jwt::sign(
        signing_key,
        &message.url,
        &message.body,
        now_secs,
        &ids::jwt_id(),
    );
    let own = [
        ("user-agent", Some(USER_AGENT.to_string())),
        ("upstash-signature", Some(signature)),
        ("upstash-message-id", Some(message.id.clone())),
        ("upstash-retried", Some(message.retried.to_string())),
        ("upstash-topic-name", message.topic_name.clone()),
        ("upstash-schedule-id", message.schedule_id.clone()),
        ("upstash-caller-ip", message.caller_ip.clone()),
    ];
    for (name, value) in own {
        let name = HeaderName::from_static(name);
        headers.remove(&name);
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    let request = client
        .request(method, &message.url)
        .timeout(timeout)
        .headers(headers)
        .body(message.body.clone())
        .build()
        .map_err(|e| DeliveryFailure::InvalidRequest(innermost(&e).to_string()))?;
    // Literal addresses bypass the resolver, so they are checked here.
    destinations
        .check_literal(request.url())
        .map_err(DeliveryFailure::Refused)?;
    Ok(request)
}

/// Sends a prepared request and reads what came back, keeping at most
/// `max_response_body` bytes of the body.
pub async fn send(
    client: &reqwest::Client,
    request: Prepared,
    timeout: Duration,
    max_response_body: usize,
) -> AttemptResult {
    let request = match request {
        Ok(request) => request,
        Err(unsendable) => return AttemptResult::NoResponse(unsendable),
    };
    let mut response = match client.execute(request).await {
        Ok(r) => r,
        Err(e) => return AttemptResult::NoResponse(failure_of(&e, timeout)),
    };
    let status = response.status().as_u16();
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers() {
        append(
            &mut headers,
            name.as_str(),
            &String::from_utf8_lossy(value.as_bytes()),
        );
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = max_response_body.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room < chunk.len() {
                    break; // keep what fits; the rest is not needed
                }
            }
            Ok(None) => break,
            // The status line arrived; a body cut short does not undo the answer.
            Err(_) => break,
        }
    }
    AttemptResult::Response(HttpResponse {
        status,
        headers,
        body,
    })
}

/// What kind of failure a sent request without an HTTP answer was.
fn failure_of(error: &reqwest::Error, timeout: Duration) -> DeliveryFailure {
    // A connection that did not open in time is a connect error *and* a timeout:
    // say the first, since the attempt's own timeout was not what ran out.
    if error.is_connect() {
        // The guarded resolver's refusal travels inside the connect error.
        let cause = innermost(error);
        match cause.downcast_ref::<Refusal>() {
            Some(refusal) => DeliveryFailure::RefusedResolved(refusal.clone()),
            None => DeliveryFailure::Connect(cause.to_string()),
        }
    } else if error.is_timeout() {
        DeliveryFailure::Timeout { after: timeout }
    } else {
        DeliveryFailure::Request(innermost(error).to_string())
    }
}

/// The innermost cause of `error`: what actually went wrong, without the layers
/// that passed it on.
fn innermost<'e>(
    error: &'e (dyn std::error::Error + 'static),
) -> &'e (dyn std::error::Error + 'static) {
    let mut source = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source
}

#[cfg(test)]
mod tests {
    use depesha_core::publish::{build_message, classify, NewMessage, PublishLimits, Target};
    use tokio::net::TcpListener;

    use super::*;

    const NOW: u64 = 1_800_000_000_000;
    const TIMEOUT: Duration = Duration::from_millis(300);

    fn message_to(url: &str) -> Message {
        let limits = PublishLimits::default();
        let parsed = classify(&[], &limits, NOW).expect("no headers is valid");
        build_message(
            NewMessage {
                id: "msg_x".into(),
                user: "u",
                target: Target {
                    url: url.into(),
                    topic_name: None,
                    endpoint_name: None,
                },
                queue_name: None,
                schedule_id: None,
                body: Vec::new(),
                caller_ip: None,
                now: NOW,
            },
            &parsed,
            &limits,
        )
    }

    fn client() -> reqwest::Client {
        http_client(4, TIMEOUT, &DestinationPolicy::allow_all())
    }

    fn prepare_for(message: &Message, destinations: &DestinationPolicy) -> Prepared {
        prepare(&client(), message, "key", NOW / 1000, TIMEOUT, destinations)
    }

    async fn attempt(url: &str) -> AttemptResult {
        let request = prepare_for(&message_to(url), &DestinationPolicy::allow_all());
        send(&client(), request, TIMEOUT, 1024).await
    }

    #[test]
    fn a_stored_method_that_is_not_http_is_an_invalid_method() {
        let mut message = message_to("http://127.0.0.1:9/");
        message.method = "GE T".into();
        let failure = prepare_for(&message, &DestinationPolicy::allow_all()).err();
        assert_eq!(failure, Some(DeliveryFailure::InvalidMethod("GE T".into())));
    }

    #[test]
    fn a_literal_address_the_policy_refuses_is_not_sent() {
        let strict = DestinationPolicy::public_only(Vec::new());
        let failure = prepare_for(&message_to("http://127.0.0.1:9/"), &strict).err();
        assert!(
            matches!(&failure, Some(DeliveryFailure::Refused(r)) if r.host == "127.0.0.1"),
            "{failure:?}"
        );
    }

    #[tokio::test]
    async fn a_name_that_resolves_only_to_refused_addresses_is_refused() {
        let strict = DestinationPolicy::public_only(Vec::new());
        let request = prepare_for(&message_to("http://localhost:9/"), &strict);
        let client = http_client(4, TIMEOUT, &strict);
        let result = send(&client, request, TIMEOUT, 1024).await;
        assert!(
            matches!(
                &result,
                AttemptResult::NoResponse(DeliveryFailure::RefusedResolved(r)) if r.host == "localhost"
            ),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn a_port_nobody_listens_on_is_a_connect_failure() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        let result = attempt(&format!("http://127.0.0.1:{port}/")).await;
        assert!(
            matches!(
                &result,
                AttemptResult::NoResponse(DeliveryFailure::Connect(_))
            ),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn a_destination_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        // Accepts the connection, holds it open and says nothing.
        let silent = tokio::spawn(async move {
            let (_connection, _) = listener.accept().await?;
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, std::io::Error>(())
        });
        let result = attempt(&format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(
            result,
            AttemptResult::NoResponse(DeliveryFailure::Timeout { after: TIMEOUT })
        );
        silent.abort();
    }
}
