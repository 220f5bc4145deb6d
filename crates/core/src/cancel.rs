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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::sample_message;
    use crate::queue::QueuePosition;

    fn message(queue_item: Option<QueueItem>) -> Message {
        let mut m = sample_message(&[], b"");
        m.queue_item = queue_item;
        m
    }

    #[test]
    fn a_cancel_logs_cancel_requested_then_canceled() {
        let cancel = Cancel::of(&message(None), 7);
        let states = cancel.logs.map(|l| (l.state, l.time));
        assert_eq!(
            states,
            [(LogState::CancelRequested, 7), (LogState::Canceled, 7)]
        );
        assert_eq!(cancel.frees, None);
    }

    #[test]
    fn a_queued_message_gives_up_its_place() {
        let item = QueueItem {
            queue: "q".into(),
            position: QueuePosition {
                enqueued_at: 1,
                seq: 2,
            },
        };
        let cancel = Cancel::of(&message(Some(item.clone())), 7);
        assert_eq!(cancel.frees, Some(item));
    }
}
