//! The FlowControlKey object (spec §3.10): stored limits and state, with the
//! engine's live counters.

use depesha_core::flow_key::FlowKey;
use depesha_engine::FlowCounters;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowKeyView {
    flow_control_key: String,
    wait_list_size: u64,
    parallelism_max: u32,
    parallelism_count: u32,
    rate_max: u32,
    rate_count: u32,
    /// Seconds.
    rate_period: u64,
    /// Unix seconds.
    rate_period_start: u64,
    is_paused: bool,
    is_pinned_parallelism: bool,
    is_pinned_rate: bool,
}

impl FlowKeyView {
    /// `waiting`: the size of the key's wait-list.
    pub fn of(key: FlowKey, waiting: u64, counters: FlowCounters) -> Self {
        FlowKeyView {
            flow_control_key: key.key,
            wait_list_size: waiting,
            parallelism_max: key.parallelism.unwrap_or(0),
            parallelism_count: counters.in_flight,
            rate_max: key.rate.unwrap_or(0),
            rate_count: counters.started_in_period,
            rate_period: key.period_secs,
            rate_period_start: counters.period_start / 1000,
            is_paused: key.paused,
            is_pinned_parallelism: key.pinned_parallelism,
            is_pinned_rate: key.pinned_rate,
        }
    }
}
