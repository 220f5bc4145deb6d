//! The write path: one redb write transaction per `commit`, guards evaluated inside it
//! (so they see the writes of earlier units of the same commit), indexes kept in step
//! with every write, made durable by the journal before it is committed.
//!
//! This file holds the transaction ([`Tx`]), the guards, and the writes of messages,
//! DLQ entries, logs and keys. The writes of the other concerns are `impl Tx` blocks
//! in their own files: `records.rs` (groups, queues, flow keys), `queues.rs` (queue
//! items, `FillQueue`), `flow.rs` (`ReleaseWaiting`), `schedules.rs`.
//!
//! A message's *placement* is the set of index entries its state calls for: `DUE` when
//! pending, `FLOW_WAIT` when waiting, `MESSAGE_EXPIRY` when delivered with an expiry.
//! Every message write computes the old and the new placement and moves the entries
//! that differ, so the indexes always hold exactly what the messages say. Every key a
//! unit puts into (or keeps in) `DUE` through a message write is reported in its
//! outcome's `became_due`, unless a later write of the same unit took it out again.

use depesha_core::dlq::DlqEntry;
use depesha_core::keys::SigningKeys;
use depesha_core::log::LogEntry;
use depesha_core::message::{Message, MessageState};
use depesha_core::UnixMillis;
use redb::{
    Database, Durability, Key, ReadableDatabase, ReadableTable, Table, TableDefinition, Value,
    WriteTransaction,
};

use super::codec::{decode, decode_message, encode, encode_log, encode_message, io, MessageHead};
use super::journal::Journal;
use super::space::DurableGate;
use super::tables::{
    self as t, dedup_key, dlq_key, due_key, expiry_key, flow_wait_key, log_key, message_key,
    parse_dlq_id, write_scope,
};
use crate::{
    Applied, DueKey, Guard, Rejection, StoreError, StoreResult, Taken, Unit, UnitOutcome, Write,
};

/// The stored value of a deduplication claim.
pub(super) use super::stored::DedupClaim;

/// Applies `units` as one commit, made durable by the journal (see `journal.rs`): the
/// units are applied in a redb transaction without durability of its own, their record
/// is appended to the journal and fsync'd, and only then is the transaction committed,
/// so readers never see a commit that is not durable yet. Any failure before the
/// journal append aborts the transaction; a failure after it takes the record back.
///
/// When the journal cannot take the record (a full disk), the commit is tried as a
/// durable redb commit instead, if `gate` allows one; otherwise it fails at once, having
/// changed nothing.
pub(super) fn commit(
    db: &Database,
    journal: &mut Journal,
    gate: &DurableGate,
    units: Vec<Unit>,
) -> StoreResult<Vec<UnitOutcome>> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    journal.check_usable()?;
    // Encoded before applying, which consumes the units.
    let record = encode(&units)?;
    let lsn = journal.next_lsn();
    let started = std::time::Instant::now();
    let mut txn = db.begin_write().map_err(io)?;
    txn.set_durability(Durability::None).map_err(io)?;
    let outcomes = apply(&txn, units, lsn)?;
    let applied = started.elapsed();
    // An early return above drops `txn` uncommitted, which aborts it: nothing applied.
    if let Err(e) = journal.append(lsn, &record) {
        journal.check_usable()?;
        // The journal could not take the record (a full disk, say; the record was taken
        // back). A durable redb commit needs no journal and may still fit in the
        // database's free pages; it makes everything before it durable too, which is a
        // checkpoint: the journal starts again after it. After one such commit failed,
        // the gate stays shut until space comes back, so that a full disk costs each
        // failing write nothing but this attempt to append (dropping `txn` aborts it).
        if !gate.allows(record.len() as u64) {
            return Err(StoreError::Io(
                format!("no room for the commit (the disk is full?): {e}").into(),
            ));
        }
        tracing::warn!("journal append failed, committing to the database directly: {e}");
        make_durable(&mut txn)?;
        if let Err(failed) = txn.commit() {
            gate.failed();
            return Err(io(failed));
        }
        gate.succeeded();
        journal.restart(lsn);
        return Ok(outcomes);
    }
    let journaled = started.elapsed();
    if let Err(e) = txn.commit() {
        journal.revoke_last();
        return Err(io(e));
    }
    tracing::trace!(
        lsn,
        bytes = record.len(),
        apply_us = applied.as_micros() as u64,
        journal_us = (journaled - applied).as_micros() as u64,
        commit_us = (started.elapsed() - journaled).as_micros() as u64,
        "journaled commit"
    );
    Ok(outcomes)
}

/// Applies journaled commits again after a crash (their records, in LSN order) in one
/// transaction. Applying is deterministic — guards and writes depend only on the stored
/// state and the units — so each unit ends as it did the first time.
pub(super) fn replay(
    db: &Database,
    records: &[(u64, Vec<Unit>)],
    durable: bool,
) -> StoreResult<()> {
    let Some(last) = records.last().map(|(lsn, _)| *lsn) else {
        return Ok(());
    };
    let mut txn = db.begin_write().map_err(io)?;
    if durable {
        make_durable(&mut txn)?;
    } else {
        txn.set_durability(Durability::None).map_err(io)?;
    }
    let units = records.iter().flat_map(|(_, units)| units.iter().cloned());
    apply(&txn, units.collect(), last)?;
    txn.commit().map_err(io)
}

/// Makes everything committed so far durable in redb itself (a checkpoint), so that
/// the journal can start again.
pub(super) fn checkpoint(db: &Database, lsn: u64) -> StoreResult<()> {
    let mut txn = db.begin_write().map_err(io)?;
    make_durable(&mut txn)?;
    txn.open_table(t::META)
        .map_err(io)?
        .insert(t::META_JOURNAL_LSN, lsn)
        .map_err(io)?;
    txn.commit().map_err(io)
}

/// Makes `txn` a durable commit that also records redb's allocator state ("quick
/// repair", with a two-phase commit), so that the first open after a crash loads that
/// state instead of walking the whole file to rebuild it: restart after `kill -9` then
/// costs the journal's replay, whatever the store's size. Every durable commit must do
/// so, since each durable commit that does not drops the recorded state. The price is a
/// second fsync and the allocator state's pages per durable commit, which are rare
/// (checkpoints, prunes).
pub(super) fn make_durable(txn: &mut WriteTransaction) -> StoreResult<()> {
    txn.set_durability(Durability::Immediate).map_err(io)?;
    txn.set_quick_repair(true);
    Ok(())
}

/// The LSN of the last journaled commit applied to `db` (0 before the first).
pub(super) fn applied_lsn(db: &Database) -> StoreResult<u64> {
    let txn = db.begin_read().map_err(io)?;
    let meta = txn.open_table(t::META).map_err(io)?;
    let lsn = meta
        .get(t::META_JOURNAL_LSN)
        .map_err(io)?
        .map(|v| v.value());
    Ok(lsn.unwrap_or(0))
}

/// Applies `units` in order inside `txn` and records `lsn` as the last commit applied.
fn apply(txn: &WriteTransaction, units: Vec<Unit>, lsn: u64) -> StoreResult<Vec<UnitOutcome>> {
    let mut tx = Tx::new(txn);
    let mut outcomes = Vec::with_capacity(units.len());
    for unit in units {
        outcomes.push(tx.apply(unit)?);
    }
    tx.finish(lsn)?;
    Ok(outcomes)
}

pub(super) type Bytes = &'static [u8];

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
    pub(super) txn: &'t WriteTransaction,
    pub(super) messages: Option<Table<'t, Bytes, Bytes>>,
    due: Option<Table<'t, Bytes, ()>>,
    message_expiry: Option<Table<'t, Bytes, ()>>,
    dlq: Option<Table<'t, Bytes, Bytes>>,
    dlq_expiry: Option<Table<'t, Bytes, ()>>,
    logs: Option<Table<'t, Bytes, Bytes>>,
    dedup: Option<Table<'t, Bytes, Bytes>>,
    dedup_expiry: Option<Table<'t, Bytes, ()>>,
    keys: Option<Table<'t, &'static str, Bytes>>,
    pub(super) groups: Option<Table<'t, Bytes, Bytes>>,
    pub(super) queues: Option<Table<'t, Bytes, Bytes>>,
    pub(super) queue_items: Option<Table<'t, Bytes, Bytes>>,
    pub(super) flow_keys: Option<Table<'t, Bytes, Bytes>>,
    pub(super) flow_wait: Option<Table<'t, Bytes, ()>>,
    pub(super) schedules: Option<Table<'t, Bytes, Bytes>>,
    pub(super) schedule_due: Option<Table<'t, Bytes, ()>>,
    /// Last log seq handed out, loaded from `META` on the first `AppendLog`.
    log_seq: Option<u64>,
    log_seq_dirty: bool,
    /// The `DUE` keys the current unit's writes have put in (its `became_due`).
    became_due: Vec<DueKey>,
}

/// Where a stored message is indexed besides `MESSAGES` (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Placement {
    head: MessageHead,
    /// The `FLOW_WAIT` key, for a waiting message.
    wait: Option<Vec<u8>>,
}

impl Placement {
    pub(super) fn of(message: &Message) -> StoreResult<Self> {
        Ok(Placement {
            head: MessageHead::of(message),
            wait: wait_key(message)?,
        })
    }

    /// The placement of a stored value: reads the header, and decodes the message only
    /// when it is waiting (its flow-control key is in the body).
    fn read(value: &[u8]) -> StoreResult<Self> {
        let head = MessageHead::read(value)?;
        let wait = match head.state {
            MessageState::Waiting => wait_key(&decode_message(value)?)?,
            _ => None,
        };
        Ok(Placement { head, wait })
    }

    pub(super) fn wait(&self) -> Option<&[u8]> {
        self.wait.as_deref()
    }
}

/// The `FLOW_WAIT` key of a waiting message. A waiting message without a flow-control
/// key could never be released: writing one fails the commit (a caller bug).
fn wait_key(message: &Message) -> StoreResult<Option<Vec<u8>>> {
    if message.state != MessageState::Waiting {
        return Ok(None);
    }
    let flow = message.flow_control.as_ref().ok_or_else(|| {
        StoreError::Corrupt(
            format!("waiting message {} has no flow-control key", message.id).into(),
        )
    })?;
    let scope = write_scope(&message.user, "flow-control key", &flow.key)?;
    Ok(Some(flow_wait_key(&scope, message.due, &message.id)))
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
            groups: None,
            queues: None,
            queue_items: None,
            flow_keys: None,
            flow_wait: None,
            schedules: None,
            schedule_due: None,
            log_seq: None,
            log_seq_dirty: false,
            became_due: Vec::new(),
        }
    }

    fn apply(&mut self, unit: Unit) -> StoreResult<UnitOutcome> {
        self.became_due.clear();
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
        Ok(UnitOutcome::Applied(Applied {
            taken,
            became_due: std::mem::take(&mut self.became_due),
        }))
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
                    Some(head) if head.state.is_unfinished() => {}
                    _ => return Ok(Err(Rejection::NotFound)),
                }
                let Some(message) = self.delete_message(&key, &user, &id)? else {
                    return Ok(Err(Rejection::NotFound));
                };
                Ok(Ok(Taken::Message(Box::new(message))))
            }
            Guard::MessageAt { user, id, retried } => {
                match self.message_head(&message_key(&user, &id))? {
                    Some(head) if head.is_pending() && head.retried == retried => {
                        Ok(Ok(Taken::Nothing))
                    }
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
            Guard::ScheduleAt {
                user,
                id,
                next_schedule_time,
            } => Ok(if self.schedule_at(&user, &id, next_schedule_time)? {
                Ok(Taken::Nothing)
            } else {
                Err(Rejection::NotFound)
            }),
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
            Write::PutGroup(group) => self.put_group(&group),
            Write::DeleteGroup { user, name } => self.delete_group(&user, &name),
            Write::PutQueue(queue) => self.put_queue(&queue),
            Write::DeleteQueue { user, name } => self.delete_queue(&user, &name),
            Write::PutQueueItem {
                user,
                queue,
                position,
                holder,
            } => self.put_queue_item(&user, &queue, position, &holder),
            Write::DeleteQueueItem {
                user,
                queue,
                position,
            } => self.delete_queue_item(&user, &queue, position),
            Write::FillQueue { user, queue, now } => self.fill_queue(&user, &queue, now),
            Write::PutFlowKey(key) => self.put_flow_key(&key),
            Write::ReleaseWaiting {
                user,
                key,
                count,
                now,
            } => self.release_waiting(&user, &key, count, now),
            Write::PutSchedule(schedule) => self.put_schedule(&schedule),
            Write::DeleteSchedule { user, id } => self.delete_schedule(&user, &id),
            Write::RecordScheduleResult {
                user,
                schedule_id,
                message_id,
                delivered,
            } => self.record_schedule_result(&user, &schedule_id, message_id, delivered),
        }
    }

    fn message_head(&mut self, key: &[u8]) -> StoreResult<Option<MessageHead>> {
        let messages = table(&mut self.messages, self.txn, t::MESSAGES)?;
        let head = messages.get(key).map_err(io)?;
        head.map(|v| MessageHead::read(v.value())).transpose()
    }

    /// Upsert, moving the message's index entries with it.
    pub(super) fn put_message(&mut self, message: &Message) -> StoreResult<()> {
        self.put_message_over(message, None)
    }

    /// Upsert; `known` is the stored version's placement when the caller has it at
    /// hand (it then need not be read back from the old value).
    pub(super) fn put_message_over(
        &mut self,
        message: &Message,
        mut known: Option<Placement>,
    ) -> StoreResult<()> {
        let key = message_key(&message.user, &message.id);
        let (head, value) = encode_message(message)?;
        let new = Placement {
            head,
            wait: wait_key(message)?,
        };
        let old = {
            let messages = table(&mut self.messages, self.txn, t::MESSAGES)?;
            let old = messages
                .insert(key.as_slice(), value.as_slice())
                .map_err(io)?;
            match old {
                None => None,
                Some(old) => match known.take() {
                    Some(known) => Some(known),
                    None => Some(Placement::read(old.value())?),
                },
            }
        };
        self.place(&key, &message.user, &message.id, old.as_ref(), Some(&new))
    }

    /// Removes a message and its index entries; returns it when it was there.
    pub(super) fn delete_message(
        &mut self,
        key: &[u8],
        user: &str,
        id: &str,
    ) -> StoreResult<Option<Message>> {
        let removed = {
            let messages = table(&mut self.messages, self.txn, t::MESSAGES)?;
            let old = messages.remove(key).map_err(io)?;
            old.map(|v| decode_message(v.value())).transpose()?
        };
        let Some(message) = removed else {
            return Ok(None);
        };
        let old = Placement::of(&message)?;
        self.place(key, user, id, Some(&old), None)?;
        Ok(Some(message))
    }

    /// Moves a message's index entries from its `old` placement to its `new` one
    /// (`None`: not stored), and notes the `DUE` key of a pending message.
    fn place(
        &mut self,
        key: &[u8],
        user: &str,
        id: &str,
        old: Option<&Placement>,
        new: Option<&Placement>,
    ) -> StoreResult<()> {
        let old_due = old.and_then(|p| p.head.due_at());
        let new_due = new.and_then(|p| p.head.due_at());
        if old_due != new_due {
            let due = table(&mut self.due, self.txn, t::DUE)?;
            if let Some(at) = old_due {
                due.remove(due_key(at, user, id).as_slice()).map_err(io)?;
                self.became_due.retain(|k| !is_due_key(k, at, user, id));
            }
            if let Some(at) = new_due {
                due.insert(due_key(at, user, id).as_slice(), ())
                    .map_err(io)?;
            }
        }
        if let Some(at) = new_due {
            let noted = self.became_due.iter().any(|k| is_due_key(k, at, user, id));
            if !noted {
                self.became_due.push(DueKey::new(at, user, id));
            }
        }
        let old_wait = old.and_then(Placement::wait);
        let new_wait = new.and_then(Placement::wait);
        if old_wait != new_wait {
            let wait = table(&mut self.flow_wait, self.txn, t::FLOW_WAIT)?;
            if let Some(old) = old_wait {
                wait.remove(old).map_err(io)?;
            }
            if let Some(new) = new_wait {
                wait.insert(new, ()).map_err(io)?;
            }
        }
        let old_expiry = old.and_then(|p| p.head.expiry());
        let new_expiry = new.and_then(|p| p.head.expiry());
        if old_expiry != new_expiry {
            let expiry = table(&mut self.message_expiry, self.txn, t::MESSAGE_EXPIRY)?;
            if let Some(at) = old_expiry {
                expiry.remove(expiry_key(at, key).as_slice()).map_err(io)?;
            }
            if let Some(at) = new_expiry {
                expiry
                    .insert(expiry_key(at, key).as_slice(), ())
                    .map_err(io)?;
            }
        }
        Ok(())
    }

    fn put_dlq(&mut self, entry: &DlqEntry) -> StoreResult<()> {
        let (failed_at, seq) = parse_dlq_id(&entry.dlq_id).ok_or_else(|| {
            StoreError::Corrupt(
                format!(
                    "DLQ id \"{}\" is not of the form <failed_at>-<seq>",
                    entry.dlq_id
                )
                .into(),
            )
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

    /// Persists the log counter and the journal LSN of this commit; drops the tables so
    /// the transaction can commit.
    fn finish(self, lsn: u64) -> StoreResult<()> {
        let mut meta = self.txn.open_table(t::META).map_err(io)?;
        if let (true, Some(seq)) = (self.log_seq_dirty, self.log_seq) {
            meta.insert(t::META_LOG_SEQ, seq).map_err(io)?;
        }
        meta.insert(t::META_JOURNAL_LSN, lsn).map_err(io)?;
        Ok(())
    }
}

/// Whether `key` is message `id` of `user` at `due` (without building a key to compare).
fn is_due_key(key: &DueKey, due: UnixMillis, user: &str, id: &str) -> bool {
    key.due == due && key.message.user == user && key.message.id == id
}
