//! Flow control (spec §4.2, §3.10): `Upstash-Flow-Control-Key` names a limit shared
//! by every message carrying that key, and `Upstash-Flow-Control-Value` sets it:
//!
//! ```text
//! Upstash-Flow-Control-Key: my-api
//! Upstash-Flow-Control-Value: parallelism=2, rate=10, period=1m
//! ```
//!
//! * `parallelism` — at most this many deliveries of the key in flight at once;
//! * `rate` — at most this many deliveries *started* per `period`;
//! * `period` — a duration (§2.5: `30`, `30s`, `1m`, `1d`), default 1 s, at most
//!   one week (the Python SDK's documented bound).
//!
//! Entries are comma-separated with optional spaces (the SDKs send `", "`, the
//! docs' curl examples `","`), in any order, each at most once, names
//! case-insensitive. A value that limits nothing (`period=5s` alone) is rejected:
//! it is almost certainly a mistake. A key with no value at all is accepted and
//! carries no limits — the message still joins the key, which makes the key
//! visible in `GET /v2/flowControl/{key}`.

use crate::duration::parse_duration;
use crate::error::{quote, InputError, InputResult};

/// Longest accepted flow-control key, in characters.
pub const MAX_KEY_LEN: usize = 512;

/// Rate period when the value does not name one: one second.
pub const DEFAULT_PERIOD_SECS: u64 = 1;

/// Longest accepted rate period: one week.
pub const MAX_PERIOD_SECS: u64 = 7 * 24 * 60 * 60;

const KEY_HEADER: &str = "Upstash-Flow-Control-Key";
/// Longest accepted `Upstash-Flow-Control-Value`, in bytes: the three settings with
/// the largest numbers take under 70.
pub const MAX_VALUE_LEN: usize = 256;

const VALUE_HEADER: &str = "Upstash-Flow-Control-Value";
const EXPECTED: &str = "expected parallelism=<int>, rate=<int> and/or period=<duration>, \
     comma-separated, like \"parallelism=2, rate=10, period=1m\"";

/// A message's flow-control settings. `None` limits are "not set by this message"
/// (the key's current limits stay as they are); `period_secs` is only meaningful
/// together with `rate`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlowControl {
    pub key: String,
    pub parallelism: Option<u32>,
    pub rate: Option<u32>,
    pub period_secs: u64,
}

/// Parses the `Upstash-Flow-Control-Key` / `-Value` pair.
///
/// `key` is trimmed and must be non-empty and at most [`MAX_KEY_LEN`]
/// characters. `value` may be absent or blank (key only, no limits); otherwise it
/// must set `parallelism` or `rate` (or both), each a positive integer, and may set
/// `period` (1 s to 1 week).
pub fn parse_flow_control(key: &str, value: Option<&str>) -> InputResult<FlowControl> {
    let key = key.trim();
    if key.is_empty() {
        return Err(InputError::new(format!(
            "invalid {KEY_HEADER}: the key is empty; expected a non-empty name of at most \
             {MAX_KEY_LEN} characters"
        )));
    }
    let key_chars = key.chars().count();
    if key_chars > MAX_KEY_LEN {
        return Err(InputError::new(format!(
            "invalid {KEY_HEADER}: the key is {key_chars} characters long; expected a \
             non-empty name of at most {MAX_KEY_LEN} characters"
        )));
    }

    let mut flow = FlowControl {
        key: key.to_string(),
        parallelism: None,
        rate: None,
        period_secs: DEFAULT_PERIOD_SECS,
    };
    let value = value.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Ok(flow);
    }

    let fail = |reason: String| {
        InputError::new(format!(
            "invalid {VALUE_HEADER} {}: {reason}; {EXPECTED}",
            quote(value)
        ))
    };
    if value.len() > MAX_VALUE_LEN {
        return Err(fail(format!("longer than {MAX_VALUE_LEN} characters")));
    }
    let mut period_seen = false;
    for entry in value.split(',').map(str::trim) {
        if entry.is_empty() {
            return Err(fail("empty entry between commas".into()));
        }
        let Some((name, raw)) = entry.split_once('=') else {
            return Err(fail(format!("entry {} has no `=`", quote(entry))));
        };
        let (name, raw) = (name.trim(), raw.trim());
        let duplicate = || {
            fail(format!(
                "`{}` is given more than once",
                name.to_ascii_lowercase()
            ))
        };
        if name.eq_ignore_ascii_case("parallelism") {
            if flow.parallelism.is_some() {
                return Err(duplicate());
            }
            flow.parallelism = Some(positive_int("parallelism", raw).map_err(fail)?);
        } else if name.eq_ignore_ascii_case("rate") {
            if flow.rate.is_some() {
                return Err(duplicate());
            }
            flow.rate = Some(positive_int("rate", raw).map_err(fail)?);
        } else if name.eq_ignore_ascii_case("period") {
            if period_seen {
                return Err(duplicate());
            }
            period_seen = true;
            let period = parse_duration(&format!("{VALUE_HEADER} period"), raw)?.as_secs();
            if period == 0 {
                return Err(fail("`period` must be at least 1s".into()));
            }
            if period > MAX_PERIOD_SECS {
                return Err(fail(format!(
                    "`period` is {period}s, the maximum is one week ({MAX_PERIOD_SECS}s or 7d)"
                )));
            }
            flow.period_secs = period;
        } else {
            return Err(fail(format!(
                "unknown setting {} (settings are parallelism, rate and period)",
                quote(name)
            )));
        }
    }
    if flow.parallelism.is_none() && flow.rate.is_none() {
        return Err(fail("set at least one of parallelism and rate".into()));
    }
    Ok(flow)
}

/// A positive `u32` in plain decimal digits (no sign, no fraction).
fn positive_int(name: &str, raw: &str) -> Result<u32, String> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{name}` must be a whole number, got {}",
            quote(raw)
        ));
    }
    match raw.parse::<u32>() {
        Ok(0) => Err(format!("`{name}` must be at least 1")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{name}` is too large (at most {})", u32::MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(value: &str) -> FlowControl {
        match parse_flow_control("key", Some(value)) {
            Ok(flow) => flow,
            Err(e) => panic!("{value:?} should parse: {e}"),
        }
    }

    fn err(value: &str) -> String {
        match parse_flow_control("key", Some(value)) {
            Ok(flow) => panic!("{value:?} should fail, got {flow:?}"),
            Err(e) => e.0,
        }
    }

    fn flow(parallelism: Option<u32>, rate: Option<u32>, period_secs: u64) -> FlowControl {
        FlowControl {
            key: "key".into(),
            parallelism,
            rate,
            period_secs,
        }
    }

    #[test]
    fn sdk_and_docs_spellings() {
        assert_eq!(
            ok("parallelism=2, rate=10, period=1m"),
            flow(Some(2), Some(10), 60)
        );
        assert_eq!(
            ok("parallelism=2,rate=10,period=60"),
            flow(Some(2), Some(10), 60)
        );
        assert_eq!(ok("rate=5"), flow(None, Some(5), 1));
        assert_eq!(ok("parallelism=1"), flow(Some(1), None, 1));
        assert_eq!(ok(" period = 1d , rate = 3 "), flow(None, Some(3), 86_400));
        assert_eq!(ok("Parallelism=4, RATE=2"), flow(Some(4), Some(2), 1));
        assert_eq!(
            ok("rate=1, period=7d"),
            flow(None, Some(1), MAX_PERIOD_SECS)
        );
        assert_eq!(ok("rate=1, period=604800"), flow(None, Some(1), 604_800));
        assert_eq!(ok("parallelism=4294967295"), flow(Some(u32::MAX), None, 1));
    }

    #[test]
    fn key_only() {
        assert_eq!(parse_flow_control("key", None), Ok(flow(None, None, 1)));
        assert_eq!(
            parse_flow_control(" key ", Some("  ")),
            Ok(flow(None, None, 1))
        );
    }

    #[test]
    fn key_limits() {
        assert!(parse_flow_control("", None).is_err());
        assert!(parse_flow_control("   ", Some("rate=1")).is_err());
        let longest = "k".repeat(MAX_KEY_LEN);
        assert!(parse_flow_control(&longest, None).is_ok());
        let message = parse_flow_control(&format!("{longest}k"), None)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(
            message.starts_with("invalid Upstash-Flow-Control-Key"),
            "{message}"
        );
        assert!(message.contains("at most 512"), "{message}");
        // Characters, not bytes.
        assert!(parse_flow_control(&"é".repeat(MAX_KEY_LEN), None).is_ok());
    }

    #[test]
    fn rejected_values() {
        assert!(err("period=5s").contains("at least one of parallelism and rate"));
        assert!(err(",").contains("empty entry"));
        assert!(err("rate=1,").contains("empty entry"));
        assert!(err("rate").contains("no `=`"));
        assert!(err("burst=3").contains("unknown setting \"burst\""));
        assert!(err("rate=0").contains("`rate` must be at least 1"));
        assert!(err("parallelism=0").contains("at least 1"));
        assert!(err("rate=1.5").contains("whole number"));
        assert!(err("rate=-1").contains("whole number"));
        assert!(err("rate=+1").contains("whole number"));
        assert!(err("rate=").contains("whole number"));
        assert!(err("rate=4294967296").contains("too large"));
        assert!(err("rate=1, rate=2").contains("`rate` is given more than once"));
        assert!(err("parallelism=1, Parallelism=2").contains("more than once"));
        assert!(err("rate=1, period=1s, period=2s").contains("more than once"));
        assert!(err("rate=1, period=0").contains("at least 1s"));
        assert!(err("rate=1, period=8d").contains("maximum is one week"));
        assert!(err("rate=1, period=604801").contains("maximum is one week"));
    }

    #[test]
    fn error_messages_name_the_header() {
        let message = err("burst=3");
        assert!(
            message.starts_with("invalid Upstash-Flow-Control-Value \"burst=3\": "),
            "{message}"
        );
        assert!(
            message.contains("parallelism=2, rate=10, period=1m"),
            "{message}"
        );
        let period = err("rate=1, period=1x");
        assert!(
            period.starts_with("invalid Upstash-Flow-Control-Value period \"1x\""),
            "{period}"
        );
    }

    #[test]
    fn serde_round_trip() {
        let flow = ok("parallelism=2, rate=10, period=1m");
        let json = serde_json::to_string(&flow).unwrap_or_default();
        let back: Result<FlowControl, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(flow));
    }

    proptest! {
        #[test]
        fn formatted_values_parse(
            parallelism in proptest::option::of(1u32..),
            rate in proptest::option::of(1u32..),
            period in proptest::option::of(1u64..=MAX_PERIOD_SECS),
            spaces in "[ ]{0,2}",
        ) {
            prop_assume!(parallelism.is_some() || rate.is_some());
            let mut entries = Vec::new();
            if let Some(p) = parallelism { entries.push(format!("parallelism={p}")); }
            if let Some(r) = rate { entries.push(format!("rate={r}")); }
            if let Some(s) = period { entries.push(format!("period={s}s")); }
            let value = entries.join(&format!(",{spaces}"));
            let parsed = parse_flow_control("k", Some(&value));
            prop_assert_eq!(parsed, Ok(FlowControl {
                key: "k".into(),
                parallelism,
                rate,
                period_secs: period.unwrap_or(DEFAULT_PERIOD_SECS),
            }));
        }

        #[test]
        fn arbitrary_input_never_panics(key in any::<String>(), value in proptest::option::of(any::<String>())) {
            let _ = parse_flow_control(&key, value.as_deref());
        }

        #[test]
        fn setting_like_input_never_panics(value in "[a-z=0-9, .-]{0,60}") {
            let _ = parse_flow_control("k", Some(&value));
        }
    }
}
