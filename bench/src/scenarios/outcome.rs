//! What a phase achieved, the rows every scenario shows, and the loss/duplicate checks.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::load::Drive;
use crate::report::Report;
use crate::server::{Depesha, Stopped};
use crate::stats::{fmt_bytes, fmt_int, fmt_ns, fmt_rate, fmt_ratio, fmt_secs, summarize, Summary};

use super::ceiling::Ceiling;
use super::phase::Phase;

/// What a phase achieved.
pub(crate) struct Outcome {
    pub accepted: u64,
    /// Accepted messages answered 2xx at least once.
    pub(super) delivered: u64,
    pub lost: u64,
    pub(super) lost_examples: Vec<String>,
    /// Deliveries of messages whose publish got no 2xx (not an error: it may have been
    /// stored before the answer was lost).
    pub(super) unaccepted_delivered: u64,
    /// 2xx answers beyond the first for one message.
    pub(super) duplicates: u64,
    pub(super) duplicate_examples: Vec<String>,
    /// Delivered with an `Upstash-Message-Id` other than the publish answer's, or with
    /// two different ids.
    pub(super) wrong_ids: u64,
    pub(super) publish_errors: u64,
    pub(super) error_examples: Vec<String>,
    pub(super) requests_received: u64,
    pub(super) bad_requests: u64,
    pub(super) drive: Drive,
    /// Latest first-2xx among accepted messages.
    pub(super) last_ok_ns: u64,
    pub(super) latency: Option<Summary>,
    pub lag: Option<Summary>,
}

impl Outcome {
    pub(super) fn publish_rate(&self) -> f64 {
        self.accepted as f64 / self.drive.secs()
    }

    pub(super) fn e2e_secs(&self) -> f64 {
        self.last_ok_ns.saturating_sub(self.drive.start_ns) as f64 / 1e9
    }

    pub(super) fn e2e_rate(&self) -> f64 {
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

/// How many messages were accepted, delivered, lost and sent twice.
pub(super) fn count_rows(r: &mut Report, o: &Outcome) {
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
}

/// The rows every scenario shows, and the loss/duplicate checks.
pub(super) fn standard_rows(
    r: &mut Report,
    o: &Outcome,
    ceiling: Option<&Ceiling>,
    allow_duplicates: bool,
    open_loop: bool,
) {
    count_rows(r, o);
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

pub(super) fn check(r: &mut Report, o: &Outcome, allow_duplicates: bool) {
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

pub(super) fn server_rows(r: &mut Report, server: &Depesha) {
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

/// How long a stop with SIGTERM and the start after it took.
pub(super) fn restart_rows(r: &mut Report, stopped: Stopped, ready: Duration) {
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
}

pub(super) fn stop_note(r: &mut Report, what: &str, stopped: Stopped) {
    if stopped.killed {
        r.notes.push(format!(
            "{what}: depesha did not exit within 30 s of SIGTERM and was killed with SIGKILL"
        ));
    }
}
