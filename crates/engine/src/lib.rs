//! # depesha-engine
//!
//! Moves stored messages to their destinations. The parts, one file each:
//! - [`committer`]: group commit — every durable write goes through it;
//! - `dispatcher`: the due-time window in memory and the in-flight limit;
//! - `fairness`: each destination's and each user's share of the requests in flight;
//! - `worker`: one delivery from load to committed outcome;
//! - [`delivery`]: the signed HTTP request;
//! - [`guarded_dns`]: name resolution that applies the destination policy;
//! - [`operations`]: every change a client can make, one list (the only writer the
//!   server has);
//! - [`outcome`]: what an attempt's result means for the store (retry, DLQ, callbacks);
//! - `pruner`: retention;
//! - `scheduler`: schedules' ticks, each fired once (`Engine::start_scheduler`);
//! - `shutdown`: one lifecycle: every task ends on `Engine::shutdown` or when the last
//!   handle is dropped, and the store is released with them;
//! - [`clock`]: time as a trait, so that tests control it.

pub mod clock;
pub mod committer;
pub mod config;
pub mod delivery;
mod dispatcher;
mod engine;
mod error;
mod fairness;
mod flow;
pub mod guarded_dns;
pub mod operations;
pub mod outcome;
mod prepared;
mod pruner;
pub mod publisher;
mod scheduler;
mod shutdown;
mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::EngineConfig;
pub use engine::Engine;
pub use error::{EngineError, Missing};
pub use flow::FlowCounters;
pub use operations::CancelSlice;
pub use publisher::{Accepted, Plan, PlanError, PublishPolicy, PublishRequest, Receipt};
