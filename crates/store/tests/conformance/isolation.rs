//! Users are isolated, also from a user whose name extends theirs.

use depesha_core::filter::Order;
use depesha_core::keys::SigningKeys;
use depesha_core::log::LogState;
use depesha_store::{Guard, Rejection, Store, Unit, UnitOutcome, Write};

use crate::common::{append, no_filter, take_dlq, A, B};
use crate::support::{commit_all, dlq_entry, log, message, put};

pub async fn users_are_isolated(store: &impl Store) {
    commit_all(
        store,
        vec![
            put(message(A, "m", 10)),
            Unit::new(vec![Write::PutDlq(dlq_entry(A, 10, 0, 100))]),
            append(vec![log(A, "m", LogState::Created, 10)]),
            Unit::new(vec![Write::PutKeys {
                user: A.into(),
                keys: SigningKeys {
                    current: "c".into(),
                    next: "n".into(),
                },
            }]),
        ],
    )
    .await;
    assert_eq!(store.message(B, "m").await.expect("read"), None);
    assert_eq!(
        store.pending_ids(B, &no_filter(), 10).await.expect("ids"),
        Vec::<String>::new()
    );
    assert_eq!(store.dlq_entry(B, "10-0").await.expect("read"), None);
    assert!(store
        .dlq_page(B, &no_filter(), None, 10, Order::EarliestFirst)
        .await
        .expect("page")
        .items
        .is_empty());
    assert!(store
        .log_page(B, &no_filter(), None, 10, Order::LatestFirst)
        .await
        .expect("page")
        .items
        .is_empty());
    assert!(store
        .log_page("an", &no_filter(), None, 10, Order::LatestFirst)
        .await
        .expect("page")
        .items
        .is_empty());
    assert_eq!(store.keys(B).await.expect("keys"), None);
    let outcomes = store
        .commit(vec![
            Unit::guarded(
                Guard::TakePendingMessage {
                    user: B.into(),
                    id: "m".into(),
                },
                Vec::new(),
            ),
            Unit::guarded(
                Guard::MessageAt {
                    user: B.into(),
                    id: "m".into(),
                    retried: 0,
                },
                Vec::new(),
            ),
            take_dlq(B, "10-0"),
        ])
        .await
        .expect("commit");
    assert!(
        outcomes
            .iter()
            .all(|o| *o == UnitOutcome::Rejected(Rejection::NotFound)),
        "{outcomes:?}"
    );
    // A's data is untouched.
    assert!(store.message(A, "m").await.expect("read").is_some());
    assert!(store.dlq_entry(A, "10-0").await.expect("read").is_some());
}
