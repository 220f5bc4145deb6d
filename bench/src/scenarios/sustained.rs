use crate::load::Kind;
use crate::report::Report;
use crate::stats::fmt_int;

use super::ceiling::{ceiling, ceiling_after};
use super::outcome::{evaluate, server_rows, standard_rows};
use super::phase::{await_delivery, publish, Load};
use super::Ctx;

/// 1. Sustained immediate publish → delivery at maximum throughput.
pub async fn sustained(ctx: &Ctx) -> Result<Report, String> {
    let id = "1-sustained";
    let n = ctx.opts.count;
    let conns = ctx.opts.connections;
    let mut r = Report::new(
        id,
        "1. Sustained immediate publish → delivery (max throughput)",
        format!("{} messages published with `POST /v2/publish`, closed loop over {conns} connections; fresh data dir.", fmt_int(n as u64)),
    );
    let (mut server, _) = ctx.start_server(id).await?;
    let c = ceiling(ctx, id).await?;
    let phase = publish(ctx, &server, id, Load::closed(Kind::Publish, n, conns)).await?;
    await_delivery(ctx, &mut server, id, &phase, None).await?;
    let o = evaluate(&phase);
    standard_rows(&mut r, &o, Some(&c), false, false);
    server_rows(&mut r, &server);
    ceiling_after(ctx, id, &mut r, &c).await?;
    ctx.finish(id, &mut server, r).await
}
