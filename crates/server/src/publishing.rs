//! The server's side of accepting messages: the publish policy, and the answer
//! shapes of publish and batch (spec §3.1, §3.3).

use depesha_engine::{Accepted, PublishPolicy};
use serde_json::Value;

use crate::error::ApiError;
use crate::state::AppState;

impl AppState {
    /// The bounds every publish is checked against.
    pub fn policy(&self) -> PublishPolicy {
        PublishPolicy {
            limits: self.config.limits.clone(),
            dedup_window_ms: self.config.dedup_window_ms,
        }
    }
}

/// The JSON answer for one publish: an object for a URL, a bare array for a URL group
/// (spec §3.1 — what both SDKs expect, whatever the docs say).
pub fn answer(accepted: Accepted) -> Result<Value, ApiError> {
    let value = if accepted.to_group {
        serde_json::to_value(accepted.receipts)
    } else {
        let first = accepted
            .receipts
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::Internal("a publish produced no message".into()))?;
        serde_json::to_value(first)
    };
    value.map_err(|e| ApiError::Internal(e.to_string()))
}
