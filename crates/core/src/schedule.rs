//! Schedules (spec §3.8): a stored publish plus a cron expression. Each tick publishes
//! the stored request as a new message carrying the schedule's id.

use serde::{Deserialize, Serialize};

use crate::cron::{next_tick, CronExpr};
use crate::ids;
use crate::publish::{classify, PublishLimits};
use crate::{InputError, InputResult, UnixMillis};

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

    /// The schedule `settings` make, for `user`. Replacing `existing` keeps what is not
    /// a setting: when it was created, its history, and whether an operator paused it.
    pub fn stored(
        user: &str,
        settings: ScheduleSettings,
        existing: Option<&Schedule>,
        now: UnixMillis,
    ) -> Schedule {
        Schedule {
            user: user.to_string(),
            id: settings.id,
            cron: settings.cron,
            destination: settings.destination,
            headers: settings.headers,
            body: settings.body,
            queue_name: settings.queue_name,
            caller_ip: settings.caller_ip,
            created_at: existing.map_or(now, |s| s.created_at),
            paused: existing.is_some_and(|s| s.paused),
            last_schedule_time: existing.and_then(|s| s.last_schedule_time),
            next_schedule_time: settings.next_schedule_time,
            last_message_ids: existing
                .map(|s| s.last_message_ids.clone())
                .unwrap_or_default(),
            last_results: existing.map(|s| s.last_results.clone()).unwrap_or_default(),
            error: None,
        }
    }

    /// Pauses or resumes at `now`; returns whether anything changed (both are
    /// idempotent). Resuming computes the next tick from now: the ticks missed while
    /// paused are not fired.
    pub fn set_paused(&mut self, paused: bool, now: UnixMillis) -> bool {
        if self.paused == paused {
            return false;
        }
        self.paused = paused;
        if !paused {
            self.next_schedule_time = next_tick(&self.cron, now);
        }
        true
    }
}

/// Headers of the create request that are not stored for the ticks: the
/// schedule-only ones (kept in the schedule's own fields), and `Upstash-Not-Before`
/// and deduplication, which are not part of schedules (spec §3.8). Telemetry headers
/// are not stored either.
const NOT_STORED: [&str; 6] = [
    "upstash-cron",
    "upstash-schedule-id",
    "upstash-queue-name",
    "upstash-not-before",
    "upstash-deduplication-id",
    "upstash-content-based-deduplication",
];

/// A create request (`POST /v2/schedules/{destination}`), checked: what a schedule
/// stores, apart from what it keeps when it replaces one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSettings {
    pub id: String,
    pub cron: String,
    pub destination: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub queue_name: Option<String>,
    pub caller_ip: Option<String>,
    /// The first tick after the request.
    pub next_schedule_time: UnixMillis,
}

impl ScheduleSettings {
    /// Checks every header exactly as a publish would (so a bad value is a 400 now
    /// rather than a failing tick), the cron expression (it must fire at all), the id
    /// (a fresh one when none is given) and the queue name.
    pub fn parse(
        destination: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        caller_ip: Option<String>,
        limits: &PublishLimits,
        now: UnixMillis,
    ) -> InputResult<ScheduleSettings> {
        let parsed = classify(headers, limits, now)?;
        let cron = CronExpr::parse(parsed.cron.as_deref().unwrap_or(""))?;
        let next = cron.next_after(now).ok_or_else(|| {
            InputError::new(format!(
                "invalid Upstash-Cron \"{}\": it never fires (no such date); use a date that exists, like \"0 0 1 * *\"",
                cron.as_str()
            ))
        })?;
        let id = match parsed.schedule_id.as_deref() {
            Some(id) if ids::is_valid_name(id) => id.to_string(),
            Some(id) => {
                return Err(InputError::new(format!(
                    "invalid Upstash-Schedule-Id \"{id}\": use 1 to {} letters, digits, -, _ and ., like \"daily-report\"",
                    ids::MAX_NAME_LEN
                )))
            }
            None => ids::schedule_id(),
        };
        if let Some(queue) = parsed.queue_name.as_deref() {
            if !ids::is_valid_name(queue) {
                return Err(InputError::new(format!(
                    "invalid Upstash-Queue-Name \"{queue}\": use 1 to {} letters, digits, -, _ and ., like \"reports\"",
                    ids::MAX_NAME_LEN
                )));
            }
        }
        Ok(ScheduleSettings {
            id,
            cron: cron.as_str().to_string(),
            destination: destination.to_string(),
            headers: stored_headers(headers, parsed.header_forward),
            body,
            queue_name: parsed.queue_name,
            caller_ip,
            next_schedule_time: next,
        })
    }
}

/// The create request's headers that configure the ticks' messages, as sent.
fn stored_headers(headers: &[(String, String)], header_forward: bool) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            if name == "content-type" {
                true
            } else if name.starts_with("upstash-") {
                !NOT_STORED.contains(&name.as_str()) && !name.starts_with("upstash-telemetry-")
            } else {
                // Plain headers matter only to `Upstash-Header-Forward: true`; each tick
                // drops hop-by-hop ones again.
                header_forward && name != "authorization"
            }
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_settings_are_stored() {
        let headers: Vec<(String, String)> = [
            ("Upstash-Cron", "* * * * *"),
            ("upstash-schedule-id", "x"),
            ("Upstash-Queue-Name", "q"),
            ("Upstash-Telemetry-Sdk", "js"),
            ("Upstash-Deduplication-Id", "d"),
            ("Upstash-Not-Before", "1"),
            ("Upstash-Retries", "5"),
            ("Upstash-Forward-Test-Header", "v"),
            ("content-type", "application/json"),
            ("Authorization", "Bearer secret"),
            ("User-Agent", "curl"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        let names = |forward| -> Vec<String> {
            stored_headers(&headers, forward)
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        };
        assert_eq!(
            names(false),
            [
                "Upstash-Retries",
                "Upstash-Forward-Test-Header",
                "content-type"
            ]
        );
        assert_eq!(
            names(true),
            [
                "Upstash-Retries",
                "Upstash-Forward-Test-Header",
                "content-type",
                "User-Agent"
            ]
        );
    }

    #[test]
    fn resuming_skips_the_ticks_missed_while_paused() {
        let minute = 60_000;
        let settings = ScheduleSettings {
            id: "s".into(),
            cron: "* * * * *".into(),
            destination: "https://example.com".into(),
            headers: Vec::new(),
            body: Vec::new(),
            queue_name: None,
            caller_ip: None,
            next_schedule_time: minute,
        };
        let mut schedule = Schedule::stored("u", settings, None, 0);
        assert!(schedule.set_paused(true, 0));
        assert!(
            !schedule.set_paused(true, 0),
            "pausing twice changes nothing"
        );
        assert!(schedule.set_paused(false, 10 * minute + 1));
        assert_eq!(schedule.next_schedule_time, 11 * minute);
    }

    #[test]
    fn a_replacement_keeps_the_creation_time_history_and_pause() {
        let settings = |next| ScheduleSettings {
            id: "s".into(),
            cron: "* * * * *".into(),
            destination: "https://example.com".into(),
            headers: Vec::new(),
            body: Vec::new(),
            queue_name: None,
            caller_ip: None,
            next_schedule_time: next,
        };
        let mut old = Schedule::stored("u", settings(60_000), None, 1);
        old.paused = true;
        old.last_message_ids = vec!["msg_1".into()];
        old.error = Some("failed".into());
        let new = Schedule::stored("u", settings(120_000), Some(&old), 70_000);
        assert_eq!(new.created_at, 1);
        assert!(new.paused);
        assert_eq!(new.last_message_ids, ["msg_1"]);
        assert_eq!(new.error, None);
        assert_eq!(new.next_schedule_time, 120_000);
    }
}
