//! The embedded store on a full disk (the small tmpfs at `DEPESHA_CONFORMANCE_SMALL_DISK`
//! that `scripts/test` mounts when run as root, then runs this ignored test with
//! `--ignored`; elsewhere `cargo test` reports it as ignored).
//!
//! Once the disk is full, a failing write must fail at once — without reopening or
//! repairing the store, whose cost grows with its size — reads must keep answering, and
//! when space is freed writes must work again without a restart, with everything
//! acknowledged still there and nothing that was refused.

mod support;

use std::path::Path;

use depesha_store::embedded::{EmbeddedStore, StoreOptions};
use depesha_store::{MessageStore, Store, StoreError, Unit};
use support::{large_message, put, SMALL_DISK_ENV};

const USER: &str = "ann";
/// Room the test takes from the disk before the store fills the rest, and gives back
/// later: an operator freeing space.
const BALLAST_BYTES: usize = 1024 * 1024;
/// Failing writes made after the disk filled up.
const FAILING_WRITES: usize = 50;

/// A commit of four messages with 16 KiB bodies each: too large for the journal's
/// slack once the disk is full.
fn large_batch(prefix: &str, batch: u64) -> (Vec<String>, Vec<Unit>) {
    let ids: Vec<String> = (0..4).map(|i| format!("{prefix}_{batch}_{i}")).collect();
    let units = ids
        .iter()
        .map(|id| put(large_message(USER, id, batch)))
        .collect();
    (ids, units)
}

/// Commits large batches (and runs the checkpoints the engine would) until one fails;
/// returns the acknowledged ids.
async fn fill(store: &EmbeddedStore) -> Vec<String> {
    let mut acked = Vec::new();
    for batch in 0..10_000u64 {
        let (ids, units) = large_batch("fill", batch);
        match store.commit(units).await {
            Ok(_) => acked.extend(ids),
            Err(StoreError::Io(e)) => {
                eprintln!("disk full after {} messages: {e}", acked.len());
                return acked;
            }
            Err(other) => panic!("unexpected error on a full disk: {other:?}"),
        }
        let _ = store.maintain().await;
    }
    panic!("the disk never filled up");
}

async fn assert_present(store: &EmbeddedStore, ids: &[String]) {
    for id in ids {
        assert!(
            store.message(USER, id).await.expect("read").is_some(),
            "{id} was acknowledged but is lost"
        );
    }
}

async fn assert_absent(store: &EmbeddedStore, ids: &[String]) {
    for id in ids {
        assert_eq!(
            store.message(USER, id).await.expect("read"),
            None,
            "{id} was refused but is stored"
        );
    }
}

#[tokio::test]
#[ignore = "needs a small file system: set DEPESHA_CONFORMANCE_SMALL_DISK (scripts/test mounts one as root)"]
async fn a_full_disk_fails_writes_at_once_and_heals_when_space_is_freed() {
    // Run on purpose (`--ignored`) without a small disk, this must fail: a pass would
    // claim a full disk was tested.
    let Some(small_disk) = std::env::var_os(SMALL_DISK_ENV) else {
        panic!("no small disk: set {SMALL_DISK_ENV} to a directory on one");
    };
    let temp = tempfile::tempdir_in(small_disk).expect("temporary directory on the small disk");
    let ballast = temp.path().join("ballast");
    std::fs::write(&ballast, vec![1u8; BALLAST_BYTES]).expect("write the ballast");
    let data: &Path = &temp.path().join("data");
    // Checkpoints small enough that several succeed before the disk is full, and one
    // fits in the space freed later.
    let options = StoreOptions {
        checkpoint_bytes: 128 * 1024,
        ..StoreOptions::default()
    };
    let store = EmbeddedStore::open_with(data, options).expect("open");

    let acked = fill(&store).await;
    assert!(!acked.is_empty());
    let after_filling = store.recoveries();

    // Further writes fail, each without reopening or repairing the store; reads answer.
    let mut refused = Vec::new();
    for batch in 0..FAILING_WRITES as u64 {
        let (ids, units) = large_batch("refused", batch);
        match store.commit(units).await {
            Err(StoreError::Io(_)) => refused.extend(ids),
            other => panic!("a write on a full disk: {other:?}"),
        }
        let _ = store.maintain().await;
        assert!(store
            .message(USER, &acked[0])
            .await
            .expect("read")
            .is_some());
        assert!(store.pending_count().await.expect("count") >= acked.len() as u64);
    }
    assert_eq!(
        store.recoveries(),
        after_filling,
        "failing writes reopened or repaired the store"
    );
    assert_eq!(after_filling.full_repairs, 0);
    assert_present(&store, &acked).await;
    assert_absent(&store, &refused).await;

    // Space is freed: the next writes succeed, without a restart.
    std::fs::remove_file(&ballast).expect("free space");
    let mut after = Vec::new();
    for batch in 0..4 {
        let (ids, units) = large_batch("after", batch);
        store
            .commit(units)
            .await
            .expect("a write once space is freed");
        after.extend(ids);
        store
            .maintain()
            .await
            .expect("a checkpoint once space is freed");
    }
    assert_present(&store, &acked).await;
    assert_present(&store, &after).await;
    assert_absent(&store, &refused).await;
    assert_eq!(store.recoveries(), after_filling, "healing needed a reopen");

    // And it all survives a restart.
    drop(store);
    let store = EmbeddedStore::open(data).expect("reopen");
    assert_present(&store, &acked).await;
    assert_present(&store, &after).await;
    assert_absent(&store, &refused).await;
}
