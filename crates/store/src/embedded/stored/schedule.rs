//! A stored schedule (`schedules` table).

use depesha_core::schedule::Schedule;
use serde::{Deserialize, Serialize};

use super::Record;
use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ScheduleV1 {
    pub user: String,
    pub id: String,
    pub cron: String,
    pub destination: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub queue_name: Option<String>,
    pub caller_ip: Option<String>,
    pub created_at: u64,
    pub paused: bool,
    pub last_schedule_time: Option<u64>,
    pub next_schedule_time: u64,
    pub last_message_ids: Vec<String>,
    pub last_results: Vec<(String, bool)>,
    pub error: Option<String>,
}

impl Record for Schedule {
    type Stored = ScheduleV1;

    fn to_stored(&self) -> ScheduleV1 {
        ScheduleV1 {
            user: self.user.clone(),
            id: self.id.clone(),
            cron: self.cron.clone(),
            destination: self.destination.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            queue_name: self.queue_name.clone(),
            caller_ip: self.caller_ip.clone(),
            created_at: self.created_at,
            paused: self.paused,
            last_schedule_time: self.last_schedule_time,
            next_schedule_time: self.next_schedule_time,
            last_message_ids: self.last_message_ids.clone(),
            last_results: self.last_results.clone(),
            error: self.error.clone(),
        }
    }

    fn from_stored(s: ScheduleV1) -> StoreResult<Schedule> {
        Ok(Schedule {
            user: s.user,
            id: s.id,
            cron: s.cron,
            destination: s.destination,
            headers: s.headers,
            body: s.body,
            queue_name: s.queue_name,
            caller_ip: s.caller_ip,
            created_at: s.created_at,
            paused: s.paused,
            last_schedule_time: s.last_schedule_time,
            next_schedule_time: s.next_schedule_time,
            last_message_ids: s.last_message_ids,
            last_results: s.last_results,
            error: s.error,
        })
    }
}
