//! The per-message state history that `GET /v2/events` (and `/v2/logs`) shows
//! (spec §1 "Logs", §3.11). Entries are append-only; every state change of a message
//! is written in the same store transaction as the change itself, so the log never
//! claims something the store does not hold.

use serde::{Deserialize, Serialize};

use crate::header_map::HeaderMap;
use crate::UnixMillis;

/// The exact state strings of QStash. `CANCELED` has one L: the Python SDK parses
/// states with an enum and rejects any other spelling (spec §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LogState {
    Created,
    Active,
    Retry,
    Error,
    Delivered,
    Failed,
    CancelRequested,
    Canceled,
}

impl LogState {
    pub const ALL: [LogState; 8] = [
        LogState::Created,
        LogState::Active,
        LogState::Retry,
        LogState::Error,
        LogState::Delivered,
        LogState::Failed,
        LogState::CancelRequested,
        LogState::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LogState::Created => "CREATED",
            LogState::Active => "ACTIVE",
            LogState::Retry => "RETRY",
            LogState::Error => "ERROR",
            LogState::Delivered => "DELIVERED",
            LogState::Failed => "FAILED",
            LogState::CancelRequested => "CANCEL_REQUESTED",
            LogState::Canceled => "CANCELED",
        }
    }

    /// `IN_PROGRESS` is a filter value only: ACTIVE, RETRY or ERROR.
    pub fn is_in_progress(self) -> bool {
        matches!(self, LogState::Active | LogState::Retry | LogState::Error)
    }
}

/// What an attempt got back from the destination, when it got an HTTP answer at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// One log line. The message's identifying fields are copied in so that the line
/// stays readable after the message itself is gone; the request headers and body
/// (already redacted where asked) are carried by the `CREATED` line only, to keep the
/// log from storing every body several times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Position in the user's log, assigned by the store; orders the log and is the
    /// paging cursor.
    pub seq: u64,
    pub time: UnixMillis,
    pub user: String,
    pub message_id: String,
    pub state: LogState,
    pub url: String,
    pub method: String,
    pub topic_name: Option<String>,
    pub endpoint_name: Option<String>,
    pub queue_name: Option<String>,
    pub schedule_id: Option<String>,
    pub labels: Vec<String>,
    pub flow_control_key: Option<String>,
    pub caller_ip: Option<String>,
    pub max_retries: u32,
    pub retry_delay_expr: Option<String>,
    pub timeout_ms: Option<u64>,
    pub callback: Option<String>,
    pub failure_callback: Option<String>,
    pub header: Option<HeaderMap>,
    pub body: Option<Vec<u8>>,
    pub response: Option<HttpResponse>,
    pub error: Option<String>,
    pub next_delivery_time: Option<UnixMillis>,
}

impl LogEntry {
    /// A log line for `message` entering `state` at `time`. The store assigns `seq`.
    /// Only `CREATED` carries the request headers and body, redacted as the publisher
    /// asked (spec §4.2 `Upstash-Redact-Fields`).
    pub fn for_message(
        message: &crate::message::Message,
        state: LogState,
        time: UnixMillis,
    ) -> Self {
        let (header, body) = if state == LogState::Created {
            (Some(message.shown_headers()), Some(message.shown_body()))
        } else {
            (None, None)
        };
        LogEntry {
            seq: 0,
            time,
            user: message.user.clone(),
            message_id: message.id.clone(),
            state,
            url: message.url.clone(),
            method: message.method.clone(),
            topic_name: message.topic_name.clone(),
            endpoint_name: message.endpoint_name.clone(),
            queue_name: message.queue_name.clone(),
            schedule_id: message.schedule_id.clone(),
            labels: message.labels.clone(),
            flow_control_key: message.flow_control.as_ref().map(|f| f.key.clone()),
            caller_ip: message.caller_ip.clone(),
            max_retries: message.max_retries,
            retry_delay_expr: message.retry_delay.as_ref().map(|r| r.source().to_string()),
            timeout_ms: message.timeout_ms,
            callback: message.callback.as_ref().map(|c| c.url.clone()),
            failure_callback: message.failure_callback.as_ref().map(|c| c.url.clone()),
            header,
            body,
            response: None,
            error: None,
            next_delivery_time: None,
        }
    }
}
