//! The engine's front: what the server calls. It owns the committer, the dispatcher
//! task, the pruner task, the HTTP client and the signing-key cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use depesha_core::flow_key::FlowKey;
use depesha_core::keys::SigningKeys;
use depesha_core::queue::QueuePosition;
use depesha_core::refs::MessageRef;
use depesha_store::{Store, StoreReads, Taken, Unit, UnitOutcome, Write};
use tokio::sync::{mpsc, Notify, Semaphore};

use crate::clock::Clock;
use crate::committer::Committer;
use crate::config::EngineConfig;
use crate::dispatcher::{Dispatcher, Event};
use crate::error::EngineError;
use crate::fairness::Shares;
use crate::flow::{FlowCounters, FlowGate};
use crate::prepared::PreparedDeliveries;
use crate::shutdown::{StopOnDrop, StopSignal, Tasks};

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: EngineConfig,
    pub(crate) client: reqwest::Client,
    committer: Committer,
    events: mpsc::UnboundedSender<Event>,
    keys: RwLock<HashMap<String, SigningKeys>>,
    dlq_seq: AtomicU64,
    /// Attempts under way, so that a shutdown can wait for them.
    pub(crate) attempts: AttemptCounter,
    /// Flow-control counters and cached limits.
    pub(crate) flow: FlowGate,
    queue_seq: AtomicU64,
    draining: AtomicBool,
    /// Deliveries prepared ahead of their due time, which a cancel must reach.
    pub(crate) prepared: PreparedDeliveries,
    /// One permit per request on the wire: `max_in_flight` of them.
    pub(crate) sending: Semaphore,
    /// Each user's and each destination's share of those.
    pub(crate) shares: Arc<Shares>,
    /// Fires when the engine stops; every background task watches it.
    pub(crate) stop: StopSignal,
    /// The background tasks, so that a shutdown can wait for them.
    pub(crate) tasks: Tasks,
}

/// Counts attempts in flight; a [`AttemptGuard`] is held for the life of each.
#[derive(Default)]
pub(crate) struct AttemptCounter {
    count: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

pub(crate) struct AttemptGuard {
    count: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

impl AttemptCounter {
    pub(crate) fn start(&self) -> AttemptGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        AttemptGuard {
            count: self.count.clone(),
            idle: self.idle.clone(),
        }
    }

    fn current(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }
}

/// Handle to a running engine. Cheap to clone. [`Engine::shutdown`] stops it and
/// waits; dropping the last handle stops it too, without waiting (its tasks end
/// soon after, and the store is released with them).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
    /// `None` in the handles the engine's own tasks hold, which must not keep it
    /// running.
    _guard: Option<Arc<StopOnDrop>>,
}

impl Engine {
    /// Starts the engine over `store`: the committer thread, the dispatcher (which
    /// resumes every pending message found in the store) and the pruner. Must be called
    /// inside a Tokio runtime.
    pub fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>, mut config: EngineConfig) -> Engine {
        // At least one, so that deliveries can start at all.
        config.max_in_flight = config.max_in_flight.max(1);
        let (events, rx) = mpsc::unbounded_channel();
        let client = crate::delivery::http_client(
            config.max_in_flight,
            config.connect_timeout,
            &config.destinations,
        );
        let sending = Semaphore::new(config.max_in_flight);
        let shares = Shares::new(
            config.max_in_flight_per_destination,
            config.max_in_flight_per_user,
            events.clone(),
        );
        let inner = Arc::new(Inner {
            committer: Committer::start(store.clone()),
            store,
            clock,
            config,
            client,
            events,
            keys: RwLock::new(HashMap::new()),
            dlq_seq: AtomicU64::new(0),
            attempts: AttemptCounter::default(),
            flow: FlowGate::default(),
            queue_seq: AtomicU64::new(0),
            draining: AtomicBool::new(false),
            prepared: PreparedDeliveries::default(),
            sending,
            shares,
            stop: StopSignal::new(),
            tasks: Tasks::default(),
        });
        inner.tasks.spawn(Dispatcher::new(inner.clone(), rx).run());
        inner.tasks.spawn(crate::pruner::run(
            Arc::downgrade(&inner),
            inner.stop.clone(),
        ));
        inner.tasks.spawn(resume_waiting(inner.clone()));
        let guard = Some(Arc::new(StopOnDrop(inner.stop.clone())));
        Engine {
            inner,
            _guard: guard,
        }
    }

    pub(crate) fn inner_tasks(&self) -> &Tasks {
        &self.inner.tasks
    }

    pub(crate) fn stop_signal(&self) -> StopSignal {
        self.inner.stop.clone()
    }

    /// A handle for the engine's own tasks: it does not keep the engine running.
    pub(crate) fn task_handle(&self) -> Engine {
        Engine {
            inner: self.inner.clone(),
            _guard: None,
        }
    }

    /// Stops the engine: no delivery starts any more, those under way get `grace`
    /// to finish and record their outcome ([`Engine::drain`]), every background task
    /// ends, the commits already asked for are made, and the store is closed. Returns
    /// the number of deliveries cut short (they are sent again after the next start).
    /// Afterwards every operation answers [`EngineError::ShuttingDown`], and once the
    /// handles are dropped the data dir can be opened again at once.
    pub async fn shutdown(&self, grace: std::time::Duration) -> Result<usize, EngineError> {
        let left = self.drain(grace).await;
        self.inner.stop.stop();
        self.inner.tasks.join_all().await;
        self.inner.committer.stop().await;
        self.close_store().await?;
        Ok(left)
    }

    /// The engine's insides, for its operations and for tests that drive a part of
    /// it by hand.
    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// The store, to read and to commit: the engine's own parts only.
    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// What is stored, read-only: every change goes through an operation (see
    /// [`crate::operations`]), so that the engine hears of each and its rules have one
    /// home. (An opaque type rather than `&dyn StoreReads`: turning a `dyn Store` into
    /// a `dyn StoreReads` needs trait upcasting, newer than the workspace's Rust.)
    pub fn reads(&self) -> &(impl StoreReads + ?Sized) {
        self.inner.store.as_ref()
    }

    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Applies `units` durably (group commit) and hands every message they made
    /// pending to the dispatcher. When this returns `Ok`, the writes are on disk.
    pub(crate) async fn commit(&self, units: Vec<Unit>) -> Result<Vec<UnitOutcome>, EngineError> {
        self.inner.commit(units).await
    }

    /// The user's signing keys.
    pub async fn signing_keys(&self, user: &str) -> Result<SigningKeys, EngineError> {
        self.inner.signing_keys(user).await
    }

    /// Stops starting deliveries and waits, at most `grace`, for the attempts under
    /// way to finish and record their outcomes. Without it, a stop abandons them and
    /// they are delivered again after the restart (at-least-once, but avoidable).
    /// Returns the number of attempts still running when the grace ran out.
    pub async fn drain(&self, grace: std::time::Duration) -> usize {
        self.inner.draining.store(true, Ordering::SeqCst);
        let attempts = &self.inner.attempts;
        let wait = async {
            loop {
                let idle = attempts.idle.notified();
                if attempts.current() == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(grace, wait).await;
        attempts.current()
    }

    /// A new place at the end of a queue. Enqueues of one millisecond are ordered by
    /// a counter, so FIFO holds for bursts. Sequence numbers are even: the odd one
    /// after each is kept free for a companion item (a failed message's second
    /// callback, see `outcome.rs`).
    pub(crate) fn next_queue_position(&self) -> QueuePosition {
        QueuePosition {
            enqueued_at: self.inner.clock.now(),
            seq: self.inner.queue_seq.fetch_add(2, Ordering::Relaxed),
        }
    }

    /// Deliveries in flight right now (all users): requests sent and not yet
    /// answered. Those waiting for their due time or for a free slot are not counted.
    pub fn in_flight(&self) -> usize {
        self.inner
            .config
            .max_in_flight
            .saturating_sub(self.inner.sending.available_permits())
    }

    /// A flow-control key's stored limits changed (a message brought new values, or
    /// pin, unpin, pause, resume): the gate takes them, and waiting messages that may
    /// now start are released.
    pub(crate) async fn flow_limits_changed(&self, limits: FlowKey) {
        let (user, key) = (limits.user.clone(), limits.key.clone());
        self.inner.flow.set_limits(limits, self.inner.clock.now());
        crate::worker::release_waiting(&self.inner, &user, &key).await;
    }

    /// A new rate period of the key starts now; waiting messages that may now start
    /// are released.
    pub(crate) async fn restart_flow_period(&self, user: &str, key: &str) {
        self.inner
            .flow
            .reset_rate(user, key, self.inner.clock.now());
        crate::worker::release_waiting(&self.inner, user, key).await;
    }

    /// The live counters of a flow-control key.
    pub fn flow_counters(&self, user: &str, key: &str) -> FlowCounters {
        self.inner.flow.counters(user, key, self.inner.clock.now())
    }

    /// Closes the store at shutdown, after [`Engine::drain`]: the next start then opens
    /// it at once instead of repairing it.
    ///
    /// The dispatcher ends at its next turn, and nothing that fails because the store
    /// is closed is logged as an error: a clean stop logs none.
    pub async fn close_store(&self) -> Result<(), EngineError> {
        // One signal ends the background tasks, whichever way the engine stops.
        self.inner.stop.stop();
        self.inner.committer.store_closing();
        Ok(self.inner.store.close().await?)
    }
}

impl Inner {
    pub(crate) async fn commit(&self, units: Vec<Unit>) -> Result<Vec<UnitOutcome>, EngineError> {
        let outcomes = self.committer.commit(units).await?;
        for outcome in &outcomes {
            if let UnitOutcome::Applied(applied) = outcome {
                // Before the caller hears of the cancel (see `crate::prepared`).
                if let Taken::Message(message) = &applied.taken {
                    self.prepared
                        .withdraw(&MessageRef::new(message.user.as_str(), message.id.as_str()));
                }
                for key in &applied.became_due {
                    self.announce(Event::Pending(key.clone()));
                }
            }
        }
        Ok(outcomes)
    }

    pub(crate) fn announce(&self, event: Event) {
        // Fails only when the dispatcher is gone (shutdown); the store still has it all.
        let _ = self.events.send(event);
    }

    /// The store was closed for a clean stop: background work ends quietly.
    pub(crate) fn is_closed(&self) -> bool {
        self.committer.is_store_closing()
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub(crate) fn next_dlq_seq(&self) -> u64 {
        self.dlq_seq.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) async fn signing_keys(&self, user: &str) -> Result<SigningKeys, EngineError> {
        if let Some(keys) = self.keys.read().ok().and_then(|k| k.get(user).cloned()) {
            return Ok(keys);
        }
        let keys = match self.store.keys(user).await? {
            Some(keys) => keys,
            None => {
                let keys = SigningKeys::generate();
                self.put_keys(user, keys.clone()).await?;
                keys
            }
        };
        self.cache_keys(user, keys.clone());
        Ok(keys)
    }

    pub(crate) async fn put_keys(&self, user: &str, keys: SigningKeys) -> Result<(), EngineError> {
        self.commit(vec![Unit::new(vec![Write::PutKeys {
            user: user.to_string(),
            keys: keys.clone(),
        }])])
        .await?;
        self.cache_keys(user, keys);
        Ok(())
    }

    pub(crate) fn cache_keys(&self, user: &str, keys: SigningKeys) {
        if let Ok(mut cache) = self.keys.write() {
            cache.insert(user.to_string(), keys);
        }
    }
}

/// At start, releases the waiting messages that may start now: the wait-lists
/// outlived the restart, the counters (and so the events that would free them) did not.
async fn resume_waiting(inner: Arc<Inner>) {
    let keys = match inner.store.keys_with_waiting().await {
        Ok(keys) => keys,
        Err(e) => {
            tracing::error!("could not list flow-control wait-lists: {e}");
            return;
        }
    };
    for waiting in keys {
        crate::worker::release_waiting(&inner, waiting.user.as_str(), &waiting.key).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use depesha_store::embedded::EmbeddedStore;
    use depesha_store::{Unit, Write};

    use super::*;
    use crate::ManualClock;

    /// Everything logged on this thread, as text.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into()
        }
    }

    #[tokio::test]
    async fn a_clean_stop_ends_the_dispatcher_and_logs_no_error() {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _logging = tracing::subscriber::set_default(subscriber);
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(EmbeddedStore::open(dir.path()).expect("store"));
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let engine = Engine::start(store, clock.clone(), EngineConfig::default());
        tokio::task::yield_now().await; // the dispatcher's first scan

        engine.drain(Duration::from_secs(1)).await;
        engine.close_store().await.expect("close");
        // The dispatcher's next turn comes after the store is closed.
        clock.advance(Duration::from_secs(10));
        for _ in 0..500 {
            if engine.inner.events.is_closed() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let text = logs.text();
        assert!(
            !text.contains("ERROR"),
            "errors logged on a clean stop:\n{text}"
        );
        assert!(
            engine.inner.events.is_closed(),
            "the dispatcher still runs after the stop"
        );
        let late = Unit::new(vec![Write::PutKeys {
            user: "u".into(),
            keys: SigningKeys::generate(),
        }]);
        assert!(matches!(
            engine.commit(vec![late]).await,
            Err(EngineError::ShuttingDown)
        ));
    }
}
