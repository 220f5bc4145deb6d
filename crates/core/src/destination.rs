//! Where a publish goes, as named in the path or a batch item (spec §1, §2.4): an
//! `http(s)://` URL, or the name of a URL group.

use crate::destination_policy::DestinationPolicy;
use crate::destination_url::check_url;
use crate::error::{InputError, InputResult};
use crate::ids;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Url(String),
    UrlGroup(String),
}

impl Destination {
    /// Reads a destination. A URL is also accepted percent-encoded once
    /// (`https%3A%2F%2F…`); anything not starting with `http://` or `https://` must be
    /// a valid URL-group name. A URL must be one `policy` allows.
    pub fn parse(raw: &str, policy: &DestinationPolicy) -> InputResult<Destination> {
        let lower = raw.get(..10).unwrap_or(raw).to_ascii_lowercase();
        let raw = if lower.starts_with("http%3a") || lower.starts_with("https%3a") {
            // Strict: a lossy decode would turn bytes that are no text into U+FFFD
            // and deliver to a host nobody named.
            percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| {
                    InputError::new(
                        "invalid destination: the percent-encoded URL does not decode to UTF-8 text",
                    )
                })?
                .into_owned()
        } else {
            raw.to_string()
        };
        if raw.starts_with("http://") || raw.starts_with("https://") {
            return Ok(Destination::Url(check_url("destination", &raw, policy)?));
        }
        if raw.is_empty() {
            return Err(InputError::new(
                "missing destination: expected an http(s) URL or a URL group name",
            ));
        }
        if raw == "api/llm" {
            return Err(InputError::new(
                "the api/llm destination is not supported by Depesha",
            ));
        }
        if !ids::is_valid_name(&raw) {
            return Err(InputError::new(format!(
                "invalid destination \"{raw}\": expected an absolute http:// or https:// URL, or a URL group name (letters, digits, -, _, .)"
            )));
        }
        Ok(Destination::UrlGroup(raw))
    }

    /// The text a deduplication hash and a schedule's `destination` use.
    pub fn as_str(&self) -> &str {
        match self {
            Destination::Url(s) | Destination::UrlGroup(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> InputResult<Destination> {
        Destination::parse(raw, &DestinationPolicy::allow_all())
    }

    #[test]
    fn urls_groups_and_encoded_urls() {
        assert_eq!(
            parse("https://a.example/x?y=1"),
            Ok(Destination::Url("https://a.example/x?y=1".into()))
        );
        assert_eq!(
            parse("https%3A%2F%2Fa.example%2Fx"),
            Ok(Destination::Url("https://a.example/x".into()))
        );
        assert_eq!(
            parse("my-group.v2"),
            Ok(Destination::UrlGroup("my-group.v2".into()))
        );
        assert!(parse("not a url").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn urls_that_cannot_be_delivered_are_refused() {
        // Issue 10 item 6's examples are checked end to end in the server's tests.
        for raw in [
            "http://a..example/",
            "http://.example/",
            "http://a.example:65536/",
            "http://a.example/%G0",
            "https://[fd00::1]:0/",
            "http%3A%2F%2Fa.example%2F%ZZ",
        ] {
            let error = parse(raw).expect_err(raw).0;
            assert!(error.contains("destination"), "{raw}: {error}");
        }
    }

    #[test]
    fn urls_the_sdks_send_stay_accepted() {
        for raw in [
            "http://127.0.0.1:3000/api/workers/deliver-goods",
            "https://a.example/x?y=1&z=%20",
            "https%3A%2F%2Fa.example%2Fx%3Fy%3D1",
            "http://[::1]:8080/",
            "https://a.example./root-dot",
            "https://user:pass@a.example/",
        ] {
            assert!(parse(raw).is_ok(), "{raw}: {:?}", parse(raw));
        }
    }
}
