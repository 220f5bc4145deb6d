//! The loopback HTTP ceiling every scenario's throughput is compared with.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::{closed_loop, open_loop, Job, Kind};
use crate::receiver::Behaviour;
use crate::report::Report;
use crate::stats::{fmt_ns, fmt_rate, fmt_ratio, summarize, Summary};

use super::{progress, Ctx};

/// The loopback HTTP ceiling: the same load generator posting the same bodies straight
/// to the receiver.
pub(super) struct Ceiling {
    /// Closed loop, `connections` connections: requests per second.
    pub(super) rps: f64,
    /// Closed loop request latency.
    pub(super) latency: Option<Summary>,
}

pub(super) async fn ceiling(ctx: &Ctx, id: &str) -> Result<Ceiling, String> {
    let secs = ctx.opts.ceiling_secs.max(0.1);
    let cap = ((secs * 300_000.0) as usize).max(10_000);
    let (run, tracker) = ctx.receiver.register(cap, Behaviour::default());
    let job = Arc::new(Job::new(
        Kind::Direct,
        cap,
        "",
        ctx.receiver.url(run),
        &[],
        None,
    )?);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let drive = closed_loop(
        &ctx.client,
        job.clone(),
        ctx.opts.connections,
        Some(deadline),
    )
    .await;
    ctx.receiver.unregister(run);
    let ok = job.pubs.accepted.load(Relaxed);
    if job.pubs.errors.load(Relaxed) > 0 || tracker.distinct.load(Relaxed) != ok {
        return Err(format!(
            "the loopback ceiling run lost requests ({} errors, {} answered, {} counted): {:?}",
            job.pubs.errors.load(Relaxed),
            ok,
            tracker.distinct.load(Relaxed),
            job.pubs.error_examples()
        ));
    }
    let c = Ceiling {
        rps: ok as f64 / drive.secs(),
        latency: summarize(job.pubs.latencies()),
    };
    progress(
        id,
        &format!(
            "loopback ceiling: {} req/s ({} connections, {:.1} s)",
            fmt_rate(c.rps),
            ctx.opts.connections,
            secs
        ),
    );
    Ok(c)
}

/// The ceiling measured again once the run is over, to show how much the machine's
/// capacity drifted meanwhile (the ratios use the measurement taken before).
pub(super) async fn ceiling_after(
    ctx: &Ctx,
    id: &str,
    r: &mut Report,
    before: &Ceiling,
) -> Result<(), String> {
    let after = ceiling(ctx, id).await?;
    r.row(
        "loopback ceiling re-measured after the run (drift)",
        format!("{} req/s", fmt_rate(after.rps)),
        fmt_ratio(after.rps / before.rps),
    );
    r.set("ceiling_after_req_per_s", after.rps);
    Ok(())
}

/// The loopback latency at a fixed offered rate (open loop, straight to the receiver).
pub(super) async fn ceiling_open(
    ctx: &Ctx,
    id: &str,
    rate: f64,
) -> Result<Option<Summary>, String> {
    let secs = ctx.opts.ceiling_secs.max(0.1);
    let n = ((rate * secs) as usize).max(1);
    let (run, _tracker) = ctx.receiver.register(n, Behaviour::default());
    let job = Arc::new(Job::new(
        Kind::Direct,
        n,
        "",
        ctx.receiver.url(run),
        &[],
        None,
    )?);
    open_loop(&ctx.client, job.clone(), rate, ctx.opts.open_loop_cap, None).await;
    ctx.receiver.unregister(run);
    let s = summarize(job.pubs.latencies());
    if let Some(s) = s {
        progress(
            id,
            &format!(
                "loopback at {} req/s open loop: p50 {} p99 {} p99.9 {}",
                fmt_rate(rate),
                fmt_ns(s.p50),
                fmt_ns(s.p99),
                fmt_ns(s.p999)
            ),
        );
    }
    Ok(s)
}
