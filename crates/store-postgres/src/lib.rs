//! Depesha's PostgreSQL backend. This first step holds only what every later one
//! stands on: the schema Depesha keeps its tables in, and the versioned migrations
//! that create and upgrade it (see [`migrate`]). The store traits come later.

mod connect;
mod error;
mod migrations;
mod schema_name;
pub mod test_database;

pub use connect::connect;
pub use error::{MigrateError, PostgresError};
pub use migrations::{migrate, Migrated, LATEST_VERSION};
pub use schema_name::{SchemaName, DEFAULT_SCHEMA};
