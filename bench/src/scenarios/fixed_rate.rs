use serde_json::json;

use crate::report::Report;
use crate::stats::{fmt_int, fmt_ns, fmt_rate, ms, stalls};

use super::ceiling::{ceiling, ceiling_after, ceiling_open};
use super::outcome::{evaluate, server_rows, standard_rows};
use super::phase::{await_delivery, publish, Load, Phase};
use super::Ctx;

/// 2. A fixed offered load (open loop): latencies.
pub async fn fixed_rate(ctx: &Ctx) -> Result<Report, String> {
    let id = "2-fixed-rate";
    let rate = ctx.opts.rate_fixed;
    let n = ((rate * ctx.opts.duration) as usize).max(1);
    let mut r = Report::new(
        id,
        "2. Fixed offered load (latencies)",
        format!(
            "{} msg/s offered for {:.0} s ({} messages), open loop: each publish is sent at its scheduled time from its own task (at most {} at once), latency measured from the scheduled time.",
            fmt_rate(rate),
            ctx.opts.duration,
            fmt_int(n as u64),
            ctx.opts.open_loop_cap
        ),
    );
    let (mut server, _) = ctx.start_server(id).await?;
    let c = ceiling(ctx, id).await?;
    let loopback = ceiling_open(ctx, id, rate).await?;
    let phase = publish(
        ctx,
        &server,
        id,
        Load::fixed_rate(n, rate, ctx.opts.open_loop_cap),
    )
    .await?;
    await_delivery(ctx, &mut server, id, &phase, None).await?;
    let o = evaluate(&phase);
    standard_rows(&mut r, &o, Some(&c), false, true);
    if let (Some(l), Some(lb)) = (&o.latency, &loopback) {
        r.row(
            "loopback latency at the same offered rate p50 / p99 / p99.9",
            format!(
                "{} / {} / {}",
                fmt_ns(lb.p50),
                fmt_ns(lb.p99),
                fmt_ns(lb.p999)
            ),
            format!(
                "depesha ×{:.1} / ×{:.1} / ×{:.1}",
                l.p50 as f64 / lb.p50.max(1) as f64,
                l.p99 as f64 / lb.p99.max(1) as f64,
                l.p999 as f64 / lb.p999.max(1) as f64
            ),
        );
        r.set("loopback_open_latency", lb.json_ms());
    }
    r.row(
        "publishes that started >1 ms after their scheduled time",
        fmt_int(o.drive.late_starts),
        String::new(),
    );
    stall_rows(&mut r, &phase, rate);
    r.set("offered_rate", rate);
    r.set("late_starts", o.drive.late_starts);
    server_rows(&mut r, &server);
    ceiling_after(ctx, id, &mut r, &c).await?;
    ctx.finish(id, &mut server, r).await
}

/// Publishes slower than this count as slow in scenario 2's stall rows (the issue's
/// p99 target).
const SLOW_PUBLISH_NS: u64 = 5_000_000;
/// Slow publishes scheduled closer together than this belong to one stall.
const STALL_GAP_NS: u64 = 50_000_000;

/// Scenario 2's slow publishes, and how many of them came in stalls of the server (many
/// slow publishes in a row) rather than one by one: the worst stalls, with their time
/// into the run, show whether a periodic pause sets the p99.
fn stall_rows(r: &mut Report, phase: &Phase, rate: f64) {
    let interval_ns = 1e9 / rate.max(1e-9);
    let series: Vec<(u64, u64)> = phase
        .job
        .pubs
        .latencies_by_unit()
        .into_iter()
        .map(|(unit, latency)| ((unit as f64 * interval_ns) as u64, latency))
        .collect();
    let found = stalls(&series, SLOW_PUBLISH_NS, STALL_GAP_NS);
    let slow: usize = found.iter().map(|s| s.requests).sum();
    let in_big: usize = found
        .iter()
        .filter(|s| s.requests >= 100)
        .map(|s| s.requests)
        .sum();
    let share = |n: usize| format!("{:.2} %", 100.0 * n as f64 / series.len().max(1) as f64);
    r.row(
        "publishes slower than 5 ms / of them in stalls of ≥ 100",
        format!("{} / {}", fmt_int(slow as u64), fmt_int(in_big as u64)),
        format!("{} / {}", share(slow), share(in_big)),
    );
    let mut worst = found.clone();
    worst.sort_by_key(|s| std::cmp::Reverse(s.requests));
    worst.truncate(5);
    worst.sort_by_key(|s| s.at_ns);
    let text: Vec<String> = worst
        .iter()
        .filter(|s| s.requests >= 10)
        .map(|s| {
            format!(
                "{:.1} s: {} publishes, up to {}",
                s.at_ns as f64 / 1e9,
                fmt_int(s.requests as u64),
                fmt_ns(s.worst_ns)
            )
        })
        .collect();
    if !text.is_empty() {
        r.row(
            "the longest stalls (time into the load)",
            text.join("; "),
            String::new(),
        );
    }
    r.set("slow_publishes", slow);
    r.set("slow_publishes_in_stalls", in_big);
    r.set(
        "stalls",
        json!(worst
            .iter()
            .map(|s| json!({"at_s": s.at_ns as f64 / 1e9, "publishes": s.requests, "worst_ms": ms(s.worst_ns)}))
            .collect::<Vec<_>>()),
    );
}
