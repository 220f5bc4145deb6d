//! What the engine's own tests share: an engine on a manual clock over an embedded
//! store in a temporary directory, publishing through the engine's operations, and a
//! tiny HTTP receiver on 127.0.0.1 that counts what arrives and can hold its answers.

#![allow(dead_code)] // each test file uses part of it

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use depesha_core::destination::Destination;
use depesha_core::publish::PublishLimits;
use depesha_core::UnixMillis;
use depesha_engine::{Engine, EngineConfig, ManualClock, PublishPolicy, PublishRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

pub const START: UnixMillis = 1_800_000_000_000;
pub const USER: &str = "u";

/// An engine on a manual clock that only moves when the test says so.
pub struct Harness {
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub fn start() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = depesha_store::embedded::EmbeddedStore::open(dir.path()).expect("store");
        let clock = Arc::new(ManualClock::new(START));
        let engine = Engine::start(Arc::new(store), clock.clone(), EngineConfig::default());
        Harness {
            engine,
            clock,
            _dir: dir,
        }
    }

    /// Publishes `body` to `url` with `headers` (into `queue`, when given); returns
    /// the message id.
    pub async fn publish(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        queue: Option<&str>,
        body: &str,
    ) -> String {
        let destination = Destination::Url(url.to_string());
        let request = PublishRequest {
            user: USER,
            destination: &destination,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            caller_ip: None,
            queue,
            schedule_id: None,
        };
        let policy = PublishPolicy {
            limits: PublishLimits::default(),
            dedup_window_ms: 600_000,
        };
        let plan = self
            .engine
            .plan(request, &policy)
            .await
            .expect("a valid publish");
        let accepted = self.engine.accept(vec![plan]).await.expect("accepted");
        accepted[0].receipts[0].message_id.clone()
    }

    /// Publishes `count` messages with bodies "0", "1", … in that order.
    pub async fn publish_numbered(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        queue: Option<&str>,
        count: usize,
    ) {
        for n in 0..count {
            self.publish(url, headers, queue, &n.to_string()).await;
        }
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// How long a test waits for something that should happen, in real time.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long a test watches for something that must not happen, in real time.
pub const QUIET: Duration = Duration::from_millis(400);

/// Waits until `check` holds, at most [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A local HTTP destination. Every request is answered `200` — at once, or, when
/// holding, once the test lets one answer go.
#[derive(Clone)]
pub struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
    open: Arc<AtomicUsize>,
    most_open: Arc<AtomicUsize>,
    answers: Arc<Semaphore>,
}

impl Receiver {
    /// Answers at once.
    pub async fn start() -> Receiver {
        Self::with_answers(Semaphore::MAX_PERMITS).await
    }

    /// Holds every answer until [`Receiver::answer`] lets it go.
    pub async fn holding() -> Receiver {
        Self::with_answers(0).await
    }

    async fn with_answers(permits: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let receiver = Receiver {
            port,
            bodies: Arc::default(),
            open: Arc::default(),
            most_open: Arc::default(),
            answers: Arc::new(Semaphore::new(permits)),
        };
        let serving = receiver.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serving.clone().serve(stream));
            }
        });
        receiver
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The bodies received so far, in arrival order.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Requests received and not yet answered.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// The most requests that were open at once.
    pub fn most_open(&self) -> usize {
        self.most_open.load(Ordering::SeqCst)
    }

    /// Lets `n` held answers go.
    pub fn answer(&self, n: usize) {
        self.answers.add_permits(n);
    }

    pub async fn wait_for(&self, count: usize) {
        eventually(&format!("{count} requests received"), || async {
            self.bodies().len() >= count
        })
        .await;
    }

    /// Waits for `count` requests, then watches a while that no more come.
    pub async fn settles_at(&self, count: usize, why_not: &str) {
        self.wait_for(count).await;
        tokio::time::sleep(QUIET).await;
        assert_eq!(self.bodies().len(), count, "{why_not}");
    }

    /// One request per connection: read it, count it, answer, close.
    async fn serve(self, mut stream: TcpStream) {
        let Some(body) = read_request(&mut stream).await else {
            return;
        };
        let now_open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_open.fetch_max(now_open, Ordering::SeqCst);
        if let Ok(mut bodies) = self.bodies.lock() {
            bodies.push(body);
        }
        if let Ok(permit) = self.answers.acquire().await {
            permit.forget();
        }
        self.open.fetch_sub(1, Ordering::SeqCst);
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        let _ = stream.write_all(answer).await;
        let _ = stream.shutdown().await;
    }
}

/// The body of one HTTP/1.1 request with a `content-length` (what the engine sends).
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&bytes, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let body_start = end + 4;
            while bytes.len() < body_start + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                bytes.extend_from_slice(&chunk[..n]);
            }
            let body = &bytes[body_start..body_start + length];
            return Some(String::from_utf8_lossy(body).into_owned());
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
