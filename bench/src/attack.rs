//! Scenario 9: healthy traffic while Depesha is under attack.
//!
//! One server, four phases of the same healthy load (open loop, a fixed rate, to the
//! counting receiver), each measuring the delivery lag of that load:
//! 1. quiet: the baseline;
//! 2. many connections: idle keep-alive connections, each after one request;
//! 3. half-open connections: each sends half a request head and stalls (item 4);
//! 4. a hanging destination: a listener that accepts connections and never answers,
//!    with a backlog of messages to it published first (item 1). It comes last:
//!    when it goes away, its backlog fails and is retried, which would load the
//!    phases after it.
//!
//! The ratios to the quiet phase are the result: an attack that stalls the server
//! shows as a lag many times the baseline, or as healthy messages not delivered.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::load::{closed_loop, Job, Kind};
use crate::report::{Report, Table};
use crate::scenarios::{await_delivery, evaluate, progress, publish, Ctx, Load};
use crate::server::Depesha;
use crate::stats::{fmt_int, fmt_ns, fmt_rate, Summary};

/// Sizes of the attacks.
#[derive(Debug, Clone, Copy)]
pub struct Attack {
    /// Messages published to the hanging destination before its phase.
    pub hanging_messages: usize,
    /// Idle keep-alive connections of phase 3.
    pub connections: usize,
    /// Half-open connections of phase 4.
    pub half_open: usize,
}

/// A listener that accepts every connection and never answers; counts them.
struct Hanging {
    url: String,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Hanging {
    async fn start() -> Result<Hanging, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind the hanging destination: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Relaxed);
                open.push(socket);
            }
        });
        Ok(Hanging {
            url: format!("http://{addr}/hang"),
            accepted,
            task,
        })
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Raises this process's soft open-file limit to its hard limit: the attacks hold
/// thousands of sockets.
fn raise_open_files() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        limit.rlim_cur
    }
}

/// Opens `n` connections to `addr`, each sending `first` and then nothing more.
/// Returns the ones that opened.
async fn open_connections(addr: &str, n: usize, first: &'static [u8]) -> Vec<TcpStream> {
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        let Ok(Ok(mut socket)) =
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
        else {
            continue;
        };
        if socket.write_all(first).await.is_ok() {
            open.push(socket);
        }
    }
    open
}

/// How many of `sockets` the server has closed (a read returns EOF or an error).
async fn closed_by_server(sockets: &mut [TcpStream]) -> usize {
    let mut closed = 0;
    let mut buf = [0u8; 4096];
    for socket in sockets.iter_mut() {
        // Drain whatever the server answered; EOF means it closed the connection.
        loop {
            match socket.try_read(&mut buf) {
                Ok(0) => {
                    closed += 1;
                    break;
                }
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    closed += 1;
                    break;
                }
            }
        }
    }
    closed
}

/// One phase of healthy load; its delivery lag.
async fn healthy(
    ctx: &Ctx,
    server: &mut Depesha,
    id: &str,
    rate: f64,
    secs: f64,
) -> Result<(Option<Summary>, u64, u64), String> {
    let n = ((rate * secs) as usize).max(1);
    let phase = publish(
        ctx,
        server,
        id,
        Load::fixed_rate(n, rate, ctx.opts.open_loop_cap),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs_f64(secs * 4.0 + 30.0);
    // A phase whose healthy messages are not all delivered still reports what came.
    if let Err(e) = await_delivery(ctx, server, id, &phase, Some(deadline)).await {
        progress(id, &format!("healthy load not fully delivered: {e}"));
    }
    let o = evaluate(&phase);
    Ok((o.lag, o.accepted, o.lost))
}

pub async fn attack(ctx: &Ctx, sizes: Attack) -> Result<Report, String> {
    let id = "9-attack";
    let rate = ctx.opts.rate_slow;
    let secs = ctx.opts.duration;
    let files = raise_open_files();
    let mut r = Report::new(
        id,
        "9. Healthy traffic under attack",
        format!(
            "{} msg/s of healthy publishes for {:.0} s per phase (open loop), to the receiver; attacks: {} messages to a destination that never answers, {} idle keep-alive connections, {} half-open connections. depesha dev, default settings; the bench's open-file limit {}.",
            fmt_rate(rate),
            secs,
            fmt_int(sizes.hanging_messages as u64),
            fmt_int(sizes.connections as u64),
            fmt_int(sizes.half_open as u64),
            files
        ),
    );
    let (mut server, _) = ctx.start_server(id).await?;
    let addr = server
        .base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut table = Table::new(&[
        "phase",
        "healthy accepted / lost",
        "delivery lag p50 / p99",
        "p99 vs quiet",
        "attack",
    ]);
    let row = |table: &mut Table,
               name: &str,
               (lag, accepted, lost): (Option<Summary>, u64, u64),
               quiet_p99: Option<u64>,
               attack: String| {
        let (lag_cell, vs) = match lag {
            Some(l) => (
                format!("{} / {}", fmt_ns(l.p50), fmt_ns(l.p99)),
                quiet_p99
                    .map(|q| format!("×{:.1}", l.p99 as f64 / q.max(1) as f64))
                    .unwrap_or_else(|| "1".into()),
            ),
            None => ("–".into(), "–".into()),
        };
        table.row(vec![
            name.into(),
            format!("{} / {lost}", fmt_int(accepted)),
            lag_cell,
            vs,
            attack,
        ]);
        lost
    };
    let mut lost = 0;

    progress(id, "phase 1: quiet");
    let quiet = healthy(ctx, &mut server, id, rate, secs).await?;
    let quiet_p99 = quiet.0.map(|l| l.p99);
    r.set("quiet_lag", quiet.0.map(|l| l.json_ms()));
    lost += row(&mut table, "quiet", quiet, None, String::new());

    progress(id, "phase 2: idle keep-alive connections");
    let request: &'static [u8] = b"GET /v2/messages HTTP/1.1\r\nHost: bench\r\n\r\n";
    let mut idle = open_connections(&addr, sizes.connections, request).await;
    let opened = idle.len();
    let during = healthy(ctx, &mut server, id, rate, secs).await?;
    let closed = closed_by_server(&mut idle).await;
    r.set("connections_lag", during.0.map(|l| l.json_ms()));
    lost += row(
        &mut table,
        "idle connections",
        during,
        quiet_p99,
        format!("{opened} opened, {closed} closed by the server by the end"),
    );
    drop(idle);

    progress(id, "phase 3: half-open connections");
    let half: &'static [u8] = b"POST /v2/publish/http://x HTTP/1.1\r\nHost: bench\r\n";
    let mut stalled = open_connections(&addr, sizes.half_open, half).await;
    let opened = stalled.len();
    let during = healthy(ctx, &mut server, id, rate, secs).await?;
    let closed = closed_by_server(&mut stalled).await;
    r.set("half_open_lag", during.0.map(|l| l.json_ms()));
    r.set("half_open_closed", closed);
    lost += row(
        &mut table,
        "half-open connections",
        during,
        quiet_p99,
        format!("{opened} opened, {closed} closed by the server by the end"),
    );
    drop(stalled);

    progress(id, "phase 4: a destination that never answers");
    let hanging = Hanging::start().await?;
    let job = Arc::new(Job::new(
        Kind::Publish,
        sizes.hanging_messages,
        &server.base,
        hanging.url.clone(),
        &[("Upstash-Timeout", "1h")],
        None,
    )?);
    closed_loop(&ctx.client, job.clone(), ctx.opts.connections, None).await;
    let held = hanging.accepted.load(Relaxed);
    let during = healthy(ctx, &mut server, id, rate, secs).await?;
    r.set("hanging_lag", during.0.map(|l| l.json_ms()));
    r.set("hanging_connections", hanging.accepted.load(Relaxed));
    lost += row(
        &mut table,
        "hanging destination",
        during,
        quiet_p99,
        format!(
            "{} published; the destination holds {} connections ({} before the healthy load)",
            fmt_int(job.pubs.accepted.load(Relaxed)),
            hanging.accepted.load(Relaxed),
            held
        ),
    );
    drop(hanging);

    for cells in &table.rows {
        r.row(
            &format!("healthy delivery lag p50 / p99, {}", cells[0]),
            cells[2].clone(),
            format!("p99 {} of quiet", cells[3]),
        );
    }
    r.extra.push((
        "Delivery lag of the healthy load, phase by phase:".into(),
        table,
    ));
    if lost > 0 {
        r.fail(format!(
            "{lost} accepted healthy messages were not delivered"
        ));
    }
    let stopped = server.stop().await?;
    if stopped.killed {
        r.notes
            .push("stop: depesha did not exit within 30 s of SIGTERM (hanging requests)".into());
    }
    ctx.cleanup(id);
    Ok(r)
}
