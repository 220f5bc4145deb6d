//! Queue items (`QUEUE_ITEMS`) and letting a queue through (`FillQueue`).
//!
//! A queue's items are one contiguous key range, `user \0 queue \0 position`, in queue
//! order; the value is the id of the message that holds the item (the queued message,
//! or the callback it handed the item to). A queue's `lag` is the length of that range.
//! The queue settings themselves are plain records (`records.rs`).

use depesha_core::message::{Message, MessageState};
use depesha_core::queue::QueuePosition;
use depesha_core::refs::QueueRef;
use depesha_core::UnixMillis;
use redb::{Database, ReadableTable};

use super::codec::{decode_message, io, MessageHead};
use super::commit::{table, Tx};
use super::reads::{count_range, read, scopes};
use super::tables::{
    self as t, message_key, prefix_range, queue_item_key, queue_position_of, scope, write_scope,
};
use crate::{StoreError, StoreResult};

pub(super) fn queue_lag(db: &Database, user: &str, name: &str) -> StoreResult<u64> {
    let Some(scope) = scope(user, name) else {
        return Ok(0);
    };
    count_range(&read(db, t::QUEUE_ITEMS)?, prefix_range(scope), u64::MAX)
}

pub(super) fn queue_items(
    db: &Database,
    user: &str,
    name: &str,
    limit: usize,
) -> StoreResult<Vec<(QueuePosition, String)>> {
    let Some(scope) = scope(user, name) else {
        return Ok(Vec::new());
    };
    let (start, end) = prefix_range(scope);
    let items = read(db, t::QUEUE_ITEMS)?;
    let mut found = Vec::with_capacity(limit.min(1024));
    for item in items
        .range::<&[u8]>(start.as_slice()..end.as_slice())
        .map_err(io)?
        .take(limit)
    {
        let (key, holder) = item.map_err(io)?;
        found.push((queue_position_of(key.value())?, holder_of(holder.value())?));
    }
    Ok(found)
}

pub(super) fn queues_with_items(db: &Database) -> StoreResult<Vec<QueueRef>> {
    scopes(&read(db, t::QUEUE_ITEMS)?, QueueRef::new)
}

fn holder_of(value: &[u8]) -> StoreResult<String> {
    String::from_utf8(value.to_vec()).map_err(|_| {
        StoreError::Corrupt(format!("queue item holder {value:02x?} is not UTF-8").into())
    })
}

impl Tx<'_> {
    pub(super) fn put_queue_item(
        &mut self,
        user: &str,
        queue: &str,
        position: QueuePosition,
        holder: &str,
    ) -> StoreResult<()> {
        let key = queue_item_key(&write_scope(user, "queue", queue)?, position);
        table(&mut self.queue_items, self.txn, t::QUEUE_ITEMS)?
            .insert(key.as_slice(), holder.as_bytes())
            .map_err(io)?;
        Ok(())
    }

    pub(super) fn delete_queue_item(
        &mut self,
        user: &str,
        queue: &str,
        position: QueuePosition,
    ) -> StoreResult<()> {
        // A name with NUL was never stored: nothing to delete.
        let Some(scope) = scope(user, queue) else {
            return Ok(());
        };
        table(&mut self.queue_items, self.txn, t::QUEUE_ITEMS)?
            .remove(queue_item_key(&scope, position).as_slice())
            .map_err(io)?;
        Ok(())
    }

    /// Makes every `Queued` holder among the queue's first `parallelism` items pending,
    /// due at `max(now, not_before)`. Holders already pending (active, or callbacks
    /// holding their source's item) are left as they are; so are missing ones.
    pub(super) fn fill_queue(
        &mut self,
        user: &str,
        queue: &str,
        now: UnixMillis,
    ) -> StoreResult<()> {
        let Some(settings) = self.queue_record(user, queue)? else {
            return Ok(());
        };
        let limit = settings.active_slots();
        let Some(scope) = scope(user, queue).filter(|_| limit > 0) else {
            return Ok(());
        };
        let (start, end) = prefix_range(scope);
        let mut holders = Vec::new();
        {
            let items = table(&mut self.queue_items, self.txn, t::QUEUE_ITEMS)?;
            for item in items
                .range::<&[u8]>(start.as_slice()..end.as_slice())
                .map_err(io)?
                .take(limit)
            {
                let (_, holder) = item.map_err(io)?;
                holders.push(holder_of(holder.value())?);
            }
        }
        for holder in holders {
            let Some(mut message) = self.queued_message(user, &holder)? else {
                continue;
            };
            message.admit_from_queue(now);
            self.put_message(&message)?;
        }
        Ok(())
    }

    /// The message `id` when it is queued (decoded only then).
    fn queued_message(&mut self, user: &str, id: &str) -> StoreResult<Option<Message>> {
        let messages = table(&mut self.messages, self.txn, t::MESSAGES)?;
        let Some(value) = messages.get(message_key(user, id).as_slice()).map_err(io)? else {
            return Ok(None);
        };
        if MessageHead::read(value.value())?.state != MessageState::Queued {
            return Ok(None);
        }
        decode_message(value.value()).map(Some)
    }
}
