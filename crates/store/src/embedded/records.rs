//! Plain records: tables keyed `user \0 name` whose values are one postcard value,
//! read and written whole — URL groups (`GROUPS`), queue settings (`QUEUES`) and
//! flow-control keys (`FLOW_KEYS`), plus the reads of schedules (`SCHEDULES`, whose
//! writes keep an index and live in `schedules.rs`). Listings are one range scan of the
//! user's rows, so they come back in name order.

use depesha_core::flow_key::FlowKey;
use depesha_core::queue::Queue;
use depesha_core::url_group::UrlGroup;
use redb::{Database, ReadableTable, Table, TableDefinition, WriteTransaction};

use super::codec::{decode, encode, io};
use super::commit::{table, Bytes, Tx};
use super::reads::read;
use super::stored::Record;
use super::tables::{self as t, user_key, user_range};
use crate::StoreResult;

/// The record `name` of `user`.
pub(super) fn record<T: Record>(
    db: &Database,
    definition: TableDefinition<Bytes, Bytes>,
    user: &str,
    name: &str,
) -> StoreResult<Option<T>> {
    let table = read(db, definition)?;
    let value = table
        .get(user_key(user, name.as_bytes()).as_slice())
        .map_err(io)?;
    value.map(|v| decode(v.value())).transpose()
}

/// All of `user`'s records, by name.
pub(super) fn records<T: Record>(
    db: &Database,
    definition: TableDefinition<Bytes, Bytes>,
    user: &str,
) -> StoreResult<Vec<T>> {
    let table = read(db, definition)?;
    let (start, end) = user_range(user);
    let mut found = Vec::new();
    for item in table
        .range::<&[u8]>(start.as_slice()..end.as_slice())
        .map_err(io)?
    {
        let (_, value) = item.map_err(io)?;
        found.push(decode(value.value())?);
    }
    Ok(found)
}

fn put<'t, T: Record>(
    slot: &mut Option<Table<'t, Bytes, Bytes>>,
    txn: &'t WriteTransaction,
    definition: TableDefinition<Bytes, Bytes>,
    user: &str,
    name: &str,
    value: &T,
) -> StoreResult<()> {
    table(slot, txn, definition)?
        .insert(
            user_key(user, name.as_bytes()).as_slice(),
            encode(value)?.as_slice(),
        )
        .map_err(io)?;
    Ok(())
}

fn delete<'t>(
    slot: &mut Option<Table<'t, Bytes, Bytes>>,
    txn: &'t WriteTransaction,
    definition: TableDefinition<Bytes, Bytes>,
    user: &str,
    name: &str,
) -> StoreResult<()> {
    table(slot, txn, definition)?
        .remove(user_key(user, name.as_bytes()).as_slice())
        .map_err(io)?;
    Ok(())
}

impl Tx<'_> {
    pub(super) fn put_group(&mut self, group: &UrlGroup) -> StoreResult<()> {
        put(
            &mut self.groups,
            self.txn,
            t::GROUPS,
            &group.user,
            &group.name,
            group,
        )
    }

    pub(super) fn delete_group(&mut self, user: &str, name: &str) -> StoreResult<()> {
        delete(&mut self.groups, self.txn, t::GROUPS, user, name)
    }

    pub(super) fn put_queue(&mut self, queue: &Queue) -> StoreResult<()> {
        put(
            &mut self.queues,
            self.txn,
            t::QUEUES,
            &queue.user,
            &queue.name,
            queue,
        )
    }

    /// The queue record only: its items and their messages are the caller's to remove.
    pub(super) fn delete_queue(&mut self, user: &str, name: &str) -> StoreResult<()> {
        delete(&mut self.queues, self.txn, t::QUEUES, user, name)
    }

    /// The queue's settings, as this transaction sees them.
    pub(super) fn queue_record(&mut self, user: &str, name: &str) -> StoreResult<Option<Queue>> {
        let queues = table(&mut self.queues, self.txn, t::QUEUES)?;
        let value = queues
            .get(user_key(user, name.as_bytes()).as_slice())
            .map_err(io)?;
        value.map(|v| decode(v.value())).transpose()
    }

    pub(super) fn put_flow_key(&mut self, key: &FlowKey) -> StoreResult<()> {
        put(
            &mut self.flow_keys,
            self.txn,
            t::FLOW_KEYS,
            &key.user,
            &key.key,
            key,
        )
    }
}
