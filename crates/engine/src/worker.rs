//! The life of one delivery: load the message, send the attempt, commit its outcome.

use std::time::Duration;

use depesha_core::message::MessageState;
use depesha_core::retry_policy::NextStep;
use depesha_store::{DueKey, UnitOutcome};

use crate::delivery;
use crate::engine::Inner;
use crate::outcome::{outcome, Retention};

/// How long to wait before trying again when the store could not be read or written.
const STORE_RETRY_MS: u64 = 1000;

/// Delivers the message at `key` once. Returns the key it should be offered again at,
/// if any (a scheduled retry, or a store error to recover from).
pub(crate) async fn deliver(inner: &Inner, key: &DueKey) -> Option<DueKey> {
    let later = |due| {
        Some(DueKey {
            due,
            user: key.user.clone(),
            id: key.id.clone(),
        })
    };
    let message = match inner.store.message(&key.user, &key.id) {
        Ok(Some(m)) if m.state == MessageState::Pending => m,
        Ok(_) => return None, // cancelled, or already handled
        Err(e) => {
            tracing::error!(message = %key.id, "could not load a due message (will retry): {e}");
            return later(inner.clock.now() + STORE_RETRY_MS);
        }
    };
    if message.due > inner.clock.now() {
        return later(message.due);
    }
    let keys = match inner.signing_keys(&message.user).await {
        Ok(keys) => keys,
        Err(e) => {
            tracing::error!(user = %message.user, "could not load signing keys (will retry): {e}");
            return later(inner.clock.now() + STORE_RETRY_MS);
        }
    };
    let timeout = message
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(inner.config.default_timeout);
    let started = inner.clock.now();
    let result = delivery::attempt(
        &inner.client,
        &message,
        &keys.current,
        started / 1000,
        timeout,
        inner.config.max_response_body,
    )
    .await;
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
            _ => None,
        },
        Err(e) => {
            // Nothing was written: the message is still pending at its old due time, so
            // the attempt will be repeated (at-least-once).
            tracing::error!(message = %message.id, "could not record an attempt's outcome (will redeliver): {e}");
            later(now + STORE_RETRY_MS)
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
