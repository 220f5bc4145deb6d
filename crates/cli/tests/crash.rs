//! Crash test: a message answered with 2xx is never lost, not by `kill -9`, not by a
//! restart.
//!
//! One run of the real `depesha dev` binary over one data directory, killed twice:
//!
//! 1. An in-process receiver counts every delivery per `Upstash-Message-Id` and checks
//!    its `Upstash-Signature` (key, `iss`, `sub`, body hash) and that the body is the
//!    one published to that URL.
//! 2. Phase A: 32 clients publish; once a third of the target is accepted (2xx), the
//!    server is killed with SIGKILL while publishes and deliveries are in flight.
//!    Publishes that failed are not "accepted": they may or may not have been stored.
//! 3. Restart on the same data directory; publishing goes on until 5,000 are accepted.
//!    Meanwhile the receiver holds its answers (a closed gate), so deliveries pile up:
//!    a full in-flight window waits in the receiver, the rest stays pending.
//! 4. Phase B: the receiver answers again, slowly (100 ms each); once it has answered
//!    half of the accepted messages, SIGKILL again, with a couple of hundred deliveries
//!    in flight and a couple of thousand messages pending.
//! 5. Restart. Every accepted message must be delivered; every delivery cut by the
//!    second kill must be sent again; every accepted message must be logged
//!    `DELIVERED` (`GET /v2/events`); no delivery may fail its signature check.
//!
//! "Delivered" is strict: the receiver must have *answered* 200 to a live server. A
//! delivery the receiver was still working on when its server died does not count (the
//! server never saw the answer and owes a redelivery). An answer given within
//! [`KILL_GRACE`] before a kill may or may not have reached the server; such a message
//! counts as delivered only when it is answered again later or the server's log says
//! `DELIVERED` (which it only writes after reading a 2xx). Duplicates are allowed
//! (at-least-once) and reported.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::net::TcpListener as StdTcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::any;
use axum::Router;
use depesha_core::jwt;
use serde_json::{json, Value};
use tokio::sync::watch;

/// Dev user 1 (spec §9).
const TOKEN: &str = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";
const SIGNING_KEY: &str = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";

/// Publishes answered 2xx over the whole run.
const TARGET_ACCEPTED: usize = 5000;
/// Concurrent publishing clients.
const PUBLISHERS: usize = 32;
/// `DEPESHA_MAX_IN_FLIGHT` of the server.
const MAX_IN_FLIGHT: usize = 256;
/// How long the receiver sleeps before answering in phase B.
const SLOW_RECEIVER_MS: u64 = 100;
/// An answer finished this close before a kill may not have reached the server.
const KILL_GRACE: Duration = Duration::from_millis(250);
/// Ids per `GET /v2/events?messageIds=…` query.
const LOG_BATCH: usize = 100;

/// Bounds of each phase; the test fails (with diagnostics) rather than hang.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(60);
const PHASE_B_TIMEOUT: Duration = Duration::from_secs(60);
const FINAL_TIMEOUT: Duration = Duration::from_secs(60);
const LOG_TIMEOUT: Duration = Duration::from_secs(15);
const WHOLE_TEST_TIMEOUT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------
// The receiver.

/// One 200 the receiver finished sending.
struct Answer {
    /// Started and finished while the same server lived, with no kill under way.
    clean: bool,
    /// When the handler finished.
    at: Instant,
}

#[derive(Default)]
struct Seen {
    /// Correctly signed requests per message id: the epoch each arrived in.
    arrivals: HashMap<String, Vec<u64>>,
    /// Answers per message id.
    answers: HashMap<String, Vec<Answer>>,
    /// Every request, good or bad.
    total: u64,
    /// Requests that failed a check.
    bad: u64,
    bad_examples: Vec<String>,
}

struct Receiver {
    port: u16,
    /// While closed, requests wait before answering.
    gate: watch::Sender<bool>,
    /// Sleep before answering.
    delay_ms: AtomicU64,
    /// Bumped after each kill, once the killed server is reaped.
    epoch: AtomicU64,
    /// Set from just before a kill until its epoch is bumped.
    killing: AtomicBool,
    /// When each kill started.
    kills: Mutex<Vec<Instant>>,
    seen: Mutex<Seen>,
}

impl Receiver {
    /// Whether `answer` was surely handed to a live server.
    fn certain(&self, answer: &Answer, kills: &[Instant]) -> bool {
        answer.clean
            && !kills
                .iter()
                .any(|k| *k >= answer.at && k.duration_since(answer.at) < KILL_GRACE)
    }

    /// Ids with at least one answer surely handed to a live server.
    fn certainly_answered(&self) -> HashSet<String> {
        let kills = lock(&self.kills).clone();
        let seen = lock(&self.seen);
        seen.answers
            .iter()
            .filter(|(_, answers)| answers.iter().any(|a| self.certain(a, &kills)))
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn begin_kill(&self) {
        self.killing.store(true, SeqCst);
        lock(&self.kills).push(Instant::now());
    }

    fn end_kill(&self) {
        self.epoch.fetch_add(1, SeqCst);
        self.killing.store(false, SeqCst);
    }
}

async fn start_receiver() -> Arc<Receiver> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let port = listener.local_addr().expect("receiver address").port();
    let receiver = Arc::new(Receiver {
        port,
        gate: watch::Sender::new(true),
        delay_ms: AtomicU64::new(0),
        epoch: AtomicU64::new(0),
        killing: AtomicBool::new(false),
        kills: Mutex::new(Vec::new()),
        seen: Mutex::new(Seen::default()),
    });
    let app = Router::new()
        .route("/deliver", any(deliver))
        .with_state(receiver.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("receiver stopped: {e}");
        }
    });
    receiver
}

async fn deliver(
    State(r): State<Arc<Receiver>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let started_epoch = r.epoch.load(SeqCst);
    let checked = check_delivery(r.port, &uri, &headers, &body);
    let id = {
        let mut seen = lock(&r.seen);
        seen.total += 1;
        match checked {
            Ok(id) => {
                seen.arrivals
                    .entry(id.clone())
                    .or_default()
                    .push(started_epoch);
                Some(id)
            }
            Err(problem) => {
                seen.bad += 1;
                if seen.bad_examples.len() < 10 {
                    seen.bad_examples.push(format!("{uri}: {problem}"));
                }
                None
            }
        }
    };
    // Closed only while no kill is planned; `wait_for` fails only if the sender is gone.
    let _ = r.gate.subscribe().wait_for(|open| *open).await;
    let delay = r.delay_ms.load(SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some(id) = id {
        let clean = !r.killing.load(SeqCst) && r.epoch.load(SeqCst) == started_epoch;
        lock(&r.seen).answers.entry(id).or_default().push(Answer {
            clean,
            at: Instant::now(),
        });
    }
    StatusCode::OK
}

/// Checks a delivery's signature and body; returns its message id.
fn check_delivery(
    port: u16,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let id = header("upstash-message-id").ok_or("no Upstash-Message-Id")?;
    let token = header("upstash-signature").ok_or("no Upstash-Signature")?;
    let claims = jwt::verify(SIGNING_KEY, token).ok_or("the signature does not verify")?;
    let sub = format!(
        "http://127.0.0.1:{port}{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("")
    );
    if claims["iss"] != "Upstash" {
        return Err(format!("iss is {}", claims["iss"]));
    }
    if claims["sub"].as_str() != Some(sub.as_str()) {
        return Err(format!("sub is {}, expected {sub}", claims["sub"]));
    }
    if claims["body"].as_str() != Some(jwt::body_hash(body).as_str()) {
        return Err("the body hash claim does not match the body".into());
    }
    let n = uri
        .query()
        .and_then(|q| q.strip_prefix("n="))
        .and_then(|n| n.parse::<u64>().ok());
    let i = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["i"].as_u64());
    if n.is_none() || n != i {
        return Err(format!("body i = {i:?} for query n = {n:?}"));
    }
    Ok(id.to_string())
}

// ---------------------------------------------------------------------------------
// The server process.

/// A running `depesha dev`; killed (SIGKILL) and reaped when dropped.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    /// Starts `depesha dev` over `data_dir` on a free port and waits until it answers.
    async fn start(data_dir: &Path, log: PathBuf, client: &reqwest::Client) -> Server {
        let mut last_error = String::new();
        for attempt in 0..5 {
            let log = if attempt == 0 {
                log.clone()
            } else {
                log.with_extension(format!("retry{attempt}.log"))
            };
            let port = free_port();
            let out = File::create(&log).expect("create the server log");
            let err = out.try_clone().expect("clone the server log handle");
            let mut command = Command::new(env!("CARGO_BIN_EXE_depesha"));
            // Hermetic: no inherited setting. (Not even `DEPESHA_LOG`, the log filter:
            // the settings loader reads every `DEPESHA_*` variable and rejects it as an
            // unknown field.)
            for (name, _) in std::env::vars_os() {
                if name.to_string_lossy().starts_with("DEPESHA_") {
                    command.env_remove(name);
                }
            }
            let child = command
                .arg("dev")
                .arg("--port")
                .arg(port.to_string())
                .arg("--data-dir")
                .arg(data_dir)
                .env("DEPESHA_MAX_IN_FLIGHT", MAX_IN_FLIGHT.to_string())
                .env("DEPESHA_BACKOFF_UNIT_MS", "20")
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("spawn depesha");
            let mut server = Server {
                child,
                base: format!("http://127.0.0.1:{port}"),
                log,
            };
            match server.wait_ready(client).await {
                Ok(()) => return server,
                Err(e) => {
                    last_error = format!("{e}\n{}", tail(&server.log, 20));
                    eprintln!("server start attempt {attempt} failed: {last_error}");
                }
            }
        }
        panic!("the server did not start: {last_error}");
    }

    async fn wait_ready(&mut self, client: &reqwest::Client) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("depesha exited with {status}"));
            }
            let answer = client
                .get(format!("{}/v2/keys", self.base))
                .bearer_auth(TOKEN)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if matches!(&answer, Ok(r) if r.status() == StatusCode::OK) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after {READY_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, then reap.
    fn kill9(&mut self) {
        // `Child::kill` sends SIGKILL on Unix.
        self.child.kill().expect("SIGKILL the server");
        let status = self.child.wait().expect("reap the server");
        assert!(!status.success(), "the killed server exited cleanly");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdTcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port")
        .port()
}

/// The last `lines` lines of a log file.
fn tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let all: Vec<&str> = text.lines().collect();
    let from = all.len().saturating_sub(lines);
    format!("--- {} ---\n{}", path.display(), all[from..].join("\n"))
}

// ---------------------------------------------------------------------------------
// The publishers.

struct Publishing {
    /// Base URL of the live server.
    base: RwLock<String>,
    receiver_port: u16,
    next_n: AtomicU64,
    /// Accepted message id → `n`.
    accepted: Mutex<HashMap<String, u64>>,
    accepted_count: AtomicUsize,
    /// Publishes that errored or were answered non-2xx (not accepted).
    failed: AtomicUsize,
    /// Non-2xx statuses seen, by code.
    statuses: Mutex<BTreeMap<u16, usize>>,
    /// A message id answered twice for different publishes.
    id_collisions: AtomicUsize,
    deadline: Instant,
}

async fn publisher(p: Arc<Publishing>, client: reqwest::Client) {
    while p.accepted_count.load(SeqCst) < TARGET_ACCEPTED && Instant::now() < p.deadline {
        let n = p.next_n.fetch_add(1, SeqCst);
        let base = p.base.read().expect("base lock").clone();
        let url = format!(
            "{base}/v2/publish/http://127.0.0.1:{}/deliver?n={n}",
            p.receiver_port
        );
        let answer = client
            .post(url)
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(json!({ "i": n }).to_string())
            .send()
            .await;
        let id = match answer {
            Ok(r) if r.status().is_success() => r
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| v["messageId"].as_str().map(str::to_owned)),
            Ok(r) => {
                *lock(&p.statuses).entry(r.status().as_u16()).or_default() += 1;
                None
            }
            Err(_) => None,
        };
        match id {
            Some(id) => {
                if lock(&p.accepted).insert(id, n).is_some() {
                    p.id_collisions.fetch_add(1, SeqCst);
                }
                p.accepted_count.fetch_add(1, SeqCst);
            }
            None => {
                p.failed.fetch_add(1, SeqCst);
                // The server is down or restarting: do not spin.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Logs.

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let answer = client
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = answer.status();
    let body = answer.text().await.map_err(|e| format!("GET {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET /v2/events answered {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET /v2/events: {e} in {body}"))
}

/// Which of `ids` have a `DELIVERED` entry in the server's logs.
async fn logged_delivered(
    client: &reqwest::Client,
    base: &str,
    ids: &[String],
) -> Result<HashSet<String>, String> {
    let mut delivered = HashSet::new();
    for batch in ids.chunks(LOG_BATCH) {
        let wanted: HashSet<&str> = batch.iter().map(String::as_str).collect();
        let mut query: Vec<String> = batch.iter().map(|id| format!("messageIds={id}")).collect();
        query.push("state=DELIVERED".into());
        query.push("count=1000".into());
        let query = query.join("&");
        let mut cursor: Option<String> = None;
        for page in 0.. {
            if page == 100 {
                return Err(format!(
                    "more than 100 pages of logs for {} ids",
                    batch.len()
                ));
            }
            let url = match &cursor {
                Some(c) => format!("{base}/v2/events?{query}&cursor={c}"),
                None => format!("{base}/v2/events?{query}"),
            };
            let body = get_json(client, &url).await?;
            let events = body["events"]
                .as_array()
                .ok_or_else(|| format!("no events array in {body}"))?;
            for event in events {
                if let Some(id) = event["messageId"].as_str() {
                    if event["state"] == "DELIVERED" && wanted.contains(id) {
                        delivered.insert(id.to_string());
                    }
                }
            }
            cursor = match &body["cursor"] {
                Value::String(c) => Some(c.clone()),
                Value::Number(c) => Some(c.to_string()),
                _ => None,
            };
            if cursor.is_none() {
                break;
            }
        }
    }
    Ok(delivered)
}

/// The states logged for message `id`, oldest first, for diagnostics.
async fn logged_states(client: &reqwest::Client, base: &str, id: &str) -> String {
    let url = format!("{base}/v2/events?messageId={id}&order=earliestFirst&count=1000");
    match get_json(client, &url).await {
        Ok(body) => match body["events"].as_array() {
            Some(events) => events
                .iter()
                .map(|e| e["state"].as_str().unwrap_or("?"))
                .collect::<Vec<_>>()
                .join(","),
            None => body.to_string(),
        },
        Err(e) => format!("({e})"),
    }
}

// ---------------------------------------------------------------------------------

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accepted_messages_survive_kill_9() {
    tokio::time::timeout(WHOLE_TEST_TIMEOUT, crash_test())
        .await
        .expect("the crash test hit its overall time limit");
}

async fn crash_test() {
    let t0 = Instant::now();
    let say = |what: String| println!("[{:>6.2}s] {what}", t0.elapsed().as_secs_f64());
    let tmp = tempfile::Builder::new()
        .prefix("depesha-crash-")
        .tempdir()
        .expect("temp dir");
    let data_dir = tmp.path().join("data");
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(PUBLISHERS * 2)
        .build()
        .expect("http client");
    let mut failures: Vec<String> = Vec::new();

    let receiver = start_receiver().await;
    let mut server = Server::start(&data_dir, tmp.path().join("server-1.log"), &client).await;
    let mut logs = vec![server.log.clone()];
    say(format!(
        "server 1 at {}, receiver on port {}, data in {}",
        server.base,
        receiver.port,
        data_dir.display()
    ));

    // Phase A: kill while publishing (and delivering, the receiver answers at once).
    let publishing = Arc::new(Publishing {
        base: RwLock::new(server.base.clone()),
        receiver_port: receiver.port,
        next_n: AtomicU64::new(0),
        accepted: Mutex::new(HashMap::new()),
        accepted_count: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        statuses: Mutex::new(BTreeMap::new()),
        id_collisions: AtomicUsize::new(0),
        deadline: Instant::now() + PUBLISH_TIMEOUT,
    });
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|_| tokio::spawn(publisher(publishing.clone(), client.clone())))
        .collect();
    let a_deadline = Instant::now() + PUBLISH_TIMEOUT;
    while publishing.accepted_count.load(SeqCst) < TARGET_ACCEPTED / 3 {
        assert!(
            Instant::now() < a_deadline,
            "phase A: only {} publishes accepted in {PUBLISH_TIMEOUT:?}\n{}",
            publishing.accepted_count.load(SeqCst),
            tail(&server.log, 30)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    receiver.begin_kill();
    server.kill9();
    receiver.end_kill();
    let answered_a = receiver.certainly_answered().len();
    say(format!(
        "phase A: SIGKILL with {} accepted of {} attempts, {answered_a} answered by the receiver",
        publishing.accepted_count.load(SeqCst),
        publishing.next_n.load(SeqCst),
    ));

    // Restart and finish publishing; the receiver holds its answers meanwhile, so
    // deliveries pile up: a slot-full in flight, the rest pending in the store.
    receiver.gate.send_replace(false);
    receiver.delay_ms.store(SLOW_RECEIVER_MS, SeqCst);
    drop(server);
    server = Server::start(&data_dir, tmp.path().join("server-2.log"), &client).await;
    logs.push(server.log.clone());
    *publishing.base.write().expect("base lock") = server.base.clone();
    say(format!("server 2 at {}", server.base));
    for handle in publishers {
        handle.await.expect("a publisher panicked");
    }
    let accepted: HashMap<String, u64> = lock(&publishing.accepted).clone();
    say(format!(
        "publishing done: {} accepted, {} failed, {} attempts",
        accepted.len(),
        publishing.failed.load(SeqCst),
        publishing.next_n.load(SeqCst),
    ));
    assert!(
        accepted.len() >= TARGET_ACCEPTED,
        "only {} publishes accepted within {PUBLISH_TIMEOUT:?}\n{}",
        accepted.len(),
        tail(&server.log, 30)
    );

    // Phase B: kill while delivering, once half of the accepted messages are answered.
    receiver.gate.send_replace(true);
    let half = accepted.len() / 2;
    let b_deadline = Instant::now() + PHASE_B_TIMEOUT;
    loop {
        let answered = receiver
            .certainly_answered()
            .iter()
            .filter(|id| accepted.contains_key(*id))
            .count();
        if answered >= half {
            break;
        }
        assert!(
            Instant::now() < b_deadline,
            "phase B: only {answered} of {} accepted messages answered in {PHASE_B_TIMEOUT:?}\n{}",
            accepted.len(),
            tail(&server.log, 30)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    receiver.begin_kill();
    server.kill9();
    let in_flight_at_b: Vec<String> = {
        let seen = lock(&receiver.seen);
        seen.arrivals
            .iter()
            .filter(|(id, epochs)| seen.answers.get(*id).map_or(0, Vec::len) < epochs.len())
            .map(|(id, _)| id.clone())
            .collect()
    };
    receiver.end_kill();
    let answered_b = {
        let seen = lock(&receiver.seen);
        accepted
            .keys()
            .filter(|id| seen.answers.contains_key(*id))
            .count()
    };
    say(format!(
        "phase B: SIGKILL with {} deliveries in flight; {answered_b} accepted messages answered, {} not yet",
        in_flight_at_b.len(),
        accepted.len() - answered_b
    ));

    // Final restart: every accepted message must be delivered.
    receiver.delay_ms.store(0, SeqCst);
    drop(server);
    let server = Server::start(&data_dir, tmp.path().join("server-3.log"), &client).await;
    logs.push(server.log.clone());
    say(format!("server 3 at {}", server.base));

    // Ids whose only answers came around a kill count when the server logged them
    // DELIVERED (it got the 200) — or when they are delivered again.
    let mut confirmed_by_log: HashSet<String> = HashSet::new();
    let mut log_errors: Vec<String> = Vec::new();
    let final_deadline = Instant::now() + FINAL_TIMEOUT;
    let missing: Vec<String> = loop {
        let answered = receiver.certainly_answered();
        let unanswered: Vec<String> = accepted
            .keys()
            .filter(|id| !answered.contains(*id) && !confirmed_by_log.contains(*id))
            .cloned()
            .collect();
        // Answered to a live server, but too close to a kill to be sure it got there. (An
        // answer finished after a kill began surely did not: those never count.)
        let uncertain: Vec<String> = {
            let seen = lock(&receiver.seen);
            unanswered
                .iter()
                .filter(|id| {
                    seen.answers
                        .get(*id)
                        .is_some_and(|a| a.iter().any(|a| a.clean))
                })
                .cloned()
                .collect()
        };
        if !uncertain.is_empty() {
            match logged_delivered(&client, &server.base, &uncertain).await {
                Ok(delivered) => confirmed_by_log.extend(delivered),
                Err(e) => log_errors.push(e),
            }
        }
        let unanswered: Vec<String> = unanswered
            .into_iter()
            .filter(|id| !confirmed_by_log.contains(id))
            .collect();
        if unanswered.is_empty() || Instant::now() > final_deadline {
            break unanswered;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    say(format!(
        "final: {} accepted ids undelivered; {} counted through their DELIVERED log only",
        missing.len(),
        confirmed_by_log.len()
    ));
    if !missing.is_empty() {
        let mut sorted: Vec<&String> = missing.iter().collect();
        sorted.sort_by_key(|id| accepted[*id]);
        let mut report = Vec::new();
        for id in sorted.iter().take(50) {
            let (arrivals, answers) = {
                let seen = lock(&receiver.seen);
                let kills = lock(&receiver.kills).clone();
                let answers: Vec<&str> = seen.answers.get(*id).map_or(Vec::new(), |a| {
                    a.iter()
                        .map(|a| match (a.clean, receiver.certain(a, &kills)) {
                            (_, true) => "certain",
                            (true, false) => "just before a kill",
                            (false, _) => "after its server died",
                        })
                        .collect()
                });
                (seen.arrivals.get(*id).cloned().unwrap_or_default(), answers)
            };
            report.push(format!(
                "  {id} (n={}): arrived from servers {arrivals:?} (0-based), answered {answers:?}; logged states: {}",
                accepted[*id],
                logged_states(&client, &server.base, id).await
            ));
        }
        failures.push(format!(
            "{} accepted messages were never delivered: {:?}\nthe first 50 by n:\n{}\nlog query errors: {:?}",
            missing.len(),
            sorted,
            report.join("\n"),
            log_errors.iter().take(3).collect::<Vec<_>>()
        ));
    }

    // The logs survived the crashes: every accepted message is logged DELIVERED (the
    // queries are cheap enough to check them all, not just a sample).
    let mut sample: HashSet<String> = accepted
        .keys()
        .filter(|id| !missing.contains(id))
        .cloned()
        .collect();
    let sample_size = sample.len();
    let log_started = Instant::now();
    let log_deadline = log_started + LOG_TIMEOUT;
    for pass in 1.. {
        let ids: Vec<String> = sample.iter().cloned().collect();
        match logged_delivered(&client, &server.base, &ids).await {
            Ok(delivered) => sample.retain(|id| !delivered.contains(id)),
            Err(e) => log_errors.push(e),
        }
        // A last commit may lag its answer: always look twice before failing.
        if sample.is_empty() || (pass >= 2 && Instant::now() > log_deadline) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    say(format!(
        "logs: {} of {sample_size} accepted ids logged DELIVERED ({:.1}s)",
        sample_size - sample.len(),
        log_started.elapsed().as_secs_f64()
    ));
    if !sample.is_empty() {
        let mut lines = Vec::new();
        for id in sample.iter().take(20) {
            lines.push(format!(
                "  {id} (n={}): {}",
                accepted[id],
                logged_states(&client, &server.base, id).await
            ));
        }
        failures.push(format!(
            "{} of {sample_size} delivered messages have no DELIVERED log entry (errors: {:?}):\n{}",
            sample.len(),
            log_errors.iter().take(3).collect::<Vec<_>>(),
            lines.join("\n")
        ));
    }

    // Summary.
    let seen = lock(&receiver.seen);
    let delivered = accepted.len() - missing.len();
    let arrived = accepted
        .keys()
        .filter(|id| seen.arrivals.contains_key(*id))
        .count();
    let twice = seen.arrivals.values().filter(|e| e.len() > 1).count();
    let deliveries: usize = seen.arrivals.values().map(Vec::len).sum();
    // A delivery cut by the second kill never got its answer to the server: the
    // restarted server must send it again, accepted publish or not.
    let final_epoch = receiver.epoch.load(SeqCst);
    let not_resent: Vec<&String> = in_flight_at_b
        .iter()
        .filter(|id| !seen.arrivals[*id].contains(&final_epoch))
        .collect();
    if !not_resent.is_empty() {
        failures.push(format!(
            "{} of the {} deliveries cut by the second kill were not sent again after the restart: {:?}",
            not_resent.len(),
            in_flight_at_b.len(),
            not_resent.iter().take(20).collect::<Vec<_>>()
        ));
    }
    let unacknowledged = seen
        .arrivals
        .keys()
        .filter(|id| !accepted.contains_key(*id))
        .count();
    if seen.bad > 0 {
        failures.push(format!(
            "{} deliveries failed the signature or body checks, e.g. {:?}",
            seen.bad, seen.bad_examples
        ));
    }
    let collisions = publishing.id_collisions.load(SeqCst);
    if collisions > 0 {
        failures.push(format!(
            "{collisions} message ids were answered for two different publishes"
        ));
    }
    println!(
        "crash test: {} accepted, {delivered} delivered, {twice} delivered more than once",
        accepted.len()
    );
    println!(
        "crash test: {arrived} accepted ids reached the receiver, {} through their log only; \
         {} deliveries cut by the 2nd kill, {} not re-sent; {deliveries} deliveries of {} ids \
         ({} requests, {} bad signatures); {unacknowledged} delivered ids had a failed publish; \
         {} publishes failed (non-2xx: {:?}); {:.1}s",
        confirmed_by_log.len(),
        in_flight_at_b.len(),
        not_resent.len(),
        seen.arrivals.len(),
        seen.total,
        seen.bad,
        publishing.failed.load(SeqCst),
        lock(&publishing.statuses),
        t0.elapsed().as_secs_f64()
    );
    drop(seen);

    drop(server);
    if !failures.is_empty() {
        for log in &logs {
            eprintln!("{}", tail(log, 40));
        }
        let kept = tmp.keep();
        panic!(
            "crash test failed (data dir and server logs kept in {}):\n{}",
            kept.display(),
            failures.join("\n")
        );
    }
}
