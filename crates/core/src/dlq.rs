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

/// `(failed_at, seq)` of a DLQ id in its canonical form `"<failed_at>-<seq>"`, as
/// [`dlq_id`] writes it. Anything else — signs, leading zeros, spaces — is not an id
/// this server ever handed out. DLQ ids double as the cursors of `GET /v2/dlq`, so this
/// reads client input.
pub fn parse_dlq_id(dlq_id: &str) -> Option<(UnixMillis, u64)> {
    let (failed_at, seq) = dlq_id.split_once('-')?;
    let failed_at: u64 = failed_at.parse().ok()?;
    let seq: u64 = seq.parse().ok()?;
    (self::dlq_id(failed_at, seq) == dlq_id).then_some((failed_at, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlq_ids_are_read_only_in_their_canonical_form() {
        assert_eq!(parse_dlq_id("1725323658779-0"), Some((1725323658779, 0)));
        assert_eq!(
            parse_dlq_id(&dlq_id(u64::MAX, u64::MAX)),
            Some((u64::MAX, u64::MAX))
        );
        for bad in [
            "01-0", "1-01", "+1-0", "1-+0", "1-", "-1", "1--1", "1-2-3", " 1-0", "abc", "",
        ] {
            assert_eq!(parse_dlq_id(bad), None, "{bad:?}");
        }
    }
}
