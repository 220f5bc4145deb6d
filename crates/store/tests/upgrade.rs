//! A data dir written by the previous release (stored format 3) opens with this one:
//! it is upgraded to the current format, every record reads back as the release
//! stored it, and the commits its journal still held after a `kill -9` are applied.
//!
//! The fixture, `fixtures/v3/`, was made by `fixtures/make_v3.py` with `depesha dev`
//! of that release; `fixtures/v3/manifest` names what it stored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use depesha_core::filter::{Filter, Order};
use depesha_core::log::LogState;
use depesha_core::message::{Message, MessageState};
use depesha_core::refs::QueueRef;
use depesha_store::embedded::{EmbeddedStore, FORMAT_VERSION};
use depesha_store::{
    DlqStore, FlowKeyStore, GroupStore, KeyStore, LogStore, MessageStore, QueueStore,
    ScheduleStore, Store, StoreError,
};
use redb::{ReadableDatabase, TableDefinition};

const DEFAULT_USER: &str = "defaultUser";
const SECOND_USER: &str = "testUser1";
/// Where the embedded store keeps its format version (see `embedded/upgrade/`).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v3")
}

/// The fixture's data files, copied into a fresh directory (opening changes them).
fn fixture_copy(with_journal: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = vec!["depesha.redb"];
    if with_journal {
        files.push("depesha.journal");
    }
    for name in files {
        std::fs::copy(fixture().join(name), dir.path().join(name)).expect("copy fixture");
    }
    dir
}

/// `name value` per line, as `make_v3.py` wrote them.
fn manifest() -> HashMap<String, String> {
    let text = std::fs::read_to_string(fixture().join("manifest")).expect("manifest");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The format version written in the data file, read without the store.
fn stored_version(dir: &Path) -> Option<u64> {
    let db = redb::Database::create(dir.join("depesha.redb")).expect("open the file");
    let txn = db.begin_read().expect("read");
    let meta = txn.open_table(META).expect("meta");
    let version = meta.get("format").expect("get");
    version.map(|v| v.value())
}

fn set_stored_version(dir: &Path, version: u64) {
    let db = redb::Database::create(dir.join("depesha.redb")).expect("open the file");
    let txn = db.begin_write().expect("write");
    txn.open_table(META)
        .expect("meta")
        .insert("format", version)
        .expect("insert");
    txn.commit().expect("commit");
}

async fn message(store: &EmbeddedStore, id: &str) -> Message {
    store
        .message(DEFAULT_USER, id)
        .await
        .expect("read")
        .unwrap_or_else(|| panic!("message {id} is missing"))
}

#[tokio::test]
async fn the_previous_release_s_data_dir_is_upgraded_and_reads_back_whole() {
    let ids = manifest();
    let id = |name: &str| ids[name].as_str();
    let dir = fixture_copy(true);
    assert_eq!(stored_version(dir.path()), Some(3));

    let store = EmbeddedStore::open(dir.path()).expect("the v3 data dir opens");

    // A delayed message with every option the publish set.
    let delayed = message(&store, id("delayed")).await;
    assert_eq!(delayed.state, MessageState::Pending);
    assert_eq!(delayed.method, "PUT");
    assert_eq!(delayed.max_retries, 4);
    assert_eq!(
        delayed.retry_delay.as_ref().map(|d| d.source()),
        Some("1000 * pow(2, retried)")
    );
    assert_eq!(delayed.timeout_ms, Some(30_000));
    assert_eq!(delayed.labels, vec!["fixture".to_string()]);
    assert_eq!(delayed.dedup_id.as_deref(), Some("dedup-1"));
    assert_eq!(
        delayed.headers.get("X-Order"),
        Some(&vec!["17".to_string()])
    );
    assert!(delayed.redaction.body);
    assert_eq!(delayed.body, br#"{"order": 17}"#);
    assert!(delayed
        .callback
        .as_ref()
        .is_some_and(|c| c.url.ends_with("/callback")));
    assert!(delayed
        .failure_callback
        .as_ref()
        .is_some_and(|c| c.url.ends_with("/failure")));
    assert_eq!(delayed.due, delayed.created_at + 2 * 3_600_000);

    // The paused queue and its two queued messages, in order.
    let queue = store
        .queue(DEFAULT_USER, "paused-q")
        .await
        .expect("read")
        .expect("queue");
    assert!(queue.paused);
    assert_eq!(queue.parallelism, 2);
    let items = store
        .queue_items(DEFAULT_USER, "paused-q", 10)
        .await
        .expect("items");
    let holders: Vec<&str> = items.iter().map(|(_, holder)| holder.as_str()).collect();
    assert_eq!(holders, [id("queued1"), id("queued2")]);
    for name in ["queued1", "queued2"] {
        let queued = message(&store, id(name)).await;
        assert_eq!(queued.state, MessageState::Queued);
        assert_eq!(
            queued.queue_item.as_ref().map(|i| i.queue.as_str()),
            Some("paused-q")
        );
    }
    assert_eq!(
        store.queues_with_items().await.expect("queues"),
        [QueueRef::new(DEFAULT_USER, "paused-q")]
    );

    // The paused flow-control key and its wait-list.
    let key = store
        .flow_key(DEFAULT_USER, "fk")
        .await
        .expect("read")
        .expect("key");
    assert!(key.paused);
    assert_eq!(key.parallelism, Some(1));
    assert_eq!(
        store
            .waiting_count(DEFAULT_USER, "fk", 10)
            .await
            .expect("count"),
        2
    );
    for name in ["waiting1", "waiting2"] {
        assert_eq!(message(&store, id(name)).await.state, MessageState::Waiting);
    }
    assert_eq!(
        message(&store, id("flow_delayed")).await.state,
        MessageState::Pending
    );

    // Delivered, and dead-lettered.
    let delivered = message(&store, id("delivered")).await;
    assert_eq!(delivered.state, MessageState::Delivered);
    assert!(delivered.expires_at.is_some());
    assert_eq!(
        store
            .message(DEFAULT_USER, id("failed"))
            .await
            .expect("read"),
        None
    );
    let dead = store
        .dlq_entry(DEFAULT_USER, id("dlq"))
        .await
        .expect("read")
        .expect("DLQ entry");
    assert_eq!(dead.message.id, id("failed"));
    assert_eq!(dead.message.body, b"doomed");
    assert_eq!(dead.response.as_ref().map(|r| r.status), Some(500));
    assert_eq!(
        dead.response.as_ref().map(|r| r.body.as_slice()),
        Some(&b"no"[..])
    );

    // The log: every message was created, the delivered one delivered, the failed one
    // failed.
    let logs = store
        .log_page(
            DEFAULT_USER,
            &Filter::default(),
            None,
            1000,
            Order::EarliestFirst,
        )
        .await
        .expect("logs")
        .items;
    let states_of = |message_id: &str| -> Vec<LogState> {
        logs.iter()
            .filter(|e| e.message_id == message_id)
            .map(|e| e.state)
            .collect()
    };
    for name in [
        "delayed",
        "queued1",
        "waiting1",
        "delivered",
        "failed",
        "journaled",
    ] {
        assert_eq!(
            states_of(id(name)).first(),
            Some(&LogState::Created),
            "{name}"
        );
    }
    assert!(states_of(id("delivered")).contains(&LogState::Delivered));
    assert!(states_of(id("failed")).contains(&LogState::Failed));

    // Signing keys (the second user rotated them), the URL group, the schedules.
    let keys = store.keys(SECOND_USER).await.expect("read").expect("keys");
    assert_eq!(keys.current, ids["keys2.current"]);
    assert_eq!(keys.next, ids["keys2.next"]);
    let group = store
        .group(DEFAULT_USER, "grp")
        .await
        .expect("read")
        .expect("group");
    let endpoints: Vec<(Option<&str>, bool)> = group
        .endpoints
        .iter()
        .map(|e| {
            (
                e.name.as_deref(),
                e.url.ends_with("/a") || e.url.ends_with("/b"),
            )
        })
        .collect();
    assert_eq!(endpoints, [(Some("a"), true), (None, true)]);
    let schedules = store.schedules(DEFAULT_USER).await.expect("schedules");
    let ids_and_pause: Vec<(&str, &str, bool)> = schedules
        .iter()
        .map(|s| (s.id.as_str(), s.cron.as_str(), s.paused))
        .collect();
    assert_eq!(
        ids_and_pause,
        [
            ("paused-sched", "*/5 * * * *", true),
            (id("schedule"), "0 0 1 1 *", false)
        ]
    );

    // The commits after the last checkpoint were in the journal only; they are there.
    assert_eq!(
        message(&store, id("checkpointed")).await.state,
        MessageState::Pending
    );
    let journaled = message(&store, id("journaled")).await;
    assert_eq!(journaled.body, b"last");
    assert_eq!(journaled.due, journaled.created_at + 86_400_000);

    store.close().await.expect("close");
    drop(store);
    assert_eq!(stored_version(dir.path()), Some(FORMAT_VERSION));

    // And it opens again, as a file of the current version.
    let store = EmbeddedStore::open(dir.path()).expect("reopen");
    assert_eq!(message(&store, id("journaled")).await.body, b"last");
    assert_eq!(
        store
            .waiting_count(DEFAULT_USER, "fk", 10)
            .await
            .expect("count"),
        2
    );
}

/// Proves the fixture does what the test above relies on: the last publish is in the
/// journal and not in the database file.
#[tokio::test]
async fn the_fixture_s_last_publish_is_in_its_journal_only() {
    let ids = manifest();
    let dir = fixture_copy(false);
    let store = EmbeddedStore::open(dir.path()).expect("open without the journal");
    assert_eq!(
        store
            .message(DEFAULT_USER, &ids["journaled"])
            .await
            .expect("read"),
        None
    );
    assert!(store
        .message(DEFAULT_USER, &ids["checkpointed"])
        .await
        .expect("read")
        .is_some());
}

#[test]
fn a_data_dir_of_a_newer_version_is_refused_and_left_alone() {
    let dir = fixture_copy(true);
    set_stored_version(dir.path(), FORMAT_VERSION + 1);
    match EmbeddedStore::open(dir.path()) {
        Err(StoreError::Corrupt(m)) => {
            let m = m.to_string();
            assert!(
                m.contains(&format!("format version is {}", FORMAT_VERSION + 1)),
                "{m}"
            );
            assert!(m.contains("later release"), "{m}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(stored_version(dir.path()), Some(FORMAT_VERSION + 1));
}
