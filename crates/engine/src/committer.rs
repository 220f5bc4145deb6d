//! Group commit. Every durable write of the engine goes through one committer thread
//! that drains whatever units are waiting, applies them in a single store transaction
//! (one fsync), and answers each caller. Under load, one fsync covers hundreds of
//! publishes; when idle, a lone publish is committed at once — there is no timer that
//! trades latency for batching. "2xx means fsync'd" holds for every caller, because
//! each waits for the commit that contains its unit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use depesha_store::{Store, StoreError, Unit, UnitOutcome};
use tokio::sync::{mpsc, oneshot};

use crate::error::EngineError;

/// Most units applied in one transaction; bounds the latency of a commit under load.
const MAX_UNITS_PER_COMMIT: usize = 4096;

struct Request {
    units: Vec<Unit>,
    reply: oneshot::Sender<Result<Vec<UnitOutcome>, EngineError>>,
}

/// What the committer thread is asked to do.
enum Job {
    Commit(Request),
    /// Finish the commits asked for before this one, then end (dropping the store).
    Stop(oneshot::Sender<()>),
}

/// Handle to the committer thread. Cheap to clone.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Job>,
    /// The store was closed on purpose (a clean stop).
    closed: Arc<AtomicBool>,
}

impl Committer {
    /// Starts the committer thread over `store`. The thread ends when every handle is
    /// dropped, or on [`Committer::stop`].
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(16_384);
        let closed = Arc::new(AtomicBool::new(false));
        let thread_closed = closed.clone();
        std::thread::Builder::new()
            .name("depesha-committer".into())
            .spawn(move || run(store, rx, &thread_closed))
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!("could not start the committer thread: {e}"));
        Committer { tx, closed }
    }

    /// Says that the store is being closed on purpose, before it is: a commit that
    /// fails from then on fails because of the stop (the store refuses all work once
    /// closed), which is no fault to log; its caller hears `ShuttingDown`.
    pub fn store_closing(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Whether [`Committer::store_closing`] was called.
    pub fn is_store_closing(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Applies `units` durably; returns one outcome per unit, in order.
    pub async fn commit(&self, units: Vec<Unit>) -> Result<Vec<UnitOutcome>, EngineError> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Commit(Request { units, reply }))
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        answer.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// Lets the commits already asked for finish, then ends the thread, which lets go
    /// of the store. Later commits answer `ShuttingDown`.
    pub async fn stop(&self) {
        let (done, ended) = oneshot::channel();
        if self.tx.send(Job::Stop(done)).await.is_ok() {
            let _ = ended.await;
        }
    }
}

fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>, closed: &AtomicBool) {
    // The store's write path is async, so that a network backend can await its round
    // trips. This thread drives it on a runtime of its own, on this thread alone: the
    // embedded store's future is ready at once (its fsync blocks this thread, as
    // before, and no runtime worker), and a network backend's future gets tokio's
    // timers and sockets without holding a worker of the engine's runtime.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            // Every commit then answers `ShuttingDown`: the channel closes with `rx`.
            tracing::error!("could not start the committer's runtime: {e}");
            return;
        }
    };
    let mut stopping = None;
    while stopping.is_none() {
        let first = match rx.blocking_recv() {
            Some(Job::Commit(first)) => first,
            Some(Job::Stop(done)) => {
                stopping = Some(done);
                break;
            }
            None => break,
        };
        let mut batch = vec![first];
        let mut units = batch[0].units.len();
        while units < MAX_UNITS_PER_COMMIT {
            match rx.try_recv() {
                Ok(Job::Commit(next)) => {
                    units += next.units.len();
                    batch.push(next);
                }
                Ok(Job::Stop(done)) => {
                    stopping = Some(done);
                    break;
                }
                Err(_) => break,
            }
        }
        let sizes: Vec<usize> = batch.iter().map(|r| r.units.len()).collect();
        let (all_units, replies): (Vec<Vec<Unit>>, Vec<_>) =
            batch.into_iter().map(|r| (r.units, r.reply)).unzip();
        let started = std::time::Instant::now();
        let result =
            runtime.block_on(store.commit_deferred(all_units.into_iter().flatten().collect()));
        tracing::trace!(
            units,
            elapsed_us = started.elapsed().as_micros() as u64,
            "commit"
        );
        match result {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                for (reply, size) in replies.into_iter().zip(sizes) {
                    let mine: Vec<UnitOutcome> = outcomes.by_ref().take(size).collect();
                    let _ = reply.send(Ok(mine));
                }
            }
            Err(_) if closed.load(Ordering::SeqCst) => {
                for reply in replies {
                    let _ = reply.send(Err(EngineError::ShuttingDown));
                }
            }
            Err(e) => {
                tracing::error!("commit of {units} units failed, nothing was applied: {e}");
                let shared = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(EngineError::Store(StoreError::shared(&shared))));
                }
            }
        }
        // After the answers, so that the callers of this commit do not wait for a
        // checkpoint too. A failed one has logged why and is tried again next time.
        let _ = runtime.block_on(store.maintain());
    }
    // Nothing is asked after a stop: later commits find the channel closed.
    rx.close();
    drop(store);
    if let Some(done) = stopping {
        let _ = done.send(());
    }
}
