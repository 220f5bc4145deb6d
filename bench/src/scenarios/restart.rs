use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::load::Kind;
use crate::report::Report;
use crate::stats::{fmt_bytes, fmt_int, fmt_secs, now_ns};

use super::ceiling::{ceiling, ceiling_after};
use super::outcome::{check, evaluate, restart_rows, standard_rows, stop_note};
use super::phase::{await_delivery, publish, Load};
use super::{progress, Ctx};

/// 8. Restart after delivered messages: time to ready, and nothing sent again.
pub async fn restart(ctx: &Ctx) -> Result<Report, String> {
    let id = "8-restart";
    let n = ctx.opts.count;
    let conns = ctx.opts.connections;
    let canary = ctx.opts.canary.max(1);
    let mut r = Report::new(
        id,
        "8. Restart after delivered messages",
        format!(
            "{} messages published and delivered ({conns} connections); once the receiver has been quiet for 1 s depesha is stopped with SIGTERM and started again on the same data dir; then {} new messages are published and delivered (proving deliveries resumed) and the receiver watches 2 s more for any old message sent again.",
            fmt_int(n as u64),
            fmt_int(canary as u64)
        ),
    );
    let (mut server, _) = ctx.start_server(id).await?;
    let c = ceiling(ctx, id).await?;
    let phase = publish(ctx, &server, id, Load::closed(Kind::Publish, n, conns)).await?;
    await_delivery(ctx, &mut server, id, &phase, None).await?;
    // Quiet for 1 s: every outcome has had time to commit.
    loop {
        let last = phase.tracker.last_ns.load(Relaxed);
        let quiet = Duration::from_nanos(now_ns().saturating_sub(last));
        if quiet >= Duration::from_secs(1) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1) - quiet).await;
    }
    let o = evaluate(&phase);
    standard_rows(&mut r, &o, Some(&c), false, false);
    let hwm_before = server.peak_rss().unwrap_or(0);
    let disk = server.data_dir_bytes();
    let before = phase.tracker.attempts_snapshot();
    let (stopped, ready) = server.restart(&ctx.client).await?;
    stop_note(&mut r, "restart", stopped);
    progress(
        id,
        &format!(
            "restart: stop {} ready {}",
            fmt_secs(stopped.took),
            fmt_secs(ready)
        ),
    );
    let canary_phase = publish(
        ctx,
        &server,
        id,
        Load::closed(Kind::Publish, canary, conns.min(canary)),
    )
    .await?;
    await_delivery(ctx, &mut server, id, &canary_phase, None).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.check_alive()?;
    let after = phase.tracker.attempts_snapshot();
    let mut resent = 0u64;
    let mut examples = Vec::new();
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        if a > b && phase.tracker.ok(i) > 0 {
            resent += 1;
            if examples.len() < 5 {
                examples.push(format!("#{i} {}", phase.job.pubs.id(i).unwrap_or("?")));
            }
        }
    }
    let co = evaluate(&canary_phase);
    r.row(
        "peak RSS before the restart (VmHWM)",
        fmt_bytes(hwm_before),
        String::new(),
    );
    r.row(
        "data dir with the delivered messages",
        fmt_bytes(disk),
        String::new(),
    );
    restart_rows(&mut r, stopped, ready);
    r.row(
        "new messages after the restart: accepted / delivered",
        format!("{} / {}", fmt_int(co.accepted), fmt_int(co.delivered)),
        String::new(),
    );
    r.row(
        "already-delivered messages sent again",
        fmt_int(resent),
        "must be 0".into(),
    );
    r.set("peak_rss_before_restart_bytes", hwm_before);
    r.set("data_dir_bytes", disk);
    r.set("stop_secs", stopped.took.as_secs_f64());
    r.set("ready_secs", ready.as_secs_f64());
    r.set("resent", resent);
    r.set("canary_accepted", co.accepted);
    r.set("canary_delivered", co.delivered);
    if resent > 0 {
        r.fail(format!(
            "{resent} already-delivered messages were sent again after the restart (e.g. {})",
            examples.join(", ")
        ));
    }
    let mut sub = Report::new(id, "", String::new());
    check(&mut sub, &co, false);
    for f in sub.failures {
        r.fail(format!("after the restart: {f}"));
    }
    ceiling_after(ctx, id, &mut r, &c).await?;
    ctx.finish(id, &mut server, r).await
}
