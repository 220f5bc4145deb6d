//! Errors of the engine. A store error means the change was not made durable and the
//! caller must not report success.

use depesha_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the server is shutting down")]
    ShuttingDown,
}
