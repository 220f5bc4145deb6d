//! A DLQ entry (spec §3.5): the message's fields plus the last response.

use depesha_core::dlq::DlqEntry;
use depesha_core::header_map::HeaderMap;
use serde::Serialize;

use super::fields::body_fields;
use super::message::MessageView;

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
