//! `GET /v2/messages/{id}` (and the message part of a DLQ entry), spec §3.4.

use depesha_core::message::Message;
use serde::Serialize;

use super::fields::{AddressFields, ContentFields, Delivery, DeliveryFields};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    #[serde(flatten)]
    pub address: AddressFields,
    #[serde(flatten)]
    pub content: ContentFields,
    #[serde(flatten)]
    pub delivery: DeliveryFields,
    pub max_retries: u32,
    /// Attempts made so far.
    pub retried: u32,
    pub not_before: u64,
    pub created_at: u64,
}

impl MessageView {
    pub fn of(m: &Message) -> Self {
        MessageView {
            address: AddressFields {
                message_id: m.id.clone(),
                url: m.url.clone(),
                topic_name: m.topic_name.clone(),
                endpoint_name: m.endpoint_name.clone(),
                queue_name: m.queue_name.clone(),
                schedule_id: m.schedule_id.clone(),
            },
            content: ContentFields::of(&m.method, &m.headers, &m.body, &m.redaction),
            delivery: DeliveryFields::of(Delivery {
                timeout_ms: m.timeout_ms,
                retry_delay: m.retry_delay.as_ref(),
                callback: m.callback.as_ref(),
                failure_callback: m.failure_callback.as_ref(),
                caller_ip: m.caller_ip.as_ref(),
                flow_control: m.flow_control.as_ref(),
                labels: &m.labels,
                redaction: &m.redaction,
            }),
            max_retries: m.max_retries,
            retried: m.retried,
            not_before: m.not_before,
            created_at: m.created_at,
        }
    }
}
