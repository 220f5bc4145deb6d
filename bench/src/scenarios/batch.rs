use crate::load::Kind;
use crate::report::Report;
use crate::stats::{fmt_int, fmt_rate};

use super::ceiling::{ceiling, ceiling_after};
use super::outcome::{evaluate, server_rows, standard_rows};
use super::phase::{await_delivery, publish, Load};
use super::Ctx;

/// 4. Batch publish.
pub async fn batch(ctx: &Ctx) -> Result<Report, String> {
    let id = "4-batch";
    let n = ctx.opts.count;
    let b = ctx.opts.batch_size.max(1);
    let conns = ctx.opts.connections;
    let mut r = Report::new(
        id,
        "4. Batch publish (`/v2/batch`)",
        format!(
            "{} messages in `POST /v2/batch` requests of {b}, closed loop over {conns} connections; the ceiling is single-message requests, so the ratio can exceed 1.",
            fmt_int(n as u64)
        ),
    );
    let (mut server, _) = ctx.start_server(id).await?;
    let c = ceiling(ctx, id).await?;
    let phase = publish(ctx, &server, id, Load::closed(Kind::Batch(b), n, conns)).await?;
    await_delivery(ctx, &mut server, id, &phase, None).await?;
    let o = evaluate(&phase);
    standard_rows(&mut r, &o, Some(&c), false, false);
    let reqs = o.drive.requests as f64 / o.drive.secs();
    r.row("batch requests per second", fmt_rate(reqs), String::new());
    r.set("batch_req_per_s", reqs);
    server_rows(&mut r, &server);
    ceiling_after(ctx, id, &mut r, &c).await?;
    ctx.finish(id, &mut server, r).await
}
