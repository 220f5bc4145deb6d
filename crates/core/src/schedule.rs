//! Schedules (spec §3.8): a stored publish plus a cron expression. Each tick publishes
//! the stored request as a new message carrying the schedule's id.

use serde::{Deserialize, Serialize};

use crate::UnixMillis;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub user: String,
    pub id: String,
    /// As given, trimmed; may start with `CRON_TZ=<zone> `.
    pub cron: String,
    /// URL or URL-group name, as given.
    pub destination: String,
    /// The create request's headers that configure the produced messages
    /// (`Upstash-*`, `Content-Type`), as sent: each tick classifies them again, so a
    /// produced message is exactly what a publish with these headers would make.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `Upstash-Queue-Name`: produced messages are enqueued there.
    pub queue_name: Option<String>,
    pub caller_ip: Option<String>,
    pub created_at: UnixMillis,
    pub paused: bool,
    pub last_schedule_time: Option<UnixMillis>,
    /// The next tick; the store indexes schedules by it (unless paused).
    pub next_schedule_time: UnixMillis,
    /// Messages produced by the last tick (for `lastScheduleStates`).
    pub last_message_ids: Vec<String>,
    /// How those messages ended, as each finished: `(message id, delivered?)`. Kept
    /// here because a delivered message is pruned after a while and a failed one
    /// lives on only in the DLQ.
    pub last_results: Vec<(String, bool)>,
    /// Why the last tick produced nothing, if it failed.
    pub error: Option<String>,
}
