//! `Upstash-Retry-Delay` expressions (spec §4.2, §7): parse, then evaluate. Any text
//! gives an expression or an error; an accepted expression reads back equal from its
//! own source, and evaluates to a delay within the cap for every retry count.
#![no_main]

use depesha_core::retry_delay::{RetryDelay, MAX_RETRY_DELAY_MS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(delay) = RetryDelay::parse(text) else {
        return;
    };
    assert_eq!(delay.source(), text.trim());
    assert_eq!(RetryDelay::parse(delay.source()).as_ref(), Ok(&delay));
    for retried in [0, 1, 2, 3, 20, 1_000, u32::MAX] {
        assert!(delay.delay_ms(retried) <= MAX_RETRY_DELAY_MS);
    }
});
