//! The Queue object (spec §3.7): all six fields are required by the Python SDK.

use depesha_core::queue::Queue;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueView {
    name: String,
    created_at: u64,
    updated_at: u64,
    parallelism: u32,
    lag: u64,
    paused: bool,
}

impl QueueView {
    /// `lag`: the queue's unfinished messages, as the store counts them.
    pub fn of(q: Queue, lag: u64) -> Self {
        QueueView {
            name: q.name,
            created_at: q.created_at,
            updated_at: q.updated_at,
            parallelism: q.parallelism,
            lag,
            paused: q.paused,
        }
    }
}
