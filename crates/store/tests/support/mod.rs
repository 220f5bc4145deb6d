//! Fixtures and backends for the conformance suite.

#![allow(dead_code)]

use std::path::PathBuf;

use depesha_core::dlq::{dlq_id, DlqEntry};
use depesha_core::flow_control::FlowControl;
use depesha_core::flow_key::FlowKey;
use depesha_core::header_map::HeaderMap;
use depesha_core::log::{HttpResponse, LogEntry, LogState};
use depesha_core::message::{CallbackSpec, DeliveryOptions, Message, MessageState, Origin};
use depesha_core::queue::{Queue, QueueItem, QueuePosition};
use depesha_core::redact::Redaction;
use depesha_core::retry_delay::RetryDelay;
use depesha_core::schedule::Schedule;
use depesha_core::url_group::{Endpoint, UrlGroup};
use depesha_store::embedded::EmbeddedStore;
use depesha_store::{Guard, Store, Unit, UnitOutcome, Write};

/// A backend under test: something that can open (and reopen) one store, also from
/// another process.
pub trait Backend: Sized {
    type S: Store;

    /// A fresh, empty storage location.
    fn fresh() -> Self;

    /// Opens the store at this location. Each call is a new "process start": the
    /// caller drops the previous store first.
    fn open(&self) -> Self::S;

    /// A string that names this location, for a child process.
    fn location(&self) -> String;

    /// The backend at a location named by [`Backend::location`], without owning it.
    fn at(location: &str) -> Self;

    /// A fresh location on a small storage volume that can be filled up, when the
    /// environment provides one. The full-disk test is ignored unless asked for, and
    /// fails when asked for without one.
    fn on_small_disk() -> Option<Self>;
}

/// For the embedded backend: a directory on a small file system, e.g.
/// `mount -t tmpfs -o size=3m tmpfs /mnt/small`.
pub const SMALL_DISK_ENV: &str = "DEPESHA_CONFORMANCE_SMALL_DISK";

/// The embedded (redb) backend, in a temporary directory.
pub struct Embedded {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Backend for Embedded {
    type S = EmbeddedStore;

    fn fresh() -> Self {
        let temp = tempfile::tempdir().expect("temporary directory");
        Embedded {
            dir: temp.path().join("data"),
            _temp: Some(temp),
        }
    }

    fn open(&self) -> EmbeddedStore {
        EmbeddedStore::open(&self.dir).expect("open the embedded store")
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn at(location: &str) -> Self {
        Embedded {
            dir: PathBuf::from(location),
            _temp: None,
        }
    }

    fn on_small_disk() -> Option<Self> {
        let small = std::env::var_os(SMALL_DISK_ENV)?;
        let temp = tempfile::tempdir_in(small).expect("temporary directory on the small disk");
        Some(Embedded {
            dir: temp.path().join("data"),
            _temp: Some(temp),
        })
    }
}

/// A pending message with every optional field set, so round trips cover them all.
pub fn message(user: &str, id: &str, due: u64) -> Message {
    let mut headers = HeaderMap::new();
    headers.insert("Content-Type".into(), vec!["application/json".into()]);
    headers.insert("X-Two".into(), vec!["a".into(), "b".into()]);
    let callback_options = DeliveryOptions {
        method: Some("PUT".into()),
        headers: headers.clone(),
        retries: Some(2),
        retry_delay: Some(RetryDelay::parse("1000 * (1 + retried)").expect("valid expression")),
        timeout_ms: Some(5_000),
        delay_ms: Some(10),
        flow_control: None,
        callback: None,
        failure_callback: None,
    };
    Message {
        id: id.into(),
        user: user.into(),
        url: format!("https://example.com/hook/{id}?q=1"),
        topic_name: Some("topic".into()),
        endpoint_name: Some("endpoint".into()),
        queue_name: Some("queue".into()),
        schedule_id: None,
        method: "POST".into(),
        headers,
        body: format!("{{\"id\":\"{id}\"}}").into_bytes(),
        max_retries: 3,
        retried: 0,
        retry_delay: Some(RetryDelay::parse("pow(2, retried) * 100").expect("valid expression")),
        timeout_ms: Some(30_000),
        not_before: due,
        created_at: due,
        due,
        callback: Some(CallbackSpec {
            url: "https://example.com/callback".into(),
            options: callback_options,
        }),
        failure_callback: None,
        caller_ip: Some("10.0.0.1".into()),
        labels: vec!["first".into(), "second".into()],
        redaction: Redaction {
            body: true,
            all_headers: false,
            headers: vec!["authorization".into()],
        },
        flow_control: Some(FlowControl {
            key: "fc".into(),
            parallelism: Some(2),
            rate: None,
            period_secs: 1,
        }),
        dedup_id: None,
        origin: Origin::Callback {
            source_message_id: "msg_source".into(),
        },
        state: MessageState::Pending,
        expires_at: None,
        queue_item: None,
    }
}

/// `m` after its final, successful attempt.
pub fn delivered(mut m: Message, expires_at: u64) -> Message {
    m.state = MessageState::Delivered;
    m.retried += 1;
    m.expires_at = Some(expires_at);
    m
}

/// A message enqueued in `queue` at `position`, holding its own item, not yet let
/// through (its `due` is its `not_before`).
pub fn queued(
    user: &str,
    id: &str,
    queue: &str,
    position: QueuePosition,
    not_before: u64,
) -> Message {
    let mut m = message(user, id, not_before);
    m.state = MessageState::Queued;
    m.queue_name = Some(queue.into());
    m.queue_item = Some(QueueItem {
        queue: queue.into(),
        position,
    });
    m
}

/// A message waiting in flow-control key `key`'s wait-list at `due`.
pub fn waiting(user: &str, id: &str, key: &str, due: u64) -> Message {
    let mut m = message(user, id, due);
    m.state = MessageState::Waiting;
    m.flow_control = Some(FlowControl {
        key: key.into(),
        parallelism: Some(1),
        rate: Some(10),
        period_secs: 60,
    });
    m
}

pub fn position(enqueued_at: u64, seq: u64) -> QueuePosition {
    QueuePosition { enqueued_at, seq }
}

/// A group with named and unnamed endpoints and default headers.
pub fn group(user: &str, name: &str, now: u64) -> UrlGroup {
    let mut g = UrlGroup::new(user, name, now);
    g.endpoints = vec![
        Endpoint {
            name: Some("first".into()),
            url: format!("https://example.com/{name}/1"),
        },
        Endpoint {
            name: None,
            url: format!("https://example.com/{name}/2"),
        },
    ];
    g.default_headers = vec![("Upstash-Forward-X".into(), "y".into())];
    g
}

pub fn queue(user: &str, name: &str, parallelism: u32, paused: bool) -> Queue {
    let mut q = Queue::first_use(user, name, 5);
    q.parallelism = parallelism;
    q.paused = paused;
    q
}

pub fn flow_key(user: &str, key: &str, parallelism: Option<u32>) -> FlowKey {
    let mut k = FlowKey::new(user, key, 7);
    k.parallelism = parallelism;
    k.rate = Some(100);
    k.period_secs = 60;
    k.pinned_rate = true;
    k
}

/// A schedule with every optional field set.
pub fn schedule(user: &str, id: &str, next: u64, paused: bool) -> Schedule {
    Schedule {
        user: user.into(),
        id: id.into(),
        cron: "CRON_TZ=Europe/Berlin */5 * * * *".into(),
        destination: "https://example.com/tick".into(),
        headers: vec![
            ("Upstash-Retries".into(), "2".into()),
            ("Content-Type".into(), "text/plain".into()),
        ],
        body: b"tick".to_vec(),
        queue_name: Some("queue".into()),
        caller_ip: Some("10.0.0.2".into()),
        created_at: 1,
        paused,
        last_schedule_time: Some(next.saturating_sub(300_000)),
        next_schedule_time: next,
        last_message_ids: vec!["msg_last".into()],
        last_results: Vec::new(),
        error: Some("last tick failed".into()),
    }
}

pub fn dlq_entry(user: &str, failed_at: u64, seq: u64, expires_at: u64) -> DlqEntry {
    let id = dlq_id(failed_at, seq);
    DlqEntry {
        message: message(user, &format!("msg_{id}"), failed_at),
        response: Some(HttpResponse {
            status: 500,
            headers: HeaderMap::new(),
            body: b"boom".to_vec(),
        }),
        error: None,
        failed_at,
        expires_at,
        dlq_id: id,
    }
}

pub fn log(user: &str, message_id: &str, state: LogState, time: u64) -> LogEntry {
    LogEntry::for_message(&message(user, message_id, time), state, time)
}

/// A publish as the engine commits it: the message and its CREATED line, guarded by a
/// deduplication claim on its own id (so that a replay applying it twice would show).
pub fn claimed_publish(user: &str, id: &str, due: u64) -> Unit {
    Unit::guarded(
        Guard::ClaimDedup {
            user: user.into(),
            key: id.into(),
            message_ids: vec![id.into()],
            expires_at: u64::MAX,
        },
        vec![
            Write::PutMessage(message(user, id, due)),
            Write::AppendLog(log(user, id, LogState::Created, due)),
        ],
    )
}

/// A pending message with a 16 KiB body, to fill a small disk quickly.
pub fn large_message(user: &str, id: &str, due: u64) -> Message {
    let mut m = message(user, id, due);
    m.body = vec![b'x'; 16 * 1024];
    m
}

pub fn put(m: Message) -> Unit {
    Unit::new(vec![Write::PutMessage(m)])
}

/// Commits and asserts every unit applied.
pub async fn commit_all(store: &impl Store, units: Vec<Unit>) -> Vec<UnitOutcome> {
    let outcomes = store.commit(units).await.expect("commit");
    for outcome in &outcomes {
        assert!(
            matches!(outcome, UnitOutcome::Applied(_)),
            "not applied: {outcome:?}"
        );
    }
    outcomes
}
