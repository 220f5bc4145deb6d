//! Depesha's migrations against a real PostgreSQL: from an empty database, again on a
//! migrated one, by eight nodes at once, and on a database a newer release migrated.
//!
//! They need `DEPESHA_TEST_DATABASE_URL` (`.ci/run` sets it); without it each test
//! says on stderr that it was skipped. Each test works in a schema of its own, with a
//! random name, and drops it at the end.

use std::sync::Arc;

use depesha_store_postgres::{
    connect, migrate, test_database, MigrateError, Migrated, SchemaName, LATEST_VERSION,
};
use tokio::sync::Barrier;
use tokio_postgres::Client;

/// A fresh schema name in the test database, dropped when this goes out of scope
/// (also when the test fails).
struct TestSchema {
    url: String,
    schema: SchemaName,
}

impl TestSchema {
    /// None, having said so on stderr, when no test database is configured.
    fn new(test: &str) -> Option<TestSchema> {
        let url = test_database::url_or_skip(test)?;
        let name = format!("depesha_test_{:016x}", rand::random::<u64>());
        let schema = SchemaName::new(&name).expect("a valid schema name");
        Some(TestSchema { url, schema })
    }

    async fn client(&self) -> Client {
        connect(&self.url).await.expect("the test database answers")
    }

    /// A connection to the test database, with the schema migrated once.
    async fn migrated_client(&self) -> Client {
        let mut client = self.client().await;
        migrate(&mut client, &self.schema)
            .await
            .expect("the first run migrates");
        client
    }
}

impl Drop for TestSchema {
    /// Drop cannot wait for a future, and the test's runtime may be the one being
    /// dropped: the schema is dropped from a thread with a runtime of its own.
    fn drop(&mut self) {
        let url = self.url.clone();
        let statement = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema.quoted());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let client = connect(&url).await?;
                client.batch_execute(&statement).await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test schema {}", self.schema);
        }
    }
}

/// (version, name) of every recorded migration, in order.
async fn recorded(client: &Client, schema: &SchemaName) -> Vec<(i32, String)> {
    client
        .query(
            &format!(
                "SELECT version, name FROM {}.schema_migrations ORDER BY version",
                schema.quoted()
            ),
            &[],
        )
        .await
        .expect("schema_migrations is readable")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// The versions recorded, in order.
async fn recorded_versions(client: &Client, schema: &SchemaName) -> Vec<i32> {
    let recorded = recorded(client, schema).await;
    recorded.into_iter().map(|(version, _)| version).collect()
}

/// Every version this binary knows: 1 to the latest.
fn every_known_version() -> Vec<i32> {
    (1..=LATEST_VERSION).collect()
}

/// Records one version more than this binary knows, as a newer release would have;
/// returns it.
async fn record_a_newer_version(client: &Client, schema: &SchemaName) -> i32 {
    let newer = LATEST_VERSION + 1;
    let statement = format!(
        "INSERT INTO {}.schema_migrations (version, name) VALUES ($1, 'from a newer release')",
        schema.quoted()
    );
    client
        .execute(&statement, &[&newer])
        .await
        .expect("recorded");
    newer
}

#[tokio::test]
async fn an_empty_database_is_migrated_to_the_latest_version_and_each_version_is_recorded() {
    let Some(test) = TestSchema::new("an_empty_database_is_migrated…") else {
        return;
    };
    let mut client = test.client().await;

    let migrated = migrate(&mut client, &test.schema).await.expect("migrated");

    assert_eq!(
        migrated,
        Migrated {
            from: 0,
            applied: LATEST_VERSION as usize,
            version: LATEST_VERSION
        }
    );
    assert_eq!(
        recorded_versions(&client, &test.schema).await,
        every_known_version()
    );
    let shards: i32 = client
        .query_one(
            &format!("SELECT shard_count FROM {}.cluster", test.schema.quoted()),
            &[],
        )
        .await
        .expect("one cluster row")
        .get(0);
    assert_eq!(shards, 256);
}

#[tokio::test]
async fn a_second_run_applies_nothing() {
    let Some(test) = TestSchema::new("a_second_run_applies_nothing") else {
        return;
    };
    let mut client = test.migrated_client().await;
    let before = recorded(&client, &test.schema).await;

    let again = migrate(&mut client, &test.schema)
        .await
        .expect("second run");

    assert_eq!(
        again,
        Migrated {
            from: LATEST_VERSION,
            applied: 0,
            version: LATEST_VERSION
        }
    );
    assert_eq!(recorded(&client, &test.schema).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_nodes_migrating_at_once_apply_each_version_exactly_once() {
    let Some(test) = TestSchema::new("eight_nodes_migrating_at_once…") else {
        return;
    };
    const NODES: usize = 8;
    // Every node has its connection before any starts, so the runs really overlap.
    let start = Arc::new(Barrier::new(NODES));
    let mut nodes = Vec::new();
    for _ in 0..NODES {
        let mut client = test.client().await;
        let (start, schema) = (start.clone(), test.schema.clone());
        nodes.push(tokio::spawn(async move {
            start.wait().await;
            migrate(&mut client, &schema).await
        }));
    }

    let mut applied = 0;
    for node in nodes {
        let migrated = node.await.expect("the task ran").expect("no node failed");
        assert_eq!(migrated.version, LATEST_VERSION);
        applied += migrated.applied;
    }

    assert_eq!(applied, LATEST_VERSION as usize, "applied once in all");
    let client = test.client().await;
    assert_eq!(
        recorded_versions(&client, &test.schema).await,
        every_known_version()
    );
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_release_is_refused_and_left_alone() {
    let Some(test) = TestSchema::new("a_database_migrated_by_a_newer_release…") else {
        return;
    };
    let mut client = test.migrated_client().await;
    let newer = record_a_newer_version(&client, &test.schema).await;
    let before = recorded(&client, &test.schema).await;

    let refused = migrate(&mut client, &test.schema).await;

    match refused {
        Err(MigrateError::NewerThanKnown { found, known, .. }) => {
            assert_eq!((found, known), (newer, LATEST_VERSION));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let message = migrate(&mut client, &test.schema)
        .await
        .expect_err("still refused")
        .to_string();
    assert!(message.contains("run that release"), "{message}");
    assert_eq!(recorded(&client, &test.schema).await, before);
}

#[tokio::test]
async fn the_lock_is_released_after_a_refused_run() {
    let Some(test) = TestSchema::new("the_lock_is_released_after_a_refused_run") else {
        return;
    };
    let mut client = test.migrated_client().await;
    record_a_newer_version(&client, &test.schema).await;
    assert!(migrate(&mut client, &test.schema).await.is_err());

    // Another session can take the lock at once: the refused run did not keep it.
    let other = test.client().await;
    let taken: bool = other
        .query_one(
            "SELECT pg_try_advisory_lock($1)",
            &[&test.schema.migration_lock_key()],
        )
        .await
        .expect("asked")
        .get(0);
    assert!(taken);
}
