//! Shared harness of the integration tests: a real Depesha server on `127.0.0.1:0`
//! over an embedded store in a temporary directory, a real local HTTP receiver that
//! records what it gets and answers from a script, and an API client per user.
//!
//! Waiting is always done by polling with a generous timeout: a timeout here means
//! "it never happened", never "it was too slow".

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use depesha_core::keys::SigningKeys;
use depesha_engine::{Clock, ManualClock, SystemClock};
use depesha_server::{App, AppState, ServerConfig, UserConfig};
use depesha_store::embedded::EmbeddedStore;
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpListener;

/// How long any wait may take before the test gives up: "it never happened".
pub const WAIT: Duration = Duration::from_secs(10);

/// A fixed test user of the local dev server (spec §9).
#[derive(Debug, Clone, Copy)]
pub struct DevUser {
    pub id: &'static str,
    pub token: &'static str,
    pub current: &'static str,
    pub next: &'static str,
}

/// The four users of spec §9; `DEV_USERS[0]` is user 1 (the default user).
pub const DEV_USERS: [DevUser; 4] = [
    DevUser {
        id: "defaultUser",
        token: "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=",
        current: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
        next: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
    },
    DevUser {
        id: "testUser1",
        token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjEiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        current: "sig_7GVPjvuwsfqF65iC8fSrs1dfYruM",
        next: "sig_5NoELc3EFnZn4DVS5bDs2Nk4b7Ua",
    },
    DevUser {
        id: "testUser2",
        token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjIiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        current: "sig_6jWGaWRxHsw4vMSPJprXadyvrybF",
        next: "sig_7qHbvhmahe5GwfePDiS5Lg3pi6Qx",
    },
    DevUser {
        id: "testUser3",
        token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjMiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        current: "sig_5T8FcSsynBjn9mMLBsXhpacRovJf",
        next: "sig_7GFR4YaDshFcqsxWRZpRB161jguD",
    },
];

/// Dev user `n` of spec §9, counting from 1.
pub fn dev_user(n: usize) -> DevUser {
    DEV_USERS[n - 1]
}

pub fn dev_user_configs() -> Vec<UserConfig> {
    DEV_USERS
        .iter()
        .map(|u| UserConfig {
            id: u.id.to_string(),
            token: u.token.to_string(),
            keys: Some(SigningKeys {
                current: u.current.to_string(),
                next: u.next.to_string(),
            }),
        })
        .collect()
}

/// Unix milliseconds of the wall clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------

/// A change to the configuration, applied before the server starts.
type Tweak = Box<dyn FnOnce(&mut ServerConfig) + Send>;

/// How to start a server. Defaults: the four dev users, a fresh temporary data
/// directory, the system clock, and an engine with a 10 ms backoff unit.
pub struct ServerBuilder {
    users: Vec<UserConfig>,
    clock: Option<Arc<ManualClock>>,
    data_dir: Option<PathBuf>,
    tweaks: Vec<Tweak>,
}

impl ServerBuilder {
    pub fn users(mut self, users: Vec<UserConfig>) -> Self {
        self.users = users;
        self
    }

    /// Runs the engine on a manual clock that only moves when the test says so.
    pub fn manual_clock(mut self, clock: Arc<ManualClock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Uses `dir` as data directory (kept after the server is gone).
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_path_buf());
        self
    }

    /// Changes the configuration before the server starts.
    pub fn config(mut self, tweak: impl FnOnce(&mut ServerConfig) + Send + 'static) -> Self {
        self.tweaks.push(Box::new(tweak));
        self
    }

    pub async fn start(self) -> TestServer {
        let (tempdir, dir) = match self.data_dir {
            Some(dir) => (None, dir),
            None => {
                let t = tempfile::tempdir().expect("temporary data directory");
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let mut config = ServerConfig::new(self.users);
        config.engine.backoff.unit = Duration::from_millis(10);
        for tweak in self.tweaks {
            tweak(&mut config);
        }
        let store = Arc::new(open_store(&dir).await);
        let clock: Arc<dyn Clock> = match &self.clock {
            Some(c) => c.clone(),
            None => Arc::new(SystemClock),
        };
        let app = App::start(config, store.clone(), clock)
            .await
            .expect("server starts");
        let state = app.state.clone();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let _ = app.serve(listener).await;
        });
        TestServer {
            base: format!("http://{addr}"),
            addr,
            state,
            store,
            clock: self.clock,
            data_dir: dir,
            _tempdir: tempdir,
            task,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("HTTP client"),
        }
    }
}

/// Opens the embedded store, waiting a little if a server that was just dropped still
/// holds the file (its committer thread ends shortly after its runtime).
async fn open_store(dir: &Path) -> EmbeddedStore {
    let deadline = Instant::now() + WAIT;
    loop {
        match EmbeddedStore::open(dir) {
            Ok(store) => return store,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("could not open the store in {}: {e}", dir.display()),
        }
    }
}

/// A running server. Its tasks live on the test's runtime and end with it.
pub struct TestServer {
    pub base: String,
    pub addr: SocketAddr,
    pub state: AppState,
    /// The store the server runs on, as the test opened it: to read it, and for a
    /// test that must change it behind the engine's back.
    pub store: Arc<EmbeddedStore>,
    pub clock: Option<Arc<ManualClock>>,
    pub data_dir: PathBuf,
    _tempdir: Option<TempDir>,
    task: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            users: dev_user_configs(),
            clock: None,
            data_dir: None,
            tweaks: Vec::new(),
        }
    }

    /// A server with the four dev users and default test settings.
    pub async fn start() -> TestServer {
        Self::builder().start().await
    }

    /// The API as dev user `n` (1..=4) of spec §9.
    pub fn user(&self, n: usize) -> Api {
        self.api(dev_user(n).token)
    }

    /// The API with an arbitrary bearer token.
    pub fn api(&self, token: &str) -> Api {
        Api {
            base: self.base.clone(),
            token: Some(token.to_string()),
            http: self.http.clone(),
        }
    }

    /// The API without any token.
    pub fn anonymous(&self) -> Api {
        Api {
            base: self.base.clone(),
            token: None,
            http: self.http.clone(),
        }
    }

    /// The manual clock of this server (panics if it runs on the system clock).
    pub fn manual_clock(&self) -> &ManualClock {
        self.clock
            .as_deref()
            .expect("server started with a manual clock")
    }

    /// "Now" as the server sees it.
    pub fn now(&self) -> u64 {
        self.state.engine.clock().now()
    }
}

// ---------------------------------------------------------------------------------
// The API client
// ---------------------------------------------------------------------------------

/// A reply of the server (or of anything else).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body text when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "expected a JSON body ({e}); status {}, body {:?}",
                self.status,
                self.text()
            )
        })
    }

    /// Asserts a 2xx status and returns the JSON body.
    pub fn ok(&self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "expected a 2xx answer, got {} {}",
            self.status,
            self.text()
        );
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts `status` and a JSON `{"error": "<non-empty>"}` body; returns the message.
    pub fn error(&self, status: u16) -> String {
        assert_eq!(
            self.status,
            status,
            "expected status {status}, got {} {}",
            self.status,
            self.text()
        );
        let json = self.json();
        let message = json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("expected {{\"error\": string}}, got {json}"));
        assert!(!message.is_empty(), "error message is empty: {json}");
        message.to_string()
    }

    /// `messageId` of a publish answer.
    pub fn message_id(&self) -> String {
        let json = self.ok();
        json["messageId"]
            .as_str()
            .unwrap_or_else(|| panic!("no messageId in {json}"))
            .to_string()
    }
}

/// The `/v2` API as one user.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    pub http: reqwest::Client,
}

impl Api {
    /// A request to `path` (which starts with `/`), with the bearer token if any.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Reply {
        let response = rb.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("response body").to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    pub async fn delete_json(&self, path: &str, body: &Value) -> Reply {
        self.send(
            self.request(reqwest::Method::DELETE, path)
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut rb = self
            .request(reqwest::Method::POST, path)
            .body(body.to_string());
        for (name, value) in headers {
            rb = rb.header(*name, *value);
        }
        self.send(rb).await
    }

    /// `POST /v2/publish/{destination}` with the destination raw in the path.
    pub async fn publish(&self, destination: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.post(&format!("/v2/publish/{destination}"), headers, body)
            .await
    }

    /// Publishes and asserts success; returns the message id.
    pub async fn publish_ok(
        &self,
        destination: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> String {
        self.publish(destination, headers, body).await.message_id()
    }

    /// `POST /v2/batch` with a JSON body.
    pub async fn batch(&self, items: &Value) -> Reply {
        self.post(
            "/v2/batch",
            &[("Content-Type", "application/json")],
            &items.to_string(),
        )
        .await
    }

    /// `GET /v2/messages/{id}`.
    pub async fn message(&self, id: &str) -> Reply {
        self.get(&format!("/v2/messages/{id}")).await
    }

    /// `GET /v2/events?{query}` → the `events` array (asserting success).
    pub async fn events(&self, query: &str) -> Vec<Value> {
        let json = self.get(&format!("/v2/events?{query}")).await.ok();
        json["events"]
            .as_array()
            .unwrap_or_else(|| panic!("no events array in {json}"))
            .clone()
    }

    /// The states a message went through, earliest first.
    pub async fn states_of(&self, message_id: &str) -> Vec<String> {
        self.events(&format!(
            "messageId={message_id}&order=earliestFirst&count=1000"
        ))
        .await
        .iter()
        .map(|e| e["state"].as_str().unwrap_or_default().to_string())
        .collect()
    }

    /// Waits until the message's log shows `state`; returns all its states.
    pub async fn wait_for_state(&self, message_id: &str, state: &str) -> Vec<String> {
        let what = format!("message {message_id} reaching state {state}");
        eventually(&what, || async {
            let states = self.states_of(message_id).await;
            states.iter().any(|s| s == state).then_some(states)
        })
        .await
    }

    /// How many `CREATED` log lines this user has: a new message adds one.
    pub async fn created_count(&self) -> usize {
        self.events("state=CREATED&count=1000").await.len()
    }

    /// `GET /v2/dlq?{query}` (asserting success).
    pub async fn dlq(&self, query: &str) -> Value {
        self.get(&format!("/v2/dlq?{query}")).await.ok()
    }

    /// Waits for the DLQ entry of `message_id` and returns it.
    pub async fn wait_for_dlq_entry(&self, message_id: &str) -> Value {
        let what = format!("a DLQ entry for message {message_id}");
        eventually(&what, || async {
            let list = self.dlq("count=100").await;
            list["messages"]
                .as_array()
                .and_then(|m| m.iter().find(|e| e["messageId"] == message_id).cloned())
        })
        .await
    }

    /// `GET /v2/keys` → (current, next).
    pub async fn keys(&self) -> (String, String) {
        let json = self.get("/v2/keys").await.ok();
        (
            json["current"].as_str().expect("current key").to_string(),
            json["next"].as_str().expect("next key").to_string(),
        )
    }
}

// ---------------------------------------------------------------------------------
// The receiver
// ---------------------------------------------------------------------------------

/// One scripted answer of the receiver.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering (to provoke timeouts).
    pub delay: Duration,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn ok() -> Answer {
        Answer::status(200)
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: &str) -> Answer {
        self.body = body.as_bytes().to_vec();
        self
    }

    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }
}

/// A request the receiver got.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Path and query exactly as they arrived.
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
    /// When the receiver answered (its scripted delay over); `None` while it is still
    /// being answered.
    pub answered: Option<Instant>,
}

impl Recorded {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("delivery body is not JSON ({e}): {}", self.body_text()))
    }

    /// Checks `Upstash-Signature` against `key` and the spec §6 claims for a request
    /// sent to `url`; returns the claims.
    pub fn verify_signature(&self, key: &str, url: &str) -> Value {
        let token = self
            .header("upstash-signature")
            .unwrap_or_else(|| panic!("no Upstash-Signature on {}", self.path_and_query));
        let claims = depesha_core::jwt::verify(key, token)
            .unwrap_or_else(|| panic!("Upstash-Signature does not verify with key {key}"));
        assert_eq!(claims["iss"], "Upstash", "iss claim: {claims}");
        assert_eq!(claims["sub"], url, "sub claim: {claims}");
        assert_eq!(
            claims["body"],
            depesha_core::jwt::body_hash(&self.body),
            "body claim: {claims}"
        );
        assert_eq!(claims["nbf"], 0, "nbf claim: {claims}");
        let iat = claims["iat"].as_u64().expect("iat is a number");
        assert_eq!(claims["exp"].as_u64(), Some(iat + 300), "exp: {claims}");
        claims
    }
}

#[derive(Default)]
struct Script {
    queue: VecDeque<Answer>,
    otherwise: Option<Answer>,
}

#[derive(Default)]
struct ReceiverState {
    requests: Mutex<Vec<Recorded>>,
    scripts: Mutex<HashMap<String, Script>>,
}

/// A local HTTP server that records every request and answers per path: first the
/// scripted sequence, then the path's standing answer, else `200` with an empty body.
pub struct Receiver {
    pub base: String,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let router = axum::Router::new()
            .fallback(record)
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver {
            base: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// The absolute URL of `path_and_query` on this receiver.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// Answers the next requests to `path` with `answers`, in order.
    pub fn script(&self, path: &str, answers: Vec<Answer>) {
        let mut scripts = self.state.scripts.lock().expect("scripts");
        scripts
            .entry(path.to_string())
            .or_default()
            .queue
            .extend(answers);
    }

    /// Answers every request to `path` (after any scripted ones) with `answer`.
    pub fn always(&self, path: &str, answer: Answer) {
        let mut scripts = self.state.scripts.lock().expect("scripts");
        scripts.entry(path.to_string()).or_default().otherwise = Some(answer);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("requests").clone()
    }

    /// The requests so far whose path (without query) is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Waits until `path` got at least `n` requests; returns them all.
    pub async fn wait_for(&self, path: &str, n: usize) -> Vec<Recorded> {
        let what = format!("{n} request(s) to {path}");
        eventually(&what, || async {
            let got = self.requests_to(path);
            (got.len() >= n).then_some(got)
        })
        .await
    }

    /// The most requests to paths starting with `prefix` that were being answered at
    /// the same time, as the receiver saw it (from arrival to answer). A request that
    /// arrives at the very instant another was answered does not overlap it.
    pub fn max_concurrency(&self, prefix: &str) -> usize {
        let mut events: Vec<(Instant, i8)> = Vec::new();
        for r in self.requests() {
            if r.path.starts_with(prefix) {
                events.push((r.at, 1));
                if let Some(answered) = r.answered {
                    events.push((answered, -1));
                }
            }
        }
        // Ends before starts at equal instants.
        events.sort();
        let (mut now, mut max) = (0i64, 0i64);
        for (_, delta) in events {
            now += i64::from(delta);
            max = max.max(now);
        }
        usize::try_from(max).unwrap_or(0)
    }

    /// Waits for exactly one request to `path`, then makes sure no second one follows
    /// within `quiet` (deliveries that should happen once).
    pub async fn wait_for_exactly_one(&self, path: &str, quiet: Duration) -> Recorded {
        let first = self.wait_for(path, 1).await.remove(0);
        tokio::time::sleep(quiet).await;
        let all = self.requests_to(path);
        assert_eq!(all.len(), 1, "expected one request to {path}, got {all:#?}");
        first
    }
}

async fn record(State(state): State<Arc<ReceiverState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default()
        .to_vec();
    let path = parts.uri.path().to_string();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let index = {
        let mut requests = state.requests.lock().expect("requests");
        requests.push(Recorded {
            method: parts.method.to_string(),
            path: path.clone(),
            path_and_query,
            headers: parts.headers,
            body,
            at: Instant::now(),
            answered: None,
        });
        requests.len() - 1
    };
    let answer = {
        let mut scripts = state.scripts.lock().expect("scripts");
        scripts
            .get_mut(&path)
            .and_then(|s| s.queue.pop_front().or_else(|| s.otherwise.clone()))
            .unwrap_or_else(Answer::ok)
    };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    state.requests.lock().expect("requests")[index].answered = Some(Instant::now());
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).expect("valid status");
    for (name, value) in answer.headers {
        response.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(&value).expect("header value"),
        );
    }
    response
}

/// A `http://127.0.0.1:<port>` URL where nothing listens (connection refused).
pub async fn refused_url(path: &str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}{path}")
}

// ---------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------

/// Polls `check` until it gives `Some`, for at most [`WAIT`]; panics naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() > deadline {
            panic!("gave up waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A short real-time pause, used to let the engine act on something it should *not*
/// act on (paired with a control that it did act on in the same time).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Ids of a JSON array of objects, by `field`.
pub fn ids_of(items: &Value, field: &str) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {items}"))
        .iter()
        .map(|i| i[field].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Runs `f` on a runtime of its own, shut down before returning: a server started in
/// it is gone afterwards, as after a restart.
pub fn on_own_runtime<T, F, Fut>(f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let out = runtime.block_on(f());
        runtime.shutdown_timeout(Duration::from_secs(5));
        out
    })
    .join()
    .expect("no panic on the server's runtime")
}
