use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::load::{open_loop, Job, Kind};
use crate::receiver::Behaviour;
use crate::report::{Report, Table};
use crate::server::{Sample, Sampler};
use crate::stats::{fmt_bytes, fmt_int, fmt_rate};

use super::ceiling::{ceiling, ceiling_after};
use super::outcome::{evaluate, server_rows, standard_rows};
use super::phase::{await_delivery, Phase};
use super::{progress, Ctx};

/// 6. A slow destination at a fixed rate: concurrency and memory over time.
pub async fn slow(ctx: &Ctx) -> Result<Report, String> {
    let id = "6-slow";
    let rate = ctx.opts.rate_slow;
    let n = ((rate * ctx.opts.duration) as usize).max(1);
    let delay = Duration::from_millis(ctx.opts.slow_ms);
    let mut r = Report::new(
        id,
        "6. Slow destination (in-flight concurrency and memory)",
        format!(
            "{} msg/s offered for {:.0} s ({} messages), open loop; the receiver sleeps {} ms before answering each delivery; depesha's RSS and the receiver's in-flight requests sampled every 250 ms.",
            fmt_rate(rate),
            ctx.opts.duration,
            fmt_int(n as u64),
            ctx.opts.slow_ms
        ),
    );
    let (mut server, _) = ctx.start_server(id).await?;
    let c = ceiling(ctx, id).await?;
    let (run, tracker) = ctx.receiver.register(
        n,
        Behaviour {
            track_ids: true,
            delay,
            ..Behaviour::default()
        },
    );
    let job = Arc::new(Job::new(
        Kind::Publish,
        n,
        &server.base,
        ctx.receiver.url(run),
        &[],
        None,
    )?);
    let gauge = Arc::new(std::sync::atomic::AtomicI64::new(0));
    // Mirror the tracker's in-flight gauge into the sampler's.
    let mirror = {
        let (gauge, tracker) = (gauge.clone(), tracker.clone());
        tokio::spawn(async move {
            loop {
                gauge.store(tracker.in_flight.load(Relaxed), Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let sampler = Sampler::start(
        server.pid().unwrap_or(0),
        Duration::from_millis(250),
        Some(gauge),
    );
    let drive = open_loop(&ctx.client, job.clone(), rate, ctx.opts.open_loop_cap, None).await;
    progress(
        id,
        &format!(
            "published {} in {:.1} s",
            fmt_int(job.pubs.accepted.load(Relaxed)),
            drive.secs()
        ),
    );
    let phase = Phase {
        job,
        tracker,
        drive,
    };
    await_delivery(ctx, &mut server, id, &phase, None).await?;
    let samples = sampler.stop();
    mirror.abort();
    let o = evaluate(&phase);
    standard_rows(&mut r, &o, Some(&c), false, true);
    // Only the samples taken while the load ran (from the first publish to the last
    // delivery).
    let during: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| {
            s.at_ns >= phase.drive.start_ns && s.at_ns <= o.last_ok_ns.max(phase.drive.end_ns)
        })
        .collect();
    if let (Some(first), Some(last)) = (during.first(), during.last()) {
        let max = during.iter().map(|s| s.rss).max().unwrap_or(0);
        r.row(
            "RSS during the run: first / last / max",
            format!(
                "{} / {} / {}",
                fmt_bytes(first.rss),
                fmt_bytes(last.rss),
                fmt_bytes(max)
            ),
            String::new(),
        );
        let gauges: Vec<i64> = during.iter().map(|s| s.gauge).collect();
        let mean = gauges.iter().sum::<i64>() as f64 / gauges.len() as f64;
        r.row(
            "deliveries in flight at the receiver: mean / max sampled / max ever",
            format!(
                "{mean:.0} / {} / {}",
                gauges.iter().max().unwrap_or(&0),
                phase.tracker.max_in_flight.load(Relaxed)
            ),
            format!(
                "expected ≈ rate × {} ms = {:.0}",
                ctx.opts.slow_ms,
                rate * delay.as_secs_f64()
            ),
        );
        r.set("rss_first", first.rss);
        r.set("rss_last", last.rss);
        r.set("rss_max", max);
        r.set("in_flight_mean", mean);
        r.set("in_flight_max", phase.tracker.max_in_flight.load(Relaxed));
        // A compact time series: at most 12 evenly spaced samples.
        let mut t = Table::new(&["t (s)", "RSS", "in flight"]);
        let step = during.len().div_ceil(12).max(1);
        for s in during.iter().step_by(step).chain(during.last()) {
            t.row(vec![
                format!(
                    "{:.1}",
                    s.at_ns.saturating_sub(phase.drive.start_ns) as f64 / 1e9
                ),
                fmt_bytes(s.rss),
                s.gauge.to_string(),
            ]);
        }
        r.extra
            .push(("RSS and in-flight deliveries over time:".into(), t));
        r.set(
            "samples",
            during
                .iter()
                .map(|s| {
                    json!([
                        s.at_ns.saturating_sub(phase.drive.start_ns) as f64 / 1e9,
                        s.rss,
                        s.gauge
                    ])
                })
                .collect::<Vec<_>>(),
        );
    }
    r.set("offered_rate", rate);
    server_rows(&mut r, &server);
    ceiling_after(ctx, id, &mut r, &c).await?;
    ctx.finish(id, &mut server, r).await
}
