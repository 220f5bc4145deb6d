//! The store's one error type. Any of these means "the write did not happen" (or the
//! read could not be served). The server turns each kind into its own status
//! (`crates/server/src/error.rs`), because each asks something different of the client.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The disk refused a read or write (full disk, failing device). Answered 503:
    /// the request was not accepted, and the same request may succeed later, since
    /// the embedded store heals by itself once space comes back. (When the device
    /// fails in the middle of making a commit durable, the commit may still show up
    /// after a restart; a publish retried with a deduplication id is then stored
    /// once.)
    #[error("storage I/O error: {0}")]
    Io(String),
    /// Stored data this build cannot read, or a caller bug the store refused to
    /// write. Answered 500: retrying the same request will not help.
    #[error("stored data could not be decoded: {0}")]
    Corrupt(String),
    /// A page cursor that no earlier answer gave. Answered 400: the client's input
    /// is wrong.
    #[error("invalid cursor \"{0}\"")]
    InvalidCursor(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
