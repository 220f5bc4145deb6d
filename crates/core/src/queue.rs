//! Queues (spec §3.2, §3.7): named FIFO lines of messages with a parallelism. With
//! parallelism N, the *first N unfinished messages* of a queue are its active ones;
//! a message finishes when it is delivered or failed and its callbacks are done, and
//! only then may the next one start.

use serde::{Deserialize, Serialize};

use crate::UnixMillis;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    pub user: String,
    pub name: String,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    pub parallelism: u32,
    pub paused: bool,
}

impl Queue {
    /// A queue as created on first use by an enqueue: parallelism 1, running.
    pub fn first_use(user: &str, name: &str, now: UnixMillis) -> Self {
        Queue {
            user: user.to_string(),
            name: name.to_string(),
            created_at: now,
            updated_at: now,
            parallelism: 1,
            paused: false,
        }
    }
}

/// A message's place in its queue: ordered by enqueue time, then a sequence number
/// that orders enqueues of the same millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QueuePosition {
    pub enqueued_at: UnixMillis,
    pub seq: u64,
}

/// The queue item a message holds. A queued message holds its own item; when it
/// finishes with a callback to deliver, the item passes to the callback message, so
/// the queue waits for the callback too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueItem {
    pub queue: String,
    pub position: QueuePosition,
}

impl Queue {
    /// How many of the queue's first items may be active at once: its parallelism,
    /// or none while it is paused (spec §3.7: a paused queue accepts but does not
    /// deliver). Every backend's queue admission counts by this.
    pub fn active_slots(&self) -> usize {
        if self.paused {
            0
        } else {
            usize::try_from(self.parallelism).unwrap_or(usize::MAX)
        }
    }
}
