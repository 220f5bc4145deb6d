//! The version check and the chain, on files made here. (A data dir written by the
//! previous release is upgraded in `tests/upgrade.rs`.)

use redb::ReadableDatabase;

use super::super::{tables, EmbeddedStore};
use super::FORMAT_VERSION;
use crate::StoreError;

fn stored_version(store: &EmbeddedStore) -> Option<u64> {
    let (_, opened) = store.current().expect("db");
    let txn = opened.db.begin_read().expect("read");
    let meta = txn.open_table(tables::META).expect("meta");
    let format = meta.get(tables::META_FORMAT).expect("get");
    format.map(|v| v.value())
}

/// Writes `version` into a store made in `dir`, and closes it.
fn make_file_of_version(dir: &std::path::Path, version: u64) {
    let store = EmbeddedStore::open(dir).expect("open");
    let (_, opened) = store.current().expect("db");
    let txn = opened.db.begin_write().expect("write");
    txn.open_table(tables::META)
        .expect("meta")
        .insert(tables::META_FORMAT, version)
        .expect("insert");
    txn.commit().expect("commit");
    drop(opened);
    assert_eq!(stored_version(&store), Some(version));
}

#[test]
fn a_new_file_is_of_the_current_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    assert_eq!(stored_version(&store), Some(FORMAT_VERSION));
}

#[test]
fn every_earlier_upgradable_version_is_upgraded_to_the_current_one() {
    for version in super::OLDEST_UPGRADABLE..FORMAT_VERSION {
        let dir = tempfile::tempdir().expect("tempdir");
        make_file_of_version(dir.path(), version);
        let store = EmbeddedStore::open(dir.path()).expect("an earlier version opens");
        assert_eq!(
            stored_version(&store),
            Some(FORMAT_VERSION),
            "from {version}"
        );
    }
}

#[test]
fn a_newer_version_is_refused_and_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_file_of_version(dir.path(), FORMAT_VERSION + 1);
    match EmbeddedStore::open(dir.path()) {
        Err(StoreError::Corrupt(m)) => {
            let m = m.to_string();
            assert!(
                m.contains(&format!("version is {}", FORMAT_VERSION + 1)),
                "{m}"
            );
            assert!(m.contains("later release"), "{m}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_version_older_than_the_chain_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_file_of_version(dir.path(), super::OLDEST_UPGRADABLE - 1);
    match EmbeddedStore::open(dir.path()) {
        Err(StoreError::Corrupt(m)) => {
            assert!(m.to_string().contains("earlier release first"), "{m}")
        }
        other => panic!("{other:?}"),
    }
}
