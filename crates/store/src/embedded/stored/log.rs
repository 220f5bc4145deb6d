//! A stored log entry (`logs` table, after its 8-byte time; and in journaled units).

use depesha_core::log::{HttpResponse, LogEntry, LogState};
use serde::{Deserialize, Serialize};

use super::message::HeadersV1;
use super::Record;
use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LogEntryV1 {
    pub seq: u64,
    pub time: u64,
    pub user: String,
    pub message_id: String,
    pub state: LogStateV1,
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
    pub header: Option<HeadersV1>,
    pub body: Option<Vec<u8>>,
    pub response: Option<HttpResponseV1>,
    pub error: Option<String>,
    pub next_delivery_time: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) enum LogStateV1 {
    Created,
    Active,
    Retry,
    Error,
    Delivered,
    Failed,
    CancelRequested,
    Canceled,
}

/// A destination's answer (in log entries and DLQ entries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HttpResponseV1 {
    pub status: u16,
    pub headers: HeadersV1,
    pub body: Vec<u8>,
}

impl Record for LogEntry {
    type Stored = LogEntryV1;

    fn to_stored(&self) -> LogEntryV1 {
        LogEntryV1 {
            seq: self.seq,
            time: self.time,
            user: self.user.clone(),
            message_id: self.message_id.clone(),
            state: self.state.into(),
            url: self.url.clone(),
            method: self.method.clone(),
            topic_name: self.topic_name.clone(),
            endpoint_name: self.endpoint_name.clone(),
            queue_name: self.queue_name.clone(),
            schedule_id: self.schedule_id.clone(),
            labels: self.labels.clone(),
            flow_control_key: self.flow_control_key.clone(),
            caller_ip: self.caller_ip.clone(),
            max_retries: self.max_retries,
            retry_delay_expr: self.retry_delay_expr.clone(),
            timeout_ms: self.timeout_ms,
            callback: self.callback.clone(),
            failure_callback: self.failure_callback.clone(),
            header: self.header.clone(),
            body: self.body.clone(),
            response: self.response.as_ref().map(HttpResponseV1::from),
            error: self.error.clone(),
            next_delivery_time: self.next_delivery_time,
        }
    }

    fn from_stored(e: LogEntryV1) -> StoreResult<LogEntry> {
        Ok(LogEntry {
            seq: e.seq,
            time: e.time,
            user: e.user,
            message_id: e.message_id,
            state: e.state.into(),
            url: e.url,
            method: e.method,
            topic_name: e.topic_name,
            endpoint_name: e.endpoint_name,
            queue_name: e.queue_name,
            schedule_id: e.schedule_id,
            labels: e.labels,
            flow_control_key: e.flow_control_key,
            caller_ip: e.caller_ip,
            max_retries: e.max_retries,
            retry_delay_expr: e.retry_delay_expr,
            timeout_ms: e.timeout_ms,
            callback: e.callback,
            failure_callback: e.failure_callback,
            header: e.header,
            body: e.body,
            response: e.response.map(HttpResponse::from),
            error: e.error,
            next_delivery_time: e.next_delivery_time,
        })
    }
}

impl From<LogState> for LogStateV1 {
    fn from(state: LogState) -> Self {
        match state {
            LogState::Created => LogStateV1::Created,
            LogState::Active => LogStateV1::Active,
            LogState::Retry => LogStateV1::Retry,
            LogState::Error => LogStateV1::Error,
            LogState::Delivered => LogStateV1::Delivered,
            LogState::Failed => LogStateV1::Failed,
            LogState::CancelRequested => LogStateV1::CancelRequested,
            LogState::Canceled => LogStateV1::Canceled,
        }
    }
}

impl From<LogStateV1> for LogState {
    fn from(state: LogStateV1) -> Self {
        match state {
            LogStateV1::Created => LogState::Created,
            LogStateV1::Active => LogState::Active,
            LogStateV1::Retry => LogState::Retry,
            LogStateV1::Error => LogState::Error,
            LogStateV1::Delivered => LogState::Delivered,
            LogStateV1::Failed => LogState::Failed,
            LogStateV1::CancelRequested => LogState::CancelRequested,
            LogStateV1::Canceled => LogState::Canceled,
        }
    }
}

impl From<&HttpResponse> for HttpResponseV1 {
    fn from(r: &HttpResponse) -> Self {
        HttpResponseV1 {
            status: r.status,
            headers: r.headers.clone(),
            body: r.body.clone(),
        }
    }
}

impl From<HttpResponseV1> for HttpResponse {
    fn from(r: HttpResponseV1) -> Self {
        HttpResponse {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }
    }
}
