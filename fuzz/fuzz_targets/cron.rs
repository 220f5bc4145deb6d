//! `Upstash-Cron` (spec §3.8): parse, then compute the next tick. Any text gives a
//! cron or an error; an accepted cron keeps its trimmed text, and its next tick, when
//! it has one, is strictly after the time it was asked for.
#![no_main]

use depesha_core::cron::CronExpr;
use libfuzzer_sys::fuzz_target;

/// 2024-03-01T12:34:56.789Z, the instant the cron unit tests use.
const NOW: u64 = 1_709_296_496_789;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cron) = CronExpr::parse(text) else {
        return;
    };
    assert_eq!(cron.as_str(), text.trim());
    if let Some(tick) = cron.next_after(NOW) {
        assert!(tick > NOW, "{text:?}: tick {tick} is not after {NOW}");
    }
});
