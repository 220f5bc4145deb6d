//! Queues: their items, order, lag, and which queued messages may start.

use depesha_core::message::MessageState;
use depesha_core::refs::QueueRef;
use depesha_store::{Guard, Rejection, Store, Taken, Unit, UnitOutcome, Write};

use crate::common::{applied, cancel, keys, made_due, no_filter, state_of, A, B};
use crate::support::{commit_all, delivered, message, position, queue, queued};

fn put_item(user: &str, q: &str, at: (u64, u64), holder: &str) -> Write {
    Write::PutQueueItem {
        user: user.into(),
        queue: q.into(),
        position: position(at.0, at.1),
        holder: holder.into(),
    }
}

fn delete_item(user: &str, q: &str, at: (u64, u64)) -> Write {
    Write::DeleteQueueItem {
        user: user.into(),
        queue: q.into(),
        position: position(at.0, at.1),
    }
}

fn fill(user: &str, q: &str, now: u64) -> Unit {
    Unit::new(vec![Write::FillQueue {
        user: user.into(),
        queue: q.into(),
        now,
    }])
}

/// Enqueues `(id, not_before)` into `q` of `A`, one per millisecond from 1.
async fn enqueue(store: &impl Store, q: &str, messages: &[(&str, u64)]) {
    let units = messages
        .iter()
        .enumerate()
        .map(|(i, (id, not_before))| {
            let at = (i as u64 + 1, 0);
            Unit::new(vec![
                Write::PutMessage(queued(A, id, q, position(at.0, at.1), *not_before)),
                put_item(A, q, at, id),
            ])
        })
        .collect();
    commit_all(store, units).await;
}

async fn holders(store: &impl Store, user: &str, q: &str) -> Vec<String> {
    store
        .queue_items(user, q, 1_000)
        .await
        .expect("items")
        .into_iter()
        .map(|(_, holder)| holder)
        .collect()
}

pub async fn queues_put_get_list_delete(store: &impl Store) {
    let q2 = queue(A, "q2", 3, false);
    let q1 = queue(A, "q1", 1, true);
    let other = queue(B, "q1", 2, false);
    commit_all(
        store,
        vec![Unit::new(vec![
            Write::PutQueue(q2.clone()),
            Write::PutQueue(q1.clone()),
            Write::PutQueue(other.clone()),
            put_item(A, "q1", (1, 0), "m"),
        ])],
    )
    .await;
    assert_eq!(store.queue(A, "q1").await.expect("queue"), Some(q1.clone()));
    assert_eq!(store.queue(A, "nope").await.expect("queue"), None);
    assert_eq!(
        store.queues(A).await.expect("queues"),
        vec![q1.clone(), q2.clone()]
    );
    assert_eq!(store.queues(B).await.expect("queues"), vec![other.clone()]);

    let mut resumed = q1.clone();
    resumed.paused = false;
    resumed.parallelism = 5;
    commit_all(
        store,
        vec![Unit::new(vec![Write::PutQueue(resumed.clone())])],
    )
    .await;
    assert_eq!(store.queue(A, "q1").await.expect("queue"), Some(resumed));

    // Deleting the record leaves its items to the caller.
    commit_all(
        store,
        vec![Unit::new(vec![Write::DeleteQueue {
            user: A.into(),
            name: "q1".into(),
        }])],
    )
    .await;
    assert_eq!(store.queue(A, "q1").await.expect("queue"), None);
    assert_eq!(store.queues(A).await.expect("queues"), vec![q2]);
    assert_eq!(store.queue(B, "q1").await.expect("queue"), Some(other));
    assert_eq!(store.queue_lag(A, "q1").await.expect("lag"), 1);
}

pub async fn queue_items_keep_order_and_count_lag(store: &impl Store) {
    commit_all(
        store,
        vec![
            Unit::new(vec![
                put_item(A, "q", (20, 2), "m22"),
                put_item(A, "q", (20, 0), "m20"),
                put_item(A, "q", (20, 1), "m21"),
            ]),
            // Another user, a queue whose name extends "q": kept apart.
            Unit::new(vec![
                put_item(B, "q", (1, 0), "b"),
                put_item(A, "q2", (1, 0), "other"),
            ]),
            Unit::new(vec![put_item(A, "q", (10, 9), "m10")]),
        ],
    )
    .await;
    let items = store.queue_items(A, "q", 10).await.expect("items");
    assert_eq!(
        items,
        vec![
            (position(10, 9), "m10".to_string()),
            (position(20, 0), "m20".into()),
            (position(20, 1), "m21".into()),
            (position(20, 2), "m22".into()),
        ]
    );
    assert_eq!(
        store.queue_items(A, "q", 2).await.expect("items"),
        items[..2].to_vec()
    );
    assert_eq!(
        store.queue_items(A, "q", 0).await.expect("items"),
        Vec::new()
    );
    assert_eq!(store.queue_lag(A, "q").await.expect("lag"), 4);
    assert_eq!(store.queue_lag(A, "q2").await.expect("lag"), 1);
    assert_eq!(store.queue_lag(B, "q").await.expect("lag"), 1);
    assert_eq!(store.queue_lag(A, "none").await.expect("lag"), 0);

    // Putting an item again hands it to another holder (a callback).
    commit_all(
        store,
        vec![Unit::new(vec![
            put_item(A, "q", (10, 9), "callback"),
            delete_item(A, "q", (20, 1)),
            delete_item(A, "q", (99, 0)),
        ])],
    )
    .await;
    assert_eq!(holders(store, A, "q").await, vec!["callback", "m20", "m22"]);
    assert_eq!(store.queue_lag(A, "q").await.expect("lag"), 3);
}

pub async fn fill_queue_admits_the_first_parallelism_queued_holders(store: &impl Store) {
    commit_all(
        store,
        vec![Unit::new(vec![Write::PutQueue(queue(A, "q", 2, false))])],
    )
    .await;
    enqueue(store, "q", &[("m0", 50), ("m1", 500), ("m2", 0), ("m3", 0)]).await;
    // Queued messages are in no time index.
    assert_eq!(store.pending_count().await.expect("count"), 0);
    assert_eq!(
        store.due(None, u64::MAX, 10).await.expect("due"),
        Vec::new()
    );

    // Due at max(now, not_before), reported in queue order.
    assert_eq!(
        store.commit(vec![fill(A, "q", 100)]).await.expect("commit"),
        vec![made_due(Taken::Nothing, &[(100, A, "m0"), (500, A, "m1")])]
    );
    let m0 = store
        .message(A, "m0")
        .await
        .expect("read")
        .expect("present");
    assert_eq!((m0.state, m0.due), (MessageState::Pending, 100));
    assert_eq!(state_of(store, A, "m1").await, MessageState::Pending);
    assert_eq!(state_of(store, A, "m2").await, MessageState::Queued);
    assert_eq!(state_of(store, A, "m3").await, MessageState::Queued);
    assert_eq!(
        keys(&store.due(None, u64::MAX, 10).await.expect("due")),
        vec![(100, A, "m0"), (500, A, "m1")]
    );
    // Admitting does not remove items.
    assert_eq!(store.queue_lag(A, "q").await.expect("lag"), 4);

    // The active ones are not admitted again.
    assert_eq!(
        store.commit(vec![fill(A, "q", 200)]).await.expect("commit"),
        vec![applied(Taken::Nothing)]
    );
    assert_eq!(
        keys(&store.due(None, u64::MAX, 10).await.expect("due")),
        vec![(100, A, "m0"), (500, A, "m1")]
    );

    // m0 finishes: its item goes, and the next one starts.
    let finish = Unit::new(vec![
        Write::PutMessage(delivered(m0, 9_000)),
        delete_item(A, "q", (1, 0)),
        Write::FillQueue {
            user: A.into(),
            queue: "q".into(),
            now: 300,
        },
    ]);
    assert_eq!(
        store.commit(vec![finish]).await.expect("commit"),
        vec![made_due(Taken::Nothing, &[(300, A, "m2")])]
    );
    assert_eq!(state_of(store, A, "m3").await, MessageState::Queued);
    assert_eq!(store.queue_lag(A, "q").await.expect("lag"), 3);
    assert_eq!(holders(store, A, "q").await, vec!["m1", "m2", "m3"]);

    // A holder that is a pending callback (the item was handed over) stays as it is.
    let mut callback = message(A, "cb", 700);
    callback.queue_item = store
        .message(A, "m1")
        .await
        .expect("read")
        .expect("m1")
        .queue_item;
    let hand_over = Unit::new(vec![
        Write::PutMessage(delivered(
            store.message(A, "m1").await.expect("read").expect("m1"),
            9_000,
        )),
        Write::PutMessage(callback),
        put_item(A, "q", (2, 0), "cb"),
        Write::FillQueue {
            user: A.into(),
            queue: "q".into(),
            now: 400,
        },
    ]);
    assert_eq!(
        store.commit(vec![hand_over]).await.expect("commit"),
        vec![made_due(Taken::Nothing, &[(700, A, "cb")])]
    );
    assert_eq!(state_of(store, A, "m3").await, MessageState::Queued);
    assert_eq!(store.pending_count().await.expect("count"), 2);
}

pub async fn paused_or_unknown_queue_admits_nothing(store: &impl Store) {
    commit_all(
        store,
        vec![Unit::new(vec![Write::PutQueue(queue(A, "q", 5, true))])],
    )
    .await;
    enqueue(store, "q", &[("m0", 0), ("m1", 0)]).await;
    // An unknown queue, even one with items, admits nothing either.
    commit_all(
        store,
        vec![Unit::new(vec![
            Write::PutMessage(queued(A, "x", "ghost", position(1, 0), 0)),
            put_item(A, "ghost", (1, 0), "x"),
        ])],
    )
    .await;
    assert_eq!(
        store
            .commit(vec![
                fill(A, "q", 100),
                fill(A, "ghost", 100),
                fill(B, "q", 100)
            ])
            .await
            .expect("commit"),
        vec![
            applied(Taken::Nothing),
            applied(Taken::Nothing),
            applied(Taken::Nothing)
        ]
    );
    assert_eq!(state_of(store, A, "m0").await, MessageState::Queued);
    assert_eq!(state_of(store, A, "x").await, MessageState::Queued);
    assert_eq!(store.pending_count().await.expect("count"), 0);

    // Resumed and filled in one unit.
    let resume = Unit::new(vec![
        Write::PutQueue(queue(A, "q", 5, false)),
        Write::FillQueue {
            user: A.into(),
            queue: "q".into(),
            now: 100,
        },
    ]);
    assert_eq!(
        store.commit(vec![resume]).await.expect("commit"),
        vec![made_due(Taken::Nothing, &[(100, A, "m0"), (100, A, "m1")])]
    );
}

pub async fn queues_with_items_lists_each_queue_once(store: &impl Store) {
    assert_eq!(store.queues_with_items().await.expect("queues"), Vec::new());
    commit_all(
        store,
        vec![Unit::new(vec![
            Write::PutQueue(queue(A, "empty", 1, false)),
            put_item(B, "q1", (1, 0), "b"),
            put_item(A, "q2", (1, 0), "c"),
            put_item(A, "q1", (3, 0), "a3"),
            put_item(A, "q1", (1, 0), "a1"),
            put_item(A, "q1", (2, 0), "a2"),
            put_item(A, "q10", (1, 0), "d"),
        ])],
    )
    .await;
    let pairs = |v: &[(&str, &str)]| -> Vec<QueueRef> {
        v.iter().map(|(u, q)| QueueRef::new(*u, *q)).collect()
    };
    assert_eq!(
        store.queues_with_items().await.expect("queues"),
        pairs(&[(A, "q1"), (A, "q10"), (A, "q2"), (B, "q1")])
    );
    commit_all(
        store,
        vec![Unit::new(vec![
            delete_item(A, "q2", (1, 0)),
            delete_item(A, "q10", (1, 0)),
        ])],
    )
    .await;
    assert_eq!(
        store.queues_with_items().await.expect("queues"),
        pairs(&[(A, "q1"), (B, "q1")])
    );
}

pub async fn cancel_takes_queued_messages(store: &impl Store) {
    commit_all(
        store,
        vec![Unit::new(vec![Write::PutQueue(queue(A, "q", 1, false))])],
    )
    .await;
    enqueue(store, "q", &[("m0", 0), ("m1", 0)]).await;
    // Unfinished: listed for cancel, but not pending for an attempt.
    let mut ids = store.pending_ids(A, &no_filter(), 10).await.expect("ids");
    ids.sort();
    assert_eq!(ids, vec!["m0", "m1"]);
    let attempt = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "m1".into(),
            retried: 0,
        },
        Vec::new(),
    );
    assert_eq!(
        store.commit(vec![attempt]).await.expect("commit"),
        vec![UnitOutcome::Rejected(Rejection::NotFound)]
    );

    // The take leaves the item; the cancel unit deletes it and lets the next one in.
    let m1 = store.message(A, "m1").await.expect("read").expect("m1");
    let taken = store
        .commit(vec![cancel(A, "m1", 5)])
        .await
        .expect("commit");
    assert_eq!(taken, vec![applied(Taken::Message(Box::new(m1)))]);
    assert_eq!(store.message(A, "m1").await.expect("read"), None);
    assert_eq!(store.queue_lag(A, "q").await.expect("lag"), 2);
    let m0 = store.message(A, "m0").await.expect("read").expect("m0");
    let mut cancel_m0 = cancel(A, "m0", 6);
    cancel_m0.writes.extend([
        delete_item(A, "q", (1, 0)),
        delete_item(A, "q", (2, 0)),
        Write::FillQueue {
            user: A.into(),
            queue: "q".into(),
            now: 10,
        },
    ]);
    assert_eq!(
        store.commit(vec![cancel_m0]).await.expect("commit"),
        vec![applied(Taken::Message(Box::new(m0)))]
    );
    assert_eq!(store.queue_lag(A, "q").await.expect("lag"), 0);
    assert_eq!(store.queues_with_items().await.expect("queues"), Vec::new());
    assert_eq!(store.pending_count().await.expect("count"), 0);
    assert_eq!(
        store.pending_ids(A, &no_filter(), 10).await.expect("ids"),
        Vec::<String>::new()
    );
}
