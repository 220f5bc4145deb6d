//! Server-chosen retry time (spec §7): when a failed delivery's response carries
//! `Retry-After` or one of the `X-RateLimit-Reset*` headers, the destination is
//! telling us when it wants to be called again, and the next retry is scheduled
//! from that instead of from the backoff formula.
//!
//! These headers come from arbitrary third-party servers, so parsing is lenient in
//! what it understands and silent about what it does not: every unusable value is
//! `None`, and the caller falls back to the normal backoff. Nothing here is an
//! input error of *our* API user.
//!
//! Understood forms, tried in this order:
//!
//! 1. integer seconds: `0` (retry immediately), `10` — the classic `Retry-After`;
//! 2. decimal seconds without a unit: `1.5` — what the workflow SDK's
//!    `WorkflowRetryAfterError` sends for a fractional JS number;
//! 3. an HTTP date (`Sun, 27 Jun 2024 12:16:24 GMT`, plus the obsolete RFC 850 and
//!    asctime forms `httpdate` also reads); a date in the past means "now" (0);
//! 4. a Go `time.ParseDuration` string, as OpenAI-style `x-ratelimit-reset-*`
//!    headers send: `6m5s`, `1h`, `500ms`, `1.5s`, `.5s`; units `ns`, `us`, `µs`,
//!    `μs`, `ms`, `s`, `m`, `h`; decimals on any component.
//!
//! One extension beyond the spec: `X-RateLimit-Reset` is often a *unix timestamp*
//! in seconds (GitHub and others). An integer that would mean more than a day of
//! seconds but lies within a day of `now` is read as such a timestamp. Without this
//! it would be ignored anyway (above the 1-day limit), so no value the spec
//! accepts changes meaning.
//!
//! Results above [`MAX_RETRY_AFTER_MS`] (one day) are `None`: the spec says such
//! values are ignored and the default backoff applies, so a misbehaving server
//! cannot park a message for a year.

use std::time::UNIX_EPOCH;

/// Response headers consulted for a server-chosen retry time, lower-case, in the
/// order the caller looks them up; the first one present with a usable value wins.
pub const RETRY_AFTER_HEADERS: [&str; 4] = [
    "retry-after",
    "x-ratelimit-reset",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
];

/// Longest server-chosen delay honoured: one day, in milliseconds.
pub const MAX_RETRY_AFTER_MS: u64 = 86_400_000;

const NANOS_PER_MS: u128 = 1_000_000;
const MAX_RETRY_AFTER_NANOS: u128 = MAX_RETRY_AFTER_MS as u128 * NANOS_PER_MS;

/// Integers at least this large (2001-09-09 as unix seconds) that are within a day
/// of now are read as unix timestamps; see the module docs.
const UNIX_TIMESTAMP_FLOOR_SECS: u64 = 1_000_000_000;

/// Longest retry-time header value that is read at all, in bytes.
pub const MAX_RETRY_AFTER_LEN: usize = 64;

/// Parses a retry-time header value into a delay in milliseconds from `now_ms`
/// (unix milliseconds, used only for absolute forms). `None` means "not a usable
/// value": garbage, negative, or more than a day away.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    // A destination writes this header, so its length is capped before any parse:
    // every usable form (an HTTP date is 29 characters) is far shorter.
    if value.is_empty() || value.len() > MAX_RETRY_AFTER_LEN {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return integer_seconds(value, now_ms);
    }
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        // Unit-less decimal seconds: reuse the Go parser with an explicit unit.
        return go_duration_ms(&format!("{value}s"));
    }
    if let Ok(date) = httpdate::parse_http_date(value) {
        // A date before 1970 is certainly in the past: retry now.
        let date_ms = date.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let delay = date_ms.saturating_sub(u128::from(now_ms));
        return within_limit(delay * NANOS_PER_MS);
    }
    go_duration_ms(value)
}

fn integer_seconds(digits: &str, now_ms: u64) -> Option<u64> {
    // Anything too long for a u64 is far more than a day.
    let secs: u64 = digits.parse().ok()?;
    let delay_ms = secs.checked_mul(1000)?;
    if delay_ms <= MAX_RETRY_AFTER_MS {
        return Some(delay_ms);
    }
    if secs >= UNIX_TIMESTAMP_FLOOR_SECS && now_ms.abs_diff(delay_ms) <= MAX_RETRY_AFTER_MS {
        // A reset timestamp; one slightly in the past means "now".
        return Some(delay_ms.saturating_sub(now_ms));
    }
    None
}

/// Delay in whole milliseconds, rounded *up* so that "retry after 1500µs" is never
/// honoured early; `None` past the one-day limit.
fn within_limit(nanos: u128) -> Option<u64> {
    if nanos > MAX_RETRY_AFTER_NANOS {
        return None;
    }
    u64::try_from(nanos.div_ceil(NANOS_PER_MS)).ok()
}

/// Go's `time.ParseDuration` grammar, `[+]?([0-9]*(\.[0-9]*)?unit)+` or `0`, minus
/// negative values (a negative retry time is not usable). Computed in integer
/// nanoseconds like Go, so `1.1s` is exactly 1100 ms.
fn go_duration_ms(value: &str) -> Option<u64> {
    let mut rest = value.strip_prefix('+').unwrap_or(value);
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (whole, after_whole) = split_digits(rest);
        let (fraction, after_fraction) = match after_whole.strip_prefix('.') {
            Some(after_dot) => split_digits(after_dot),
            None => ("", after_whole),
        };
        if whole.is_empty() && fraction.is_empty() {
            return None; // no number, or a lone "."
        }
        let unit_end = after_fraction
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after_fraction.len());
        let (unit, after_unit) = after_fraction.split_at(unit_end);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 60 * 60 * 1_000_000_000,
            _ => return None, // missing or unknown unit
        };
        total = total.checked_add(component_nanos(whole, fraction, unit_nanos)?)?;
        if total > MAX_RETRY_AFTER_NANOS {
            return None;
        }
        rest = after_unit;
    }
    within_limit(total)
}

/// `whole.fraction` units in nanoseconds; `None` when it cannot be a delay of at
/// most a day (so it overflows nothing). Fraction digits past the 18th cannot
/// change the result by a nanosecond and are ignored, as Go does.
fn component_nanos(whole: &str, fraction: &str, unit_nanos: u128) -> Option<u128> {
    let mut whole_value: u128 = 0;
    for digit in whole.bytes() {
        whole_value = whole_value
            .checked_mul(10)?
            .checked_add(u128::from(digit - b'0'))?;
        if whole_value > MAX_RETRY_AFTER_NANOS {
            return None;
        }
    }
    let mut nanos = whole_value.checked_mul(unit_nanos)?;
    let mut numerator: u128 = 0;
    let mut denominator: u128 = 1;
    for digit in fraction.bytes().take(18) {
        numerator = numerator * 10 + u128::from(digit - b'0');
        denominator *= 10;
    }
    nanos = nanos.checked_add(numerator * unit_nanos / denominator)?;
    Some(nanos)
}

/// Splits off the leading ASCII digits.
fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, SystemTime};

    /// 2024-06-27T12:16:24Z, the spec's example date.
    const SPEC_DATE: &str = "Thu, 27 Jun 2024 12:16:24 GMT";
    const SPEC_DATE_MS: u64 = 1_719_490_584_000;
    const NOW: u64 = SPEC_DATE_MS - 60_000;

    fn parse(value: &str) -> Option<u64> {
        parse_retry_after(value, NOW)
    }

    #[test]
    fn integer_seconds() {
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("10"), Some(10_000));
        assert_eq!(parse(" 10 "), Some(10_000));
        assert_eq!(parse("86400"), Some(MAX_RETRY_AFTER_MS));
        assert_eq!(parse("86401"), None);
        assert_eq!(parse("99999999999999999999999"), None);
    }

    #[test]
    fn decimal_seconds() {
        assert_eq!(parse("1.5"), Some(1500));
        assert_eq!(parse("0.001"), Some(1));
        assert_eq!(parse("1."), Some(1000));
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse(SPEC_DATE), Some(60_000));
        // In the past: retry now.
        assert_eq!(parse_retry_after(SPEC_DATE, SPEC_DATE_MS + 5_000), Some(0));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", NOW),
            Some(0)
        );
        // More than a day ahead: ignored.
        assert_eq!(
            parse_retry_after(SPEC_DATE, SPEC_DATE_MS - 86_400_001),
            None
        );
        assert_eq!(
            parse_retry_after(SPEC_DATE, SPEC_DATE_MS - 86_400_000),
            Some(86_400_000)
        );
        // RFC 850 and asctime, which httpdate also reads.
        assert_eq!(parse("Thursday, 27-Jun-24 12:16:24 GMT"), Some(60_000));
        assert_eq!(parse("Thu Jun 27 12:16:24 2024"), Some(60_000));
    }

    #[test]
    fn http_date_round_trip_with_the_clock() {
        let now = SystemTime::now();
        let later = now + Duration::from_secs(30);
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let got = parse_retry_after(&httpdate::fmt_http_date(later), now_ms);
        // HTTP dates have whole-second resolution.
        assert!(
            got.is_some_and(|ms| (29_000..=30_000).contains(&ms)),
            "{got:?}"
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse("6m5s"), Some(365_000));
        assert_eq!(parse("1h"), Some(3_600_000));
        assert_eq!(parse("10s"), Some(10_000));
        assert_eq!(parse("500ms"), Some(500));
        assert_eq!(parse("1.5s"), Some(1500));
        assert_eq!(parse("1.1s"), Some(1100));
        assert_eq!(parse(".5s"), Some(500));
        assert_eq!(parse("5.s"), Some(5000));
        assert_eq!(parse("+5s"), Some(5000));
        assert_eq!(parse("1h1m1s1ms"), Some(3_661_001));
        assert_eq!(parse("2500us"), Some(3)); // rounded up
        assert_eq!(parse("2500µs"), Some(3));
        assert_eq!(parse("2500μs"), Some(3));
        assert_eq!(parse("1ns"), Some(1));
        assert_eq!(parse("0s"), Some(0));
        assert_eq!(parse("0.000000000000000000000001s"), Some(0));
        assert_eq!(parse("24h"), Some(MAX_RETRY_AFTER_MS));
        assert_eq!(parse("23h59m60s"), Some(MAX_RETRY_AFTER_MS));
        assert_eq!(parse("24h1ns"), None);
        assert_eq!(parse("1.5h"), Some(5_400_000));
        assert_eq!(parse("0.5m"), Some(30_000));
    }

    #[test]
    fn unix_timestamps_within_a_day() {
        let now_secs = NOW / 1000;
        assert_eq!(parse(&(now_secs + 30).to_string()), Some(30_000));
        assert_eq!(parse(&(now_secs - 30).to_string()), Some(0));
        assert_eq!(parse(&(now_secs + 2 * 86_400).to_string()), None);
        assert_eq!(parse(&(now_secs - 2 * 86_400).to_string()), None);
        // Far from now: an absurd number of seconds, ignored.
        assert_eq!(parse("1000000000"), None);
    }

    #[test]
    fn garbage_is_none() {
        for bad in [
            "",
            " ",
            "soon",
            "-1",
            "-5s",
            "10x",
            "1d",
            "5 s",
            "1h 2m",
            "s",
            ".",
            ".s",
            "1..5s",
            "1.5.5",
            "ms",
            "10S",
            "1e3",
            "0x10",
            "Thu, 99 Jun 2024 12:16:24 GMT",
            "+",
            "+0s5",
            "5s10",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn huge_values_do_not_overflow() {
        assert_eq!(parse("99999999999999999999999999999999999999999h"), None);
        assert_eq!(parse(&format!("{}s", "9".repeat(500))), None);
        assert_eq!(parse(&format!("0.{}s", "9".repeat(40))), Some(1000));
        // Past the length cap a value is not read at all.
        assert_eq!(parse(&format!("0.{}s", "9".repeat(500))), None);
        assert_eq!(parse_retry_after("10", u64::MAX), Some(10_000));
        assert_eq!(parse_retry_after(SPEC_DATE, u64::MAX), Some(0));
        assert_eq!(parse_retry_after(&u64::MAX.to_string(), u64::MAX), None);
    }

    #[test]
    fn header_names_are_lower_case_and_ordered() {
        assert_eq!(RETRY_AFTER_HEADERS[0], "retry-after");
        for name in RETRY_AFTER_HEADERS {
            assert_eq!(name, name.to_ascii_lowercase());
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_respects_the_limit(s in any::<String>(), now in any::<u64>()) {
            if let Some(ms) = parse_retry_after(&s, now) {
                prop_assert!(ms <= MAX_RETRY_AFTER_MS);
            }
        }

        #[test]
        fn duration_like_strings_never_panic(s in "[0-9.+-]{0,6}(ns|us|µs|ms|s|m|h|x)?[0-9.]{0,4}[smh]?") {
            if let Some(ms) = parse_retry_after(&s, NOW) {
                prop_assert!(ms <= MAX_RETRY_AFTER_MS);
            }
        }

        #[test]
        fn go_components_add_up(h in 0u64..24, m in 0u64..60, s in 0u64..60, ms in 0u64..1000) {
            let text = format!("{h}h{m}m{s}s{ms}ms");
            prop_assert_eq!(parse(&text), Some(((h * 60 + m) * 60 + s) * 1000 + ms));
        }
    }
}
