//! What can stop a migration run.

/// Why the schema could not be brought to this binary's version.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("invalid schema name {0:?}: use 1 to 63 lowercase letters, digits and underscores, not starting with a digit")]
    SchemaName(String),
    #[error("could not connect to PostgreSQL: {0}")]
    Connect(PostgresError),
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
    #[error("migration {version} ({name}) failed; it was rolled back: {cause}")]
    Migration {
        version: i32,
        name: &'static str,
        cause: PostgresError,
    },
    #[error("PostgreSQL refused a migration step ({step}): {cause}")]
    Database {
        step: &'static str,
        cause: PostgresError,
    },
}

/// A PostgreSQL client error shown with its causes: tokio-postgres puts the cause
/// (`Connection refused`, the server's message) in `source()` only, and its own
/// message alone ("db error") tells an operator nothing.
#[derive(Debug)]
pub struct PostgresError(pub tokio_postgres::Error);

impl From<tokio_postgres::Error> for PostgresError {
    fn from(e: tokio_postgres::Error) -> Self {
        PostgresError(e)
    }
}

impl MigrateError {
    /// For `map_err`: a failed step outside the migrations themselves.
    pub(crate) fn at(step: &'static str) -> impl Fn(tokio_postgres::Error) -> MigrateError {
        move |e| MigrateError::Database {
            step,
            cause: e.into(),
        }
    }
}

impl std::fmt::Display for PostgresError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = std::error::Error::source(&self.0);
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

impl std::error::Error for PostgresError {}
