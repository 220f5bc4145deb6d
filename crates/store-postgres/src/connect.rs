//! One connection to PostgreSQL.

use tokio_postgres::{Client, NoTls};

use crate::error::MigrateError;

/// Opens one connection to `url` (a `postgres://` URL or a `key=value` string) and
/// drives it on a task of its own, which ends when the returned client is dropped.
///
/// Without TLS for now: the backend's first step runs against local servers; TLS
/// for managed databases comes with the pool.
pub async fn connect(url: &str) -> Result<Client, MigrateError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| MigrateError::Connect(e.into()))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "PostgreSQL connection ended with an error");
        }
    });
    Ok(client)
}
