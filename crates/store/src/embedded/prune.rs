//! Retention: one write transaction per `prune` call, at most `limit` rows per kind.
//!
//! Messages, DLQ entries and deduplication claims are found through their expiry
//! indexes (a range scan up to `now`). Logs have no time index: their keys are
//! `user \0 seq` and seq grows with time, so each user's oldest entries come first.
//! Prune visits users one after another (skipping from `user\0` to `user\x01`) and
//! deletes from the front of each user's log while `time < logs_before`. Where it
//! stopped is remembered in memory, so the next call carries on with the next user
//! rather than always starting over; a call visits at most `limit` users.
//!
//! Times of successive log entries are only roughly ordered (an entry built a
//! millisecond earlier can be committed later); a straggler older than the cutoff
//! behind a newer entry waits for the next pass, when the cutoff has moved on.

use std::ops::Bound;
use std::sync::Mutex;

use depesha_core::dlq::DlqEntry;
use depesha_core::UnixMillis;
use redb::{Database, ReadableTable, Table};

use super::codec::{decode, io, log_time, MessageHead};
use super::commit::{make_durable, table, DedupClaim};
use super::tables::{self as t, split_time, time_upper_bound, user_of, KeyBounds};
use crate::{PruneStats, StoreResult};

type Bytes = &'static [u8];

pub(super) fn prune(
    db: &Database,
    log_cursor: &Mutex<Vec<u8>>,
    now: UnixMillis,
    logs_before: UnixMillis,
    limit: usize,
) -> StoreResult<PruneStats> {
    let mut stats = PruneStats::default();
    if limit == 0 {
        return Ok(stats);
    }
    let mut txn = db.begin_write().map_err(io)?;
    make_durable(&mut txn)?;
    let (touched, next_log_cursor) = {
        let mut messages = None;
        let mut expiry = None;
        let mut touched = false;

        // Delivered messages.
        let index = table(&mut expiry, &txn, t::MESSAGE_EXPIRY)?;
        for key in expired(index, now, limit)? {
            touched = true;
            index.remove(key.as_slice()).map_err(io)?;
            let (at, message_key) = split_time(&key)?;
            let messages = table(&mut messages, &txn, t::MESSAGES)?;
            let head = messages.get(message_key).map_err(io)?;
            let head = head.map(|v| MessageHead::read(v.value())).transpose()?;
            // The index is kept in step by every write; the check is a second lock on
            // the door that must never open for a pending message.
            if head.is_some_and(|h| h.expiry() == Some(at)) {
                messages.remove(message_key).map_err(io)?;
                stats.messages += 1;
            }
        }

        // DLQ entries.
        let mut dlq = None;
        let mut expiry = None;
        let index = table(&mut expiry, &txn, t::DLQ_EXPIRY)?;
        for key in expired(index, now, limit)? {
            touched = true;
            index.remove(key.as_slice()).map_err(io)?;
            let (at, dlq_key) = split_time(&key)?;
            let dlq = table(&mut dlq, &txn, t::DLQ)?;
            let entry = dlq.get(dlq_key).map_err(io)?;
            let entry = entry.map(|v| decode::<DlqEntry>(v.value())).transpose()?;
            if entry.is_some_and(|e| e.expires_at == at) {
                dlq.remove(dlq_key).map_err(io)?;
                stats.dlq_entries += 1;
            }
        }

        // Deduplication claims.
        let mut dedup = None;
        let mut expiry = None;
        let index = table(&mut expiry, &txn, t::DEDUP_EXPIRY)?;
        for key in expired(index, now, limit)? {
            touched = true;
            index.remove(key.as_slice()).map_err(io)?;
            let (at, dedup_key) = split_time(&key)?;
            let dedup = table(&mut dedup, &txn, t::DEDUP)?;
            let claim = dedup.get(dedup_key).map_err(io)?;
            let claim = claim.map(|v| decode::<DedupClaim>(v.value())).transpose()?;
            if claim.is_some_and(|(_, expires_at)| expires_at == at) {
                dedup.remove(dedup_key).map_err(io)?;
                stats.dedup_keys += 1;
            }
        }

        // Logs.
        let resume = log_cursor.lock().map(|c| c.clone()).unwrap_or_default();
        let mut logs = txn.open_table(t::LOGS).map_err(io)?;
        let (deleted, cursor) = prune_logs(&mut logs, resume, logs_before, limit)?;
        stats.log_entries = deleted;
        touched |= deleted > 0;
        (touched, cursor)
    };
    if touched {
        txn.commit().map_err(io)?;
    } else {
        txn.abort().map_err(io)?;
    }
    if let Ok(mut slot) = log_cursor.lock() {
        *slot = next_log_cursor;
    }
    Ok(stats)
}

/// Up to `limit` keys of a time-prefixed index with time <= `now`.
fn expired(
    index: &Table<'_, Bytes, ()>,
    now: UnixMillis,
    limit: usize,
) -> StoreResult<Vec<Vec<u8>>> {
    let upper = time_upper_bound(now);
    let bounds: KeyBounds<'_> = (
        Bound::Unbounded,
        upper
            .as_ref()
            .map_or(Bound::Unbounded, |u| Bound::Excluded(u.as_slice())),
    );
    let mut keys = Vec::new();
    for item in index.range::<&[u8]>(bounds).map_err(io)?.take(limit) {
        let (key, _) = item.map_err(io)?;
        keys.push(key.value().to_vec());
    }
    Ok(keys)
}

/// Deletes up to `limit` log entries older than `before`, from the front of each
/// user's log, starting at the key bound `resume`. Returns the number deleted and the
/// bound to resume from next time.
fn prune_logs(
    logs: &mut Table<'_, Bytes, Bytes>,
    resume: Vec<u8>,
    before: UnixMillis,
    limit: usize,
) -> StoreResult<(u64, Vec<u8>)> {
    let mut deleted = 0usize;
    let mut from = resume;
    let mut wrapped = from.is_empty();
    let mut visited = 0usize;
    loop {
        if visited >= limit {
            return Ok((deleted as u64, from));
        }
        // The first key at or after `from`: the next user with log entries.
        let first = logs
            .range::<&[u8]>(from.as_slice()..)
            .map_err(io)?
            .next()
            .transpose()
            .map_err(io)?
            .map(|(k, _)| k.value().to_vec());
        let Some(first) = first else {
            if wrapped {
                return Ok((deleted as u64, Vec::new()));
            }
            wrapped = true;
            from.clear();
            continue;
        };
        visited += 1;
        let user = user_of(&first)?.to_vec();
        let mut user_end = user.clone();
        user_end.push(1);
        let mut old = Vec::new();
        for item in logs
            .range::<&[u8]>(first.as_slice()..user_end.as_slice())
            .map_err(io)?
        {
            let (key, value) = item.map_err(io)?;
            if log_time(value.value())? >= before || deleted + old.len() >= limit {
                break;
            }
            old.push(key.value().to_vec());
        }
        for key in &old {
            logs.remove(key.as_slice()).map_err(io)?;
        }
        deleted += old.len();
        if deleted >= limit {
            // This user may have more: resume with it.
            let mut again = user;
            again.push(0);
            return Ok((deleted as u64, again));
        }
        from = user_end;
    }
}
