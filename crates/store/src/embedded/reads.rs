//! The read path: each call is one redb read transaction (an MVCC snapshot, never
//! blocked by writers). Listings scan one user's key range in the requested direction,
//! apply the filter while scanning and stop at `count` matches plus one lookahead, whose
//! key becomes `next_cursor`.

use std::collections::HashSet;
use std::ops::Bound;

use depesha_core::dlq::DlqEntry;
use depesha_core::filter::{Filter, Order, Subject};
use depesha_core::keys::SigningKeys;
use depesha_core::log::LogEntry;
use depesha_core::message::Message;
use depesha_core::UnixMillis;
use redb::{
    AccessGuard, Database, Key, ReadOnlyTable, ReadTransaction, ReadableDatabase,
    ReadableTableMetadata, TableDefinition, Value,
};

use super::codec::{decode, decode_log, decode_message, io, MessageHead};
use super::tables::{
    self as t, dlq_id_of, dlq_key, due_key, log_key, message_id_of, message_key, parse_dlq_id,
    parse_due_key, prefix_range, seq_of, split_scope, time_upper_bound, user_range, KeyBounds,
};
use crate::{DueKey, Page, StoreError, StoreResult};

pub(super) type Bytes = &'static [u8];

fn open<K: Key + 'static, V: Value + 'static>(
    txn: &ReadTransaction,
    definition: TableDefinition<K, V>,
) -> StoreResult<ReadOnlyTable<K, V>> {
    txn.open_table(definition).map_err(io)
}

pub(super) fn read<K: Key + 'static, V: Value + 'static>(
    db: &Database,
    definition: TableDefinition<K, V>,
) -> StoreResult<ReadOnlyTable<K, V>> {
    open(&db.begin_read().map_err(io)?, definition)
}

pub(super) fn message(db: &Database, user: &str, id: &str) -> StoreResult<Option<Message>> {
    let messages = read(db, t::MESSAGES)?;
    let value = messages.get(message_key(user, id).as_slice()).map_err(io)?;
    value.map(|v| decode_message(v.value())).transpose()
}

pub(super) fn due(
    db: &Database,
    after: Option<&DueKey>,
    until: UnixMillis,
    limit: usize,
) -> StoreResult<Vec<DueKey>> {
    let lower = after.map(|a| due_key(a.due, a.message.user.as_str(), a.message.id.as_str()));
    let upper = time_upper_bound(until);
    if let (Some(lower), Some(upper)) = (&lower, &upper) {
        if lower.as_slice() >= upper.as_slice() {
            return Ok(Vec::new());
        }
    }
    let bounds: KeyBounds<'_> = (
        lower.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
        upper
            .as_ref()
            .map_or(Bound::Unbounded, |u| Bound::Excluded(u.as_slice())),
    );
    let index = read(db, t::DUE)?;
    let mut keys = Vec::with_capacity(limit.min(4096));
    for item in index.range::<&[u8]>(bounds).map_err(io)?.take(limit) {
        let (key, ()) = item.map(|(k, v)| (k, v.value())).map_err(io)?;
        keys.push(parse_due_key(key.value())?);
    }
    Ok(keys)
}

pub(super) fn pending_ids(
    db: &Database,
    user: &str,
    filter: &Filter,
    limit: usize,
) -> StoreResult<Vec<String>> {
    let messages = read(db, t::MESSAGES)?;
    let mut ids = Vec::new();
    if limit == 0 {
        return Ok(ids);
    }
    // `ids` (bulk cancel by id) names the keys: look them up instead of scanning.
    if !filter.ids.is_empty() {
        let mut seen = HashSet::new();
        for id in &filter.ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let Some(value) = messages.get(message_key(user, id).as_slice()).map_err(io)? else {
                continue;
            };
            if pending_match(value.value(), filter)? {
                ids.push(id.clone());
                if ids.len() >= limit {
                    break;
                }
            }
        }
        return Ok(ids);
    }
    let (start, end) = user_range(user);
    for item in messages
        .range::<&[u8]>(start.as_slice()..end.as_slice())
        .map_err(io)?
    {
        let (key, value) = item.map_err(io)?;
        if pending_match(value.value(), filter)? {
            ids.push(message_id_of(key.value())?);
            if ids.len() >= limit {
                break;
            }
        }
    }
    Ok(ids)
}

/// Unfinished (pending, queued or waiting) and matching; decodes the message only when
/// the filter needs it.
fn pending_match(value: &[u8], filter: &Filter) -> StoreResult<bool> {
    if !MessageHead::read(value)?.state.is_unfinished() {
        return Ok(false);
    }
    if filter.is_empty() {
        return Ok(true);
    }
    Ok(filter.matches(&message_subject(&decode_message(value)?)))
}

pub(super) fn pending_count(db: &Database) -> StoreResult<u64> {
    read(db, t::DUE)?.len().map_err(io)
}

pub(super) fn dlq_entry(db: &Database, user: &str, dlq_id: &str) -> StoreResult<Option<DlqEntry>> {
    let Some((failed_at, seq)) = parse_dlq_id(dlq_id) else {
        return Ok(None);
    };
    let dlq = read(db, t::DLQ)?;
    let value = dlq
        .get(dlq_key(user, failed_at, seq).as_slice())
        .map_err(io)?;
    value.map(|v| decode(v.value())).transpose()
}

pub(super) fn dlq_page(
    db: &Database,
    user: &str,
    filter: &Filter,
    cursor: Option<&str>,
    count: usize,
    order: Order,
) -> StoreResult<Page<DlqEntry>> {
    let cursor = cursor
        .map(|c| {
            parse_dlq_id(c)
                .map(|(failed_at, seq)| dlq_key(user, failed_at, seq))
                .ok_or_else(|| StoreError::InvalidCursor(c.to_string()))
        })
        .transpose()?;
    let dlq = read(db, t::DLQ)?;
    page(
        &dlq,
        user,
        cursor.as_deref(),
        order,
        count,
        dlq_id_of,
        |_| false,
        |value| {
            let entry: DlqEntry = decode(value)?;
            Ok(filter.matches(&dlq_subject(&entry)).then_some(entry))
        },
    )
}

pub(super) fn log_page(
    db: &Database,
    user: &str,
    filter: &Filter,
    cursor: Option<&str>,
    count: usize,
    order: Order,
) -> StoreResult<Page<LogEntry>> {
    let cursor = cursor
        .map(|c| {
            c.parse::<u64>()
                .map(|seq| log_key(user, seq))
                .map_err(|_| StoreError::InvalidCursor(c.to_string()))
        })
        .transpose()?;
    let logs = read(db, t::LOGS)?;
    let cursor_of = |key: &[u8]| seq_of(key).map(|seq| seq.to_string());
    // A message's log lines are all written after it was created, and message ids tell
    // when that was: a newest-first search for given messages stops there instead of
    // reading the user's whole log.
    let floor = message_time_floor(filter).filter(|_| order == Order::LatestFirst);
    page(
        &logs,
        user,
        cursor.as_deref(),
        order,
        count,
        cursor_of,
        |value| floor.is_some_and(|f| super::codec::log_time(value).is_ok_and(|t| t < f)),
        |value| {
            let entry = decode_log(value)?;
            Ok(filter.matches(&log_subject(&entry)).then_some(entry))
        },
    )
}

pub(super) fn keys(db: &Database, user: &str) -> StoreResult<Option<SigningKeys>> {
    let keys = read(db, t::KEYS)?;
    let value = keys.get(user).map_err(io)?;
    value.map(|v| decode(v.value())).transpose()
}

/// Number of keys in `[start, end)`, counting no further than `limit`.
pub(super) fn count_range<V: Value + 'static>(
    table: &ReadOnlyTable<Bytes, V>,
    (start, end): (Vec<u8>, Vec<u8>),
    limit: u64,
) -> StoreResult<u64> {
    let mut count = 0;
    for item in table
        .range::<&[u8]>(start.as_slice()..end.as_slice())
        .map_err(io)?
    {
        if count >= limit {
            break;
        }
        item.map_err(io)?;
        count += 1;
    }
    Ok(count)
}

/// Every distinct `(user, name)` of a table keyed `user \0 name \0 ...`, in key order,
/// each made into what the table's names name by `named`. One seek per pair: after
/// finding a pair, the scan jumps past all its keys.
pub(super) fn scopes<V: Value + 'static, T>(
    table: &ReadOnlyTable<Bytes, V>,
    named: impl Fn(String, String) -> T,
) -> StoreResult<Vec<T>> {
    let mut found = Vec::new();
    let mut from = Vec::new();
    loop {
        let first = table
            .range::<&[u8]>(from.as_slice()..)
            .map_err(io)?
            .next()
            .transpose()
            .map_err(io)?
            .map(|(k, _)| k.value().to_vec());
        let Some(first) = first else {
            return Ok(found);
        };
        let (user, name, len) = split_scope(&first)?;
        found.push(named(user, name));
        from = prefix_range(first[..len].to_vec()).1;
    }
}

/// One page of a user-scoped table. `cursor` is the key of the first item to return
/// (the lookahead item of the previous page, or where it would have been).
#[allow(clippy::too_many_arguments)]
fn page<T>(
    table: &ReadOnlyTable<Bytes, Bytes>,
    user: &str,
    cursor: Option<&[u8]>,
    order: Order,
    count: usize,
    cursor_of: impl Fn(&[u8]) -> StoreResult<String>,
    stop: impl Fn(&[u8]) -> bool,
    select: impl FnMut(&[u8]) -> StoreResult<Option<T>>,
) -> StoreResult<Page<T>> {
    let (start, end) = user_range(user);
    let bounds: KeyBounds<'_> = match order {
        Order::EarliestFirst => (
            Bound::Included(cursor.unwrap_or(&start)),
            Bound::Excluded(&end),
        ),
        Order::LatestFirst => (
            Bound::Included(&start),
            cursor.map_or(Bound::Excluded(end.as_slice()), Bound::Included),
        ),
    };
    let range = table.range::<&[u8]>(bounds).map_err(io)?;
    match order {
        Order::EarliestFirst => fill(range, count, cursor_of, stop, select),
        Order::LatestFirst => fill(range.rev(), count, cursor_of, stop, select),
    }
}

fn fill<'a, T>(
    range: impl Iterator<Item = redb::Result<(AccessGuard<'a, Bytes>, AccessGuard<'a, Bytes>)>>,
    count: usize,
    cursor_of: impl Fn(&[u8]) -> StoreResult<String>,
    stop: impl Fn(&[u8]) -> bool,
    mut select: impl FnMut(&[u8]) -> StoreResult<Option<T>>,
) -> StoreResult<Page<T>> {
    let mut items = Vec::with_capacity(count.min(1024));
    for item in range {
        let (key, value) = item.map_err(io)?;
        if stop(value.value()) {
            break;
        }
        let Some(selected) = select(value.value())? else {
            continue;
        };
        if items.len() == count {
            return Ok(Page {
                items,
                next_cursor: Some(cursor_of(key.value())?),
            });
        }
        items.push(selected);
    }
    Ok(Page {
        items,
        next_cursor: None,
    })
}

/// Log lines of the messages a filter names are no older than the oldest of them,
/// less a minute of margin for clocks. `None` when the filter names no message or a
/// name is not a Depesha message id.
fn message_time_floor(filter: &Filter) -> Option<u64> {
    let ids = filter.ids.iter().chain(filter.message_id.as_ref());
    let mut floor: Option<u64> = None;
    for id in ids {
        let made = depesha_core::ids::message_id_time(id)?;
        floor = Some(floor.map_or(made, |f| f.min(made)));
    }
    floor.map(|f| f.saturating_sub(60_000))
}

/// What `DELETE /v2/messages` filters match a pending message against.
pub(super) fn message_subject(m: &Message) -> Subject<'_> {
    Subject {
        id: &m.id,
        message_id: &m.id,
        url: &m.url,
        topic_name: m.topic_name.as_deref(),
        queue_name: m.queue_name.as_deref(),
        schedule_id: m.schedule_id.as_deref(),
        labels: &m.labels,
        flow_control_key: m.flow_control.as_ref().map(|f| f.key.as_str()),
        caller_ip: m.caller_ip.as_deref(),
        response_status: None,
        state: None,
        time: m.created_at,
    }
}

/// What DLQ filters match an entry against. An entry without an HTTP response shows
/// (and filters) as `responseStatus: 0`; dates are the failure time.
pub(super) fn dlq_subject(e: &DlqEntry) -> Subject<'_> {
    let m = &e.message;
    Subject {
        id: &e.dlq_id,
        response_status: Some(e.response.as_ref().map_or(0, |r| r.status)),
        time: e.failed_at,
        ..message_subject(m)
    }
}

/// What log filters match an entry against (`messageIds` are message ids).
pub(super) fn log_subject(e: &LogEntry) -> Subject<'_> {
    Subject {
        id: &e.message_id,
        message_id: &e.message_id,
        url: &e.url,
        topic_name: e.topic_name.as_deref(),
        queue_name: e.queue_name.as_deref(),
        schedule_id: e.schedule_id.as_deref(),
        labels: &e.labels,
        flow_control_key: e.flow_control_key.as_deref(),
        caller_ip: e.caller_ip.as_deref(),
        response_status: e.response.as_ref().map(|r| r.status),
        state: Some(e.state),
        time: e.time,
    }
}
