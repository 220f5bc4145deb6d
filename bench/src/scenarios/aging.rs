use serde_json::json;

use crate::load::Kind;
use crate::report::{Report, Table};
use crate::stats::{fmt_bytes, fmt_int, fmt_ns, fmt_rate, fmt_ratio};

use super::ceiling::ceiling;
use super::outcome::{check, evaluate, server_rows};
use super::phase::{await_delivery, publish, Load};
use super::{progress, Ctx};

/// 7. Aging: back-to-back runs of scenario 1 on one data dir.
pub async fn aging(ctx: &Ctx) -> Result<Report, String> {
    let id = "7-aging";
    let n = ctx.opts.count;
    let runs = ctx.opts.runs.max(1);
    let conns = ctx.opts.connections;
    let mut r = Report::new(
        id,
        "7. Aging (back-to-back runs of scenario 1 on one data dir)",
        format!(
            "{runs} runs of scenario 1 ({} messages each, {conns} connections) against one depesha process and data dir; the loopback ceiling is measured before each run.",
            fmt_int(n as u64)
        ),
    );
    let (mut server, _) = ctx.start_server(id).await?;
    let mut table = Table::new(&[
        "run",
        "ceiling req/s (before / after)",
        "end-to-end msg/s",
        "vs ceiling",
        "publish msg/s",
        "publish p99",
        "lag p99",
        "data dir",
        "RSS",
    ]);
    let mut per_run = Vec::new();
    for run in 1..=runs {
        let c = ceiling(ctx, id).await?;
        let phase = publish(ctx, &server, id, Load::closed(Kind::Publish, n, conns)).await?;
        await_delivery(ctx, &mut server, id, &phase, None).await?;
        let o = evaluate(&phase);
        let mut sub = Report::new(id, "", String::new());
        check(&mut sub, &o, false);
        for f in sub.failures {
            r.fail(format!("run {run}: {f}"));
        }
        for note in sub.notes {
            r.notes.push(format!("run {run}: {note}"));
        }
        let c_after = ceiling(ctx, id).await?;
        let disk = server.data_dir_bytes();
        let rss = server.rss().unwrap_or(0);
        progress(
            id,
            &format!(
                "run {run}: {} msg/s end to end ({:.3} of ceiling)",
                fmt_rate(o.e2e_rate()),
                o.e2e_rate() / c.rps
            ),
        );
        table.row(vec![
            run.to_string(),
            format!("{} / {}", fmt_rate(c.rps), fmt_rate(c_after.rps)),
            fmt_rate(o.e2e_rate()),
            fmt_ratio(o.e2e_rate() / c.rps),
            fmt_rate(o.publish_rate()),
            o.latency.map(|l| fmt_ns(l.p99)).unwrap_or_default(),
            o.lag.map(|l| fmt_ns(l.p99)).unwrap_or_default(),
            fmt_bytes(disk),
            fmt_bytes(rss),
        ]);
        per_run.push(json!({
            "run": run,
            "ceiling_req_per_s": c.rps,
            "ceiling_after_req_per_s": c_after.rps,
            "e2e_msg_per_s": o.e2e_rate(),
            "e2e_vs_ceiling": o.e2e_rate() / c.rps,
            "publish_msg_per_s": o.publish_rate(),
            "publish_latency": o.latency.map(|l| l.json_ms()),
            "delivery_lag": o.lag.map(|l| l.json_ms()),
            "accepted": o.accepted,
            "delivered": o.delivered,
            "lost": o.lost,
            "duplicates": o.duplicates,
            "data_dir_bytes": disk,
            "rss_bytes": rss,
        }));
    }
    let get = |i: usize, k: &str| per_run[i][k].as_f64().unwrap_or(0.0);
    let last = per_run.len() - 1;
    let e2e_ratio = get(last, "e2e_msg_per_s") / get(0, "e2e_msg_per_s");
    let rel_ratio = get(last, "e2e_vs_ceiling") / get(0, "e2e_vs_ceiling");
    let pub_ratio = get(last, "publish_msg_per_s") / get(0, "publish_msg_per_s");
    r.row(
        &format!("end-to-end throughput run {runs} / run 1"),
        fmt_ratio(e2e_ratio),
        fmt_ratio(rel_ratio),
    );
    r.row(
        &format!("publish throughput run {runs} / run 1"),
        fmt_ratio(pub_ratio),
        String::new(),
    );
    r.row(
        "messages accepted / delivered over all runs",
        format!(
            "{} / {}",
            fmt_int(
                per_run
                    .iter()
                    .map(|p| p["accepted"].as_u64().unwrap_or(0))
                    .sum()
            ),
            fmt_int(
                per_run
                    .iter()
                    .map(|p| p["delivered"].as_u64().unwrap_or(0))
                    .sum()
            )
        ),
        String::new(),
    );
    r.set("e2e_last_over_first", e2e_ratio);
    r.set("e2e_vs_ceiling_last_over_first", rel_ratio);
    r.set("publish_last_over_first", pub_ratio);
    r.set("runs", per_run.clone());
    server_rows(&mut r, &server);
    r.extra.push(("Per run:".into(), table));
    let ceilings: Vec<f64> = (0..per_run.len())
        .flat_map(|i| {
            [
                get(i, "ceiling_req_per_s"),
                get(i, "ceiling_after_req_per_s"),
            ]
        })
        .collect();
    let (lo, hi) = ceilings
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &c| (lo.min(c), hi.max(c)));
    if e2e_ratio < 0.8 && rel_ratio < 0.8 {
        r.notes.push(format!(
            "throughput decayed: run {runs} reached {:.0} % of run 1's ({:.0} % relative to the ceiling)",
            e2e_ratio * 100.0,
            rel_ratio * 100.0
        ));
    } else if e2e_ratio < 0.8 || rel_ratio < 0.8 {
        r.notes.push(format!(
            "run {runs} / run 1 is {:.2} in absolute throughput but {:.2} relative to the ceiling: the machine's capacity moved between runs (the ceiling ranged {}–{} req/s), so neither alone shows decay",
            e2e_ratio,
            rel_ratio,
            fmt_rate(lo),
            fmt_rate(hi)
        ));
    }
    ctx.finish(id, &mut server, r).await
}
