//! # depesha-engine
//!
//! Moves stored messages to their destinations. The parts, one file each:
//! - [`committer`]: group commit — every durable write goes through it;
//! - `dispatcher`: the due-time window in memory and the in-flight limit;
//! - `worker`: one delivery from load to committed outcome;
//! - [`delivery`]: the signed HTTP request;
//! - [`outcome`]: what an attempt's result means for the store (retry, DLQ, callbacks);
//! - `pruner`: retention;
//! - [`clock`]: time as a trait, so that tests control it.

pub mod clock;
pub mod committer;
pub mod config;
pub mod delivery;
mod dispatcher;
mod engine;
mod error;
pub mod outcome;
mod pruner;
mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::EngineConfig;
pub use engine::Engine;
pub use error::EngineError;
