//! The default retry backoff (spec §7), used when a message has no
//! `Upstash-Retry-Delay` expression and the failed response named no retry time.
//!
//! Before retry number `n` (1 for the first retry) wait `min(86400, e^(base·n))`
//! seconds, rounded down to whole seconds. With the upstream base of 2.5 that is
//! 12 s, 2 m 28 s, 30 m 8 s, 6 h 7 m 6 s and then the 24 h cap. (An older docs
//! snippet said `e^(2·n)`; the current table matches 2.5, hence
//! [`DEFAULT_BACKOFF_BASE`].)
//!
//! End-to-end tests of the server cannot wait 12 seconds per retry, so the formula
//! is computed in abstract "units" and [`Backoff::unit`] says how long one unit
//! is: 1 s in production, e.g. 10 ms in tests, which keeps the *shape* of the
//! backoff (and its cap, 86 400 units) while making it fast.
//! [`default_backoff`] is the production shortcut with a 1 s unit.
//!
//! The formula is total: any retry number and any base — including negative, NaN
//! or infinite ones from a bad config — gives a delay between 0 and the cap.

use std::time::Duration;

/// Exponent base per retry of the upstream schedule: `e^(2.5·n)` seconds.
pub const DEFAULT_BACKOFF_BASE: f64 = 2.5;

/// The cap of the formula in units (seconds in production): 24 hours.
pub const MAX_BACKOFF_UNITS: u32 = 86_400;

/// A backoff schedule: `min(86400, e^(base·n))` whole units before retry `n`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Exponent base per retry; [`DEFAULT_BACKOFF_BASE`] upstream. Meant to be
    /// `≥ 0`; other values still give a delay within `[0, cap]`.
    pub base: f64,
    /// How long one "second" of the formula lasts: 1 s in production, shorter in
    /// tests to make retries fast.
    pub unit: Duration,
}

impl Default for Backoff {
    /// The upstream schedule: base 2.5, one unit = one second.
    fn default() -> Self {
        Backoff {
            base: DEFAULT_BACKOFF_BASE,
            unit: Duration::from_secs(1),
        }
    }
}

impl Backoff {
    /// Delay before retry number `retry_number` (1 for the first retry, like the
    /// spec's `n`; 0 gives `e^0` = 1 unit).
    pub fn delay(&self, retry_number: u32) -> Duration {
        self.unit
            .saturating_mul(backoff_units(retry_number, self.base))
    }
}

/// Delay before retry `retry_number` with one-second units:
/// `min(86400, e^(base·n))` seconds, rounded down. Same as
/// `Backoff { base, unit: 1 s }.delay(retry_number)`.
pub fn default_backoff(retry_number: u32, base: f64) -> Duration {
    Backoff {
        base,
        unit: Duration::from_secs(1),
    }
    .delay(retry_number)
}

/// `min(86400, floor(e^(base·n)))` in whole units.
fn backoff_units(retry_number: u32, base: f64) -> u32 {
    let units = (base * f64::from(retry_number)).exp();
    // NaN (NaN base, or 0·inf) and +inf fail `<`, so they take the cap.
    if units < f64::from(MAX_BACKOFF_UNITS) {
        // 0 ≤ units < 86400 here (exp is never negative): the cast truncates.
        units as u32
    } else {
        MAX_BACKOFF_UNITS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(retry_number: u32) -> u64 {
        default_backoff(retry_number, DEFAULT_BACKOFF_BASE).as_secs()
    }

    #[test]
    fn spec_table() {
        assert_eq!(secs(1), 12); // e^2.5 = 12.18
        assert_eq!(secs(2), 2 * 60 + 28); // e^5 = 148.4
        assert_eq!(secs(3), 30 * 60 + 8); // e^7.5 = 1808.0
        assert_eq!(secs(4), 6 * 3600 + 7 * 60 + 6); // e^10 = 22026.5
        assert_eq!(secs(5), 86_400); // e^12.5 = 268337 → cap
        assert_eq!(secs(6), 86_400);
        assert_eq!(secs(u32::MAX), 86_400);
    }

    #[test]
    fn delays_are_whole_units() {
        assert_eq!(default_backoff(1, DEFAULT_BACKOFF_BASE).subsec_nanos(), 0);
        let fast = Backoff {
            base: DEFAULT_BACKOFF_BASE,
            unit: Duration::from_millis(10),
        };
        assert_eq!(fast.delay(1), Duration::from_millis(120));
        assert_eq!(fast.delay(2), Duration::from_millis(1480));
        assert_eq!(fast.delay(100), Duration::from_millis(864_000));
    }

    #[test]
    fn default_is_the_upstream_schedule() {
        let backoff = Backoff::default();
        assert_eq!(backoff.base, 2.5);
        assert_eq!(backoff.unit, Duration::from_secs(1));
        assert_eq!(backoff.delay(1), Duration::from_secs(12));
    }

    #[test]
    fn retry_zero_and_base_zero_wait_one_unit() {
        assert_eq!(secs(0), 1);
        assert_eq!(default_backoff(7, 0.0), Duration::from_secs(1));
    }

    #[test]
    fn odd_bases_stay_within_bounds() {
        assert_eq!(default_backoff(1, f64::NAN), Duration::from_secs(86_400));
        assert_eq!(
            default_backoff(1, f64::INFINITY),
            Duration::from_secs(86_400)
        );
        assert_eq!(
            default_backoff(0, f64::INFINITY),
            Duration::from_secs(86_400)
        );
        assert_eq!(default_backoff(1, f64::NEG_INFINITY), Duration::ZERO);
        assert_eq!(default_backoff(3, -1.0), Duration::ZERO);
        assert_eq!(default_backoff(1, f64::MAX), Duration::from_secs(86_400));
        let huge_unit = Backoff {
            base: 2.5,
            unit: Duration::MAX,
        };
        assert_eq!(huge_unit.delay(3), Duration::MAX);
    }

    proptest! {
        #[test]
        fn capped_and_monotonic(n in any::<u32>(), base in 0.0f64..1000.0) {
            let here = default_backoff(n, base);
            prop_assert!(here <= Duration::from_secs(86_400));
            prop_assert!(here >= Duration::from_secs(1));
            if let Some(next) = n.checked_add(1) {
                prop_assert!(default_backoff(next, base) >= here);
            }
        }

        #[test]
        fn any_base_is_bounded(n in any::<u32>(), base in any::<f64>()) {
            prop_assert!(default_backoff(n, base) <= Duration::from_secs(86_400));
        }

        #[test]
        fn unit_scales_linearly(n in 0u32..10, unit_ms in 1u64..1000) {
            let scaled = Backoff { base: 2.5, unit: Duration::from_millis(unit_ms) }.delay(n);
            let whole = default_backoff(n, 2.5).as_secs();
            prop_assert_eq!(scaled, Duration::from_millis(unit_ms * whole));
        }
    }
}
