//! Errors of the engine. A store error means the change was not made durable and the
//! caller must not report success.

use depesha_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the server is shutting down")]
    ShuttingDown,
    /// An operation's subject does not exist for this user; nothing was changed.
    #[error(transparent)]
    NotFound(#[from] Missing),
}

/// What an operation (or a read) did not find. The text is what the client is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error("message {0} not found")]
    Message(String),
    /// A cancel found nothing it could still cancel.
    #[error("message {0} not found (or already delivered, failed or cancelled)")]
    UnfinishedMessage(String),
    #[error("DLQ entry {0} not found (deleted, retried or expired)")]
    DlqEntry(String),
    #[error("queue \"{0}\" not found")]
    Queue(String),
    #[error("URL group \"{0}\" not found")]
    UrlGroup(String),
    #[error("flow-control key \"{0}\" not found (a key exists once a message carrying it was published)")]
    FlowKey(String),
    #[error("schedule {0} not found")]
    Schedule(String),
}
