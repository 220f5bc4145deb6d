use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::load::{Kind, NotBefore};
use crate::receiver::Behaviour;
use crate::report::Report;
use crate::server::Sampler;
use crate::stats::{
    fmt_bytes, fmt_int, fmt_ns, fmt_rate, fmt_ratio, fmt_secs, summarize, unix_secs_now, wall_ns_of,
};

use super::ceiling::ceiling;
use super::outcome::{check, count_rows, evaluate, restart_rows, stop_note};
use super::phase::{await_delivery, publish, DriveSpec, Load};
use super::{progress, Ctx};

/// 3. Many delayed messages pending: memory, disk, restart, lateness.
pub async fn delayed(ctx: &Ctx) -> Result<Report, String> {
    let id = "3-delayed";
    let n = ctx.opts.delayed_count;
    let spread = ctx.opts.spread.max(1);
    let lead = ctx.opts.lead.unwrap_or(30 + (n / 20_000) as u64);
    let batch = ctx.opts.batch_size.max(1);
    let mut r = Report::new(
        id,
        "3. Delayed messages pending (memory, disk, restart, lateness)",
        format!(
            "{} messages published with `POST /v2/batch` ({batch} per request, {} connections), `Upstash-Not-Before` spread evenly over {spread} s starting {lead} s after the run starts; measured once all are accepted, then depesha is restarted (SIGTERM) with them on disk, and every delivery's lateness (received − Not-Before) is recorded.",
            fmt_int(n as u64),
            ctx.opts.connections
        ),
    );
    let (mut server, _) = ctx.start_server(id).await?;
    let c = ceiling(ctx, id).await?;
    let nb = NotBefore {
        first_due_s: unix_secs_now() + lead,
        spread_s: spread,
    };
    let phase = publish(
        ctx,
        &server,
        id,
        Load {
            kind: Kind::Batch(batch),
            n,
            headers: &[],
            not_before: Some(nb),
            behaviour: Behaviour::default(),
            drive: DriveSpec::Closed {
                connections: ctx.opts.connections,
            },
        },
    )
    .await?;
    // Let the committer and the dispatcher settle before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.check_alive()?;
    let accepted = phase.job.pubs.accepted.load(Relaxed);
    let delivered_before = phase.tracker.distinct.load(Relaxed);
    let pending = accepted.saturating_sub(delivered_before);
    let rss_pending = server.rss().unwrap_or(0);
    let hwm_pending = server.peak_rss().unwrap_or(0);
    let disk_pending = server.data_dir_bytes();
    progress(
        id,
        &format!(
            "{} pending: RSS {}, peak {}, data dir {}",
            fmt_int(pending),
            fmt_bytes(rss_pending),
            fmt_bytes(hwm_pending),
            fmt_bytes(disk_pending)
        ),
    );
    if unix_secs_now() >= nb.first_due_s {
        r.notes.push(format!(
            "publishing took longer than the lead of {lead} s: {} messages were already delivered when memory and disk were measured (raise --lead)",
            fmt_int(delivered_before)
        ));
    }
    let (stopped, ready) = server.restart(&ctx.client).await?;
    stop_note(&mut r, "restart", stopped);
    let rss_after_ready = server.rss().unwrap_or(0);
    progress(
        id,
        &format!(
            "restart: stop {} ready {} (RSS after ready {})",
            fmt_secs(stopped.took),
            fmt_secs(ready),
            fmt_bytes(rss_after_ready)
        ),
    );
    let sampler = Sampler::start(server.pid().unwrap_or(0), Duration::from_secs(1), None);
    let last_due = nb.due_s(n.saturating_sub(1), n);
    let deadline_wall = last_due + 120;
    let deadline =
        Instant::now() + Duration::from_secs(deadline_wall.saturating_sub(unix_secs_now()));
    // Nothing arrives before the first due time: the stall timeout starts counting then.
    while unix_secs_now() < nb.first_due_s {
        server.check_alive()?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    await_delivery(ctx, &mut server, id, &phase, Some(deadline)).await?;
    let samples = sampler.stop();
    let o = evaluate(&phase);
    let c_after = ceiling(ctx, id).await?;

    // Lateness: receive time (wall clock) − Not-Before.
    let mut late = Vec::with_capacity(n);
    let mut early = 0u64;
    let mut min_lateness = i64::MAX;
    for i in 0..n {
        let got = phase.tracker.first_ok_ns(i);
        if got == 0 || phase.job.pubs.accept_ns(i) == 0 {
            continue;
        }
        let due_ns = nb.due_s(i, n) as i64 * 1_000_000_000;
        let lateness = wall_ns_of(got) as i64 - due_ns;
        min_lateness = min_lateness.min(lateness);
        if lateness < -50_000_000 {
            early += 1;
        }
        late.push(lateness.max(0) as u64);
    }
    let lateness = summarize(late);

    count_rows(&mut r, &o);
    r.row(
        "loopback ceiling (same generator → receiver)",
        format!("{} req/s", fmt_rate(c.rps)),
        "1".into(),
    );
    r.row(
        "loopback ceiling re-measured after the run (drift)",
        format!("{} req/s", fmt_rate(c_after.rps)),
        fmt_ratio(c_after.rps / c.rps),
    );
    r.set("ceiling_after_req_per_s", c_after.rps);
    r.row(
        &format!("publish throughput (`/v2/batch`, {batch} per request)"),
        format!("{} msg/s", fmt_rate(o.publish_rate())),
        fmt_ratio(o.publish_rate() / c.rps),
    );
    r.row("pending when measured", fmt_int(pending), String::new());
    r.row(
        "RSS with them pending (VmRSS / VmHWM)",
        format!("{} / {}", fmt_bytes(rss_pending), fmt_bytes(hwm_pending)),
        String::new(),
    );
    r.row(
        "data dir with them pending",
        fmt_bytes(disk_pending),
        String::new(),
    );
    r.row(
        "data dir per pending message",
        format!("{} B", disk_pending / pending.max(1)),
        String::new(),
    );
    restart_rows(&mut r, stopped, ready);
    r.row(
        "RSS just after restart",
        fmt_bytes(rss_after_ready),
        String::new(),
    );
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        let max = samples.iter().map(|s| s.rss).max().unwrap_or(0);
        r.row(
            "RSS while they come due: first / last / max",
            format!(
                "{} / {} / {}",
                fmt_bytes(first.rss),
                fmt_bytes(last.rss),
                fmt_bytes(max)
            ),
            String::new(),
        );
        r.set("rss_due_first", first.rss);
        r.set("rss_due_last", last.rss);
        r.set("rss_due_max", max);
    }
    if let Some(l) = &lateness {
        r.row(
            "lateness (received − Not-Before) p50 / p99 / p99.9 / max",
            format!(
                "{} / {} / {} / {}",
                fmt_ns(l.p50),
                fmt_ns(l.p99),
                fmt_ns(l.p999),
                fmt_ns(l.max)
            ),
            String::new(),
        );
        r.set("lateness", l.json_ms());
    }
    r.row(
        "delivered before their time (>50 ms early)",
        fmt_int(early),
        String::new(),
    );
    r.set("min_lateness_ms", min_lateness as f64 / 1e6);
    r.set("early", early);
    r.set("pending", pending);
    r.set("rss_pending_bytes", rss_pending);
    r.set("hwm_pending_bytes", hwm_pending);
    r.set("data_dir_pending_bytes", disk_pending);
    r.set("stop_secs", stopped.took.as_secs_f64());
    r.set("ready_secs", ready.as_secs_f64());
    r.set("rss_after_restart_bytes", rss_after_ready);
    r.set("accepted", o.accepted);
    r.set("delivered", o.delivered);
    r.set("lost", o.lost);
    r.set("duplicates", o.duplicates);
    r.set("publish_msg_per_s", o.publish_rate());
    r.set("ceiling_req_per_s", c.rps);
    let peak = server.peak_rss().unwrap_or(0);
    let disk_end = server.data_dir_bytes();
    r.row(
        "peak RSS after the restart (VmHWM)",
        fmt_bytes(peak),
        String::new(),
    );
    r.row(
        "data dir at the end (all delivered)",
        fmt_bytes(disk_end),
        String::new(),
    );
    r.set("peak_rss_after_restart_bytes", peak);
    r.set("data_dir_end_bytes", disk_end);
    if early > 0 {
        r.fail(format!(
            "{early} messages were delivered more than 50 ms before their Upstash-Not-Before"
        ));
    }
    // A delivery in flight during the restart may legitimately be repeated.
    check(&mut r, &o, true);
    ctx.finish(id, &mut server, r).await
}
