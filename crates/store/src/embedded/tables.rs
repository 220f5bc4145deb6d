//! Table definitions and the byte layout of every key.
//!
//! Keys are raw bytes compared lexicographically by redb, so every number in a key is
//! big-endian (byte order = numeric order) and every user-scoped key starts with
//! `user \0`: all of one user's rows form one contiguous range, `[user\0, user\x01)`.
//! User names never contain NUL (they come from the server's configuration); ids and
//! deduplication keys may contain anything, because they always come last.
//!
//! Two tables have a name in the *middle* of their keys (`QUEUE_ITEMS`: the queue,
//! `FLOW_WAIT`: the flow-control key), so that one queue's items or one key's
//! wait-list are one contiguous range `[user\0name\0, user\0name\x01)`. That needs
//! names without NUL: queue names are validated names (letters, digits, `-_.`), and
//! flow-control keys come from HTTP header values, which cannot hold NUL. Writes of
//! such a name fail the commit; reads treat it as naming nothing (see [`scope`]).

use std::ops::Bound;

use depesha_core::queue::QueuePosition;
use depesha_core::UnixMillis;
use redb::TableDefinition;

use depesha_core::refs::MessageRef;

use crate::{DueKey, StoreError, StoreResult};

/// `user \0 id` → message (see `codec::encode_message` for the value layout).
pub(super) const MESSAGES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("messages");
/// `due BE ++ user \0 id` → (): exactly the pending messages, at their `due`.
pub(super) const DUE: TableDefinition<&[u8], ()> = TableDefinition::new("due");
/// `expires_at BE ++ user \0 id` → (): delivered messages that have an `expires_at`.
pub(super) const MESSAGE_EXPIRY: TableDefinition<&[u8], ()> =
    TableDefinition::new("message_expiry");
/// `user \0 failed_at BE ++ seq BE` → postcard `DlqEntry`.
pub(super) const DLQ: TableDefinition<&[u8], &[u8]> = TableDefinition::new("dlq");
/// `expires_at BE ++ <dlq key>` → ().
pub(super) const DLQ_EXPIRY: TableDefinition<&[u8], ()> = TableDefinition::new("dlq_expiry");
/// `user \0 seq BE` → `time BE ++ postcard LogEntry`.
pub(super) const LOGS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("logs");
/// `user \0 dedup-key` → postcard `(Vec<String>, expires_at)`.
pub(super) const DEDUP: TableDefinition<&[u8], &[u8]> = TableDefinition::new("dedup");
/// `expires_at BE ++ <dedup key>` → ().
pub(super) const DEDUP_EXPIRY: TableDefinition<&[u8], ()> = TableDefinition::new("dedup_expiry");
/// `user` → postcard `SigningKeys`.
pub(super) const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
/// `user \0 name` → postcard `UrlGroup`.
pub(super) const GROUPS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("groups");
/// `user \0 name` → postcard `Queue`.
pub(super) const QUEUES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("queues");
/// `user \0 queue \0 enqueued_at BE ++ seq BE` → holder message id (UTF-8).
pub(super) const QUEUE_ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("queue_items");
/// `user \0 key` → postcard `FlowKey`.
pub(super) const FLOW_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("flow_keys");
/// `user \0 flow-key \0 due BE ++ id` → (): exactly the waiting messages.
pub(super) const FLOW_WAIT: TableDefinition<&[u8], ()> = TableDefinition::new("flow_wait");
/// `user \0 id` → postcard `Schedule`.
pub(super) const SCHEDULES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("schedules");
/// `next_schedule_time BE ++ user \0 id` → (): exactly the unpaused schedules.
pub(super) const SCHEDULE_DUE: TableDefinition<&[u8], ()> = TableDefinition::new("schedule_due");
/// Named counters and the data format version.
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// `META` entry: the last log `seq` handed out (0 before the first).
pub(super) const META_LOG_SEQ: &str = "log_seq";
/// `META` entry: the LSN of the last journaled commit applied (see `journal.rs`).
pub(super) const META_JOURNAL_LSN: &str = "journal_lsn";
/// `META` entry: the value layout version of this file.
pub(super) const META_FORMAT: &str = "format";

/// A range over raw keys, in the form `ReadableTable::range` takes.
pub(super) type KeyBounds<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

/// `user \0 tail`.
pub(super) fn user_key(user: &str, tail: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(user.len() + 1 + tail.len());
    key.extend_from_slice(user.as_bytes());
    key.push(0);
    key.extend_from_slice(tail);
    key
}

/// `[user\0, user\x01)`: the bounds of every key of `user` in a user-scoped table.
pub(super) fn user_range(user: &str) -> (Vec<u8>, Vec<u8>) {
    prefix_range(user_key(user, &[]))
}

/// `[p, p')` where `p'` is `p` with its final NUL raised to `\x01`: every key that
/// starts with `prefix` (which ends with the NUL of `user \0` or `name \0`).
pub(super) fn prefix_range(prefix: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    let mut end = prefix.clone();
    if let Some(last) = end.last_mut() {
        *last = 1;
    }
    (prefix, end)
}

/// `user \0 name \0`: the prefix of one queue's items or one flow-control key's
/// wait-list. `None` when `name` contains NUL, which no stored scope does.
pub(super) fn scope(user: &str, name: &str) -> Option<Vec<u8>> {
    if name.as_bytes().contains(&0) {
        return None;
    }
    let mut key = user_key(user, name.as_bytes());
    key.push(0);
    Some(key)
}

/// Like [`scope`], for writes: a name with NUL fails the commit (a caller bug).
pub(super) fn write_scope(user: &str, kind: &str, name: &str) -> StoreResult<Vec<u8>> {
    scope(user, name)
        .ok_or_else(|| StoreError::Corrupt(format!("{kind} {name:?} contains a NUL byte").into()))
}

/// `(user, name)` of a key that starts with `user \0 name \0`, and the length of
/// that prefix.
pub(super) fn split_scope(key: &[u8]) -> StoreResult<(String, String, usize)> {
    let user = user_of(key)?;
    let rest = &key[user.len() + 1..];
    let name = rest
        .iter()
        .position(|b| *b == 0)
        .map(|at| &rest[..at])
        .ok_or_else(|| corrupt_key("scoped", key))?;
    let len = user.len() + 1 + name.len() + 1;
    Ok((utf8(user, key)?, utf8(name, key)?, len))
}

/// The user part of a user-scoped key (everything before the first NUL).
pub(super) fn user_of(key: &[u8]) -> StoreResult<&[u8]> {
    key.iter()
        .position(|b| *b == 0)
        .map(|at| &key[..at])
        .ok_or_else(|| corrupt_key("user-scoped", key))
}

/// The part of a user-scoped key after `user \0`.
fn tail_of(key: &[u8]) -> StoreResult<&[u8]> {
    let user = user_of(key)?;
    Ok(&key[user.len() + 1..])
}

pub(super) fn message_key(user: &str, id: &str) -> Vec<u8> {
    user_key(user, id.as_bytes())
}

/// The message id of a `MESSAGES` key.
pub(super) fn message_id_of(key: &[u8]) -> StoreResult<String> {
    utf8(tail_of(key)?, key)
}

/// `due BE ++ user \0 id`.
pub(super) fn due_key(due: UnixMillis, user: &str, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + user.len() + 1 + id.len());
    key.extend_from_slice(&due.to_be_bytes());
    key.extend_from_slice(user.as_bytes());
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key
}

pub(super) fn parse_due_key(key: &[u8]) -> StoreResult<DueKey> {
    let (due, user, id) = parse_timed_key(key)?;
    Ok(DueKey::new(due, user, id))
}

/// `(time, user, id)` of a key laid out like [`due_key`] (`DUE`, `SCHEDULE_DUE`).
pub(super) fn parse_timed_key(key: &[u8]) -> StoreResult<(UnixMillis, String, String)> {
    let (time, rest) = split_time(key)?;
    let user = user_of(rest)?;
    Ok((time, utf8(user, key)?, utf8(&rest[user.len() + 1..], key)?))
}

/// `at BE ++ inner`: the key of an expiry index, pointing at `inner` in the main table.
pub(super) fn expiry_key(at: UnixMillis, inner: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + inner.len());
    key.extend_from_slice(&at.to_be_bytes());
    key.extend_from_slice(inner);
    key
}

/// Splits a key that starts with a big-endian time (`DUE` and the expiry indexes).
pub(super) fn split_time(key: &[u8]) -> StoreResult<(UnixMillis, &[u8])> {
    match key.split_first_chunk::<8>() {
        Some((time, rest)) => Ok((u64::from_be_bytes(*time), rest)),
        None => Err(corrupt_key("time-prefixed", key)),
    }
}

/// Upper bound of "time <= `at`" over time-prefixed keys: every key whose first
/// eight bytes are <= `at` sorts before `(at + 1) BE` (a longer key with that prefix
/// sorts after it).
pub(super) fn time_upper_bound(at: UnixMillis) -> Option<[u8; 8]> {
    at.checked_add(1).map(u64::to_be_bytes)
}

/// `user \0 failed_at BE ++ seq BE`.
pub(super) fn dlq_key(user: &str, failed_at: UnixMillis, seq: u64) -> Vec<u8> {
    let mut tail = [0u8; 16];
    tail[..8].copy_from_slice(&failed_at.to_be_bytes());
    tail[8..].copy_from_slice(&seq.to_be_bytes());
    user_key(user, &tail)
}

/// DLQ ids (also the DLQ's cursors) are read by core, next to where they are made.
pub(super) use depesha_core::dlq::parse_dlq_id;

/// The DLQ id a `DLQ` key stands for.
pub(super) fn dlq_id_of(key: &[u8]) -> StoreResult<String> {
    let tail = tail_of(key)?;
    match tail.split_first_chunk::<8>() {
        Some((failed_at, seq)) if seq.len() == 8 => {
            let mut seq8 = [0u8; 8];
            seq8.copy_from_slice(seq);
            Ok(depesha_core::dlq::dlq_id(
                u64::from_be_bytes(*failed_at),
                u64::from_be_bytes(seq8),
            ))
        }
        _ => Err(corrupt_key("DLQ", key)),
    }
}

/// `user \0 seq BE`.
pub(super) fn log_key(user: &str, seq: u64) -> Vec<u8> {
    user_key(user, &seq.to_be_bytes())
}

/// The `seq` of a `LOGS` key.
pub(super) fn seq_of(key: &[u8]) -> StoreResult<u64> {
    let tail = tail_of(key)?;
    let seq: [u8; 8] = tail.try_into().map_err(|_| corrupt_key("log", key))?;
    Ok(u64::from_be_bytes(seq))
}

/// `<scope> ++ enqueued_at BE ++ seq BE`, `scope` from [`scope`].
pub(super) fn queue_item_key(scope: &[u8], position: QueuePosition) -> Vec<u8> {
    let mut key = Vec::with_capacity(scope.len() + 16);
    key.extend_from_slice(scope);
    key.extend_from_slice(&position.enqueued_at.to_be_bytes());
    key.extend_from_slice(&position.seq.to_be_bytes());
    key
}

/// The position of a `QUEUE_ITEMS` key (its last 16 bytes).
pub(super) fn queue_position_of(key: &[u8]) -> StoreResult<QueuePosition> {
    match key.last_chunk::<16>() {
        Some(tail) if key.len() > 16 => {
            let mut enqueued_at = [0u8; 8];
            let mut seq = [0u8; 8];
            enqueued_at.copy_from_slice(&tail[..8]);
            seq.copy_from_slice(&tail[8..]);
            Ok(QueuePosition {
                enqueued_at: u64::from_be_bytes(enqueued_at),
                seq: u64::from_be_bytes(seq),
            })
        }
        _ => Err(corrupt_key("queue item", key)),
    }
}

/// `<scope> ++ due BE ++ id`, `scope` from [`scope`].
pub(super) fn flow_wait_key(scope: &[u8], due: UnixMillis, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(scope.len() + 8 + id.len());
    key.extend_from_slice(scope);
    key.extend_from_slice(&due.to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    key
}

/// The message a `FLOW_WAIT` key lists.
pub(super) fn flow_wait_entry_of(key: &[u8]) -> StoreResult<MessageRef> {
    let (user, _, len) = split_scope(key)?;
    let (_, id) = split_time(&key[len..])?;
    Ok(MessageRef::new(user, utf8(id, key)?))
}

/// `user \0 dedup-key`.
pub(super) fn dedup_key(user: &str, key: &str) -> Vec<u8> {
    user_key(user, key.as_bytes())
}

fn utf8(bytes: &[u8], key: &[u8]) -> StoreResult<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| corrupt_key("UTF-8", key))
}

fn corrupt_key(kind: &str, key: &[u8]) -> StoreError {
    StoreError::Corrupt(format!("malformed {kind} key {key:02x?}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_round_trip_and_sort_by_due_first() {
        let a = due_key(5, "zed", "m1");
        let b = due_key(6, "amy", "m0");
        assert!(a < b);
        let parsed = parse_due_key(&a).expect("valid key");
        assert_eq!(parsed, DueKey::new(5, "zed", "m1"));
    }

    #[test]
    fn time_upper_bound_excludes_the_next_millisecond() {
        let bound = time_upper_bound(10).expect("not max");
        assert!(due_key(10, "u", "x").as_slice() < bound.as_slice());
        assert!(due_key(11, "", "").as_slice() > bound.as_slice());
        assert_eq!(time_upper_bound(u64::MAX), None);
    }

    #[test]
    fn dlq_keys_give_back_their_ids() {
        let key = dlq_key("u", 1725323658779, 3);
        assert_eq!(dlq_id_of(&key).expect("valid"), "1725323658779-3");
    }

    #[test]
    fn scoped_keys_round_trip_and_stay_in_their_scope() {
        let q = scope("u", "q").expect("no NUL");
        let position = QueuePosition {
            enqueued_at: 7,
            seq: u64::MAX,
        };
        let item = queue_item_key(&q, position);
        assert_eq!(queue_position_of(&item).expect("valid"), position);
        assert_eq!(
            split_scope(&item).expect("valid"),
            ("u".into(), "q".into(), 4)
        );
        let (start, end) = prefix_range(q.clone());
        let longer = queue_item_key(&scope("u", "q2").expect("no NUL"), position);
        assert!(start.as_slice() <= item.as_slice() && item.as_slice() < end.as_slice());
        assert!(!(start.as_slice() <= longer.as_slice() && longer.as_slice() < end.as_slice()));

        let wait = flow_wait_key(&scope("u", "k").expect("no NUL"), 9, "m\0x");
        assert_eq!(
            flow_wait_entry_of(&wait).expect("valid"),
            MessageRef::new("u", "m\0x")
        );
        assert_eq!(scope("u", "a\0b"), None);
        assert!(matches!(
            write_scope("u", "queue", "a\0b"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn user_ranges_do_not_overlap_prefixes() {
        let (start, end) = user_range("ab");
        let own = log_key("ab", u64::MAX);
        let other = log_key("abc", 0);
        assert!(start.as_slice() <= own.as_slice() && own.as_slice() < end.as_slice());
        assert!(!(start.as_slice() <= other.as_slice() && other.as_slice() < end.as_slice()));
        assert_eq!(seq_of(&own).expect("valid"), u64::MAX);
    }
}
