//! The write path's vocabulary. A [`Unit`] is one logical change — a publish, an
//! attempt's outcome, a cancel, a DLQ retry — and is applied all-or-nothing. Many units
//! from many requests share one durable commit (group commit).

use depesha_core::dlq::DlqEntry;
use depesha_core::flow_key::FlowKey;
use depesha_core::keys::SigningKeys;
use depesha_core::log::LogEntry;
use depesha_core::message::Message;
use depesha_core::queue::{Queue, QueuePosition};
use depesha_core::schedule::Schedule;
use depesha_core::url_group::UrlGroup;
use depesha_core::UnixMillis;

use crate::DueKey;

/// A condition checked inside the transaction before a unit's writes. Guards make
/// read-check-write races impossible: two publishes with one deduplication id, or two
/// retries of one DLQ entry, are decided by the store, in commit order.
///
/// A backend that journals units stores them in a form of its own (the embedded one:
/// `stored::UnitV1`), so that this vocabulary can change without changing a file format.
#[derive(Debug, Clone, PartialEq)]
pub enum Guard {
    /// Holds when `key` has no live claim for `user`; the unit then claims it for
    /// `message_ids` until `expires_at`. When it fails, the rejection carries the ids
    /// of the earlier publish.
    ClaimDedup {
        user: String,
        key: String,
        message_ids: Vec<String>,
        expires_at: UnixMillis,
    },
    /// Holds when the message exists and is unfinished (pending, queued or waiting);
    /// it is removed, with its due-index or wait-list entry (a cancel). Its queue
    /// item is not touched: the cancel unit removes it explicitly.
    TakePendingMessage { user: String, id: String },
    /// Holds when the message exists, is pending, and has made exactly `retried`
    /// attempts: the outcome of an attempt applies only to the state it started from.
    MessageAt {
        user: String,
        id: String,
        retried: u32,
    },
    /// Holds when the DLQ entry exists; it is removed (DLQ delete or retry).
    TakeDlq { user: String, dlq_id: String },
    /// Holds when the schedule exists, is not paused, and its next tick is exactly
    /// `next_schedule_time`: each tick fires once, however many schedulers race.
    ScheduleAt {
        user: String,
        id: String,
        next_schedule_time: UnixMillis,
    },
}

/// One write. `PutMessage` is an upsert and keeps the indexes in step with the
/// message's state: a pending message is in the due-time index at its `due`; a
/// waiting one is in its flow-control key's wait-list at `(due, id)`; queued and
/// delivered ones are in neither. (Queue items are written explicitly.)
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    PutMessage(Message),
    DeleteMessage {
        user: String,
        id: String,
    },
    PutDlq(DlqEntry),
    /// Log entries get their `seq` from the store.
    AppendLog(LogEntry),
    PutKeys {
        user: String,
        keys: SigningKeys,
    },

    /// Upsert of a URL group (the whole record).
    PutGroup(UrlGroup),
    DeleteGroup {
        user: String,
        name: String,
    },

    /// Upsert of a queue's settings.
    PutQueue(Queue),
    /// Removes the queue record (its items and messages are removed by the caller).
    DeleteQueue {
        user: String,
        name: String,
    },
    /// Sets which message holds a queue item (an enqueue, or a hand-over to a
    /// callback message).
    PutQueueItem {
        user: String,
        queue: String,
        position: QueuePosition,
        holder: String,
    },
    /// The item is finished: the next message of the queue may start.
    DeleteQueueItem {
        user: String,
        queue: String,
        position: QueuePosition,
    },
    /// Lets a queue through: looks at the queue's first `parallelism` items and makes
    /// every holder that is `Queued` pending, due at `max(now, not_before)`. Does
    /// nothing for a paused or unknown queue. The keys it makes due are reported in
    /// the unit's outcome.
    FillQueue {
        user: String,
        queue: String,
        now: UnixMillis,
    },

    /// Upsert of a flow-control key's stored state.
    PutFlowKey(FlowKey),
    /// Makes the first `count` messages of the key's wait-list (in `(due, id)` order)
    /// pending, due `now`, reporting their keys in the outcome.
    ReleaseWaiting {
        user: String,
        key: String,
        count: usize,
        now: UnixMillis,
    },

    /// Upsert of a schedule; indexed by `next_schedule_time` unless paused.
    PutSchedule(Schedule),
    DeleteSchedule {
        user: String,
        id: String,
    },
    /// A message produced by a schedule finished (delivered, or failed for good). If
    /// it belongs to the schedule's last tick, the result is recorded on the schedule;
    /// otherwise nothing happens.
    RecordScheduleResult {
        user: String,
        schedule_id: String,
        message_id: String,
        delivered: bool,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Unit {
    pub guard: Option<Guard>,
    pub writes: Vec<Write>,
}

impl Unit {
    pub fn new(writes: Vec<Write>) -> Self {
        Unit {
            guard: None,
            writes,
        }
    }

    pub fn guarded(guard: Guard, writes: Vec<Write>) -> Self {
        Unit {
            guard: Some(guard),
            writes,
        }
    }
}

/// Why a unit's guard did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The deduplication key is taken by these messages.
    Duplicate(Vec<String>),
    /// The message or DLQ entry is not there (or no longer in the required state).
    NotFound,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UnitOutcome {
    /// Applied. Carries what a taking guard removed, and every key the unit put into
    /// the due-time index (new pending messages, `FillQueue`, `ReleaseWaiting`), so
    /// the caller can hand them to the dispatcher.
    Applied(Applied),
    Rejected(Rejection),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub taken: Taken,
    pub became_due: Vec<DueKey>,
}

/// What a taking guard removed.
#[derive(Debug, Clone, PartialEq)]
pub enum Taken {
    Nothing,
    Message(Box<Message>),
    Dlq(Box<DlqEntry>),
}
