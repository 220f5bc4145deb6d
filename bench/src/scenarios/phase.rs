//! A phase of a scenario: publish a load to a fresh receiver run, then wait for its
//! deliveries.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::{closed_loop, open_loop, Drive, Job, Kind, NotBefore};
use crate::receiver::{Behaviour, Tracker};
use crate::server::Depesha;
use crate::stats::{fmt_int, fmt_rate};

use super::{progress, Ctx};

pub(crate) enum DriveSpec {
    Closed { connections: usize },
    Open { rate: f64, cap: usize },
}

pub(crate) struct Phase {
    pub(super) job: Arc<Job>,
    pub(super) tracker: Arc<Tracker>,
    pub(super) drive: Drive,
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
    /// `n` messages sent by `kind` with no extra headers over `connections` connections,
    /// closed loop, to a receiver that answers 200.
    pub(crate) fn closed(kind: Kind, n: usize, connections: usize) -> Self {
        Load {
            kind,
            n,
            headers: &[],
            not_before: None,
            behaviour: Behaviour::default(),
            drive: DriveSpec::Closed { connections },
        }
    }

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
