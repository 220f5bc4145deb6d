//! The engine's one lifecycle: every background task (the dispatcher and its
//! deliveries, the pruner, the scheduler, flow-control wake-ups) is spawned through
//! [`Tasks`] and ends when the [`StopSignal`] fires, which happens on
//! `Engine::shutdown` or when the last `Engine` handle is dropped ([`StopOnDrop`]).
//! Once they have ended, nothing holds the engine's insides any more: the committer
//! thread ends, and the store is released with them, so a data dir can be opened
//! again at once.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

/// Fires once; every task waits on it alongside its own work.
#[derive(Clone)]
pub(crate) struct StopSignal {
    tx: Arc<watch::Sender<bool>>,
}

impl StopSignal {
    pub(crate) fn new() -> Self {
        StopSignal {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    pub(crate) fn stop(&self) {
        self.tx.send_replace(true);
    }

    pub(crate) fn is_stopped(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once the engine is stopping (at once if it already is).
    pub(crate) async fn stopped(&self) {
        let mut rx = self.tx.subscribe();
        // An error means the sender is gone, which only happens with the engine.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

/// Held by every `Engine` handle a user has (not by the engine's own tasks): when the
/// last one is dropped, the engine stops.
pub(crate) struct StopOnDrop(pub(crate) StopSignal);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// The engine's background tasks.
#[derive(Default)]
pub(crate) struct Tasks {
    set: Mutex<JoinSet<()>>,
}

/// How long `Engine::shutdown` waits for tasks to notice the stop before it aborts
/// them.
const NOTICE: Duration = Duration::from_secs(5);

impl Tasks {
    /// Spawns a background task (on the current runtime).
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut set = self.lock();
        // Reap the finished ones, so that short tasks cost nothing once done.
        while set.try_join_next().is_some() {}
        set.spawn(task);
    }

    /// Waits until every task has ended (they end on the stop signal); aborts those
    /// still running after [`NOTICE`]. Tasks spawned meanwhile are waited for too.
    pub(crate) async fn join_all(&self) {
        loop {
            let mut set = std::mem::take(&mut *self.lock());
            if set.is_empty() {
                return;
            }
            let noticed =
                tokio::time::timeout(NOTICE, async { while set.join_next().await.is_some() {} })
                    .await;
            if noticed.is_err() {
                tracing::warn!("background tasks did not end on the stop; aborting them");
                set.abort_all();
                while set.join_next().await.is_some() {}
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JoinSet<()>> {
        // A JoinSet stays usable whatever panicked elsewhere.
        self.set
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
