//! Queues (spec §3.2, §3.7): named FIFO lines of messages with a parallelism. With
//! parallelism N, the *first N unfinished messages* of a queue are its active ones;
//! a message finishes when it is delivered or failed and its callbacks are done, and
//! only then may the next one start.

use serde::{Deserialize, Serialize};

use crate::{ids, InputError, InputResult, UnixMillis};

/// Largest parallelism a queue may have.
pub const MAX_PARALLELISM: i64 = 1000;

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

/// What `POST /v2/queues` asks for, checked: a valid name, a parallelism in range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    pub name: String,
    pub parallelism: u32,
    /// `None` keeps the queue's current state (running for a new queue).
    pub paused: Option<bool>,
}

impl QueueSettings {
    /// A missing parallelism means 1.
    pub fn parse(
        name: &str,
        parallelism: Option<i64>,
        paused: Option<bool>,
    ) -> InputResult<QueueSettings> {
        if !ids::is_valid_name(name) {
            return Err(InputError::new(format!(
                "invalid queueName \"{name}\": use letters, digits, -, _ and ."
            )));
        }
        let parallelism = parallelism.unwrap_or(1);
        let parallelism = u32::try_from(parallelism)
            .ok()
            .filter(|p| (1..=MAX_PARALLELISM).contains(&i64::from(*p)))
            .ok_or_else(|| {
                InputError::new(format!(
                    "invalid parallelism {parallelism}: expected 1 to {MAX_PARALLELISM}"
                ))
            })?;
        Ok(QueueSettings {
            name: name.to_string(),
            parallelism,
            paused,
        })
    }
}

impl Queue {
    /// The queue after an upsert at `now`: `existing`, or a new one, with `settings`.
    pub fn upserted(
        existing: Option<Queue>,
        user: &str,
        settings: &QueueSettings,
        now: UnixMillis,
    ) -> Queue {
        let mut queue = existing.unwrap_or_else(|| Queue::first_use(user, &settings.name, now));
        queue.parallelism = settings.parallelism;
        queue.paused = settings.paused.unwrap_or(queue.paused);
        queue.updated_at = now;
        queue
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upsert_takes_a_name_and_a_parallelism_from_1_to_1000() {
        let ok = QueueSettings::parse("q.1", None, None).expect("valid");
        assert_eq!(ok.parallelism, 1, "a missing parallelism means 1");
        assert_eq!(
            QueueSettings::parse("q", Some(1000), Some(true)).map(|s| (s.parallelism, s.paused)),
            Ok((1000, Some(true)))
        );
        for bad in [0, -1, 1001, i64::MAX] {
            assert!(QueueSettings::parse("q", Some(bad), None).is_err(), "{bad}");
        }
        assert!(QueueSettings::parse("a/b", None, None).is_err());
    }

    #[test]
    fn an_upsert_keeps_the_pause_unless_asked_and_the_creation_time() {
        let mut stored = Queue::first_use("u", "q", 1);
        stored.paused = true;
        let settings = QueueSettings::parse("q", Some(3), None).expect("valid");
        let queue = Queue::upserted(Some(stored), "u", &settings, 5);
        assert_eq!((queue.parallelism, queue.paused), (3, true));
        assert_eq!((queue.created_at, queue.updated_at), (1, 5));
    }
}
