//! [`Store`] for [`EmbeddedStore`]: commits, the checkpoint that `maintain` makes
//! when it is due, prune, and close.

use std::time::Instant;

use async_trait::async_trait;
use depesha_core::UnixMillis;

use super::{codec, commit, prune, EmbeddedStore};
use crate::{PruneStats, Store, StoreError, StoreResult, Unit, UnitOutcome};

#[async_trait]
impl Store for EmbeddedStore {
    async fn commit_deferred(&self, units: Vec<Unit>) -> StoreResult<Vec<UnitOutcome>> {
        let mut units = Some(units);
        self.with_opened(false, |opened| {
            let mut journal = opened.journal()?;
            commit::commit(
                &opened.db,
                &mut journal,
                &self.durable_gate,
                units.take().unwrap_or_default(),
            )
        })
    }

    async fn maintain(&self) -> StoreResult<()> {
        self.with_opened(false, |opened| {
            let mut journal = opened.journal()?;
            let due = journal.len() >= self.options.checkpoint_bytes
                || journal.since_restart() >= self.options.checkpoint_interval;
            if !due || journal.len() == 0 {
                return Ok(());
            }
            // After a checkpoint failed on a full disk, the next one waits until space
            // comes back: trying it now would fail again, and make the store reopen.
            // The journal keeps every commit meanwhile.
            // It writes the pages of what the journal holds, with the B-tree pages
            // around them: up to about twice the journal's size, as measured.
            if !self.durable_gate.allows(journal.len().saturating_mul(2)) {
                return Ok(());
            }
            let lsn = journal.next_lsn() - 1;
            let started = Instant::now();
            match commit::checkpoint(&opened.db, lsn) {
                Ok(()) => {
                    self.durable_gate.succeeded();
                    tracing::debug!(
                        lsn,
                        journal_bytes = journal.len(),
                        elapsed_us = started.elapsed().as_micros() as u64,
                        "checkpoint"
                    );
                    journal.restart(lsn);
                    Ok(())
                }
                // Nothing is lost: the journal still holds every commit since the last
                // checkpoint, and the next operation reopens the database.
                Err(e) => {
                    self.durable_gate.failed();
                    tracing::warn!("checkpoint failed: {e}");
                    Err(e)
                }
            }
        })
    }

    async fn prune(
        &self,
        now: UnixMillis,
        logs_before: UnixMillis,
        limit: usize,
    ) -> StoreResult<PruneStats> {
        // Prune commits durably; on a full disk it waits for space like a checkpoint.
        if !self.durable_gate.allows(0) {
            return Err(StoreError::Io(
                "the disk is full; pruning waits until space is freed".into(),
            ));
        }
        let pruned = self.with(false, |db| {
            prune::prune(db, &self.log_prune_cursor, now, logs_before, limit)
        });
        match &pruned {
            // Only a commit that wrote something proves there is space again.
            Ok(stats)
                if stats.messages + stats.dlq_entries + stats.dedup_keys + stats.log_entries
                    > 0 =>
            {
                self.durable_gate.succeeded()
            }
            Ok(_) => {}
            Err(e) if codec::needs_reopen(e) => self.durable_gate.failed(),
            Err(_) => {}
        }
        pruned
    }

    async fn close(&self) -> StoreResult<()> {
        self.close_database()
    }
}
