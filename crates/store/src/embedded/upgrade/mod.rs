//! The data dir's format version, and the chain of upgrades from each earlier one.
//!
//! `meta.format` holds the version of the file's layout: its tables, their keys, and
//! the record types of their values and of the journal's payload (`stored/`). Opening
//! a file of an earlier version upgrades it step by step — 2 → 3 → 4 — each step a
//! function of its own file that brings the file from its version to the next one.
//! The whole chain runs in the one write transaction that opens the store, committed
//! durably together with the new version number: a crash during an upgrade leaves the
//! file at its old version, and the next open starts the chain again.
//!
//! A file of a *newer* version than this build knows is refused: this build would
//! misread it, and writing to it would ruin it for the release that wrote it.
//!
//! To add version N + 1: write `vN_to_vN1.rs` with its `upgrade` (converting the
//! values whose record type changed: read with the old record type, write with the
//! new one), append it to [`STEPS`], and bump [`FORMAT_VERSION`]. Keep the old record
//! types (they are how the step reads the old values) and add a fixture data dir of
//! version N to `tests/upgrade.rs`.
//!
//! The journal is replayed *after* the upgrade (its records are the last commits of
//! the previous run, possibly of the previous release), and its records carry no
//! version: a version that changes the journal's payload must therefore still decode
//! the payload of every version it upgrades.

mod v2_to_v3;
mod v3_to_v4;

use redb::{ReadableTable, WriteTransaction};

use super::codec::io;
use super::tables;
use crate::{StoreError, StoreResult};

/// The version this build reads and writes.
pub const FORMAT_VERSION: u64 = 4;

/// The oldest version this build upgrades: `STEPS[0]` starts there.
const OLDEST_UPGRADABLE: u64 = 2;

/// One step: brings a file of version `v` to `v + 1`, inside the open transaction.
type Step = fn(&WriteTransaction) -> StoreResult<()>;

/// `STEPS[i]` upgrades version `OLDEST_UPGRADABLE + i`.
const STEPS: [Step; (FORMAT_VERSION - OLDEST_UPGRADABLE) as usize] =
    [v2_to_v3::upgrade, v3_to_v4::upgrade];

/// Brings the file to [`FORMAT_VERSION`] within `txn` (whose tables exist). Returns
/// whether it changed anything, so that an open with nothing to do commits nothing.
pub(super) fn upgrade(txn: &WriteTransaction) -> StoreResult<bool> {
    let found = {
        let meta = txn.open_table(tables::META).map_err(io)?;
        let format = meta.get(tables::META_FORMAT).map_err(io)?;
        format.map(|v| v.value())
    };
    let Some(mut version) = found else {
        // Every build wrote the version in the transaction that created the store's
        // tables, so a file without one had none of them: they were just created
        // empty (a new file, or a redb file of something else, as in tests/journal.rs).
        set_version(txn, FORMAT_VERSION)?;
        return Ok(true);
    };
    if version == FORMAT_VERSION {
        return Ok(false);
    }
    if version > FORMAT_VERSION {
        return Err(StoreError::Corrupt(
            format!(
                "the data format version is {version}, newer than this build's \
             {FORMAT_VERSION}: it was written by a later release of Depesha. Run that \
             release (or a later one) on this data dir"
            )
            .into(),
        ));
    }
    if version < OLDEST_UPGRADABLE {
        return Err(StoreError::Corrupt(
            format!(
                "the data format version is {version}; this build upgrades versions \
             {OLDEST_UPGRADABLE} to {FORMAT_VERSION}. Open the data dir with an earlier \
             release first, which upgrades it to a version this one reads"
            )
            .into(),
        ));
    }
    while version < FORMAT_VERSION {
        let step = STEPS[(version - OLDEST_UPGRADABLE) as usize];
        step(txn)?;
        version += 1;
        tracing::info!(version, "upgraded the data format");
    }
    set_version(txn, FORMAT_VERSION)?;
    Ok(true)
}

fn set_version(txn: &WriteTransaction, version: u64) -> StoreResult<()> {
    txn.open_table(tables::META)
        .map_err(io)?
        .insert(tables::META_FORMAT, version)
        .map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests;
