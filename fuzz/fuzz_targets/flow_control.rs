//! `Upstash-Flow-Control-Key` and `-Value` (spec §3.10). The input is the key, a
//! newline, and the value (no newline: no value header). An accepted value sets a
//! positive parallelism or rate and a period within the limit, and a stored key that
//! takes it in once has nothing left to change the second time.
#![no_main]

use depesha_core::flow_control::{parse_flow_control, MAX_PERIOD_SECS};
use depesha_core::flow_key::FlowKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (key, value) = match text.split_once('\n') {
        Some((key, value)) => (key, Some(value)),
        None => (text, None),
    };
    let Ok(flow) = parse_flow_control(key, value) else {
        return;
    };
    assert_eq!(flow.key, key.trim());
    assert!(flow.parallelism != Some(0) && flow.rate != Some(0));
    assert!((1..=MAX_PERIOD_SECS).contains(&flow.period_secs));
    let mut stored = FlowKey::new("user", &flow.key, 0);
    stored.absorb(&flow, 1);
    assert!(
        !stored.absorb(&flow, 2),
        "absorbing the same limits twice changed them"
    );
});
