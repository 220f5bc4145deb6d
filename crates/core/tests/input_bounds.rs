//! Every evaluator a request drives does bounded work whatever the input (issue
//! 10, item 2): values are capped in length before they are parsed, nesting is
//! capped in depth, and arithmetic is checked. These are the worst inputs; each must
//! be answered (refused or clamped), never panic or overflow.

use depesha_core::duration::{parse_duration, MAX_DURATION_LEN};
use depesha_core::flow_control::{parse_flow_control, MAX_VALUE_LEN};
use depesha_core::retry_after::{parse_retry_after, MAX_RETRY_AFTER_LEN, MAX_RETRY_AFTER_MS};
use depesha_core::retry_delay::{RetryDelay, MAX_DEPTH, MAX_RETRY_DELAY_MS, MAX_SOURCE_LEN};

const NOW: u64 = 1_709_296_496_789;

#[test]
fn a_retry_delay_nested_a_hundred_thousand_deep_is_refused_by_its_length() {
    let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let e = RetryDelay::parse(&deep).expect_err("too long");
    assert!(e.0.contains(&MAX_SOURCE_LEN.to_string()), "{}", &e.0[..200]);
    assert!(e.0.len() < 1_000, "the error does not echo the input");
    let calls = format!("{}1{}", "abs(".repeat(100_000), ")".repeat(100_000));
    assert!(RetryDelay::parse(&calls).is_err());
}

#[test]
fn a_retry_delay_nested_past_its_depth_cap_is_refused() {
    let at_cap = format!("{}1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(RetryDelay::parse(&at_cap).is_ok());
    for deeper in [
        format!(
            "{}1{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        ),
        format!("{}1", "-".repeat(MAX_DEPTH + 1)),
        format!(
            "{}1{}",
            "sqrt(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        ),
    ] {
        let e = RetryDelay::parse(&deeper).expect_err("too deep");
        assert!(e.0.contains("levels deep"), "{e}");
    }
}

#[test]
fn retry_delay_results_are_clamped_whatever_the_numbers() {
    let huge = "9".repeat(400);
    for (source, expected) in [
        (huge.as_str(), MAX_RETRY_DELAY_MS),
        ("pow(10, 400)", MAX_RETRY_DELAY_MS),
        ("exp(1000) * exp(1000)", MAX_RETRY_DELAY_MS),
        ("1 / 0", MAX_RETRY_DELAY_MS),
        ("-1 / 0", 0),
        ("0 / 0", 0),
        ("sqrt(-1)", 0),
    ] {
        let delay = RetryDelay::parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(delay.delay_ms(u32::MAX), expected, "{source}");
    }
    // The longest chain of operators allowed evaluates too.
    let chain = format!("1{}", "*retried".repeat((MAX_SOURCE_LEN - 1) / 8));
    let delay = RetryDelay::parse(&chain).expect("within the length cap");
    assert_eq!(delay.delay_ms(u32::MAX), MAX_RETRY_DELAY_MS);
}

#[test]
fn durations_are_capped_in_length_and_checked_for_overflow() {
    let long_digits = "9".repeat(1_000_000);
    let e = parse_duration("Upstash-Delay", &long_digits).expect_err("too long");
    assert!(
        e.0.contains(&format!("longer than {MAX_DURATION_LEN}")),
        "{e}"
    );
    assert!(e.0.len() < 400, "the error quotes only the start");
    let many_units = "1s".repeat(500_000);
    assert!(parse_duration("Upstash-Delay", &many_units).is_err());
    for overflowing in [
        "18446744073709551616",
        "213503982334602d",
        "99999999999999999999h",
    ] {
        assert!(
            parse_duration("Upstash-Delay", overflowing).is_err(),
            "{overflowing}"
        );
    }
}

#[test]
fn flow_control_values_are_capped_in_length() {
    let long = format!("rate=1,{}", "parallelism=1,".repeat(100_000));
    let e = parse_flow_control("key", Some(&long)).expect_err("too long");
    assert!(
        e.0.contains(&format!("longer than {MAX_VALUE_LEN}")),
        "{}",
        &e.0[..200]
    );
    for bad in [
        "rate=99999999999999999999",
        "parallelism=4294967296",
        "period=99999999999999999999d",
        "rate=1,period=8d",
    ] {
        assert!(parse_flow_control("key", Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn a_retry_after_header_is_ignored_when_absurdly_long_or_large() {
    assert_eq!(parse_retry_after(&"9".repeat(1_000_000), NOW), None);
    assert_eq!(
        parse_retry_after(&"1".repeat(MAX_RETRY_AFTER_LEN + 1), NOW),
        None
    );
    assert_eq!(
        parse_retry_after(&format!("0.{}", "9".repeat(100)), NOW),
        None
    );
    assert_eq!(parse_retry_after("99999999999999999999", NOW), None);
    assert_eq!(parse_retry_after("9999999999h", NOW), None);
    assert_eq!(parse_retry_after("86400", NOW), Some(MAX_RETRY_AFTER_MS));
}
