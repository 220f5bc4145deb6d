//! Cron expressions do bounded work whatever the input (issue 10, item 2): a
//! malformed or never-matching pattern is refused by the parser, and the next-tick
//! search takes a bounded number of steps.

use depesha_core::cron::{CronExpr, MAX_CRON_LEN, MAX_SEARCH_STEPS};
use depesha_core::cron_fields::MAX_ITEMS;
use jiff::Timestamp;

fn utc(s: &str) -> u64 {
    let ts: Timestamp = s.parse().expect("timestamp");
    ts.as_millisecond() as u64
}

fn refusal(cron: &str) -> String {
    match CronExpr::parse(cron) {
        Ok(parsed) => panic!("{cron:?} should be refused, parsed as {parsed:?}"),
        Err(e) => e.0,
    }
}

#[test]
fn empty_list_items_are_refused() {
    for cron in [
        ", * * * *",
        ",,,, * * * *",
        "1, * * * *",
        ",1 * * * *",
        "1,,2 * * * *",
        "* * * * ,",
        "CRON_TZ=UTC , * * * *",
        "CRON_TZ=Europe/Berlin ,,,, * * * *",
    ] {
        let reason = refusal(cron);
        assert!(reason.contains("empty list item"), "{cron:?}: {reason}");
    }
}

#[test]
fn patterns_that_can_never_fire_are_refused_at_once() {
    for cron in [
        "0 0 31 2 *",
        "0 0 30 2 *",
        "0 0 30,31 FEB *",
        "0 0 31 4,6,9,11 *",
        "0 0 31 2,4 ?",
        "CRON_TZ=America/New_York 0 0 31 2 *",
    ] {
        let reason = refusal(cron);
        assert!(reason.contains("never fires"), "{cron:?}: {reason}");
    }
}

#[test]
fn rare_but_real_days_are_accepted() {
    for cron in [
        "0 0 29 2 *",
        "0 0 L 2 *",
        "0 0 31 2 1",
        "0 0 * 2 1#5",
        "0 0 30W 2,4 *",
    ] {
        let parsed = CronExpr::parse(cron).unwrap_or_else(|e| panic!("{cron:?}: {e}"));
        assert!(
            parsed.next_after(utc("2024-03-01T00:00:00Z")).is_some(),
            "{cron:?}"
        );
    }
}

#[test]
fn malformed_fields_are_refused() {
    for cron in [
        "*/0 * * * *",
        "*/60 * * * *",
        "5/15 * * * *",
        "0-99999 * * * *",
        "99999999999999999999 * * * *",
        "59-0 * * * *",
        "* * * * MON-SUN-TUE",
        "* * 0 * *",
        "? * * * *",
        "* * L * L",
        "* * * * 1#6",
        "* * * * 1#",
        "* * 32W * *",
        "* * * * +1",
        "@every 5m",
        "CRON_TZ= * * * * *",
        "CRON_TZ=",
        "TZ=Nowhere/Nothing * * * * *",
    ] {
        refusal(cron);
    }
}

#[test]
fn huge_lists_ranges_and_expressions_are_refused_by_their_caps() {
    let too_many_items = (0..=MAX_ITEMS)
        .map(|i| (i % 60).to_string())
        .collect::<Vec<_>>();
    let reason = refusal(&format!("{} * * * *", too_many_items.join(",")));
    assert!(reason.contains("list items"), "{reason}");

    let ten_kb = format!("{} * * * *", "1,".repeat(5_000) + "2");
    let reason = refusal(&ten_kb);
    assert!(
        reason.contains(&format!("longer than {MAX_CRON_LEN}")),
        "{reason}"
    );
    assert!(
        reason.len() < 600,
        "the error quotes only the start: {}",
        reason.len()
    );

    refusal(&"* ".repeat(5_000));
    refusal(&"(".repeat(10_000));
}

#[test]
fn the_longest_sensible_pattern_fits() {
    let every_minute = (0..60).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let every_hour = (0..24).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let every_day = (1..32).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let cron = format!(
        "CRON_TZ=America/Argentina/ComodRivadavia {every_minute} {every_hour} {every_day} \
         JAN,FEB,MAR,APR,MAY,JUN,JUL,AUG,SEP,OCT,NOV,DEC SUN,MON,TUE,WED,THU,FRI,SAT"
    );
    CronExpr::parse(&cron).unwrap_or_else(|e| panic!("{e}"));
}

/// Eight years of February searches (a dozen steps a year outside February, 29
/// inside) and the twenty of a fifth Monday in February stay far below the cap:
/// the cap is a backstop, never what ends the search of a valid pattern.
const RARE_STEPS: u32 = MAX_SEARCH_STEPS / 10;

#[test]
fn the_rarest_patterns_find_their_tick_within_the_step_cap() {
    // 2100 is not a leap year: from March 2096 the next 29 February is in 2104.
    let search = CronExpr::parse("0 0 29 2 *")
        .expect("valid")
        .search(utc("2096-03-01T00:00:00Z"));
    assert_eq!(search.next, Some(utc("2104-02-29T00:00:00Z")));
    assert!(search.steps < RARE_STEPS, "{search:?}");

    // A fifth Monday in February needs a leap year whose February starts on a Monday.
    let search = CronExpr::parse("0 0 * 2 1#5")
        .expect("valid")
        .search(utc("2024-03-01T00:00:00Z"));
    assert_eq!(search.next, Some(utc("2044-02-29T00:00:00Z")));
    assert!(search.steps < RARE_STEPS, "{search:?}");
}

#[test]
fn a_frequent_pattern_takes_a_step_or_two() {
    let search = CronExpr::parse("*/5 * * * *")
        .expect("valid")
        .search(utc("2024-03-01T12:34:56Z"));
    assert_eq!(search.next, Some(utc("2024-03-01T12:35:00Z")));
    assert!(search.steps <= 2, "{search:?}");
}

#[test]
fn times_beyond_the_searchable_years_have_no_tick() {
    let search = CronExpr::parse("0 0 1 1 *")
        .expect("valid")
        .search(utc("4999-06-01T00:00:00Z"));
    assert_eq!(search.next, None);
    assert!(search.steps <= MAX_SEARCH_STEPS, "{search:?}");
    let far = CronExpr::parse("* * * * *")
        .expect("valid")
        .search(u64::MAX);
    assert_eq!(far.next, None);
}
