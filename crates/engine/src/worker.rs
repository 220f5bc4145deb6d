//! The life of one delivery: load the message, pass the gates that may hold it back
//! (a paused queue, a flow-control key at its limit), send the attempt, commit its
//! outcome. A plain message started a little before its due time is prepared and
//! then waits for it (see [`crate::prepared`]).

use std::sync::Arc;
use std::time::Duration;

use depesha_core::flow_key::FlowKey;
use depesha_core::message::{Message, MessageState};
use depesha_core::retry_policy::NextStep;
use depesha_store::{DueKey, Guard, Unit, UnitOutcome, Write};

use crate::delivery;
use crate::engine::Inner;
use crate::fairness::{destination_of, Lane, SharePermit};
use crate::flow::{Admission, RELEASE_BATCH};
use crate::outcome::{outcome, Retention};
use crate::prepared::Ticket;

/// How long to wait before trying again when the store could not be read or written.
pub(crate) const STORE_RETRY_MS: u64 = 1000;
/// How long before its due time the dispatcher may start a delivery, so that it is
/// prepared when the time comes (see [`crate::prepared`]).
pub(crate) const PREPARE_AHEAD_MS: u64 = 100;

/// How a delivery ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// It is over; the key the message should be offered again at, if any (a
    /// scheduled retry, or a store error to recover from).
    Next(Option<DueKey>),
    /// It may not be sent now: this lane (its destination or its user) has no free
    /// slot. Nothing was written; the message is still pending at its key.
    Blocked(Lane),
}

/// Delivers the message at `key` once.
pub(crate) async fn deliver(inner: &Arc<Inner>, key: &DueKey) -> Ended {
    let later = |due| {
        Ended::Next(Some(DueKey {
            due,
            message: key.message.clone(),
        }))
    };
    if key.due > inner.clock.now() {
        if let Early::Finished(ended) = before_due(inner, key, later).await {
            return ended;
        }
    }
    let message = match load(inner, key).await {
        Ok(Some(m)) => m,
        Ok(None) => return Ended::Next(None), // cancelled, or already handled
        Err(()) => return later(inner.clock.now() + STORE_RETRY_MS),
    };
    if message.due > inner.clock.now() {
        return later(message.due);
    }
    match queue_paused(inner, &message).await {
        Ok(false) => {}
        Ok(true) => return Ended::Next(hold(inner, message, MessageState::Queued).await),
        Err(()) => return later(inner.clock.now() + STORE_RETRY_MS),
    }
    let Some(request) = prepare(inner, &message).await else {
        return later(inner.clock.now() + STORE_RETRY_MS);
    };
    // Before the flow-control gate, so that a message its destination holds back
    // does not use up one of its key's starts.
    let share = match take_share(inner, &message.user, &request) {
        Ok(share) => share,
        Err(lane) => return Ended::Blocked(lane),
    };
    let flow_key = message.flow_control.as_ref().map(|f| f.key.clone());
    if let Some(flow_key) = &flow_key {
        let now = inner.clock.now();
        let admission = match inner.flow.try_start(&message.user, flow_key, now) {
            Some(admission) => admission,
            None => {
                let limits = stored_limits(inner, &message.user, flow_key, now).await;
                inner
                    .flow
                    .try_start_with(&message.user, flow_key, now, limits)
            }
        };
        if let Admission::Wait { until } = admission {
            drop(share);
            let user = message.user.clone();
            let next = hold(inner, message, MessageState::Waiting).await;
            if next.is_none() {
                if let Some(at) = inner.flow.parked(&user, flow_key, until) {
                    wake_at(inner.clone(), user.clone(), flow_key.clone(), at);
                }
                // A slot may have freed between the refusal and the park, with nobody
                // left to notice: look once more now that the message is listed.
                release_waiting(inner, &user, flow_key).await;
            }
            return Ended::Next(next);
        }
    }
    let ended = send(inner, message, request, share, later).await;
    if let Some(flow_key) = flow_key {
        let user = key.message.user.as_str();
        inner.flow.finish(user, &flow_key);
        release_waiting(inner, user, &flow_key).await;
    }
    ended
}

/// A slot of the user's and the request's destination (see [`crate::fairness`]), or
/// the lane that has none. An attempt that cannot be sent needs no slot: it fails
/// without a connection.
fn take_share(
    inner: &Arc<Inner>,
    user: &str,
    request: &delivery::Prepared,
) -> Result<Option<SharePermit>, Lane> {
    match request {
        Ok(request) => inner
            .shares
            .try_take(user, destination_of(request.url()))
            .map(Some),
        Err(_) => Ok(None),
    }
}

/// Moves a message that its lane holds back, and that the dispatcher has no room to
/// keep in memory, to a later due time in the store (its attempt count unchanged).
/// Returns its new key.
pub(crate) async fn defer(inner: &Arc<Inner>, key: &DueKey, until: u64) -> Option<DueKey> {
    let mut message = match load(inner, key).await {
        Ok(Some(m)) => m,
        Ok(None) => return None,
        Err(()) => {
            return Some(DueKey {
                due: inner.clock.now() + STORE_RETRY_MS,
                ..key.clone()
            })
        }
    };
    let guard = Guard::MessageAt {
        user: message.user.clone(),
        id: message.id.clone(),
        retried: message.retried,
    };
    message.due = until.max(message.due);
    let next = DueKey::new(message.due, message.user.as_str(), message.id.as_str());
    match inner
        .commit(vec![Unit::guarded(guard, vec![Write::PutMessage(message)])])
        .await
    {
        Ok(outcomes) => match outcomes.first() {
            Some(UnitOutcome::Applied(_)) => Some(next),
            _ => None, // cancelled or attempted meanwhile: whoever changed it owns it
        },
        Err(e) => {
            tracing::error!(message = %key.message.id, "could not defer a held-back message (will retry): {e}");
            Some(DueKey {
                due: inner.clock.now() + STORE_RETRY_MS,
                ..key.clone()
            })
        }
    }
}

/// The pending message at `key`; `None` when it is not pending any more.
async fn load(inner: &Inner, key: &DueKey) -> Result<Option<Message>, ()> {
    match inner
        .store
        .message(key.message.user.as_str(), key.message.id.as_str())
        .await
    {
        Ok(Some(m)) if m.state == MessageState::Pending => Ok(Some(m)),
        Ok(_) => Ok(None),
        Err(e) => {
            tracing::error!(message = %key.message.id, "could not load a due message (will retry): {e}");
            Err(())
        }
    }
}

/// Whether nothing but time decides when `message` is sent: no queue that may be
/// paused, no flow-control key that may hold it back.
fn is_plain(message: &Message) -> bool {
    message.queue_name.is_none() && message.flow_control.is_none()
}

/// What became of a delivery started before its due time.
enum Early {
    /// It is over.
    Finished(Ended),
    /// The due time has come: deliver it like any due message.
    Due,
}

/// A delivery started before its due time. A plain message is prepared, waits, and
/// is sent; any other waits, and is then read and delivered like a due one, because
/// a queue's pause or a key's limits are decided on what the store says then.
async fn before_due(inner: &Arc<Inner>, key: &DueKey, later: impl Fn(u64) -> Ended) -> Early {
    // Registered before the read, so that a cancel cannot slip between the two.
    let ticket = inner.prepared.register(&key.message);
    let message = match load(inner, key).await {
        Ok(Some(m)) => m,
        Ok(None) => return Early::Finished(Ended::Next(None)),
        Err(()) => return Early::Finished(later(inner.clock.now() + STORE_RETRY_MS)),
    };
    let now = inner.clock.now();
    if message.due > now + PREPARE_AHEAD_MS {
        return Early::Finished(later(message.due));
    }
    if message.due > now && is_plain(&message) {
        return Early::Finished(attempt_when_due(inner, message, ticket, later).await);
    }
    inner.clock.sleep_until(message.due).await;
    if inner.is_draining() {
        return Early::Finished(later(message.due)); // still pending, for the next start
    }
    Early::Due
}

/// Prepares the attempt of a message that is not due yet, waits for its due time,
/// and sends it unless it was cancelled meanwhile.
async fn attempt_when_due(
    inner: &Arc<Inner>,
    message: Message,
    ticket: Ticket,
    later: impl Fn(u64) -> Ended,
) -> Ended {
    let Some(request) = prepare(inner, &message).await else {
        return later(message.due.max(inner.clock.now() + STORE_RETRY_MS));
    };
    inner.clock.sleep_until(message.due).await;
    if ticket.withdrawn() {
        return Ended::Next(None); // cancelled: the store no longer holds it
    }
    if inner.is_draining() {
        return later(message.due); // still pending in the store, for the next start
    }
    drop(ticket); // from here on it is a delivery in flight like any other
    let share = match take_share(inner, &message.user, &request) {
        Ok(share) => share,
        Err(lane) => return Ended::Blocked(lane),
    };
    send(inner, message, request, share, later).await
}

/// The signed request of an attempt of `message`; `None` when the signing keys could
/// not be read.
async fn prepare(inner: &Inner, message: &Message) -> Option<delivery::Prepared> {
    let keys = match inner.signing_keys(&message.user).await {
        Ok(keys) => keys,
        Err(e) => {
            tracing::error!(user = %message.user, "could not load signing keys (will retry): {e}");
            return None;
        }
    };
    Some(delivery::prepare(
        &inner.client,
        message,
        &keys.current,
        inner.clock.now() / 1000,
        timeout_of(inner, message),
        &inner.config.destinations,
    ))
}

fn timeout_of(inner: &Inner, message: &Message) -> Duration {
    message
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(inner.config.default_timeout)
}

/// Sends a prepared attempt and commits its outcome.
async fn send(
    inner: &Arc<Inner>,
    message: Message,
    request: delivery::Prepared,
    share: Option<SharePermit>,
    later: impl Fn(u64) -> Ended,
) -> Ended {
    // At most `max_in_flight` requests on the wire; the permit (and the slots of the
    // message's user and destination) are held until the answer is read, not through
    // the outcome's commit.
    let permit = inner.sending.acquire().await.ok();
    let started = inner.clock.now();
    let result = delivery::send(
        &inner.client,
        request,
        timeout_of(inner, &message),
        inner.config.max_response_body,
    )
    .await;
    drop(permit);
    drop(share);
    let now = inner.clock.now();
    let retention = Retention {
        delivered_ms: millis(inner.config.delivered_retention),
        dlq_ms: millis(inner.config.dlq_retention),
    };
    let out = outcome(
        &message,
        &result,
        started,
        now,
        &inner.config.backoff,
        &retention,
        inner.next_dlq_seq(),
    );
    match inner.commit(vec![out.unit]).await {
        Ok(outcomes) => match (outcomes.first(), out.step) {
            (Some(UnitOutcome::Applied(_)), NextStep::RetryAt(at)) => later(at),
            _ => Ended::Next(None),
        },
        Err(e) => {
            // Nothing was written: the message is still pending at its old due time, so
            // the attempt will be repeated (at-least-once).
            tracing::error!(message = %message.id, "could not record an attempt's outcome (will redeliver): {e}");
            later(now + STORE_RETRY_MS)
        }
    }
}

/// Whether the message is a queue's message and that queue is paused (spec §3.7:
/// paused queues accept but do not deliver). Callback messages holding a queue item
/// are not the queue's own deliveries and go ahead.
async fn queue_paused(inner: &Inner, message: &Message) -> Result<bool, ()> {
    let Some(queue) = &message.queue_name else {
        return Ok(false);
    };
    match inner.store.queue(&message.user, queue).await {
        Ok(q) => Ok(q.is_some_and(|q| q.paused)),
        Err(e) => {
            tracing::error!(queue = %queue, "could not read a queue (will retry): {e}");
            Err(())
        }
    }
}

/// Takes a due message out of the due-time index into `state` (queued behind a paused
/// queue, or waiting for its flow-control key). Guarded by the attempt count, so a
/// message cancelled meanwhile stays cancelled.
async fn hold(inner: &Inner, mut message: Message, state: MessageState) -> Option<DueKey> {
    let guard = Guard::MessageAt {
        user: message.user.clone(),
        id: message.id.clone(),
        retried: message.retried,
    };
    let key = DueKey::new(
        inner.clock.now() + STORE_RETRY_MS,
        message.user.as_str(),
        message.id.as_str(),
    );
    message.state = state;
    match inner
        .commit(vec![Unit::guarded(guard, vec![Write::PutMessage(message)])])
        .await
    {
        Ok(_) => None,
        Err(e) => {
            tracing::error!(message = %key.message.id, "could not hold a message back (will retry): {e}");
            Some(key)
        }
    }
}

/// The stored limits of a key, or none when the key has no record yet.
async fn stored_limits(inner: &Inner, user: &str, key: &str, now: u64) -> FlowKey {
    match inner.store.flow_key(user, key).await {
        Ok(Some(limits)) => limits,
        Ok(None) => FlowKey::new(user, key, now),
        Err(e) => {
            tracing::error!(key = %key, "could not read flow-control limits, using none: {e}");
            FlowKey::new(user, key, now)
        }
    }
}

/// Releases as many waiting messages of a key as may start now, and makes sure the
/// rest are looked at again when the rate period rolls over.
pub(crate) async fn release_waiting(inner: &Arc<Inner>, user: &str, key: &str) {
    let now = inner.clock.now();
    let room = match inner.flow.room(user, key, now) {
        Some(room) => room,
        None => {
            let limits = stored_limits(inner, user, key, now).await;
            inner.flow.room_with(user, key, now, limits)
        }
    };
    if room == 0 {
        // Nothing may start, so the wait-list need not be read: when it is the rate
        // period that holds the key back, look again when the period rolls over (one
        // timer per key and period, whether or not anything waits by then).
        if let Some(at) = inner.flow.wake_for_the_rest(user, key, 0) {
            wake_at(inner.clone(), user.to_string(), key.to_string(), at);
        }
        return;
    }
    // One more than may start tells whether some will still wait.
    let waiting = match inner
        .store
        .waiting_count(user, key, room.saturating_add(1))
        .await
    {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(key = %key, "could not read a wait-list (will look again): {e}");
            wake_at(
                inner.clone(),
                user.to_string(),
                key.to_string(),
                now + STORE_RETRY_MS,
            );
            return;
        }
    };
    let count = room.min(waiting);
    if waiting > count {
        if let Some(at) = inner.flow.wake_for_the_rest(user, key, count) {
            wake_at(inner.clone(), user.to_string(), key.to_string(), at);
        }
    }
    if count == 0 {
        return; // nobody waits
    }
    let unit = Unit::new(vec![Write::ReleaseWaiting {
        user: user.to_string(),
        key: key.to_string(),
        count: usize::try_from(count).unwrap_or(RELEASE_BATCH),
        now,
    }]);
    if let Err(e) = inner.commit(vec![unit]).await {
        tracing::error!(key = %key, "could not release waiting messages (will look again): {e}");
        wake_at(
            inner.clone(),
            user.to_string(),
            key.to_string(),
            now + STORE_RETRY_MS,
        );
    }
}

/// Releases a key's waiting messages when its rate period rolls over.
fn wake_at(inner: Arc<Inner>, user: String, key: String, at: u64) {
    let stop = inner.stop.clone();
    let task = {
        let inner = inner.clone();
        async move {
            tokio::select! {
                _ = stop.stopped() => {}
                _ = inner.clock.sleep_until(at) => release_waiting(&inner, &user, &key).await,
            }
        }
    };
    inner.tasks.spawn(task);
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
