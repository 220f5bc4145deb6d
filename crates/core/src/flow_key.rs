//! The stored side of a flow-control key (spec §3.10): its current limits and its
//! management state. Counters (in flight, started this period) live in the engine's
//! memory — after a restart nothing is in flight and a new rate period begins.

use serde::{Deserialize, Serialize};

use crate::flow_control::FlowControl;
use crate::UnixMillis;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowKey {
    pub user: String,
    pub key: String,
    pub parallelism: Option<u32>,
    pub rate: Option<u32>,
    pub period_secs: u64,
    pub paused: bool,
    pub pinned_parallelism: bool,
    pub pinned_rate: bool,
    pub updated_at: UnixMillis,
}

impl FlowKey {
    pub fn new(user: &str, key: &str, now: UnixMillis) -> Self {
        FlowKey {
            user: user.to_string(),
            key: key.to_string(),
            parallelism: None,
            rate: None,
            period_secs: crate::flow_control::DEFAULT_PERIOD_SECS,
            paused: false,
            pinned_parallelism: false,
            pinned_rate: false,
            updated_at: now,
        }
    }

    /// Takes the limits a new message carries, except pinned ones (spec §3.10: while
    /// pinned, limits carried by new messages are ignored). Returns whether anything
    /// changed.
    pub fn absorb(&mut self, flow: &FlowControl, now: UnixMillis) -> bool {
        let before = self.clone();
        if !self.pinned_parallelism && flow.parallelism.is_some() {
            self.parallelism = flow.parallelism;
        }
        if !self.pinned_rate && flow.rate.is_some() {
            self.rate = flow.rate;
            self.period_secs = flow.period_secs;
        }
        let changed = *self != before;
        if changed {
            self.updated_at = now;
        }
        changed
    }
}
