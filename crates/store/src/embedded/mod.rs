//! The embedded backend: one [redb](https://www.redb.org) file, `depesha.redb`, in the
//! data directory.
//!
//! # Durability
//!
//! Every [`Store::commit`] is one redb write transaction committed with
//! [`redb::Durability::Immediate`]: when it returns `Ok`, the data is fsync'd. redb is
//! copy-on-write with checksummed commit slots, so after `kill -9` or power loss the
//! file reopens at the last completed commit (redb repairs its allocator state on the
//! first open after a crash, which walks the file). A failed write (full disk, I/O
//! error) aborts the transaction: nothing of that commit is applied.
//!
//! # Layout
//!
//! Keys are bytes; numbers in keys are big-endian so byte order is numeric order, and
//! user-scoped keys start with `user \0` so one user's rows are one contiguous range
//! (user names never contain NUL). See [`tables`] for the exact key encodings and
//! [`codec`] for values.
//!
//! | table            | key                                   | value                          |
//! |------------------|---------------------------------------|--------------------------------|
//! | `messages`       | `user \0 id`                          | 23-byte index header ++ postcard `Message` |
//! | `due`            | `due BE ++ user \0 id`                | `()`                           |
//! | `message_expiry` | `expires_at BE ++ user \0 id`         | `()`                           |
//! | `dlq`            | `user \0 failed_at BE ++ seq BE`      | postcard `DlqEntry`            |
//! | `dlq_expiry`     | `expires_at BE ++ <dlq key>`          | `()`                           |
//! | `logs`           | `user \0 seq BE`                      | `time BE ++ postcard LogEntry` |
//! | `dedup`          | `user \0 dedup-key`                   | postcard `(ids, expires_at)`   |
//! | `dedup_expiry`   | `expires_at BE ++ <dedup key>`        | `()`                           |
//! | `keys`           | `user` (str)                          | postcard `SigningKeys`         |
//! | `meta`           | name (str)                            | `u64`                          |
//!
//! Why these indexes:
//!
//! * `due` holds exactly the pending messages, keyed in `(due, user, id)` order, so the
//!   dispatcher's [`MessageStore::due`] is a range scan that touches only due rows, and
//!   [`MessageStore::pending_count`] is its length (O(1) in redb). `PutMessage` moves
//!   the key when `due` or the state changes; deletes and takes remove it.
//! * `message_expiry`, `dlq_expiry` and `dedup_expiry` let prune find what has expired
//!   with one range scan up to `now`, instead of scanning everything.
//! * The message value starts with a fixed header (state, retried, due, expires_at) so
//!   that upserts, guards, `pending_ids` and prune never decode bodies they don't need.
//! * Log `seq` comes from the `log_seq` counter in `meta`, written in the same
//!   transaction as the entries, so it never goes back, even after a crash. It is
//!   global (shared by all users): per user it is increasing, with gaps.
//! * `meta.format` records the value layout version; opening a file of another
//!   version fails instead of misreading it.
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
//! * `TakePendingMessage` / `TakeDlq` remove the row and its index entries and return it.
//! * `MessageAt` holds when the message exists, is pending and `retried` matches.
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
mod prune;
mod reads;
mod tables;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use depesha_core::dlq::DlqEntry;
use depesha_core::filter::{Filter, Order};
use depesha_core::keys::SigningKeys;
use depesha_core::log::LogEntry;
use depesha_core::message::Message;
use depesha_core::UnixMillis;
use redb::{Database, Durability, ReadableTable};

use crate::{
    DlqStore, DueKey, KeyStore, LogStore, MessageStore, Page, PruneStats, Store, StoreError,
    StoreResult, Unit, UnitOutcome,
};
use codec::io;

/// The data file's name inside the data directory.
pub const FILE_NAME: &str = "depesha.redb";

/// Value layout version written to `meta.format`.
const FORMAT_VERSION: u64 = 1;

/// The redb backend. Cheap to share: wrap it in an `Arc`; reads run concurrently
/// (MVCC snapshots), commits are serialized by redb.
pub struct EmbeddedStore {
    db: Database,
    path: PathBuf,
    /// Where the next log prune resumes (a key bound in the `logs` table).
    log_prune_cursor: Mutex<Vec<u8>>,
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
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Io(format!("creating {}: {e}", dir.display())))?;
        let path = dir.join(FILE_NAME);
        let db = Database::create(&path)
            .map_err(|e| StoreError::Io(format!("opening {}: {e}", path.display())))?;
        init(&db).map_err(|e| match e {
            StoreError::Io(m) => StoreError::Io(format!("{}: {m}", path.display())),
            StoreError::Corrupt(m) => StoreError::Corrupt(format!("{}: {m}", path.display())),
            other => other,
        })?;
        Ok(EmbeddedStore {
            db,
            path,
            log_prune_cursor: Mutex::new(Vec::new()),
        })
    }

    /// The data file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Creates every table (so reads never meet a missing one) and checks the format.
fn init(db: &Database) -> StoreResult<()> {
    let mut txn = db.begin_write().map_err(io)?;
    txn.set_durability(Durability::Immediate).map_err(io)?;
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
        let mut meta = txn.open_table(tables::META).map_err(io)?;
        let format = meta
            .get(tables::META_FORMAT)
            .map_err(io)?
            .map(|v| v.value());
        match format {
            Some(FORMAT_VERSION) => {}
            None => {
                meta.insert(tables::META_FORMAT, FORMAT_VERSION)
                    .map_err(io)?;
            }
            Some(other) => {
                return Err(StoreError::Corrupt(format!(
                    "data format version {other}, this build reads version {FORMAT_VERSION}"
                )))
            }
        }
    }
    txn.commit().map_err(io)
}

impl MessageStore for EmbeddedStore {
    fn message(&self, user: &str, id: &str) -> StoreResult<Option<Message>> {
        reads::message(&self.db, user, id)
    }

    fn due(
        &self,
        after: Option<&DueKey>,
        until: UnixMillis,
        limit: usize,
    ) -> StoreResult<Vec<DueKey>> {
        reads::due(&self.db, after, until, limit)
    }

    fn pending_ids(&self, user: &str, filter: &Filter, limit: usize) -> StoreResult<Vec<String>> {
        reads::pending_ids(&self.db, user, filter, limit)
    }

    fn pending_count(&self) -> StoreResult<u64> {
        reads::pending_count(&self.db)
    }
}

impl DlqStore for EmbeddedStore {
    fn dlq_entry(&self, user: &str, dlq_id: &str) -> StoreResult<Option<DlqEntry>> {
        reads::dlq_entry(&self.db, user, dlq_id)
    }

    fn dlq_page(
        &self,
        user: &str,
        filter: &Filter,
        cursor: Option<&str>,
        count: usize,
        order: Order,
    ) -> StoreResult<Page<DlqEntry>> {
        reads::dlq_page(&self.db, user, filter, cursor, count, order)
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
        reads::log_page(&self.db, user, filter, cursor, count, order)
    }
}

impl KeyStore for EmbeddedStore {
    fn keys(&self, user: &str) -> StoreResult<Option<SigningKeys>> {
        reads::keys(&self.db, user)
    }
}

impl Store for EmbeddedStore {
    fn commit(&self, units: Vec<Unit>) -> StoreResult<Vec<UnitOutcome>> {
        commit::commit(&self.db, units)
    }

    fn prune(
        &self,
        now: UnixMillis,
        logs_before: UnixMillis,
        limit: usize,
    ) -> StoreResult<PruneStats> {
        prune::prune(&self.db, &self.log_prune_cursor, now, logs_before, limit)
    }
}
