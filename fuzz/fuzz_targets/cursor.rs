//! Cursors of `GET /v2/dlq` (DLQ ids, `"<failed_at>-<seq>"`; spec §3.5). Any text is a
//! position or not; only the canonical form is read, so a cursor read back writes the
//! same text, and every position written reads back as itself.
#![no_main]

use depesha_core::dlq::{dlq_id, parse_dlq_id};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some((failed_at, seq)) = parse_dlq_id(text) {
            assert_eq!(dlq_id(failed_at, seq), text);
        }
    }
    if let Some((a, b)) = data.split_first_chunk::<8>() {
        if let Some(b) = b.first_chunk::<8>() {
            let (failed_at, seq) = (u64::from_le_bytes(*a), u64::from_le_bytes(*b));
            assert_eq!(
                parse_dlq_id(&dlq_id(failed_at, seq)),
                Some((failed_at, seq))
            );
        }
    }
});
