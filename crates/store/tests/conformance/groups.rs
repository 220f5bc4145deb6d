//! URL groups.

use depesha_store::{Store, Unit, Write};

use crate::common::{A, B};
use crate::support::{commit_all, group};

pub async fn groups_upsert_get_list_delete(store: &impl Store) {
    let g2 = group(A, "g2", 10);
    let g1 = group(A, "g1", 20);
    let other = group(B, "g1", 30);
    commit_all(
        store,
        vec![Unit::new(vec![
            Write::PutGroup(g2.clone()),
            Write::PutGroup(g1.clone()),
            Write::PutGroup(other.clone()),
        ])],
    )
    .await;
    assert_eq!(store.group(A, "g1").await.expect("group"), Some(g1.clone()));
    assert_eq!(store.group(A, "g3").await.expect("group"), None);
    assert_eq!(
        store.groups(A).await.expect("groups"),
        vec![g1.clone(), g2.clone()]
    );
    assert_eq!(store.groups(B).await.expect("groups"), vec![other.clone()]);
    assert_eq!(store.groups("an").await.expect("groups"), Vec::new());

    // Upsert replaces the whole record.
    let mut edited = g1.clone();
    edited.endpoints.truncate(1);
    edited.updated_at = 40;
    commit_all(
        store,
        vec![Unit::new(vec![Write::PutGroup(edited.clone())])],
    )
    .await;
    assert_eq!(store.group(A, "g1").await.expect("group"), Some(edited));

    commit_all(
        store,
        vec![Unit::new(vec![
            Write::DeleteGroup {
                user: A.into(),
                name: "g1".into(),
            },
            Write::DeleteGroup {
                user: A.into(),
                name: "never".into(),
            },
        ])],
    )
    .await;
    assert_eq!(store.group(A, "g1").await.expect("group"), None);
    assert_eq!(store.groups(A).await.expect("groups"), vec![g2]);
    assert_eq!(store.group(B, "g1").await.expect("group"), Some(other));
}
