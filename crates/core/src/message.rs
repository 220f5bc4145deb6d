//! A message: one HTTP request that Depesha stores and later delivers to one URL
//! (spec §1). A publish to a URL group creates one message per endpoint; a callback is
//! a message of its own. This is the stored form; the JSON views the API shows are
//! built from it at the server edge.

use serde::{Deserialize, Serialize};

use crate::flow_control::FlowControl;
use crate::header_map::HeaderMap;
use crate::redact::Redaction;
use crate::retry_delay::RetryDelay;
use crate::UnixMillis;

/// Where a message stands. Pending messages are in the store's due-time index;
/// delivered ones stay readable for a while (spec Appendix B "read after publish") and
/// are then pruned; failed ones live on as DLQ entries; cancelled ones are removed.
/// Queued and waiting messages are held back for a reason other than time, each in an
/// index of its own, and become pending when let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageState {
    Pending,
    Delivered,
    /// In a queue, behind the queue's active messages (or the queue is paused).
    Queued,
    /// Due, but its flow-control key is at its limit: in the key's wait-list.
    Waiting,
}

impl MessageState {
    /// Not yet delivered or failed: pending, queued or waiting. Cancel applies to
    /// these, and a queue counts them in its lag.
    pub fn is_unfinished(self) -> bool {
        !matches!(self, MessageState::Delivered)
    }
}

/// Why a message exists: published by a client, or produced by Depesha itself as the
/// callback of another message (spec §8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    Publish,
    Callback { source_message_id: String },
    FailureCallback { source_message_id: String },
}

/// The settings a callback (or failure callback) message is created with. Spec §4.1:
/// `Upstash-Callback-<Y>` configures the callback message exactly as `Upstash-<Y>`
/// configures a publish, so the same [`DeliveryOptions`] describes both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackSpec {
    pub url: String,
    pub options: DeliveryOptions,
}

/// Per-layer delivery settings, as parsed from one family of headers (`Upstash-*`,
/// `Upstash-Callback-*`, `Upstash-Failure-Callback-*`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryOptions {
    /// `None` means POST.
    pub method: Option<String>,
    /// Headers sent with the request: forwarded ones with their prefix stripped, and
    /// `Content-Type`. Canonical names.
    pub headers: HeaderMap,
    /// Extra attempts after the first; `None` means the server default (or, for a
    /// callback, the source message's retries).
    pub retries: Option<u32>,
    pub retry_delay: Option<RetryDelay>,
    pub timeout_ms: Option<u64>,
    pub delay_ms: Option<u64>,
    pub flow_control: Option<FlowControl>,
    pub callback: Option<Box<CallbackSpec>>,
    pub failure_callback: Option<Box<CallbackSpec>>,
}

impl DeliveryOptions {
    pub fn method(&self) -> &str {
        self.method.as_deref().unwrap_or("POST")
    }
}

/// The stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    /// The tenant that published it (spec Appendix B). Every lookup is scoped by it.
    pub user: String,
    /// The concrete URL this message is delivered to.
    pub url: String,
    pub topic_name: Option<String>,
    pub endpoint_name: Option<String>,
    pub queue_name: Option<String>,
    pub schedule_id: Option<String>,
    pub method: String,
    /// Headers delivered with the body (forwarded headers and `Content-Type`).
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub max_retries: u32,
    /// Attempts already made. The next delivery carries it as `Upstash-Retried`.
    pub retried: u32,
    pub retry_delay: Option<RetryDelay>,
    pub timeout_ms: Option<u64>,
    /// The earliest delivery time the publisher asked for (or creation time).
    pub not_before: UnixMillis,
    pub created_at: UnixMillis,
    /// When the next attempt is due. Equals `not_before` until a retry moves it.
    pub due: UnixMillis,
    pub callback: Option<CallbackSpec>,
    pub failure_callback: Option<CallbackSpec>,
    pub caller_ip: Option<String>,
    pub labels: Vec<String>,
    pub redaction: Redaction,
    pub flow_control: Option<FlowControl>,
    pub dedup_id: Option<String>,
    pub origin: Origin,
    pub state: MessageState,
    /// The queue item this message holds (its own, or, for a callback, its source's).
    pub queue_item: Option<crate::queue::QueueItem>,
    /// When a delivered message stops being readable and is pruned.
    pub expires_at: Option<UnixMillis>,
}

impl Message {
    /// A queued message whose item is among its queue's active ones starts: it is
    /// pending again, due when its delay allows (a delay given at enqueue still holds).
    pub fn admit_from_queue(&mut self, now: UnixMillis) {
        self.state = MessageState::Pending;
        self.due = now.max(self.not_before);
    }

    /// A message that waited for its flow-control key is let through: pending, due
    /// now (its delay had passed when it was parked, or it would not have been).
    pub fn release_from_wait(&mut self, now: UnixMillis) {
        self.state = MessageState::Pending;
        self.due = now;
    }
}

impl Message {
    /// The first label, which QStash still shows as the deprecated `label` field.
    pub fn label(&self) -> Option<&str> {
        self.labels.first().map(String::as_str)
    }

    /// Body as UTF-8 text when it is valid UTF-8, which decides between the `body`
    /// and `bodyBase64` JSON fields.
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }
}

impl Message {
    /// Headers as reads show them: values of redacted headers replaced by
    /// `REDACTED:<sha256>` (spec §4.2). Delivery always uses [`Message::headers`].
    pub fn shown_headers(&self) -> HeaderMap {
        redacted_headers(&self.headers, &self.redaction)
    }

    /// Body as reads show it (redacted when asked).
    pub fn shown_body(&self) -> Vec<u8> {
        match self.redaction.redact_body(&self.body) {
            Some(text) => text.into_bytes(),
            None => self.body.clone(),
        }
    }
}

/// Applies a redaction to a header map, for display.
pub fn redacted_headers(headers: &HeaderMap, redaction: &Redaction) -> HeaderMap {
    if redaction.is_empty() {
        return headers.clone();
    }
    headers
        .iter()
        .map(|(name, values)| {
            let shown = if redaction.redacts_header(name) {
                values
                    .iter()
                    .map(|v| Redaction::redacted_value(v))
                    .collect()
            } else {
                values.clone()
            };
            (name.clone(), shown)
        })
        .collect()
}
