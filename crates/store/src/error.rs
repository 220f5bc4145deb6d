//! The store's one error type. Any of these means "the write did not happen" (or the
//! read could not be served). The server turns each kind into its own status
//! (`crates/server/src/error.rs`), because each asks something different of the client.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

#[derive(Debug)]
pub enum StoreError {
    /// The disk refused a read or write (full disk, failing device). Answered 503:
    /// the request was not accepted, and the same request may succeed later, since
    /// the embedded store heals by itself once space comes back. (When the device
    /// fails in the middle of making a commit durable, the commit may still show up
    /// after a restart; a publish retried with a deduplication id is then stored
    /// once.)
    Io(Cause),
    /// Stored data this build cannot read, or a caller bug the store refused to
    /// write. Answered 500: retrying the same request will not help.
    Corrupt(Cause),
    /// A page cursor that no earlier answer gave. Answered 400: the client's input
    /// is wrong.
    InvalidCursor(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// An I/O error caused by `source`, described as `what` (what the store was doing).
    pub fn io(what: impl Into<String>, source: impl Error + Send + Sync + 'static) -> Self {
        StoreError::Io(Cause::new(what).because(source))
    }

    /// Stored data that does not decode, because of `source`.
    pub fn corrupt(what: impl Into<String>, source: impl Error + Send + Sync + 'static) -> Self {
        StoreError::Corrupt(Cause::new(what).because(source))
    }

    /// The same error for one of several callers that share it (every request of a
    /// failed group commit): the same kind, so the same status, the same text, and
    /// the original as its source.
    pub fn shared(original: &Arc<StoreError>) -> Self {
        let cause = || Cause::of(Shared(original.clone()));
        match original.as_ref() {
            StoreError::Io(_) => StoreError::Io(cause()),
            StoreError::Corrupt(_) => StoreError::Corrupt(cause()),
            StoreError::InvalidCursor(cursor) => StoreError::InvalidCursor(cursor.clone()),
        }
    }
}

/// A shared original error, shown as its cause's text (its kind is the new error's).
#[derive(Debug)]
struct Shared(Arc<StoreError>);

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_ref() {
            StoreError::Io(cause) | StoreError::Corrupt(cause) => write!(f, "{cause}"),
            StoreError::InvalidCursor(cursor) => f.write_str(cursor),
        }
    }
}

impl Error for Shared {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.0.as_ref())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io(cause) => write!(f, "storage I/O error: {cause}"),
            StoreError::Corrupt(cause) => write!(f, "stored data could not be decoded: {cause}"),
            StoreError::InvalidCursor(cursor) => write!(f, "invalid cursor \"{cursor}\""),
        }
    }
}

impl Error for StoreError {
    /// The error the store met (an `std::io::Error`, a redb or postcard error), when
    /// there was one.
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StoreError::Io(cause) | StoreError::Corrupt(cause) => cause.source(),
            StoreError::InvalidCursor(_) => None,
        }
    }
}

/// What went wrong, in words, and the error that caused it when there was one. Its
/// `Display` is both ("writing depesha.journal: No space left on device"), because the
/// server shows it to the client, who has no other way to see the cause; the cause
/// itself stays reachable through [`Error::source`] of the [`StoreError`].
#[derive(Debug)]
pub struct Cause {
    what: String,
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl Cause {
    pub fn new(what: impl Into<String>) -> Self {
        Cause {
            what: what.into(),
            source: None,
        }
    }

    /// `source` alone, whose own message says what happened.
    pub fn of(source: impl Error + Send + Sync + 'static) -> Self {
        Cause::new("").because(source)
    }

    /// The same cause, described as happening within `context` (a file, say).
    pub fn within(mut self, context: impl std::fmt::Display) -> Self {
        self.what = if self.what.is_empty() {
            context.to_string()
        } else {
            format!("{context}: {}", self.what)
        };
        self
    }

    pub fn because(mut self, source: impl Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The description without the source's.
    pub fn what(&self) -> &str {
        &self.what
    }

    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) if self.what.is_empty() => write!(f, "{source}"),
            Some(source) => write!(f, "{}: {source}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

impl From<String> for Cause {
    fn from(what: String) -> Self {
        Cause::new(what)
    }
}

impl From<&str> for Cause {
    fn from(what: &str) -> Self {
        Cause::new(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_says_what_failed_and_keeps_its_cause() {
        let disk = std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device");
        let error = StoreError::io("writing depesha.journal", disk);
        assert_eq!(
            error.to_string(),
            "storage I/O error: writing depesha.journal: No space left on device"
        );
        let cause = error.source().expect("a source");
        let cause = cause
            .downcast_ref::<std::io::Error>()
            .expect("the io::Error");
        assert_eq!(cause.kind(), std::io::ErrorKind::StorageFull);
    }

    #[test]
    fn context_goes_in_front_and_a_bare_message_has_no_source() {
        let error = StoreError::Corrupt(Cause::new("bad record").within("depesha.redb"));
        assert_eq!(
            error.to_string(),
            "stored data could not be decoded: depesha.redb: bad record"
        );
        assert!(error.source().is_none());
        let disk = std::io::Error::other("gone");
        assert_eq!(
            Cause::of(disk).within("depesha.redb").to_string(),
            "depesha.redb: gone"
        );
    }

    #[test]
    fn a_shared_error_keeps_its_kind_text_and_source() {
        let disk = std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device");
        let original = Arc::new(StoreError::io("writing depesha.journal", disk));
        let copy = StoreError::shared(&original);
        assert!(matches!(copy, StoreError::Io(_)));
        assert_eq!(copy.to_string(), original.to_string());
        let root = std::iter::successors(copy.source(), |e| (*e).source())
            .last()
            .expect("a source");
        assert_eq!(root.to_string(), "No space left on device");

        let broken = Arc::new(StoreError::corrupt("decoding a message", std::fmt::Error));
        assert!(matches!(
            StoreError::shared(&broken),
            StoreError::Corrupt(_)
        ));
    }
}
