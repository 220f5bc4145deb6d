//! Tests of the embedded store as a whole: one open per file, and caller bugs that
//! would leave an index inconsistent.

use depesha_core::message::Message;

use super::EmbeddedStore;
use crate::{MessageStore, Store, StoreError, Unit};

#[test]
fn a_second_open_of_one_file_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = EmbeddedStore::open(dir.path()).expect("first open");
    assert!(matches!(
        EmbeddedStore::open(dir.path()),
        Err(StoreError::Io(_))
    ));
    drop(first);
    EmbeddedStore::open(dir.path()).expect("open after close");
}

fn waiting_message(id: &str, key: Option<&str>) -> Message {
    use depesha_core::flow_control::FlowControl;
    use depesha_core::message::{MessageState, Origin};
    Message {
        id: id.into(),
        user: "u".into(),
        url: "https://example.com/".into(),
        topic_name: None,
        endpoint_name: None,
        queue_name: None,
        schedule_id: None,
        method: "POST".into(),
        headers: Default::default(),
        body: Vec::new(),
        max_retries: 0,
        retried: 0,
        retry_delay: None,
        timeout_ms: None,
        not_before: 1,
        created_at: 1,
        due: 1,
        callback: None,
        failure_callback: None,
        caller_ip: None,
        labels: Vec::new(),
        redaction: Default::default(),
        flow_control: key.map(|key| FlowControl {
            key: key.into(),
            parallelism: Some(1),
            rate: None,
            period_secs: 1,
        }),
        dedup_id: None,
        origin: Origin::Publish,
        state: MessageState::Waiting,
        queue_item: None,
        expires_at: None,
    }
}

/// Caller bugs that would leave an index inconsistent fail the whole commit.
#[tokio::test]
async fn unindexable_writes_fail_the_commit() {
    use crate::{FlowKeyStore, QueueStore, Write};
    use depesha_core::queue::QueuePosition;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    let fine = Unit::new(vec![Write::PutMessage(waiting_message("ok", Some("k")))]);
    let bad = [
        Write::PutMessage(waiting_message("no-key", None)),
        Write::PutMessage(waiting_message("nul", Some("a\0b"))),
        Write::PutQueueItem {
            user: "u".into(),
            queue: "q\0".into(),
            position: QueuePosition {
                enqueued_at: 1,
                seq: 0,
            },
            holder: "ok".into(),
        },
    ];
    for write in bad {
        let result = store
            .commit(vec![fine.clone(), Unit::new(vec![write])])
            .await;
        assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
        assert_eq!(store.message("u", "ok").await.expect("read"), None);
    }
    // Reads of such names find nothing.
    assert_eq!(
        store
            .waiting_count("u", "a\0b", u64::MAX)
            .await
            .expect("count"),
        0
    );
    assert_eq!(store.queue_lag("u", "q\0").await.expect("lag"), 0);
    assert_eq!(
        store.queue_items("u", "q\0", 5).await.expect("items"),
        Vec::new()
    );
}
