//! Listing filters (spec §3.4, §3.5, §3.11, Appendix B).

use depesha_core::filter::{parse, parse_request, split_url, Order, Scope, Subject};
use depesha_core::log::LogState;
use serde_json::json;

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
    let body = json!({ "messageIds": ["m1", "m2"], "label": "x" });
    let (f, _) = parse_request(Scope::Messages, &[], Some(&body)).expect("valid");
    assert_eq!(f.ids, ["m1", "m2"]);
    assert_eq!(f.label, ["x"]);
    assert!(parse_request(Scope::Messages, &[], Some(&json!([1]))).is_err());
}

// Issue 10, item 5: only a request with no filter at all selects everything.

#[test]
fn no_filter_at_all_selects_everything() {
    for (scope, query, body) in [
        (Scope::Messages, q(&[]), None),
        (Scope::Messages, q(&[("count", "100")]), None),
        (Scope::Dlq, q(&[("count", "100"), ("cursor", "")]), None),
        (Scope::Dlq, q(&[]), Some(json!({}))),
    ] {
        let (f, _) = parse_request(scope, &query, body.as_ref()).expect("valid");
        assert!(f.is_empty(), "{query:?} {body:?}");
        assert!(!f.selects_nothing());
        assert!(f.matches(&Subject::default()));
    }
}

#[test]
fn an_empty_list_selects_nothing() {
    for (scope, body) in [
        (Scope::Messages, json!({ "messageIds": [] })),
        (Scope::Messages, json!({ "label": [] })),
        (
            Scope::Messages,
            json!({ "queueName": [], "url": "http://x/" }),
        ),
        (Scope::Dlq, json!({ "dlqIds": [] })),
        (Scope::Dlq, json!({ "responseStatus": [] })),
    ] {
        let (f, _) = parse_request(scope, &[], Some(&body)).expect("valid");
        assert!(f.selects_nothing(), "{body}");
        assert!(!f.is_empty(), "{body}");
        assert!(
            !f.matches(&Subject {
                url: "http://x/",
                ..Default::default()
            }),
            "{body}"
        );
    }
}

#[test]
fn an_empty_value_is_refused() {
    for (scope, key, value) in [
        (Scope::Messages, "messageIds", ""),
        (Scope::Messages, "label", ""),
        (Scope::Messages, "queueName", " "),
        (Scope::Messages, "url", ""),
        (Scope::Messages, "label", "a,,b"),
        (Scope::Messages, "label", "a,"),
        (Scope::Dlq, "dlqIds", ""),
        (Scope::Dlq, "messageId", ""),
        (Scope::Dlq, "source", ""),
        (Scope::Logs, "state", ""),
    ] {
        let e = parse(scope, &q(&[(key, value)])).expect_err(key);
        assert!(e.0.contains(key), "{key}={value:?}: {e}");
    }
    for body in [
        json!({ "label": "" }),
        json!({ "queueName": "" }),
        json!({ "url": "" }),
        json!({ "messageIds": [""] }),
        json!({ "messageIds": ["m1", " "] }),
    ] {
        let e = parse_request(Scope::Messages, &[], Some(&body)).expect_err("empty value");
        assert!(e.0.contains("empty value"), "{body}: {e}");
    }
}

#[test]
fn a_wrong_json_type_is_refused() {
    for (scope, body) in [
        (Scope::Messages, json!({ "messageIds": 5 })),
        (Scope::Messages, json!({ "messageIds": null })),
        (Scope::Messages, json!({ "messageIds": "m1" })),
        (Scope::Messages, json!({ "messageIds": [5] })),
        (Scope::Messages, json!({ "messageIds": [["m1"]] })),
        (Scope::Messages, json!({ "label": null })),
        (Scope::Messages, json!({ "label": true })),
        (Scope::Messages, json!({ "label": { "a": 1 } })),
        (Scope::Messages, json!({ "label": 7 })),
        (Scope::Messages, json!({ "count": "many" })),
        (Scope::Messages, json!({ "count": [] })),
        (Scope::Dlq, json!({ "dlqIds": "x" })),
        (Scope::Dlq, json!({ "dlqIds": null })),
        (Scope::Dlq, json!({ "fromDate": true })),
    ] {
        parse_request(scope, &[], Some(&body)).expect_err(&body.to_string());
    }
    let e =
        parse_request(Scope::Messages, &[], Some(&json!({ "messageIds": 5 }))).expect_err("number");
    assert!(
        e.0.contains("messageIds") && e.0.contains("list of strings") && e.0.contains("number"),
        "{e}"
    );
}

#[test]
fn numbers_are_accepted_where_a_number_is_meant() {
    let body = json!({ "count": 5, "fromDate": 10, "responseStatus": [500, "502"] });
    let (f, p) = parse_request(Scope::Dlq, &[], Some(&body)).expect("valid");
    assert_eq!((p.count, p.count_given), (5, true));
    assert_eq!(f.from_date, Some(10));
    assert_eq!(f.response_status, [500, 502]);
}

#[test]
fn an_unknown_key_with_an_empty_list_is_still_refused() {
    let e = parse_request(Scope::Dlq, &[], Some(&json!({ "lable": [] }))).expect_err("typo");
    assert!(e.0.contains("lable"), "{e}");
}
