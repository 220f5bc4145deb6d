//! `Retry-After` and `X-RateLimit-Reset*` of a destination's answer (spec §7): any
//! text is a delay of at most a day, or unusable (`None`) — never a panic, whatever
//! the clock says.
#![no_main]

use depesha_core::retry_after::{parse_retry_after, MAX_RETRY_AFTER_MS};
use libfuzzer_sys::fuzz_target;

/// Clocks to read the value against: the epoch, the tests' instant, the far future.
const NOWS: [u64; 3] = [0, 1_719_490_584_000, u64::MAX];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for now in NOWS {
        if let Some(delay) = parse_retry_after(text, now) {
            assert!(delay <= MAX_RETRY_AFTER_MS, "{text:?} at {now}: {delay} ms");
        }
    }
});
