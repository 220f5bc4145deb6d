//! One log line (spec §3.11). Bodies are base64 here, unlike in messages.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use depesha_core::header_map::HeaderMap;
use depesha_core::log::LogEntry;
use serde::Serialize;

use super::fields::AddressFields;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogView {
    pub time: u64,
    #[serde(flatten)]
    pub address: AddressFields,
    pub state: &'static str,
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_delivery_time: Option<u64>,
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
            address: AddressFields {
                message_id: e.message_id.clone(),
                url: e.url.clone(),
                topic_name: e.topic_name.clone(),
                endpoint_name: e.endpoint_name.clone(),
                queue_name: e.queue_name.clone(),
                schedule_id: e.schedule_id.clone(),
            },
            state: e.state.as_str(),
            method: e.method.clone(),
            error: e.error.clone(),
            next_delivery_time: e.next_delivery_time,
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
