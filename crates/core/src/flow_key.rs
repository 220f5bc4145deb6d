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

    /// `pin`: these limits hold, whatever new messages carry, until unpinned. A new
    /// period pins the rate too.
    pub fn pin(&mut self, pin: &Pin, now: UnixMillis) {
        if let Some(parallelism) = pin.parallelism {
            self.parallelism = Some(parallelism);
            self.pinned_parallelism = true;
        }
        if let Some(rate) = pin.rate {
            self.rate = Some(rate);
            self.pinned_rate = true;
        }
        if let Some(period) = pin.period_secs {
            self.period_secs = period;
            self.pinned_rate = true;
        }
        self.updated_at = now;
    }

    /// `unpin`: the pinned limits stay until a message brings new ones.
    pub fn unpin(&mut self, parallelism: bool, rate: bool, now: UnixMillis) {
        self.pinned_parallelism &= !parallelism;
        self.pinned_rate &= !rate;
        self.updated_at = now;
    }
}

/// What a `pin` request sets; `None` leaves that limit as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pin {
    pub parallelism: Option<u32>,
    pub rate: Option<u32>,
    pub period_secs: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_limits_outlast_what_messages_carry_until_unpinned() {
        let mut key = FlowKey::new("u", "k", 0);
        let pin = Pin {
            parallelism: Some(2),
            ..Pin::default()
        };
        key.pin(&pin, 1);
        let carried = FlowControl {
            key: "k".into(),
            parallelism: Some(9),
            rate: None,
            period_secs: 1,
        };
        assert!(!key.absorb(&carried, 2), "a pinned parallelism is kept");
        assert_eq!(key.parallelism, Some(2));
        key.unpin(true, false, 3);
        assert!(key.absorb(&carried, 4));
        assert_eq!(key.parallelism, Some(9));
    }

    #[test]
    fn pinning_a_period_pins_the_rate() {
        let mut key = FlowKey::new("u", "k", 0);
        let pin = Pin {
            period_secs: Some(60),
            ..Pin::default()
        };
        key.pin(&pin, 1);
        assert!(key.pinned_rate && !key.pinned_parallelism);
        assert_eq!(key.period_secs, 60);
    }
}
