//! The JSON shapes the API answers with, one file per object, built from stored
//! values. Field names follow the SDKs: where docs and SDKs spell a field differently,
//! both spellings are emitted (spec Appendix A). Redaction is applied here, on every
//! read path; delivery never goes through these views. A message and a schedule
//! share their field groups (`fields`).

mod dlq;
mod fields;
mod flow_key;
mod log;
mod message;
mod queue;
mod schedule;
mod url_group;

pub use dlq::DlqView;
pub use flow_key::FlowKeyView;
pub use log::LogView;
pub use message::MessageView;
pub use queue::QueueView;
pub use schedule::ScheduleView;
pub use url_group::GroupView;
