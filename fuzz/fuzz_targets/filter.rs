//! Filters of the listing and bulk endpoints (spec §3.4, §3.5, §3.11), as query
//! pairs or as a JSON body. The first byte picks the form and the endpoint family:
//! `m`, `d`, `l` for the query string of messages, DLQ and logs (`key=value` pairs
//! joined by `&`, already decoded), `M`, `D`, `L` for a JSON body. An accepted filter
//! pages within the family's limits and matches subjects without panicking.
#![no_main]

use depesha_core::filter::{parse_request, Scope, Subject};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let scope = match selector.to_ascii_lowercase() {
        b'm' => Scope::Messages,
        b'd' => Scope::Dlq,
        _ => Scope::Logs,
    };
    let parsed = if selector.is_ascii_uppercase() {
        let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
            return;
        };
        parse_request(scope, &[], Some(&json))
    } else {
        let pairs: Vec<(String, String)> = text
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key.to_string(), value.to_string())
            })
            .collect();
        parse_request(scope, &pairs, None)
    };
    let Ok((filter, paging)) = parsed else {
        return;
    };
    let (_, max_count) = scope.count_limits();
    assert!((1..=max_count).contains(&paging.count));
    let labels = vec!["a".to_string()];
    let subject = Subject {
        id: "1725323658779-0",
        message_id: "msg_x",
        url: "https://example.com:8443/path?q=1",
        labels: &labels,
        time: 1_725_323_658_779,
        ..Subject::default()
    };
    let _ = filter.matches(&subject);
});
