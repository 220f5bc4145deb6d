//! Every change a client can make to what is stored, in one list. Each is an
//! `impl Engine` method with typed arguments and results, in a file of its own; the
//! rules it applies are pure functions of `depesha-core`, and building the store's
//! units (`Unit`, `Write`, `Guard`) happens here and nowhere in the server. So the
//! engine hears of every change it must act on (a message made due, a cancel that must
//! reach a prepared delivery, a flow key's new limits), and a second backend or a
//! second node has one door to guard.
//!
//! | Operation                         | Method                         | Rules (core)                     |
//! |-----------------------------------|--------------------------------|----------------------------------|
//! | publish, enqueue, batch           | `plan` + `accept` (publisher)  | `publish::classify`, `build_message` |
//! | cancel messages (one, bulk)       | [`cancel_messages`](crate::Engine::cancel_messages), [`cancel_matching`](crate::Engine::cancel_matching) | `cancel::Cancel` |
//! | delete DLQ entries                | [`delete_dlq_entries`](crate::Engine::delete_dlq_entries) | —                                |
//! | retry DLQ entries                 | [`retry_dlq_entries`](crate::Engine::retry_dlq_entries)  | `dlq_retry::retry_message`       |
//! | upsert a queue                    | [`upsert_queue`](crate::Engine::upsert_queue)       | `queue::QueueSettings`, `Queue::upserted` |
//! | pause / resume a queue            | [`set_queue_paused`](crate::Engine::set_queue_paused)   | —                                |
//! | delete a queue                    | [`delete_queue`](crate::Engine::delete_queue)       | `cancel::Cancel`                 |
//! | add / remove URL-group endpoints  | [`add_endpoints`](crate::Engine::add_endpoints), [`remove_endpoints`](crate::Engine::remove_endpoints) | `UrlGroup::upsert`, `remove` |
//! | set a URL group's default headers | [`set_group_headers`](crate::Engine::set_group_headers)  | —                                |
//! | delete a URL group                | [`delete_group`](crate::Engine::delete_group)       | —                                |
//! | pause / resume a flow key         | [`set_flow_paused`](crate::Engine::set_flow_paused)    | —                                |
//! | pin / unpin a flow key            | [`pin_flow`](crate::Engine::pin_flow), [`unpin_flow`](crate::Engine::unpin_flow) | `FlowKey::pin`, `unpin` |
//! | reset a flow key's rate           | [`reset_flow_rate`](crate::Engine::reset_flow_rate)    | —                                |
//! | create or replace a schedule      | [`put_schedule`](crate::Engine::put_schedule)       | `schedule::ScheduleSettings`, `Schedule::stored` |
//! | pause / resume a schedule         | [`set_schedule_paused`](crate::Engine::set_schedule_paused) | `Schedule::set_paused`          |
//! | delete a schedule                 | [`delete_schedule`](crate::Engine::delete_schedule)    | —                                |
//! | make sure a user has keys; rotate | [`ensure_keys`](crate::Engine::ensure_keys), [`rotate_keys`](crate::Engine::rotate_keys) | `SigningKeys::rotated` |
//!
//! The engine's own changes — an attempt's outcome, a schedule's tick, retention,
//! releasing queues and wait-lists — live with the parts that make them (`worker`,
//! `outcome`, `scheduler`, `pruner`).

mod cancel;
mod dlq;
mod flow_keys;
mod keys;
mod queues;
mod schedules;
mod url_groups;

pub use cancel::CancelSlice;

use depesha_store::{Applied, Taken, UnitOutcome};

/// How many of `outcomes` took something out of the store (a cancel, a DLQ take).
fn taken(outcomes: &[UnitOutcome]) -> usize {
    outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                UnitOutcome::Applied(Applied {
                    taken: Taken::Message(_) | Taken::Dlq(_),
                    ..
                })
            )
        })
        .count()
}
