//! The duration grammar shared by many request headers (spec §2.5): `Upstash-Delay`,
//! `Upstash-Timeout`, the callback variants of both, and the `period=` part of
//! `Upstash-Flow-Control-Value`.
//!
//! Two forms are accepted because the SDKs send both:
//!
//! * `<int><unit>` repeated, with units `s`, `m`, `h`, `d` — `10s`, `5m`, `1d`,
//!   `1d10h30m`. The JS and Python SDKs turn numeric delays into `"<n>s"`.
//! * a bare non-negative integer, meaning seconds — the workflow SDK sends
//!   `Upstash-Timeout: 10` (a JS number's `toString()`), and the JS docs show
//!   `Upstash-Callback-Delay: "60"`.
//!
//! Deliberately *not* accepted: fractions (`1.5s`), milliseconds (`500ms`), signs
//! (`+5s`, `-5s`) and upper-case units. No SDK sends them, and silently accepting a
//! typo such as `10ms` as "10 minutes then garbage" would be worse than a clear 400.
//! Units may appear in any order and more than once (`30m1h` = 90 minutes), as in
//! Go's `time.ParseDuration`, which the upstream server is written with.
//!
//! The grammar itself has no maximum: limits such as "at most 7 days of delay" are
//! plan settings that belong to the caller. Only values that do not fit in a `u64`
//! number of seconds are rejected here, with checked arithmetic, so no input can
//! overflow or panic.

use std::time::Duration;

use crate::error::{quote, InputError, InputResult};

/// Longest accepted duration value, in bytes. `18446744073709551615` or
/// `100000d1000h10000m100000s` are far shorter; the cap keeps hostile values cheap
/// to refuse and short in error messages.
pub const MAX_DURATION_LEN: usize = 64;

/// What every error message says a valid value looks like.
const EXPECTED: &str =
    "expected a duration like 10s, 5m, 2h, 1d or 1d10h30m, or a bare number of seconds";

/// Parses a duration header value (spec §2.5).
///
/// `header` is the name of the header the value came from; it is used only to
/// build an error message the API user can act on, e.g.
/// `invalid Upstash-Delay "10x": unknown unit "x" at character 3 (…); expected a
/// duration like …`.
///
/// Surrounding whitespace is ignored; whitespace *inside* the value is not.
pub fn parse_duration(header: &str, value: &str) -> InputResult<Duration> {
    let trimmed = value.trim();
    let fail = |reason: &str| {
        InputError::new(format!(
            "invalid {header} {}: {reason}; {EXPECTED}",
            quote(trimmed)
        ))
    };

    if trimmed.is_empty() {
        return Err(fail("the value is empty"));
    }
    if trimmed.len() > MAX_DURATION_LEN {
        return Err(fail(&format!("longer than {MAX_DURATION_LEN} characters")));
    }

    let bytes = trimmed.as_bytes();
    // Bare integer: seconds.
    if bytes.iter().all(u8::is_ascii_digit) {
        return parse_digits(bytes)
            .map(Duration::from_secs)
            .ok_or_else(|| fail("the number is too large"));
    }

    let mut total: u64 = 0;
    let mut pos = 0;
    while pos < bytes.len() {
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if start == pos {
            // Either a sign, a fraction, a unit without a number, or plain junk.
            let reason = match bytes[pos] {
                b'-' => "negative durations are not allowed".to_string(),
                b'.' => "fractions are not allowed, use a smaller unit (90s, not 1.5m)".into(),
                _ => format!("expected a number, found {}", describe_at(trimmed, pos)),
            };
            return Err(fail(&reason));
        }
        let amount =
            parse_digits(&bytes[start..pos]).ok_or_else(|| fail("the number is too large"))?;
        let Some(&unit) = bytes.get(pos) else {
            // Mixed form with a trailing bare number, e.g. `1m30`.
            return Err(fail("the last number has no unit (s, m, h or d)"));
        };
        let seconds_per_unit: u64 = match unit {
            b's' => 1,
            b'm' => 60,
            b'h' => 60 * 60,
            b'd' => 24 * 60 * 60,
            b'.' => {
                return Err(fail(
                    "fractions are not allowed, use a smaller unit (90s, not 1.5m)",
                ))
            }
            _ => {
                return Err(fail(&format!(
                    "unknown unit {} (units are s, m, h and d)",
                    describe_at(trimmed, pos)
                )))
            }
        };
        pos += 1;
        total = amount
            .checked_mul(seconds_per_unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(|| fail("the duration is too large"))?;
    }
    Ok(Duration::from_secs(total))
}

/// Parses a run of ASCII digits as a `u64`, `None` on overflow. Done by hand rather
/// than with `str::parse` because that would also accept a leading `+`.
fn parse_digits(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// `"x" at character 3` for the character starting at byte `pos` of `s`.
fn describe_at(s: &str, pos: usize) -> String {
    let ch = s.get(pos..).and_then(|rest| rest.chars().next());
    let index = s.get(..pos).map_or(0, |before| before.chars().count()) + 1;
    match ch {
        Some(c) => format!("{} at character {index}", quote(&c.to_string())),
        None => format!("the end at character {index}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(value: &str) -> u64 {
        match parse_duration("Upstash-Delay", value) {
            Ok(d) => d.as_secs(),
            Err(e) => panic!("{value:?} should parse: {e}"),
        }
    }

    fn err(value: &str) -> String {
        match parse_duration("Upstash-Delay", value) {
            Ok(d) => panic!("{value:?} should fail, got {d:?}"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn single_units() {
        assert_eq!(ok("10s"), 10);
        assert_eq!(ok("5m"), 300);
        assert_eq!(ok("2h"), 7200);
        assert_eq!(ok("1d"), 86_400);
        assert_eq!(ok("0s"), 0);
    }

    #[test]
    fn compound_values_from_the_docs() {
        assert_eq!(ok("1d10h30m"), 86_400 + 36_000 + 1_800);
        assert_eq!(ok("3d5h12m"), 3 * 86_400 + 5 * 3_600 + 12 * 60);
        assert_eq!(ok("1h30m15s"), 5_415);
    }

    #[test]
    fn units_in_any_order_and_repeated_add_up() {
        assert_eq!(ok("30m1h"), 5_400);
        assert_eq!(ok("1s1s"), 2);
    }

    #[test]
    fn bare_integers_are_seconds() {
        assert_eq!(ok("10"), 10);
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("60"), 60);
        assert_eq!(ok("007"), 7);
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(ok("  10s "), 10);
        assert_eq!(ok("\t30\t"), 30);
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            "", "   ", "s", "10x", "10ms", "1.5s", "1.5", "-5s", "-5", "+5", "+5s", "10 s",
            "1m 30s", "1m30", "10S", "1D", "abc", "1d-1h", "٣s", "10s\u{0}",
        ] {
            err(bad);
        }
    }

    #[test]
    fn error_message_names_header_value_and_valid_shape() {
        let message = err("10x");
        assert!(
            message.starts_with("invalid Upstash-Delay \"10x\""),
            "{message}"
        );
        assert!(
            message.contains("unknown unit \"x\" at character 3"),
            "{message}"
        );
        assert!(err("5m3!").contains("unknown unit \"!\" at character 4"));
        assert!(err("s").contains("expected a number, found \"s\" at character 1"));
        assert!(message.contains("10s, 5m, 2h, 1d or 1d10h30m"), "{message}");

        let timeout = parse_duration("Upstash-Timeout", "")
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(timeout.starts_with("invalid Upstash-Timeout \"\": the value is empty"));

        assert!(err("-5s").contains("negative"));
        assert!(err("1.5m").contains("fractions"));
        assert!(err("1m30").contains("no unit"));
    }

    #[test]
    fn very_long_values_are_cut_in_the_error_message() {
        let long = "x".repeat(10_000);
        let message = err(&long);
        assert!(message.len() < 400, "{}", message.len());
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        assert_eq!(ok("18446744073709551615"), u64::MAX);
        assert!(err("18446744073709551616").contains("too large"));
        assert!(err("18446744073709551615s1s").contains("too large"));
        assert!(err("213503982334602d").contains("too large"));
        assert!(err("99999999999999999999999d").contains("too large"));
    }

    proptest! {
        #[test]
        fn formatted_components_parse_to_their_total(
            d in 0u64..100_000, h in 0u64..1_000, m in 0u64..10_000, s in 0u64..100_000,
        ) {
            let text = format!("{d}d{h}h{m}m{s}s");
            let expected = d * 86_400 + h * 3_600 + m * 60 + s;
            prop_assert_eq!(parse_duration("Upstash-Delay", &text), Ok(Duration::from_secs(expected)));
        }

        #[test]
        fn bare_integers_round_trip(n in any::<u64>()) {
            prop_assert_eq!(parse_duration("Upstash-Timeout", &n.to_string()), Ok(Duration::from_secs(n)));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = parse_duration("Upstash-Delay", &s);
        }

        #[test]
        fn grammar_like_strings_never_panic(s in "[0-9smhd .+-]{0,40}") {
            let _ = parse_duration("Upstash-Delay", &s);
        }
    }
}
