//! Flow control (spec §3.10): per-key limits on deliveries — `parallelism` attempts in
//! flight at once, `rate` attempts started per `period` — shared by every message of
//! a user that carries the key, whatever route it came by.
//!
//! The gate is checked per *attempt*, just before a due message is sent. An attempt
//! that may not start is parked: the message becomes `Waiting` and moves from the
//! due-time index to the key's wait-list in the store, so a long wait costs no memory
//! and survives restarts. When a slot frees (an attempt ends, a rate period rolls
//! over, the key is resumed or its limits raised), the first waiting messages are
//! released — made pending again, due now — and go through the gate once more.
//!
//! Counters live here, in memory: after a restart nothing is in flight and a new rate
//! period starts. The limits themselves are the stored [`FlowKey`], cached here. Who
//! waits is *not* counted here: the store's wait-list is asked each time (up to the
//! number that may start). A count kept in memory drifts from the list when a park
//! and a release — or the resume at start — cross, and a message the count forgets
//! is never released; the kill loop found one.

use std::collections::HashMap;
use std::sync::Mutex;

use depesha_core::flow_key::FlowKey;
use depesha_core::refs::FlowKeyRef;
use depesha_core::UnixMillis;

/// At most this many waiting messages are released by one commit.
pub(crate) const RELEASE_BATCH: usize = 256;

/// Whether an attempt may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Yes; the caller must call [`FlowGate::finish`] when the attempt is over.
    Go,
    /// No; park the message. `until` is when the rate period rolls over, if that is
    /// what holds it back.
    Wait { until: Option<UnixMillis> },
}

/// One key's live state.
#[derive(Debug, Clone)]
struct KeyState {
    limits: FlowKey,
    in_flight: u32,
    period_start: UnixMillis,
    started_in_period: u32,
    /// A wake-up at the end of the rate period is already scheduled for this time.
    wake_at: Option<UnixMillis>,
}

impl KeyState {
    fn new(limits: FlowKey, now: UnixMillis) -> Self {
        KeyState {
            limits,
            in_flight: 0,
            period_start: now,
            started_in_period: 0,
            wake_at: None,
        }
    }

    fn roll(&mut self, now: UnixMillis) {
        let period = self.limits.period_secs.max(1) * 1000;
        if now >= self.period_start.saturating_add(period) {
            // Periods are aligned to the first one, like a fixed window.
            let elapsed = now - self.period_start;
            self.period_start += elapsed - elapsed % period;
            self.started_in_period = 0;
        }
    }

    fn period_end(&self) -> UnixMillis {
        self.period_start
            .saturating_add(self.limits.period_secs.max(1) * 1000)
    }

    /// How many attempts could start now.
    fn room(&self) -> u64 {
        if self.limits.paused {
            return 0;
        }
        let by_parallelism = self
            .limits
            .parallelism
            .map_or(u64::MAX, |p| u64::from(p.saturating_sub(self.in_flight)));
        let by_rate = self.limits.rate.map_or(u64::MAX, |r| {
            u64::from(r.saturating_sub(self.started_in_period))
        });
        by_parallelism.min(by_rate)
    }

    /// Lets an attempt start if there is room now, and counts it.
    fn admit(&mut self, now: UnixMillis) -> Admission {
        self.roll(now);
        if self.room() == 0 {
            let rate_bound = self
                .limits
                .rate
                .is_some_and(|r| self.started_in_period >= r)
                && !self.limits.paused
                && self.limits.parallelism.is_none_or(|p| self.in_flight < p);
            return Admission::Wait {
                until: rate_bound.then(|| self.period_end()),
            };
        }
        self.in_flight += 1;
        self.started_in_period += 1;
        Admission::Go
    }

    /// How many waiting messages may be released now (at most [`RELEASE_BATCH`]).
    fn release_room(&mut self, now: UnixMillis) -> u64 {
        self.roll(now);
        if self.wake_at.is_some_and(|w| w <= now) {
            self.wake_at = None;
        }
        self.room().min(RELEASE_BATCH as u64)
    }
}

/// What `GET /v2/flowControl/{key}` shows of the live state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowCounters {
    pub in_flight: u32,
    pub started_in_period: u32,
    pub period_start: UnixMillis,
}

/// The gate of every flow-control key of every user.
#[derive(Default)]
pub(crate) struct FlowGate {
    keys: Mutex<HashMap<FlowKeyRef, KeyState>>,
}

impl FlowGate {
    /// Asks to start an attempt of a message with this key; `None` when the key is
    /// not in memory yet, and the caller must load its stored limits and ask
    /// [`FlowGate::try_start_with`]. (The store is read outside the lock, since that
    /// read awaits.)
    pub(crate) fn try_start(&self, user: &str, key: &str, now: UnixMillis) -> Option<Admission> {
        let mut keys = self.lock();
        let state = keys.get_mut(&FlowKeyRef::new(user, key))?;
        Some(state.admit(now))
    }

    /// [`FlowGate::try_start`] for a key seen for the first time, with its stored
    /// `limits`. Limits that came into memory meanwhile (a change by an operation)
    /// are newer than the ones read, and are kept.
    pub(crate) fn try_start_with(
        &self,
        user: &str,
        key: &str,
        now: UnixMillis,
        limits: FlowKey,
    ) -> Admission {
        self.lock()
            .entry(FlowKeyRef::new(user, key))
            .or_insert_with(|| KeyState::new(limits, now))
            .admit(now)
    }

    /// An attempt that was let through is over.
    pub(crate) fn finish(&self, user: &str, key: &str) {
        if let Some(state) = self.lock().get_mut(&FlowKeyRef::new(user, key)) {
            state.in_flight = state.in_flight.saturating_sub(1);
        }
    }

    /// A message of this key was parked in the wait-list. Returns the time a wake-up
    /// must be scheduled for, if the rate period holds it back and none is scheduled.
    pub(crate) fn parked(
        &self,
        user: &str,
        key: &str,
        until: Option<UnixMillis>,
    ) -> Option<UnixMillis> {
        let mut keys = self.lock();
        let state = keys.get_mut(&FlowKeyRef::new(user, key))?;
        match (until, state.wake_at) {
            (Some(t), Some(w)) if w <= t => None,
            (Some(t), _) => {
                state.wake_at = Some(t);
                Some(t)
            }
            (None, _) => None,
        }
    }

    /// How many waiting messages of a key may be released now (at most
    /// [`RELEASE_BATCH`]); `None` when the key is not in memory yet (at start, its
    /// wait-list outlived the process), and the caller must load its stored limits
    /// and ask [`FlowGate::room_with`].
    pub(crate) fn room(&self, user: &str, key: &str, now: UnixMillis) -> Option<u64> {
        let mut keys = self.lock();
        let state = keys.get_mut(&FlowKeyRef::new(user, key))?;
        Some(state.release_room(now))
    }

    /// [`FlowGate::room`] for a key seen for the first time, with its stored `limits`
    /// (kept out, like in [`FlowGate::try_start_with`], by newer ones in memory).
    pub(crate) fn room_with(&self, user: &str, key: &str, now: UnixMillis, limits: FlowKey) -> u64 {
        self.lock()
            .entry(FlowKeyRef::new(user, key))
            .or_insert_with(|| KeyState::new(limits, now))
            .release_room(now)
    }

    /// `released` waiting messages are being released and more wait. When it is this
    /// rate period that holds the rest back, returns the period's end — the time a
    /// wake-up must be scheduled for — unless one is scheduled already. (When
    /// parallelism holds them back, the attempts that end release them.)
    pub(crate) fn wake_for_the_rest(
        &self,
        user: &str,
        key: &str,
        released: u64,
    ) -> Option<UnixMillis> {
        let mut keys = self.lock();
        let state = keys.get_mut(&FlowKeyRef::new(user, key))?;
        let rate_left = state
            .limits
            .rate
            .map(|r| u64::from(r.saturating_sub(state.started_in_period)));
        let rate_bound = !state.limits.paused && rate_left.is_some_and(|r| r <= released);
        if !rate_bound || state.wake_at.is_some() {
            return None;
        }
        let at = state.period_end();
        state.wake_at = Some(at);
        Some(at)
    }

    /// New stored limits (a publish brought new values, or pin/unpin/pause/resume).
    pub(crate) fn set_limits(&self, limits: FlowKey, now: UnixMillis) {
        let mut keys = self.lock();
        let id = FlowKeyRef::new(limits.user.as_str(), limits.key.as_str());
        match keys.get_mut(&id) {
            Some(state) => state.limits = limits,
            None => {
                keys.insert(id, KeyState::new(limits, now));
            }
        }
    }

    /// `resetRate` (and pinning): a new rate period starts now.
    pub(crate) fn reset_rate(&self, user: &str, key: &str, now: UnixMillis) {
        if let Some(state) = self.lock().get_mut(&FlowKeyRef::new(user, key)) {
            state.period_start = now;
            state.started_in_period = 0;
        }
    }

    pub(crate) fn counters(&self, user: &str, key: &str, now: UnixMillis) -> FlowCounters {
        let mut keys = self.lock();
        match keys.get_mut(&FlowKeyRef::new(user, key)) {
            Some(state) => {
                state.roll(now);
                FlowCounters {
                    in_flight: state.in_flight,
                    started_in_period: state.started_in_period,
                    period_start: state.period_start,
                }
            }
            None => FlowCounters {
                period_start: now,
                ..FlowCounters::default()
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FlowKeyRef, KeyState>> {
        // A panic while holding the lock leaves plain counters behind; keep going.
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asks the gate as the worker does: from memory, else with the stored limits.
    fn try_start(
        gate: &FlowGate,
        user: &str,
        key: &str,
        now: UnixMillis,
        limits: impl FnOnce() -> FlowKey,
    ) -> Admission {
        gate.try_start(user, key, now)
            .unwrap_or_else(|| gate.try_start_with(user, key, now, limits()))
    }

    /// [`FlowGate::room`] as `release_waiting` asks it.
    fn room(
        gate: &FlowGate,
        user: &str,
        key: &str,
        now: UnixMillis,
        limits: impl FnOnce() -> FlowKey,
    ) -> u64 {
        gate.room(user, key, now)
            .unwrap_or_else(|| gate.room_with(user, key, now, limits()))
    }

    fn limits(parallelism: Option<u32>, rate: Option<u32>, period_secs: u64) -> FlowKey {
        FlowKey {
            parallelism,
            rate,
            period_secs,
            ..FlowKey::new("u", "k", 0)
        }
    }

    #[test]
    fn parallelism_bounds_attempts_in_flight() {
        let gate = FlowGate::default();
        let l = || limits(Some(2), None, 1);
        assert_eq!(try_start(&gate, "u", "k", 0, l), Admission::Go);
        assert_eq!(try_start(&gate, "u", "k", 0, l), Admission::Go);
        assert_eq!(
            try_start(&gate, "u", "k", 0, l),
            Admission::Wait { until: None }
        );
        gate.finish("u", "k");
        assert_eq!(try_start(&gate, "u", "k", 0, l), Admission::Go);
    }

    #[test]
    fn rate_bounds_starts_per_period_and_says_when_it_rolls_over() {
        let gate = FlowGate::default();
        let l = || limits(None, Some(2), 10);
        assert_eq!(try_start(&gate, "u", "k", 1_000, l), Admission::Go);
        gate.finish("u", "k");
        assert_eq!(try_start(&gate, "u", "k", 2_000, l), Admission::Go);
        gate.finish("u", "k");
        assert_eq!(
            try_start(&gate, "u", "k", 3_000, l),
            Admission::Wait {
                until: Some(11_000)
            }
        );
        assert_eq!(try_start(&gate, "u", "k", 11_000, l), Admission::Go);
    }

    #[test]
    fn a_paused_key_has_no_room_until_resumed() {
        let gate = FlowGate::default();
        let mut l = limits(Some(3), None, 1);
        l.paused = true;
        gate.set_limits(l.clone(), 0);
        assert_eq!(
            try_start(&gate, "u", "k", 0, || unreachable!()),
            Admission::Wait { until: None }
        );
        assert_eq!(gate.parked("u", "k", None), None);
        assert_eq!(room(&gate, "u", "k", 0, || unreachable!()), 0);
        assert_eq!(gate.wake_for_the_rest("u", "k", 0), None, "resume wakes it");
        l.paused = false;
        gate.set_limits(l, 0);
        assert_eq!(room(&gate, "u", "k", 0, || unreachable!()), 3);
    }

    #[test]
    fn room_loads_the_stored_limits_of_a_key_first_seen_at_start() {
        let gate = FlowGate::default();
        assert_eq!(room(&gate, "u", "k", 0, || limits(Some(2), None, 1)), 2);
        assert_eq!(
            try_start(&gate, "u", "k", 0, || unreachable!()),
            Admission::Go
        );
        assert_eq!(room(&gate, "u", "k", 0, || unreachable!()), 1);
    }

    #[test]
    fn a_release_that_uses_up_the_rate_asks_for_one_wake_up_at_the_next_period() {
        let gate = FlowGate::default();
        gate.set_limits(limits(None, Some(2), 2), 0);
        assert_eq!(room(&gate, "u", "k", 0, || unreachable!()), 2);
        assert_eq!(gate.wake_for_the_rest("u", "k", 2), Some(2_000));
        // The two released start and use up the period.
        assert_eq!(
            try_start(&gate, "u", "k", 10, || unreachable!()),
            Admission::Go
        );
        assert_eq!(
            try_start(&gate, "u", "k", 10, || unreachable!()),
            Admission::Go
        );
        assert_eq!(room(&gate, "u", "k", 100, || unreachable!()), 0);
        assert_eq!(
            gate.wake_for_the_rest("u", "k", 0),
            None,
            "a wake-up is already due"
        );
        assert_eq!(room(&gate, "u", "k", 2_000, || unreachable!()), 2);
        assert_eq!(gate.wake_for_the_rest("u", "k", 2), Some(4_000));
    }

    #[test]
    fn parallelism_that_holds_the_rest_back_needs_no_wake_up() {
        let gate = FlowGate::default();
        gate.set_limits(limits(Some(1), Some(10), 60), 0);
        assert_eq!(room(&gate, "u", "k", 0, || unreachable!()), 1);
        assert_eq!(gate.wake_for_the_rest("u", "k", 1), None);
    }

    #[test]
    fn keys_of_different_users_are_separate() {
        let gate = FlowGate::default();
        let l = || limits(Some(1), None, 1);
        assert_eq!(try_start(&gate, "a", "k", 0, l), Admission::Go);
        assert_eq!(try_start(&gate, "b", "k", 0, l), Admission::Go);
    }
}
