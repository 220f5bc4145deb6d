//! Restarts: what a reopened store keeps (these need a backend that can reopen).

use depesha_core::filter::Order;
use depesha_core::keys::SigningKeys;
use depesha_core::log::LogState;
use depesha_core::refs::{QueueRef, ScheduleRef};
use depesha_store::{
    DlqStore, DueKey, FlowKeyStore, GroupStore, KeyStore, MessageStore, PruneStats, QueueStore,
    Rejection, ScheduleStore, Store, Taken, Unit, UnitOutcome, Write,
};

use crate::common::{all_logs, append, claim, made_due, A};
use crate::support::{
    commit_all, delivered, dlq_entry, flow_key, group, log, message, position, put, queue, queued,
    schedule, waiting, Backend,
};

pub async fn reopen_keeps_everything<B: Backend>(backend: &B) {
    let m = message(A, "m", 10);
    let done = delivered(message(A, "d", 10), 1_000);
    let entry = dlq_entry(A, 10, 0, 1_000);
    let keys = SigningKeys {
        current: "c".into(),
        next: "n".into(),
    };
    let g = group(A, "g", 1);
    let q = queue(A, "q", 1, false);
    let held = queued(A, "held", "q", position(5, 0), 0);
    let w = waiting(A, "w", "fk", 7);
    let fk = flow_key(A, "fk", Some(1));
    let s = schedule(A, "s", 500, false);
    {
        let store = backend.open();
        commit_all(
            &store,
            vec![
                Unit::guarded(
                    claim(A, "k", &["m"], 1_000),
                    vec![Write::PutMessage(m.clone())],
                ),
                put(done.clone()),
                Unit::new(vec![Write::PutDlq(entry.clone())]),
                append(vec![log(A, "m", LogState::Created, 10)]),
                Unit::new(vec![Write::PutKeys {
                    user: A.into(),
                    keys: keys.clone(),
                }]),
                Unit::new(vec![
                    Write::PutGroup(g.clone()),
                    Write::PutQueue(q.clone()),
                    Write::PutMessage(held.clone()),
                    Write::PutQueueItem {
                        user: A.into(),
                        queue: "q".into(),
                        position: position(5, 0),
                        holder: "held".into(),
                    },
                    Write::PutFlowKey(fk.clone()),
                    Write::PutMessage(w.clone()),
                    Write::PutSchedule(s.clone()),
                ]),
            ],
        )
        .await;
    }
    let store = backend.open();
    assert_eq!(store.message(A, "m").await.expect("read"), Some(m));
    assert_eq!(store.message(A, "d").await.expect("read"), Some(done));
    assert_eq!(
        keys_of(&store.due(None, u64::MAX, 10).await.expect("due")),
        vec!["m"]
    );
    assert_eq!(store.pending_count().await.expect("count"), 1);
    assert_eq!(store.dlq_entry(A, "10-0").await.expect("read"), Some(entry));
    assert_eq!(all_logs(&store, A, Order::LatestFirst).await.len(), 1);
    assert_eq!(store.keys(A).await.expect("keys"), Some(keys));
    assert_eq!(store.groups(A).await.expect("groups"), vec![g]);
    assert_eq!(store.queue(A, "q").await.expect("queue"), Some(q));
    assert_eq!(store.message(A, "held").await.expect("read"), Some(held));
    assert_eq!(
        store.queue_items(A, "q", 10).await.expect("items"),
        vec![(position(5, 0), "held".to_string())]
    );
    assert_eq!(
        store.queues_with_items().await.expect("queues"),
        vec![QueueRef::new(A, "q")]
    );
    assert_eq!(store.flow_key(A, "fk").await.expect("key"), Some(fk));
    assert_eq!(store.message(A, "w").await.expect("read"), Some(w));
    assert_eq!(
        store.waiting_count(A, "fk", u64::MAX).await.expect("count"),
        1
    );
    assert_eq!(store.schedule(A, "s").await.expect("schedule"), Some(s));
    assert_eq!(
        store.due_schedules(u64::MAX, 10).await.expect("due"),
        vec![(500, ScheduleRef::new(A, "s"))]
    );
    // The indexes work on: the queue and the wait-list let their messages through.
    let outcomes = store
        .commit(vec![
            Unit::new(vec![Write::FillQueue {
                user: A.into(),
                queue: "q".into(),
                now: 20,
            }]),
            Unit::new(vec![Write::ReleaseWaiting {
                user: A.into(),
                key: "fk".into(),
                count: 1,
                now: 30,
            }]),
        ])
        .await
        .expect("commit");
    assert_eq!(
        outcomes,
        vec![
            made_due(Taken::Nothing, &[(20, A, "held")]),
            made_due(Taken::Nothing, &[(30, A, "w")])
        ]
    );
    let dup = Unit::guarded(claim(A, "k", &["x"], 2_000), Vec::new());
    assert_eq!(
        store.commit(vec![dup]).await.expect("commit"),
        vec![UnitOutcome::Rejected(Rejection::Duplicate(
            vec!["m".into()]
        ))]
    );
    let stats = store.prune(1_000, 0, 100).await.expect("prune");
    assert_eq!(
        stats,
        PruneStats {
            messages: 1,
            dlq_entries: 1,
            dedup_keys: 1,
            log_entries: 0
        }
    );
}

fn keys_of(due: &[DueKey]) -> Vec<&str> {
    due.iter().map(|k| k.message.id.as_str()).collect()
}

pub async fn log_seq_is_monotonic_across_reopen<B: Backend>(backend: &B) {
    let mut seen = Vec::new();
    for round in 0..3u64 {
        let store = backend.open();
        commit_all(
            &store,
            vec![append(vec![
                log(A, "m", LogState::Created, round),
                log(A, "m", LogState::Active, round),
            ])],
        )
        .await;
        seen = all_logs(&store, A, Order::EarliestFirst)
            .await
            .into_iter()
            .map(|e| e.seq)
            .collect();
    }
    assert_eq!(seen.len(), 6);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    // Pruning the newest entries does not let seq go back either.
    {
        let store = backend.open();
        assert_eq!(
            store
                .prune(0, u64::MAX, 100)
                .await
                .expect("prune")
                .log_entries,
            6
        );
    }
    let store = backend.open();
    commit_all(
        &store,
        vec![append(vec![log(A, "m", LogState::Delivered, 9)])],
    )
    .await;
    let after: Vec<u64> = all_logs(&store, A, Order::EarliestFirst)
        .await
        .into_iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(after.len(), 1);
    assert!(after[0] > seen[5], "{after:?} after {seen:?}");
}
