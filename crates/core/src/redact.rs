//! `Upstash-Redact-Fields` (spec §4.2): parts of a message that must not be shown
//! back through the API — in message `GET`, logs, DLQ entries and schedule
//! listings — because they hold secrets (an API key in a forwarded header, personal
//! data in the body). Delivery still uses the original values; redaction applies
//! only to what is *displayed*.
//!
//! Each redacted value is shown as `REDACTED:<sha256 hex of the value>`: the
//! secret is gone, but a user can still check whether two messages carried the
//! same value, or whether it matches one they know.
//!
//! Accepted entries, comma-separated with optional spaces, keywords
//! case-insensitive, because the SDKs and the docs disagree on spelling:
//!
//! | entry | meaning | who sends it |
//! |---|---|---|
//! | `body` | the body | all |
//! | `header` / `headers` | every forwarded header | JS/PY / docs |
//! | `header[Name]` / `headers[Name]` | one header (name case-insensitive) | JS/PY, docs / one docs page |

use sha2::{Digest, Sha256};

use crate::error::{quote, InputError, InputResult};

const HEADER: &str = "Upstash-Redact-Fields";
const EXPECTED: &str = "expected a comma-separated list of body, header, \
     header[Name] (or headers, headers[Name]), like \"body, header[Authorization]\"";

/// What to redact in a message's displayed form. `headers` holds lower-case
/// names, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Redaction {
    pub body: bool,
    pub all_headers: bool,
    pub headers: Vec<String>,
}

/// Parses an `Upstash-Redact-Fields` value. A blank value redacts nothing.
pub fn parse_redact_fields(value: &str) -> InputResult<Redaction> {
    let value = value.trim();
    let mut redaction = Redaction::default();
    if value.is_empty() {
        return Ok(redaction);
    }
    let fail = |reason: String| {
        InputError::new(format!(
            "invalid {HEADER} {}: {reason}; {EXPECTED}",
            quote(value)
        ))
    };
    for entry in value.split(',').map(str::trim) {
        if entry.is_empty() {
            return Err(fail("empty entry between commas".into()));
        }
        if entry.eq_ignore_ascii_case("body") {
            redaction.body = true;
        } else if entry.eq_ignore_ascii_case("header") || entry.eq_ignore_ascii_case("headers") {
            redaction.all_headers = true;
        } else if let Some(name) = bracketed_header(entry) {
            let name = name.trim();
            if name.is_empty() {
                return Err(fail(format!("{} names no header", quote(entry))));
            }
            if !name.bytes().all(is_token_byte) {
                return Err(fail(format!("{} is not a valid header name", quote(name))));
            }
            let name = name.to_ascii_lowercase();
            if !redaction.headers.contains(&name) {
                redaction.headers.push(name);
            }
        } else {
            return Err(fail(format!("unknown entry {}", quote(entry))));
        }
    }
    Ok(redaction)
}

/// The `Name` of `header[Name]` or `headers[Name]` (keyword case-insensitive).
fn bracketed_header(entry: &str) -> Option<&str> {
    let (keyword, rest) = entry.split_once('[')?;
    let keyword = keyword.trim_end();
    if !(keyword.eq_ignore_ascii_case("header") || keyword.eq_ignore_ascii_case("headers")) {
        return None;
    }
    rest.strip_suffix(']')
}

/// RFC 9110 `tchar`: the characters allowed in a header name.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl Redaction {
    /// Whether nothing is redacted (the header was absent or blank).
    pub fn is_empty(&self) -> bool {
        !self.body && !self.all_headers && self.headers.is_empty()
    }

    /// The body as it must be displayed, if it is redacted:
    /// `Some("REDACTED:<sha256 hex>")`; `None` means show the body as is.
    pub fn redact_body(&self, body: &[u8]) -> Option<String> {
        self.body.then(|| redacted(body))
    }

    /// Whether the header `name` (any case) must be displayed redacted.
    pub fn redacts_header(&self, name: &str) -> bool {
        self.all_headers || self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
    }

    /// The displayed form of a redacted header value: `REDACTED:<sha256 hex>`.
    pub fn redacted_value(value: &str) -> String {
        redacted(value.as_bytes())
    }
}

fn redacted(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut out = String::with_capacity("REDACTED:".len() + 64);
    out.push_str("REDACTED:");
    for byte in digest {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(value: &str) -> Redaction {
        match parse_redact_fields(value) {
            Ok(r) => r,
            Err(e) => panic!("{value:?} should parse: {e}"),
        }
    }

    fn err(value: &str) -> String {
        match parse_redact_fields(value) {
            Ok(r) => panic!("{value:?} should fail, got {r:?}"),
            Err(e) => e.0,
        }
    }

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn all_spellings() {
        assert_eq!(
            ok("body"),
            Redaction {
                body: true,
                ..Default::default()
            }
        );
        for all in ["header", "headers", "HEADER", "Headers"] {
            assert_eq!(
                ok(all),
                Redaction {
                    all_headers: true,
                    ..Default::default()
                }
            );
        }
        for one in [
            "header[Authorization]",
            "headers[authorization]",
            "HEADER[AUTHORIZATION]",
            "header[ Authorization ]",
        ] {
            assert_eq!(
                ok(one),
                Redaction {
                    headers: vec!["authorization".into()],
                    ..Default::default()
                },
                "{one}"
            );
        }
        assert_eq!(
            ok("body, header[Authorization],headers[X-Api-Key] , header[authorization]"),
            Redaction {
                body: true,
                all_headers: false,
                headers: vec!["authorization".into(), "x-api-key".into()],
            }
        );
        assert_eq!(
            ok("BODY,header"),
            Redaction {
                body: true,
                all_headers: true,
                headers: vec![]
            }
        );
    }

    #[test]
    fn blank_redacts_nothing() {
        assert!(ok("").is_empty());
        assert!(ok("  ").is_empty());
        assert!(!ok("body").is_empty());
        assert!(!ok("header[x]").is_empty());
    }

    #[test]
    fn rejected_values() {
        assert!(err("bodies").contains("unknown entry \"bodies\""));
        assert!(err("body,").contains("empty entry"));
        assert!(err("header[]").contains("names no header"));
        assert!(err("header[a b]").contains("not a valid header name"));
        assert!(err("header[x").contains("unknown entry"));
        assert!(err("hdr[x]").contains("unknown entry"));
        assert!(err("header[x]y").contains("unknown entry"));
        let message = err("secret");
        assert!(
            message.starts_with("invalid Upstash-Redact-Fields \"secret\": "),
            "{message}"
        );
        assert!(message.contains("body, header[Authorization]"), "{message}");
    }

    #[test]
    fn body_redaction() {
        let redaction = ok("body");
        assert_eq!(
            redaction.redact_body(b""),
            Some(format!("REDACTED:{EMPTY_SHA256}"))
        );
        assert_eq!(ok("header").redact_body(b"secret"), None);
        assert_eq!(
            redaction.redact_body(b"hello"),
            Some(
                "REDACTED:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".into()
            )
        );
    }

    #[test]
    fn header_redaction() {
        let some = ok("header[Authorization]");
        assert!(some.redacts_header("authorization"));
        assert!(some.redacts_header("AUTHORIZATION"));
        assert!(!some.redacts_header("x-other"));
        assert!(ok("headers").redacts_header("anything"));
        assert!(!ok("body").redacts_header("authorization"));
        assert_eq!(
            Redaction::redacted_value(""),
            format!("REDACTED:{EMPTY_SHA256}")
        );
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = parse_redact_fields(&s);
        }

        #[test]
        fn redact_like_input_never_panics(s in "[a-zA-Z\\[\\], -]{0,40}") {
            if let Ok(r) = parse_redact_fields(&s) {
                for name in &r.headers {
                    prop_assert_eq!(name, &name.to_ascii_lowercase());
                }
            }
        }

        #[test]
        fn redacted_values_have_a_fixed_shape(v in any::<String>()) {
            let shown = Redaction::redacted_value(&v);
            prop_assert_eq!(shown.len(), "REDACTED:".len() + 64);
            prop_assert!(shown.starts_with("REDACTED:"));
        }
    }
}
