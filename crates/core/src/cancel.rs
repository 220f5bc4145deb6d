//! What a cancel does to a message (spec §3.4), as a plain value the engine turns into
//! store writes: the message is taken out if still unfinished, `CANCEL_REQUESTED` and
//! `CANCELED` are logged, and a queue's message gives up its place so the queue moves
//! on.

use crate::log::{LogEntry, LogState};
use crate::message::Message;
use crate::queue::QueueItem;
use crate::UnixMillis;

#[derive(Debug, Clone, PartialEq)]
pub struct Cancel {
    /// The two log lines, in order.
    pub logs: [LogEntry; 2],
    /// The queue item the message held, which the cancel frees.
    pub frees: Option<QueueItem>,
}

impl Cancel {
    pub fn of(message: &Message, now: UnixMillis) -> Cancel {
        Cancel {
            logs: [
                LogEntry::for_message(message, LogState::CancelRequested, now),
                LogEntry::for_message(message, LogState::Canceled, now),
            ],
            frees: message.queue_item.clone(),
        }
    }
}
