//! One delivery attempt: the signed HTTP request of spec §5 and §6, sent over a pooled
//! client, and what came back. No decisions are taken here; the retry policy of
//! `depesha-core` and [`crate::outcome`] decide what the answer means.

use std::time::Duration;

use depesha_core::header_map::{append, HeaderMap};
use depesha_core::log::HttpResponse;
use depesha_core::message::Message;
use depesha_core::retry_policy::AttemptResult;
use depesha_core::{ids, jwt};
use reqwest::header::{HeaderName, HeaderValue};

/// The `User-Agent` QStash deliveries carry (spec §5).
pub const USER_AGENT: &str = "Upstash-QStash";

/// Builds the shared HTTP client: connection pooling across deliveries, no redirects
/// (a 3xx is an answer, and not a 2xx: spec §7), no proxies from the environment.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .no_proxy()
        .build()
        .unwrap_or_else(|e| {
            tracing::error!("could not build the tuned HTTP client ({e}); using defaults");
            reqwest::Client::new()
        })
}

/// Sends one attempt of `message`, signed with `signing_key`.
pub async fn attempt(
    client: &reqwest::Client,
    message: &Message,
    signing_key: &str,
    now_secs: u64,
    timeout: Duration,
    max_response_body: usize,
) -> AttemptResult {
    let method = match reqwest::Method::from_bytes(message.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => return AttemptResult::NoResponse(format!("invalid method {}", message.method)),
    };
    let mut request = client
        .request(method, &message.url)
        .timeout(timeout)
        .body(message.body.clone());
    for (name, values) in &message.headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        for value in values {
            if let Ok(value) = HeaderValue::from_str(value) {
                request = request.header(name.clone(), value);
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
    request = request
        .header("User-Agent", USER_AGENT)
        .header("Upstash-Signature", signature)
        .header("Upstash-Message-Id", message.id.as_str())
        .header("Upstash-Retried", message.retried.to_string());
    let optional = [
        ("Upstash-Topic-Name", &message.topic_name),
        ("Upstash-Schedule-Id", &message.schedule_id),
        ("Upstash-Caller-Ip", &message.caller_ip),
    ];
    for (name, value) in optional {
        if let Some(v) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            request = request.header(name, v);
        }
    }

    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => return AttemptResult::NoResponse(describe(&e, timeout)),
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

/// A readable reason for an attempt without an HTTP answer.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        format!(
            "the destination did not answer within {}s (timeout)",
            timeout.as_secs_f64()
        )
    } else if error.is_connect() {
        format!(
            "could not connect to the destination: {}",
            root_cause(error)
        )
    } else {
        format!("request to the destination failed: {}", root_cause(error))
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut source = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}
