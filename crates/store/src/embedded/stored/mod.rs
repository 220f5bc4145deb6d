//! The embedded store's own record types: the exact shape of every value it writes to
//! redb and to its journal.
//!
//! Values are postcard, which is not self-describing: a value's bytes are its fields
//! in declaration order. If the store encoded the domain types (`core::Message` …)
//! directly, adding a field to one of them would silently change the file format, and
//! a data dir written before the change would no longer decode. So each kind of value
//! has a record type here, owned by the store and changed only on purpose, with
//! conversions to and from the domain type. A record type is never edited once
//! released: a new layout is a new type (`MessageV2`) and a new format version, with an
//! upgrade step (see `upgrade/`). `golden.rs` pins the bytes of every record type, so
//! that an edit here cannot go unnoticed either.
//!
//! The `V1` in a name counts layouts of that one record kind, not format versions:
//! format version 4 consists of the `V1` records below (encoded exactly as format 3
//! encoded the domain types of its day).

mod dedup;
mod dlq;
mod flow_key;
mod group;
mod keys;
mod log;
mod message;
mod queue;
mod schedule;
mod unit;

#[cfg(test)]
mod golden;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::StoreResult;

/// A domain value the embedded store keeps, and the record type it is stored as.
pub(super) trait Record: Sized {
    type Stored: Serialize + DeserializeOwned;

    fn to_stored(&self) -> Self::Stored;

    /// Fails (`Corrupt`) when the stored record holds something the domain type
    /// refuses (a retry-delay expression today's parser rejects, say).
    fn from_stored(stored: Self::Stored) -> StoreResult<Self>;
}

pub(super) use dedup::DedupClaim;
