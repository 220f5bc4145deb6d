//! Turns an attempt's result into one store [`Unit`]: the message's new state, its log
//! lines, the DLQ entry and any callback messages — written together, so a crash can
//! never leave a message delivered but its callback lost, or failed but not in the DLQ.
//!
//! The unit is guarded by the attempt count the message had when the attempt started:
//! if the message was cancelled (or already handled) meanwhile, the outcome is dropped.

use depesha_core::backoff::Backoff;
use depesha_core::callback::{callback_body, callback_message, CallbackKind};
use depesha_core::dlq::{dlq_id, DlqEntry};
use depesha_core::ids;
use depesha_core::log::{LogEntry, LogState};
use depesha_core::message::{Message, MessageState};
use depesha_core::queue::{QueueItem, QueuePosition};
use depesha_core::retry_policy::{next_step, AttemptResult, NextStep};
use depesha_core::UnixMillis;
use depesha_store::{Guard, Unit, Write};

/// Retention settings the outcome needs.
pub struct Retention {
    pub delivered_ms: u64,
    pub dlq_ms: u64,
}

/// The unit for one finished attempt, and the step it took.
pub struct Outcome {
    pub unit: Unit,
    pub step: NextStep,
}

/// Builds the outcome of an attempt of `message` that started at `started` and ended
/// at `now`. `dlq_seq` disambiguates DLQ ids created in the same millisecond.
pub fn outcome(
    message: &Message,
    result: &AttemptResult,
    started: UnixMillis,
    now: UnixMillis,
    backoff: &Backoff,
    retention: &Retention,
    dlq_seq: u64,
) -> Outcome {
    let step = next_step(message, result, now, backoff);
    let mut writes = Vec::with_capacity(6);
    let log = |state: LogState, time: UnixMillis| {
        Write::AppendLog(LogEntry::for_message(message, state, time))
    };
    // ACTIVE is logged with the outcome instead of in a commit of its own before the
    // attempt: half the fsyncs, and an attempt cut short by a crash is retried anyway.
    writes.push(log(LogState::Active, started));

    let mut error_line = LogEntry::for_message(message, LogState::Error, now);
    error_line.response = result.response().cloned();
    error_line.error = result.error_text();

    match step {
        NextStep::Delivered => {
            let mut delivered = message.clone();
            delivered.state = MessageState::Delivered;
            delivered.expires_at = Some(now.saturating_add(retention.delivered_ms));
            writes.push(Write::PutMessage(delivered));
            let mut line = LogEntry::for_message(message, LogState::Delivered, now);
            line.response = result.response().cloned();
            writes.push(Write::AppendLog(line));
        }
        NextStep::RetryAt(at) => {
            error_line.next_delivery_time = Some(at);
            writes.push(Write::AppendLog(error_line));
            let mut retry = LogEntry::for_message(message, LogState::Retry, now);
            retry.next_delivery_time = Some(at);
            writes.push(Write::AppendLog(retry));
            let mut next = message.clone();
            next.retried += 1;
            next.due = at;
            writes.push(Write::PutMessage(next));
        }
        NextStep::Failed => {
            writes.push(Write::AppendLog(error_line));
            writes.push(log(LogState::Failed, now));
            writes.push(Write::DeleteMessage {
                user: message.user.clone(),
                id: message.id.clone(),
            });
        }
    }

    // The callback fires after every attempt (spec §8), the failure callback after the
    // last; the DLQ entry exists before the failure callback is created.
    let mut callbacks = Vec::new();
    if let Some(spec) = &message.callback {
        let body = callback_body(message, result, &CallbackKind::Callback);
        callbacks.push(callback_message(
            message,
            spec,
            &CallbackKind::Callback,
            body,
            ids::message_id(now),
            now,
        ));
    }
    if step == NextStep::Failed {
        let id = dlq_id(now, dlq_seq);
        writes.push(Write::PutDlq(DlqEntry {
            dlq_id: id.clone(),
            message: message.clone(),
            response: result.response().cloned(),
            error: result.error_text(),
            failed_at: now,
            expires_at: now.saturating_add(retention.dlq_ms),
        }));
        if let Some(spec) = &message.failure_callback {
            let kind = CallbackKind::Failure { dlq_id: id };
            let body = callback_body(message, result, &kind);
            callbacks.push(callback_message(
                message,
                spec,
                &kind,
                body,
                ids::message_id(now),
                now,
            ));
        }
    }
    // A schedule remembers how the messages of its last tick ended.
    if let (NextStep::Delivered | NextStep::Failed, Some(schedule_id)) =
        (step, &message.schedule_id)
    {
        writes.push(Write::RecordScheduleResult {
            user: message.user.clone(),
            schedule_id: schedule_id.clone(),
            message_id: message.id.clone(),
            delivered: step == NextStep::Delivered,
        });
    }
    // A retry keeps the queue item: the message is not finished.
    if let (NextStep::Delivered | NextStep::Failed, Some(item)) = (step, &message.queue_item) {
        hand_over_queue_item(&mut writes, message, item, &mut callbacks, now);
    }
    for callback in callbacks {
        writes.push(Write::AppendLog(LogEntry::for_message(
            &callback,
            LogState::Created,
            now,
        )));
        writes.push(Write::PutMessage(callback));
    }

    let guard = Guard::MessageAt {
        user: message.user.clone(),
        id: message.id.clone(),
        retried: message.retried,
    };
    Outcome {
        unit: Unit::guarded(guard, writes),
        step,
    }
}

/// A finished message's queue item (spec §3.2: the next message starts only when this
/// one is done, callbacks included) passes to the callbacks it produced, or, with
/// none, is deleted — which lets the queue's next message through.
///
/// With both a callback and a failure callback, the queue must wait for both: the
/// callback takes the item, the failure callback a *companion* item right behind it
/// (the odd position next to the item's even one, see `Engine::next_queue_position`).
/// Items count toward the queue's parallelism, so the next message waits for both.
fn hand_over_queue_item(
    writes: &mut Vec<Write>,
    message: &Message,
    item: &QueueItem,
    callbacks: &mut [Message],
    now: UnixMillis,
) {
    let companion = QueuePosition {
        seq: item.position.seq | 1,
        ..item.position
    };
    let holders: Vec<(&mut Message, QueuePosition)> = match callbacks {
        [] => Vec::new(),
        [only] => vec![(only, item.position)],
        [first, second] if companion != item.position => {
            vec![(first, item.position), (second, companion)]
        }
        // A companion's own companion has no room: the last callback holds the item.
        [.., last] => vec![(last, item.position)],
    };
    if holders.is_empty() {
        writes.push(Write::DeleteQueueItem {
            user: message.user.clone(),
            queue: item.queue.clone(),
            position: item.position,
        });
        writes.push(Write::FillQueue {
            user: message.user.clone(),
            queue: item.queue.clone(),
            now,
        });
        return;
    }
    for (callback, position) in holders {
        callback.queue_item = Some(QueueItem {
            queue: item.queue.clone(),
            position,
        });
        writes.push(Write::PutQueueItem {
            user: message.user.clone(),
            queue: item.queue.clone(),
            position,
            holder: callback.id.clone(),
        });
    }
}
