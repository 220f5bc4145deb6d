//! A journal record's payload: the units of one commit (see `journal.rs`).

use depesha_core::dlq::DlqEntry;
use depesha_core::flow_key::FlowKey;
use depesha_core::keys::SigningKeys;
use depesha_core::log::LogEntry;
use depesha_core::message::Message;
use depesha_core::queue::Queue;
use depesha_core::schedule::Schedule;
use depesha_core::url_group::UrlGroup;
use serde::{Deserialize, Serialize};

use super::dlq::DlqEntryV1;
use super::flow_key::FlowKeyV1;
use super::group::UrlGroupV1;
use super::keys::SigningKeysV1;
use super::log::LogEntryV1;
use super::message::{MessageV1, QueuePositionV1};
use super::queue::QueueV1;
use super::schedule::ScheduleV1;
use super::Record;
use crate::{Guard, StoreResult, Unit, Write};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct UnitV1 {
    pub guard: Option<GuardV1>,
    pub writes: Vec<WriteV1>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum GuardV1 {
    ClaimDedup {
        user: String,
        key: String,
        message_ids: Vec<String>,
        expires_at: u64,
    },
    TakePendingMessage {
        user: String,
        id: String,
    },
    MessageAt {
        user: String,
        id: String,
        retried: u32,
    },
    TakeDlq {
        user: String,
        dlq_id: String,
    },
    ScheduleAt {
        user: String,
        id: String,
        next_schedule_time: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum WriteV1 {
    PutMessage(MessageV1),
    DeleteMessage {
        user: String,
        id: String,
    },
    PutDlq(DlqEntryV1),
    AppendLog(LogEntryV1),
    PutKeys {
        user: String,
        keys: SigningKeysV1,
    },
    PutGroup(UrlGroupV1),
    DeleteGroup {
        user: String,
        name: String,
    },
    PutQueue(QueueV1),
    DeleteQueue {
        user: String,
        name: String,
    },
    PutQueueItem {
        user: String,
        queue: String,
        position: QueuePositionV1,
        holder: String,
    },
    DeleteQueueItem {
        user: String,
        queue: String,
        position: QueuePositionV1,
    },
    FillQueue {
        user: String,
        queue: String,
        now: u64,
    },
    PutFlowKey(FlowKeyV1),
    ReleaseWaiting {
        user: String,
        key: String,
        count: u64,
        now: u64,
    },
    PutSchedule(ScheduleV1),
    DeleteSchedule {
        user: String,
        id: String,
    },
    RecordScheduleResult {
        user: String,
        schedule_id: String,
        message_id: String,
        delivered: bool,
    },
}

impl Record for Vec<Unit> {
    type Stored = Vec<UnitV1>;

    fn to_stored(&self) -> Vec<UnitV1> {
        self.iter()
            .map(|unit| UnitV1 {
                guard: unit.guard.as_ref().map(GuardV1::from),
                writes: unit.writes.iter().map(WriteV1::from).collect(),
            })
            .collect()
    }

    fn from_stored(units: Vec<UnitV1>) -> StoreResult<Vec<Unit>> {
        units
            .into_iter()
            .map(|unit| {
                Ok(Unit {
                    guard: unit.guard.map(Guard::from),
                    writes: unit
                        .writes
                        .into_iter()
                        .map(Write::try_from)
                        .collect::<StoreResult<_>>()?,
                })
            })
            .collect()
    }
}

impl From<&Guard> for GuardV1 {
    fn from(guard: &Guard) -> Self {
        match guard.clone() {
            Guard::ClaimDedup {
                user,
                key,
                message_ids,
                expires_at,
            } => GuardV1::ClaimDedup {
                user,
                key,
                message_ids,
                expires_at,
            },
            Guard::TakePendingMessage { user, id } => GuardV1::TakePendingMessage { user, id },
            Guard::MessageAt { user, id, retried } => GuardV1::MessageAt { user, id, retried },
            Guard::TakeDlq { user, dlq_id } => GuardV1::TakeDlq { user, dlq_id },
            Guard::ScheduleAt {
                user,
                id,
                next_schedule_time,
            } => GuardV1::ScheduleAt {
                user,
                id,
                next_schedule_time,
            },
        }
    }
}

impl From<GuardV1> for Guard {
    fn from(guard: GuardV1) -> Self {
        match guard {
            GuardV1::ClaimDedup {
                user,
                key,
                message_ids,
                expires_at,
            } => Guard::ClaimDedup {
                user,
                key,
                message_ids,
                expires_at,
            },
            GuardV1::TakePendingMessage { user, id } => Guard::TakePendingMessage { user, id },
            GuardV1::MessageAt { user, id, retried } => Guard::MessageAt { user, id, retried },
            GuardV1::TakeDlq { user, dlq_id } => Guard::TakeDlq { user, dlq_id },
            GuardV1::ScheduleAt {
                user,
                id,
                next_schedule_time,
            } => Guard::ScheduleAt {
                user,
                id,
                next_schedule_time,
            },
        }
    }
}

impl From<&Write> for WriteV1 {
    fn from(write: &Write) -> Self {
        match write {
            Write::PutMessage(m) => WriteV1::PutMessage(m.to_stored()),
            Write::DeleteMessage { user, id } => WriteV1::DeleteMessage {
                user: user.clone(),
                id: id.clone(),
            },
            Write::PutDlq(e) => WriteV1::PutDlq(e.to_stored()),
            Write::AppendLog(e) => WriteV1::AppendLog(e.to_stored()),
            Write::PutKeys { user, keys } => WriteV1::PutKeys {
                user: user.clone(),
                keys: keys.to_stored(),
            },
            Write::PutGroup(g) => WriteV1::PutGroup(g.to_stored()),
            Write::DeleteGroup { user, name } => WriteV1::DeleteGroup {
                user: user.clone(),
                name: name.clone(),
            },
            Write::PutQueue(q) => WriteV1::PutQueue(q.to_stored()),
            Write::DeleteQueue { user, name } => WriteV1::DeleteQueue {
                user: user.clone(),
                name: name.clone(),
            },
            Write::PutQueueItem {
                user,
                queue,
                position,
                holder,
            } => WriteV1::PutQueueItem {
                user: user.clone(),
                queue: queue.clone(),
                position: (*position).into(),
                holder: holder.clone(),
            },
            Write::DeleteQueueItem {
                user,
                queue,
                position,
            } => WriteV1::DeleteQueueItem {
                user: user.clone(),
                queue: queue.clone(),
                position: (*position).into(),
            },
            Write::FillQueue { user, queue, now } => WriteV1::FillQueue {
                user: user.clone(),
                queue: queue.clone(),
                now: *now,
            },
            Write::PutFlowKey(k) => WriteV1::PutFlowKey(k.to_stored()),
            Write::ReleaseWaiting {
                user,
                key,
                count,
                now,
            } => WriteV1::ReleaseWaiting {
                user: user.clone(),
                key: key.clone(),
                // postcard writes a usize as a varint, exactly like a u64.
                count: *count as u64,
                now: *now,
            },
            Write::PutSchedule(s) => WriteV1::PutSchedule(s.to_stored()),
            Write::DeleteSchedule { user, id } => WriteV1::DeleteSchedule {
                user: user.clone(),
                id: id.clone(),
            },
            Write::RecordScheduleResult {
                user,
                schedule_id,
                message_id,
                delivered,
            } => WriteV1::RecordScheduleResult {
                user: user.clone(),
                schedule_id: schedule_id.clone(),
                message_id: message_id.clone(),
                delivered: *delivered,
            },
        }
    }
}

impl TryFrom<WriteV1> for Write {
    type Error = crate::StoreError;

    fn try_from(write: WriteV1) -> StoreResult<Self> {
        Ok(match write {
            WriteV1::PutMessage(m) => Write::PutMessage(Message::from_stored(m)?),
            WriteV1::DeleteMessage { user, id } => Write::DeleteMessage { user, id },
            WriteV1::PutDlq(e) => Write::PutDlq(DlqEntry::from_stored(e)?),
            WriteV1::AppendLog(e) => Write::AppendLog(LogEntry::from_stored(e)?),
            WriteV1::PutKeys { user, keys } => Write::PutKeys {
                user,
                keys: SigningKeys::from_stored(keys)?,
            },
            WriteV1::PutGroup(g) => Write::PutGroup(UrlGroup::from_stored(g)?),
            WriteV1::DeleteGroup { user, name } => Write::DeleteGroup { user, name },
            WriteV1::PutQueue(q) => Write::PutQueue(Queue::from_stored(q)?),
            WriteV1::DeleteQueue { user, name } => Write::DeleteQueue { user, name },
            WriteV1::PutQueueItem {
                user,
                queue,
                position,
                holder,
            } => Write::PutQueueItem {
                user,
                queue,
                position: position.into(),
                holder,
            },
            WriteV1::DeleteQueueItem {
                user,
                queue,
                position,
            } => Write::DeleteQueueItem {
                user,
                queue,
                position: position.into(),
            },
            WriteV1::FillQueue { user, queue, now } => Write::FillQueue { user, queue, now },
            WriteV1::PutFlowKey(k) => Write::PutFlowKey(FlowKey::from_stored(k)?),
            WriteV1::ReleaseWaiting {
                user,
                key,
                count,
                now,
            } => Write::ReleaseWaiting {
                user,
                key,
                count: usize::try_from(count).unwrap_or(usize::MAX),
                now,
            },
            WriteV1::PutSchedule(s) => Write::PutSchedule(Schedule::from_stored(s)?),
            WriteV1::DeleteSchedule { user, id } => Write::DeleteSchedule { user, id },
            WriteV1::RecordScheduleResult {
                user,
                schedule_id,
                message_id,
                delivered,
            } => Write::RecordScheduleResult {
                user,
                schedule_id,
                message_id,
                delivered,
            },
        })
    }
}
