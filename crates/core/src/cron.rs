//! Cron expressions of schedules (spec §3.8, `Upstash-Cron`).
//!
//! A schedule's cron is the standard five fields — minute, hour, day of month, month,
//! day of week — evaluated in UTC, optionally prefixed with `CRON_TZ=<IANA zone> ` to
//! evaluate it in that zone instead (`CRON_TZ=Europe/Berlin 0 9 * * 1-5`: 09:00 Berlin
//! time on weekdays, across daylight-saving changes). `TZ=<zone> ` is accepted as a
//! synonym, as Go's cron libraries do. Surrounding whitespace is trimmed, and the
//! trimmed text is what a schedule stores and shows (`"*/10 * * * * "` reads back as
//! `"*/10 * * * *"`). The resolution is one minute: a sixth (seconds) field is refused.
//!
//! Evaluation is done by the `croner` crate (Vixie-cron semantics: when both day of
//! month and day of week are restricted, either matching is enough; names like `MON`
//! and `JAN`, `L`, `W`, `#` and the `@daily`-style nicknames are understood), with
//! time zones from the IANA database bundled into the binary by `jiff`, so a zone
//! name means the same on every machine.

use croner::parser::{CronParser, Seconds, Year};
use croner::Weekday;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::cron_fields::CronFields;
use crate::error::{InputError, InputResult};
use crate::UnixMillis;

/// Longest accepted `Upstash-Cron` value, in bytes. The longest sensible pattern
/// (every minute listed, a long zone name) is under 500 bytes.
pub const MAX_CRON_LEN: usize = 512;

/// Most steps one next-tick search takes. A step looks at one day, or skips one
/// month that the pattern does not select. The calendar (weekdays included) repeats
/// every 400 years, so 400 years of steps (at most 12 skips and 31 days a year)
/// decide any pattern; a pattern that passed [`CronExpr::parse`] matches at least
/// once every few decades and needs far fewer.
pub const MAX_SEARCH_STEPS: u32 = 400 * (12 + 31);

/// `croner` stops searching in this year; so does the step-counted search.
const LAST_YEAR: i16 = 4999;

const EXPECTED: &str = "expected five fields (minute hour day-of-month month day-of-week), \
     optionally prefixed with CRON_TZ=<IANA zone>, like \"*/5 * * * *\" or \
     \"CRON_TZ=Europe/Berlin 0 9 * * 1-5\"";

/// A parsed, valid cron expression.
#[derive(Debug, Clone)]
pub struct CronExpr {
    /// The expression as given, trimmed (zone prefix included).
    text: String,
    zone: TimeZone,
    fields: CronFields,
    cron: croner::Cron,
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// The outcome of a next-tick search, with the work it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Search {
    /// The tick found, if any.
    pub next: Option<UnixMillis>,
    /// Days looked at and months skipped; never more than [`MAX_SEARCH_STEPS`].
    pub steps: u32,
}

impl CronExpr {
    /// Parses an `Upstash-Cron` value. Errors name the header and show valid values.
    ///
    /// The work is linear in the (capped) length: the fields are checked by our
    /// own grammar ([`CronFields`]) before `croner` parses them, and a pattern whose
    /// days can never occur (`0 0 31 2 *`) is refused here, so no search ever has
    /// to discover that the hard way.
    pub fn parse(raw: &str) -> InputResult<CronExpr> {
        let text = raw.trim();
        let fail = |reason: &str| {
            let shown: String = text.chars().take(100).collect();
            InputError::new(format!(
                "invalid Upstash-Cron \"{shown}\": {reason}; {EXPECTED}"
            ))
        };
        if text.is_empty() {
            return Err(InputError::new(format!(
                "missing Upstash-Cron: a schedule needs a cron expression; {EXPECTED}"
            )));
        }
        if text.len() > MAX_CRON_LEN {
            return Err(fail(&format!("longer than {MAX_CRON_LEN} characters")));
        }
        let (zone, pattern) = match text
            .strip_prefix("CRON_TZ=")
            .or_else(|| text.strip_prefix("TZ="))
        {
            Some(rest) => {
                let (name, pattern) = rest
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| fail("nothing follows the time zone"))?;
                if name.is_empty() {
                    return Err(fail("the time zone is empty"));
                }
                let zone = TimeZone::get(name)
                    .map_err(|_| fail(&format!("unknown time zone \"{name}\"")))?;
                (zone, pattern.trim_start())
            }
            None => (TimeZone::UTC, text),
        };
        let fields = CronFields::parse(pattern).map_err(|reason| fail(&reason))?;
        if !fields.can_match() {
            return Err(fail(
                "it never fires: no selected month has that day (February has at most 29 days; \
                 April, June, September and November 30)",
            ));
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let cron = parser
            .parse(pattern)
            .map_err(|e| fail(e.to_string().trim_end_matches('.')))?;
        Ok(CronExpr {
            text: text.to_string(),
            zone,
            fields,
            cron,
        })
    }

    /// The expression as stored and shown: as given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first tick strictly after `after`, in unix milliseconds; `None` when the
    /// expression never matches again or the time is out of range.
    pub fn next_after(&self, after: UnixMillis) -> Option<UnixMillis> {
        self.search(after).next
    }

    /// [`Self::next_after`], with the number of steps it took.
    ///
    /// The search is bounded by steps, not time: first, counting each step, it
    /// walks the calendar to the matching day that `croner`'s search must stop at
    /// — the first matching day, or the second when the first is today (today's
    /// ticks may all be past). Only when such a day exists within
    /// [`MAX_SEARCH_STEPS`] does `croner` search, and its walk covers no more days
    /// than this one did. (A tick can only be lost at a daylight-saving gap that
    /// swallows every selected time of that day.)
    pub fn search(&self, after: UnixMillis) -> Search {
        let mut steps = 0;
        let next = self.bounded_next(after, &mut steps);
        Search { next, steps }
    }

    fn bounded_next(&self, after: UnixMillis, steps: &mut u32) -> Option<UnixMillis> {
        // Ticks fall on whole minutes: searching from the whole second at or before
        // `after`, exclusively, finds the first tick after `after`.
        let second = i64::try_from(after / 1000).ok()?;
        let start = Timestamp::from_second(second)
            .ok()?
            .to_zoned(self.zone.clone());
        let today = start.date();
        let first = self.next_matching_day(today, steps)?;
        if first == today {
            self.next_matching_day(today.tomorrow().ok()?, steps)?;
        }
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        let millis = u64::try_from(next.timestamp().as_millisecond()).ok()?;
        (millis > after).then_some(millis)
    }

    /// The first day on or after `from` whose month and day fields match, taking
    /// one step per day looked at or month skipped, until `steps` reaches the cap.
    fn next_matching_day(&self, from: Date, steps: &mut u32) -> Option<Date> {
        let mut day = from;
        while *steps < MAX_SEARCH_STEPS && day.year() <= LAST_YEAR {
            *steps += 1;
            let month = u32::try_from(day.month()).ok()?;
            if !self.fields.has_month(month) {
                day = day.last_of_month().tomorrow().ok()?;
                continue;
            }
            let weekday = Weekday::from_days_from_sunday(
                u32::try_from(day.weekday().to_sunday_zero_offset()).ok()?,
            );
            let year = i32::from(day.year());
            let date = u32::try_from(day.day()).ok()?;
            if self
                .cron
                .pattern
                .day_match(year, month, date, weekday)
                .ok()?
            {
                return Some(day);
            }
            day = day.tomorrow().ok()?;
        }
        None
    }
}

/// The `next_schedule_time` of a schedule whose cron never matches again: so far
/// ahead that it is never due (and not shown).
pub const NEVER: UnixMillis = UnixMillis::MAX;

/// The first tick of a stored (already validated) cron after `after`, or [`NEVER`].
/// Bounded like [`CronExpr::search`]: the scheduler calls it on its async loop.
pub fn next_tick(cron: &str, after: UnixMillis) -> UnixMillis {
    CronExpr::parse(cron)
        .ok()
        .and_then(|c| c.next_after(after))
        .unwrap_or(NEVER)
}

/// Why a stored cron has no next tick ([`next_tick`] gave [`NEVER`]), as a schedule's
/// error shows it: it never matches again, or a store written by an earlier version
/// holds a cron that today's stricter grammar refuses.
pub fn no_next_tick_reason(cron: &str) -> String {
    match CronExpr::parse(cron) {
        Ok(_) => format!("the cron \"{cron}\" never fires again"),
        Err(e) => format!(
            "the stored cron is not accepted any more ({e}); delete the schedule and create it again with a valid cron"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MINUTE: u64 = 60_000;
    /// 2024-03-01T12:34:56.789Z.
    const T: u64 = 1_709_296_496_789;

    fn next(cron: &str, after: u64) -> Option<u64> {
        CronExpr::parse(cron).expect("valid cron").next_after(after)
    }

    fn utc(s: &str) -> u64 {
        let ts: Timestamp = s.parse().expect("timestamp");
        ts.as_millisecond() as u64
    }

    #[test]
    fn every_minute_gives_the_next_minute_boundary() {
        assert_eq!(next("* * * * *", T), Some((T / MINUTE + 1) * MINUTE));
        let boundary = (T / MINUTE) * MINUTE;
        assert_eq!(next("* * * * *", boundary), Some(boundary + MINUTE));
        assert_eq!(next("* * * * *", boundary - 1), Some(boundary));
    }

    #[test]
    fn fields_are_evaluated_in_utc() {
        assert_eq!(
            next("*/10 * * * *", utc("2024-03-01T12:34:56Z")),
            Some(utc("2024-03-01T12:40:00Z"))
        );
        assert_eq!(
            next("0 9 * * *", utc("2024-03-01T12:00:00Z")),
            Some(utc("2024-03-02T09:00:00Z"))
        );
        // 2024-03-01 is a Friday: the next Monday is the 4th.
        assert_eq!(
            next("30 8 * * MON", utc("2024-03-01T12:00:00Z")),
            Some(utc("2024-03-04T08:30:00Z"))
        );
        assert_eq!(
            next("0 0 1 1 *", utc("2024-03-01T12:00:00Z")),
            Some(utc("2025-01-01T00:00:00Z"))
        );
        assert_eq!(
            next("0 0 29 2 *", utc("2024-03-01T12:00:00Z")),
            Some(utc("2028-02-29T00:00:00Z"))
        );
    }

    #[test]
    fn a_zone_prefix_moves_the_ticks_with_daylight_saving() {
        // New York: UTC-5 in winter, UTC-4 from 2024-03-10.
        let cron = "CRON_TZ=America/New_York 0 9 * * *";
        assert_eq!(
            next(cron, utc("2024-03-01T12:00:00Z")),
            Some(utc("2024-03-01T14:00:00Z"))
        );
        assert_eq!(
            next(cron, utc("2024-03-20T12:00:00Z")),
            Some(utc("2024-03-20T13:00:00Z"))
        );
        assert_eq!(
            next("TZ=Asia/Kolkata 0 0 * * *", utc("2024-03-01T12:00:00Z")),
            Some(utc("2024-03-01T18:30:00Z"))
        );
        assert_eq!(
            next("CRON_TZ=UTC 0 0 * * *", utc("2024-03-01T12:00:00Z")),
            Some(utc("2024-03-02T00:00:00Z"))
        );
    }

    #[test]
    fn text_is_trimmed_and_kept() {
        let cron = CronExpr::parse("  */10 * * * * ").expect("valid");
        assert_eq!(cron.as_str(), "*/10 * * * *");
        let zoned = CronExpr::parse("CRON_TZ=Europe/Berlin 0 9 * * 1-5\n").expect("valid");
        assert_eq!(zoned.as_str(), "CRON_TZ=Europe/Berlin 0 9 * * 1-5");
    }

    #[test]
    fn nicknames_and_names_are_understood() {
        assert_eq!(
            next("@daily", utc("2024-03-01T12:00:00Z")),
            Some(utc("2024-03-02T00:00:00Z"))
        );
        assert_eq!(
            next("0 12 * JAN-MAR SAT,SUN", utc("2024-03-01T12:00:00Z")),
            Some(utc("2024-03-02T12:00:00Z"))
        );
    }

    #[test]
    fn a_stored_cron_that_never_matches_has_no_next_tick() {
        // Refused by `parse` today, but a store written before may hold one.
        assert_eq!(next_tick("0 0 30 2 *", T), NEVER);
    }

    #[test]
    fn a_stored_cron_without_a_next_tick_says_why() {
        assert!(no_next_tick_reason("0 0 30 2 *").contains("not accepted any more"));
        assert!(no_next_tick_reason("*/60 * * * *").contains("create it again"));
    }

    #[test]
    fn bad_values_are_refused_with_an_example() {
        for bad in [
            "",
            "   ",
            "* * * *",
            "* * * * * *",
            "*/10 * * * * 2024",
            "60 * * * *",
            "* 24 * * *",
            "* * 32 * *",
            "* * * 13 *",
            "* * * * 8",
            "hello",
            "a b c d e",
            "CRON_TZ=Mars/Olympus 0 9 * * *",
            "CRON_TZ=Europe/Berlin",
            "CRON_TZ= * * * * *",
        ] {
            let err = CronExpr::parse(bad).expect_err(bad);
            assert!(err.0.contains("Upstash-Cron"), "{bad:?}: {err}");
            assert!(err.0.contains("*/5 * * * *"), "{bad:?}: {err}");
        }
        let long = "1,".repeat(600) + "2 * * * *";
        assert!(CronExpr::parse(&long).is_err());
    }

    fn field(max: u32) -> impl Strategy<Value = String> {
        prop_oneof![
            Just("*".to_string()),
            (1..max).prop_map(|n| format!("*/{n}")),
            (0..max).prop_map(|n| n.to_string()),
            (0..max, 0..max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
            (0..max, 0..max).prop_map(|(a, b)| format!("{a},{b}")),
        ]
    }

    fn valid_cron() -> impl Strategy<Value = String> {
        (field(60), field(24), field(28), field(12), field(7)).prop_map(
            |(minute, hour, dom, month, dow)| {
                // Day of month and month start at 1.
                let shift = |f: String| {
                    f.split(',')
                        .map(|part| {
                            if part.starts_with('*') {
                                part.to_string()
                            } else {
                                part.split('-')
                                    .map(|n| (n.parse::<u32>().unwrap_or(0) + 1).to_string())
                                    .collect::<Vec<_>>()
                                    .join("-")
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                };
                format!("{minute} {hour} {} {} {dow}", shift(dom), shift(month))
            },
        )
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in any::<String>()) {
            if let Ok(cron) = CronExpr::parse(&s) {
                let _ = cron.next_after(T);
            }
        }

        #[test]
        fn parsing_cron_like_text_never_panics(s in "(CRON_TZ=[A-Za-z/_]{0,20} )?[0-9*/,LW#?A-Z@ -]{0,30}") {
            if let Ok(cron) = CronExpr::parse(&s) {
                let _ = cron.next_after(T);
            }
        }

        #[test]
        fn the_next_tick_is_strictly_later_and_on_a_minute(
            cron in valid_cron(),
            after in 0u64..4_102_444_800_000,
        ) {
            let parsed = CronExpr::parse(&cron).expect("generated crons are valid");
            let tick = parsed.next_after(after).expect("generated crons match some day");
            prop_assert!(tick > after, "{cron}: {tick} <= {after}");
            prop_assert_eq!(tick % MINUTE, 0, "{}: {} is not on a minute", cron, tick);
            // Nothing in between: the tick is the *next* one.
            prop_assert_eq!(parsed.next_after(tick - 1), Some(tick));
        }

        #[test]
        fn every_minute_is_the_next_boundary(after in 0u64..u64::from(u32::MAX) * 1000) {
            prop_assert_eq!(next("* * * * *", after), Some((after / MINUTE + 1) * MINUTE));
        }

        #[test]
        fn next_after_never_panics(after in any::<u64>()) {
            let _ = next("*/7 3 * * 1", after);
            let _ = next("CRON_TZ=Europe/Berlin 0 2 * * *", after);
        }
    }
}
