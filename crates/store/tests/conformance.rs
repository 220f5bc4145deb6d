//! The storage contract, as executable spec. Every behaviour is a generic function over
//! `impl Store` (or over a [`Backend`] when it needs to reopen the store); the
//! `suite!` invocations at the bottom run all of them against each backend. A new
//! backend is one more `suite!` line plus a `Backend` impl in `support`.

mod support;

use depesha_core::filter::{Filter, Order};
use depesha_core::keys::SigningKeys;
use depesha_core::log::{LogEntry, LogState};
use depesha_core::message::MessageState;
use depesha_store::{
    DlqStore, DueKey, Guard, KeyStore, MessageStore, Page, PruneStats, Rejection, Store,
    StoreError, Taken, Unit, UnitOutcome, Write,
};
use support::{commit_all, delivered, dlq_entry, log, message, put, Backend, Embedded};

const A: &str = "ann";
/// A user whose name extends [`A`]'s: prefix scans must keep them apart.
const B: &str = "anne";

fn keys(due: &[DueKey]) -> Vec<(u64, &str, &str)> {
    due.iter()
        .map(|k| (k.due, k.user.as_str(), k.id.as_str()))
        .collect()
}

fn no_filter() -> Filter {
    Filter::default()
}

// ---------------------------------------------------------------------------------
// Messages and the due index
// ---------------------------------------------------------------------------------

pub fn publish_and_read(store: &impl Store) {
    let m = message(A, "msg_1", 1_000);
    commit_all(store, vec![put(m.clone())]);
    assert_eq!(store.message(A, "msg_1").expect("read"), Some(m));
    assert_eq!(store.message(A, "msg_2").expect("read"), None);
    assert_eq!(store.pending_count().expect("count"), 1);
    assert_eq!(store.commit(Vec::new()).expect("empty commit"), Vec::new());
}

pub fn due_orders_by_time_user_id_and_pages_after(store: &impl Store) {
    commit_all(
        store,
        vec![
            put(message(B, "m1", 20)),
            put(message(A, "m2", 20)),
            put(message(A, "m1", 20)),
            put(message(A, "m9", 10)),
            put(message(A, "m0", 30)),
            put(message(A, "late", 1_000)),
        ],
    );
    let all = store.due(None, 30, 100).expect("due");
    assert_eq!(
        keys(&all),
        vec![
            (10, A, "m9"),
            (20, A, "m1"),
            (20, A, "m2"),
            (20, B, "m1"),
            (30, A, "m0")
        ]
    );
    // Paging with `after`, including through ties on the same millisecond.
    let mut paged = Vec::new();
    let mut after: Option<DueKey> = None;
    loop {
        let page = store.due(after.as_ref(), 30, 2).expect("due page");
        assert!(page.len() <= 2);
        let Some(last) = page.last().cloned() else {
            break;
        };
        paged.extend(page);
        after = Some(last);
    }
    assert_eq!(paged, all);
    // `until` is inclusive; `after` past `until` yields nothing.
    assert_eq!(
        keys(&store.due(None, 19, 100).expect("due")),
        vec![(10, A, "m9")]
    );
    assert_eq!(store.due(None, 9, 100).expect("due"), Vec::new());
    let beyond = DueKey {
        due: 500,
        user: A.into(),
        id: "x".into(),
    };
    assert_eq!(store.due(Some(&beyond), 30, 100).expect("due"), Vec::new());
    assert_eq!(
        store.due(Some(&beyond), u64::MAX, 100).expect("due").len(),
        1
    );
    assert_eq!(store.due(None, u64::MAX, 0).expect("due"), Vec::new());
    assert_eq!(store.pending_count().expect("count"), 6);
}

pub fn upsert_moves_the_due_key(store: &impl Store) {
    let m = message(A, "m", 100);
    commit_all(store, vec![put(m.clone())]);
    let mut retry = m.clone();
    retry.retried = 1;
    retry.due = 500;
    commit_all(store, vec![put(retry.clone())]);
    assert_eq!(store.due(None, 499, 10).expect("due"), Vec::new());
    assert_eq!(
        keys(&store.due(None, 500, 10).expect("due")),
        vec![(500, A, "m")]
    );
    assert_eq!(store.pending_count().expect("count"), 1);
    assert_eq!(store.message(A, "m").expect("read"), Some(retry));
}

pub fn delivered_leaves_due_index_but_stays_readable_until_prune(store: &impl Store) {
    let m = message(A, "m", 100);
    commit_all(store, vec![put(m.clone())]);
    let done = delivered(m, 1_000);
    commit_all(store, vec![put(done.clone())]);
    assert_eq!(store.due(None, u64::MAX, 10).expect("due"), Vec::new());
    assert_eq!(store.pending_count().expect("count"), 0);
    assert_eq!(
        store.pending_ids(A, &no_filter(), 10).expect("ids"),
        Vec::<String>::new()
    );
    assert_eq!(store.message(A, "m").expect("read"), Some(done));
    assert_eq!(
        store.prune(999, 0, 100).expect("prune"),
        PruneStats::default()
    );
    assert!(store.message(A, "m").expect("read").is_some());
    let stats = store.prune(1_000, 0, 100).expect("prune");
    assert_eq!(stats.messages, 1);
    assert_eq!(store.message(A, "m").expect("read"), None);
}

pub fn pending_messages_are_never_pruned(store: &impl Store) {
    // A pending message carrying an `expires_at` (e.g. set early by a caller) is not
    // eligible: only delivered messages expire.
    let mut m = message(A, "m", 100);
    m.expires_at = Some(10);
    commit_all(store, vec![put(m)]);
    assert_eq!(store.prune(u64::MAX, 0, 100).expect("prune").messages, 0);
    assert!(store.message(A, "m").expect("read").is_some());
    assert_eq!(store.pending_count().expect("count"), 1);
}

pub fn delete_message_removes_it_and_its_index_entries(store: &impl Store) {
    commit_all(
        store,
        vec![
            put(message(A, "p", 10)),
            put(delivered(message(A, "d", 10), 50)),
        ],
    );
    commit_all(
        store,
        vec![Unit::new(vec![
            Write::DeleteMessage {
                user: A.into(),
                id: "p".into(),
            },
            Write::DeleteMessage {
                user: A.into(),
                id: "d".into(),
            },
            Write::DeleteMessage {
                user: A.into(),
                id: "never-existed".into(),
            },
        ])],
    );
    assert_eq!(store.message(A, "p").expect("read"), None);
    assert_eq!(store.message(A, "d").expect("read"), None);
    assert_eq!(store.pending_count().expect("count"), 0);
    assert_eq!(store.due(None, u64::MAX, 10).expect("due"), Vec::new());
    assert_eq!(
        store.prune(u64::MAX, 0, 100).expect("prune"),
        PruneStats::default()
    );
}

pub fn pending_ids_lists_pending_matches_only(store: &impl Store) {
    let mut other = message(A, "m3", 10);
    other.url = "https://other.example/x".into();
    other.labels = vec!["third".into()];
    commit_all(
        store,
        vec![
            put(message(A, "m1", 10)),
            put(message(A, "m2", 10)),
            put(other),
            put(delivered(message(A, "m4", 10), 99)),
            put(message(B, "m5", 10)),
        ],
    );
    let mut all = store.pending_ids(A, &no_filter(), 100).expect("ids");
    all.sort();
    assert_eq!(all, vec!["m1", "m2", "m3"]);
    assert_eq!(store.pending_ids(A, &no_filter(), 2).expect("ids").len(), 2);
    let by_label = Filter {
        label: vec!["third".into()],
        ..Filter::default()
    };
    assert_eq!(
        store.pending_ids(A, &by_label, 100).expect("ids"),
        vec!["m3"]
    );
    let by_host = Filter {
        host: vec!["example.com".into()],
        ..Filter::default()
    };
    let mut hosts = store.pending_ids(A, &by_host, 100).expect("ids");
    hosts.sort();
    assert_eq!(hosts, vec!["m1", "m2"]);
    let by_ids = Filter {
        ids: vec![
            "m2".into(),
            "m4".into(),
            "m5".into(),
            "zzz".into(),
            "m2".into(),
        ],
        ..Filter::default()
    };
    assert_eq!(store.pending_ids(A, &by_ids, 100).expect("ids"), vec!["m2"]);
    let ids_and_label = Filter {
        ids: vec!["m1".into(), "m3".into()],
        label: vec!["third".into()],
        ..Filter::default()
    };
    assert_eq!(
        store.pending_ids(A, &ids_and_label, 100).expect("ids"),
        vec!["m3"]
    );
    assert_eq!(
        store.pending_ids(A, &no_filter(), 0).expect("ids"),
        Vec::<String>::new()
    );
}

// ---------------------------------------------------------------------------------
// Guards
// ---------------------------------------------------------------------------------

fn cancel(user: &str, id: &str, log_time: u64) -> Unit {
    Unit::guarded(
        Guard::TakePendingMessage {
            user: user.into(),
            id: id.into(),
        },
        vec![Write::AppendLog(log(
            user,
            id,
            LogState::Canceled,
            log_time,
        ))],
    )
}

fn log_count(store: &impl Store, user: &str) -> usize {
    store
        .log_page(user, &no_filter(), None, 10_000, Order::EarliestFirst)
        .expect("logs")
        .items
        .len()
}

pub fn cancel_takes_a_pending_message_once(store: &impl Store) {
    let m = message(A, "m", 100);
    commit_all(
        store,
        vec![put(m.clone()), put(delivered(message(A, "d", 1), 50))],
    );
    let outcomes = store
        .commit(vec![cancel(A, "m", 1), cancel(A, "m", 2)])
        .expect("commit");
    assert_eq!(
        outcomes,
        vec![
            UnitOutcome::Applied(Taken::Message(Box::new(m))),
            UnitOutcome::Rejected(Rejection::NotFound)
        ]
    );
    // The rejected unit's writes were not applied.
    assert_eq!(log_count(store, A), 1);
    assert_eq!(store.message(A, "m").expect("read"), None);
    assert_eq!(store.pending_count().expect("count"), 0);
    assert_eq!(store.due(None, u64::MAX, 10).expect("due"), Vec::new());
    // Later commits, delivered messages and unknown ids: not found.
    let later = store
        .commit(vec![
            cancel(A, "m", 3),
            cancel(A, "d", 3),
            cancel(A, "nope", 3),
            cancel(B, "m", 3),
        ])
        .expect("commit");
    assert!(
        later
            .iter()
            .all(|o| *o == UnitOutcome::Rejected(Rejection::NotFound)),
        "{later:?}"
    );
    assert!(store.message(A, "d").expect("read").is_some());
    assert_eq!(log_count(store, A), 1);
}

fn claim(user: &str, key: &str, ids: &[&str], expires_at: u64) -> Guard {
    Guard::ClaimDedup {
        user: user.into(),
        key: key.into(),
        message_ids: ids.iter().map(|s| s.to_string()).collect(),
        expires_at,
    }
}

pub fn dedup_claim_rejects_duplicates_within_and_across_commits(store: &impl Store) {
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
        .expect("commit");
    let duplicate = UnitOutcome::Rejected(Rejection::Duplicate(vec!["m1".into(), "m1b".into()]));
    assert_eq!(
        outcomes,
        vec![
            UnitOutcome::Applied(Taken::Nothing),
            duplicate.clone(),
            UnitOutcome::Applied(Taken::Nothing)
        ]
    );
    assert!(store.message(A, "m1").expect("read").is_some());
    assert_eq!(store.message(A, "m2").expect("read"), None);
    assert!(store.message(B, "m3").expect("read").is_some());

    let again = Unit::guarded(
        claim(A, "k", &["m4"], 2_000),
        vec![Write::PutMessage(message(A, "m4", 5))],
    );
    assert_eq!(store.commit(vec![again]).expect("commit"), vec![duplicate]);
    assert_eq!(store.message(A, "m4").expect("read"), None);

    // Once pruned past its expiry, the key can be claimed again.
    assert_eq!(store.prune(999, 0, 100).expect("prune").dedup_keys, 0);
    assert_eq!(store.prune(1_000, 0, 100).expect("prune").dedup_keys, 2);
    let fresh = Unit::guarded(claim(A, "k", &["m5"], 3_000), Vec::new());
    assert_eq!(
        store.commit(vec![fresh]).expect("commit"),
        vec![UnitOutcome::Applied(Taken::Nothing)]
    );
    let dup = Unit::guarded(claim(A, "k", &["m6"], 3_000), Vec::new());
    assert_eq!(
        store.commit(vec![dup]).expect("commit"),
        vec![UnitOutcome::Rejected(Rejection::Duplicate(vec![
            "m5".into()
        ]))]
    );
}

pub fn message_at_guards_the_attempt_state(store: &impl Store) {
    let m = message(A, "m", 100);
    commit_all(store, vec![put(m.clone())]);
    let mut next = m.clone();
    next.retried = 1;
    next.due = 900;
    let stale = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "m".into(),
            retried: 7,
        },
        vec![
            Write::PutMessage(next.clone()),
            Write::AppendLog(log(A, "m", LogState::Retry, 150)),
        ],
    );
    assert_eq!(
        store.commit(vec![stale]).expect("commit"),
        vec![UnitOutcome::Rejected(Rejection::NotFound)]
    );
    assert_eq!(store.message(A, "m").expect("read"), Some(m.clone()));
    assert_eq!(log_count(store, A), 0);
    assert_eq!(
        keys(&store.due(None, u64::MAX, 10).expect("due")),
        vec![(100, A, "m")]
    );

    // Holds at the right count; a second unit in the same commit sees the first's write.
    let at0 = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "m".into(),
            retried: 0,
        },
        vec![Write::PutMessage(next.clone())],
    );
    let at0_again = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "m".into(),
            retried: 0,
        },
        vec![Write::PutMessage(m.clone())],
    );
    let at1 = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "m".into(),
            retried: 1,
        },
        vec![Write::PutMessage(delivered(next.clone(), 5_000))],
    );
    assert_eq!(
        store.commit(vec![at0, at0_again, at1]).expect("commit"),
        vec![
            UnitOutcome::Applied(Taken::Nothing),
            UnitOutcome::Rejected(Rejection::NotFound),
            UnitOutcome::Applied(Taken::Nothing)
        ]
    );
    let stored = store.message(A, "m").expect("read").expect("present");
    assert_eq!(stored.state, MessageState::Delivered);
    // Delivered or missing messages: the guard does not hold.
    let on_delivered = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "m".into(),
            retried: 2,
        },
        Vec::new(),
    );
    let on_missing = Unit::guarded(
        Guard::MessageAt {
            user: A.into(),
            id: "x".into(),
            retried: 0,
        },
        Vec::new(),
    );
    assert_eq!(
        store
            .commit(vec![on_delivered, on_missing])
            .expect("commit"),
        vec![
            UnitOutcome::Rejected(Rejection::NotFound),
            UnitOutcome::Rejected(Rejection::NotFound)
        ]
    );
}

pub fn failed_commit_applies_nothing(store: &impl Store) {
    let mut bad = dlq_entry(A, 10, 0, 100);
    bad.dlq_id = "not-an-id".into();
    let result = store.commit(vec![
        put(message(A, "m", 1)),
        Unit::new(vec![Write::PutDlq(bad)]),
    ]);
    assert!(result.is_err(), "{result:?}");
    assert_eq!(store.message(A, "m").expect("read"), None);
    assert_eq!(store.pending_count().expect("count"), 0);
}

// ---------------------------------------------------------------------------------
// DLQ
// ---------------------------------------------------------------------------------

fn take_dlq(user: &str, dlq_id: &str) -> Unit {
    Unit::guarded(
        Guard::TakeDlq {
            user: user.into(),
            dlq_id: dlq_id.into(),
        },
        Vec::new(),
    )
}

pub fn take_dlq_removes_the_entry_once(store: &impl Store) {
    let entry = dlq_entry(A, 1_725_323_658_779, 0, 10_000);
    let id = entry.dlq_id.clone();
    commit_all(store, vec![Unit::new(vec![Write::PutDlq(entry.clone())])]);
    assert_eq!(store.dlq_entry(A, &id).expect("read"), Some(entry.clone()));
    assert_eq!(store.dlq_entry(B, &id).expect("read"), None);
    assert_eq!(store.dlq_entry(A, "garbage").expect("read"), None);
    assert_eq!(store.dlq_entry(A, "01725323658779-0").expect("read"), None);
    let outcomes = store
        .commit(vec![
            take_dlq(B, &id),
            take_dlq(A, &id),
            take_dlq(A, &id),
            take_dlq(A, "garbage"),
        ])
        .expect("commit");
    assert_eq!(
        outcomes,
        vec![
            UnitOutcome::Rejected(Rejection::NotFound),
            UnitOutcome::Applied(Taken::Dlq(Box::new(entry))),
            UnitOutcome::Rejected(Rejection::NotFound),
            UnitOutcome::Rejected(Rejection::NotFound)
        ]
    );
    assert_eq!(store.dlq_entry(A, &id).expect("read"), None);
    // Its retention index went with it.
    assert_eq!(store.prune(u64::MAX, 0, 100).expect("prune").dlq_entries, 0);
}

fn dlq_ids(page: &Page<depesha_core::dlq::DlqEntry>) -> Vec<&str> {
    page.items.iter().map(|e| e.dlq_id.as_str()).collect()
}

/// Follows `next_cursor` to the end, asserting every page but the last is full.
fn all_dlq_pages(
    store: &impl Store,
    user: &str,
    filter: &Filter,
    count: usize,
    order: Order,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .dlq_page(user, filter, cursor.as_deref(), count, order)
            .expect("dlq page");
        pages.push(
            dlq_ids(&page)
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>(),
        );
        match page.next_cursor {
            Some(next) => {
                assert_eq!(
                    page.items.len(),
                    count,
                    "a page before the last must be full"
                );
                cursor = Some(next);
            }
            None => return pages,
        }
        assert!(pages.len() < 100, "paging does not terminate");
    }
}

pub fn dlq_pages_filter_and_order(store: &impl Store) {
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
    );

    let earliest = [
        "50-0", "100-0", "100-1", "100-2", "200-0", "300-0", "1000-0",
    ];
    let pages = all_dlq_pages(store, A, &no_filter(), 3, Order::EarliestFirst);
    assert_eq!(
        pages,
        vec![
            earliest[..3].to_vec(),
            earliest[3..6].to_vec(),
            earliest[6..].to_vec()
        ]
    );
    let latest: Vec<&str> = earliest.iter().rev().copied().collect();
    let pages = all_dlq_pages(store, A, &no_filter(), 3, Order::LatestFirst);
    assert_eq!(
        pages,
        vec![
            latest[..3].to_vec(),
            latest[3..6].to_vec(),
            latest[6..].to_vec()
        ]
    );

    // Exactly full last page: no cursor (the lookahead finds nothing).
    let pages = all_dlq_pages(store, A, &no_filter(), 7, Order::EarliestFirst);
    assert_eq!(pages, vec![earliest.to_vec()]);
    let one = store
        .dlq_page(A, &no_filter(), None, 100, Order::EarliestFirst)
        .expect("page");
    assert_eq!(one.next_cursor, None);
    assert_eq!(one.items.len(), 7);

    // Filters apply inside the scan: pages stay full.
    let other = Filter {
        url: vec!["https://other.example/x".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_dlq_pages(store, A, &other, 1, Order::EarliestFirst),
        vec![vec!["200-0".to_string()], vec!["300-0".to_string()]]
    );
    let status_zero = Filter {
        response_status: vec![0],
        ..Filter::default()
    };
    assert_eq!(
        all_dlq_pages(store, A, &status_zero, 5, Order::LatestFirst),
        vec![vec!["100-1".to_string()]]
    );
    let dates = Filter {
        from_date: Some(100),
        to_date: Some(200),
        ..Filter::default()
    };
    assert_eq!(
        all_dlq_pages(store, A, &dates, 2, Order::EarliestFirst),
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
        all_dlq_pages(store, A, &by_id, 10, Order::EarliestFirst),
        vec![vec!["50-0".to_string(), "300-0".into()]]
    );
    let nothing = Filter {
        url: vec!["https://nowhere/".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_dlq_pages(store, A, &nothing, 10, Order::EarliestFirst),
        vec![Vec::<String>::new()]
    );

    // User isolation.
    assert_eq!(
        all_dlq_pages(store, B, &no_filter(), 10, Order::EarliestFirst),
        vec![vec!["150-0".to_string()]]
    );

    // A cursor that does not parse.
    for bad in ["", "abc", "12", "1-x", "-1-0"] {
        match store.dlq_page(A, &no_filter(), Some(bad), 3, Order::EarliestFirst) {
            Err(StoreError::InvalidCursor(c)) => assert_eq!(c, bad),
            other => panic!("cursor {bad:?}: {other:?}"),
        }
    }
}

pub fn dlq_upsert_keeps_one_retention_entry(store: &impl Store) {
    let mut entry = dlq_entry(A, 10, 0, 100);
    commit_all(store, vec![Unit::new(vec![Write::PutDlq(entry.clone())])]);
    entry.expires_at = 500;
    entry.error = Some("edited".into());
    commit_all(store, vec![Unit::new(vec![Write::PutDlq(entry.clone())])]);
    assert_eq!(store.dlq_entry(A, "10-0").expect("read"), Some(entry));
    assert_eq!(store.prune(499, 0, 100).expect("prune").dlq_entries, 0);
    assert!(store.dlq_entry(A, "10-0").expect("read").is_some());
    assert_eq!(store.prune(500, 0, 100).expect("prune").dlq_entries, 1);
    assert_eq!(store.dlq_entry(A, "10-0").expect("read"), None);
}

// ---------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------

fn append(entries: Vec<LogEntry>) -> Unit {
    Unit::new(entries.into_iter().map(Write::AppendLog).collect())
}

fn all_logs(store: &impl Store, user: &str, order: Order) -> Vec<LogEntry> {
    store
        .log_page(user, &no_filter(), None, 10_000, order)
        .expect("logs")
        .items
}

pub fn log_seq_is_assigned_and_increasing(store: &impl Store) {
    let mut forged = log(A, "m1", LogState::Created, 10);
    forged.seq = 999_999; // the store ignores a caller's seq
    commit_all(
        store,
        vec![append(vec![forged, log(A, "m1", LogState::Active, 11)])],
    );
    commit_all(
        store,
        vec![append(vec![log(B, "m2", LogState::Created, 12)])],
    );
    commit_all(
        store,
        vec![append(vec![log(A, "m1", LogState::Delivered, 13)])],
    );
    let entries = all_logs(store, A, Order::EarliestFirst);
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
    let b = all_logs(store, B, Order::EarliestFirst);
    assert_eq!(b.len(), 1);
    assert!(b[0].seq > seqs[0] && b[0].seq < seqs[2]);
}

fn all_log_pages(
    store: &impl Store,
    user: &str,
    filter: &Filter,
    count: usize,
    order: Order,
) -> Vec<Vec<u64>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .log_page(user, filter, cursor.as_deref(), count, order)
            .expect("log page");
        pages.push(page.items.iter().map(|e| e.time).collect::<Vec<_>>());
        match page.next_cursor {
            Some(next) => {
                assert_eq!(
                    page.items.len(),
                    count,
                    "a page before the last must be full"
                );
                cursor = Some(next);
            }
            None => return pages,
        }
        assert!(pages.len() < 100, "paging does not terminate");
    }
}

pub fn log_pages_filter_and_order(store: &impl Store) {
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
    );
    commit_all(
        store,
        vec![append(vec![log(B, "b", LogState::Created, 100)])],
    );

    assert_eq!(
        all_log_pages(store, A, &no_filter(), 3, Order::LatestFirst),
        vec![vec![7, 6, 5], vec![4, 3, 2], vec![1]]
    );
    assert_eq!(
        all_log_pages(store, A, &no_filter(), 3, Order::EarliestFirst),
        vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]
    );
    assert_eq!(
        all_log_pages(store, A, &no_filter(), 7, Order::LatestFirst),
        vec![vec![7, 6, 5, 4, 3, 2, 1]]
    );

    let in_progress = Filter {
        state: vec!["IN_PROGRESS".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_log_pages(store, A, &in_progress, 2, Order::LatestFirst),
        vec![vec![4, 3], vec![2]]
    );
    let states = Filter {
        state: vec!["CREATED".into(), "CANCELLED".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_log_pages(store, A, &states, 1, Order::EarliestFirst),
        vec![vec![1], vec![7]]
    );
    let label = Filter {
        label: vec!["late".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_log_pages(store, A, &label, 2, Order::LatestFirst),
        vec![vec![7, 6], vec![5]]
    );
    let by_message = Filter {
        message_id: Some("m0".into()),
        ..Filter::default()
    };
    assert_eq!(
        all_log_pages(store, A, &by_message, 10, Order::EarliestFirst),
        vec![vec![2, 4, 6]]
    );
    let by_ids = Filter {
        ids: vec!["m1".into()],
        state: vec!["FAILED".into(), "DELIVERED".into()],
        ..Filter::default()
    };
    assert_eq!(
        all_log_pages(store, A, &by_ids, 10, Order::EarliestFirst),
        vec![vec![5]]
    );

    assert_eq!(
        all_log_pages(store, B, &no_filter(), 10, Order::LatestFirst),
        vec![vec![100]]
    );

    for bad in ["", "x", "-1", "1.5"] {
        match store.log_page(A, &no_filter(), Some(bad), 3, Order::LatestFirst) {
            Err(StoreError::InvalidCursor(c)) => assert_eq!(c, bad),
            other => panic!("cursor {bad:?}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------
// Prune, keys, isolation
// ---------------------------------------------------------------------------------

pub fn prune_is_bounded_by_limit(store: &impl Store) {
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
    commit_all(store, units);

    let mut total = PruneStats::default();
    let mut rounds = 0;
    loop {
        let stats = store.prune(1_000, 1_000, 2).expect("prune");
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
        let left = all_logs(store, user, Order::EarliestFirst);
        assert_eq!(
            left.iter().map(|e| e.time).collect::<Vec<_>>(),
            vec![10_000],
            "user {user}"
        );
    }
    assert_eq!(store.message(A, "m0").expect("read"), None);
}

pub fn keys_put_and_get(store: &impl Store) {
    assert_eq!(store.keys(A).expect("keys"), None);
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
    );
    assert_eq!(store.keys(A).expect("keys"), Some(first.clone()));
    assert_eq!(store.keys(B).expect("keys"), None);
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
    );
    assert_eq!(store.keys(A).expect("keys"), Some(rotated));
}

pub fn users_are_isolated(store: &impl Store) {
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
    );
    assert_eq!(store.message(B, "m").expect("read"), None);
    assert_eq!(
        store.pending_ids(B, &no_filter(), 10).expect("ids"),
        Vec::<String>::new()
    );
    assert_eq!(store.dlq_entry(B, "10-0").expect("read"), None);
    assert!(store
        .dlq_page(B, &no_filter(), None, 10, Order::EarliestFirst)
        .expect("page")
        .items
        .is_empty());
    assert!(store
        .log_page(B, &no_filter(), None, 10, Order::LatestFirst)
        .expect("page")
        .items
        .is_empty());
    assert!(store
        .log_page("an", &no_filter(), None, 10, Order::LatestFirst)
        .expect("page")
        .items
        .is_empty());
    assert_eq!(store.keys(B).expect("keys"), None);
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
        .expect("commit");
    assert!(
        outcomes
            .iter()
            .all(|o| *o == UnitOutcome::Rejected(Rejection::NotFound)),
        "{outcomes:?}"
    );
    // A's data is untouched.
    assert!(store.message(A, "m").expect("read").is_some());
    assert!(store.dlq_entry(A, "10-0").expect("read").is_some());
}

// ---------------------------------------------------------------------------------
// Restarts and crashes (need a backend that can reopen)
// ---------------------------------------------------------------------------------

pub fn reopen_keeps_everything<B: Backend>(backend: &B) {
    let m = message(A, "m", 10);
    let done = delivered(message(A, "d", 10), 1_000);
    let entry = dlq_entry(A, 10, 0, 1_000);
    let keys = SigningKeys {
        current: "c".into(),
        next: "n".into(),
    };
    {
        let store = backend.open();
        commit_all(
            &store,
            vec![
                Unit::guarded(
                    claim(A, "k", &["m"], 1_000),
                    vec![Write::PutMessage(m.clone())],
                ),
                put(done.clone()),
                Unit::new(vec![Write::PutDlq(entry.clone())]),
                append(vec![log(A, "m", LogState::Created, 10)]),
                Unit::new(vec![Write::PutKeys {
                    user: A.into(),
                    keys: keys.clone(),
                }]),
            ],
        );
    }
    let store = backend.open();
    assert_eq!(store.message(A, "m").expect("read"), Some(m));
    assert_eq!(store.message(A, "d").expect("read"), Some(done));
    assert_eq!(
        keys_of(&store.due(None, u64::MAX, 10).expect("due")),
        vec!["m"]
    );
    assert_eq!(store.pending_count().expect("count"), 1);
    assert_eq!(store.dlq_entry(A, "10-0").expect("read"), Some(entry));
    assert_eq!(all_logs(&store, A, Order::LatestFirst).len(), 1);
    assert_eq!(store.keys(A).expect("keys"), Some(keys));
    let dup = Unit::guarded(claim(A, "k", &["x"], 2_000), Vec::new());
    assert_eq!(
        store.commit(vec![dup]).expect("commit"),
        vec![UnitOutcome::Rejected(Rejection::Duplicate(
            vec!["m".into()]
        ))]
    );
    let stats = store.prune(1_000, 0, 100).expect("prune");
    assert_eq!(
        stats,
        PruneStats {
            messages: 1,
            dlq_entries: 1,
            dedup_keys: 1,
            log_entries: 0
        }
    );
}

fn keys_of(due: &[DueKey]) -> Vec<&str> {
    due.iter().map(|k| k.id.as_str()).collect()
}

pub fn log_seq_is_monotonic_across_reopen<B: Backend>(backend: &B) {
    let mut seen = Vec::new();
    for round in 0..3u64 {
        let store = backend.open();
        commit_all(
            &store,
            vec![append(vec![
                log(A, "m", LogState::Created, round),
                log(A, "m", LogState::Active, round),
            ])],
        );
        seen = all_logs(&store, A, Order::EarliestFirst)
            .into_iter()
            .map(|e| e.seq)
            .collect();
    }
    assert_eq!(seen.len(), 6);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    // Pruning the newest entries does not let seq go back either.
    {
        let store = backend.open();
        assert_eq!(store.prune(0, u64::MAX, 100).expect("prune").log_entries, 6);
    }
    let store = backend.open();
    commit_all(
        &store,
        vec![append(vec![log(A, "m", LogState::Delivered, 9)])],
    );
    let after: Vec<u64> = all_logs(&store, A, Order::EarliestFirst)
        .into_iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(after.len(), 1);
    assert!(after[0] > seen[5], "{after:?} after {seen:?}");
}

/// Environment variable naming the store location for the SIGKILL child.
const CHILD_ENV: &str = "DEPESHA_CONFORMANCE_SIGKILL_CHILD";
const COMMITTED: &str = "committed ";

/// The child side: commits batches forever, printing each id once its commit returned.
pub fn sigkill_child<B: Backend>() {
    let Ok(location) = std::env::var(CHILD_ENV) else {
        return; // run as a normal test: nothing to do
    };
    let store = B::at(&location).open();
    use std::io::Write as _;
    let stdout = std::io::stdout();
    for batch in 0u64.. {
        let ids: Vec<String> = (0..8).map(|i| format!("msg_{batch}_{i}")).collect();
        let units = ids
            .iter()
            .map(|id| {
                Unit::guarded(
                    claim(A, id, &[id.as_str()], u64::MAX),
                    vec![
                        Write::PutMessage(message(A, id, batch)),
                        Write::AppendLog(log(A, id, LogState::Created, batch)),
                    ],
                )
            })
            .collect();
        store.commit(units).expect("child commit");
        let mut out = stdout.lock();
        for id in &ids {
            let _ = writeln!(out, "{COMMITTED}{id}");
        }
        let _ = out.flush();
    }
}

/// The parent side: runs the child, kills it with SIGKILL mid-stream, reopens, and
/// checks that every id the child reported as committed is there.
pub fn sigkill_mid_stream_loses_nothing_committed<B: Backend>(backend: &B, child_test: &str) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([child_test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, backend.location())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut committed = Vec::new();
    let started = std::time::Instant::now();
    while committed.len() < 200 && started.elapsed() < std::time::Duration::from_secs(10) {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(id) = line.strip_prefix(COMMITTED) {
                    committed.push(id.to_string());
                }
            }
            _ => break,
        }
    }
    child.kill().expect("SIGKILL the child"); // Child::kill is SIGKILL on Unix
    let _ = child.wait();
    // Whatever the child printed before dying was committed too.
    for line in lines.map_while(Result::ok) {
        if let Some(id) = line.strip_prefix(COMMITTED) {
            committed.push(id.to_string());
        }
    }
    assert!(
        committed.len() >= 8,
        "the child committed nothing: {committed:?}"
    );

    let store = backend.open();
    eprintln!(
        "the child acknowledged {} messages before SIGKILL",
        committed.len()
    );
    for id in &committed {
        let m = store.message(A, id).expect("read after crash");
        assert!(m.is_some(), "{id} was acknowledged but is lost");
    }
    // The indexes agree with the data: every due key points at a pending message, and
    // the log holds at least one line per acknowledged message.
    let due = store.due(None, u64::MAX, 100_000).expect("due");
    assert!(due.len() >= committed.len());
    assert_eq!(store.pending_count().expect("count"), due.len() as u64);
    for key in &due {
        let m = store
            .message(&key.user, &key.id)
            .expect("read")
            .expect("due key without message");
        assert_eq!(m.state, MessageState::Pending);
    }
    assert!(all_logs(&store, A, Order::EarliestFirst).len() >= committed.len());
    // And the store still takes writes, with seq moving forward.
    let before = all_logs(&store, A, Order::LatestFirst)[0].seq;
    commit_all(
        &store,
        vec![append(vec![log(A, "after", LogState::Created, 1)])],
    );
    assert!(all_logs(&store, A, Order::LatestFirst)[0].seq > before);
}

/// A full disk: every acknowledged write survives, the failing commit is an error, and
/// the store works again once space is freed — without a restart.
pub fn full_disk_loses_nothing_acknowledged<B: Backend>(backend: &B) {
    let store = backend.open();
    let mut acked: Vec<String> = Vec::new();
    let mut full = false;
    for batch in 0..10_000u64 {
        let ids: Vec<String> = (0..4).map(|i| format!("msg_{batch}_{i}")).collect();
        let units = ids
            .iter()
            .map(|id| {
                let mut m = message(A, id, batch);
                m.body = vec![b'x'; 16 * 1024];
                Unit::new(vec![
                    Write::PutMessage(m),
                    Write::AppendLog(log(A, id, LogState::Created, batch)),
                ])
            })
            .collect();
        match store.commit(units) {
            Ok(_) => acked.extend(ids),
            Err(StoreError::Io(e)) => {
                eprintln!("disk full after {} messages: {e}", acked.len());
                full = true;
                break;
            }
            Err(other) => panic!("unexpected error on a full disk: {other:?}"),
        }
    }
    assert!(full, "the disk never filled up");
    assert!(!acked.is_empty());
    for id in &acked {
        assert!(
            store.message(A, id).expect("read on a full disk").is_some(),
            "{id} lost"
        );
    }
    // Free space by deleting half of the messages; then writes work again.
    let (gone, kept) = acked.split_at(acked.len() / 2);
    let mut freed = false;
    for attempt in 0..5 {
        let deletes = gone
            .iter()
            .map(|id| {
                Unit::new(vec![Write::DeleteMessage {
                    user: A.into(),
                    id: id.clone(),
                }])
            })
            .collect();
        match store.commit(deletes) {
            Ok(_) => {
                freed = true;
                break;
            }
            Err(e) => eprintln!("delete attempt {attempt} on a full disk: {e}"),
        }
    }
    assert!(freed, "could not delete on a full disk");
    commit_all(&store, vec![put(message(A, "after", 1))]);
    drop(store);
    let store = backend.open();
    for id in kept.iter().chain(["after".to_string()].iter()) {
        assert!(
            store.message(A, id).expect("read after reopen").is_some(),
            "{id} lost after reopen"
        );
    }
    for id in gone {
        assert_eq!(store.message(A, id).expect("read after reopen"), None);
    }
}

// ---------------------------------------------------------------------------------
// The suite, per backend
// ---------------------------------------------------------------------------------

macro_rules! suite {
    ($backend:ty) => {
        suite!(@store $backend;
            publish_and_read,
            due_orders_by_time_user_id_and_pages_after,
            upsert_moves_the_due_key,
            delivered_leaves_due_index_but_stays_readable_until_prune,
            pending_messages_are_never_pruned,
            delete_message_removes_it_and_its_index_entries,
            pending_ids_lists_pending_matches_only,
            cancel_takes_a_pending_message_once,
            dedup_claim_rejects_duplicates_within_and_across_commits,
            message_at_guards_the_attempt_state,
            failed_commit_applies_nothing,
            take_dlq_removes_the_entry_once,
            dlq_pages_filter_and_order,
            dlq_upsert_keeps_one_retention_entry,
            log_seq_is_assigned_and_increasing,
            log_pages_filter_and_order,
            prune_is_bounded_by_limit,
            keys_put_and_get,
            users_are_isolated
        );
        suite!(@backend $backend;
            reopen_keeps_everything,
            log_seq_is_monotonic_across_reopen
        );

        #[test]
        fn full_disk_loses_nothing_acknowledged() {
            match <$backend as Backend>::on_small_disk() {
                Some(backend) => super::full_disk_loses_nothing_acknowledged(&backend),
                None => eprintln!("skipped: no small disk configured (see support::SMALL_DISK_ENV)"),
            }
        }

        #[test]
        fn sigkill_child() {
            super::sigkill_child::<$backend>();
        }

        #[test]
        fn sigkill_mid_stream_loses_nothing_committed() {
            let this = module_path!().split_once("::").map_or("", |(_, m)| m);
            super::sigkill_mid_stream_loses_nothing_committed(
                &<$backend as Backend>::fresh(),
                &format!("{this}::sigkill_child"),
            );
        }
    };
    (@store $backend:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let backend = <$backend as Backend>::fresh();
                super::$name(&backend.open());
            }
        )*
    };
    (@backend $backend:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                super::$name(&<$backend as Backend>::fresh());
            }
        )*
    };
}

mod embedded {
    use super::*;
    suite!(Embedded);
}
