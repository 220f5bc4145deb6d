//! The field groups several views show: which message went where (a message and its
//! log lines), what is sent (method, headers, body) and how it is delivered (timeout,
//! retry delay, callbacks, caller, flow control, labels; a message and a schedule).
//! One definition each, flattened into the views, so they cannot drift apart.
//! Redaction is applied here.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use depesha_core::flow_control::FlowControl;
use depesha_core::header_map::HeaderMap;
use depesha_core::message::{redacted_headers, CallbackSpec};
use depesha_core::redact::Redaction;
use depesha_core::retry_delay::RetryDelay;
use serde::Serialize;

/// Which message, and where it goes: the same fields on a message and on each of
/// its log lines.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressFields {
    pub message_id: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
}

/// What a delivery sends.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentFields {
    pub method: String,
    pub header: HeaderMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl ContentFields {
    /// `headers` and `body` as stored: both are redacted here.
    pub fn of(method: &str, headers: &HeaderMap, body: &[u8], redaction: &Redaction) -> Self {
        let shown_body = redaction.redact_body(body).map(String::into_bytes);
        let (body, body_base64) = body_fields(shown_body.as_deref().unwrap_or(body));
        ContentFields {
            method: method.to_string(),
            header: redacted_headers(headers, redaction),
            body,
            body_base64,
        }
    }
}

/// How a delivery is made, apart from its retries (which messages and schedules
/// name differently).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryFields {
    /// Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_delay_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_header: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_callback_header: Option<HeaderMap>,
    /// Both spellings (spec Appendix A).
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
    /// Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// The stored settings [`DeliveryFields`] shows.
pub struct Delivery<'a> {
    pub timeout_ms: Option<u64>,
    pub retry_delay: Option<&'a RetryDelay>,
    pub callback: Option<&'a CallbackSpec>,
    pub failure_callback: Option<&'a CallbackSpec>,
    pub caller_ip: Option<&'a String>,
    pub flow_control: Option<&'a FlowControl>,
    pub labels: &'a [String],
    pub redaction: &'a Redaction,
}

impl DeliveryFields {
    pub fn of(d: Delivery<'_>) -> Self {
        let callback_headers = |c: Option<&CallbackSpec>| {
            c.filter(|c| !c.options.headers.is_empty())
                .map(|c| redacted_headers(&c.options.headers, d.redaction))
        };
        let flow = d.flow_control;
        DeliveryFields {
            timeout: d.timeout_ms.map(|t| t / 1000),
            retry_delay_expression: d.retry_delay.map(|r| r.source().to_string()),
            callback: d.callback.map(|c| c.url.clone()),
            failure_callback: d.failure_callback.map(|c| c.url.clone()),
            callback_header: callback_headers(d.callback),
            failure_callback_header: callback_headers(d.failure_callback),
            caller_ip_upper: d.caller_ip.cloned(),
            caller_ip: d.caller_ip.cloned(),
            flow_control_key: flow.map(|f| f.key.clone()),
            parallelism: flow.and_then(|f| f.parallelism),
            rate: flow.and_then(|f| f.rate),
            period: flow
                .filter(|f| f.rate.is_some() || f.parallelism.is_some())
                .map(|f| f.period_secs),
            label: d.labels.first().cloned(),
            labels: d.labels.to_vec(),
        }
    }
}

/// `body` when the bytes are UTF-8, `bodyBase64` otherwise; neither when empty.
pub fn body_fields(bytes: &[u8]) -> (Option<String>, Option<String>) {
    if bytes.is_empty() {
        return (None, None);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (Some(text.to_string()), None),
        Err(_) => (None, Some(STANDARD.encode(bytes))),
    }
}
