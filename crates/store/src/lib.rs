//! # depesha-store
//!
//! Storage of Depesha as small traits, one per concern (messages, DLQ, logs, keys),
//! plus one write path: [`Store::commit`] applies a list of [`Unit`]s atomically and
//! durably. "Durably" is the product's promise: when `commit` returns `Ok`, the data
//! has been fsync'd and survives `kill -9` and power loss. Callers batch many units
//! into one commit (group commit) to reach throughput without skipping fsync.
//!
//! The traits are async (`async-trait`, so that `dyn Store` works), so that a network
//! backend's reads do not hold a runtime thread for a round trip; the embedded backend
//! answers inline, its reads taking microseconds.
//!
//! Backends: [`embedded::EmbeddedStore`] (redb, one file in the data directory).
//! The conformance suite in `tests/` runs against every backend.

pub mod embedded;
mod error;
mod unit;

pub use error::{Cause, StoreError, StoreResult};
pub use unit::{Applied, Guard, Rejection, Taken, Unit, UnitOutcome, Write};

use async_trait::async_trait;
use depesha_core::dlq::DlqEntry;
use depesha_core::filter::{Filter, Order};
use depesha_core::flow_key::FlowKey;
use depesha_core::keys::SigningKeys;
use depesha_core::log::LogEntry;
use depesha_core::message::Message;
use depesha_core::queue::{Queue, QueuePosition};
use depesha_core::refs::{FlowKeyRef, MessageId, MessageRef, QueueRef, ScheduleRef, UserId};
use depesha_core::schedule::Schedule;
use depesha_core::url_group::UrlGroup;
use depesha_core::UnixMillis;

/// A position in the due-time index: messages are delivered in `(due, user, id)`
/// order. The dispatcher pages through this index instead of scanning messages.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DueKey {
    pub due: UnixMillis,
    pub message: MessageRef,
}

impl DueKey {
    pub fn new(due: UnixMillis, user: impl Into<UserId>, id: impl Into<MessageId>) -> Self {
        DueKey {
            due,
            message: MessageRef::new(user, id),
        }
    }
}

/// One page of a listing, with the cursor of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Pending and recently delivered messages.
#[async_trait]
pub trait MessageStore {
    /// One message of `user`, pending or delivered-and-not-yet-pruned.
    async fn message(&self, user: &str, id: &str) -> StoreResult<Option<Message>>;

    /// Up to `limit` keys of pending messages with `due <= until`, in index order,
    /// strictly after `after` when given.
    async fn due(
        &self,
        after: Option<&DueKey>,
        until: UnixMillis,
        limit: usize,
    ) -> StoreResult<Vec<DueKey>>;

    /// Ids of `user`'s *unfinished* (pending, queued or waiting) messages that match
    /// `filter`, at most `limit`.
    async fn pending_ids(
        &self,
        user: &str,
        filter: &Filter,
        limit: usize,
    ) -> StoreResult<Vec<String>>;

    /// Number of pending messages (all users).
    async fn pending_count(&self) -> StoreResult<u64>;
}

/// Dead-letter entries.
#[async_trait]
pub trait DlqStore {
    async fn dlq_entry(&self, user: &str, dlq_id: &str) -> StoreResult<Option<DlqEntry>>;

    /// Entries of `user` matching `filter`; `cursor` is a `next_cursor` of an earlier
    /// page with the same order. Default order: earliest first.
    async fn dlq_page(
        &self,
        user: &str,
        filter: &Filter,
        cursor: Option<&str>,
        count: usize,
        order: Order,
    ) -> StoreResult<Page<DlqEntry>>;
}

/// The per-message state history.
#[async_trait]
pub trait LogStore {
    /// Log entries of `user` matching `filter`. Default order: latest first.
    async fn log_page(
        &self,
        user: &str,
        filter: &Filter,
        cursor: Option<&str>,
        count: usize,
        order: Order,
    ) -> StoreResult<Page<LogEntry>>;
}

/// Signing keys per user.
#[async_trait]
pub trait KeyStore {
    async fn keys(&self, user: &str) -> StoreResult<Option<SigningKeys>>;
}

/// URL groups.
#[async_trait]
pub trait GroupStore {
    async fn group(&self, user: &str, name: &str) -> StoreResult<Option<UrlGroup>>;
    /// All of `user`'s groups, by name.
    async fn groups(&self, user: &str) -> StoreResult<Vec<UrlGroup>>;
}

/// Queues and their items.
#[async_trait]
pub trait QueueStore {
    async fn queue(&self, user: &str, name: &str) -> StoreResult<Option<Queue>>;
    /// All of `user`'s queues, by name.
    async fn queues(&self, user: &str) -> StoreResult<Vec<Queue>>;
    /// Every queue of every user that has items (to let them through at start).
    async fn queues_with_items(&self) -> StoreResult<Vec<QueueRef>>;
    /// Number of unfinished items of a queue (its `lag`).
    async fn queue_lag(&self, user: &str, name: &str) -> StoreResult<u64>;
    /// The first `limit` items of a queue, in order: position and holder id.
    async fn queue_items(
        &self,
        user: &str,
        name: &str,
        limit: usize,
    ) -> StoreResult<Vec<(QueuePosition, String)>>;
}

/// Flow-control keys and their wait-lists.
#[async_trait]
pub trait FlowKeyStore {
    async fn flow_key(&self, user: &str, key: &str) -> StoreResult<Option<FlowKey>>;
    /// All of `user`'s keys, by key.
    async fn flow_keys(&self, user: &str) -> StoreResult<Vec<FlowKey>>;
    /// Number of messages in the key's wait-list, counting no further than `limit`
    /// (the engine only needs to know whether more wait than may start).
    async fn waiting_count(&self, user: &str, key: &str, limit: u64) -> StoreResult<u64>;
    /// Every key with a non-empty wait-list (to resume them at start).
    async fn keys_with_waiting(&self) -> StoreResult<Vec<FlowKeyRef>>;
}

/// Schedules.
#[async_trait]
pub trait ScheduleStore {
    async fn schedule(&self, user: &str, id: &str) -> StoreResult<Option<Schedule>>;
    /// All of `user`'s schedules, by id.
    async fn schedules(&self, user: &str) -> StoreResult<Vec<Schedule>>;
    /// Up to `limit` unpaused schedules whose next tick is `<= until`, with that
    /// tick, earliest first.
    async fn due_schedules(
        &self,
        until: UnixMillis,
        limit: usize,
    ) -> StoreResult<Vec<(UnixMillis, ScheduleRef)>>;
}

/// What [`Store::prune`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneStats {
    pub messages: u64,
    pub dlq_entries: u64,
    pub dedup_keys: u64,
    pub log_entries: u64,
}

/// Everything a backend can be asked, and nothing that changes it: what the engine
/// lends to the routes, so that every change goes through the engine's operations.
/// Every type with all the read traits has it (a backend implements those, not this).
pub trait StoreReads:
    MessageStore
    + DlqStore
    + LogStore
    + KeyStore
    + GroupStore
    + QueueStore
    + FlowKeyStore
    + ScheduleStore
{
}

impl<T> StoreReads for T where
    T: MessageStore
        + DlqStore
        + LogStore
        + KeyStore
        + GroupStore
        + QueueStore
        + FlowKeyStore
        + ScheduleStore
        + ?Sized
{
}

/// A complete backend: the reads, plus the one write path.
#[async_trait]
pub trait Store: StoreReads + Send + Sync + 'static {
    /// Applies `units` in order in one transaction and makes it durable before
    /// returning. Each unit is all-or-nothing: its guard is checked first (against the
    /// state left by the units before it) and, if it holds, all its writes are applied.
    /// Returns one outcome per unit. An `Err` means nothing was applied.
    ///
    /// Housekeeping the backend owes after a commit (the embedded store's checkpoint)
    /// is done before returning; [`Store::commit_deferred`] leaves it to the caller.
    async fn commit(&self, units: Vec<Unit>) -> StoreResult<Vec<UnitOutcome>> {
        let outcomes = self.commit_deferred(units).await?;
        // The commit is durable whatever the housekeeping does; a failed one has logged
        // why and is tried again by the next call.
        let _ = self.maintain().await;
        Ok(outcomes)
    }

    /// Like [`Store::commit`], as durable, but without the housekeeping that may
    /// follow a commit, so that a caller can answer whoever waits for the commit
    /// first and then call [`Store::maintain`].
    async fn commit_deferred(&self, units: Vec<Unit>) -> StoreResult<Vec<UnitOutcome>>;

    /// Does the housekeeping that has come due since the last call (the embedded
    /// store: a checkpoint, once the journal is long or old enough). An `Err` loses
    /// nothing committed; the next call tries again.
    async fn maintain(&self) -> StoreResult<()> {
        Ok(())
    }

    /// Removes what has expired by `now`: delivered messages past `expires_at`, DLQ
    /// entries past their retention, deduplication keys past their window, and log
    /// entries older than `logs_before`. Bounded work per call (`limit` rows per kind),
    /// so a large backlog is pruned over several calls without a long transaction.
    async fn prune(
        &self,
        now: UnixMillis,
        logs_before: UnixMillis,
        limit: usize,
    ) -> StoreResult<PruneStats>;

    /// Closes the store cleanly: waits for operations under way, then releases it.
    /// Every later call fails. Called at shutdown, so that the next start opens at
    /// once — the embedded backend otherwise repairs its file on the next open, which
    /// reads all of it.
    async fn close(&self) -> StoreResult<()>;
}
