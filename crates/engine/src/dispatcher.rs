//! The dispatcher: decides which message is delivered when.
//!
//! It keeps in memory only the messages due within a short look-ahead window, in a
//! min-heap ordered like the store's due-time index. A *watermark* records how far the
//! index has been loaded: every pending message at or below it is in the heap or in
//! flight; messages above it stay on disk until the window reaches them. So a million
//! messages delayed by an hour cost no memory until their hour comes, and a restart
//! only has to load the next second's worth before it is ready.
//!
//! New and rescheduled messages are announced by the engine after their commit
//! ([`Event::Pending`]); those under the watermark go straight into the heap. A
//! `tracked` set keeps a message from being in memory twice when an announcement and
//! an index scan both see it.
//!
//! A tracked message's delivery may move it out of the index and back before it
//! finishes: held for its flow-control key (or a paused queue), then released by
//! another delivery, or by its own second look. The key it comes back at is announced
//! (or scanned) while the message is still tracked, so it is noted in `moved` and
//! offered when the delivery finishes; dropped, it would sit below the watermark, on
//! disk, until the next restart.
//!
//! A delivery starts up to [`PREPARE_AHEAD_MS`] before its due time, so that its
//! request is ready when the time comes (see `crate::prepared`). Twice
//! `max_in_flight` deliveries may be started; `max_in_flight` of them may have a
//! request on the wire.
//!
//! Holding back a due message for a reason other than time — a queue's parallelism, a
//! flow-control key, a pause — is a decision taken between popping a message and
//! starting its delivery (see `docs/ARCHITECTURE.md`); the limit on started
//! deliveries is the first such reason, and bounds memory and sockets whatever the
//! backlog.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use depesha_core::refs::MessageRef;
use depesha_core::UnixMillis;
use depesha_store::DueKey;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::engine::Inner;
use crate::fairness::Lane;
use crate::worker::{Ended, PREPARE_AHEAD_MS, STORE_RETRY_MS};

/// Keys loaded per index scan.
const SCAN_LIMIT: usize = 8192;
/// The heap never holds more than this; a larger backlog waits on disk.
const MAX_IN_MEMORY: usize = 200_000;
/// Keys parked on a lane (see [`crate::fairness`]) per slot of that lane, when the
/// lane is *stuck* (it gave back no slot for [`STUCK_MS`]): beyond that, held-back
/// messages are deferred in the store, so that a backlog behind a hanging destination
/// costs bounded memory and does not stop the loading of others. A lane that gives
/// slots back is only busy: its keys are parked in memory (all lanes together at most
/// [`MAX_IN_MEMORY`]) and go as its slots free, without a write.
const PARKED_PER_SLOT: usize = 4;
/// How long a lane may give back no slot before it counts as stuck.
const STUCK_MS: u64 = 1_000;
/// How long a deferred message waits, at first and at most: it doubles with each
/// deferral of its lane while the lane frees no slot.
const DEFER_MS: (u64, u64) = (1_000, 60_000);

pub(crate) enum Event {
    /// A message became pending at this key (new, or rescheduled for a retry).
    Pending(DueKey),
    /// A delivery finished; `next` is the message's new key if it was rescheduled.
    Finished { key: DueKey, next: Option<DueKey> },
    /// A delivery could not start: `lane` had no free slot. The key is still tracked.
    Blocked { key: DueKey, lane: Lane },
    /// Requests of these lanes ended: a parked key of each may go.
    Freed(Vec<Lane>),
}

/// How far the due-time index has been loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Watermark {
    /// Nothing loaded yet.
    Start,
    /// Every key with `due <= t` is loaded.
    Through(UnixMillis),
    /// Every key `<= k` is loaded (a scan stopped at its limit inside a millisecond).
    At(DueKey),
}

impl Watermark {
    fn covers(&self, key: &DueKey) -> bool {
        match self {
            Watermark::Start => false,
            Watermark::Through(t) => key.due <= *t,
            Watermark::At(k) => key <= k,
        }
    }

    /// The time up to which loading is complete.
    fn frontier(&self) -> UnixMillis {
        match self {
            Watermark::Start => 0,
            Watermark::Through(t) => *t,
            Watermark::At(k) => k.due.saturating_sub(1),
        }
    }

    /// The `after` argument of the next scan.
    fn scan_after(&self) -> Option<DueKey> {
        match self {
            Watermark::Start => None,
            // Users are never empty, so this sorts after every key of millisecond `t`.
            Watermark::Through(t) => Some(DueKey::new(t.saturating_add(1), "", "")),
            Watermark::At(k) => Some(k.clone()),
        }
    }
}

pub(crate) struct Dispatcher {
    inner: Arc<Inner>,
    events: mpsc::UnboundedReceiver<Event>,
    heap: BinaryHeap<Reverse<DueKey>>,
    tracked: HashSet<MessageRef>,
    /// The newest key seen for a message while it was already tracked.
    moved: HashMap<MessageRef, DueKey>,
    watermark: Watermark,
    in_flight: usize,
    /// Keys held back by a lane with no free slot, in the order they were refused.
    parked: HashMap<Lane, Parked>,
    /// Keys in `parked`, over all lanes.
    parked_total: usize,
    /// Keys taken out of `parked` whose delivery has not ended yet, and their lane.
    unparked: HashMap<MessageRef, Lane>,
    /// How many of those each lane has.
    outstanding: HashMap<Lane, usize>,
    /// The deliveries (and deferrals) under way; aborted and waited for on a stop.
    deliveries: JoinSet<()>,
}

/// The keys parked on one lane.
struct Parked {
    keys: VecDeque<DueKey>,
    /// Deferrals since the lane last freed a slot: sets how long the next one waits.
    deferrals: u32,
    /// When the lane last gave back a slot (or was first refused).
    progress_at: UnixMillis,
}

impl Dispatcher {
    pub(crate) fn new(inner: Arc<Inner>, events: mpsc::UnboundedReceiver<Event>) -> Self {
        Dispatcher {
            inner,
            events,
            heap: BinaryHeap::new(),
            tracked: HashSet::new(),
            moved: HashMap::new(),
            watermark: Watermark::Start,
            in_flight: 0,
            parked: HashMap::new(),
            parked_total: 0,
            unparked: HashMap::new(),
            outstanding: HashMap::new(),
            deliveries: JoinSet::new(),
        }
    }

    /// How far ahead of now the due-time index is loaded, in ms.
    fn lookahead_ms(&self) -> u64 {
        u64::try_from(self.inner.config.lookahead.as_millis())
            .unwrap_or(1000)
            .max(1)
    }

    pub(crate) async fn run(mut self) {
        let lookahead = self.lookahead_ms();
        loop {
            if self.inner.stop.is_stopped() {
                // A stop: deliveries still running past the drain's grace are cut
                // short (sent again after the next start), and waited for, so that
                // none still holds the engine when this task has ended.
                self.deliveries.abort_all();
                while self.deliveries.join_next().await.is_some() {}
                return;
            }
            while self.deliveries.try_join_next().is_some() {}
            let now = self.inner.clock.now();
            if self.watermark.frontier() < now + lookahead / 2 && self.heap.len() < MAX_IN_MEMORY {
                self.scan(now + lookahead).await;
            }
            self.start_due(now);

            let mut wake =
                if matches!(self.watermark, Watermark::At(_)) && self.heap.len() < MAX_IN_MEMORY {
                    now // more to load at once
                } else {
                    self.watermark
                        .frontier()
                        .saturating_sub(lookahead / 2)
                        .max(now + 1)
                };
            if self.in_flight < self.started_limit() {
                if let Some(Reverse(next)) = self.heap.peek() {
                    wake = wake.min(next.due.saturating_sub(PREPARE_AHEAD_MS));
                }
            }
            if wake <= now {
                // Drain announcements without sleeping, then go round again.
                while let Ok(event) = self.events.try_recv() {
                    self.handle(event);
                }
                tokio::task::yield_now().await;
                continue;
            }
            let clock = self.inner.clock.clone();
            let stop = self.inner.stop.clone();
            tokio::select! {
                _ = stop.stopped() => {} // handled at the top of the loop
                event = self.events.recv() => match event {
                    Some(event) => {
                        self.handle(event);
                        while let Ok(event) = self.events.try_recv() {
                            self.handle(event);
                        }
                    }
                    None => return, // the engine is gone
                },
                _ = clock.sleep_until(wake) => {}
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Pending(key) => self.offer(key),
            Event::Finished { key, next } => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.resolve(&key);
                let message = key.message;
                self.tracked.remove(&message);
                let moved = self.moved.remove(&message);
                if let Some(next) = next {
                    self.offer_next(next);
                }
                // A delivery from `next` reads the message afresh, wherever it is now.
                if let Some(moved) = moved.filter(|_| !self.tracked.contains(&message)) {
                    self.offer(moved);
                }
            }
            Event::Blocked { key, lane } => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.resolve(&key);
                self.park(key, lane);
            }
            Event::Freed(lanes) => {
                for lane in lanes {
                    self.unpark(&lane);
                }
            }
        }
    }

    /// Holds back a key whose lane has no free slot, without a started slot: in
    /// memory while the lane is busy, up to [`PARKED_PER_SLOT`] per slot while it is
    /// stuck; else deferred in the store.
    fn park(&mut self, key: DueKey, lane: Lane) {
        // A slot given back between the refusal and now woke nobody: go again.
        if !self.inner.shares.watch_if_full(&lane) {
            self.heap.push(Reverse(key));
            return;
        }
        let now = self.inner.clock.now();
        let room = self
            .inner
            .shares
            .limit(&lane)
            .saturating_mul(PARKED_PER_SLOT);
        let parked = self.parked.entry(lane).or_insert_with(|| Parked {
            keys: VecDeque::new(),
            deferrals: 0,
            progress_at: now,
        });
        let busy = now.saturating_sub(parked.progress_at) < STUCK_MS;
        if (parked.keys.len() < room || busy) && self.parked_total < MAX_IN_MEMORY {
            parked.keys.push_back(key);
            self.parked_total += 1;
            return;
        }
        let wait = DEFER_MS
            .0
            .saturating_mul(1 << parked.deferrals.min(6))
            .min(DEFER_MS.1);
        parked.deferrals = parked.deferrals.saturating_add(1);
        self.in_flight += 1;
        let inner = self.inner.clone();
        let attempt = inner.attempts.start();
        self.deliveries.spawn(async move {
            let next = crate::worker::defer(&inner, &key, now + wait).await;
            inner.announce(Event::Finished { key, next });
            drop(attempt);
        });
    }

    /// A slot of `lane` was given back: its first parked key goes back to the heap.
    fn unpark(&mut self, lane: &Lane) {
        let now = self.inner.clock.now();
        let Some(parked) = self.parked.get_mut(lane) else {
            return;
        };
        parked.deferrals = 0;
        parked.progress_at = now;
        if let Some(key) = parked.keys.pop_front() {
            self.parked_total -= 1;
            self.unparked.insert(key.message.clone(), lane.clone());
            *self.outstanding.entry(lane.clone()).or_insert(0) += 1;
            self.heap.push(Reverse(key));
        }
        if parked.keys.is_empty() {
            self.parked.remove(lane);
            self.inner.shares.unwatch(lane);
        }
    }

    /// The delivery of `key` ended (finished, or blocked again). If it was a key
    /// taken out of parking, its lane must not be left with parked keys, a free slot
    /// and nobody to use it: an unparked key that took no slot (its message was
    /// cancelled, rescheduled, or held back by its other lane) gives back no slot
    /// either, so no "freed" event would ever wake the lane's next key.
    fn resolve(&mut self, key: &DueKey) {
        let Some(lane) = self.unparked.remove(&key.message) else {
            return;
        };
        let left = match self.outstanding.get_mut(&lane) {
            Some(n) => {
                *n = n.saturating_sub(1);
                *n
            }
            None => 0,
        };
        if left == 0 {
            self.outstanding.remove(&lane);
            if self.parked.contains_key(&lane) && self.inner.shares.has_room(&lane) {
                self.unpark(&lane);
            }
        }
    }

    /// Puts a key in memory if the loaded window covers it and it is not there yet;
    /// a new key of a message already there is noted for when it leaves.
    fn offer(&mut self, key: DueKey) {
        if self.watermark.covers(&key) {
            self.track(key);
        }
    }

    /// Offers the key a finished delivery handed back. One that could not read or
    /// write the store hands back a wake-up [`STORE_RETRY_MS`] away while the store
    /// still holds the message at its old key, below the watermark, where no scan
    /// looks again: a key that near is kept in memory even when the window does not
    /// cover it yet (a later scan that finds the message's real key notes it in
    /// `moved`). Farther keys — retries — are in the store, where the scan finds them.
    fn offer_next(&mut self, next: DueKey) {
        if next.due <= self.inner.clock.now() + self.lookahead_ms().max(STORE_RETRY_MS) {
            self.track(next);
        } else {
            self.offer(next);
        }
    }

    /// Puts a key of the loaded window in the heap, or notes it in `moved` when its
    /// message is already in memory.
    fn track(&mut self, key: DueKey) {
        if self.tracked.contains(&key.message) {
            self.moved.insert(key.message.clone(), key);
        } else {
            self.tracked.insert(key.message.clone());
            self.heap.push(Reverse(key));
        }
    }

    /// Loads the next slice of the due-time index, up to `until`.
    async fn scan(&mut self, until: UnixMillis) {
        let after = self.watermark.scan_after();
        match self
            .inner
            .store
            .due(after.as_ref(), until, SCAN_LIMIT)
            .await
        {
            Ok(keys) => {
                let full = keys.len() == SCAN_LIMIT;
                let last = keys.last().cloned();
                for key in keys {
                    self.track(key);
                }
                self.watermark = match (full, last) {
                    (true, Some(last)) => Watermark::At(last),
                    _ => Watermark::Through(until),
                };
            }
            // Closed for a stop while this scan ran: the loop ends at its next turn.
            Err(_) if self.inner.is_closed() => {}
            Err(e) => tracing::error!("could not read the due-time index (will retry): {e}"),
        }
    }

    /// Deliveries started at once: twice `max_in_flight`, so that a whole burst can be
    /// prepared ahead of its time while the previous one is still on the wire. The
    /// requests on the wire stay bounded by `max_in_flight` (the workers' permits).
    fn started_limit(&self) -> usize {
        self.inner.config.max_in_flight.saturating_mul(2)
    }

    /// Starts every delivery due within [`PREPARE_AHEAD_MS`] that the limit on started
    /// deliveries allows; those not due yet are prepared and wait for their time in
    /// the worker.
    fn start_due(&mut self, now: UnixMillis) {
        while self.in_flight < self.started_limit() && !self.inner.is_draining() {
            match self.heap.peek() {
                Some(Reverse(key)) if key.due <= now + PREPARE_AHEAD_MS => {}
                _ => return,
            }
            let Some(Reverse(key)) = self.heap.pop() else {
                return;
            };
            self.in_flight += 1;
            let inner = self.inner.clone();
            let attempt = inner.attempts.start();
            self.deliveries.spawn(async move {
                let event = match crate::worker::deliver(&inner, &key).await {
                    Ended::Next(next) => Event::Finished { key, next },
                    Ended::Blocked(lane) => Event::Blocked { key, lane },
                };
                inner.announce(event);
                drop(attempt);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, EngineConfig, ManualClock, PublishPolicy, PublishRequest};
    use depesha_core::destination::Destination;
    use depesha_core::message::MessageState;
    use depesha_store::embedded::EmbeddedStore;
    use depesha_store::{Unit, UnitOutcome, Write};

    const NOW: UnixMillis = 1_800_000_000_000;
    const MINUTE: UnixMillis = 60_000;

    /// An engine on a frozen clock, and a second dispatcher over it that the test
    /// drives event by event. Every key below is due minutes from now, beyond the
    /// engine's own dispatcher's window, so that one never touches them.
    fn setup(dir: &std::path::Path) -> (Engine, Dispatcher) {
        let store = Arc::new(EmbeddedStore::open(dir).expect("store"));
        let engine = Engine::start(
            store,
            Arc::new(ManualClock::new(NOW)),
            EngineConfig::default(),
        );
        let (_announcements, events) = mpsc::unbounded_channel();
        let dispatcher = Dispatcher::new(engine.inner().clone(), events);
        (engine, dispatcher)
    }

    fn applied_keys(outcomes: Vec<UnitOutcome>) -> Vec<DueKey> {
        match outcomes.into_iter().next() {
            Some(UnitOutcome::Applied(applied)) => applied.became_due,
            other => panic!("not applied: {other:?}"),
        }
    }

    /// Publishes a message with flow-control key `k`, delayed `minutes`.
    async fn publish(engine: &Engine, minutes: u64) -> DueKey {
        let destination = Destination::Url("http://127.0.0.1:9/".into());
        let request = PublishRequest {
            user: "u",
            destination: &destination,
            headers: vec![
                ("Upstash-Delay".into(), format!("{minutes}m")),
                ("Upstash-Flow-Control-Key".into(), "k".into()),
                ("Upstash-Flow-Control-Value".into(), "parallelism=1".into()),
            ],
            body: Vec::new(),
            caller_ip: None,
            queue: None,
            schedule_id: None,
        };
        let policy = PublishPolicy {
            limits: Default::default(),
            dedup_window_ms: 0,
        };
        let plan = engine.plan(request, &policy).await.expect("plan");
        let keys = applied_keys(engine.commit(vec![plan.unit]).await.expect("publish"));
        keys.into_iter().next().expect("a pending key")
    }

    /// What a delivery held back by its key writes (`worker::hold`), and then a
    /// release of the key's wait-list at `at` (`worker::release_waiting`).
    async fn hold_and_release(engine: &Engine, key: &DueKey, at: UnixMillis) -> DueKey {
        let mut message = engine
            .store()
            .message(key.message.user.as_str(), key.message.id.as_str())
            .await
            .expect("read")
            .expect("stored");
        message.state = MessageState::Waiting;
        let hold = Unit::new(vec![Write::PutMessage(message)]);
        engine.commit(vec![hold]).await.expect("hold");
        let release = Unit::new(vec![Write::ReleaseWaiting {
            user: key.message.user.to_string(),
            key: "k".into(),
            count: 1,
            now: at,
        }]);
        let keys = applied_keys(engine.commit(vec![release]).await.expect("release"));
        keys.into_iter().next().expect("released")
    }

    /// An engine, a test dispatcher whose window is loaded through `loaded`, and the
    /// delivery of one flow-controlled message due in ten minutes, started as
    /// `start_due` starts it.
    struct Delivering {
        _dir: tempfile::TempDir,
        engine: Engine,
        dispatcher: Dispatcher,
        key: DueKey,
    }

    async fn delivering(loaded: UnixMillis) -> Delivering {
        let dir = tempfile::tempdir().expect("tempdir");
        let (engine, mut dispatcher) = setup(dir.path());
        dispatcher.watermark = Watermark::Through(loaded);
        let first = publish(&engine, 10).await;
        dispatcher.handle(Event::Pending(first));
        let Some(Reverse(key)) = dispatcher.heap.pop() else {
            panic!("the message is not in the window");
        };
        dispatcher.in_flight += 1;
        Delivering {
            _dir: dir,
            engine,
            dispatcher,
            key,
        }
    }

    /// The delivery reports that it is over.
    fn finish(d: &mut Delivering, next: Option<DueKey>) {
        let key = d.key.clone();
        d.dispatcher.handle(Event::Finished { key, next });
    }

    fn in_memory(dispatcher: &Dispatcher) -> Vec<DueKey> {
        dispatcher.heap.iter().map(|Reverse(k)| k.clone()).collect()
    }

    #[tokio::test]
    async fn a_message_released_while_its_held_delivery_finishes_is_delivered_again() {
        let mut d = delivering(NOW + 60 * MINUTE).await;
        // The delivery is held back by its key; before it reports, a slot frees and
        // the message is released, inside the loaded window.
        let released = hold_and_release(&d.engine, &d.key, NOW + 20 * MINUTE).await;
        d.dispatcher.handle(Event::Pending(released.clone()));
        finish(&mut d, None);
        assert_eq!(in_memory(&d.dispatcher), vec![released]);
    }

    #[tokio::test]
    async fn a_message_scanned_at_a_new_key_while_its_delivery_runs_is_delivered_again() {
        let mut d = delivering(NOW + 10 * MINUTE).await;
        // Released beyond the loaded window: the announcement is left to the scan,
        // which comes while the delivery still runs.
        let released = hold_and_release(&d.engine, &d.key, NOW + 30 * MINUTE).await;
        d.dispatcher.handle(Event::Pending(released.clone()));
        d.dispatcher.scan(NOW + 60 * MINUTE).await;
        assert!(in_memory(&d.dispatcher).is_empty());
        finish(&mut d, None);
        assert_eq!(in_memory(&d.dispatcher), vec![released]);
    }

    #[tokio::test]
    async fn a_wake_up_after_a_store_error_is_kept_although_the_window_does_not_cover_it() {
        let mut d = delivering(NOW + 60 * MINUTE).await;
        // The window has been loaded only half a second ahead when the delivery,
        // unable to read the store, asks to be woken in a second; the store still
        // holds the message at the key the window has passed.
        d.dispatcher.watermark = Watermark::Through(NOW + 500);
        let wake_up = DueKey {
            due: NOW + STORE_RETRY_MS,
            ..d.key.clone()
        };
        finish(&mut d, Some(wake_up.clone()));
        assert_eq!(in_memory(&d.dispatcher), vec![wake_up]);
    }

    #[tokio::test]
    async fn a_retry_announced_before_its_delivery_finishes_is_in_memory_once() {
        let mut d = delivering(NOW + 60 * MINUTE).await;
        let retry = DueKey {
            due: NOW + 15 * MINUTE,
            ..d.key.clone()
        };
        d.dispatcher.handle(Event::Pending(retry.clone()));
        finish(&mut d, Some(retry.clone()));
        assert_eq!(in_memory(&d.dispatcher), vec![retry]);
        assert!(d.dispatcher.moved.is_empty());
    }
}
