//! The storage contract, as executable spec. Every behaviour is a generic function over
//! `impl Store` (or over a [`Backend`] when it needs to reopen the store), in the module
//! of its concern; the `suite!` invocations at the bottom run all of them against each
//! backend. A new backend is one more `suite!` line plus a `Backend` impl in `support`.

#[path = "../support/mod.rs"]
mod support;

mod common;
mod dedup;
mod dlq;
mod due_index;
mod flow_keys;
mod full_disk;
mod groups;
mod guards;
mod isolation;
mod keys;
mod logs;
mod messages;
mod prune;
mod queues;
mod restarts;
mod schedules;
mod sigkill;

use support::{Backend, Embedded};

// ---------------------------------------------------------------------------------
// The suite, per backend
// ---------------------------------------------------------------------------------

macro_rules! suite {
    ($backend:ty) => {
        suite!(@store $backend;
            messages::publish_and_read,
            messages::upsert_moves_the_due_key,
            messages::delete_message_removes_it_and_its_index_entries,
            messages::pending_ids_lists_pending_matches_only,
            due_index::due_orders_by_time_user_id_and_pages_after,
            due_index::delivered_leaves_due_index_but_stays_readable_until_prune,
            due_index::pending_puts_report_became_due,
            guards::cancel_takes_a_pending_message_once,
            guards::message_at_guards_the_attempt_state,
            guards::failed_commit_applies_nothing,
            dedup::dedup_claim_rejects_duplicates_within_and_across_commits,
            dlq::take_dlq_removes_the_entry_once,
            dlq::dlq_pages_filter_and_order,
            dlq::dlq_upsert_keeps_one_retention_entry,
            logs::log_seq_is_assigned_and_increasing,
            logs::log_pages_filter_and_order,
            prune::pending_messages_are_never_pruned,
            prune::prune_is_bounded_by_limit,
            keys::keys_put_and_get,
            isolation::users_are_isolated,
            groups::groups_upsert_get_list_delete,
            queues::queues_put_get_list_delete,
            queues::queue_items_keep_order_and_count_lag,
            queues::fill_queue_admits_the_first_parallelism_queued_holders,
            queues::paused_or_unknown_queue_admits_nothing,
            queues::queues_with_items_lists_each_queue_once,
            queues::cancel_takes_queued_messages,
            flow_keys::flow_keys_put_get_list,
            flow_keys::waiting_messages_are_in_their_keys_wait_list,
            flow_keys::put_message_moves_wait_list_entries,
            flow_keys::cancel_takes_waiting_messages_out_of_the_wait_list,
            schedules::schedules_put_get_list_and_due_order,
            schedules::schedule_at_fires_each_tick_once
        );
        suite!(@backend $backend;
            restarts::reopen_keeps_everything,
            restarts::log_seq_is_monotonic_across_reopen
        );

        #[tokio::test]
        #[ignore = "needs a small file system: set DEPESHA_CONFORMANCE_SMALL_DISK (scripts/test mounts one as root)"]
        async fn full_disk_loses_nothing_acknowledged() {
            // Run on purpose (`--ignored`) without a small disk, this must fail: a
            // pass would claim a full disk was tested.
            let Some(backend) = <$backend as Backend>::on_small_disk() else {
                panic!("no small disk: set {} to a directory on one", crate::support::SMALL_DISK_ENV);
            };
            super::full_disk::full_disk_loses_nothing_acknowledged(&backend).await;
        }

        #[tokio::test]
        async fn sigkill_child() {
            super::sigkill::sigkill_child::<$backend>().await;
        }

        #[tokio::test]
        async fn sigkill_mid_stream_loses_nothing_committed() {
            let this = module_path!().split_once("::").map_or("", |(_, m)| m);
            super::sigkill::sigkill_mid_stream_loses_nothing_committed(
                &<$backend as Backend>::fresh(),
                &format!("{this}::sigkill_child"),
            )
            .await;
        }
    };
    (@store $backend:ty; $($module:ident::$name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let backend = <$backend as Backend>::fresh();
                super::$module::$name(&backend.open()).await;
            }
        )*
    };
    (@backend $backend:ty; $($module:ident::$name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                super::$module::$name(&<$backend as Backend>::fresh()).await;
            }
        )*
    };
}

mod embedded {
    use super::*;
    suite!(Embedded);
}
