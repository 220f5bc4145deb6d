//! The store's one error type. Any of these means "the write did not happen" (or the
//! read could not be served): the server answers 500 and the client may retry.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O error: {0}")]
    Io(String),
    #[error("stored data could not be decoded: {0}")]
    Corrupt(String),
    #[error("invalid cursor \"{0}\"")]
    InvalidCursor(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
