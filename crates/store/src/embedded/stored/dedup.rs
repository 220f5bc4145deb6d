//! A stored deduplication claim (`dedup` table): which messages a publish with the
//! key made, and until when the key stays taken.

use serde::{Deserialize, Serialize};

use super::Record;
use crate::StoreResult;

/// A claim as the store handles it: (message ids, expires_at).
pub(crate) type DedupClaim = (Vec<String>, u64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DedupClaimV1 {
    pub message_ids: Vec<String>,
    pub expires_at: u64,
}

impl Record for DedupClaim {
    type Stored = DedupClaimV1;

    fn to_stored(&self) -> DedupClaimV1 {
        DedupClaimV1 {
            message_ids: self.0.clone(),
            expires_at: self.1,
        }
    }

    fn from_stored(c: DedupClaimV1) -> StoreResult<DedupClaim> {
        Ok((c.message_ids, c.expires_at))
    }
}
