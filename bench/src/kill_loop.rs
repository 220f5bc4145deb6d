//! The kill loop (`depesha-bench kill-loop --cycles N --messages M`): the promise "a
//! message answered 2xx is never lost", tested by crashing the server under load.
//!
//! It starts `depesha dev` on a fresh data dir and runs N cycles. Each cycle publishes
//! M messages at full speed (a closed loop over `--connections` connections): plain
//! ones, delayed ones, ones enqueued on a queue with parallelism 4 and flow-controlled
//! ones, all to the counting receiver, each with its own index in its body. At a random
//! moment — during publishing in even cycles, during delivery in odd ones — the server
//! is killed with SIGKILL and started again on the same data dir, and the time from
//! spawn to its first answer is measured. A cycle killed while publishing publishes
//! the rest of its messages after the restart.
//!
//! The receiver lives in this process, so it outlives every server. After the last
//! cycle the loop waits (bounded by `--stall-secs` without progress) until every
//! acknowledged message was delivered, then counts per message: acknowledged and never
//! delivered (*lost*: the run fails), delivered more than once (allowed: delivery is
//! at-least-once), delivered although its publish got no answer (allowed: the kill cut
//! the answer off).

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::Request;
use serde_json::json;

use crate::load::{self, Client, TOKEN};
use crate::receiver::{Behaviour, Tracker};
use crate::report::{Report, Table};
use crate::scenarios::{progress, Ctx};
use crate::server::Depesha;
use crate::stats::{fmt_int, fmt_ns, fmt_secs, now_ns, summarize};

const ID: &str = "kill-loop";
/// The queue that a tenth of the messages are enqueued on.
const QUEUE: &str = "kill-loop";
const QUEUE_PARALLELISM: u32 = 4;
/// The flow-control key of another tenth, and its limit.
const FLOW_KEY: &str = "kill-loop";
const FLOW_VALUE: &str = "parallelism=8";
/// A kill during delivery comes at most this long after the cycle's last publish
/// (delayed messages are due 1–3 s after theirs, so some are always still pending).
const MAX_DELIVERY_KILL_MS: u64 = 1000;

/// What a message is, by its index: seven in ten plain, one each delayed, queued and
/// flow-controlled, interleaved so that every stretch of the load has all four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Plain,
    /// `Upstash-Delay` of 1 to 3 s.
    Delayed(u64),
    Queued,
    FlowControlled,
}

fn sort_of(i: usize) -> Sort {
    match i % 10 {
        0 => Sort::Delayed(1 + (i / 10 % 3) as u64),
        1 => Sort::Queued,
        2 => Sort::FlowControlled,
        _ => Sort::Plain,
    }
}

/// When a cycle's kill comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    Publishing,
    Delivery,
}

impl Moment {
    fn of_cycle(cycle: usize) -> Moment {
        if cycle.is_multiple_of(2) {
            Moment::Publishing
        } else {
            Moment::Delivery
        }
    }

    fn label(self) -> &'static str {
        match self {
            Moment::Publishing => "publishing",
            Moment::Delivery => "delivery",
        }
    }
}

/// A small deterministic generator (xorshift64*), so that a run is repeatable from its
/// printed seed.
struct Random(u64);

impl Random {
    fn new(seed: u64) -> Random {
        Random(seed.max(1))
    }

    /// Uniform enough in `range` (which must not be empty).
    fn within(&mut self, range: Range<u64>) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        range.start + x % (range.end - range.start).max(1)
    }
}

/// The kill loop's settings.
#[derive(Debug, Clone, Copy)]
pub struct KillLoopOpts {
    pub cycles: usize,
    pub messages: usize,
    /// `None`: from the clock (printed, so that a run can be repeated).
    pub seed: Option<u64>,
}

/// Which messages' publishes were answered 2xx.
struct Acks(Vec<AtomicBool>);

impl Acks {
    fn acknowledged(&self, i: usize) -> bool {
        self.0[i].load(Relaxed)
    }
}

/// The publishing of one cycle's messages: workers take the next index until the range
/// is done or `stop` is set.
struct Publishing {
    range: Range<usize>,
    next: AtomicUsize,
    stop: AtomicBool,
}

impl Publishing {
    /// Messages handed to a worker so far (sent, or being sent).
    fn taken(&self) -> usize {
        self.next
            .load(Relaxed)
            .min(self.range.end)
            .saturating_sub(self.range.start)
    }
}

fn request(base: &str, destination: &str, i: usize) -> Result<Request<Full<Bytes>>, String> {
    let uri = match sort_of(i) {
        Sort::Queued => format!("{base}/v2/enqueue/{QUEUE}/{destination}"),
        _ => format!("{base}/v2/publish/{destination}"),
    };
    let mut builder = Request::post(uri)
        .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(CONTENT_TYPE, "application/json");
    match sort_of(i) {
        Sort::Delayed(secs) => builder = builder.header("upstash-delay", format!("{secs}s")),
        Sort::FlowControlled => {
            builder = builder
                .header("upstash-flow-control-key", FLOW_KEY)
                .header("upstash-flow-control-value", FLOW_VALUE)
        }
        Sort::Plain | Sort::Queued => {}
    }
    builder
        .body(Full::new(Bytes::from(format!(r#"{{"i":{i}}}"#))))
        .map_err(|e| format!("message {i}: {e}"))
}

/// Publishes `publishing`'s messages from `connections` workers to the server at
/// `base` until all are taken or `stop` is set; marks the acknowledged ones.
async fn publish(
    client: &Client,
    base: &str,
    destination: &str,
    publishing: &Arc<Publishing>,
    acks: &Arc<Acks>,
    connections: usize,
) -> Result<(), String> {
    let mut workers = Vec::with_capacity(connections.max(1));
    for _ in 0..connections.max(1) {
        let (client, publishing, acks) = (client.clone(), publishing.clone(), acks.clone());
        let (base, destination) = (base.to_string(), destination.to_string());
        workers.push(tokio::spawn(async move {
            while !publishing.stop.load(Relaxed) {
                let i = publishing.next.fetch_add(1, Relaxed);
                if i >= publishing.range.end {
                    break;
                }
                // An error or no answer leaves the message unacknowledged; the server
                // may have been killed under it.
                if let Ok((status, _)) = load::send(&client, request(&base, &destination, i)?).await
                {
                    if status.is_success() {
                        acks.0[i].store(true, Relaxed);
                    }
                }
            }
            Ok::<(), String>(())
        }));
    }
    for worker in workers {
        worker
            .await
            .map_err(|e| format!("a publisher failed: {e}"))??;
    }
    Ok(())
}

/// What happened in one cycle.
struct Cycle {
    moment: Moment,
    /// Messages of the cycle handed to the publishers when the kill came.
    taken_at_kill: usize,
    /// Acknowledged messages of the whole run not yet delivered when the kill came.
    undelivered_at_kill: usize,
    ready: Duration,
}

fn undelivered(acks: &Acks, tracker: &Tracker, upto: usize) -> usize {
    (0..upto)
        .filter(|&i| acks.acknowledged(i) && tracker.ok(i) == 0)
        .count()
}

async fn create_queue(ctx: &Ctx, server: &Depesha) -> Result<(), String> {
    let body = json!({"queueName": QUEUE, "parallelism": QUEUE_PARALLELISM}).to_string();
    let request = Request::post(format!("{}/v2/queues", server.base))
        .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    match load::send(&ctx.client, request).await? {
        (status, _) if status.is_success() => Ok(()),
        (status, body) => Err(format!(
            "creating the queue answered {status}: {}",
            String::from_utf8_lossy(&body)
        )),
    }
}

/// What every cycle of a run shares.
struct Run {
    opts: KillLoopOpts,
    /// The receiver's URL for this run.
    destination: String,
    acks: Arc<Acks>,
    tracker: Arc<Tracker>,
}

/// Runs one cycle: publishes its messages, kills the server at the cycle's moment,
/// starts it again, and publishes what the kill interrupted.
async fn cycle(
    ctx: &Ctx,
    server: &mut Depesha,
    run: &Run,
    number: usize,
    random: &mut Random,
) -> Result<Cycle, String> {
    let Run {
        opts,
        destination,
        acks,
        tracker,
    } = run;
    let moment = Moment::of_cycle(number);
    let start = number * opts.messages;
    let publishing = Arc::new(Publishing {
        range: start..start + opts.messages,
        next: AtomicUsize::new(start),
        stop: AtomicBool::new(false),
    });
    let connections = ctx.opts.connections;
    let load = {
        let (client, base) = (ctx.client.clone(), server.base.clone());
        let (destination, publishing, acks) =
            (destination.to_string(), publishing.clone(), acks.clone());
        tokio::spawn(async move {
            publish(
                &client,
                &base,
                &destination,
                &publishing,
                &acks,
                connections,
            )
            .await
        })
    };
    let load = if moment == Moment::Publishing {
        // Somewhere in the middle tenths of the cycle's messages.
        let m = opts.messages as u64;
        let trigger = random.within(m / 10..(m * 9 / 10).max(m / 10 + 1)) as usize;
        while publishing.taken() < trigger && !load.is_finished() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Some(load)
    } else {
        load.await
            .map_err(|e| format!("the publishers failed: {e}"))??;
        let wait = random.within(0..MAX_DELIVERY_KILL_MS);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        None
    };
    let taken_at_kill = publishing.taken();
    server.kill();
    publishing.stop.store(true, Relaxed);
    let undelivered_at_kill = undelivered(acks, tracker, publishing.range.end);
    if let Some(load) = load {
        load.await
            .map_err(|e| format!("the publishers failed: {e}"))??;
    }
    let ready = server.respawn(&ctx.client).await?;
    progress(
        ID,
        &format!(
            "cycle {}: killed during {} ({} of {} taken, {} acknowledged undelivered); ready again in {}",
            number + 1,
            moment.label(),
            fmt_int(taken_at_kill as u64),
            fmt_int(opts.messages as u64),
            fmt_int(undelivered_at_kill as u64),
            fmt_secs(ready)
        ),
    );
    // The messages the kill kept from being sent at all.
    if publishing.taken() < opts.messages {
        publishing.stop.store(false, Relaxed);
        publish(
            &ctx.client,
            &server.base,
            destination,
            &publishing,
            acks,
            connections,
        )
        .await?;
    }
    Ok(Cycle {
        moment,
        taken_at_kill,
        undelivered_at_kill,
        ready,
    })
}

/// Waits until every acknowledged message was delivered, or deliveries made no
/// progress for `ctx.opts.stall`.
async fn settle(ctx: &Ctx, server: &mut Depesha, acks: &Acks, tracker: &Tracker, n: usize) {
    let mut last_distinct = tracker.distinct.load(Relaxed);
    let mut last_progress = now_ns();
    loop {
        let missing = undelivered(acks, tracker, n);
        if missing == 0 || server.check_alive().is_err() {
            return;
        }
        let distinct = tracker.distinct.load(Relaxed);
        if distinct != last_distinct {
            (last_distinct, last_progress) = (distinct, now_ns());
        } else if Duration::from_nanos(now_ns() - last_progress) >= ctx.opts.stall {
            progress(
                ID,
                &format!(
                    "{} acknowledged messages still undelivered after {} without progress",
                    fmt_int(missing as u64),
                    fmt_secs(ctx.opts.stall)
                ),
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn kill_loop(ctx: &Ctx, opts: &KillLoopOpts) -> Result<Report, String> {
    let n = opts.cycles * opts.messages;
    let seed = opts.seed.unwrap_or_else(now_ns);
    let mut random = Random::new(seed);
    let mut r = Report::new(
        ID,
        "Kill loop",
        format!(
            "{} cycles × {} messages ({} connections, closed loop): 70 % plain, 10 % delayed 1–3 s, 10 % on a queue (parallelism {QUEUE_PARALLELISM}), 10 % flow-controlled ({FLOW_VALUE}); SIGKILL at a random moment, during publishing in odd cycles and during delivery in even ones, then a restart on the same data dir. Seed {seed}.",
            opts.cycles,
            fmt_int(opts.messages as u64),
            ctx.opts.connections
        ),
    );
    r.main = Table::new(&["figure", "value", "note"]);
    let (receiver_run, tracker) = ctx.receiver.register(n, Behaviour::default());
    let run = Run {
        opts: *opts,
        destination: ctx.receiver.url(receiver_run),
        acks: Arc::new(Acks((0..n).map(|_| AtomicBool::new(false)).collect())),
        tracker,
    };
    let (acks, tracker) = (&run.acks, &run.tracker);
    let (mut server, _) = ctx.start_server(ID).await?;
    create_queue(ctx, &server).await?;
    let mut cycles = Vec::with_capacity(opts.cycles);
    for number in 0..opts.cycles {
        cycles.push(cycle(ctx, &mut server, &run, number, &mut random).await?);
    }
    settle(ctx, &mut server, acks, tracker, n).await;
    server.check_alive()?;
    let mut counts = Counts::default();
    for i in 0..n {
        if counts.add(acks.acknowledged(i), tracker.ok(i)) && counts.lost_examples.len() < 10 {
            counts.lost_examples.push(format!(
                "#{i} ({:?}, cycle {})",
                sort_of(i),
                i / opts.messages + 1
            ));
        }
    }
    ctx.receiver.unregister(receiver_run);
    rows(&mut r, &counts, &cycles);
    let stopped = server.stop().await?;
    if stopped.killed {
        r.notes
            .push("depesha did not exit within 30 s of SIGTERM at the end".into());
    }
    ctx.cleanup(ID);
    Ok(r)
}

/// The per-message verdicts.
#[derive(Debug, Default)]
struct Counts {
    acknowledged: u64,
    lost: u64,
    duplicated: u64,
    unacknowledged_delivered: u64,
    unacknowledged_undelivered: u64,
    /// A few lost messages: index, sort and cycle.
    lost_examples: Vec<String>,
}

impl Counts {
    /// Counts one message; true when it is lost.
    fn add(&mut self, acknowledged: bool, deliveries: u32) -> bool {
        self.acknowledged += acknowledged as u64;
        self.duplicated += (deliveries > 1) as u64;
        match (acknowledged, deliveries > 0) {
            (true, false) => self.lost += 1,
            (false, true) => self.unacknowledged_delivered += 1,
            (false, false) => self.unacknowledged_undelivered += 1,
            (true, true) => {}
        }
        acknowledged && deliveries == 0
    }
}

fn rows(r: &mut Report, counts: &Counts, cycles: &[Cycle]) {
    let readies: Vec<u64> = cycles.iter().map(|c| c.ready.as_nanos() as u64).collect();
    let ready = summarize(readies);
    let during = |m: Moment| cycles.iter().filter(|c| c.moment == m).count();
    let none = String::new;
    r.row(
        "kills (during publishing / during delivery)",
        format!(
            "{} ({} / {})",
            cycles.len(),
            during(Moment::Publishing),
            during(Moment::Delivery)
        ),
        none(),
    );
    r.row(
        "accepted (2xx answers)",
        fmt_int(counts.acknowledged),
        none(),
    );
    r.row(
        "lost (acknowledged, never delivered)",
        fmt_int(counts.lost),
        "must be 0".into(),
    );
    r.row(
        "duplicated (delivered more than once)",
        fmt_int(counts.duplicated),
        "allowed: at-least-once".into(),
    );
    r.row(
        "not acknowledged, delivered",
        fmt_int(counts.unacknowledged_delivered),
        "allowed: the kill cut the answer off".into(),
    );
    r.row(
        "not acknowledged, not delivered",
        fmt_int(counts.unacknowledged_undelivered),
        none(),
    );
    if let Some(s) = &ready {
        r.row("restart → ready, p50", fmt_ns(s.p50), none());
        r.row("restart → ready, max", fmt_ns(s.max), none());
        r.set("ready_ms", s.json_ms());
    }
    let mut table = Table::new(&[
        "cycle",
        "killed during",
        "messages taken at the kill",
        "acknowledged undelivered at the kill",
        "restart → ready",
    ]);
    for (k, c) in cycles.iter().enumerate() {
        table.row(vec![
            (k + 1).to_string(),
            c.moment.label().into(),
            fmt_int(c.taken_at_kill as u64),
            fmt_int(c.undelivered_at_kill as u64),
            fmt_secs(c.ready),
        ]);
    }
    r.extra.push(("Per cycle:".into(), table));
    r.set("accepted", counts.acknowledged);
    r.set("lost", counts.lost);
    r.set("duplicated", counts.duplicated);
    r.set("unacknowledged_delivered", counts.unacknowledged_delivered);
    r.set(
        "unacknowledged_undelivered",
        counts.unacknowledged_undelivered,
    );
    if counts.lost > 0 {
        r.fail(format!(
            "{} acknowledged messages were never delivered: {}",
            fmt_int(counts.lost),
            counts.lost_examples.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ten_messages_hold_each_sort() {
        let sorts: Vec<Sort> = (0..10).map(sort_of).collect();
        assert_eq!(sorts.iter().filter(|s| **s == Sort::Plain).count(), 7);
        assert!(sorts.contains(&Sort::Queued));
        assert!(sorts.contains(&Sort::FlowControlled));
        assert!(sorts.iter().any(|s| matches!(s, Sort::Delayed(1..=3))));
    }

    #[test]
    fn a_lost_message_is_an_acknowledged_one_never_delivered() {
        let mut counts = Counts::default();
        assert!(counts.add(true, 0));
        assert!(!counts.add(true, 2));
        assert!(!counts.add(false, 1));
        assert!(!counts.add(false, 0));
        assert_eq!(counts.acknowledged, 2);
        assert_eq!(counts.lost, 1);
        assert_eq!(counts.duplicated, 1);
        assert_eq!(counts.unacknowledged_delivered, 1);
        assert_eq!(counts.unacknowledged_undelivered, 1);
    }

    #[test]
    fn the_generator_stays_in_its_range_and_repeats_from_its_seed() {
        let (mut a, mut b) = (Random::new(7), Random::new(7));
        for _ in 0..1000 {
            let x = a.within(10..20);
            assert!((10..20).contains(&x));
            assert_eq!(x, b.within(10..20));
        }
    }
}
