//! Guards and atomicity: a unit applies whole or not at all, and only while its guard
//! holds.

use depesha_core::filter::Order;
use depesha_core::log::LogState;
use depesha_core::message::MessageState;
use depesha_store::{Guard, Rejection, Store, Taken, Unit, UnitOutcome, Write};

use crate::common::{applied, cancel, keys, made_due, no_filter, A, B};
use crate::support::{commit_all, delivered, dlq_entry, log, message, put};

async fn log_count(store: &impl Store, user: &str) -> usize {
    store
        .log_page(user, &no_filter(), None, 10_000, Order::EarliestFirst)
        .await
        .expect("logs")
        .items
        .len()
}

pub async fn cancel_takes_a_pending_message_once(store: &impl Store) {
    let m = message(A, "m", 100);
    commit_all(
        store,
        vec![put(m.clone()), put(delivered(message(A, "d", 1), 50))],
    )
    .await;
    let outcomes = store
        .commit(vec![cancel(A, "m", 1), cancel(A, "m", 2)])
        .await
        .expect("commit");
    assert_eq!(
        outcomes,
        vec![
            applied(Taken::Message(Box::new(m))),
            UnitOutcome::Rejected(Rejection::NotFound)
        ]
    );
    // The rejected unit's writes were not applied.
    assert_eq!(log_count(store, A).await, 1);
    assert_eq!(store.message(A, "m").await.expect("read"), None);
    assert_eq!(store.pending_count().await.expect("count"), 0);
    assert_eq!(
        store.due(None, u64::MAX, 10).await.expect("due"),
        Vec::new()
    );
    // Later commits, delivered messages and unknown ids: not found.
    let later = store
        .commit(vec![
            cancel(A, "m", 3),
            cancel(A, "d", 3),
            cancel(A, "nope", 3),
            cancel(B, "m", 3),
        ])
        .await
        .expect("commit");
    assert!(
        later
            .iter()
            .all(|o| *o == UnitOutcome::Rejected(Rejection::NotFound)),
        "{later:?}"
    );
    assert!(store.message(A, "d").await.expect("read").is_some());
    assert_eq!(log_count(store, A).await, 1);
}

pub async fn message_at_guards_the_attempt_state(store: &impl Store) {
    let m = message(A, "m", 100);
    commit_all(store, vec![put(m.clone())]).await;
    let mut next = m.clone();
    next.retried = 1;
    next.due = 900;
    let stale = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "m".into(),
            retried: 7,
        },
        vec![
            Write::PutMessage(next.clone()),
            Write::AppendLog(log(A, "m", LogState::Retry, 150)),
        ],
    );
    assert_eq!(
        store.commit(vec![stale]).await.expect("commit"),
        vec![UnitOutcome::Rejected(Rejection::NotFound)]
    );
    assert_eq!(store.message(A, "m").await.expect("read"), Some(m.clone()));
    assert_eq!(log_count(store, A).await, 0);
    assert_eq!(
        keys(&store.due(None, u64::MAX, 10).await.expect("due")),
        vec![(100, A, "m")]
    );

    // Holds at the right count; a second unit in the same commit sees the first's write.
    let at0 = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "m".into(),
            retried: 0,
        },
        vec![Write::PutMessage(next.clone())],
    );
    let at0_again = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "m".into(),
            retried: 0,
        },
        vec![Write::PutMessage(m.clone())],
    );
    let at1 = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "m".into(),
            retried: 1,
        },
        vec![Write::PutMessage(delivered(next.clone(), 5_000))],
    );
    assert_eq!(
        store
            .commit(vec![at0, at0_again, at1])
            .await
            .expect("commit"),
        vec![
            made_due(Taken::Nothing, &[(900, A, "m")]),
            UnitOutcome::Rejected(Rejection::NotFound),
            applied(Taken::Nothing)
        ]
    );
    let stored = store.message(A, "m").await.expect("read").expect("present");
    assert_eq!(stored.state, MessageState::Delivered);
    // Delivered or missing messages: the guard does not hold.
    let on_delivered = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "m".into(),
            retried: 2,
        },
        Vec::new(),
    );
    let on_missing = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "x".into(),
            retried: 0,
        },
        Vec::new(),
    );
    assert_eq!(
        store
            .commit(vec![on_delivered, on_missing])
            .await
            .expect("commit"),
        vec![
            UnitOutcome::Rejected(Rejection::NotFound),
            UnitOutcome::Rejected(Rejection::NotFound)
        ]
    );
}

pub async fn failed_commit_applies_nothing(store: &impl Store) {
    let mut bad = dlq_entry(A, 10, 0, 100);
    bad.dlq_id = "not-an-id".into();
    let result = store
        .commit(vec![
            put(message(A, "m", 1)),
            Unit::new(vec![Write::PutDlq(bad)]),
        ])
        .await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(store.message(A, "m").await.expect("read"), None);
    assert_eq!(store.pending_count().await.expect("count"), 0);
}
