//! URL groups.

use depesha_store::{Store, Unit, Write};

use crate::common::{A, B};
use crate::support::{commit_all, group};

pub fn groups_upsert_get_list_delete(store: &impl Store) {
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
    );
    assert_eq!(store.group(A, "g1").expect("group"), Some(g1.clone()));
    assert_eq!(store.group(A, "g3").expect("group"), None);
    assert_eq!(
        store.groups(A).expect("groups"),
        vec![g1.clone(), g2.clone()]
    );
    assert_eq!(store.groups(B).expect("groups"), vec![other.clone()]);
    assert_eq!(store.groups("an").expect("groups"), Vec::new());

    // Upsert replaces the whole record.
    let mut edited = g1.clone();
    edited.endpoints.truncate(1);
    edited.updated_at = 40;
    commit_all(
        store,
        vec![Unit::new(vec![Write::PutGroup(edited.clone())])],
    );
    assert_eq!(store.group(A, "g1").expect("group"), Some(edited));

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
    );
    assert_eq!(store.group(A, "g1").expect("group"), None);
    assert_eq!(store.groups(A).expect("groups"), vec![g2]);
    assert_eq!(store.group(B, "g1").expect("group"), Some(other));
}
