//! The write path: one redb write transaction per `commit`, guards evaluated inside it
//! (so they see the writes of earlier units of the same commit), indexes kept in step
//! with every write, fsync before returning.

use depesha_core::dlq::DlqEntry;
use depesha_core::keys::SigningKeys;
use depesha_core::log::LogEntry;
use depesha_core::message::Message;
use depesha_core::UnixMillis;
use redb::{
    Database, Durability, Key, ReadableTable, Table, TableDefinition, Value, WriteTransaction,
};

use super::codec::{decode, decode_message, encode, encode_log, encode_message, io, MessageHead};
use super::tables::{
    self as t, dedup_key, dlq_key, due_key, expiry_key, log_key, message_key, parse_dlq_id,
};
use crate::{Guard, Rejection, StoreError, StoreResult, Taken, Unit, UnitOutcome, Write};

/// The stored value of a deduplication claim.
pub(super) type DedupClaim = (Vec<String>, UnixMillis);

pub(super) fn commit(db: &Database, units: Vec<Unit>) -> StoreResult<Vec<UnitOutcome>> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    let mut txn = db.begin_write().map_err(io)?;
    txn.set_durability(Durability::Immediate).map_err(io)?;
    let outcomes = {
        let mut tx = Tx::new(&txn);
        let mut outcomes = Vec::with_capacity(units.len());
        for unit in units {
            outcomes.push(tx.apply(unit)?);
        }
        tx.finish()?;
        outcomes
    };
    // An early return above drops `txn` uncommitted, which aborts it: nothing applied.
    txn.commit().map_err(io)?;
    Ok(outcomes)
}

type Bytes = &'static [u8];

/// Opens `slot`'s table on first use: a transaction opens each table at most once, and
/// only the tables its units touch.
pub(super) fn table<'s, 't, K: Key + 'static, V: Value + 'static>(
    slot: &'s mut Option<Table<'t, K, V>>,
    txn: &'t WriteTransaction,
    definition: TableDefinition<K, V>,
) -> StoreResult<&'s mut Table<'t, K, V>> {
    let table = match slot.take() {
        Some(table) => table,
        None => txn.open_table(definition).map_err(io)?,
    };
    Ok(slot.insert(table))
}

/// The open tables of one write transaction.
pub(super) struct Tx<'t> {
    txn: &'t WriteTransaction,
    messages: Option<Table<'t, Bytes, Bytes>>,
    due: Option<Table<'t, Bytes, ()>>,
    message_expiry: Option<Table<'t, Bytes, ()>>,
    dlq: Option<Table<'t, Bytes, Bytes>>,
    dlq_expiry: Option<Table<'t, Bytes, ()>>,
    logs: Option<Table<'t, Bytes, Bytes>>,
    dedup: Option<Table<'t, Bytes, Bytes>>,
    dedup_expiry: Option<Table<'t, Bytes, ()>>,
    keys: Option<Table<'t, &'static str, Bytes>>,
    /// Last log seq handed out, loaded from `META` on the first `AppendLog`.
    log_seq: Option<u64>,
    log_seq_dirty: bool,
}

impl<'t> Tx<'t> {
    fn new(txn: &'t WriteTransaction) -> Self {
        Tx {
            txn,
            messages: None,
            due: None,
            message_expiry: None,
            dlq: None,
            dlq_expiry: None,
            logs: None,
            dedup: None,
            dedup_expiry: None,
            keys: None,
            log_seq: None,
            log_seq_dirty: false,
        }
    }

    fn apply(&mut self, unit: Unit) -> StoreResult<UnitOutcome> {
        let taken = match unit.guard {
            None => Taken::Nothing,
            Some(guard) => match self.guard(guard)? {
                Ok(taken) => taken,
                Err(rejection) => return Ok(UnitOutcome::Rejected(rejection)),
            },
        };
        for write in unit.writes {
            self.write(write)?;
        }
        Ok(UnitOutcome::Applied(taken))
    }

    /// Checks a guard and, when it holds, applies its own change (claim, take).
    fn guard(&mut self, guard: Guard) -> StoreResult<Result<Taken, Rejection>> {
        match guard {
            Guard::ClaimDedup {
                user,
                key,
                message_ids,
                expires_at,
            } => {
                let key = dedup_key(&user, &key);
                let dedup = table(&mut self.dedup, self.txn, t::DEDUP)?;
                // A stored claim is live until prune removes it (see the module docs).
                if let Some(existing) = dedup.get(key.as_slice()).map_err(io)? {
                    let (ids, _): DedupClaim = decode(existing.value())?;
                    return Ok(Err(Rejection::Duplicate(ids)));
                }
                dedup
                    .insert(
                        key.as_slice(),
                        encode(&(message_ids, expires_at))?.as_slice(),
                    )
                    .map_err(io)?;
                table(&mut self.dedup_expiry, self.txn, t::DEDUP_EXPIRY)?
                    .insert(expiry_key(expires_at, &key).as_slice(), ())
                    .map_err(io)?;
                Ok(Ok(Taken::Nothing))
            }
            Guard::TakePendingMessage { user, id } => {
                let key = message_key(&user, &id);
                match self.message_head(&key)? {
                    Some(head) if head.pending => {}
                    _ => return Ok(Err(Rejection::NotFound)),
                }
                let Some(message) = self.delete_message(&key, &user, &id)? else {
                    return Ok(Err(Rejection::NotFound));
                };
                Ok(Ok(Taken::Message(Box::new(message))))
            }
            Guard::MessageAt { user, id, retried } => {
                match self.message_head(&message_key(&user, &id))? {
                    Some(head) if head.pending && head.retried == retried => Ok(Ok(Taken::Nothing)),
                    _ => Ok(Err(Rejection::NotFound)),
                }
            }
            Guard::TakeDlq { user, dlq_id } => {
                let Some((failed_at, seq)) = parse_dlq_id(&dlq_id) else {
                    return Ok(Err(Rejection::NotFound));
                };
                let key = dlq_key(&user, failed_at, seq);
                let removed = table(&mut self.dlq, self.txn, t::DLQ)?
                    .remove(key.as_slice())
                    .map_err(io)?
                    .map(|old| decode::<DlqEntry>(old.value()))
                    .transpose()?;
                let Some(entry) = removed else {
                    return Ok(Err(Rejection::NotFound));
                };
                table(&mut self.dlq_expiry, self.txn, t::DLQ_EXPIRY)?
                    .remove(expiry_key(entry.expires_at, &key).as_slice())
                    .map_err(io)?;
                Ok(Ok(Taken::Dlq(Box::new(entry))))
            }
        }
    }

    fn write(&mut self, write: Write) -> StoreResult<()> {
        match write {
            Write::PutMessage(message) => self.put_message(&message),
            Write::DeleteMessage { user, id } => self
                .delete_message(&message_key(&user, &id), &user, &id)
                .map(drop),
            Write::PutDlq(entry) => self.put_dlq(&entry),
            Write::AppendLog(entry) => self.append_log(entry),
            Write::PutKeys { user, keys } => self.put_keys(&user, &keys),
        }
    }

    fn message_head(&mut self, key: &[u8]) -> StoreResult<Option<MessageHead>> {
        let messages = table(&mut self.messages, self.txn, t::MESSAGES)?;
        let head = messages.get(key).map_err(io)?;
        head.map(|v| MessageHead::read(v.value())).transpose()
    }

    /// Upsert, moving the message's `DUE` / `MESSAGE_EXPIRY` entries with it.
    fn put_message(&mut self, message: &Message) -> StoreResult<()> {
        let key = message_key(&message.user, &message.id);
        let (new, value) = encode_message(message)?;
        let old = {
            let messages = table(&mut self.messages, self.txn, t::MESSAGES)?;
            let old = messages
                .insert(key.as_slice(), value.as_slice())
                .map_err(io)?;
            old.map(|v| MessageHead::read(v.value())).transpose()?
        };
        let old_due = old.and_then(|h| h.due_at());
        if old_due != new.due_at() {
            let due = table(&mut self.due, self.txn, t::DUE)?;
            if let Some(at) = old_due {
                due.remove(due_key(at, &message.user, &message.id).as_slice())
                    .map_err(io)?;
            }
            if let Some(at) = new.due_at() {
                due.insert(due_key(at, &message.user, &message.id).as_slice(), ())
                    .map_err(io)?;
            }
        }
        let old_expiry = old.and_then(|h| h.expiry());
        if old_expiry != new.expiry() {
            let expiry = table(&mut self.message_expiry, self.txn, t::MESSAGE_EXPIRY)?;
            if let Some(at) = old_expiry {
                expiry.remove(expiry_key(at, &key).as_slice()).map_err(io)?;
            }
            if let Some(at) = new.expiry() {
                expiry
                    .insert(expiry_key(at, &key).as_slice(), ())
                    .map_err(io)?;
            }
        }
        Ok(())
    }

    /// Removes a message and its index entries; returns it when it was there.
    fn delete_message(&mut self, key: &[u8], user: &str, id: &str) -> StoreResult<Option<Message>> {
        let removed = {
            let messages = table(&mut self.messages, self.txn, t::MESSAGES)?;
            let old = messages.remove(key).map_err(io)?;
            old.map(|v| decode_message(v.value())).transpose()?
        };
        let Some(message) = removed else {
            return Ok(None);
        };
        let head = MessageHead::of(&message);
        if let Some(at) = head.due_at() {
            table(&mut self.due, self.txn, t::DUE)?
                .remove(due_key(at, user, id).as_slice())
                .map_err(io)?;
        }
        if let Some(at) = head.expiry() {
            table(&mut self.message_expiry, self.txn, t::MESSAGE_EXPIRY)?
                .remove(expiry_key(at, key).as_slice())
                .map_err(io)?;
        }
        Ok(Some(message))
    }

    fn put_dlq(&mut self, entry: &DlqEntry) -> StoreResult<()> {
        let (failed_at, seq) = parse_dlq_id(&entry.dlq_id).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "DLQ id \"{}\" is not of the form <failed_at>-<seq>",
                entry.dlq_id
            ))
        })?;
        let key = dlq_key(&entry.message.user, failed_at, seq);
        let value = encode(entry)?;
        let old_expiry = {
            let dlq = table(&mut self.dlq, self.txn, t::DLQ)?;
            let old = dlq.insert(key.as_slice(), value.as_slice()).map_err(io)?;
            old.map(|v| decode::<DlqEntry>(v.value()).map(|e| e.expires_at))
                .transpose()?
        };
        if old_expiry != Some(entry.expires_at) {
            let expiry = table(&mut self.dlq_expiry, self.txn, t::DLQ_EXPIRY)?;
            if let Some(at) = old_expiry {
                expiry.remove(expiry_key(at, &key).as_slice()).map_err(io)?;
            }
            expiry
                .insert(expiry_key(entry.expires_at, &key).as_slice(), ())
                .map_err(io)?;
        }
        Ok(())
    }

    fn append_log(&mut self, mut entry: LogEntry) -> StoreResult<()> {
        let last = match self.log_seq {
            Some(last) => last,
            None => {
                let meta = self.txn.open_table(t::META).map_err(io)?;
                let last = meta.get(t::META_LOG_SEQ).map_err(io)?.map(|v| v.value());
                last.unwrap_or(0)
            }
        };
        let seq = last
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt("log sequence exhausted".into()))?;
        self.log_seq = Some(seq);
        self.log_seq_dirty = true;
        entry.seq = seq;
        let key = log_key(&entry.user, seq);
        table(&mut self.logs, self.txn, t::LOGS)?
            .insert(key.as_slice(), encode_log(&entry)?.as_slice())
            .map_err(io)?;
        Ok(())
    }

    fn put_keys(&mut self, user: &str, keys: &SigningKeys) -> StoreResult<()> {
        table(&mut self.keys, self.txn, t::KEYS)?
            .insert(user, encode(keys)?.as_slice())
            .map_err(io)?;
        Ok(())
    }

    /// Persists the log counter; drops the tables so the transaction can commit.
    fn finish(self) -> StoreResult<()> {
        if let (true, Some(seq)) = (self.log_seq_dirty, self.log_seq) {
            let mut meta = self.txn.open_table(t::META).map_err(io)?;
            meta.insert(t::META_LOG_SEQ, seq).map_err(io)?;
        }
        Ok(())
    }
}
