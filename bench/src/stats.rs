//! The harness's clock, percentiles and number formatting.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One clock for the whole run: nanoseconds since the harness started, convertible to
/// wall-clock time (for `Upstash-Not-Before`, which is in unix seconds).
struct Clock {
    start: Instant,
    wall_start_ns: u64,
}

static CLOCK: OnceLock<Clock> = OnceLock::new();

fn clock() -> &'static Clock {
    CLOCK.get_or_init(|| Clock {
        start: Instant::now(),
        wall_start_ns: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    })
}

/// Nanoseconds since the harness started (never 0 after the first call: callers use
/// 0 as "unset", so the clock starts at 1).
pub fn now_ns() -> u64 {
    clock().start.elapsed().as_nanos() as u64 + 1
}

/// Wall-clock (unix epoch) nanoseconds of a harness timestamp.
pub fn wall_ns_of(ns: u64) -> u64 {
    clock().wall_start_ns + ns.saturating_sub(1)
}

/// The current unix time in seconds.
pub fn unix_secs_now() -> u64 {
    wall_ns_of(now_ns()) / 1_000_000_000
}

/// Order statistics of a sample, in the sample's unit (nanoseconds for times).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub min: u64,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

/// Nearest-rank percentiles; `None` for an empty sample.
pub fn summarize(mut values: Vec<u64>) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = |q: f64| -> u64 {
        let n = values.len();
        let r = ((q * n as f64).ceil() as usize).clamp(1, n);
        values[r - 1]
    };
    let sum: u128 = values.iter().map(|&v| v as u128).sum();
    Some(Summary {
        count: values.len(),
        min: values[0],
        p50: rank(0.50),
        p99: rank(0.99),
        p999: rank(0.999),
        max: values[values.len() - 1],
        mean: sum as f64 / values.len() as f64,
    })
}

impl Summary {
    pub fn json_ms(&self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "min_ms": ms(self.min),
            "p50_ms": ms(self.p50),
            "p99_ms": ms(self.p99),
            "p999_ms": ms(self.p999),
            "max_ms": ms(self.max),
            "mean_ms": self.mean / 1e6,
        })
    }
}

pub fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// `1.23 ms`, `456 µs`, `12.3 s`.
pub fn fmt_ns(ns: u64) -> String {
    let v = ns as f64;
    if v < 1e6 {
        format!("{:.0} µs", v / 1e3)
    } else if v < 1e9 {
        let m = v / 1e6;
        if m < 10.0 {
            format!("{m:.2} ms")
        } else if m < 100.0 {
            format!("{m:.1} ms")
        } else {
            format!("{m:.0} ms")
        }
    } else {
        format!("{:.2} s", v / 1e9)
    }
}

pub fn fmt_secs(d: Duration) -> String {
    fmt_ns(d.as_nanos() as u64)
}

/// `1,234,567`.
pub fn fmt_int(v: u64) -> String {
    let s = v.to_string();
    let (head, rest) = s.split_at(s.len() % 3);
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    out.push_str(head);
    for chunk in rest.as_bytes().chunks(3) {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
    }
    out
}

pub fn fmt_rate(per_sec: f64) -> String {
    fmt_int(per_sec.round().max(0.0) as u64)
}

pub fn fmt_bytes(b: u64) -> String {
    let v = b as f64;
    if v >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", v / (1024.0 * 1024.0 * 1024.0))
    } else if v >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", v / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KiB", v / 1024.0)
    }
}

pub fn fmt_ratio(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.3}")
    } else {
        "–".into()
    }
}

/// A run of slow requests close together in schedule time: a stall of the server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stall {
    /// Scheduled time of its first slow request, from the start of the load.
    pub at_ns: u64,
    /// Slow requests in it.
    pub requests: usize,
    /// The longest latency in it.
    pub worst_ns: u64,
}

/// Groups the requests slower than `slow_ns` into stalls: slow requests scheduled less
/// than `gap_ns` apart belong to one. `latencies` holds `(scheduled, latency)` pairs in
/// schedule order. Sporadic slow requests make many one-request stalls; a server that
/// stops for a while makes one stall holding every request scheduled meanwhile — which
/// is what tells a periodic pause (a checkpoint, say) from noise.
pub fn stalls(latencies: &[(u64, u64)], slow_ns: u64, gap_ns: u64) -> Vec<Stall> {
    let mut out: Vec<Stall> = Vec::new();
    let mut last_slow_at = 0;
    for &(at, latency) in latencies.iter().filter(|(_, l)| *l > slow_ns) {
        match out.last_mut() {
            Some(stall) if at.saturating_sub(last_slow_at) < gap_ns => {
                stall.requests += 1;
                stall.worst_ns = stall.worst_ns.max(latency);
            }
            _ => out.push(Stall {
                at_ns: at,
                requests: 1,
                worst_ns: latency,
            }),
        }
        last_slow_at = at;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let s = summarize((1..=1000).collect()).unwrap();
        assert_eq!(
            (s.min, s.p50, s.p99, s.p999, s.max),
            (1, 500, 990, 999, 1000)
        );
        assert_eq!(summarize(vec![]), None);
        let one = summarize(vec![7]).unwrap();
        assert_eq!((one.p50, one.p999), (7, 7));
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_int(0), "0");
        assert_eq!(fmt_int(1000), "1,000");
        assert_eq!(fmt_int(1234567), "1,234,567");
        assert_eq!(fmt_ns(1_500_000), "1.50 ms");
        assert_eq!(fmt_ns(2_500_000_000), "2.50 s");
        assert_eq!(fmt_bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn clock_is_monotonic_and_nonzero() {
        let a = now_ns();
        let b = now_ns();
        assert!(a >= 1 && b >= a);
        assert!(wall_ns_of(b) >= wall_ns_of(a));
    }

    #[test]
    fn slow_requests_close_together_are_one_stall() {
        let ms = 1_000_000;
        let series: Vec<(u64, u64)> = vec![
            (0, ms),           // fast
            (10 * ms, 9 * ms), // alone: a stall of one
            (500 * ms, 30 * ms),
            (510 * ms, 25 * ms),
            (540 * ms, 12 * ms), // 30 ms after the last slow one: same stall
            (600 * ms, ms),
            (900 * ms, 6 * ms), // 360 ms later: a new one
        ];
        let found = stalls(&series, 5 * ms, 50 * ms);
        let summary: Vec<(u64, usize, u64)> = found
            .iter()
            .map(|s| (s.at_ns / ms, s.requests, s.worst_ns / ms))
            .collect();
        assert_eq!(summary, vec![(10, 1, 9), (500, 3, 30), (900, 1, 6)]);
        assert!(stalls(&series, 100 * ms, 50 * ms).is_empty());
    }
}
