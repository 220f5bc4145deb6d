use std::sync::atomic::Ordering::Relaxed;

use crate::load::Kind;
use crate::receiver::Behaviour;
use crate::report::Report;
use crate::stats::fmt_int;

use super::ceiling::{ceiling, ceiling_after};
use super::outcome::{evaluate, server_rows, standard_rows};
use super::phase::{await_delivery, publish, DriveSpec, Load};
use super::Ctx;

/// 5. 10 % of deliveries fail once.
pub async fn retries(ctx: &Ctx) -> Result<Report, String> {
    let id = "5-retries";
    let n = ctx.opts.count;
    let conns = ctx.opts.connections;
    let mut r = Report::new(
        id,
        "5. 10 % of deliveries fail once (retries on the hot path)",
        format!(
            "{} messages (`Upstash-Retries: 3`, `Upstash-Retry-Delay: 0`), closed loop over {conns} connections; the receiver answers 500 to the first attempt of every 10th message.",
            fmt_int(n as u64)
        ),
    );
    let (mut server, _) = ctx.start_server(id).await?;
    let c = ceiling(ctx, id).await?;
    let behaviour = Behaviour {
        fail_first_every: 10,
        ..Behaviour::default()
    };
    let headers = [("upstash-retries", "3"), ("upstash-retry-delay", "0")];
    let phase = publish(
        ctx,
        &server,
        id,
        Load {
            kind: Kind::Publish,
            n,
            headers: &headers,
            not_before: None,
            behaviour,
            drive: DriveSpec::Closed { connections: conns },
        },
    )
    .await?;
    await_delivery(ctx, &mut server, id, &phase, None).await?;
    let o = evaluate(&phase);
    standard_rows(&mut r, &o, Some(&c), false, false);
    let failing = (0..n)
        .filter(|i| i % 10 == 0 && phase.job.pubs.accept_ns(*i) != 0)
        .count() as u64;
    let expected = o.accepted + failing;
    let failed = phase.tracker.failed_on_purpose.load(Relaxed);
    r.row(
        "requests received (expected: accepted + failed first attempts)",
        format!(
            "{} (expected {})",
            fmt_int(o.requests_received),
            fmt_int(expected)
        ),
        String::new(),
    );
    r.row(
        "first attempts answered 500",
        fmt_int(failed),
        String::new(),
    );
    r.set("failed_on_purpose", failed);
    r.set("expected_requests", expected);
    if o.requests_received > expected {
        r.notes.push(format!(
            "{} more requests than needed reached the receiver",
            o.requests_received - expected
        ));
    }
    server_rows(&mut r, &server);
    ceiling_after(ctx, id, &mut r, &c).await?;
    ctx.finish(id, &mut server, r).await
}
