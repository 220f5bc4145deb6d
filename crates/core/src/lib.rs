//! # depesha-core
//!
//! The pure domain of Depesha, a self-hosted message queue that speaks the QStash v2
//! API. Nothing here does I/O: every function takes plain values and returns plain
//! values, so the whole crate is unit- and property-tested without a server, a disk or
//! a clock.
//!
//! Data flows one way through the workspace: a request is validated here (headers are
//! classified by [`publish`], durations and expressions parsed), stored by
//! `depesha-store`, scheduled and delivered by `depesha-engine`.

pub mod backoff;
pub mod batch;
pub mod callback;
pub mod cancel;
pub mod cron;
pub mod cron_fields;
pub mod delivery_failure;
pub mod destination;
pub mod destination_policy;
pub mod destination_url;
pub mod dlq;
pub mod dlq_retry;
pub mod duration;
pub mod error;
pub mod filter;
pub mod flow_control;
pub mod flow_key;
pub mod header_map;
pub mod ids;
pub mod ip_class;
pub mod jwt;
pub mod keys;
pub mod log;
pub mod message;
pub mod publish;
pub mod queue;
pub mod redact;
pub mod refs;
pub mod retry_after;
pub mod retry_delay;
pub mod retry_policy;
pub mod schedule;
pub mod url_group;

pub use error::{InputError, InputResult};

/// Wall-clock time as milliseconds since the Unix epoch. QStash's JSON speaks in
/// milliseconds almost everywhere (spec §2.3), so the domain does too.
pub type UnixMillis = u64;
