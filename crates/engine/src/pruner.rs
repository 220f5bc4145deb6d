//! Retention: every few seconds, remove what has expired — delivered messages past
//! their read-back window, old DLQ entries and log lines, spent deduplication keys. Each
//! pass does bounded work so that it never holds the store's writer for long.

use std::sync::Weak;
use std::time::Duration;

use crate::engine::Inner;
use crate::shutdown::StopSignal;

const ROWS_PER_PASS: usize = 10_000;

pub(crate) async fn run(inner: Weak<Inner>, stop: StopSignal) {
    loop {
        let Some(engine) = inner.upgrade() else {
            return;
        };
        let interval = engine.config.prune_interval;
        let now = engine.clock.now();
        let logs_before = now.saturating_sub(
            u64::try_from(engine.config.log_retention.as_millis()).unwrap_or(u64::MAX),
        );
        let store = engine.store.clone();
        drop(engine);
        // On a blocking thread, since the embedded store's prune waits for an fsync;
        // the runtime's handle drives the (async) call there.
        let runtime = tokio::runtime::Handle::current();
        let result = tokio::task::spawn_blocking(move || {
            runtime.block_on(store.prune(now, logs_before, ROWS_PER_PASS))
        })
        .await;
        let busy = match result {
            Ok(Ok(stats)) => {
                let removed =
                    stats.messages + stats.dlq_entries + stats.dedup_keys + stats.log_entries;
                if removed > 0 {
                    tracing::debug!(?stats, "pruned expired data");
                }
                removed >= ROWS_PER_PASS as u64
            }
            Ok(Err(e)) => {
                tracing::warn!("pruning failed (will retry): {e}");
                false
            }
            Err(_) => false,
        };
        // With a backlog, go again soon; otherwise wait for the next interval.
        let pause = if busy {
            Duration::from_millis(50)
        } else {
            interval
        };
        tokio::select! {
            _ = stop.stopped() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}
