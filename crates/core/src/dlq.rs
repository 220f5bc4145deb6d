//! Dead-letter entries: a message whose attempts are exhausted (or that got a
//! non-retryable answer), kept with the destination's last response so that a person
//! can see why it failed and retry it (spec §3.5).

use serde::{Deserialize, Serialize};

use crate::log::HttpResponse;
use crate::message::Message;
use crate::UnixMillis;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DlqEntry {
    /// `"<failed-at ms>-<seq>"`, the shape upstream uses (`1725323658779-0`).
    pub dlq_id: String,
    /// The message as it was, unredacted: a DLQ retry delivers the original values.
    pub message: Message,
    /// The last attempt's response; `None` when it got no HTTP answer (timeout,
    /// refused connection), shown as `responseStatus: 0`.
    pub response: Option<HttpResponse>,
    pub error: Option<String>,
    pub failed_at: UnixMillis,
    /// When retention removes the entry.
    pub expires_at: UnixMillis,
}

/// Builds a DLQ id. `seq` disambiguates entries created in the same millisecond.
pub fn dlq_id(failed_at: UnixMillis, seq: u64) -> String {
    format!("{failed_at}-{seq}")
}
