//! The counting receiver: an in-process HTTP server on 127.0.0.1:0 that plays the
//! destination. Every run gets its own path `/d/{run}` and its own [`Tracker`], which
//! counts deliveries per message (the `i` in the body `{"i":n,"t":ns}`), remembers the
//! `Upstash-Message-Id` each arrived with, and when the first good answer was given.
//! The loopback ceiling posts the same bodies straight to the same handler.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;
use axum::Router;
use serde::Deserialize;

use crate::stats::now_ns;

/// What the destination does with a run's requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Behaviour {
    /// Answer 500 to the first attempt (`Upstash-Retried: 0`) of every message whose
    /// index is a multiple of this (10 → a deterministic 10 %). 0 = never.
    pub fail_first_every: u32,
    /// Sleep this long before answering.
    pub delay: Duration,
    /// Remember the `Upstash-Message-Id` of each message (off for the ceiling).
    pub track_ids: bool,
}

/// Per-run counts. Indexes are the messages' `i`.
pub struct Tracker {
    pub n: usize,
    behaviour: Behaviour,
    /// Harness time of the first request answered 2xx (0 = none yet).
    first_ok_ns: Vec<AtomicU64>,
    /// Requests answered 2xx.
    ok: Vec<AtomicU32>,
    /// Every request, whatever the answer.
    attempts: Vec<AtomicU32>,
    /// The `Upstash-Message-Id` of the first request.
    ids: Vec<OnceLock<Box<str>>>,
    /// Messages answered 2xx at least once.
    pub distinct: AtomicU64,
    pub requests: AtomicU64,
    /// 500s given on purpose.
    pub failed_on_purpose: AtomicU64,
    /// A request whose `Upstash-Message-Id` differs from the one that message came
    /// with before.
    pub id_changed: AtomicU64,
    /// A body that is not ours, or an index out of range.
    pub bad_requests: AtomicU64,
    /// Harness time of the latest request.
    pub last_ns: AtomicU64,
    pub in_flight: AtomicI64,
    pub max_in_flight: AtomicI64,
}

impl Tracker {
    pub fn new(n: usize, behaviour: Behaviour) -> Tracker {
        let ids = if behaviour.track_ids {
            (0..n).map(|_| OnceLock::new()).collect()
        } else {
            Vec::new()
        };
        Tracker {
            n,
            behaviour,
            first_ok_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
            ok: (0..n).map(|_| AtomicU32::new(0)).collect(),
            attempts: (0..n).map(|_| AtomicU32::new(0)).collect(),
            ids,
            distinct: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            failed_on_purpose: AtomicU64::new(0),
            id_changed: AtomicU64::new(0),
            bad_requests: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            max_in_flight: AtomicI64::new(0),
        }
    }

    pub fn ok(&self, i: usize) -> u32 {
        self.ok[i].load(Relaxed)
    }

    pub fn first_ok_ns(&self, i: usize) -> u64 {
        self.first_ok_ns[i].load(Relaxed)
    }

    pub fn id(&self, i: usize) -> Option<&str> {
        self.ids.get(i).and_then(|c| c.get()).map(|s| &**s)
    }

    /// Attempts per message, for comparing before and after a restart.
    pub fn attempts_snapshot(&self) -> Vec<u32> {
        self.attempts.iter().map(|a| a.load(Relaxed)).collect()
    }
}

/// Decrements the in-flight gauge even when the server drops the connection mid-request.
struct InFlight<'a>(&'a Tracker);

impl<'a> InFlight<'a> {
    fn enter(t: &'a Tracker) -> Self {
        let now = t.in_flight.fetch_add(1, Relaxed) + 1;
        t.max_in_flight.fetch_max(now, Relaxed);
        InFlight(t)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

pub struct Receiver {
    pub port: u16,
    trackers: RwLock<HashMap<u32, Arc<Tracker>>>,
    next_run: AtomicU32,
    /// Requests for a run that is no longer registered.
    pub orphans: AtomicU64,
}

#[derive(Deserialize)]
struct MessageBody {
    i: usize,
}

impl Receiver {
    /// Binds 127.0.0.1:0 and serves in the background.
    pub async fn start() -> Result<Arc<Receiver>, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("could not bind the receiver: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("receiver address: {e}"))?
            .port();
        let receiver = Arc::new(Receiver {
            port,
            trackers: RwLock::new(HashMap::new()),
            next_run: AtomicU32::new(1),
            orphans: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/d/{run}", any(handle))
            .with_state(receiver.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("receiver stopped: {e}");
            }
        });
        Ok(receiver)
    }

    /// A new run with its own path; returns its number and tracker.
    pub fn register(&self, n: usize, behaviour: Behaviour) -> (u32, Arc<Tracker>) {
        let run = self.next_run.fetch_add(1, Relaxed);
        let tracker = Arc::new(Tracker::new(n, behaviour));
        self.trackers
            .write()
            .expect("trackers lock")
            .insert(run, tracker.clone());
        (run, tracker)
    }

    /// Forgets a run (its late requests are answered 200 and counted as orphans).
    pub fn unregister(&self, run: u32) {
        self.trackers.write().expect("trackers lock").remove(&run);
    }

    pub fn url(&self, run: u32) -> String {
        format!("http://127.0.0.1:{}/d/{run}", self.port)
    }

    fn tracker(&self, run: u32) -> Option<Arc<Tracker>> {
        self.trackers
            .read()
            .expect("trackers lock")
            .get(&run)
            .cloned()
    }
}

async fn handle(
    State(receiver): State<Arc<Receiver>>,
    Path(run): Path<u32>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let arrived = now_ns();
    let Some(t) = receiver.tracker(run) else {
        receiver.orphans.fetch_add(1, Relaxed);
        return StatusCode::OK;
    };
    let _gauge = InFlight::enter(&t);
    t.requests.fetch_add(1, Relaxed);
    t.last_ns.fetch_max(arrived, Relaxed);
    let i = match serde_json::from_slice::<MessageBody>(&body) {
        Ok(b) if b.i < t.n => b.i,
        _ => {
            t.bad_requests.fetch_add(1, Relaxed);
            return StatusCode::OK;
        }
    };
    t.attempts[i].fetch_add(1, Relaxed);
    if t.behaviour.track_ids {
        if let Some(id) = headers
            .get("upstash-message-id")
            .and_then(|v| v.to_str().ok())
        {
            let first = t.ids[i].get_or_init(|| id.into());
            if &**first != id {
                t.id_changed.fetch_add(1, Relaxed);
            }
        }
    }
    if !t.behaviour.delay.is_zero() {
        tokio::time::sleep(t.behaviour.delay).await;
    }
    let every = t.behaviour.fail_first_every;
    if every > 0 && i % every as usize == 0 {
        let retried = headers
            .get("upstash-retried")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0);
        if retried == 0 {
            t.failed_on_purpose.fetch_add(1, Relaxed);
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    if t.ok[i].fetch_add(1, Relaxed) == 0 {
        t.first_ok_ns[i].store(arrived, Relaxed);
        t.distinct.fetch_add(1, Relaxed);
    }
    StatusCode::OK
}
