//! Versioned migrations of Depesha's schema, run by Depesha itself.
//!
//! Each migration is one SQL file under `migrations/`, compiled into the binary, and
//! is applied in its own transaction together with the row that records it: a
//! migration is either applied and recorded, or neither. Runs are serialized by a
//! session-level advisory lock, so nodes that start at once do not apply anything
//! twice; the ones that wait find the work done.

use tokio_postgres::Client;

use crate::error::MigrateError;
use crate::schema_name::SchemaName;

/// One step of the schema's history. Versions are consecutive from 1; a released
/// migration is never edited (a database may already be past it), only followed.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "cluster",
    sql: include_str!("../migrations/0001_cluster.sql"),
}];

/// The version this binary brings a database to.
pub const LATEST_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// The version the schema was at before (0: no schema yet).
    pub from: i32,
    /// The migrations this run applied (the others were applied before).
    pub applied: usize,
    /// The version the schema is at now.
    pub version: i32,
}

/// Brings `schema` to [`LATEST_VERSION`], on `client`, a connection of the caller's
/// that no one else uses during the run (the advisory lock belongs to the session).
/// A schema that a newer release has migrated further is refused and left as it is.
pub async fn migrate(client: &mut Client, schema: &SchemaName) -> Result<Migrated, MigrateError> {
    let key = schema.migration_lock_key();
    client
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .await
        .map_err(MigrateError::at("wait for the migration lock"))?;
    let run = migrate_holding_lock(client, schema).await;
    // Released here rather than left to the end of the session: the caller may keep
    // the connection. If the unlock fails, the connection is gone and so is the lock.
    if let Err(e) = client
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
    {
        tracing::warn!(error = %e, "could not release the migration lock");
    }
    run
}

async fn migrate_holding_lock(
    client: &mut Client,
    schema: &SchemaName,
) -> Result<Migrated, MigrateError> {
    create_schema_if_missing(client, schema).await?;
    let from = recorded_version(client, schema).await?;
    if from > LATEST_VERSION {
        return Err(MigrateError::NewerThanKnown {
            schema: schema.to_string(),
            found: from,
            known: LATEST_VERSION,
        });
    }
    let mut applied = 0;
    for migration in MIGRATIONS.iter().filter(|m| m.version > from) {
        apply(client, schema, migration).await?;
        tracing::info!(
            schema = %schema,
            version = migration.version,
            name = migration.name,
            "applied a migration"
        );
        applied += 1;
    }
    Ok(Migrated {
        from,
        applied,
        version: LATEST_VERSION,
    })
}

/// Creates the schema unless it exists. Looked up first, because `CREATE SCHEMA IF
/// NOT EXISTS` still needs the right to create schemas, which a role given a schema
/// made by its database's owner may lack.
async fn create_schema_if_missing(
    client: &Client,
    schema: &SchemaName,
) -> Result<(), MigrateError> {
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_namespace WHERE nspname = $1",
            &[&schema.as_str()],
        )
        .await
        .map_err(MigrateError::at("look up the schema"))?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE SCHEMA {}", schema.quoted()))
            .await
            .map_err(MigrateError::at("create the schema"))?;
    }
    Ok(())
}

/// The highest version recorded in the schema, 0 before the first migration.
async fn recorded_version(client: &Client, schema: &SchemaName) -> Result<i32, MigrateError> {
    let step = "read the recorded version";
    let table = format!("{}.schema_migrations", schema.quoted());
    let table_exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .map_err(MigrateError::at(step))?
        .get(0);
    if !table_exists {
        return Ok(0);
    }
    let row = client
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {table}"),
            &[],
        )
        .await
        .map_err(MigrateError::at(step))?;
    Ok(row.get(0))
}

/// One migration and the row that records it, in one transaction.
async fn apply(
    client: &mut Client,
    schema: &SchemaName,
    migration: &Migration,
) -> Result<(), MigrateError> {
    let failed = |e: tokio_postgres::Error| MigrateError::Migration {
        version: migration.version,
        name: migration.name,
        cause: e.into(),
    };
    let transaction = client.transaction().await.map_err(failed)?;
    // The files name their tables unqualified; this puts them in the schema.
    transaction
        .batch_execute(&format!("SET LOCAL search_path TO {}", schema.quoted()))
        .await
        .map_err(failed)?;
    transaction
        .batch_execute(migration.sql)
        .await
        .map_err(failed)?;
    transaction
        .execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&migration.version, &migration.name],
        )
        .await
        .map_err(failed)?;
    transaction.commit().await.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i32 + 1, "{}", migration.name);
        }
    }
}
