//! The dead-letter queue: entries taken once, paged with filters, one retention entry
//! each.

use depesha_core::filter::{Filter, Order};
use depesha_store::{Page, Rejection, Store, StoreError, Taken, Unit, UnitOutcome, Write};

use crate::common::{all_pages, applied, no_filter, take_dlq, A, B};
use crate::support::{commit_all, dlq_entry};

pub async fn take_dlq_removes_the_entry_once(store: &impl Store) {
    let entry = dlq_entry(A, 1_725_323_658_779, 0, 10_000);
    let id = entry.dlq_id.clone();
    commit_all(store, vec![Unit::new(vec![Write::PutDlq(entry.clone())])]).await;
    assert_eq!(
        store.dlq_entry(A, &id).await.expect("read"),
        Some(entry.clone())
    );
    assert_eq!(store.dlq_entry(B, &id).await.expect("read"), None);
    assert_eq!(store.dlq_entry(A, "garbage").await.expect("read"), None);
    assert_eq!(
        store.dlq_entry(A, "01725323658779-0").await.expect("read"),
        None
    );
    let outcomes = store
        .commit(vec![
            take_dlq(B, &id),
            take_dlq(A, &id),
            take_dlq(A, &id),
            take_dlq(A, "garbage"),
        ])
        .await
        .expect("commit");
    assert_eq!(
        outcomes,
        vec![
            UnitOutcome::Rejected(Rejection::NotFound),
            applied(Taken::Dlq(Box::new(entry))),
            UnitOutcome::Rejected(Rejection::NotFound),
            UnitOutcome::Rejected(Rejection::NotFound)
        ]
    );
    assert_eq!(store.dlq_entry(A, &id).await.expect("read"), None);
    // Its retention index went with it.
    assert_eq!(
        store
            .prune(u64::MAX, 0, 100)
            .await
            .expect("prune")
            .dlq_entries,
        0
    );
}

fn dlq_ids(page: &Page<depesha_core::dlq::DlqEntry>) -> Vec<&str> {
    page.items.iter().map(|e| e.dlq_id.as_str()).collect()
}

/// Every page of `user`'s DLQ, as entry ids (see [`all_pages`]).
async fn all_dlq_pages(
    store: &impl Store,
    user: &str,
    filter: &Filter,
    count: usize,
    order: Order,
) -> Vec<Vec<String>> {
    all_pages(count, |cursor| async move {
        let page = store
            .dlq_page(user, filter, cursor.as_deref(), count, order)
            .await
            .expect("dlq page");
        let ids = dlq_ids(&page).into_iter().map(String::from).collect();
        (ids, page.next_cursor)
    })
    .await
}

pub async fn dlq_pages_filter_and_order(store: &impl Store) {
    // Seven entries of A (three in one millisecond), one of B.
    let mut entries = vec![
        dlq_entry(A, 100, 0, 10_000),
        dlq_entry(A, 100, 1, 10_000),
        dlq_entry(A, 100, 2, 10_000),
        dlq_entry(A, 50, 0, 10_000),
        dlq_entry(A, 200, 0, 10_000),
        dlq_entry(A, 300, 0, 10_000),
        dlq_entry(A, 1_000, 0, 10_000),
        dlq_entry(B, 150, 0, 10_000),
    ];
    entries[1].response = None; // no HTTP answer: status 0
    entries[4].message.url = "https://other.example/x".into();
    entries[5].message.url = "https://other.example/x".into();
    commit_all(
        store,
        vec![Unit::new(entries.into_iter().map(Write::PutDlq).collect())],
    )
    .await;

    let earliest = [
        "50-0", "100-0", "100-1", "100-2", "200-0", "300-0", "1000-0",
    ];
    let pages = all_dlq_pages(store, A, &no_filter(), 3, Order::EarliestFirst).await;
    assert_eq!(
        pages,
        vec![
            earliest[..3].to_vec(),
            earliest[3..6].to_vec(),
            earliest[6..].to_vec()
        ]
    );
    let latest: Vec<&str> = earliest.iter().rev().copied().collect();
    let pages = all_dlq_pages(store, A, &no_filter(), 3, Order::LatestFirst).await;
    assert_eq!(
        pages,
        vec![
            latest[..3].to_vec(),
            latest[3..6].to_vec(),
            latest[6..].to_vec()
        ]
    );

    // Exactly full last page: no cursor (the lookahead finds nothing).
    let pages = all_dlq_pages(store, A, &no_filter(), 7, Order::EarliestFirst).await;
    assert_eq!(pages, vec![earliest.to_vec()]);
    let one = store
        .dlq_page(A, &no_filter(), None, 100, Order::EarliestFirst)
        .await
        .expect("page");
    assert_eq!(one.next_cursor, None);
    assert_eq!(one.items.len(), 7);

    // Filters apply inside the scan: pages stay full.
    let other = Filter {
        url: vec!["https://other.example/x".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_dlq_pages(store, A, &other, 1, Order::EarliestFirst).await,
        vec![vec!["200-0".to_string()], vec!["300-0".to_string()]]
    );
    let status_zero = Filter {
        response_status: vec![0],
        ..Filter::default()
    };
    assert_eq!(
        all_dlq_pages(store, A, &status_zero, 5, Order::LatestFirst).await,
        vec![vec!["100-1".to_string()]]
    );
    let dates = Filter {
        from_date: Some(100),
        to_date: Some(200),
        ..Filter::default()
    };
    assert_eq!(
        all_dlq_pages(store, A, &dates, 2, Order::EarliestFirst).await,
        vec![
            vec!["100-0".to_string(), "100-1".into()],
            vec!["100-2".to_string(), "200-0".into()]
        ]
    );
    let by_id = Filter {
        ids: vec!["300-0".into(), "50-0".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_dlq_pages(store, A, &by_id, 10, Order::EarliestFirst).await,
        vec![vec!["50-0".to_string(), "300-0".into()]]
    );
    let nothing = Filter {
        url: vec!["https://nowhere/".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_dlq_pages(store, A, &nothing, 10, Order::EarliestFirst).await,
        vec![Vec::<String>::new()]
    );

    // User isolation.
    assert_eq!(
        all_dlq_pages(store, B, &no_filter(), 10, Order::EarliestFirst).await,
        vec![vec!["150-0".to_string()]]
    );

    // A cursor that does not parse.
    for bad in ["", "abc", "12", "1-x", "-1-0"] {
        match store
            .dlq_page(A, &no_filter(), Some(bad), 3, Order::EarliestFirst)
            .await
        {
            Err(StoreError::InvalidCursor(c)) => assert_eq!(c, bad),
            other => panic!("cursor {bad:?}: {other:?}"),
        }
    }
}

pub async fn dlq_upsert_keeps_one_retention_entry(store: &impl Store) {
    let mut entry = dlq_entry(A, 10, 0, 100);
    commit_all(store, vec![Unit::new(vec![Write::PutDlq(entry.clone())])]).await;
    entry.expires_at = 500;
    entry.error = Some("edited".into());
    commit_all(store, vec![Unit::new(vec![Write::PutDlq(entry.clone())])]).await;
    assert_eq!(store.dlq_entry(A, "10-0").await.expect("read"), Some(entry));
    assert_eq!(
        store.prune(499, 0, 100).await.expect("prune").dlq_entries,
        0
    );
    assert!(store.dlq_entry(A, "10-0").await.expect("read").is_some());
    assert_eq!(
        store.prune(500, 0, 100).await.expect("prune").dlq_entries,
        1
    );
    assert_eq!(store.dlq_entry(A, "10-0").await.expect("read"), None);
}
