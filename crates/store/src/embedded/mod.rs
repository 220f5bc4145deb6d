//! The embedded backend: one [redb](https://www.redb.org) file, `depesha.redb`, in the
//! data directory.
//!
//! # Durability
//!
//! Every [`Store::commit`] is one redb write transaction, made durable by the store's
//! write-ahead journal (`journal.rs`, the file `depesha.journal` beside the database):
//! the units are applied in a transaction committed with [`redb::Durability::None`],
//! but only after their record was appended to the journal and fsync'd. When `commit`
//! returns `Ok`, the record is on disk; readers never see a commit before that. A
//! durable redb commit rewrites and fsyncs every page the transaction touched, a fixed
//! ~1.5 ms per commit on the development machine, against ~0.1–0.3 ms for one journal
//! append (see BENCHMARKS.md).
//!
//! A *checkpoint* — a durable redb commit — is made by [`Store::maintain`] (which
//! [`Store::commit`] calls, and the engine's committer calls after answering a
//! commit's callers) once the journal holds [`StoreOptions::checkpoint_bytes`] (1 MiB)
//! or [`StoreOptions::checkpoint_interval`] (10 s) has passed; then the journal starts
//! again from its beginning. The checkpoint writes every page redb buffered since the
//! last one and holds its single writer meanwhile, so its pause grows with the
//! journal: ~3 ms at 1 MiB, 50–110 ms after 10 s at 5,000 msg/s (BENCHMARKS.md).
//!
//! `meta.journal_lsn` holds the LSN of the last commit applied, written in every
//! transaction (so whichever durable commit comes next — a checkpoint, a prune, a
//! fallback — records which commits it made durable), so on open the records above the LSN of redb's durable state are
//! applied again, in order, in one durable transaction (applying is deterministic:
//! guards and writes depend only on the stored state and the units). Prune commits
//! durably by itself, which is a checkpoint too (its deletes are not journaled, and
//! must never be lost behind a journaled commit that relied on them). A clean close
//! makes a last checkpoint, so a restart after SIGTERM has nothing to replay.
//!
//! redb is copy-on-write with checksummed commit slots, so after `kill -9` or power
//! loss the file reopens at the last durable commit and the journal brings it to the
//! last acknowledged commit. Every durable commit records redb's allocator state
//! ("quick repair", `commit::make_durable`), so that first open loads it instead of
//! walking the whole file to rebuild it: restart after a crash costs the journal's
//! replay, not the store's size. A failed write (full disk, I/O error) aborts the
//! transaction: nothing of that commit is applied. When the journal cannot take a
//! record (a full disk), the commit falls back to a durable redb commit, which may
//! still fit in the database's free pages; when replaying after a crash cannot be
//! made durable (a full disk again), the replayed commits are applied without
//! durability and stay in the journal, so reads keep working.
//!
//! After a failed write or fsync, redb refuses all further work on that handle
//! ("previous I/O error"). The store then closes and reopens the file by itself (the
//! failing call still returns `Io`; a read is retried once on the new handle, a commit
//! is not, since its caller decides about retries) and replays the journal, so a full
//! disk heals as soon as space is freed, without restarting the server. Only durable
//! commits (checkpoints, prunes, that fallback) can leave redb in that state, and after
//! one failed the store tries none until space comes back (`space.rs`): on a full disk
//! a write the journal cannot take then fails at once, without a reopen, and reads go
//! on. [`EmbeddedStore::recoveries`] counts the reopens and full repairs. The directory
//! is fsync'd after the file is created, so a new data file's directory entry survives
//! power loss too.
//!
//! Stored values, and the journal's payload, are the store's own record types
//! (`stored/`, postcard), converted from and to the domain types: a change to a domain
//! type does not change the file format. The format has a version (`meta.format`);
//! opening a file of an earlier version upgrades it, one newer than this build is
//! refused (`upgrade/`).
//!
//! # Layout
//!
//! Keys are bytes; numbers in keys are big-endian so byte order is numeric order, and
//! user-scoped keys start with `user \0` so one user's rows are one contiguous range
//! (user names never contain NUL). See `tables.rs` for the exact key encodings and
//! `codec.rs` for values.
//!
//! | table            | key                                   | value                          |
//! |------------------|---------------------------------------|--------------------------------|
//! | `messages`       | `user \0 id`                          | 23-byte index header ++ `MessageV1` |
//! | `due`            | `due BE ++ user \0 id`                | `()`                           |
//! | `message_expiry` | `expires_at BE ++ user \0 id`         | `()`                           |
//! | `dlq`            | `user \0 failed_at BE ++ seq BE`      | `DlqEntryV1`                   |
//! | `dlq_expiry`     | `expires_at BE ++ <dlq key>`          | `()`                           |
//! | `logs`           | `user \0 seq BE`                      | `time BE ++ LogEntryV1`        |
//! | `dedup`          | `user \0 dedup-key`                   | `DedupClaimV1`                 |
//! | `dedup_expiry`   | `expires_at BE ++ <dedup key>`        | `()`                           |
//! | `keys`           | `user` (str)                          | `SigningKeysV1`                |
//! | `groups`         | `user \0 name`                        | `UrlGroupV1`                   |
//! | `queues`         | `user \0 name`                        | `QueueV1`                      |
//! | `queue_items`    | `user \0 queue \0 enqueued_at BE ++ seq BE` | holder message id (UTF-8) |
//! | `flow_keys`      | `user \0 key`                         | `FlowKeyV1`                    |
//! | `flow_wait`      | `user \0 flow-key \0 due BE ++ id`    | `()`                           |
//! | `schedules`      | `user \0 id`                          | `ScheduleV1`                   |
//! | `schedule_due`   | `next_schedule_time BE ++ user \0 id` | `()`                           |
//! | `meta`           | name (str)                            | `u64` (`log_seq`, `journal_lsn`, `format`) |
//!
//! Why these indexes:
//!
//! * `due` holds exactly the pending messages, keyed in `(due, user, id)` order, so the
//!   dispatcher's [`MessageStore::due`] is a range scan that touches only due rows, and
//!   [`MessageStore::pending_count`] is its length (O(1) in redb). `PutMessage` moves
//!   the key when `due` or the state changes; deletes and takes remove it. Every key a
//!   unit's writes set in `due` — every `PutMessage` of a pending message (also one
//!   that leaves its key where it was), `FillQueue`, `ReleaseWaiting` — is reported
//!   once in its outcome's `became_due`, unless a later write of the same unit
//!   removed it again.
//! * `flow_wait` holds exactly the waiting messages, one contiguous range per
//!   flow-control key in `(due, id)` order: `ReleaseWaiting` takes the head of the
//!   range, [`FlowKeyStore::waiting_count`] counts it. It is kept in step by the same
//!   message writes as `due` (a waiting message's key is in its body, so moving a
//!   message *out* of waiting decodes the stored version — the only write that does).
//! * `queue_items` is each queue's line, one contiguous range per queue in position
//!   order: `FillQueue` reads its first `parallelism` items, `queue_lag` counts it.
//!   Items are written explicitly (`PutQueueItem`, `DeleteQueueItem`); a queued
//!   message itself is in no index until `FillQueue` makes it pending.
//! * `queues_with_items` and `keys_with_waiting` list the distinct `(user, name)`
//!   prefixes of `queue_items` / `flow_wait` with one seek per pair, skipping over the
//!   rest of each pair's range rather than reading it.
//! * `schedule_due` holds exactly the unpaused schedules at their next tick, so
//!   [`ScheduleStore::due_schedules`] is a range scan up to `until`.
//! * `message_expiry`, `dlq_expiry` and `dedup_expiry` let prune find what has expired
//!   with one range scan up to `now`, instead of scanning everything.
//! * The message value starts with a fixed header (state, retried, due, expires_at) so
//!   that upserts, guards, `pending_ids` and prune never decode bodies they don't need.
//! * Log `seq` comes from the `log_seq` counter in `meta`, written in the same
//!   transaction as the entries, so it never goes back, even after a crash. It is
//!   global (shared by all users): per user it is increasing, with gaps.
//! * `meta.format` records the format version (`upgrade/`); an earlier one is
//!   upgraded on open, a newer one refused instead of misread.
//!
//! # Guards and their choices
//!
//! Guards run inside the commit's write transaction, in unit order, so they see what
//! earlier units of the same commit wrote.
//!
//! * `ClaimDedup`: a stored claim is live for as long as it is stored. `commit` has no
//!   clock, so it cannot tell an expired claim from a live one; [`Store::prune`] removes
//!   claims once `expires_at <= now`. A deduplication window therefore lasts up to one
//!   prune interval longer than asked — never shorter.
//! * `TakePendingMessage` holds for an unfinished (pending, queued or waiting) message;
//!   `TakeDlq` for an existing entry. Both remove the row and its index entries (due
//!   index, wait-list, expiry) and return it. A taken message's queue item stays: the
//!   cancel unit deletes it with its own `DeleteQueueItem`.
//! * `MessageAt` holds when the message exists, is pending and `retried` matches.
//! * `ScheduleAt` holds when the schedule exists, is not paused and its stored
//!   `next_schedule_time` is the guard's; it changes nothing itself (the unit's
//!   `PutSchedule` moves the tick, after which the same guard no longer holds).
//!
//! A `PutMessage` of a waiting message without a flow-control key, or a queue name /
//! flow-control key containing NUL in `PutQueueItem` / a waiting message, fails the
//! whole commit (caller bugs, reported as `Corrupt`; see `tables.rs`).
//!
//! A `PutDlq` whose `dlq_id` is not `"<failed_at>-<seq>"` fails the whole commit (a
//! caller bug, reported as `Corrupt`); reads and `TakeDlq` treat such ids as absent.
//!
//! # Cursors
//!
//! `next_cursor` is the key of the next item to return — the lookahead match found
//! after the page was full — so a page starts at its cursor inclusively. DLQ cursors
//! are DLQ ids (`"1725323658779-0"`), log cursors are decimal seqs. It is `None` on the
//! last page. A cursor that does not parse is [`StoreError::InvalidCursor`].
//!
//! # Expiry and reads
//!
//! Reads have no clock either: a delivered message, DLQ entry or claim past its
//! `expires_at` stays readable until prune removes it.

mod codec;
mod commit;
mod flow;
mod journal;
mod prune;
mod queues;
mod reads;
mod records;
mod recoveries;
mod schedules;
mod space;
mod stored;
mod tables;
mod upgrade;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use depesha_core::dlq::DlqEntry;
use depesha_core::filter::{Filter, Order};
use depesha_core::flow_key::FlowKey;
use depesha_core::keys::SigningKeys;
use depesha_core::log::LogEntry;
use depesha_core::message::Message;
use depesha_core::queue::{Queue, QueuePosition};
use depesha_core::schedule::Schedule;
use depesha_core::url_group::UrlGroup;
use depesha_core::UnixMillis;
use redb::Database;

use crate::{
    DlqStore, DueKey, FlowKeyStore, GroupStore, KeyStore, LogStore, MessageStore, Page, PruneStats,
    QueueStore, ScheduleStore, Store, StoreError, StoreResult, Unit, UnitOutcome,
};
use codec::io;
use journal::Journal;
pub use recoveries::Recoveries;
use recoveries::RecoveryCounters;
use space::DurableGate;
pub use upgrade::FORMAT_VERSION;

/// The data file's name inside the data directory.
pub const FILE_NAME: &str = "depesha.redb";
pub use journal::FILE_NAME as JOURNAL_FILE_NAME;

/// How long a reopen waits for in-flight operations on the failed database to end.
const REOPEN_WAIT: Duration = Duration::from_secs(30);

/// Tuning of the embedded store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Memory for redb's page cache. redb's own default is 1 GiB, which a small
    /// server would mostly spend on pages of messages delivered long ago; the hot part
    /// of the store (the due index, recent messages, the newest logs) is far smaller.
    /// Pages written since the last checkpoint are held in the same budget.
    pub cache_bytes: usize,
    /// A checkpoint (a durable redb commit, after which the journal starts again) is
    /// made after the first commit once this much time has passed since the last
    /// one...
    pub checkpoint_interval: Duration,
    /// ...or once the journal holds this many bytes. Together they bound the work of
    /// replaying the journal after a crash; the size also bounds how long a checkpoint
    /// holds up the commits behind it.
    pub checkpoint_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_bytes: 64 * 1024 * 1024,
            checkpoint_interval: Duration::from_secs(10),
            checkpoint_bytes: 1024 * 1024,
        }
    }
}

/// The redb backend. Share it behind an `Arc`: reads run concurrently (MVCC
/// snapshots), commits are serialized by redb.
///
/// After a failed write or fsync (a full disk, say) redb refuses all further work
/// until the database is reopened. The store does that by itself: the failing call
/// returns `Io`, the database is closed and reopened (recovering the last completed
/// commit), and later calls work again once space is available.
pub struct EmbeddedStore {
    dir: PathBuf,
    path: PathBuf,
    options: StoreOptions,
    db: RwLock<Slot>,
    /// Where the next log prune resumes (a key bound in the `logs` table).
    log_prune_cursor: Mutex<Vec<u8>>,
    /// Whether durable commits may be tried (shut after one failed on a full disk).
    durable_gate: DurableGate,
    counters: RecoveryCounters,
}

/// The open database and its journal.
struct Opened {
    db: Database,
    journal: Mutex<Journal>,
}

impl Opened {
    /// The journal, for a commit or a checkpoint (one at a time).
    fn journal(&self) -> StoreResult<std::sync::MutexGuard<'_, Journal>> {
        self.journal
            .lock()
            .map_err(|_| StoreError::Io("journal lock poisoned".into()))
    }
}

/// The open database and how many times it has been (re)opened.
struct Slot {
    generation: u64,
    db: Option<Arc<Opened>>,
    /// Closed for good (shutdown): no reopening.
    closed: bool,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (or creates) `dir/depesha.redb`, creating `dir` when missing. Reopening
    /// after a crash recovers the last completed commit. Fails when another process
    /// (or another `EmbeddedStore` in this one) has the file open.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        EmbeddedStore::open_with(dir, StoreOptions::default())
    }

    /// Opens (or creates) the store in `dir` with the given tuning.
    pub fn open_with(dir: &Path, options: StoreOptions) -> StoreResult<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
        let path = dir.join(FILE_NAME);
        let counters = RecoveryCounters::default();
        let db = open_database(dir, &path, &options, &counters)?;
        // Make the new file's directory entry (and the directory's) durable too.
        sync_dir(dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        Ok(EmbeddedStore {
            dir: dir.to_path_buf(),
            path,
            options,
            db: RwLock::new(Slot {
                generation: 0,
                db: Some(Arc::new(db)),
                closed: false,
            }),
            log_prune_cursor: Mutex::new(Vec::new()),
            durable_gate: DurableGate::new(dir),
            counters,
        })
    }

    /// The data file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How often the store had to recover itself since it was opened.
    pub fn recoveries(&self) -> Recoveries {
        self.counters.snapshot()
    }

    /// Runs `op` on the current database. When it fails because redb needs a reopen,
    /// reopens, and retries once if `retry` (reads only: a failed commit may not be
    /// replayed blindly, its caller decides).
    fn with<T>(
        &self,
        retry: bool,
        mut op: impl FnMut(&Database) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.with_opened(retry, |opened| op(&opened.db))
    }

    /// [`EmbeddedStore::with`] for operations that need the journal too.
    fn with_opened<T>(
        &self,
        retry: bool,
        mut op: impl FnMut(&Opened) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let (generation, db) = self.current()?;
        let result = op(&db);
        drop(db);
        match result {
            Err(e) if codec::needs_reopen(&e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "reopening the database after an I/O error");
                if let Err(reopen) = self.reopen(generation) {
                    tracing::error!(path = %self.path.display(), error = %reopen, "could not reopen the database");
                    return Err(e);
                }
                if retry {
                    let (_, db) = self.current()?;
                    op(&db)
                } else {
                    Err(e)
                }
            }
            other => other,
        }
    }

    fn current(&self) -> StoreResult<(u64, Arc<Opened>)> {
        {
            let slot = self
                .db
                .read()
                .map_err(|_| StoreError::Io("database lock poisoned".into()))?;
            if let Some(db) = &slot.db {
                return Ok((slot.generation, Arc::clone(db)));
            }
            if slot.closed {
                return Err(StoreError::Io(
                    format!("{} is closed", self.path.display()).into(),
                ));
            }
        }
        // The last reopen failed: try again.
        let generation = self.db.read().map(|s| s.generation).unwrap_or(0);
        self.reopen(generation)?;
        let slot = self
            .db
            .read()
            .map_err(|_| StoreError::Io("database lock poisoned".into()))?;
        match &slot.db {
            Some(db) => Ok((slot.generation, Arc::clone(db))),
            None => Err(StoreError::Io(
                format!("{} is not open", self.path.display()).into(),
            )),
        }
    }

    /// Closes and reopens the database, unless someone already did since `generation`.
    fn reopen(&self, generation: u64) -> StoreResult<()> {
        let mut slot = self
            .db
            .write()
            .map_err(|_| StoreError::Io("database lock poisoned".into()))?;
        if slot.closed {
            return Err(StoreError::Io(
                format!("{} is closed", self.path.display()).into(),
            ));
        }
        if slot.generation != generation && slot.db.is_some() {
            return Ok(());
        }
        // redb allows one open handle per file: wait for in-flight operations on the old
        // one (they fail fast, it refuses all work) before closing it.
        if let Some(mut old) = slot.db.take() {
            let deadline = Instant::now() + REOPEN_WAIT;
            loop {
                match Arc::try_unwrap(old) {
                    Ok(db) => {
                        drop(db);
                        break;
                    }
                    Err(still_shared) if Instant::now() < deadline => {
                        old = still_shared;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(still_shared) => {
                        slot.db = Some(still_shared);
                        return Err(StoreError::Io(
                            "database still in use; reopen postponed".into(),
                        ));
                    }
                }
            }
        }
        slot.generation += 1;
        self.counters.reopened();
        slot.db = Some(Arc::new(open_database(
            &self.dir,
            &self.path,
            &self.options,
            &self.counters,
        )?));
        Ok(())
    }
}

impl EmbeddedStore {
    /// Waits (up to [`REOPEN_WAIT`]) for operations under way, then drops the
    /// database: redb writes its allocator state on a clean close, so the next open
    /// needs no repair.
    pub(crate) fn close_database(&self) -> StoreResult<()> {
        let mut slot = self
            .db
            .write()
            .map_err(|_| StoreError::Io("database lock poisoned".into()))?;
        slot.closed = true;
        let Some(mut db) = slot.db.take() else {
            return Ok(());
        };
        let deadline = Instant::now() + REOPEN_WAIT;
        loop {
            match Arc::try_unwrap(db) {
                Ok(db) => {
                    drop(db);
                    return Ok(());
                }
                Err(still_shared) if Instant::now() < deadline => {
                    db = still_shared;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => {
                    return Err(StoreError::Io(
                        "the database was still in use at shutdown; the next open will repair it"
                            .into(),
                    ))
                }
            }
        }
    }
}

/// Opens the database and its journal, and applies the journaled commits the
/// database's last durable state lacks (after a crash).
fn open_database(
    dir: &Path,
    path: &Path,
    options: &StoreOptions,
    counters: &RecoveryCounters,
) -> StoreResult<Opened> {
    let in_file = |e| match e {
        StoreError::Io(cause) => StoreError::Io(cause.within(path.display())),
        StoreError::Corrupt(cause) => StoreError::Corrupt(cause.within(path.display())),
        other => other,
    };
    let db = open_file(path, options, counters)?;
    init(&db).map_err(in_file)?;
    let (mut journal, records) = Journal::open(dir)?;
    let durable = commit::applied_lsn(&db).map_err(in_file)?;
    let missing = missing_commits(&records, durable).map_err(in_file)?;
    let Some(last) = missing.last().map(|(lsn, _)| *lsn) else {
        journal.restart(durable);
        return Ok(Opened {
            db,
            journal: Mutex::new(journal),
        });
    };
    tracing::info!(
        commits = missing.len(),
        "the store was not closed cleanly; applying the journal's last commits again"
    );
    let db = match commit::replay(&db, &missing, true) {
        Ok(()) => {
            journal.restart(last);
            db
        }
        // No room to make them durable in the database (a full disk): apply them
        // without durability, so they can be read, and keep them in the journal.
        Err(e) if codec::needs_reopen(&e) => {
            tracing::warn!("could not write the replayed commits to the database ({e}); keeping them in the journal");
            drop(db);
            let db = open_file(path, options, counters)?;
            commit::replay(&db, &missing, false).map_err(in_file)?;
            journal.resume(&records);
            db
        }
        Err(e) => return Err(in_file(e)),
    };
    Ok(Opened {
        db,
        journal: Mutex::new(journal),
    })
}

fn open_file(
    path: &Path,
    options: &StoreOptions,
    counters: &RecoveryCounters,
) -> StoreResult<Database> {
    redb::Builder::new()
        .set_cache_size(options.cache_bytes)
        .set_repair_callback(counters.repair_callback())
        .create(path)
        .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))
}

/// The journal's commits above `durable` (the database's last durable commit),
/// decoded, in order. They must continue `durable` without a gap.
fn missing_commits(
    records: &[journal::Record],
    durable: u64,
) -> StoreResult<Vec<(u64, Vec<Unit>)>> {
    let missing: Vec<&journal::Record> = records.iter().filter(|r| r.lsn > durable).collect();
    if let Some(first) = missing.first() {
        if first.lsn != durable + 1 {
            return Err(StoreError::Corrupt(
                format!(
                    "the journal ({}) continues at commit {} but the database ends at commit \
                 {durable}: they are not from the same data directory. Put back the pair \
                 that belongs together, or move the journal away to start from the \
                 database alone (losing the commits only the journal holds)",
                    journal::FILE_NAME,
                    first.lsn
                )
                .into(),
            ));
        }
    }
    missing
        .into_iter()
        .map(|r| Ok((r.lsn, codec::decode::<Vec<Unit>>(&r.payload)?)))
        .collect()
}

fn sync_dir(dir: &Path) -> StoreResult<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("syncing {}", dir.display()), e))
}

/// Creates every table (so reads never meet a missing one) and checks the format.
/// Commits (durably) only when that changed something: an open on a full disk must not
/// fail for a commit with nothing in it.
fn init(db: &Database) -> StoreResult<()> {
    let mut txn = db.begin_write().map_err(io)?;
    commit::make_durable(&mut txn)?;
    let tables_before = txn.list_tables().map_err(io)?.count();
    {
        txn.open_table(tables::MESSAGES).map_err(io)?;
        txn.open_table(tables::DUE).map_err(io)?;
        txn.open_table(tables::MESSAGE_EXPIRY).map_err(io)?;
        txn.open_table(tables::DLQ).map_err(io)?;
        txn.open_table(tables::DLQ_EXPIRY).map_err(io)?;
        txn.open_table(tables::LOGS).map_err(io)?;
        txn.open_table(tables::DEDUP).map_err(io)?;
        txn.open_table(tables::DEDUP_EXPIRY).map_err(io)?;
        txn.open_table(tables::KEYS).map_err(io)?;
        txn.open_table(tables::GROUPS).map_err(io)?;
        txn.open_table(tables::QUEUES).map_err(io)?;
        txn.open_table(tables::QUEUE_ITEMS).map_err(io)?;
        txn.open_table(tables::FLOW_KEYS).map_err(io)?;
        txn.open_table(tables::FLOW_WAIT).map_err(io)?;
        txn.open_table(tables::SCHEDULES).map_err(io)?;
        txn.open_table(tables::SCHEDULE_DUE).map_err(io)?;
        txn.open_table(tables::META).map_err(io)?;
    }
    let changed = upgrade::upgrade(&txn)?;
    let changed = changed || txn.list_tables().map_err(io)?.count() != tables_before;
    if changed {
        txn.commit().map_err(io)
    } else {
        txn.abort().map_err(io)
    }
}

impl MessageStore for EmbeddedStore {
    fn message(&self, user: &str, id: &str) -> StoreResult<Option<Message>> {
        self.with(true, |db| reads::message(db, user, id))
    }

    fn due(
        &self,
        after: Option<&DueKey>,
        until: UnixMillis,
        limit: usize,
    ) -> StoreResult<Vec<DueKey>> {
        self.with(true, |db| reads::due(db, after, until, limit))
    }

    fn pending_ids(&self, user: &str, filter: &Filter, limit: usize) -> StoreResult<Vec<String>> {
        self.with(true, |db| reads::pending_ids(db, user, filter, limit))
    }

    fn pending_count(&self) -> StoreResult<u64> {
        self.with(true, reads::pending_count)
    }
}

impl DlqStore for EmbeddedStore {
    fn dlq_entry(&self, user: &str, dlq_id: &str) -> StoreResult<Option<DlqEntry>> {
        self.with(true, |db| reads::dlq_entry(db, user, dlq_id))
    }

    fn dlq_page(
        &self,
        user: &str,
        filter: &Filter,
        cursor: Option<&str>,
        count: usize,
        order: Order,
    ) -> StoreResult<Page<DlqEntry>> {
        self.with(true, |db| {
            reads::dlq_page(db, user, filter, cursor, count, order)
        })
    }
}

impl LogStore for EmbeddedStore {
    fn log_page(
        &self,
        user: &str,
        filter: &Filter,
        cursor: Option<&str>,
        count: usize,
        order: Order,
    ) -> StoreResult<Page<LogEntry>> {
        self.with(true, |db| {
            reads::log_page(db, user, filter, cursor, count, order)
        })
    }
}

impl KeyStore for EmbeddedStore {
    fn keys(&self, user: &str) -> StoreResult<Option<SigningKeys>> {
        self.with(true, |db| reads::keys(db, user))
    }
}

impl GroupStore for EmbeddedStore {
    fn group(&self, user: &str, name: &str) -> StoreResult<Option<UrlGroup>> {
        self.with(true, |db| records::record(db, tables::GROUPS, user, name))
    }

    fn groups(&self, user: &str) -> StoreResult<Vec<UrlGroup>> {
        self.with(true, |db| records::records(db, tables::GROUPS, user))
    }
}

impl QueueStore for EmbeddedStore {
    fn queue(&self, user: &str, name: &str) -> StoreResult<Option<Queue>> {
        self.with(true, |db| records::record(db, tables::QUEUES, user, name))
    }

    fn queues(&self, user: &str) -> StoreResult<Vec<Queue>> {
        self.with(true, |db| records::records(db, tables::QUEUES, user))
    }

    fn queues_with_items(&self) -> StoreResult<Vec<(String, String)>> {
        self.with(true, queues::queues_with_items)
    }

    fn queue_lag(&self, user: &str, name: &str) -> StoreResult<u64> {
        self.with(true, |db| queues::queue_lag(db, user, name))
    }

    fn queue_items(
        &self,
        user: &str,
        name: &str,
        limit: usize,
    ) -> StoreResult<Vec<(QueuePosition, String)>> {
        self.with(true, |db| queues::queue_items(db, user, name, limit))
    }
}

impl FlowKeyStore for EmbeddedStore {
    fn flow_key(&self, user: &str, key: &str) -> StoreResult<Option<FlowKey>> {
        self.with(true, |db| records::record(db, tables::FLOW_KEYS, user, key))
    }

    fn flow_keys(&self, user: &str) -> StoreResult<Vec<FlowKey>> {
        self.with(true, |db| records::records(db, tables::FLOW_KEYS, user))
    }

    fn waiting_count(&self, user: &str, key: &str, limit: u64) -> StoreResult<u64> {
        self.with(true, |db| flow::waiting_count(db, user, key, limit))
    }

    fn keys_with_waiting(&self) -> StoreResult<Vec<(String, String)>> {
        self.with(true, flow::keys_with_waiting)
    }
}

impl ScheduleStore for EmbeddedStore {
    fn schedule(&self, user: &str, id: &str) -> StoreResult<Option<Schedule>> {
        self.with(true, |db| records::record(db, tables::SCHEDULES, user, id))
    }

    fn schedules(&self, user: &str) -> StoreResult<Vec<Schedule>> {
        self.with(true, |db| records::records(db, tables::SCHEDULES, user))
    }

    fn due_schedules(
        &self,
        until: UnixMillis,
        limit: usize,
    ) -> StoreResult<Vec<(UnixMillis, String, String)>> {
        self.with(true, |db| schedules::due_schedules(db, until, limit))
    }
}

impl Store for EmbeddedStore {
    fn commit_deferred(&self, units: Vec<Unit>) -> StoreResult<Vec<UnitOutcome>> {
        let mut units = Some(units);
        self.with_opened(false, |opened| {
            let mut journal = opened.journal()?;
            commit::commit(
                &opened.db,
                &mut journal,
                &self.durable_gate,
                units.take().unwrap_or_default(),
            )
        })
    }

    fn maintain(&self) -> StoreResult<()> {
        self.with_opened(false, |opened| {
            let mut journal = opened.journal()?;
            let due = journal.len() >= self.options.checkpoint_bytes
                || journal.since_restart() >= self.options.checkpoint_interval;
            if !due || journal.len() == 0 {
                return Ok(());
            }
            // After a checkpoint failed on a full disk, the next one waits until space
            // comes back: trying it now would fail again, and make the store reopen.
            // The journal keeps every commit meanwhile.
            // It writes the pages of what the journal holds, with the B-tree pages
            // around them: up to about twice the journal's size, as measured.
            if !self.durable_gate.allows(journal.len().saturating_mul(2)) {
                return Ok(());
            }
            let lsn = journal.next_lsn() - 1;
            let started = Instant::now();
            match commit::checkpoint(&opened.db, lsn) {
                Ok(()) => {
                    self.durable_gate.succeeded();
                    tracing::debug!(
                        lsn,
                        journal_bytes = journal.len(),
                        elapsed_us = started.elapsed().as_micros() as u64,
                        "checkpoint"
                    );
                    journal.restart(lsn);
                    Ok(())
                }
                // Nothing is lost: the journal still holds every commit since the last
                // checkpoint, and the next operation reopens the database.
                Err(e) => {
                    self.durable_gate.failed();
                    tracing::warn!("checkpoint failed: {e}");
                    Err(e)
                }
            }
        })
    }

    fn prune(
        &self,
        now: UnixMillis,
        logs_before: UnixMillis,
        limit: usize,
    ) -> StoreResult<PruneStats> {
        // Prune commits durably; on a full disk it waits for space like a checkpoint.
        if !self.durable_gate.allows(0) {
            return Err(StoreError::Io(
                "the disk is full; pruning waits until space is freed".into(),
            ));
        }
        let pruned = self.with(false, |db| {
            prune::prune(db, &self.log_prune_cursor, now, logs_before, limit)
        });
        match &pruned {
            // Only a commit that wrote something proves there is space again.
            Ok(stats)
                if stats.messages + stats.dlq_entries + stats.dedup_keys + stats.log_entries
                    > 0 =>
            {
                self.durable_gate.succeeded()
            }
            Ok(_) => {}
            Err(e) if codec::needs_reopen(e) => self.durable_gate.failed(),
            Err(_) => {}
        }
        pruned
    }

    fn close(&self) -> StoreResult<()> {
        self.close_database()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_of_one_file_fails() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = EmbeddedStore::open(dir.path()).expect("first open");
        assert!(matches!(
            EmbeddedStore::open(dir.path()),
            Err(StoreError::Io(_))
        ));
        drop(first);
        EmbeddedStore::open(dir.path()).expect("open after close");
    }

    fn waiting_message(id: &str, key: Option<&str>) -> Message {
        use depesha_core::flow_control::FlowControl;
        use depesha_core::message::{MessageState, Origin};
        Message {
            id: id.into(),
            user: "u".into(),
            url: "https://example.com/".into(),
            topic_name: None,
            endpoint_name: None,
            queue_name: None,
            schedule_id: None,
            method: "POST".into(),
            headers: Default::default(),
            body: Vec::new(),
            max_retries: 0,
            retried: 0,
            retry_delay: None,
            timeout_ms: None,
            not_before: 1,
            created_at: 1,
            due: 1,
            callback: None,
            failure_callback: None,
            caller_ip: None,
            labels: Vec::new(),
            redaction: Default::default(),
            flow_control: key.map(|key| FlowControl {
                key: key.into(),
                parallelism: Some(1),
                rate: None,
                period_secs: 1,
            }),
            dedup_id: None,
            origin: Origin::Publish,
            state: MessageState::Waiting,
            queue_item: None,
            expires_at: None,
        }
    }

    /// Caller bugs that would leave an index inconsistent fail the whole commit.
    #[test]
    fn unindexable_writes_fail_the_commit() {
        use crate::{FlowKeyStore, QueueStore, Write};
        use depesha_core::queue::QueuePosition;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path()).expect("open");
        let fine = Unit::new(vec![Write::PutMessage(waiting_message("ok", Some("k")))]);
        let bad = [
            Write::PutMessage(waiting_message("no-key", None)),
            Write::PutMessage(waiting_message("nul", Some("a\0b"))),
            Write::PutQueueItem {
                user: "u".into(),
                queue: "q\0".into(),
                position: QueuePosition {
                    enqueued_at: 1,
                    seq: 0,
                },
                holder: "ok".into(),
            },
        ];
        for write in bad {
            let result = store.commit(vec![fine.clone(), Unit::new(vec![write])]);
            assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
            assert_eq!(store.message("u", "ok").expect("read"), None);
        }
        // Reads of such names find nothing.
        assert_eq!(
            store.waiting_count("u", "a\0b", u64::MAX).expect("count"),
            0
        );
        assert_eq!(store.queue_lag("u", "q\0").expect("lag"), 0);
        assert_eq!(store.queue_items("u", "q\0", 5).expect("items"), Vec::new());
    }
}
