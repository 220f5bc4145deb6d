//! `Upstash-Delay`, `Upstash-Timeout` and the other duration headers (spec §2.5).
//! Any text gives a duration or a short error; an accepted duration reads back the
//! same from its number of seconds, in both the bare and the `<n>s` form.
#![no_main]

use depesha_core::duration::parse_duration;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_duration("Upstash-Delay", text) {
        Ok(duration) => {
            let secs = duration.as_secs();
            assert_eq!(
                parse_duration("Upstash-Delay", &secs.to_string()),
                Ok(duration)
            );
            assert_eq!(
                parse_duration("Upstash-Delay", &format!("{secs}s")),
                Ok(duration)
            );
        }
        // The value is quoted cut short, so a huge header gives a small error.
        Err(e) => assert!(e.0.len() < 2048, "error of {} bytes", e.0.len()),
    }
});
