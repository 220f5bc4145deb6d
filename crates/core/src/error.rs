//! The one error type of the domain: input that a client sent and that cannot be
//! accepted. Every variant becomes an HTTP 400 with `{"error": "<message>"}` at the
//! server edge, so messages are written for the person who sent the request: they
//! name the header or field and say what a valid value looks like.

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
