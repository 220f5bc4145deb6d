//! Helpers several concerns share: the two users, due-key shorthands, what a commit
//! answers, and the units more than one concern commits.

use depesha_core::filter::{Filter, Order};
use depesha_core::log::{LogEntry, LogState};
use depesha_core::message::MessageState;
use depesha_store::{Applied, DueKey, Guard, Store, Taken, Unit, UnitOutcome, Write};

use crate::support::log;

pub const A: &str = "ann";

/// A user whose name extends [`A`]'s: prefix scans must keep them apart.
pub const B: &str = "anne";

pub fn keys(due: &[DueKey]) -> Vec<(u64, &str, &str)> {
    due.iter()
        .map(|k| (k.due, k.message.user.as_str(), k.message.id.as_str()))
        .collect()
}

pub fn no_filter() -> Filter {
    Filter::default()
}

pub fn due_key(due: u64, user: &str, id: &str) -> DueKey {
    DueKey::new(due, user, id)
}

/// Applied, having made nothing due.
pub fn applied(taken: Taken) -> UnitOutcome {
    made_due(taken, &[])
}

/// Applied, having made exactly these `(due, user, id)` keys due, in this order.
pub fn made_due(taken: Taken, keys: &[(u64, &str, &str)]) -> UnitOutcome {
    UnitOutcome::Applied(Applied {
        taken,
        became_due: keys.iter().map(|(d, u, i)| due_key(*d, u, i)).collect(),
    })
}

pub fn cancel(user: &str, id: &str, log_time: u64) -> Unit {
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

pub fn claim(user: &str, key: &str, ids: &[&str], expires_at: u64) -> Guard {
    Guard::ClaimDedup {
        user: user.into(),
        key: key.into(),
        message_ids: ids.iter().map(|s| s.to_string()).collect(),
        expires_at,
    }
}

pub fn take_dlq(user: &str, dlq_id: &str) -> Unit {
    Unit::guarded(
        Guard::TakeDlq {
            user: user.into(),
            dlq_id: dlq_id.into(),
        },
        Vec::new(),
    )
}

pub fn append(entries: Vec<LogEntry>) -> Unit {
    Unit::new(entries.into_iter().map(Write::AppendLog).collect())
}

pub async fn all_logs(store: &impl Store, user: &str, order: Order) -> Vec<LogEntry> {
    store
        .log_page(user, &no_filter(), None, 10_000, order)
        .await
        .expect("logs")
        .items
}

pub async fn state_of(store: &impl Store, user: &str, id: &str) -> MessageState {
    store
        .message(user, id)
        .await
        .expect("read")
        .expect("present")
        .state
}

/// Follows `next_cursor` from the first page to the last, asserting every page but the
/// last is full. `read` gives one page (what the test compares of its items, and the
/// next cursor) for a cursor.
pub async fn all_pages<T, Read, Reading>(count: usize, mut read: Read) -> Vec<Vec<T>>
where
    Read: FnMut(Option<String>) -> Reading,
    Reading: std::future::Future<Output = (Vec<T>, Option<String>)>,
{
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (items, next_cursor) = read(cursor.clone()).await;
        let len = items.len();
        pages.push(items);
        match next_cursor {
            Some(next) => {
                assert_eq!(len, count, "a page before the last must be full");
                cursor = Some(next);
            }
            None => return pages,
        }
        assert!(pages.len() < 100, "paging does not terminate");
    }
}
