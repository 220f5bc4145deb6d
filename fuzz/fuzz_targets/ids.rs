//! Names and ids from paths and bodies (spec §1, §2.3, §3.7): URL-group, queue and
//! schedule names, and message ids whose time the store reads. A valid name is short
//! ASCII that a URL path keeps as one segment; a message id made at a time tells that
//! time back.
#![no_main]

use depesha_core::ids::{is_valid_name, message_id, message_id_time, MAX_NAME_LEN};
use libfuzzer_sys::fuzz_target;

/// Message ids hold 50 bits of milliseconds.
const TIME_BITS: u32 = 50;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if is_valid_name(text) {
            assert!(text.len() <= MAX_NAME_LEN && text.is_ascii());
            assert!(!text.contains('/') && text != "." && text != "..");
        }
        if let Some(time) = message_id_time(text) {
            assert!(time < 1 << TIME_BITS);
        }
    }
    if let Some(bytes) = data.first_chunk::<8>() {
        let time = u64::from_le_bytes(*bytes) & ((1 << TIME_BITS) - 1);
        assert_eq!(message_id_time(&message_id(time)), Some(time));
    }
});
