//! Where a publish goes, as named in the path or a batch item (spec §1, §2.4): an
//! `http(s)://` URL, or the name of a URL group.

use crate::error::{InputError, InputResult};
use crate::ids;
use crate::publish::check_url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Url(String),
    UrlGroup(String),
}

impl Destination {
    /// Reads a destination. A URL is also accepted percent-encoded once
    /// (`https%3A%2F%2F…`); anything not starting with `http://` or `https://` must be
    /// a valid URL-group name.
    pub fn parse(raw: &str) -> InputResult<Destination> {
        let lower = raw.get(..10).unwrap_or(raw).to_ascii_lowercase();
        let raw = if lower.starts_with("http%3a") || lower.starts_with("https%3a") {
            percent_encoding::percent_decode_str(raw)
                .decode_utf8_lossy()
                .into_owned()
        } else {
            raw.to_string()
        };
        if raw.starts_with("http://") || raw.starts_with("https://") {
            return Ok(Destination::Url(check_url("destination", &raw)?));
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

    #[test]
    fn urls_groups_and_encoded_urls() {
        assert_eq!(
            Destination::parse("https://a.example/x?y=1"),
            Ok(Destination::Url("https://a.example/x?y=1".into()))
        );
        assert_eq!(
            Destination::parse("https%3A%2F%2Fa.example%2Fx"),
            Ok(Destination::Url("https://a.example/x".into()))
        );
        assert_eq!(
            Destination::parse("my-group.v2"),
            Ok(Destination::UrlGroup("my-group.v2".into()))
        );
        assert!(Destination::parse("not a url").is_err());
        assert!(Destination::parse("").is_err());
    }
}
