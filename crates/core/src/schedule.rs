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

impl Schedule {
    /// The time the store's tick index holds the schedule at: its next tick, unless
    /// it is paused (a paused schedule is in no index and never fires).
    pub fn indexed_at(&self) -> Option<UnixMillis> {
        (!self.paused).then_some(self.next_schedule_time)
    }

    /// Records how a message of the last tick ended. Results of earlier ticks'
    /// messages, and a second result for one message (an at-least-once outcome
    /// applied twice), change nothing; returns whether the schedule changed.
    pub fn record_result(&mut self, message_id: &str, delivered: bool) -> bool {
        let of_last_tick = self.last_message_ids.iter().any(|m| m == message_id);
        let already = self.last_results.iter().any(|(m, _)| m == message_id);
        if !of_last_tick || already {
            return false;
        }
        self.last_results.push((message_id.to_string(), delivered));
        true
    }
}
