//! Flow-control wait-lists (`FLOW_WAIT`) and releasing from them (`ReleaseWaiting`).
//!
//! A waiting message is in its key's wait-list at `user \0 flow-key \0 due ++ id`, so
//! one key's wait-list is one contiguous range in `(due, id)` order. Entries are put
//! and removed by the message writes (`commit.rs`), like the due index; this file
//! reads the lists and releases their heads. The flow keys' stored settings are plain
//! records (`records.rs`).

use depesha_core::message::MessageState;
use depesha_core::refs::FlowKeyRef;
use depesha_core::UnixMillis;
use redb::{Database, ReadableTable};

use super::codec::{decode_message, io};
use super::commit::{table, Placement, Tx};
use super::reads::{count_range, read, scopes};
use super::tables::{self as t, flow_wait_entry_of, message_key, prefix_range, scope};
use crate::StoreResult;

pub(super) fn waiting_count(db: &Database, user: &str, key: &str, limit: u64) -> StoreResult<u64> {
    let Some(scope) = scope(user, key) else {
        return Ok(0);
    };
    count_range(&read(db, t::FLOW_WAIT)?, prefix_range(scope), limit)
}

pub(super) fn keys_with_waiting(db: &Database) -> StoreResult<Vec<FlowKeyRef>> {
    scopes(&read(db, t::FLOW_WAIT)?, FlowKeyRef::new)
}

impl Tx<'_> {
    /// Makes the first `count` messages of the key's wait-list pending, due `now`.
    pub(super) fn release_waiting(
        &mut self,
        user: &str,
        key: &str,
        count: usize,
        now: UnixMillis,
    ) -> StoreResult<()> {
        let Some(scope) = scope(user, key) else {
            return Ok(());
        };
        let (start, end) = prefix_range(scope);
        let mut heads = Vec::new();
        {
            let wait = table(&mut self.flow_wait, self.txn, t::FLOW_WAIT)?;
            for item in wait
                .range::<&[u8]>(start.as_slice()..end.as_slice())
                .map_err(io)?
                .take(count)
            {
                let (entry, ()) = item.map(|(k, v)| (k, v.value())).map_err(io)?;
                heads.push(entry.value().to_vec());
            }
        }
        for entry in heads {
            let waiting = flow_wait_entry_of(&entry)?;
            let message = {
                let messages = table(&mut self.messages, self.txn, t::MESSAGES)?;
                let value = messages
                    .get(message_key(waiting.user.as_str(), waiting.id.as_str()).as_slice())
                    .map_err(io)?;
                value.map(|v| decode_message(v.value())).transpose()?
            };
            let placed = match &message {
                Some(m) if m.state == MessageState::Waiting => Some(Placement::of(m)?),
                _ => None,
            };
            match (message, placed) {
                (Some(mut message), Some(old)) if old.wait() == Some(entry.as_slice()) => {
                    message.release_from_wait(now);
                    self.put_message_over(&message, Some(old))?;
                }
                // An entry that no waiting message accounts for (never written by this
                // store, but it would block the list forever): drop it.
                _ => {
                    tracing::warn!(user = %waiting.user, message = %waiting.id, "dropping a wait-list entry without a waiting message");
                    table(&mut self.flow_wait, self.txn, t::FLOW_WAIT)?
                        .remove(entry.as_slice())
                        .map_err(io)?;
                }
            }
        }
        Ok(())
    }
}
