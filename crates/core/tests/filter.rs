//! Listing filters (spec §3.4, §3.5, §3.11, Appendix B).

use depesha_core::filter::{pairs_from_json, parse, split_url, Order, Scope, Subject};
use depesha_core::log::LogState;

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn repeated_and_comma_joined_values_mean_or() {
    let (f, _) = parse(Scope::Dlq, &q(&[("label", "a"), ("label", "b,c")])).expect("valid");
    assert_eq!(f.label, ["a", "b", "c"]);
    let labels = vec!["c".to_string()];
    assert!(f.matches(&Subject {
        url: "http://x/",
        labels: &labels,
        ..Default::default()
    }));
    let other = vec!["d".to_string()];
    assert!(!f.matches(&Subject {
        url: "http://x/",
        labels: &other,
        ..Default::default()
    }));
}

#[test]
fn fields_combine_with_and() {
    let (f, _) = parse(
        Scope::Logs,
        &q(&[("url", "http://a/"), ("state", "DELIVERED")]),
    )
    .expect("valid");
    let s = Subject {
        url: "http://a/",
        state: Some(LogState::Delivered),
        ..Default::default()
    };
    assert!(f.matches(&s));
    assert!(!f.matches(&Subject {
        state: Some(LogState::Created),
        ..s.clone()
    }));
    assert!(!f.matches(&Subject {
        url: "http://b/",
        ..s
    }));
}

#[test]
fn in_progress_means_active_retry_or_error() {
    let (f, _) = parse(Scope::Logs, &q(&[("state", "IN_PROGRESS")])).expect("valid");
    for (state, expected) in [
        (LogState::Active, true),
        (LogState::Retry, true),
        (LogState::Error, true),
        (LogState::Delivered, false),
    ] {
        assert_eq!(
            f.matches(&Subject {
                state: Some(state),
                ..Default::default()
            }),
            expected
        );
    }
}

#[test]
fn unknown_parameters_are_refused_rather_than_ignored() {
    let e = parse(Scope::Dlq, &q(&[("lable", "x")])).expect_err("typo");
    assert!(e.0.contains("lable"));
    assert!(
        parse(Scope::Dlq, &q(&[("host", "x")])).is_err(),
        "the DLQ has no host filter"
    );
    assert!(parse(Scope::Logs, &q(&[("state", "DONE")])).is_err());
    assert!(parse(Scope::Logs, &q(&[("count", "0")])).is_err());
}

#[test]
fn paging_defaults_and_caps() {
    let (_, p) = parse(
        Scope::Logs,
        &q(&[
            ("count", "5000"),
            ("order", "earliestFirst"),
            ("cursor", "12"),
        ]),
    )
    .expect("valid");
    assert_eq!(p.count, 1000);
    assert_eq!(p.order, Some(Order::EarliestFirst));
    assert_eq!(p.cursor.as_deref(), Some("12"));
    let (_, p) = parse(Scope::Dlq, &q(&[])).expect("valid");
    assert_eq!((p.count, p.order), (100, None));
}

#[test]
fn dates_are_inclusive_milliseconds() {
    let (f, _) =
        parse(Scope::Messages, &q(&[("fromDate", "10"), ("toDate", "20")])).expect("valid");
    assert!(f.matches(&Subject {
        time: 10,
        ..Default::default()
    }));
    assert!(f.matches(&Subject {
        time: 20,
        ..Default::default()
    }));
    assert!(!f.matches(&Subject {
        time: 21,
        ..Default::default()
    }));
}

#[test]
fn host_and_path_come_from_the_url() {
    assert_eq!(
        split_url("https://a.example:8443/x/y?z=1"),
        ("a.example:8443", "/x/y")
    );
    assert_eq!(split_url("http://a"), ("a", ""));
}

#[test]
fn a_json_body_reads_like_the_query() {
    let body = serde_json::json!({ "messageIds": ["m1", "m2"], "label": "x" });
    let pairs = pairs_from_json(&body).expect("object");
    let (f, _) = parse(Scope::Messages, &pairs).expect("valid");
    assert_eq!(f.ids, ["m1", "m2"]);
    assert_eq!(f.label, ["x"]);
    assert!(pairs_from_json(&serde_json::json!([1])).is_err());
}
