//! The store's handle on its database: opening it, running each operation on the
//! current database, reopening it by itself after an I/O error, and closing it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redb::Database;

use super::codec;
use super::journal::Journal;
use super::open::{open_database, sync_dir};
use super::recoveries::{Recoveries, RecoveryCounters};
use super::space::DurableGate;
use super::{StoreOptions, FILE_NAME};
use crate::{StoreError, StoreResult};

/// How long a reopen waits for in-flight operations on the failed database to end.
const REOPEN_WAIT: Duration = Duration::from_secs(30);

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
    pub(super) options: StoreOptions,
    db: RwLock<Slot>,
    /// Where the next log prune resumes (a key bound in the `logs` table).
    pub(super) log_prune_cursor: Mutex<Vec<u8>>,
    /// Whether durable commits may be tried (shut after one failed on a full disk).
    pub(super) durable_gate: DurableGate,
    counters: RecoveryCounters,
}

/// The open database and its journal.
pub(super) struct Opened {
    pub(super) db: Database,
    pub(super) journal: Mutex<Journal>,
}

impl Opened {
    /// The journal, for a commit or a checkpoint (one at a time).
    pub(super) fn journal(&self) -> StoreResult<std::sync::MutexGuard<'_, Journal>> {
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
    pub(super) fn with<T>(
        &self,
        retry: bool,
        mut op: impl FnMut(&Database) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.with_opened(retry, |opened| op(&opened.db))
    }

    /// [`EmbeddedStore::with`] for operations that need the journal too.
    pub(super) fn with_opened<T>(
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

    pub(super) fn current(&self) -> StoreResult<(u64, Arc<Opened>)> {
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
    pub(super) fn reopen(&self, generation: u64) -> StoreResult<()> {
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
