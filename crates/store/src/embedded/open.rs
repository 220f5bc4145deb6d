//! Opening the data files: the database (created, its tables made, its format checked
//! and upgraded) and the journal, whose commits the database's durable state lacks
//! are applied again.

use std::path::Path;
use std::sync::Mutex;

use redb::Database;

use super::codec::{self, io};
use super::handle::Opened;
use super::journal::{self, Journal};
use super::recoveries::RecoveryCounters;
use super::{commit, tables, upgrade, StoreOptions};
use crate::{StoreError, StoreResult, Unit};

/// Opens the database and its journal, and applies the journaled commits the
/// database's last durable state lacks (after a crash).
pub(super) fn open_database(
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

pub(super) fn sync_dir(dir: &Path) -> StoreResult<()> {
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
