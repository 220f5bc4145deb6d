//! What can stop a migration run.

/// Why the schema could not be brought to this binary's version.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("invalid schema name {0:?}: use 1 to 63 lowercase letters, digits and underscores, not starting with a digit")]
    SchemaName(String),
    #[error("could not connect to PostgreSQL: {0}")]
    Connect(#[source] tokio_postgres::Error),
    #[error(
        "the database schema {schema:?} is at migration version {found}, but this Depesha \
         knows versions up to {known} only: a newer release has migrated it; run that \
         release (or a newer one), not this one"
    )]
    NewerThanKnown {
        schema: String,
        found: i32,
        known: i32,
    },
    #[error("migration {version} ({name}) failed; it was rolled back: {source}")]
    Migration {
        version: i32,
        name: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("PostgreSQL refused a migration step ({step}): {source}")]
    Database {
        step: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
}
