//! Header classification, as spec §4.1 and §4.2 describe it.

use depesha_core::publish::{
    build_message, classify, deduplication_key, NewMessage, PublishLimits, Target,
};

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse(pairs: &[(&str, &str)]) -> depesha_core::publish::PublishHeaders {
    classify(&h(pairs), &PublishLimits::default(), 1_000_000).expect("valid headers")
}

fn error(pairs: &[(&str, &str)]) -> String {
    classify(&h(pairs), &PublishLimits::default(), 1_000_000)
        .expect_err("invalid headers")
        .0
}

#[test]
fn forward_headers_lose_their_prefix_and_get_canonical_names() {
    let p = parse(&[
        ("Upstash-Forward-bypass-tunnel-reminder", "1"),
        ("upstash-forward-Upstash-Workflow-Sdk-Version", "1"),
        ("Content-Type", "application/json"),
    ]);
    let names: Vec<&str> = p.options.headers.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "Bypass-Tunnel-Reminder",
            "Content-Type",
            "Upstash-Workflow-Sdk-Version"
        ]
    );
}

#[test]
fn two_spellings_of_one_forwarded_header_are_kept_as_two_values() {
    let p = parse(&[
        ("Upstash-Forward-TEST-CASE", "a"),
        ("upstash-forward-test-case", "b"),
    ]);
    assert_eq!(p.options.headers["Test-Case"], ["a", "b"]);
}

#[test]
fn plain_headers_are_not_forwarded_unless_header_forward_is_true() {
    let p = parse(&[("X-Plain", "1"), ("Authorization", "Bearer t")]);
    assert!(p.options.headers.is_empty());
    let p = parse(&[
        ("Upstash-Header-Forward", "true"),
        ("X-Plain", "1"),
        ("Authorization", "Bearer t"),
    ]);
    assert_eq!(p.options.headers["X-Plain"], ["1"]);
    assert!(!p.options.headers.contains_key("Authorization"));
}

#[test]
fn config_headers_are_parsed() {
    let p = parse(&[
        ("Upstash-Method", "put"),
        ("Upstash-Retries", "5"),
        ("Upstash-Delay", "1m"),
        ("Upstash-Timeout", "30"),
        ("Upstash-Retry-Delay", "pow(2, retried) * 1000"),
        ("Upstash-Label", "a, b"),
        ("Upstash-Content-Based-Deduplication", "True"),
        ("Upstash-Flow-Control-Key", "k"),
        (
            "Upstash-Flow-Control-Value",
            "parallelism=2,rate=10, period=1m",
        ),
    ]);
    assert_eq!(p.options.method(), "PUT");
    assert_eq!(p.options.retries, Some(5));
    assert_eq!(p.options.delay_ms, Some(60_000));
    assert_eq!(p.options.timeout_ms, Some(30_000));
    assert_eq!(
        p.options.retry_delay.as_ref().map(|r| r.delay_ms(3)),
        Some(8000)
    );
    assert_eq!(p.labels, ["a", "b"]);
    assert!(p.content_based_deduplication);
    let flow = p.options.flow_control.expect("flow control");
    assert_eq!(
        (flow.parallelism, flow.rate, flow.period_secs),
        (Some(2), Some(10), 60)
    );
}

#[test]
fn callback_layers_are_configured_like_a_publish() {
    let p = parse(&[
        ("Upstash-Callback", "https://cb.example/x"),
        ("Upstash-Callback-Forward-Authorization", "secret"),
        ("Upstash-Callback-Method", "PUT"),
        ("Upstash-Callback-Retries", "1"),
        ("Upstash-Callback-X-Py-Style", "v"),
        ("Upstash-Failure-Callback", "https://fail.example/y"),
        ("Upstash-Failure-Callback-Forward-Reason", "r"),
        (
            "Upstash-Callback-Failure-Callback",
            "https://cb-fail.example/z",
        ),
    ]);
    let cb = p.options.callback.expect("callback");
    assert_eq!(cb.url, "https://cb.example/x");
    assert_eq!(cb.options.method(), "PUT");
    assert_eq!(cb.options.retries, Some(1));
    assert_eq!(cb.options.headers["Authorization"], ["secret"]);
    // The Python SDK's callback_headers arrive as Upstash-Callback-<X> (spec §4.1 quirk).
    assert_eq!(cb.options.headers["X-Py-Style"], ["v"]);
    assert_eq!(
        cb.options.failure_callback.as_ref().map(|f| f.url.as_str()),
        Some("https://cb-fail.example/z")
    );
    let failure = p.options.failure_callback.expect("failure callback");
    assert_eq!(failure.options.headers["Reason"], ["r"]);
    assert!(
        p.options.headers.is_empty(),
        "callback headers are not sent to the destination"
    );
}

#[test]
fn not_before_is_seconds_and_wins_over_delay() {
    let p = parse(&[("Upstash-Not-Before", "2000"), ("Upstash-Delay", "10s")]);
    let m = build_message(
        NewMessage {
            id: "msg_1".into(),
            user: "u",
            target: Target {
                url: "http://x/".into(),
                topic_name: None,
                endpoint_name: None,
            },
            queue_name: None,
            schedule_id: None,
            body: Vec::new(),
            caller_ip: None,
            now: 1_000_000,
        },
        &p,
        &PublishLimits::default(),
    );
    assert_eq!(m.not_before, 2_000_000);
    assert_eq!(m.due, 2_000_000);
    assert_eq!(m.max_retries, 3, "the default is 3 retries");
}

#[test]
fn bad_values_are_refused_with_the_header_named() {
    for (pairs, needle) in [
        (vec![("Upstash-Delay", "10x")], "Upstash-Delay"),
        (vec![("Upstash-Retries", "-1")], "Upstash-Retries"),
        (vec![("Upstash-Retries", "21")], "maximum"),
        (vec![("Upstash-Method", "FETCH")], "Upstash-Method"),
        (
            vec![("Upstash-Retry-Delay", "1000 +")],
            "Upstash-Retry-Delay",
        ),
        (vec![("Upstash-Timeout", "0")], "Upstash-Timeout"),
        (vec![("Upstash-Not-Before", "soon")], "Upstash-Not-Before"),
        (vec![("Upstash-Callback", "ftp://x")], "Upstash-Callback"),
        (
            vec![
                ("Upstash-Callback-Retries", "x"),
                ("Upstash-Callback", "http://a/"),
            ],
            "Upstash-Callback-Retries",
        ),
        (
            vec![("Upstash-Flow-Control-Value", "parallelism=1")],
            "Upstash-Flow-Control-Key",
        ),
        (
            vec![("Upstash-Content-Based-Deduplication", "maybe")],
            "Upstash-Content-Based-Deduplication",
        ),
        (vec![("Upstash-Redact-Fields", "everything")], "everything"),
    ] {
        let message = error(&pairs);
        assert!(message.contains(needle), "{pairs:?}: {message}");
    }
}

#[test]
fn deduplication_keys_come_from_the_id_or_the_content() {
    let by_id = parse(&[("Upstash-Deduplication-Id", "abc")]);
    assert_eq!(
        deduplication_key(&by_id, "http://x/", b"1"),
        Some("id:abc".into())
    );
    let by_content = parse(&[("Upstash-Content-Based-Deduplication", "true")]);
    let a = deduplication_key(&by_content, "http://x/", b"1");
    assert_eq!(a, deduplication_key(&by_content, "http://x/", b"1"));
    assert_ne!(a, deduplication_key(&by_content, "http://x/", b"2"));
    assert_ne!(a, deduplication_key(&by_content, "http://y/", b"1"));
    assert_eq!(deduplication_key(&parse(&[]), "http://x/", b"1"), None);
}

#[test]
fn header_names_and_values_from_json_are_checked() {
    assert!(classify(&h(&[("bad name", "v")]), &PublishLimits::default(), 0).is_err());
    assert!(classify(
        &h(&[("X-Ok", "a\r\nInjected: 1")]),
        &PublishLimits::default(),
        0
    )
    .is_err());
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn on_any_headers(pairs in proptest::collection::vec(("[ -~]{0,40}", "[ -~]{0,60}"), 0..8)) {
            let pairs: Vec<(String, String)> = pairs
                .into_iter()
                .map(|(k, v)| (format!("upstash-{k}"), v))
                .collect();
            let _ = classify(&pairs, &PublishLimits::default(), 0);
        }
    }
}
