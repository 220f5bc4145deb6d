//! A schedule as the API shows it (spec §3.8). Its settings come from classifying the
//! stored headers, so they read back exactly as a produced message would have them,
//! in the same field groups as a message's; redaction (`Upstash-Redact-Fields`)
//! applies to `header`, `body` and the callback headers, as for messages.

use std::collections::BTreeMap;

use depesha_core::cron::NEVER;
use depesha_core::message::MessageState;
use depesha_core::publish::{classify, PublishHeaders, PublishLimits};
use depesha_core::schedule::Schedule;
use depesha_core::UnixMillis;
use depesha_store::{MessageStore, StoreResult};
use serde::Serialize;

use super::fields::{ContentFields, Delivery, DeliveryFields};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub schedule_id: String,
    pub cron: String,
    pub destination: String,
    pub created_at: u64,
    #[serde(flatten)]
    pub content: ContentFields,
    #[serde(flatten)]
    pub delivery: DeliveryFields,
    pub retries: u32,
    /// Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    pub is_paused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<u64>,
    /// Absent while paused (resuming computes it anew).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub last_schedule_states: BTreeMap<String, &'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ScheduleView {
    /// `messages`: where the last tick's messages that have not finished yet are
    /// looked up.
    pub async fn of(
        s: &Schedule,
        limits: &PublishLimits,
        now: UnixMillis,
        messages: &(impl MessageStore + ?Sized),
    ) -> StoreResult<ScheduleView> {
        // Stored headers were valid at creation; should today's limits refuse them,
        // the ticks fail with an error (shown below) and the settings show as default.
        let parsed =
            classify(&s.headers, limits, now).unwrap_or_else(|_| PublishHeaders::default());
        let options = &parsed.options;
        let redaction = &parsed.redaction;
        Ok(ScheduleView {
            schedule_id: s.id.clone(),
            cron: s.cron.clone(),
            destination: s.destination.clone(),
            created_at: s.created_at,
            content: ContentFields::of(options.method(), &options.headers, &s.body, redaction),
            delivery: DeliveryFields::of(Delivery {
                timeout_ms: options.timeout_ms,
                retry_delay: options.retry_delay.as_ref(),
                callback: options.callback.as_deref(),
                failure_callback: options.failure_callback.as_deref(),
                caller_ip: s.caller_ip.as_ref(),
                flow_control: options.flow_control.as_ref(),
                labels: &parsed.labels,
                redaction,
            }),
            retries: options
                .retries
                .unwrap_or(limits.default_retries.min(limits.max_retries)),
            delay: options.delay_ms.map(|d| d / 1000),
            queue_name: s.queue_name.clone(),
            is_paused: s.paused,
            last_schedule_time: s.last_schedule_time,
            next_schedule_time: (!s.paused && s.next_schedule_time != NEVER)
                .then_some(s.next_schedule_time),
            last_schedule_states: last_states(s, messages).await?,
            error: s.error.clone(),
        })
    }
}

/// How each message of the last tick stands: as recorded when it finished, else as
/// stored now.
async fn last_states(
    s: &Schedule,
    messages: &(impl MessageStore + ?Sized),
) -> StoreResult<BTreeMap<String, &'static str>> {
    let mut states = BTreeMap::new();
    for id in &s.last_message_ids {
        let finished = s.last_results.iter().find(|(m, _)| m == id);
        let shown = match finished {
            Some((_, true)) => "SUCCESS",
            Some((_, false)) => "FAIL",
            None => match messages.message(&s.user, id).await? {
                Some(m) if m.state == MessageState::Delivered => "SUCCESS",
                Some(_) => "IN_PROGRESS",
                // Cancelled before it finished.
                None => "FAIL",
            },
        };
        states.insert(id.clone(), shown);
    }
    Ok(states)
}
