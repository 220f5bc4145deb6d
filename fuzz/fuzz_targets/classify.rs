//! Header classification of a publish (spec §4.1, §4.2): `publish::classify` on an
//! arbitrary header list. Names are drawn mostly from the real `Upstash-*` names, in
//! every callback layer and in any letter case, and values mostly from real values,
//! so that the fuzzer reaches the deep layers; free text covers the rest. An
//! accepted list stays within the server's limits in every layer, and the stored
//! message and its deduplication key can be built from it.
#![no_main]

use arbitrary::Arbitrary;
use depesha_core::message::DeliveryOptions;
use depesha_core::publish::{
    build_message, classify, deduplication_key, NewMessage, PublishLimits, Target,
};
use libfuzzer_sys::fuzz_target;

/// The option names after `Upstash-` (and after a callback layer's prefix).
const OPTIONS: [&str; 24] = [
    "Method",
    "Retries",
    "Retry-Delay",
    "Timeout",
    "Delay",
    "Flow-Control-Key",
    "Flow-Control-Value",
    "Callback",
    "Failure-Callback",
    "Not-Before",
    "Deduplication-Id",
    "Content-Based-Deduplication",
    "Label",
    "Redact-Fields",
    "Header-Forward",
    "Cron",
    "Schedule-Id",
    "Queue-Name",
    "Forward-X-Custom",
    "Forward-",
    "Workflow-RunId",
    "Telemetry-Sdk",
    "Feature-Set",
    "X-Custom",
];

/// Plain header names: forwarded or never forwarded.
const PLAIN: [&str; 5] = [
    "Content-Type",
    "Authorization",
    "Host",
    "X-Custom",
    "Transfer-Encoding",
];

/// Values the parsers accept (and a few they refuse), from the spec and the tests.
const VALUES: [&str; 22] = [
    "https://example.com/callback",
    "http://127.0.0.1:8080/failure",
    "3",
    "0",
    "10s",
    "1d10h30m",
    "1000 * (1 + retried)",
    "pow(2, retried) * 1000",
    "parallelism=2, rate=10, period=1m",
    "rate=5",
    "true",
    "false",
    "POST",
    "delete",
    "body, header[Authorization]",
    "a,b, c",
    "application/json",
    "1700000000",
    "*/5 * * * *",
    "my-queue",
    "",
    "  ",
];

#[derive(Debug, Arbitrary)]
enum Layer {
    Message,
    Callback,
    FailureCallback,
    CallbackFailureCallback,
    CallbackCallbackCallback,
}

#[derive(Debug, Arbitrary)]
enum Name {
    Upstash { layer: Layer, option: u8 },
    Plain(u8),
    Text(String),
}

#[derive(Debug, Arbitrary)]
enum Value {
    Known(u8),
    Text(String),
}

#[derive(Debug, Arbitrary)]
struct Header {
    name: Name,
    lower_case: bool,
    value: Value,
}

#[derive(Debug, Arbitrary)]
struct Input {
    now: u64,
    headers: Vec<Header>,
}

fn pick<'a>(list: &[&'a str], index: u8) -> &'a str {
    list[usize::from(index) % list.len()]
}

fn header_text(header: Header) -> (String, String) {
    let name = match header.name {
        Name::Upstash { layer, option } => {
            let prefix = match layer {
                Layer::Message => "Upstash-",
                Layer::Callback => "Upstash-Callback-",
                Layer::FailureCallback => "Upstash-Failure-Callback-",
                Layer::CallbackFailureCallback => "Upstash-Callback-Failure-Callback-",
                Layer::CallbackCallbackCallback => "Upstash-Callback-Callback-Callback-",
            };
            format!("{prefix}{}", pick(&OPTIONS, option))
        }
        Name::Plain(index) => pick(&PLAIN, index).to_string(),
        Name::Text(text) => text,
    };
    let name = if header.lower_case {
        name.to_ascii_lowercase()
    } else {
        name
    };
    let value = match header.value {
        Value::Known(index) => pick(&VALUES, index).to_string(),
        Value::Text(text) => text,
    };
    (name, value)
}

/// Every layer of an accepted publish respects the server's limits.
fn check_layer(options: &DeliveryOptions, limits: &PublishLimits) {
    assert!(options.retries.is_none_or(|r| r <= limits.max_retries));
    assert!(options
        .timeout_ms
        .is_none_or(|t| (1..=limits.max_timeout_ms).contains(&t)));
    assert!(options.delay_ms.is_none_or(|d| d <= limits.max_delay_ms));
    for callback in [&options.callback, &options.failure_callback]
        .into_iter()
        .flatten()
    {
        check_layer(&callback.options, limits);
    }
}

fuzz_target!(|input: Input| {
    let limits = PublishLimits::default();
    let headers: Vec<(String, String)> = input.headers.into_iter().map(header_text).collect();
    let Ok(parsed) = classify(&headers, &limits, input.now) else {
        return;
    };
    check_layer(&parsed.options, &limits);
    if let Some(at) = parsed.not_before {
        assert!(at <= input.now.saturating_add(limits.max_delay_ms));
    }
    let _ = deduplication_key(&parsed, "https://example.com/x", b"body");
    let message = build_message(
        NewMessage {
            id: "msg_fuzz".into(),
            user: "user",
            target: Target {
                url: "https://example.com/x".into(),
                topic_name: None,
                endpoint_name: None,
            },
            queue_name: None,
            schedule_id: None,
            body: b"body".to_vec(),
            caller_ip: None,
            now: input.now,
        },
        &parsed,
        &limits,
    );
    assert!(message.due >= input.now);
});
