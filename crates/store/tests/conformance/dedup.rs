//! Deduplication: a claimed key rejects the same publish again, within one commit and
//! across commits.

use depesha_store::{Rejection, Store, Taken, Unit, UnitOutcome, Write};

use crate::common::{applied, claim, made_due, A, B};
use crate::support::message;

pub async fn dedup_claim_rejects_duplicates_within_and_across_commits(store: &impl Store) {
    let first = Unit::guarded(
        claim(A, "k", &["m1", "m1b"], 1_000),
        vec![Write::PutMessage(message(A, "m1", 5))],
    );
    let second = Unit::guarded(
        claim(A, "k", &["m2"], 1_000),
        vec![Write::PutMessage(message(A, "m2", 5))],
    );
    let other_user = Unit::guarded(
        claim(B, "k", &["m3"], 1_000),
        vec![Write::PutMessage(message(B, "m3", 5))],
    );
    let outcomes = store
        .commit(vec![first, second, other_user])
        .await
        .expect("commit");
    let duplicate = UnitOutcome::Rejected(Rejection::Duplicate(vec!["m1".into(), "m1b".into()]));
    assert_eq!(
        outcomes,
        vec![
            made_due(Taken::Nothing, &[(5, A, "m1")]),
            duplicate.clone(),
            made_due(Taken::Nothing, &[(5, B, "m3")])
        ]
    );
    assert!(store.message(A, "m1").await.expect("read").is_some());
    assert_eq!(store.message(A, "m2").await.expect("read"), None);
    assert!(store.message(B, "m3").await.expect("read").is_some());

    let again = Unit::guarded(
        claim(A, "k", &["m4"], 2_000),
        vec![Write::PutMessage(message(A, "m4", 5))],
    );
    assert_eq!(
        store.commit(vec![again]).await.expect("commit"),
        vec![duplicate]
    );
    assert_eq!(store.message(A, "m4").await.expect("read"), None);

    // Once pruned past its expiry, the key can be claimed again.
    assert_eq!(store.prune(999, 0, 100).await.expect("prune").dedup_keys, 0);
    assert_eq!(
        store.prune(1_000, 0, 100).await.expect("prune").dedup_keys,
        2
    );
    let fresh = Unit::guarded(claim(A, "k", &["m5"], 3_000), Vec::new());
    assert_eq!(
        store.commit(vec![fresh]).await.expect("commit"),
        vec![applied(Taken::Nothing)]
    );
    let dup = Unit::guarded(claim(A, "k", &["m6"], 3_000), Vec::new());
    assert_eq!(
        store.commit(vec![dup]).await.expect("commit"),
        vec![UnitOutcome::Rejected(Rejection::Duplicate(vec![
            "m5".into()
        ]))]
    );
}
