//! The one error type of the domain: input that a client sent and that cannot be
//! accepted. Every variant becomes an HTTP 400 with `{"error": "<message>"}` at the
//! server edge, so messages are written for the person who sent the request: they
//! name the header or field and say what a valid value looks like.
//!
//! [`quote`] is how every parser repeats the value it refused: bounded and escaped.

/// Invalid input from a client. The text is shown to the user verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

impl InputError {
    pub fn new(message: impl Into<String>) -> Self {
        InputError(message.into())
    }
}

/// Shorthand used by every parser in this crate.
pub type InputResult<T> = Result<T, InputError>;

/// Longest part of a user value that an error message repeats, in characters.
const QUOTED_MAX_CHARS: usize = 64;

/// Quotes a user value for an error message, the way every parser of this crate
/// shows what it refused: in double quotes with Rust escapes (so control characters
/// and quotes inside the value stay visible), and cut to 64 characters plus `…` so
/// that a hostile header cannot blow up the error response.
pub(crate) fn quote(value: &str) -> String {
    match value.char_indices().nth(QUOTED_MAX_CHARS) {
        Some((cut, _)) => format!("{:?}", format!("{}…", &value[..cut])),
        None => format!("{value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_shows_a_short_value_whole_in_double_quotes() {
        assert_eq!(quote("10x"), "\"10x\"");
    }

    #[test]
    fn quote_escapes_quotes_and_control_characters() {
        assert_eq!(quote("a\"b\nc"), "\"a\\\"b\\nc\"");
    }

    #[test]
    fn quote_keeps_a_value_of_exactly_64_characters_whole() {
        let value = "é".repeat(64);
        assert_eq!(quote(&value), format!("\"{value}\""));
    }

    #[test]
    fn quote_cuts_a_longer_value_to_64_characters_and_an_ellipsis() {
        let value = "é".repeat(10_000);
        assert_eq!(quote(&value), format!("\"{}…\"", "é".repeat(64)));
    }
}
