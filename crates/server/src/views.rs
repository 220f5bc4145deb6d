//! The JSON shapes the API answers with (spec §3.4, §3.5, §3.11), built from stored
//! values. Field names follow the SDKs: where docs and SDKs spell a field differently,
//! both spellings are emitted (spec Appendix A). Redaction is applied here, on every
//! read path; delivery never goes through these views.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use depesha_core::dlq::DlqEntry;
use depesha_core::header_map::HeaderMap;
use depesha_core::log::LogEntry;
use depesha_core::message::{redacted_headers, CallbackSpec, Message};
use serde::Serialize;

/// `GET /v2/messages/{id}` (and the message part of a DLQ entry).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub message_id: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    pub method: String,
    pub header: HeaderMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    pub max_retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_delay_expression: Option<String>,
    pub not_before: u64,
    pub created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_header: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_callback_header: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    #[serde(rename = "callerIP", skip_serializing_if = "Option::is_none")]
    pub caller_ip_upper: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_control_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Attempts made so far.
    pub retried: u32,
}

impl MessageView {
    pub fn of(m: &Message) -> Self {
        let (body, body_base64) = body_fields(&m.shown_body());
        let callback_headers = |c: &Option<CallbackSpec>| {
            c.as_ref()
                .filter(|c| !c.options.headers.is_empty())
                .map(|c| redacted_headers(&c.options.headers, &m.redaction))
        };
        let flow = m.flow_control.as_ref();
        MessageView {
            message_id: m.id.clone(),
            url: m.url.clone(),
            topic_name: m.topic_name.clone(),
            endpoint_name: m.endpoint_name.clone(),
            queue_name: m.queue_name.clone(),
            method: m.method.clone(),
            header: m.shown_headers(),
            body,
            body_base64,
            max_retries: m.max_retries,
            retry_delay_expression: m.retry_delay.as_ref().map(|r| r.source().to_string()),
            not_before: m.not_before,
            created_at: m.created_at,
            timeout: m.timeout_ms.map(|t| t / 1000),
            callback: m.callback.as_ref().map(|c| c.url.clone()),
            failure_callback: m.failure_callback.as_ref().map(|c| c.url.clone()),
            callback_header: callback_headers(&m.callback),
            failure_callback_header: callback_headers(&m.failure_callback),
            schedule_id: m.schedule_id.clone(),
            caller_ip_upper: m.caller_ip.clone(),
            caller_ip: m.caller_ip.clone(),
            flow_control_key: flow.map(|f| f.key.clone()),
            parallelism: flow.and_then(|f| f.parallelism),
            rate: flow.and_then(|f| f.rate),
            period: flow
                .filter(|f| f.rate.is_some() || f.parallelism.is_some())
                .map(|f| f.period_secs),
            label: m.label().map(String::from),
            labels: m.labels.clone(),
            retried: m.retried,
        }
    }
}

/// A DLQ entry: the message's fields plus the last response (spec §3.5).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DlqView {
    pub dlq_id: String,
    #[serde(flatten)]
    pub message: MessageView,
    pub response_status: u16,
    pub response_header: HeaderMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DlqView {
    pub fn of(entry: &DlqEntry) -> Self {
        let response = entry.response.as_ref();
        let (response_body, response_body_base64) = match response {
            Some(r) => body_fields(&r.body),
            None => (None, None),
        };
        DlqView {
            dlq_id: entry.dlq_id.clone(),
            message: MessageView::of(&entry.message),
            response_status: response.map_or(0, |r| r.status),
            response_header: response.map(|r| r.headers.clone()).unwrap_or_default(),
            response_body,
            response_body_base64,
            error: entry.error.clone(),
        }
    }
}

/// One log line (spec §3.11). Bodies are base64 here, unlike in messages.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogView {
    pub time: u64,
    pub message_id: String,
    pub state: &'static str,
    pub url: String,
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_delivery_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_header: Option<HeaderMap>,
    /// Milliseconds, as documented for logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    pub max_retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_delay_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_delay_expr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_control_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_ip: Option<String>,
}

impl LogView {
    pub fn of(e: &LogEntry) -> Self {
        let response = e.response.as_ref();
        LogView {
            time: e.time,
            message_id: e.message_id.clone(),
            state: e.state.as_str(),
            url: e.url.clone(),
            method: e.method.clone(),
            error: e.error.clone(),
            next_delivery_time: e.next_delivery_time,
            topic_name: e.topic_name.clone(),
            endpoint_name: e.endpoint_name.clone(),
            queue_name: e.queue_name.clone(),
            schedule_id: e.schedule_id.clone(),
            header: e.header.clone(),
            body: e.body.as_ref().map(|b| STANDARD.encode(b)),
            response_status: response.map(|r| r.status),
            response_body: response.map(|r| STANDARD.encode(&r.body)),
            response_headers: response.map(|r| r.headers.clone()),
            response_header: response.map(|r| r.headers.clone()),
            timeout: e.timeout_ms,
            callback: e.callback.clone(),
            failure_callback: e.failure_callback.clone(),
            max_retries: e.max_retries,
            retry_delay_expression: e.retry_delay_expr.clone(),
            retry_delay_expr: e.retry_delay_expr.clone(),
            flow_control_key: e.flow_control_key.clone(),
            label: e.labels.first().cloned(),
            labels: e.labels.clone(),
            caller_ip: e.caller_ip.clone(),
        }
    }
}

/// `body` when the bytes are UTF-8, `bodyBase64` otherwise; neither when empty.
pub(crate) fn body_fields(bytes: &[u8]) -> (Option<String>, Option<String>) {
    if bytes.is_empty() {
        return (None, None);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (Some(text.to_string()), None),
        Err(_) => (None, Some(STANDARD.encode(bytes))),
    }
}
