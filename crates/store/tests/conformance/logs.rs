//! Logs: sequence numbers, and pages with filters and order.

use depesha_core::filter::{Filter, Order};
use depesha_core::log::LogState;
use depesha_store::{Store, StoreError};

use crate::common::{all_logs, all_pages, append, no_filter, A, B};
use crate::support::{commit_all, log};

pub async fn log_seq_is_assigned_and_increasing(store: &impl Store) {
    let mut forged = log(A, "m1", LogState::Created, 10);
    forged.seq = 999_999; // the store ignores a caller's seq
    commit_all(
        store,
        vec![append(vec![forged, log(A, "m1", LogState::Active, 11)])],
    )
    .await;
    commit_all(
        store,
        vec![append(vec![log(B, "m2", LogState::Created, 12)])],
    )
    .await;
    commit_all(
        store,
        vec![append(vec![log(A, "m1", LogState::Delivered, 13)])],
    )
    .await;
    let entries = all_logs(store, A, Order::EarliestFirst).await;
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), 3);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(seqs[0] != 999_999 && seqs[0] > 0);
    let states: Vec<LogState> = entries.iter().map(|e| e.state).collect();
    assert_eq!(
        states,
        vec![LogState::Created, LogState::Active, LogState::Delivered]
    );
    // The stored entry is the appended one, with its seq.
    let mut expected = log(A, "m1", LogState::Active, 11);
    expected.seq = seqs[1];
    assert_eq!(entries[1], expected);
    let b = all_logs(store, B, Order::EarliestFirst).await;
    assert_eq!(b.len(), 1);
    assert!(b[0].seq > seqs[0] && b[0].seq < seqs[2]);
}

/// Every page of `user`'s log, as entry times (see [`all_pages`]).
async fn all_log_pages(
    store: &impl Store,
    user: &str,
    filter: &Filter,
    count: usize,
    order: Order,
) -> Vec<Vec<u64>> {
    all_pages(count, |cursor| async move {
        let page = store
            .log_page(user, filter, cursor.as_deref(), count, order)
            .await
            .expect("log page");
        let times = page.items.iter().map(|e| e.time).collect();
        (times, page.next_cursor)
    })
    .await
}

pub async fn log_pages_filter_and_order(store: &impl Store) {
    // Times 1..=7 identify the entries; states and labels vary.
    let states = [
        LogState::Created,
        LogState::Active,
        LogState::Retry,
        LogState::Error,
        LogState::Delivered,
        LogState::Failed,
        LogState::Canceled,
    ];
    let mut entries = Vec::new();
    for (i, state) in states.iter().enumerate() {
        let time = i as u64 + 1;
        let mut e = log(A, &format!("m{}", time % 2), *state, time);
        if time >= 5 {
            e.labels = vec!["late".into()];
        }
        entries.push(e);
    }
    commit_all(
        store,
        vec![append(entries[..4].to_vec()), append(entries[4..].to_vec())],
    )
    .await;
    commit_all(
        store,
        vec![append(vec![log(B, "b", LogState::Created, 100)])],
    )
    .await;

    assert_eq!(
        all_log_pages(store, A, &no_filter(), 3, Order::LatestFirst).await,
        vec![vec![7, 6, 5], vec![4, 3, 2], vec![1]]
    );
    assert_eq!(
        all_log_pages(store, A, &no_filter(), 3, Order::EarliestFirst).await,
        vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]
    );
    assert_eq!(
        all_log_pages(store, A, &no_filter(), 7, Order::LatestFirst).await,
        vec![vec![7, 6, 5, 4, 3, 2, 1]]
    );

    let in_progress = Filter {
        state: vec!["IN_PROGRESS".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_log_pages(store, A, &in_progress, 2, Order::LatestFirst).await,
        vec![vec![4, 3], vec![2]]
    );
    let states = Filter {
        state: vec!["CREATED".into(), "CANCELLED".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_log_pages(store, A, &states, 1, Order::EarliestFirst).await,
        vec![vec![1], vec![7]]
    );
    let label = Filter {
        label: vec!["late".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_log_pages(store, A, &label, 2, Order::LatestFirst).await,
        vec![vec![7, 6], vec![5]]
    );
    let by_message = Filter {
        message_id: Some("m0".into()),
        ..Filter::default()
    };
    assert_eq!(
        all_log_pages(store, A, &by_message, 10, Order::EarliestFirst).await,
        vec![vec![2, 4, 6]]
    );
    let by_ids = Filter {
        ids: vec!["m1".into()],
        state: vec!["FAILED".into(), "DELIVERED".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_log_pages(store, A, &by_ids, 10, Order::EarliestFirst).await,
        vec![vec![5]]
    );

    assert_eq!(
        all_log_pages(store, B, &no_filter(), 10, Order::LatestFirst).await,
        vec![vec![100]]
    );

    for bad in ["", "x", "-1", "1.5"] {
        match store
            .log_page(A, &no_filter(), Some(bad), 3, Order::LatestFirst)
            .await
        {
            Err(StoreError::InvalidCursor(c)) => assert_eq!(c, bad),
            other => panic!("cursor {bad:?}: {other:?}"),
        }
    }
}
