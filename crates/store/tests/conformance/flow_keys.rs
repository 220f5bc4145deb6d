//! Flow-control keys and their wait-lists.

use depesha_core::message::{Message, MessageState};
use depesha_core::refs::FlowKeyRef;
use depesha_store::{Store, Taken, Unit, Write};

use crate::common::{applied, cancel, keys, made_due, no_filter, state_of, A, B};
use crate::support::{commit_all, delivered, flow_key, message, put, waiting};

fn release(user: &str, key: &str, count: usize, now: u64) -> Unit {
    Unit::new(vec![Write::ReleaseWaiting {
        user: user.into(),
        key: key.into(),
        count,
        now,
    }])
}

pub async fn flow_keys_put_get_list(store: &impl Store) {
    let k2 = flow_key(A, "k2", Some(3));
    let k1 = flow_key(A, "k1", None);
    let other = flow_key(B, "k1", Some(1));
    commit_all(
        store,
        vec![Unit::new(vec![
            Write::PutFlowKey(k2.clone()),
            Write::PutFlowKey(k1.clone()),
            Write::PutFlowKey(other.clone()),
        ])],
    )
    .await;
    assert_eq!(
        store.flow_key(A, "k1").await.expect("key"),
        Some(k1.clone())
    );
    assert_eq!(store.flow_key(A, "k3").await.expect("key"), None);
    assert_eq!(
        store.flow_keys(A).await.expect("keys"),
        vec![k1.clone(), k2.clone()]
    );
    assert_eq!(store.flow_keys(B).await.expect("keys"), vec![other]);
    let mut paused = k1;
    paused.paused = true;
    paused.pinned_parallelism = true;
    commit_all(
        store,
        vec![Unit::new(vec![Write::PutFlowKey(paused.clone())])],
    )
    .await;
    assert_eq!(store.flow_keys(A).await.expect("keys"), vec![paused, k2]);
}

pub async fn waiting_messages_are_in_their_keys_wait_list(store: &impl Store) {
    commit_all(
        store,
        vec![Unit::new(vec![
            Write::PutMessage(waiting(A, "w3", "k", 30)),
            Write::PutMessage(waiting(A, "w1", "k", 10)),
            Write::PutMessage(waiting(A, "w0", "k", 10)),
            Write::PutMessage(waiting(A, "w2", "k", 20)),
            Write::PutMessage(waiting(A, "x", "k2", 5)),
            Write::PutMessage(waiting(B, "y", "k", 5)),
        ])],
    )
    .await;
    // In no time index, but unfinished.
    assert_eq!(store.pending_count().await.expect("count"), 0);
    assert_eq!(
        store.due(None, u64::MAX, 10).await.expect("due"),
        Vec::new()
    );
    assert_eq!(
        store
            .pending_ids(A, &no_filter(), 10)
            .await
            .expect("ids")
            .len(),
        5
    );
    assert_eq!(
        store.waiting_count(A, "k", u64::MAX).await.expect("count"),
        4
    );
    assert_eq!(
        store.waiting_count(A, "k2", u64::MAX).await.expect("count"),
        1
    );
    assert_eq!(
        store.waiting_count(B, "k", u64::MAX).await.expect("count"),
        1
    );
    assert_eq!(
        store
            .waiting_count(A, "none", u64::MAX)
            .await
            .expect("count"),
        0
    );
    assert_eq!(
        store.waiting_count(A, "k", 2).await.expect("count"),
        2,
        "counting stops at the limit"
    );
    let pairs = |v: &[(&str, &str)]| -> Vec<FlowKeyRef> {
        v.iter().map(|(u, k)| FlowKeyRef::new(*u, *k)).collect()
    };
    assert_eq!(
        store.keys_with_waiting().await.expect("keys"),
        pairs(&[(A, "k"), (A, "k2"), (B, "k")])
    );

    // Released in (due, id) order, due `now`.
    assert_eq!(
        store
            .commit(vec![release(A, "k", 2, 1_000)])
            .await
            .expect("commit"),
        vec![made_due(
            Taken::Nothing,
            &[(1_000, A, "w0"), (1_000, A, "w1")]
        )]
    );
    let w0 = store.message(A, "w0").await.expect("read").expect("w0");
    assert_eq!((w0.state, w0.due), (MessageState::Pending, 1_000));
    assert_eq!(state_of(store, A, "w2").await, MessageState::Waiting);
    assert_eq!(
        store.waiting_count(A, "k", u64::MAX).await.expect("count"),
        2
    );
    assert_eq!(store.pending_count().await.expect("count"), 2);

    // More than there are; nothing at all; another user's list.
    assert_eq!(
        store
            .commit(vec![
                release(A, "k", 10, 2_000),
                release(A, "k", 10, 3_000),
                release(A, "k2", 0, 3_000),
                release(A, "none", 5, 3_000),
            ])
            .await
            .expect("commit"),
        vec![
            made_due(Taken::Nothing, &[(2_000, A, "w2"), (2_000, A, "w3")]),
            applied(Taken::Nothing),
            applied(Taken::Nothing),
            applied(Taken::Nothing),
        ]
    );
    assert_eq!(
        store.waiting_count(A, "k", u64::MAX).await.expect("count"),
        0
    );
    assert_eq!(
        store.waiting_count(B, "k", u64::MAX).await.expect("count"),
        1
    );
    assert_eq!(
        store.keys_with_waiting().await.expect("keys"),
        pairs(&[(A, "k2"), (B, "k")])
    );
    assert_eq!(
        keys(&store.due(None, u64::MAX, 10).await.expect("due")),
        vec![
            (1_000, A, "w0"),
            (1_000, A, "w1"),
            (2_000, A, "w2"),
            (2_000, A, "w3")
        ]
    );
}

pub async fn put_message_moves_wait_list_entries(store: &impl Store) {
    // Pending -> waiting leaves the due index for the wait-list.
    let m = message(A, "m", 10);
    commit_all(store, vec![put(m.clone())]).await;
    let mut w: Message = m.clone();
    w.state = MessageState::Waiting;
    commit_all(store, vec![put(w.clone())]).await;
    assert_eq!(store.pending_count().await.expect("count"), 0);
    assert_eq!(
        store.waiting_count(A, "fc", u64::MAX).await.expect("count"),
        1
    );

    // Waiting at another due, then under another key: one entry, where it belongs.
    w.due = 50;
    commit_all(store, vec![put(w.clone())]).await;
    commit_all(store, vec![put(waiting(A, "other", "fc", 20))]).await;
    assert_eq!(
        store.waiting_count(A, "fc", u64::MAX).await.expect("count"),
        2
    );
    let first = store
        .commit(vec![release(A, "fc", 1, 100)])
        .await
        .expect("commit");
    assert_eq!(first, vec![made_due(Taken::Nothing, &[(100, A, "other")])]);
    if let Some(flow) = w.flow_control.as_mut() {
        flow.key = "elsewhere".into();
    }
    commit_all(store, vec![put(w.clone())]).await;
    assert_eq!(
        store.waiting_count(A, "fc", u64::MAX).await.expect("count"),
        0
    );
    assert_eq!(
        store
            .waiting_count(A, "elsewhere", u64::MAX)
            .await
            .expect("count"),
        1
    );

    // Waiting -> delivered leaves every list.
    commit_all(store, vec![put(delivered(w, 5_000))]).await;
    assert_eq!(
        store
            .waiting_count(A, "elsewhere", u64::MAX)
            .await
            .expect("count"),
        0
    );
    assert_eq!(store.keys_with_waiting().await.expect("keys"), Vec::new());
    assert_eq!(store.pending_count().await.expect("count"), 1);
}

pub async fn cancel_takes_waiting_messages_out_of_the_wait_list(store: &impl Store) {
    let w = waiting(A, "w", "k", 10);
    commit_all(
        store,
        vec![
            put(w.clone()),
            put(waiting(A, "v", "k", 20)),
            put(waiting(A, "gone", "k2", 20)),
        ],
    )
    .await;
    assert_eq!(
        store.commit(vec![cancel(A, "w", 1)]).await.expect("commit"),
        vec![applied(Taken::Message(Box::new(w)))]
    );
    assert_eq!(
        store.waiting_count(A, "k", u64::MAX).await.expect("count"),
        1
    );
    commit_all(
        store,
        vec![Unit::new(vec![Write::DeleteMessage {
            user: A.into(),
            id: "gone".into(),
        }])],
    )
    .await;
    assert_eq!(
        store.waiting_count(A, "k2", u64::MAX).await.expect("count"),
        0
    );
    let pairs = store.keys_with_waiting().await.expect("keys");
    assert_eq!(pairs, vec![FlowKeyRef::new(A, "k")]);
    // What is left is released normally.
    assert_eq!(
        store
            .commit(vec![release(A, "k", 5, 30)])
            .await
            .expect("commit"),
        vec![made_due(Taken::Nothing, &[(30, A, "v")])]
    );
}
