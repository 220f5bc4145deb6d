//! A full disk: the commit that does not fit fails, nothing acknowledged is lost, and
//! the store works again once space is freed.

use depesha_core::log::LogState;
use depesha_store::{MessageStore, Store, StoreError, Unit, Write};

use crate::common::A;
use crate::support::{commit_all, large_message, log, message, put, Backend};

/// A full disk: every acknowledged write survives, the failing commit is an error, and
/// the store works again once space is freed — without a restart.
pub async fn full_disk_loses_nothing_acknowledged<B: Backend>(backend: &B) {
    let store = backend.open();
    let mut acked: Vec<String> = Vec::new();
    let mut full = false;
    for batch in 0..10_000u64 {
        let ids: Vec<String> = (0..4).map(|i| format!("msg_{batch}_{i}")).collect();
        let units = ids
            .iter()
            .map(|id| {
                Unit::new(vec![
                    Write::PutMessage(large_message(A, id, batch)),
                    Write::AppendLog(log(A, id, LogState::Created, batch)),
                ])
            })
            .collect();
        match store.commit(units).await {
            Ok(_) => acked.extend(ids),
            Err(StoreError::Io(e)) => {
                eprintln!("disk full after {} messages: {e}", acked.len());
                full = true;
                break;
            }
            Err(other) => panic!("unexpected error on a full disk: {other:?}"),
        }
    }
    assert!(full, "the disk never filled up");
    assert!(!acked.is_empty());
    for id in &acked {
        assert!(
            store
                .message(A, id)
                .await
                .expect("read on a full disk")
                .is_some(),
            "{id} lost"
        );
    }
    // Free space by deleting half of the messages; then writes work again.
    let (gone, kept) = acked.split_at(acked.len() / 2);
    let mut freed = false;
    for attempt in 0..5 {
        let deletes = gone
            .iter()
            .map(|id| {
                Unit::new(vec![Write::DeleteMessage {
                    user: A.into(),
                    id: id.clone(),
                }])
            })
            .collect();
        match store.commit(deletes).await {
            Ok(_) => {
                freed = true;
                break;
            }
            Err(e) => eprintln!("delete attempt {attempt} on a full disk: {e}"),
        }
    }
    assert!(freed, "could not delete on a full disk");
    commit_all(&store, vec![put(message(A, "after", 1))]).await;
    drop(store);
    let store = backend.open();
    for id in kept.iter().chain(["after".to_string()].iter()) {
        assert!(
            store
                .message(A, id)
                .await
                .expect("read after reopen")
                .is_some(),
            "{id} lost after reopen"
        );
    }
    for id in gone {
        assert_eq!(store.message(A, id).await.expect("read after reopen"), None);
    }
}
