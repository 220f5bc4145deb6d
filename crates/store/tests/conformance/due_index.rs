//! The due index: what is due in which order, what leaves it, and which commits make
//! messages due.

use depesha_store::{DueKey, PruneStats, Store, Taken, Unit, Write};

use crate::common::{applied, keys, made_due, no_filter, A, B};
use crate::support::{commit_all, delivered, message, position, put, queued, waiting};

pub async fn due_orders_by_time_user_id_and_pages_after(store: &impl Store) {
    commit_all(
        store,
        vec![
            put(message(B, "m1", 20)),
            put(message(A, "m2", 20)),
            put(message(A, "m1", 20)),
            put(message(A, "m9", 10)),
            put(message(A, "m0", 30)),
            put(message(A, "late", 1_000)),
        ],
    )
    .await;
    let all = store.due(None, 30, 100).await.expect("due");
    assert_eq!(
        keys(&all),
        vec![
            (10, A, "m9"),
            (20, A, "m1"),
            (20, A, "m2"),
            (20, B, "m1"),
            (30, A, "m0")
        ]
    );
    // Paging with `after`, including through ties on the same millisecond.
    let mut paged = Vec::new();
    let mut after: Option<DueKey> = None;
    loop {
        let page = store.due(after.as_ref(), 30, 2).await.expect("due page");
        assert!(page.len() <= 2);
        let Some(last) = page.last().cloned() else {
            break;
        };
        paged.extend(page);
        after = Some(last);
    }
    assert_eq!(paged, all);
    // `until` is inclusive; `after` past `until` yields nothing.
    assert_eq!(
        keys(&store.due(None, 19, 100).await.expect("due")),
        vec![(10, A, "m9")]
    );
    assert_eq!(store.due(None, 9, 100).await.expect("due"), Vec::new());
    let beyond = DueKey::new(500, A, "x");
    assert_eq!(
        store.due(Some(&beyond), 30, 100).await.expect("due"),
        Vec::new()
    );
    assert_eq!(
        store
            .due(Some(&beyond), u64::MAX, 100)
            .await
            .expect("due")
            .len(),
        1
    );
    assert_eq!(store.due(None, u64::MAX, 0).await.expect("due"), Vec::new());
    assert_eq!(store.pending_count().await.expect("count"), 6);
}

pub async fn delivered_leaves_due_index_but_stays_readable_until_prune(store: &impl Store) {
    let m = message(A, "m", 100);
    commit_all(store, vec![put(m.clone())]).await;
    let done = delivered(m, 1_000);
    commit_all(store, vec![put(done.clone())]).await;
    assert_eq!(
        store.due(None, u64::MAX, 10).await.expect("due"),
        Vec::new()
    );
    assert_eq!(store.pending_count().await.expect("count"), 0);
    assert_eq!(
        store.pending_ids(A, &no_filter(), 10).await.expect("ids"),
        Vec::<String>::new()
    );
    assert_eq!(store.message(A, "m").await.expect("read"), Some(done));
    assert_eq!(
        store.prune(999, 0, 100).await.expect("prune"),
        PruneStats::default()
    );
    assert!(store.message(A, "m").await.expect("read").is_some());
    let stats = store.prune(1_000, 0, 100).await.expect("prune");
    assert_eq!(stats.messages, 1);
    assert_eq!(store.message(A, "m").await.expect("read"), None);
}

pub async fn pending_puts_report_became_due(store: &impl Store) {
    // Only pending messages are reported: not delivered, queued or waiting ones.
    let outcomes = store
        .commit(vec![Unit::new(vec![
            Write::PutMessage(message(A, "m1", 10)),
            Write::PutMessage(delivered(message(A, "d", 1), 50)),
            Write::PutMessage(queued(A, "q", "line", position(1, 0), 1)),
            Write::PutMessage(waiting(A, "w", "k", 1)),
            Write::PutMessage(message(B, "m2", 20)),
        ])])
        .await
        .expect("commit");
    assert_eq!(
        outcomes,
        vec![made_due(Taken::Nothing, &[(10, A, "m1"), (20, B, "m2")])]
    );
    // Every unit reports its own keys; a message put twice is reported once, at its
    // final due; one taken out again later in the unit is not reported.
    let mut moved = message(A, "m3", 10);
    moved.due = 30;
    let outcomes = store
        .commit(vec![
            put(message(A, "m4", 40)),
            Unit::new(vec![
                Write::PutMessage(message(A, "m3", 10)),
                Write::PutMessage(moved.clone()),
                Write::PutMessage(moved.clone()),
            ]),
            Unit::new(vec![
                Write::PutMessage(message(A, "gone", 5)),
                Write::DeleteMessage {
                    user: A.into(),
                    id: "gone".into(),
                },
            ]),
            Unit::new(vec![
                Write::PutMessage(message(A, "done", 5)),
                Write::PutMessage(delivered(message(A, "done", 5), 99)),
            ]),
        ])
        .await
        .expect("commit");
    assert_eq!(
        outcomes,
        vec![
            made_due(Taken::Nothing, &[(40, A, "m4")]),
            made_due(Taken::Nothing, &[(30, A, "m3")]),
            applied(Taken::Nothing),
            applied(Taken::Nothing),
        ]
    );
    // Every put of a pending message is reported, also when its key did not move.
    assert_eq!(
        store.commit(vec![put(moved)]).await.expect("commit"),
        vec![made_due(Taken::Nothing, &[(30, A, "m3")])]
    );
    assert_eq!(
        keys(&store.due(None, u64::MAX, 10).await.expect("due")),
        vec![(10, A, "m1"), (20, B, "m2"), (30, A, "m3"), (40, A, "m4")]
    );
}
