//! What a DLQ retry creates (spec §3.5): a fresh message with the entry's destination,
//! headers and original (unredacted) body, whose `Upstash-*` settings the retry
//! request may override.

use crate::dlq::DlqEntry;
use crate::ids;
use crate::message::{Message, MessageState, Origin};
use crate::publish::{classify, PublishHeaders, PublishLimits};
use crate::{InputResult, UnixMillis};

/// The `Upstash-*` headers of a retry request: their parsed values, and which of them
/// were sent (only those override; a default must not replace a stored setting).
#[derive(Debug, Clone, Default)]
pub struct RetryOverrides {
    parsed: PublishHeaders,
    present: Vec<String>,
}

impl RetryOverrides {
    pub fn parse(
        headers: &[(String, String)],
        limits: &PublishLimits,
        now: UnixMillis,
    ) -> InputResult<RetryOverrides> {
        Ok(RetryOverrides {
            parsed: classify(headers, limits, now)?,
            present: headers
                .iter()
                .map(|(k, _)| k.to_ascii_lowercase())
                .collect(),
        })
    }

    fn has(&self, name: &str) -> bool {
        self.present.iter().any(|p| p == name)
    }
}

/// The message a retry of `entry` creates at `now`: new id, no attempts yet, due after
/// the override's delay, no deduplication, out of any queue (the engine puts a queue's
/// message back at the end of its queue).
pub fn retry_message(entry: &DlqEntry, overrides: &RetryOverrides, now: UnixMillis) -> Message {
    let mut m = entry.message.clone();
    let o = &overrides.parsed.options;
    if overrides.has("upstash-retries") {
        m.max_retries = o.retries.unwrap_or(m.max_retries);
    }
    if overrides.has("upstash-retry-delay") {
        m.retry_delay = o.retry_delay.clone();
    }
    if overrides.has("upstash-timeout") {
        m.timeout_ms = o.timeout_ms;
    }
    if overrides.has("upstash-method") {
        m.method = o.method().to_string();
    }
    if overrides.has("upstash-callback") {
        m.callback = o.callback.as_deref().cloned();
    }
    if overrides.has("upstash-failure-callback") {
        m.failure_callback = o.failure_callback.as_deref().cloned();
    }
    if overrides.has("upstash-flow-control-key") {
        m.flow_control = o.flow_control.clone();
    }
    m.id = ids::message_id(now);
    m.retried = 0;
    m.created_at = now;
    m.not_before = now.saturating_add(o.delay_ms.unwrap_or(0));
    m.due = m.not_before;
    m.state = MessageState::Pending;
    m.expires_at = None;
    m.dedup_id = None;
    m.origin = Origin::Publish;
    m.queue_item = None;
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::sample_message;

    fn entry(headers: &[(&str, &str)]) -> DlqEntry {
        let mut message = sample_message(headers, b"original");
        message.retried = 3;
        DlqEntry {
            dlq_id: "1-0".into(),
            message,
            response: None,
            error: None,
            failed_at: 1,
            expires_at: 2,
        }
    }

    fn overrides(headers: &[(&str, &str)]) -> RetryOverrides {
        let pairs: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RetryOverrides::parse(&pairs, &PublishLimits::default(), 0).expect("valid headers")
    }

    #[test]
    fn a_retry_is_a_fresh_message_with_the_original_body() {
        let old = entry(&[("Upstash-Retries", "2"), ("Upstash-Method", "PUT")]);
        let m = retry_message(&old, &overrides(&[]), 1_000);
        assert_ne!(m.id, "msg_old");
        assert_eq!((m.retried, m.created_at, m.due), (0, 1_000, 1_000));
        assert_eq!(m.body, b"original");
        assert_eq!(m.state, MessageState::Pending);
        assert_eq!(
            (m.max_retries, m.method.as_str()),
            (2, "PUT"),
            "settings kept"
        );
    }

    #[test]
    fn only_the_headers_sent_with_the_retry_override() {
        let old = entry(&[("Upstash-Retries", "2"), ("Upstash-Method", "PUT")]);
        let m = retry_message(
            &old,
            &overrides(&[("Upstash-Retries", "5"), ("Upstash-Delay", "10s")]),
            1_000,
        );
        assert_eq!(m.max_retries, 5);
        assert_eq!(
            m.method, "PUT",
            "a header not sent keeps the stored setting"
        );
        assert_eq!(m.due, 11_000);
    }
}
