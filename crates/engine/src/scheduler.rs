//! Schedules' ticks (spec §3.8): a background loop that publishes each due schedule's
//! stored request as new messages carrying the schedule's id.
//!
//! The store indexes unpaused schedules by their next tick. Each pass asks it for the
//! ticks due by now and, for each schedule, commits **one** unit:
//!
//! - guard `ScheduleAt { next_schedule_time: <the tick> }` — the unit applies only if
//!   the schedule still exists, is not paused and has not fired that tick yet;
//! - the messages of a publish of the stored headers and body to the stored destination
//!   (planned exactly like `POST /v2/publish`, or `/v2/enqueue` when the schedule has a
//!   queue), with `schedule_id` set, so deliveries carry `Upstash-Schedule-Id`;
//! - the schedule itself, moved on: `lastScheduleTime` = the tick, the new message ids
//!   (for `lastScheduleStates`), no error, and the next tick.
//!
//! Because the tick and its messages are one durable unit guarded by the tick, a tick
//! fires once: a crash before the commit fires it after the restart, a crash after it
//! does not fire it again, and two schedulers over one store (later, several nodes)
//! cannot both fire it.
//!
//! **Missed ticks collapse.** The next tick is the first one after `max(tick, now)`.
//! After a downtime (or a pause of the process) a schedule fires once for all the
//! ticks it missed, then continues on its cron; it never replays one message per
//! missed minute.
//!
//! **Failed ticks still advance.** When a tick cannot produce messages — its URL group
//! no longer exists or has no endpoints, or its stored headers are invalid under the
//! server's current limits — the schedule moves on to its next tick with `error` set
//! (shown by `GET /v2/schedules/{id}`) and no messages. A store error, on the other
//! hand, leaves the tick due, so it is tried again on the next pass.
//!
//! The loop sleeps until the earliest next tick, at most one second, using the engine's
//! [`Clock`](crate::Clock): a test on a manual clock advances time and the loop notices.

use depesha_core::cron::{next_tick, no_next_tick_reason, NEVER};
use depesha_core::destination::Destination;
use depesha_core::schedule::Schedule;
use depesha_core::UnixMillis;
use depesha_store::{Guard, Unit, Write};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::publisher::{Plan, PlanError, PublishPolicy, PublishRequest};

/// Ticks handled per pass; a larger backlog is worked off in further passes at once.
const TICKS_PER_PASS: usize = 256;

/// The loop looks at the store at least this often (ms), to see schedules created or
/// resumed since it went to sleep.
const MAX_SLEEP_MS: u64 = 1_000;

/// After a store error, wait this long (ms) before the next pass.
const ERROR_PAUSE_MS: u64 = 1_000;

impl Engine {
    /// Starts the loop that fires schedules' ticks, publishing under `policy` (the
    /// server's limits, the same as for `POST /v2/publish`). Call once per engine.
    pub fn start_scheduler(&self, policy: PublishPolicy) {
        let engine = self.task_handle();
        self.inner_tasks().spawn(run(engine, policy));
    }
}

async fn run(engine: Engine, policy: PublishPolicy) {
    loop {
        let now = engine.clock().now();
        let wake = match pass(&engine, &policy, now).await {
            Ok(Pass::More) => continue,
            Ok(Pass::Done) => match engine.store().due_schedules(now + MAX_SLEEP_MS, 1).await {
                Ok(next) => next
                    .first()
                    .map_or(now + MAX_SLEEP_MS, |(tick, _)| *tick)
                    .clamp(now + 1, now + MAX_SLEEP_MS),
                Err(e) => {
                    tracing::warn!("could not read the schedule index (will retry): {e}");
                    now + ERROR_PAUSE_MS
                }
            },
            Err(EngineError::ShuttingDown) => return,
            Err(e) => {
                tracing::warn!("firing schedules failed (will retry): {e}");
                now + ERROR_PAUSE_MS
            }
        };
        let stop = engine.stop_signal();
        tokio::select! {
            _ = stop.stopped() => return,
            _ = engine.clock().sleep_until(wake) => {}
        }
    }
}

enum Pass {
    /// A full slice was handled: more ticks may be due.
    More,
    Done,
}

/// Fires every tick due at `now` (up to [`TICKS_PER_PASS`]).
async fn pass(
    engine: &Engine,
    policy: &PublishPolicy,
    now: UnixMillis,
) -> Result<Pass, EngineError> {
    let due = engine.store().due_schedules(now, TICKS_PER_PASS).await?;
    if due.is_empty() {
        return Ok(Pass::Done);
    }
    let full = due.len() >= TICKS_PER_PASS;
    let mut plans = Vec::new();
    let mut failed = Vec::new();
    for (tick, due) in due {
        let Some(schedule) = engine.store().schedule(due.user.as_str(), &due.id).await? else {
            continue; // deleted since the index was read
        };
        if schedule.paused || schedule.next_schedule_time != tick {
            continue; // changed since the index was read
        }
        match tick_plan(engine, policy, &schedule, tick, now).await {
            Ok(plan) => plans.push(plan),
            Err(PlanError::Store(e)) => return Err(e.into()), // tried again next pass
            Err(e) => {
                tracing::info!(
                    user = due.user.as_str(),
                    schedule = due.id.as_str(),
                    "schedule tick produced no message: {e}"
                );
                failed.push(tick_unit(
                    advanced(schedule, tick, now, Vec::new(), Some(e.to_string())),
                    tick,
                ));
            }
        }
    }
    if !failed.is_empty() {
        engine.commit(failed).await?;
    }
    if !plans.is_empty() {
        engine.accept(plans).await?;
    }
    Ok(if full { Pass::More } else { Pass::Done })
}

/// The publish of one tick, guarded by the tick and moving the schedule on.
async fn tick_plan(
    engine: &Engine,
    policy: &PublishPolicy,
    schedule: &Schedule,
    tick: UnixMillis,
    now: UnixMillis,
) -> Result<Plan, PlanError> {
    let destination = Destination::parse(&schedule.destination, &policy.limits.destinations)?;
    let mut plan = engine
        .plan(
            PublishRequest {
                user: &schedule.user,
                destination: &destination,
                headers: schedule.headers.clone(),
                body: schedule.body.clone(),
                caller_ip: schedule.caller_ip.clone(),
                queue: schedule.queue_name.as_deref(),
                schedule_id: Some(&schedule.id),
            },
            policy,
        )
        .await?;
    let ids = plan.receipts.iter().map(|r| r.message_id.clone()).collect();
    let moved = tick_unit(advanced(schedule.clone(), tick, now, ids, None), tick);
    // Schedules store no deduplication headers, so the plan has no guard of its own
    // to lose: the tick's guard takes its place.
    plan.unit.guard = moved.guard;
    plan.unit.writes.extend(moved.writes);
    Ok(plan)
}

/// The unit that moves a schedule past `tick`, if `tick` is still its next one.
fn tick_unit(updated: Schedule, tick: UnixMillis) -> Unit {
    Unit::guarded(
        Guard::ScheduleAt {
            user: updated.user.clone(),
            id: updated.id.clone(),
            next_schedule_time: tick,
        },
        vec![Write::PutSchedule(updated)],
    )
}

/// The schedule after firing `tick` at `now`: missed ticks collapse into this one.
fn advanced(
    mut schedule: Schedule,
    tick: UnixMillis,
    now: UnixMillis,
    message_ids: Vec<String>,
    error: Option<String>,
) -> Schedule {
    schedule.last_schedule_time = Some(tick);
    schedule.last_message_ids = message_ids;
    schedule.last_results.clear();
    // Runs on the async loop, which is fine because it is small and bounded: the
    // cron was validated when stored, re-parsing it is linear in its 512 bytes at
    // most, and the search takes at most `cron::MAX_SEARCH_STEPS` calendar steps.
    schedule.next_schedule_time = next_tick(&schedule.cron, tick.max(now));
    schedule.error = error.or_else(|| {
        (schedule.next_schedule_time == NEVER).then(|| no_next_tick_reason(&schedule.cron))
    });
    schedule
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(cron: &str) -> Schedule {
        Schedule {
            user: "u".into(),
            id: "s".into(),
            cron: cron.into(),
            destination: "https://example.com".into(),
            headers: Vec::new(),
            body: Vec::new(),
            queue_name: None,
            caller_ip: None,
            created_at: 0,
            paused: false,
            last_schedule_time: None,
            next_schedule_time: 60_000,
            last_message_ids: Vec::new(),
            last_results: Vec::new(),
            error: Some("old".into()),
        }
    }

    #[test]
    fn a_tick_on_time_moves_to_the_next_one() {
        let s = advanced(
            schedule("* * * * *"),
            60_000,
            60_100,
            vec!["m".into()],
            None,
        );
        assert_eq!(s.last_schedule_time, Some(60_000));
        assert_eq!(s.next_schedule_time, 120_000);
        assert_eq!(s.last_message_ids, vec!["m".to_string()]);
        assert_eq!(s.error, None);
    }

    #[test]
    fn missed_ticks_collapse_into_one() {
        // Fired ten minutes late: the next tick is after now, not the missed ones.
        let s = advanced(schedule("* * * * *"), 60_000, 660_500, Vec::new(), None);
        assert_eq!(s.last_schedule_time, Some(60_000));
        assert_eq!(s.next_schedule_time, 720_000);
    }

    #[test]
    fn a_failed_tick_advances_with_its_error() {
        let s = advanced(
            schedule("*/5 * * * *"),
            60_000,
            60_000,
            Vec::new(),
            Some("URL group \"g\" not found".into()),
        );
        assert_eq!(s.next_schedule_time, 300_000);
        assert_eq!(s.error.as_deref(), Some("URL group \"g\" not found"));
    }

    #[test]
    fn a_cron_that_never_fires_again_is_parked() {
        let s = advanced(schedule("0 0 30 2 *"), 60_000, 60_000, Vec::new(), None);
        assert_eq!(s.next_schedule_time, NEVER);
        assert!(s.error.is_some());
    }
}
