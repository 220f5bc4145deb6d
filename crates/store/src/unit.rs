//! The write path's vocabulary. A [`Unit`] is one logical change — a publish, an
//! attempt's outcome, a cancel, a DLQ retry — and is applied all-or-nothing. Many units
//! from many requests share one durable commit (group commit).

use depesha_core::dlq::DlqEntry;
use depesha_core::keys::SigningKeys;
use depesha_core::log::LogEntry;
use depesha_core::message::Message;
use depesha_core::UnixMillis;

/// A condition checked inside the transaction before a unit's writes. Guards make
/// read-check-write races impossible: two publishes with one deduplication id, or two
/// retries of one DLQ entry, are decided by the store, in commit order.
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
    /// Holds when the message exists and is pending; it is removed (a cancel).
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
}

/// One write. `PutMessage` is an upsert and keeps the due-time index in step: a
/// pending message is indexed at its `due`, a delivered one is not.
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
    /// Applied. For a `TakePendingMessage` / `TakeDlq` guard, carries what was taken.
    Applied(Taken),
    Rejected(Rejection),
}

/// What a taking guard removed.
#[derive(Debug, Clone, PartialEq)]
pub enum Taken {
    Nothing,
    Message(Box<Message>),
    Dlq(Box<DlqEntry>),
}
