//! Pruning: what has expired goes, in bounded batches; pending messages never do.

use depesha_core::filter::Order;
use depesha_core::log::LogState;
use depesha_store::{PruneStats, Store, Unit, Write};

use crate::common::{all_logs, append, claim, A, B};
use crate::support::{
    commit_all, delivered, dlq_entry, log, message, position, put, queued, waiting,
};

pub async fn pending_messages_are_never_pruned(store: &impl Store) {
    // A pending message carrying an `expires_at` (e.g. set early by a caller) is not
    // eligible: only delivered messages expire.
    let mut m = message(A, "m", 100);
    m.expires_at = Some(10);
    // Nor are queued or waiting ones.
    let mut q = queued(A, "q", "line", position(1, 0), 100);
    q.expires_at = Some(10);
    let mut w = waiting(A, "w", "k", 100);
    w.expires_at = Some(10);
    commit_all(store, vec![put(m), put(q), put(w)]).await;
    assert_eq!(
        store.prune(u64::MAX, 0, 100).await.expect("prune").messages,
        0
    );
    assert!(store.message(A, "m").await.expect("read").is_some());
    assert!(store.message(A, "q").await.expect("read").is_some());
    assert!(store.message(A, "w").await.expect("read").is_some());
    assert_eq!(store.pending_count().await.expect("count"), 1);
}

pub async fn prune_is_bounded_by_limit(store: &impl Store) {
    let mut units = Vec::new();
    for i in 0..5u64 {
        units.push(put(delivered(message(A, &format!("m{i}"), i), 100 + i)));
        units.push(Unit::new(vec![Write::PutDlq(dlq_entry(A, i, 0, 100 + i))]));
        units.push(Unit::guarded(
            claim(A, &format!("k{i}"), &["x"], 100 + i),
            Vec::new(),
        ));
    }
    // Old log lines spread over three users, plus recent ones that must stay.
    for (user, n) in [(A, 2u64), (B, 2), ("carl", 1)] {
        for t in 0..n {
            units.push(append(vec![log(user, "m", LogState::Created, t)]));
        }
        units.push(append(vec![log(user, "m", LogState::Delivered, 10_000)]));
    }
    commit_all(store, units).await;

    let mut total = PruneStats::default();
    let mut rounds = 0;
    loop {
        let stats = store.prune(1_000, 1_000, 2).await.expect("prune");
        assert!(
            stats.messages <= 2
                && stats.dlq_entries <= 2
                && stats.dedup_keys <= 2
                && stats.log_entries <= 2
        );
        if stats == PruneStats::default() {
            break;
        }
        total.messages += stats.messages;
        total.dlq_entries += stats.dlq_entries;
        total.dedup_keys += stats.dedup_keys;
        total.log_entries += stats.log_entries;
        rounds += 1;
        assert!(rounds < 20, "prune does not converge");
    }
    assert!(
        rounds >= 3,
        "limit 2 cannot remove 5 rows in fewer than 3 calls"
    );
    assert_eq!(
        total,
        PruneStats {
            messages: 5,
            dlq_entries: 5,
            dedup_keys: 5,
            log_entries: 5
        }
    );
    for user in [A, B, "carl"] {
        let left = all_logs(store, user, Order::EarliestFirst).await;
        assert_eq!(
            left.iter().map(|e| e.time).collect::<Vec<_>>(),
            vec![10_000],
            "user {user}"
        );
    }
    assert_eq!(store.message(A, "m0").await.expect("read"), None);
}
