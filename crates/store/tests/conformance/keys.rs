//! Signing keys.

use depesha_core::keys::SigningKeys;
use depesha_store::{Store, Unit, Write};

use crate::common::{A, B};
use crate::support::commit_all;

pub async fn keys_put_and_get(store: &impl Store) {
    assert_eq!(store.keys(A).await.expect("keys"), None);
    let first = SigningKeys {
        current: "sig_a".into(),
        next: "sig_b".into(),
    };
    commit_all(
        store,
        vec![Unit::new(vec![Write::PutKeys {
            user: A.into(),
            keys: first.clone(),
        }])],
    )
    .await;
    assert_eq!(store.keys(A).await.expect("keys"), Some(first.clone()));
    assert_eq!(store.keys(B).await.expect("keys"), None);
    let rotated = SigningKeys {
        current: "sig_b".into(),
        next: "sig_c".into(),
    };
    commit_all(
        store,
        vec![Unit::new(vec![Write::PutKeys {
            user: A.into(),
            keys: rotated.clone(),
        }])],
    )
    .await;
    assert_eq!(store.keys(A).await.expect("keys"), Some(rotated));
}
