//! A stored flow-control key (`flow_keys` table).

use depesha_core::flow_key::FlowKey;
use serde::{Deserialize, Serialize};

use super::Record;
use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FlowKeyV1 {
    pub user: String,
    pub key: String,
    pub parallelism: Option<u32>,
    pub rate: Option<u32>,
    pub period_secs: u64,
    pub paused: bool,
    pub pinned_parallelism: bool,
    pub pinned_rate: bool,
    pub updated_at: u64,
}

impl Record for FlowKey {
    type Stored = FlowKeyV1;

    fn to_stored(&self) -> FlowKeyV1 {
        FlowKeyV1 {
            user: self.user.clone(),
            key: self.key.clone(),
            parallelism: self.parallelism,
            rate: self.rate,
            period_secs: self.period_secs,
            paused: self.paused,
            pinned_parallelism: self.pinned_parallelism,
            pinned_rate: self.pinned_rate,
            updated_at: self.updated_at,
        }
    }

    fn from_stored(k: FlowKeyV1) -> StoreResult<FlowKey> {
        Ok(FlowKey {
            user: k.user,
            key: k.key,
            parallelism: k.parallelism,
            rate: k.rate,
            period_secs: k.period_secs,
            paused: k.paused,
            pinned_parallelism: k.pinned_parallelism,
            pinned_rate: k.pinned_rate,
            updated_at: k.updated_at,
        })
    }
}
