//! The load generator: a pooled hyper HTTP/1.1 client, the requests of a run (single
//! publishes, `/v2/batch` requests, or posts straight to the receiver for the ceiling),
//! and two ways of driving them:
//!
//! - closed loop: `connections` workers, each sending its next request when the previous
//!   one is answered (maximum throughput);
//! - open loop: requests are *scheduled* at a fixed rate and each one is sent from its
//!   own task whatever the others are doing; latency is measured from the scheduled
//!   time, so a server that stalls is charged for the whole queue it built up.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::stats::now_ns;

pub type Client = HyperClient<HttpConnector, Full<Bytes>>;

/// No request of the harness waits longer than this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub fn client() -> Client {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.enforce_http(true);
    HyperClient::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(usize::MAX)
        .build(connector)
}

/// Sends one request and reads the whole answer.
pub async fn send(
    client: &Client,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), String> {
    let exchange = async {
        let response = client.request(request).await.map_err(|e| {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                source = s.source();
            }
            msg
        })?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok((status, body))
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
    }
}

/// The dev user 1 token (spec §9).
pub const TOKEN: &str = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";

pub fn get(uri: &str) -> Result<Request<Full<Bytes>>, String> {
    Request::get(uri)
        .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("bad request {uri}: {e}"))
}

/// What the publisher saw, per message and per request.
pub struct Published {
    pub n: usize,
    /// Harness time the message's publish was answered 2xx (0 = not accepted).
    accept_ns: Vec<AtomicU64>,
    /// Message id from the answer.
    ids: Vec<OnceLock<Box<str>>>,
    /// Latency of each request (+1; 0 = not sent).
    request_latency_ns: Vec<AtomicU64>,
    pub accepted: AtomicU64,
    /// Messages whose publish got no 2xx (error status, no answer).
    pub errors: AtomicU64,
    error_examples: Mutex<Vec<String>>,
    pub requests_sent: AtomicU64,
}

impl Published {
    fn new(n: usize, units: usize, track_ids: bool) -> Published {
        Published {
            n,
            accept_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
            ids: if track_ids {
                (0..n).map(|_| OnceLock::new()).collect()
            } else {
                Vec::new()
            },
            request_latency_ns: (0..units).map(|_| AtomicU64::new(0)).collect(),
            accepted: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            error_examples: Mutex::new(Vec::new()),
            requests_sent: AtomicU64::new(0),
        }
    }

    pub fn accept_ns(&self, i: usize) -> u64 {
        self.accept_ns[i].load(Relaxed)
    }

    pub fn id(&self, i: usize) -> Option<&str> {
        self.ids.get(i).and_then(|c| c.get()).map(|s| &**s)
    }

    pub fn latencies(&self) -> Vec<u64> {
        self.latencies_by_unit()
            .into_iter()
            .map(|(_, latency)| latency)
            .collect()
    }

    /// `(unit, latency)` of every request sent, in unit order (which is schedule
    /// order for the open loop).
    pub fn latencies_by_unit(&self) -> Vec<(usize, u64)> {
        self.request_latency_ns
            .iter()
            .enumerate()
            .map(|(unit, l)| (unit, l.load(Relaxed)))
            .filter(|&(_, l)| l > 0)
            .map(|(unit, l)| (unit, l - 1))
            .collect()
    }

    pub fn error_examples(&self) -> Vec<String> {
        self.error_examples.lock().expect("lock").clone()
    }

    fn error(&self, count: usize, what: String) {
        self.errors.fetch_add(count as u64, Relaxed);
        let mut ex = self.error_examples.lock().expect("lock");
        if ex.len() < 5 {
            ex.push(what);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Post the message body straight to the receiver (the loopback ceiling).
    Direct,
    /// `POST /v2/publish/{receiver url}`, one message per request.
    Publish,
    /// `POST /v2/batch`, this many messages per request.
    Batch(usize),
}

/// `Upstash-Not-Before` per message: `base + lead + spread·i/n` (unix seconds).
#[derive(Debug, Clone, Copy)]
pub struct NotBefore {
    pub first_due_s: u64,
    pub spread_s: u64,
}

impl NotBefore {
    pub fn due_s(&self, i: usize, n: usize) -> u64 {
        self.first_due_s + (self.spread_s as u128 * i as u128 / n.max(1) as u128) as u64
    }
}

/// The requests of one run.
pub struct Job {
    kind: Kind,
    uri: Uri,
    /// The receiver URL messages are published to.
    destination: String,
    auth: HeaderValue,
    headers: Vec<(HeaderName, HeaderValue)>,
    pub not_before: Option<NotBefore>,
    pub pubs: Arc<Published>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublishAnswer {
    message_id: String,
}

impl Job {
    /// `depesha_base` is `http://127.0.0.1:PORT` (ignored for [`Kind::Direct`]).
    pub fn new(
        kind: Kind,
        n: usize,
        depesha_base: &str,
        destination: String,
        headers: &[(&str, &str)],
        not_before: Option<NotBefore>,
    ) -> Result<Job, String> {
        let uri = match kind {
            Kind::Direct => destination.clone(),
            Kind::Publish => format!("{depesha_base}/v2/publish/{destination}"),
            Kind::Batch(_) => format!("{depesha_base}/v2/batch"),
        };
        let uri: Uri = uri.parse().map_err(|e| format!("bad uri {uri}: {e}"))?;
        let headers = headers
            .iter()
            .map(|(k, v)| {
                Ok((
                    HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("{k}: {e}"))?,
                    HeaderValue::from_str(v).map_err(|e| format!("{k}: {e}"))?,
                ))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let units = match kind {
            Kind::Batch(b) => n.div_ceil(b.max(1)),
            _ => n,
        };
        Ok(Job {
            kind,
            uri,
            destination,
            auth: HeaderValue::from_str(&format!("Bearer {TOKEN}")).expect("token header"),
            headers,
            not_before,
            pubs: Arc::new(Published::new(n, units, kind != Kind::Direct)),
        })
    }

    /// Requests this run consists of.
    pub fn units(&self) -> usize {
        match self.kind {
            Kind::Batch(b) => self.pubs.n.div_ceil(b.max(1)),
            _ => self.pubs.n,
        }
    }

    fn messages(&self, unit: usize) -> Range<usize> {
        match self.kind {
            Kind::Batch(b) => unit * b..((unit + 1) * b).min(self.pubs.n),
            _ => unit..unit + 1,
        }
    }

    fn body_of(i: usize, t_ns: u64) -> String {
        format!(r#"{{"i":{i},"t":{t_ns}}}"#)
    }

    /// The request for `unit`, stamped with `t_ns` (its scheduled or send time).
    pub fn request(&self, unit: usize, t_ns: u64) -> Request<Full<Bytes>> {
        let mut builder = Request::post(self.uri.clone()).header(CONTENT_TYPE, "application/json");
        if self.kind != Kind::Direct {
            builder = builder.header(AUTHORIZATION, self.auth.clone());
        }
        let body = match self.kind {
            Kind::Direct | Kind::Publish => {
                for (k, v) in &self.headers {
                    builder = builder.header(k, v);
                }
                if let Some(nb) = self.not_before {
                    builder = builder.header("upstash-not-before", nb.due_s(unit, self.pubs.n));
                }
                Self::body_of(unit, t_ns).into_bytes()
            }
            Kind::Batch(_) => {
                let items: Vec<serde_json::Value> = self
                    .messages(unit)
                    .map(|i| {
                        let mut headers = serde_json::Map::new();
                        headers.insert("Content-Type".into(), "application/json".into());
                        for (k, v) in &self.headers {
                            headers
                                .insert(k.as_str().into(), v.to_str().unwrap_or_default().into());
                        }
                        if let Some(nb) = self.not_before {
                            headers.insert(
                                "Upstash-Not-Before".into(),
                                nb.due_s(i, self.pubs.n).to_string().into(),
                            );
                        }
                        serde_json::json!({
                            "destination": self.destination,
                            "headers": headers,
                            "body": Self::body_of(i, t_ns),
                        })
                    })
                    .collect();
                serde_json::to_vec(&items).expect("batch json")
            }
        };
        builder
            .body(Full::new(Bytes::from(body)))
            .expect("valid request")
    }

    /// Records the answer to `unit`, whose latency counts from `t0_ns`.
    pub fn complete(&self, unit: usize, result: Result<(StatusCode, Bytes), String>, t0_ns: u64) {
        let done = now_ns();
        let pubs = &self.pubs;
        pubs.requests_sent.fetch_add(1, Relaxed);
        pubs.request_latency_ns[unit].store(done.saturating_sub(t0_ns) + 1, Relaxed);
        let messages = self.messages(unit);
        let count = messages.len();
        let (status, body) = match result {
            Ok(r) => r,
            Err(e) => return pubs.error(count, format!("request {unit}: {e}")),
        };
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return pubs.error(count, format!("request {unit}: {status} {text}"));
        }
        let ids: Vec<String> = match self.kind {
            Kind::Direct => Vec::new(),
            Kind::Publish => match serde_json::from_slice::<PublishAnswer>(&body) {
                Ok(a) => vec![a.message_id],
                Err(e) => return pubs.error(count, format!("request {unit}: bad answer: {e}")),
            },
            Kind::Batch(_) => match serde_json::from_slice::<Vec<PublishAnswer>>(&body) {
                Ok(a) if a.len() == count => a.into_iter().map(|a| a.message_id).collect(),
                Ok(a) => {
                    return pubs.error(
                        count,
                        format!("request {unit}: {} answers for {count} items", a.len()),
                    )
                }
                Err(e) => return pubs.error(count, format!("request {unit}: bad answer: {e}")),
            },
        };
        for (k, i) in messages.enumerate() {
            if let Some(id) = ids.get(k) {
                let _ = pubs.ids[i].set(id.as_str().into());
            }
            pubs.accept_ns[i].store(done, Relaxed);
        }
        pubs.accepted.fetch_add(count as u64, Relaxed);
    }
}

/// When a drive started and ended (harness ns) and how many requests it completed.
#[derive(Debug, Clone, Copy)]
pub struct Drive {
    pub start_ns: u64,
    pub end_ns: u64,
    pub requests: usize,
    /// Open loop: requests that started more than 1 ms after their scheduled time
    /// (the generator itself fell behind, or the concurrency cap was reached).
    pub late_starts: u64,
}

impl Drive {
    pub fn secs(&self) -> f64 {
        (self.end_ns.saturating_sub(self.start_ns)) as f64 / 1e9
    }
}

/// `connections` workers send the job's requests back to back until all are sent or
/// `deadline` passes.
pub async fn closed_loop(
    client: &Client,
    job: Arc<Job>,
    connections: usize,
    deadline: Option<Instant>,
) -> Drive {
    let next = Arc::new(AtomicUsize::new(0));
    let start_ns = now_ns();
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let (client, job, next) = (client.clone(), job.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let units = job.units();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let unit = next.fetch_add(1, Relaxed);
                if unit >= units {
                    break;
                }
                let t0 = now_ns();
                let result = send(&client, job.request(unit, t0)).await;
                job.complete(unit, result, t0);
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    Drive {
        start_ns,
        end_ns: now_ns(),
        requests: job.pubs.requests_sent.load(Relaxed) as usize,
        late_starts: 0,
    }
}

/// Schedules the job's requests at `rate` per second (all of them, or those scheduled
/// before `stop_after`), each from its own task, at most `cap` at once. The schedule is
/// kept by a dedicated thread sleeping with the OS timer (tokio's timer has 1 ms
/// granularity, which would add up to a millisecond of the generator's own lateness).
pub async fn open_loop(
    client: &Client,
    job: Arc<Job>,
    rate: f64,
    cap: usize,
    stop_after: Option<Duration>,
) -> Drive {
    let semaphore = Arc::new(Semaphore::new(cap.max(1)));
    let done = Arc::new(AtomicUsize::new(0));
    let late = Arc::new(AtomicU64::new(0));
    let start_ns = now_ns() + 1_000_000;
    let interval_ns = 1e9 / rate.max(1e-9);
    let handle = tokio::runtime::Handle::current();
    let scheduler = {
        let (client, job, done, late) = (client.clone(), job.clone(), done.clone(), late.clone());
        std::thread::spawn(move || {
            let mut spawned = 0usize;
            for unit in 0..job.units() {
                let scheduled = start_ns + (unit as f64 * interval_ns) as u64;
                if stop_after.is_some_and(|s| scheduled - start_ns > s.as_nanos() as u64) {
                    break;
                }
                let now = now_ns();
                if scheduled > now {
                    std::thread::sleep(Duration::from_nanos(scheduled - now));
                }
                let (client, job, semaphore, done, late) = (
                    client.clone(),
                    job.clone(),
                    semaphore.clone(),
                    done.clone(),
                    late.clone(),
                );
                handle.spawn(async move {
                    let _permit = semaphore.acquire_owned().await.expect("semaphore");
                    if now_ns() > scheduled + 1_000_000 {
                        late.fetch_add(1, Relaxed);
                    }
                    let result = send(&client, job.request(unit, scheduled)).await;
                    job.complete(unit, result, scheduled);
                    done.fetch_add(1, Relaxed);
                });
                spawned += 1;
            }
            spawned
        })
    };
    while !scheduler.is_finished() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let spawned = scheduler.join().unwrap_or(0);
    // Every request ends within REQUEST_TIMEOUT of starting; they start as permits free.
    let give_up = Instant::now() + REQUEST_TIMEOUT * 3;
    while done.load(Relaxed) < spawned && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Drive {
        start_ns,
        end_ns: now_ns(),
        requests: done.load(Relaxed),
        late_starts: late.load(Relaxed),
    }
}
