//! A stored message (`messages` table, and inside DLQ entries and journaled units),
//! with the types it contains.

use std::collections::BTreeMap;

use depesha_core::flow_control::FlowControl;
use depesha_core::message::{CallbackSpec, DeliveryOptions, Message, MessageState, Origin};
use depesha_core::queue::{QueueItem, QueuePosition};
use depesha_core::redact::Redaction;
use depesha_core::retry_delay::RetryDelay;
use serde::{Deserialize, Serialize};

use super::Record;
use crate::{StoreError, StoreResult};

/// Header name → values, as `core::header_map::HeaderMap` is today.
pub(super) type HeadersV1 = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MessageV1 {
    pub id: String,
    pub user: String,
    pub url: String,
    pub topic_name: Option<String>,
    pub endpoint_name: Option<String>,
    pub queue_name: Option<String>,
    pub schedule_id: Option<String>,
    pub method: String,
    pub headers: HeadersV1,
    pub body: Vec<u8>,
    pub max_retries: u32,
    pub retried: u32,
    /// The expression's source text.
    pub retry_delay: Option<String>,
    pub timeout_ms: Option<u64>,
    pub not_before: u64,
    pub created_at: u64,
    pub due: u64,
    pub callback: Option<CallbackSpecV1>,
    pub failure_callback: Option<CallbackSpecV1>,
    pub caller_ip: Option<String>,
    pub labels: Vec<String>,
    pub redaction: RedactionV1,
    pub flow_control: Option<FlowControlV1>,
    pub dedup_id: Option<String>,
    pub origin: OriginV1,
    pub state: MessageStateV1,
    pub queue_item: Option<QueueItemV1>,
    pub expires_at: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) enum MessageStateV1 {
    Pending,
    Delivered,
    Queued,
    Waiting,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum OriginV1 {
    Publish,
    Callback { source_message_id: String },
    FailureCallback { source_message_id: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CallbackSpecV1 {
    pub url: String,
    pub options: DeliveryOptionsV1,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DeliveryOptionsV1 {
    pub method: Option<String>,
    pub headers: HeadersV1,
    pub retries: Option<u32>,
    pub retry_delay: Option<String>,
    pub timeout_ms: Option<u64>,
    pub delay_ms: Option<u64>,
    pub flow_control: Option<FlowControlV1>,
    pub callback: Option<Box<CallbackSpecV1>>,
    pub failure_callback: Option<Box<CallbackSpecV1>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FlowControlV1 {
    pub key: String,
    pub parallelism: Option<u32>,
    pub rate: Option<u32>,
    pub period_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RedactionV1 {
    pub body: bool,
    pub all_headers: bool,
    pub headers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct QueueItemV1 {
    pub queue: String,
    pub position: QueuePositionV1,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct QueuePositionV1 {
    pub enqueued_at: u64,
    pub seq: u64,
}

impl Record for Message {
    type Stored = MessageV1;

    fn to_stored(&self) -> MessageV1 {
        MessageV1 {
            id: self.id.clone(),
            user: self.user.clone(),
            url: self.url.clone(),
            topic_name: self.topic_name.clone(),
            endpoint_name: self.endpoint_name.clone(),
            queue_name: self.queue_name.clone(),
            schedule_id: self.schedule_id.clone(),
            method: self.method.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            max_retries: self.max_retries,
            retried: self.retried,
            retry_delay: self.retry_delay.as_ref().map(|d| d.source().to_string()),
            timeout_ms: self.timeout_ms,
            not_before: self.not_before,
            created_at: self.created_at,
            due: self.due,
            callback: self.callback.as_ref().map(CallbackSpecV1::from),
            failure_callback: self.failure_callback.as_ref().map(CallbackSpecV1::from),
            caller_ip: self.caller_ip.clone(),
            labels: self.labels.clone(),
            redaction: RedactionV1::from(&self.redaction),
            flow_control: self.flow_control.as_ref().map(FlowControlV1::from),
            dedup_id: self.dedup_id.clone(),
            origin: OriginV1::from(&self.origin),
            state: MessageStateV1::from(self.state),
            queue_item: self.queue_item.as_ref().map(QueueItemV1::from),
            expires_at: self.expires_at,
        }
    }

    fn from_stored(m: MessageV1) -> StoreResult<Message> {
        Ok(Message {
            id: m.id,
            user: m.user,
            url: m.url,
            topic_name: m.topic_name,
            endpoint_name: m.endpoint_name,
            queue_name: m.queue_name,
            schedule_id: m.schedule_id,
            method: m.method,
            headers: m.headers,
            body: m.body,
            max_retries: m.max_retries,
            retried: m.retried,
            retry_delay: retry_delay(m.retry_delay)?,
            timeout_ms: m.timeout_ms,
            not_before: m.not_before,
            created_at: m.created_at,
            due: m.due,
            callback: m.callback.map(CallbackSpec::try_from).transpose()?,
            failure_callback: m.failure_callback.map(CallbackSpec::try_from).transpose()?,
            caller_ip: m.caller_ip,
            labels: m.labels,
            redaction: m.redaction.into(),
            flow_control: m.flow_control.map(FlowControl::from),
            dedup_id: m.dedup_id,
            origin: m.origin.into(),
            state: m.state.into(),
            queue_item: m.queue_item.map(QueueItem::from),
            expires_at: m.expires_at,
        })
    }
}

/// A stored retry-delay expression, parsed again (as the domain type keeps its parse).
fn retry_delay(source: Option<String>) -> StoreResult<Option<RetryDelay>> {
    source
        .map(|s| {
            RetryDelay::parse(&s).map_err(|e| {
                StoreError::Corrupt(
                    format!("stored retry delay \"{s}\" does not parse: {e}").into(),
                )
            })
        })
        .transpose()
}

impl From<MessageState> for MessageStateV1 {
    fn from(state: MessageState) -> Self {
        match state {
            MessageState::Pending => MessageStateV1::Pending,
            MessageState::Delivered => MessageStateV1::Delivered,
            MessageState::Queued => MessageStateV1::Queued,
            MessageState::Waiting => MessageStateV1::Waiting,
        }
    }
}

impl From<MessageStateV1> for MessageState {
    fn from(state: MessageStateV1) -> Self {
        match state {
            MessageStateV1::Pending => MessageState::Pending,
            MessageStateV1::Delivered => MessageState::Delivered,
            MessageStateV1::Queued => MessageState::Queued,
            MessageStateV1::Waiting => MessageState::Waiting,
        }
    }
}

impl From<&Origin> for OriginV1 {
    fn from(origin: &Origin) -> Self {
        match origin {
            Origin::Publish => OriginV1::Publish,
            Origin::Callback { source_message_id } => OriginV1::Callback {
                source_message_id: source_message_id.clone(),
            },
            Origin::FailureCallback { source_message_id } => OriginV1::FailureCallback {
                source_message_id: source_message_id.clone(),
            },
        }
    }
}

impl From<OriginV1> for Origin {
    fn from(origin: OriginV1) -> Self {
        match origin {
            OriginV1::Publish => Origin::Publish,
            OriginV1::Callback { source_message_id } => Origin::Callback { source_message_id },
            OriginV1::FailureCallback { source_message_id } => {
                Origin::FailureCallback { source_message_id }
            }
        }
    }
}

impl From<&CallbackSpec> for CallbackSpecV1 {
    fn from(spec: &CallbackSpec) -> Self {
        CallbackSpecV1 {
            url: spec.url.clone(),
            options: DeliveryOptionsV1::from(&spec.options),
        }
    }
}

impl TryFrom<CallbackSpecV1> for CallbackSpec {
    type Error = StoreError;

    fn try_from(spec: CallbackSpecV1) -> StoreResult<Self> {
        Ok(CallbackSpec {
            url: spec.url,
            options: DeliveryOptions::try_from(spec.options)?,
        })
    }
}

impl From<&DeliveryOptions> for DeliveryOptionsV1 {
    fn from(o: &DeliveryOptions) -> Self {
        let boxed = |spec: &Option<Box<CallbackSpec>>| {
            spec.as_deref().map(|s| Box::new(CallbackSpecV1::from(s)))
        };
        DeliveryOptionsV1 {
            method: o.method.clone(),
            headers: o.headers.clone(),
            retries: o.retries,
            retry_delay: o.retry_delay.as_ref().map(|d| d.source().to_string()),
            timeout_ms: o.timeout_ms,
            delay_ms: o.delay_ms,
            flow_control: o.flow_control.as_ref().map(FlowControlV1::from),
            callback: boxed(&o.callback),
            failure_callback: boxed(&o.failure_callback),
        }
    }
}

impl TryFrom<DeliveryOptionsV1> for DeliveryOptions {
    type Error = StoreError;

    fn try_from(o: DeliveryOptionsV1) -> StoreResult<Self> {
        let boxed = |spec: Option<Box<CallbackSpecV1>>| {
            spec.map(|s| CallbackSpec::try_from(*s).map(Box::new))
                .transpose()
        };
        Ok(DeliveryOptions {
            method: o.method,
            headers: o.headers,
            retries: o.retries,
            retry_delay: retry_delay(o.retry_delay)?,
            timeout_ms: o.timeout_ms,
            delay_ms: o.delay_ms,
            flow_control: o.flow_control.map(FlowControl::from),
            callback: boxed(o.callback)?,
            failure_callback: boxed(o.failure_callback)?,
        })
    }
}

impl From<&FlowControl> for FlowControlV1 {
    fn from(f: &FlowControl) -> Self {
        FlowControlV1 {
            key: f.key.clone(),
            parallelism: f.parallelism,
            rate: f.rate,
            period_secs: f.period_secs,
        }
    }
}

impl From<FlowControlV1> for FlowControl {
    fn from(f: FlowControlV1) -> Self {
        FlowControl {
            key: f.key,
            parallelism: f.parallelism,
            rate: f.rate,
            period_secs: f.period_secs,
        }
    }
}

impl From<&Redaction> for RedactionV1 {
    fn from(r: &Redaction) -> Self {
        RedactionV1 {
            body: r.body,
            all_headers: r.all_headers,
            headers: r.headers.clone(),
        }
    }
}

impl From<RedactionV1> for Redaction {
    fn from(r: RedactionV1) -> Self {
        Redaction {
            body: r.body,
            all_headers: r.all_headers,
            headers: r.headers,
        }
    }
}

impl From<&QueueItem> for QueueItemV1 {
    fn from(item: &QueueItem) -> Self {
        QueueItemV1 {
            queue: item.queue.clone(),
            position: item.position.into(),
        }
    }
}

impl From<QueueItemV1> for QueueItem {
    fn from(item: QueueItemV1) -> Self {
        QueueItem {
            queue: item.queue,
            position: item.position.into(),
        }
    }
}

impl From<QueuePosition> for QueuePositionV1 {
    fn from(p: QueuePosition) -> Self {
        QueuePositionV1 {
            enqueued_at: p.enqueued_at,
            seq: p.seq,
        }
    }
}

impl From<QueuePositionV1> for QueuePosition {
    fn from(p: QueuePositionV1) -> Self {
        QueuePosition {
            enqueued_at: p.enqueued_at,
            seq: p.seq,
        }
    }
}
