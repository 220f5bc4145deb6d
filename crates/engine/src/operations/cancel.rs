//! Cancelling messages (spec §3.4): one, a list, or those matching a filter.

use depesha_core::cancel::Cancel;
use depesha_core::filter::Filter;
use depesha_core::message::Message;
use depesha_core::UnixMillis;
use depesha_store::{Guard, Unit, Write};

use crate::error::EngineError;
use crate::Engine;

/// How much of a filter's matches one bulk cancel takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelSlice {
    /// At most this many (an explicit `count`): callers repeat until 0 (spec §3.4).
    AtMost(usize),
    /// All of them, committed this many at a time.
    All { per_commit: usize },
}

impl Engine {
    /// Cancels those of `ids` that are still unfinished; returns how many it
    /// cancelled. A message delivered or cancelled meanwhile is left alone (the store
    /// decides, in commit order).
    pub async fn cancel_messages(&self, user: &str, ids: &[String]) -> Result<u64, EngineError> {
        let now = self.clock().now();
        let mut units = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(message) = self.store().message(user, id).await? {
                units.push(cancel_unit(&message, now));
            }
        }
        let outcomes = self.commit(units).await?;
        Ok(super::taken(&outcomes) as u64)
    }

    /// Cancels `user`'s unfinished messages that match `filter`; returns how many.
    pub async fn cancel_matching(
        &self,
        user: &str,
        filter: &Filter,
        slice: CancelSlice,
    ) -> Result<u64, EngineError> {
        let limit = match slice {
            CancelSlice::AtMost(n) => n,
            CancelSlice::All { per_commit } => per_commit.max(1),
        };
        let mut total = 0;
        loop {
            let ids = self.store().pending_ids(user, filter, limit).await?;
            if ids.is_empty() {
                break;
            }
            let n = self.cancel_messages(user, &ids).await?;
            total += n;
            if matches!(slice, CancelSlice::AtMost(_)) || n == 0 {
                break;
            }
        }
        Ok(total)
    }
}

/// The unit that cancels `message`: guarded so that only an unfinished message is
/// taken, the cancel's log lines, and the queue item it frees with the queue let
/// through.
pub(super) fn cancel_unit(message: &Message, now: UnixMillis) -> Unit {
    let cancel = Cancel::of(message, now);
    let user = &message.user;
    let mut writes: Vec<Write> = cancel.logs.into_iter().map(Write::AppendLog).collect();
    if let Some(item) = cancel.frees {
        writes.push(Write::DeleteQueueItem {
            user: user.clone(),
            queue: item.queue.clone(),
            position: item.position,
        });
        writes.push(Write::FillQueue {
            user: user.clone(),
            queue: item.queue,
            now,
        });
    }
    let guard = Guard::TakePendingMessage {
        user: user.clone(),
        id: message.id.clone(),
    };
    Unit::guarded(guard, writes)
}
