//! The eight scenarios of the benchmark issue, and the smoke run.
//!
//! Every scenario starts its own `depesha dev` on a fresh data dir (scenario 7 keeps one
//! for all its runs), measures the loopback ceiling immediately before loading it, and
//! checks that every accepted message was delivered.

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::load::{closed_loop, open_loop, Client, Drive, Job, Kind, NotBefore};
use crate::receiver::{Behaviour, Receiver, Tracker};
use crate::report::{Report, Table};
use crate::server::{Depesha, Sample, Sampler};
use crate::stats::{
    fmt_bytes, fmt_int, fmt_ns, fmt_rate, fmt_ratio, fmt_secs, ms, now_ns, stalls, summarize,
    unix_secs_now, wall_ns_of, Summary,
};

/// Tunables from the command line, resolved for one scenario.
#[derive(Debug, Clone)]
pub struct Opts {
    pub depesha: PathBuf,
    pub connections: usize,
    pub ceiling_secs: f64,
    pub count: usize,
    pub rate_fixed: f64,
    pub rate_slow: f64,
    pub duration: f64,
    pub delayed_count: usize,
    pub spread: u64,
    pub lead: Option<u64>,
    pub runs: usize,
    pub batch_size: usize,
    pub slow_ms: u64,
    pub open_loop_cap: usize,
    /// Messages published after the restart of scenario 8, to prove deliveries resumed.
    pub canary: usize,
    /// How long deliveries may make no progress before the run gives up on them.
    pub stall: Duration,
    pub keep: bool,
}

pub struct Ctx {
    pub opts: Opts,
    pub client: Client,
    pub receiver: Arc<Receiver>,
    pub workdir: PathBuf,
}

impl Ctx {
    /// A fresh data dir and log file for `name`, and a server on it.
    pub(crate) async fn start_server(&self, name: &str) -> Result<(Depesha, Duration), String> {
        let dir = self.workdir.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let (server, ready) = Depesha::start(
            &self.opts.depesha,
            &dir.join("data"),
            &dir.join("depesha.log"),
            &self.client,
        )
        .await?;
        progress(
            name,
            &format!(
                "depesha pid {:?} ready in {}",
                server.pid(),
                fmt_secs(ready)
            ),
        );
        Ok((server, ready))
    }

    /// Removes a scenario's data dir unless `--keep`.
    pub(crate) fn cleanup(&self, name: &str) {
        if !self.opts.keep {
            let _ = std::fs::remove_dir_all(self.workdir.join(name));
        }
    }
}

pub fn progress(id: &str, what: &str) {
    eprintln!("[{:>7.1}s {id}] {what}", now_ns() as f64 / 1e9);
}

// -------------------------------------------------------------------------------------
// Building blocks.

/// The loopback HTTP ceiling: the same load generator posting the same bodies straight
/// to the receiver.
struct Ceiling {
    /// Closed loop, `connections` connections: requests per second.
    rps: f64,
    /// Closed loop request latency.
    latency: Option<Summary>,
}

async fn ceiling(ctx: &Ctx, id: &str) -> Result<Ceiling, String> {
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
async fn ceiling_after(
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
async fn ceiling_open(ctx: &Ctx, id: &str, rate: f64) -> Result<Option<Summary>, String> {
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

pub(crate) enum DriveSpec {
    Closed { connections: usize },
    Open { rate: f64, cap: usize },
}

pub(crate) struct Phase {
    job: Arc<Job>,
    tracker: Arc<Tracker>,
    drive: Drive,
}

/// What a phase publishes, and how.
pub(crate) struct Load<'a> {
    pub kind: Kind,
    pub n: usize,
    pub headers: &'a [(&'a str, &'a str)],
    pub not_before: Option<NotBefore>,
    pub behaviour: Behaviour,
    pub drive: DriveSpec,
}

impl Load<'static> {
    /// `n` plain publishes offered at `rate` per second, open loop.
    pub(crate) fn fixed_rate(n: usize, rate: f64, cap: usize) -> Self {
        Load {
            kind: Kind::Publish,
            n,
            headers: &[],
            not_before: None,
            behaviour: Behaviour::default(),
            drive: DriveSpec::Open { rate, cap },
        }
    }
}

/// Registers a receiver run and publishes `load.n` messages to it.
pub(crate) async fn publish(
    ctx: &Ctx,
    server: &Depesha,
    id: &str,
    load: Load<'_>,
) -> Result<Phase, String> {
    let Load {
        kind,
        n,
        headers,
        not_before,
        behaviour,
        drive,
    } = load;
    let (run, tracker) = ctx.receiver.register(
        n,
        Behaviour {
            track_ids: true,
            ..behaviour
        },
    );
    let job = Arc::new(Job::new(
        kind,
        n,
        &server.base,
        ctx.receiver.url(run),
        headers,
        not_before,
    )?);
    let drive = match drive {
        DriveSpec::Closed { connections } => {
            closed_loop(&ctx.client, job.clone(), connections, None).await
        }
        DriveSpec::Open { rate, cap } => open_loop(&ctx.client, job.clone(), rate, cap, None).await,
    };
    let accepted = job.pubs.accepted.load(Relaxed);
    progress(
        id,
        &format!(
            "published {} of {} messages in {:.2} s ({} msg/s), {} errors",
            fmt_int(accepted),
            fmt_int(n as u64),
            drive.secs(),
            fmt_rate(accepted as f64 / drive.secs()),
            job.pubs.errors.load(Relaxed)
        ),
    );
    Ok(Phase {
        job,
        tracker,
        drive,
    })
}

/// Every accepted message answered 2xx at least once?
fn all_delivered(phase: &Phase) -> bool {
    let pubs = &phase.job.pubs;
    if phase.tracker.distinct.load(Relaxed) < pubs.accepted.load(Relaxed) {
        return false;
    }
    (0..pubs.n).all(|i| pubs.accept_ns(i) == 0 || phase.tracker.ok(i) > 0)
}

/// Waits until every accepted message is delivered, deliveries stall for
/// `opts.stall`, or `deadline` passes; fails if the server dies.
pub(crate) async fn await_delivery(
    ctx: &Ctx,
    server: &mut Depesha,
    id: &str,
    phase: &Phase,
    deadline: Option<Instant>,
) -> Result<(), String> {
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut last_progress = (phase.tracker.requests.load(Relaxed), Instant::now());
    let deadline = deadline.unwrap_or(started + Duration::from_secs(3600));
    loop {
        server.check_alive()?;
        if all_delivered(phase) {
            return Ok(());
        }
        let requests = phase.tracker.requests.load(Relaxed);
        if requests != last_progress.0 {
            last_progress = (requests, Instant::now());
        }
        let stalled = last_progress.1.elapsed() > ctx.opts.stall;
        if stalled || Instant::now() > deadline {
            progress(
                id,
                &format!(
                    "giving up waiting: {} of {} delivered ({})",
                    fmt_int(phase.tracker.distinct.load(Relaxed)),
                    fmt_int(phase.job.pubs.accepted.load(Relaxed)),
                    if stalled {
                        "no delivery for the stall timeout"
                    } else {
                        "deadline"
                    }
                ),
            );
            return Ok(());
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            progress(
                id,
                &format!(
                    "delivered {} of {}",
                    fmt_int(phase.tracker.distinct.load(Relaxed)),
                    fmt_int(phase.job.pubs.accepted.load(Relaxed))
                ),
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a phase achieved.
pub(crate) struct Outcome {
    pub accepted: u64,
    /// Accepted messages answered 2xx at least once.
    delivered: u64,
    pub lost: u64,
    lost_examples: Vec<String>,
    /// Deliveries of messages whose publish got no 2xx (not an error: it may have been
    /// stored before the answer was lost).
    unaccepted_delivered: u64,
    /// 2xx answers beyond the first for one message.
    duplicates: u64,
    duplicate_examples: Vec<String>,
    /// Delivered with an `Upstash-Message-Id` other than the publish answer's, or with
    /// two different ids.
    wrong_ids: u64,
    publish_errors: u64,
    error_examples: Vec<String>,
    requests_received: u64,
    bad_requests: u64,
    drive: Drive,
    /// Latest first-2xx among accepted messages.
    last_ok_ns: u64,
    latency: Option<Summary>,
    pub lag: Option<Summary>,
}

impl Outcome {
    fn publish_rate(&self) -> f64 {
        self.accepted as f64 / self.drive.secs()
    }

    fn e2e_secs(&self) -> f64 {
        self.last_ok_ns.saturating_sub(self.drive.start_ns) as f64 / 1e9
    }

    fn e2e_rate(&self) -> f64 {
        self.delivered as f64 / self.e2e_secs()
    }
}

pub(crate) fn evaluate(phase: &Phase) -> Outcome {
    let (pubs, t) = (&phase.job.pubs, &phase.tracker);
    let mut o = Outcome {
        accepted: 0,
        delivered: 0,
        lost: 0,
        lost_examples: Vec::new(),
        unaccepted_delivered: 0,
        duplicates: 0,
        duplicate_examples: Vec::new(),
        wrong_ids: t.id_changed.load(Relaxed),
        publish_errors: pubs.errors.load(Relaxed),
        error_examples: pubs.error_examples(),
        requests_received: t.requests.load(Relaxed),
        bad_requests: t.bad_requests.load(Relaxed),
        drive: phase.drive,
        last_ok_ns: phase.drive.start_ns,
        latency: summarize(pubs.latencies()),
        lag: None,
    };
    let mut lags = Vec::with_capacity(pubs.n);
    for i in 0..pubs.n {
        let accepted_at = pubs.accept_ns(i);
        let ok = t.ok(i);
        if accepted_at == 0 {
            if ok > 0 {
                o.unaccepted_delivered += 1;
            }
            continue;
        }
        o.accepted += 1;
        if ok == 0 {
            o.lost += 1;
            if o.lost_examples.len() < 5 {
                o.lost_examples
                    .push(format!("#{i} {}", pubs.id(i).unwrap_or("?")));
            }
            continue;
        }
        o.delivered += 1;
        if ok > 1 {
            o.duplicates += u64::from(ok - 1);
            if o.duplicate_examples.len() < 5 {
                o.duplicate_examples
                    .push(format!("#{i} {} ×{ok}", pubs.id(i).unwrap_or("?")));
            }
        }
        if let (Some(sent), Some(got)) = (pubs.id(i), t.id(i)) {
            if sent != got {
                o.wrong_ids += 1;
            }
        }
        let first = t.first_ok_ns(i);
        o.last_ok_ns = o.last_ok_ns.max(first);
        lags.push(first.saturating_sub(accepted_at));
    }
    o.lag = summarize(lags);
    o
}

/// The rows every scenario shows, and the loss/duplicate checks.
fn standard_rows(
    r: &mut Report,
    o: &Outcome,
    ceiling: Option<&Ceiling>,
    allow_duplicates: bool,
    open_loop: bool,
) {
    r.row(
        "messages accepted / delivered",
        format!("{} / {}", fmt_int(o.accepted), fmt_int(o.delivered)),
        String::new(),
    );
    r.row(
        "lost / duplicated / publish errors",
        format!("{} / {} / {}", o.lost, o.duplicates, o.publish_errors),
        String::new(),
    );
    if let Some(c) = ceiling {
        r.row(
            "loopback ceiling (same generator → receiver)",
            format!("{} req/s", fmt_rate(c.rps)),
            "1".into(),
        );
    }
    let vs = |rate: f64| ceiling.map(|c| fmt_ratio(rate / c.rps)).unwrap_or_default();
    r.row(
        "publish throughput (accepted / publish time)",
        format!("{} msg/s", fmt_rate(o.publish_rate())),
        vs(o.publish_rate()),
    );
    r.row(
        "end-to-end throughput (delivered / first publish → last delivery)",
        format!("{} msg/s", fmt_rate(o.e2e_rate())),
        vs(o.e2e_rate()),
    );
    if let Some(l) = &o.latency {
        let loop_kind = if open_loop {
            "open loop, from the scheduled time"
        } else {
            "closed loop"
        };
        let vs = match (open_loop, ceiling.and_then(|c| c.latency)) {
            (false, Some(cl)) => format!("loopback p50 {} p99 {}", fmt_ns(cl.p50), fmt_ns(cl.p99)),
            _ => String::new(),
        };
        r.row(
            &format!("publish latency p50 / p99 / p99.9 ({loop_kind})"),
            format!("{} / {} / {}", fmt_ns(l.p50), fmt_ns(l.p99), fmt_ns(l.p999)),
            vs,
        );
    }
    if let Some(l) = &o.lag {
        r.row(
            "delivery lag (accepted → received) p50 / p99",
            format!("{} / {}", fmt_ns(l.p50), fmt_ns(l.p99)),
            String::new(),
        );
    }
    r.set("accepted", o.accepted);
    r.set("delivered", o.delivered);
    r.set("lost", o.lost);
    r.set("duplicates", o.duplicates);
    r.set("publish_errors", o.publish_errors);
    r.set("unaccepted_delivered", o.unaccepted_delivered);
    r.set("wrong_ids", o.wrong_ids);
    r.set("requests_received", o.requests_received);
    r.set("publish_secs", o.drive.secs());
    r.set("publish_msg_per_s", o.publish_rate());
    r.set("e2e_secs", o.e2e_secs());
    r.set("e2e_msg_per_s", o.e2e_rate());
    if let Some(c) = ceiling {
        r.set("ceiling_req_per_s", c.rps);
        r.set("publish_vs_ceiling", o.publish_rate() / c.rps);
        r.set("e2e_vs_ceiling", o.e2e_rate() / c.rps);
        if let Some(l) = c.latency {
            r.set("ceiling_latency", l.json_ms());
        }
    }
    if let Some(l) = &o.latency {
        r.set("publish_latency", l.json_ms());
    }
    if let Some(l) = &o.lag {
        r.set("delivery_lag", l.json_ms());
    }
    check(r, o, allow_duplicates);
}

fn check(r: &mut Report, o: &Outcome, allow_duplicates: bool) {
    if o.lost > 0 {
        r.fail(format!(
            "{} of {} accepted messages were never delivered (e.g. {})",
            o.lost,
            o.accepted,
            o.lost_examples.join(", ")
        ));
    }
    if o.wrong_ids > 0 {
        r.fail(format!(
            "{} messages arrived with an Upstash-Message-Id other than the one publish answered",
            o.wrong_ids
        ));
    }
    if o.duplicates > 0 {
        let what = format!(
            "{} duplicate deliveries of already-delivered messages (e.g. {})",
            o.duplicates,
            o.duplicate_examples.join(", ")
        );
        if allow_duplicates {
            r.notes.push(what);
        } else {
            r.fail(what);
        }
    }
    if o.bad_requests > 0 {
        r.fail(format!(
            "{} deliveries carried a body that was not published",
            o.bad_requests
        ));
    }
    if o.accepted == 0 {
        r.fail("no publish was accepted".into());
    }
    if o.publish_errors > 0 {
        r.notes.push(format!(
            "{} publishes got no 2xx (not counted as accepted), e.g. {}",
            o.publish_errors,
            o.error_examples.join(" | ")
        ));
    }
    if o.unaccepted_delivered > 0 {
        r.notes.push(format!(
            "{} messages whose publish got no 2xx were delivered anyway",
            o.unaccepted_delivered
        ));
    }
}

fn server_rows(r: &mut Report, server: &Depesha) {
    let peak = server.peak_rss().unwrap_or(0);
    let disk = server.data_dir_bytes();
    r.row(
        "peak RSS of depesha (VmHWM)",
        fmt_bytes(peak),
        String::new(),
    );
    r.row("data dir size", fmt_bytes(disk), String::new());
    r.set("peak_rss_bytes", peak);
    r.set("data_dir_bytes", disk);
}

fn stop_note(r: &mut Report, what: &str, stopped: crate::server::Stopped) {
    if stopped.killed {
        r.notes.push(format!(
            "{what}: depesha did not exit within 30 s of SIGTERM and was killed with SIGKILL"
        ));
    }
}

// -------------------------------------------------------------------------------------
// The scenarios.

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
    let phase = publish(
        ctx,
        &server,
        id,
        Load {
            kind: Kind::Publish,
            n,
            headers: &[],
            not_before: None,
            behaviour: Behaviour::default(),
            drive: DriveSpec::Closed { connections: conns },
        },
    )
    .await?;
    await_delivery(ctx, &mut server, id, &phase, None).await?;
    let o = evaluate(&phase);
    standard_rows(&mut r, &o, Some(&c), false, false);
    server_rows(&mut r, &server);
    ceiling_after(ctx, id, &mut r, &c).await?;
    let stopped = server.stop().await?;
    stop_note(&mut r, "stop", stopped);
    ctx.cleanup(id);
    Ok(r)
}

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
    let stopped = server.stop().await?;
    stop_note(&mut r, "stop", stopped);
    ctx.cleanup(id);
    Ok(r)
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

    r.row(
        "messages accepted / delivered",
        format!("{} / {}", fmt_int(o.accepted), fmt_int(o.delivered)),
        String::new(),
    );
    r.row(
        "lost / duplicated / publish errors",
        format!("{} / {} / {}", o.lost, o.duplicates, o.publish_errors),
        String::new(),
    );
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
    r.row(
        "stop (SIGTERM → exit)",
        fmt_secs(stopped.took),
        String::new(),
    );
    r.row(
        "restart → ready (spawn → first 200)",
        fmt_secs(ready),
        String::new(),
    );
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
    let stopped = server.stop().await?;
    stop_note(&mut r, "stop", stopped);
    ctx.cleanup(id);
    Ok(r)
}

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
    let phase = publish(
        ctx,
        &server,
        id,
        Load {
            kind: Kind::Batch(b),
            n,
            headers: &[],
            not_before: None,
            behaviour: Behaviour::default(),
            drive: DriveSpec::Closed { connections: conns },
        },
    )
    .await?;
    await_delivery(ctx, &mut server, id, &phase, None).await?;
    let o = evaluate(&phase);
    standard_rows(&mut r, &o, Some(&c), false, false);
    let reqs = o.drive.requests as f64 / o.drive.secs();
    r.row("batch requests per second", fmt_rate(reqs), String::new());
    r.set("batch_req_per_s", reqs);
    server_rows(&mut r, &server);
    ceiling_after(ctx, id, &mut r, &c).await?;
    let stopped = server.stop().await?;
    stop_note(&mut r, "stop", stopped);
    ctx.cleanup(id);
    Ok(r)
}

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
    let stopped = server.stop().await?;
    stop_note(&mut r, "stop", stopped);
    ctx.cleanup(id);
    Ok(r)
}

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
    let stopped = server.stop().await?;
    stop_note(&mut r, "stop", stopped);
    ctx.cleanup(id);
    Ok(r)
}

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
        let phase = publish(
            ctx,
            &server,
            id,
            Load {
                kind: Kind::Publish,
                n,
                headers: &[],
                not_before: None,
                behaviour: Behaviour::default(),
                drive: DriveSpec::Closed { connections: conns },
            },
        )
        .await?;
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
    let stopped = server.stop().await?;
    stop_note(&mut r, "stop", stopped);
    ctx.cleanup(id);
    Ok(r)
}

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
    let phase = publish(
        ctx,
        &server,
        id,
        Load {
            kind: Kind::Publish,
            n,
            headers: &[],
            not_before: None,
            behaviour: Behaviour::default(),
            drive: DriveSpec::Closed { connections: conns },
        },
    )
    .await?;
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
        Load {
            kind: Kind::Publish,
            n: canary,
            headers: &[],
            not_before: None,
            behaviour: Behaviour::default(),
            drive: DriveSpec::Closed {
                connections: conns.min(canary),
            },
        },
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
    r.row(
        "stop (SIGTERM → exit)",
        fmt_secs(stopped.took),
        String::new(),
    );
    r.row(
        "restart → ready (spawn → first 200)",
        fmt_secs(ready),
        String::new(),
    );
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
    let stopped = server.stop().await?;
    stop_note(&mut r, "stop", stopped);
    ctx.cleanup(id);
    Ok(r)
}
