//! Messages: stored, read back, replaced, deleted, listed by state.

use depesha_core::filter::Filter;
use depesha_store::{PruneStats, Store, Unit, Write};

use crate::common::{keys, no_filter, A, B};
use crate::support::{commit_all, delivered, message, put};

pub async fn publish_and_read(store: &impl Store) {
    let m = message(A, "msg_1", 1_000);
    commit_all(store, vec![put(m.clone())]).await;
    assert_eq!(store.message(A, "msg_1").await.expect("read"), Some(m));
    assert_eq!(store.message(A, "msg_2").await.expect("read"), None);
    assert_eq!(store.pending_count().await.expect("count"), 1);
    assert_eq!(
        store.commit(Vec::new()).await.expect("empty commit"),
        Vec::new()
    );
}

pub async fn upsert_moves_the_due_key(store: &impl Store) {
    let m = message(A, "m", 100);
    commit_all(store, vec![put(m.clone())]).await;
    let mut retry = m.clone();
    retry.retried = 1;
    retry.due = 500;
    commit_all(store, vec![put(retry.clone())]).await;
    assert_eq!(store.due(None, 499, 10).await.expect("due"), Vec::new());
    assert_eq!(
        keys(&store.due(None, 500, 10).await.expect("due")),
        vec![(500, A, "m")]
    );
    assert_eq!(store.pending_count().await.expect("count"), 1);
    assert_eq!(store.message(A, "m").await.expect("read"), Some(retry));
}

pub async fn delete_message_removes_it_and_its_index_entries(store: &impl Store) {
    commit_all(
        store,
        vec![
            put(message(A, "p", 10)),
            put(delivered(message(A, "d", 10), 50)),
        ],
    )
    .await;
    commit_all(
        store,
        vec![Unit::new(vec![
            Write::DeleteMessage {
                user: A.into(),
                id: "p".into(),
            },
            Write::DeleteMessage {
                user: A.into(),
                id: "d".into(),
            },
            Write::DeleteMessage {
                user: A.into(),
                id: "never-existed".into(),
            },
        ])],
    )
    .await;
    assert_eq!(store.message(A, "p").await.expect("read"), None);
    assert_eq!(store.message(A, "d").await.expect("read"), None);
    assert_eq!(store.pending_count().await.expect("count"), 0);
    assert_eq!(
        store.due(None, u64::MAX, 10).await.expect("due"),
        Vec::new()
    );
    assert_eq!(
        store.prune(u64::MAX, 0, 100).await.expect("prune"),
        PruneStats::default()
    );
}

pub async fn pending_ids_lists_pending_matches_only(store: &impl Store) {
    let mut other = message(A, "m3", 10);
    other.url = "https://other.example/x".into();
    other.labels = vec!["third".into()];
    commit_all(
        store,
        vec![
            put(message(A, "m1", 10)),
            put(message(A, "m2", 10)),
            put(other),
            put(delivered(message(A, "m4", 10), 99)),
            put(message(B, "m5", 10)),
        ],
    )
    .await;
    let mut all = store.pending_ids(A, &no_filter(), 100).await.expect("ids");
    all.sort();
    assert_eq!(all, vec!["m1", "m2", "m3"]);
    assert_eq!(
        store
            .pending_ids(A, &no_filter(), 2)
            .await
            .expect("ids")
            .len(),
        2
    );
    let by_label = Filter {
        label: vec!["third".into()],
        ..Filter::default()
    };
    assert_eq!(
        store.pending_ids(A, &by_label, 100).await.expect("ids"),
        vec!["m3"]
    );
    let by_host = Filter {
        host: vec!["example.com".into()],
        ..Filter::default()
    };
    let mut hosts = store.pending_ids(A, &by_host, 100).await.expect("ids");
    hosts.sort();
    assert_eq!(hosts, vec!["m1", "m2"]);
    let by_ids = Filter {
        ids: vec![
            "m2".into(),
            "m4".into(),
            "m5".into(),
            "zzz".into(),
            "m2".into(),
        ],
        ..Filter::default()
    };
    assert_eq!(
        store.pending_ids(A, &by_ids, 100).await.expect("ids"),
        vec!["m2"]
    );
    let ids_and_label = Filter {
        ids: vec!["m1".into(), "m3".into()],
        label: vec!["third".into()],
        ..Filter::default()
    };
    assert_eq!(
        store
            .pending_ids(A, &ids_and_label, 100)
            .await
            .expect("ids"),
        vec!["m3"]
    );
    assert_eq!(
        store.pending_ids(A, &no_filter(), 0).await.expect("ids"),
        Vec::<String>::new()
    );
}
