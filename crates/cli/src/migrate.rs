//! `depesha migrate`: brings a PostgreSQL database's Depesha schema to this release's
//! version, for people who run migrations as a step of their own before deploying.

use std::path::Path;

use depesha_store_postgres::{connect, migrate, SchemaName};

use crate::settings::Settings;

/// Runs the migrations on the database named by `database_url`, else by the
/// `database_url` setting (config file or `DEPESHA_DATABASE_URL`), and says what it
/// did on stdout.
pub async fn run(
    config: Option<&Path>,
    database_url: Option<String>,
    schema: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let schema = SchemaName::new(schema)?;
    let url = match database_url {
        Some(url) => url,
        None => Settings::load(config)?.database_url.ok_or(
            "no database to migrate: give --database-url, set DEPESHA_DATABASE_URL, \
             or put `database_url = \"postgres://…\"` in the config file",
        )?,
    };
    let mut client = connect(&url).await?;
    let migrated = migrate(&mut client, &schema).await?;
    if migrated.applied == 0 {
        println!(
            "schema {schema} already at version {}: nothing to apply",
            migrated.version
        );
    } else {
        println!(
            "applied {} migration(s) to schema {schema} (was at version {}); now at version {}",
            migrated.applied, migrated.from, migrated.version
        );
    }
    Ok(())
}
