//! The body of `POST /v2/batch` (spec §3.3): a JSON array of
//! `{destination, headers, body, queue}`. Read here, without I/O, so that the whole
//! array is checked before the server plans anything, and so that the parser can be
//! fuzzed on its own (`fuzz/fuzz_targets/batch.rs`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{InputError, InputResult};

/// One item of a batch, its headers already turned into text pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    /// A URL or URL-group name, still to be read by `Destination::parse`.
    pub destination: String,
    /// `(name, value)` pairs in name order, as `publish::classify` takes them.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub queue: Option<String>,
}

/// The item as it is written. `body` and `queue` may be `null` (the Python SDK always
/// sends the keys).
#[derive(Deserialize)]
struct RawItem {
    destination: String,
    #[serde(default)]
    headers: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    queue: Option<String>,
}

/// Reads a batch body. Header values must be strings; numbers and booleans are taken
/// as their text, since JSON writers sometimes emit them that way, and `null` drops
/// the header.
pub fn parse_batch(bytes: &[u8]) -> InputResult<Vec<BatchItem>> {
    let raw: Vec<RawItem> = serde_json::from_slice(bytes).map_err(|e| {
        InputError::new(format!(
            "invalid batch: expected a JSON array of {{destination, headers, body, queue}}: {e}"
        ))
    })?;
    raw.into_iter()
        .enumerate()
        .map(|(index, item)| {
            Ok(BatchItem {
                destination: item.destination,
                headers: header_pairs(item.headers)
                    .map_err(|e| InputError::new(format!("batch item {index}: {e}")))?,
                body: item.body.unwrap_or_default().into_bytes(),
                queue: item.queue,
            })
        })
        .collect()
}

fn header_pairs(headers: Option<BTreeMap<String, Value>>) -> InputResult<Vec<(String, String)>> {
    headers
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(name, value)| match value {
            Value::Null => None,
            Value::String(s) => Some(Ok((name, s))),
            Value::Number(n) => Some(Ok((name, n.to_string()))),
            Value::Bool(b) => Some(Ok((name, b.to_string()))),
            _ => Some(Err(InputError::new(format!(
                "header {name}: expected a string value"
            )))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_with_nulls_numbers_and_booleans() {
        let items = parse_batch(
            br#"[
                {"destination": "https://a.example/x", "headers": {"Upstash-Retries": 3,
                 "Upstash-Content-Based-Deduplication": true, "X-Gone": null}, "body": "hi"},
                {"destination": "my-group", "headers": null, "body": null, "queue": "q1"}
            ]"#,
        )
        .expect("a valid batch");
        assert_eq!(
            items,
            vec![
                BatchItem {
                    destination: "https://a.example/x".into(),
                    headers: vec![
                        ("Upstash-Content-Based-Deduplication".into(), "true".into()),
                        ("Upstash-Retries".into(), "3".into()),
                    ],
                    body: b"hi".to_vec(),
                    queue: None,
                },
                BatchItem {
                    destination: "my-group".into(),
                    headers: vec![],
                    body: vec![],
                    queue: Some("q1".into()),
                },
            ]
        );
    }

    #[test]
    fn a_header_that_is_not_text_names_its_item() {
        let err =
            parse_batch(br#"[{"destination": "g"}, {"destination": "g", "headers": {"X": [1]}}]"#)
                .expect_err("an array is not a header value");
        assert_eq!(err.0, "batch item 1: header X: expected a string value");
    }

    #[test]
    fn anything_but_an_array_of_items_is_refused() {
        for bad in [
            &b""[..],
            b"{}",
            b"[1]",
            b"[{}]",
            b"[{\"destination\": 5}]",
            b"\xff",
        ] {
            let err = parse_batch(bad).expect_err("not a batch");
            assert!(
                err.0.starts_with("invalid batch: expected a JSON array"),
                "{err}"
            );
        }
    }
}
