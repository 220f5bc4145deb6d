//! `depesha migrate`: run as a separate step against PostgreSQL, it says what it did;
//! it finds its database in the flag, else in the `database_url` setting; and until
//! `serve` can run on PostgreSQL, `serve` refuses a `database_url` rather than quietly
//! using the data directory.
//!
//! The tests that need PostgreSQL read `DEPESHA_TEST_DATABASE_URL` and say on stderr
//! when they are skipped; each migrates a schema of its own and drops it after.

use std::process::{Command, Output};

use depesha_store_postgres::LATEST_VERSION;

const BIN: &str = env!("CARGO_BIN_EXE_depesha");

/// A fresh schema in the test database, dropped when this goes out of scope.
struct TestDatabase {
    url: String,
    schema: String,
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl TestDatabase {
    /// None, having said so on stderr, when no test database is configured.
    fn open(test: &str) -> Option<TestDatabase> {
        let url = depesha_store_postgres::test_database::url_or_skip(test)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let client = runtime
            .block_on(depesha_store_postgres::connect(&url))
            .expect("the test database answers");
        let schema = format!("depesha_cli_test_{:016x}", rand::random::<u64>());
        Some(TestDatabase {
            url,
            schema,
            runtime,
            client,
        })
    }

    /// The versions recorded in the schema, in order.
    fn recorded_versions(&self) -> Vec<i32> {
        let query = format!(
            "SELECT version FROM \"{}\".schema_migrations ORDER BY version",
            self.schema
        );
        let rows = self
            .runtime
            .block_on(self.client.query(&query, &[]))
            .expect("schema_migrations is readable");
        rows.iter().map(|row| row.get(0)).collect()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let statement = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        if self
            .runtime
            .block_on(self.client.batch_execute(&statement))
            .is_err()
        {
            eprintln!("could not drop the test schema {}", self.schema);
        }
    }
}

/// `depesha <args>` with no `DEPESHA_DATABASE_URL` but the ones given.
fn depesha(args: &[&str], variables: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("DEPESHA_DATABASE_URL")
        .envs(variables.iter().copied())
        .output()
        .expect("depesha runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn migrate_creates_a_fresh_schema_then_finds_nothing_to_apply() {
    let Some(db) = TestDatabase::open("migrate_creates_a_fresh_schema…") else {
        return;
    };
    let args = ["migrate", "--database-url", &db.url, "--schema", &db.schema];

    let first = depesha(&args, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains(&format!(
            "applied {LATEST_VERSION} migration(s) to schema {} (was at version 0); now at version {LATEST_VERSION}",
            db.schema
        )),
        "{}",
        stdout(&first)
    );
    assert_eq!(
        db.recorded_versions(),
        (1..=LATEST_VERSION).collect::<Vec<_>>()
    );

    let second = depesha(&args, &[]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).contains(&format!(
            "schema {} already at version {LATEST_VERSION}: nothing to apply",
            db.schema
        )),
        "{}",
        stdout(&second)
    );
}

#[test]
fn migrate_reads_the_database_from_depesha_database_url_without_the_flag() {
    let Some(db) = TestDatabase::open("migrate_reads_the_database_from_depesha_database_url…")
    else {
        return;
    };

    let output = depesha(
        &["migrate", "--schema", &db.schema],
        &[("DEPESHA_DATABASE_URL", &db.url)],
    );

    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        db.recorded_versions(),
        (1..=LATEST_VERSION).collect::<Vec<_>>()
    );
}

#[test]
fn migrate_without_a_database_says_where_to_give_one() {
    let output = depesha(&["migrate"], &[]);

    assert!(!output.status.success());
    let error = stderr(&output);
    for way in ["--database-url", "DEPESHA_DATABASE_URL", "database_url"] {
        assert!(error.contains(way), "{error}");
    }
}

#[test]
fn migrate_refuses_a_schema_name_that_would_need_quoting() {
    let output = depesha(
        &[
            "migrate",
            "--database-url",
            "postgres://unused@127.0.0.1:1/none",
            "--schema",
            "Bad-Name",
        ],
        &[],
    );

    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("invalid schema name"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn serve_refuses_to_start_with_a_database_url_it_cannot_use_yet() {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = data_dir.path().to_string_lossy().into_owned();

    let output = depesha(
        &["serve"],
        &[
            ("DEPESHA_TOKEN", "a-token"),
            ("DEPESHA_DATA_DIR", &data_dir),
            ("DEPESHA_LISTEN", "127.0.0.1:0"),
            ("DEPESHA_DATABASE_URL", "postgres://postgres@127.0.0.1/test"),
        ],
    );

    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cannot run on PostgreSQL yet"),
        "{}",
        stderr(&output)
    );
}
