//! Deleting and retrying DLQ entries (spec §3.5). A retry takes the entry and creates
//! its new message in one unit, so two retries of one entry make one message.

use depesha_core::dlq::DlqEntry;
use depesha_core::dlq_retry::{retry_message, RetryOverrides};
use depesha_store::{Guard, Unit, UnitOutcome, Write};

use crate::error::EngineError;
use crate::publisher::creation_writes;
use crate::Engine;

impl Engine {
    /// Deletes those of `dlq_ids` that exist; returns how many it deleted.
    pub async fn delete_dlq_entries(
        &self,
        user: &str,
        dlq_ids: &[String],
    ) -> Result<u64, EngineError> {
        let units = dlq_ids
            .iter()
            .map(|id| take(user, id, Vec::new()))
            .collect();
        let outcomes = self.commit(units).await?;
        Ok(super::taken(&outcomes) as u64)
    }

    /// Retries `entries` (as read by the caller): each still in the DLQ is taken out
    /// and becomes a new message, a queue's at the end of its queue. Returns the new
    /// messages' ids, in the entries' order, of the retries that happened.
    pub async fn retry_dlq_entries(
        &self,
        user: &str,
        entries: &[DlqEntry],
        overrides: &RetryOverrides,
    ) -> Result<Vec<String>, EngineError> {
        let now = self.clock().now();
        let mut units = Vec::with_capacity(entries.len());
        let mut new_ids = Vec::with_capacity(entries.len());
        for entry in entries {
            let message = retry_message(entry, overrides, now);
            new_ids.push(message.id.clone());
            let mut messages = vec![message];
            let queue_writes = match messages[0].queue_name.clone() {
                Some(queue) => self.enqueue_writes(user, &queue, &mut messages).await?,
                None => Vec::new(),
            };
            let mut writes = creation_writes(messages, now);
            writes.extend(queue_writes);
            units.push(take(user, &entry.dlq_id, writes));
        }
        let outcomes = self.commit(units).await?;
        Ok(outcomes
            .iter()
            .zip(new_ids)
            .filter(|(o, _)| matches!(o, UnitOutcome::Applied(_)))
            .map(|(_, id)| id)
            .collect())
    }
}

/// A unit that applies `writes` only if it takes the entry out of the DLQ.
fn take(user: &str, dlq_id: &str, writes: Vec<Write>) -> Unit {
    Unit::guarded(
        Guard::TakeDlq {
            user: user.to_string(),
            dlq_id: dlq_id.to_string(),
        },
        writes,
    )
}
