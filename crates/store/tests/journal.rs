//! The embedded store's journal under `kill -9`: commits are durable through the
//! journal, redb's own state only at checkpoints, so a crash must lose nothing that a
//! commit acknowledged, whether it lies before, across or after a checkpoint.
//!
//! Each test re-runs this test binary as a child that commits forever and prints what
//! was acknowledged, kills it with SIGKILL, reopens the store and checks — also that
//! the reopen did not repair the file by reading it whole: every durable commit
//! records redb's allocator state, so the cost of a restart after a crash does not
//! grow with the store.

mod support;

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use depesha_core::filter::{Filter, Order};
use depesha_store::embedded::{EmbeddedStore, Recoveries, StoreOptions};
use depesha_store::{Guard, LogStore, MessageStore, Store, Unit, Write};
use support::{claimed_publish, message};

const USER: &str = "ann";
const CHILD_DIR: &str = "DEPESHA_JOURNAL_TEST_CHILD_DIR";
const CHILD_CHECKPOINT_BYTES: &str = "DEPESHA_JOURNAL_TEST_CHECKPOINT_BYTES";
const CHILD_PREFIX: &str = "DEPESHA_JOURNAL_TEST_PREFIX";
const ACKED: &str = "acked ";
const CHILD_WITHOUT_QUICK_REPAIR_DIR: &str = "DEPESHA_JOURNAL_TEST_NO_QUICK_REPAIR_DIR";
const READY: &str = "ready";

/// The child: commits batches of four guarded publishes with the given checkpoint
/// size, printing each id after its commit returned.
#[tokio::test]
async fn committing_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return; // run as a normal test: nothing to do
    };
    let checkpoint_bytes = std::env::var(CHILD_CHECKPOINT_BYTES)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64 << 20);
    let options = StoreOptions {
        checkpoint_bytes,
        ..StoreOptions::default()
    };
    let prefix = std::env::var(CHILD_PREFIX).unwrap_or_default();
    let store = EmbeddedStore::open_with(dir.as_ref(), options).expect("child open");
    let stdout = std::io::stdout();
    for batch in 0u64.. {
        let ids: Vec<String> = (0..4).map(|i| format!("{prefix}m_{batch}_{i}")).collect();
        let units = ids
            .iter()
            .map(|id| claimed_publish(USER, id, batch))
            .collect();
        store.commit(units).await.expect("child commit");
        let mut out = stdout.lock();
        for id in &ids {
            let _ = writeln!(out, "{ACKED}{id}");
        }
        let _ = out.flush();
    }
}

/// Runs the child on `dir` until it acknowledged `at_least` messages, kills it, and
/// returns what it acknowledged.
fn kill_child_after(
    dir: &std::path::Path,
    prefix: &str,
    checkpoint_bytes: u64,
    at_least: usize,
) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "committing_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_CHECKPOINT_BYTES, checkpoint_bytes.to_string())
        .env(CHILD_PREFIX, prefix)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let mut lines = BufReader::new(child.stdout.take().expect("child stdout")).lines();
    let mut acked = Vec::new();
    let started = Instant::now();
    while acked.len() < at_least && started.elapsed() < Duration::from_secs(20) {
        match lines.next() {
            Some(Ok(line)) => acked.extend(line.strip_prefix(ACKED).map(str::to_string)),
            _ => break,
        }
    }
    child.kill().expect("SIGKILL the child");
    let _ = child.wait();
    acked.extend(
        lines
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix(ACKED).map(str::to_string)),
    );
    assert!(
        acked.len() >= at_least,
        "the child acknowledged only {acked:?}"
    );
    acked
}

async fn assert_all_there(store: &EmbeddedStore, acked: &[String]) {
    assert_eq!(
        store.recoveries().full_repairs,
        0,
        "the reopen after the crash read the whole file to repair it"
    );
    for id in acked {
        assert!(
            store.message(USER, id).await.expect("read").is_some(),
            "{id} was acknowledged but is lost"
        );
    }
    let due = store.due(None, u64::MAX, 1_000_000).await.expect("due");
    assert_eq!(
        store.pending_count().await.expect("count"),
        due.len() as u64
    );
    let logs = store
        .log_page(
            USER,
            &Filter::default(),
            None,
            1_000_000,
            Order::EarliestFirst,
        )
        .await
        .expect("logs");
    assert!(logs.items.len() >= acked.len());
    // Every log seq once: a replayed commit is not applied twice.
    let mut seqs: Vec<u64> = logs.items.iter().map(|e| e.seq).collect();
    seqs.dedup();
    assert_eq!(seqs.len(), logs.items.len(), "a log seq appears twice");
}

/// Runs one child in `dir` with this checkpoint size until it acknowledged `at_least`
/// messages, kills it, reopens the store and checks that every acknowledged message is
/// there.
async fn crash_and_reopen(
    dir: &std::path::Path,
    checkpoint_bytes: u64,
    at_least: usize,
) -> (EmbeddedStore, Vec<String>) {
    let acked = kill_child_after(dir, "", checkpoint_bytes, at_least);
    let store = EmbeddedStore::open(dir).expect("reopen");
    assert_all_there(&store, &acked).await;
    (store, acked)
}

#[tokio::test]
async fn a_crash_between_checkpoints_loses_nothing_acknowledged() {
    // No checkpoint within the run: everything the child committed is only in the journal.
    let dir = tempfile::tempdir().expect("tempdir");
    crash_and_reopen(dir.path(), 64 << 20, 400).await;
}

#[tokio::test]
async fn a_crash_after_many_checkpoints_loses_nothing_acknowledged() {
    // A checkpoint every few commits: the crash lands before, during or just after one,
    // and the journal has been restarted many times.
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, acked) = crash_and_reopen(dir.path(), 16 << 10, 1_200).await;
    // A replayed dedup claim still holds: publishing an acknowledged id again is a
    // duplicate, not a second message.
    let again = &acked[acked.len() - 1];
    let outcome = store
        .commit(vec![Unit::guarded(
            Guard::ClaimDedup {
                user: USER.into(),
                key: again.clone(),
                message_ids: vec!["other".into()],
                expires_at: u64::MAX,
            },
            vec![Write::PutMessage(message(USER, "other", 1))],
        )])
        .await
        .expect("commit");
    assert!(
        matches!(outcome[0], depesha_store::UnitOutcome::Rejected(_)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn two_crashes_in_a_row_lose_nothing_acknowledged() {
    // The second child starts from a journal replayed by the first reopen, writes other
    // messages and crashes too.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut acked = kill_child_after(dir.path(), "first_", 32 << 10, 300);
    let store = EmbeddedStore::open(dir.path()).expect("reopen");
    assert_all_there(&store, &acked).await;
    drop(store);
    acked.extend(kill_child_after(dir.path(), "second_", 32 << 10, 300));
    let store = EmbeddedStore::open(dir.path()).expect("reopen again");
    assert_all_there(&store, &acked).await;
}

#[tokio::test]
async fn a_crash_before_the_first_checkpoint_needs_no_full_repair() {
    // Only the durable commit that created the tables lies before the crash.
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = crash_and_reopen(dir.path(), 64 << 20, 40).await;
    assert_eq!(store.recoveries(), Recoveries::default());
}

/// The child for the test below: a durable commit as a build without quick repair made
/// it (redb's default), then it waits to be killed.
#[test]
fn child_committing_without_quick_repair() {
    let Ok(dir) = std::env::var(CHILD_WITHOUT_QUICK_REPAIR_DIR) else {
        return; // run as a normal test: nothing to do
    };
    let path = std::path::Path::new(&dir).join(depesha_store::embedded::FILE_NAME);
    let db = redb::Database::create(path).expect("child create");
    let txn = db.begin_write().expect("child write");
    txn.open_table(redb::TableDefinition::<u64, u64>::new("older_build"))
        .expect("child table")
        .insert(1, 1)
        .expect("child insert");
    txn.commit().expect("child commit");
    // After libtest's "test <name> ... ", on the same line.
    println!("{READY}");
    let _ = std::io::stdout().flush();
    std::thread::sleep(Duration::from_secs(60));
}

#[tokio::test]
async fn a_file_that_needs_a_full_repair_is_repaired_and_reported_once() {
    // redb calls the repair callback once per pass over the file (three here); the
    // repair is one event, logged and counted once.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "child_committing_without_quick_repair",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_WITHOUT_QUICK_REPAIR_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let ready = BufReader::new(child.stdout.take().expect("child stdout"))
        .lines()
        .map_while(Result::ok)
        .any(|line| line.ends_with(READY));
    child.kill().expect("SIGKILL the child");
    let _ = child.wait();
    assert!(ready, "the child did not commit");
    let store = EmbeddedStore::open(dir.path()).expect("open after the crash");
    assert_eq!(
        store.recoveries(),
        Recoveries {
            reopens: 0,
            full_repairs: 1
        }
    );
    // Repaired, the file is a store like any other.
    store
        .commit(vec![Unit::new(vec![Write::PutMessage(message(
            USER, "m", 1,
        ))])])
        .await
        .expect("commit");
    assert!(store.message(USER, "m").await.expect("read").is_some());
}
