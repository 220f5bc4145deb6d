//! Schedules: stored, listed in due order, and each tick fired once.

use depesha_core::refs::ScheduleRef;
use depesha_store::{Guard, Rejection, Store, Taken, Unit, UnitOutcome, Write};

use crate::common::{applied, made_due, A, B};
use crate::support::{commit_all, message, schedule};

async fn due_ticks(store: &impl Store, until: u64, limit: usize) -> Vec<(u64, ScheduleRef)> {
    store
        .due_schedules(until, limit)
        .await
        .expect("due schedules")
}

fn tick(at: u64, user: &str, id: &str) -> (u64, ScheduleRef) {
    (at, ScheduleRef::new(user, id))
}

pub async fn schedules_put_get_list_and_due_order(store: &impl Store) {
    let s1 = schedule(A, "s1", 300, false);
    let s2 = schedule(A, "s2", 100, false);
    let s3 = schedule(A, "s3", 200, true);
    let other = schedule(B, "s1", 100, false);
    commit_all(
        store,
        vec![Unit::new(vec![
            Write::PutSchedule(s1.clone()),
            Write::PutSchedule(s2.clone()),
            Write::PutSchedule(s3.clone()),
            Write::PutSchedule(other.clone()),
        ])],
    )
    .await;
    assert_eq!(
        store.schedule(A, "s1").await.expect("schedule"),
        Some(s1.clone())
    );
    assert_eq!(store.schedule(A, "s9").await.expect("schedule"), None);
    assert_eq!(
        store.schedules(A).await.expect("schedules"),
        vec![s1.clone(), s2.clone(), s3.clone()]
    );
    assert_eq!(
        store.schedules(B).await.expect("schedules"),
        vec![other.clone()]
    );

    // Earliest first (then user, id); paused ones are not due; `until` is inclusive.
    assert_eq!(
        due_ticks(store, 299, 10).await,
        vec![tick(100, A, "s2"), tick(100, B, "s1")]
    );
    assert_eq!(
        due_ticks(store, u64::MAX, 10).await,
        vec![tick(100, A, "s2"), tick(100, B, "s1"), tick(300, A, "s1")]
    );
    assert_eq!(
        due_ticks(store, u64::MAX, 1).await,
        vec![tick(100, A, "s2")]
    );
    assert_eq!(due_ticks(store, 99, 10).await, Vec::new());
    assert_eq!(due_ticks(store, u64::MAX, 0).await, Vec::new());

    // Resume s3, pause s1, move s2: the index follows.
    let mut resumed = s3;
    resumed.paused = false;
    let mut paused = s1;
    paused.paused = true;
    let mut moved = s2;
    moved.next_schedule_time = 400;
    moved.last_schedule_time = Some(100);
    commit_all(
        store,
        vec![Unit::new(vec![
            Write::PutSchedule(resumed.clone()),
            Write::PutSchedule(paused.clone()),
            Write::PutSchedule(moved.clone()),
        ])],
    )
    .await;
    assert_eq!(
        due_ticks(store, u64::MAX, 10).await,
        vec![tick(100, B, "s1"), tick(200, A, "s3"), tick(400, A, "s2")]
    );
    assert_eq!(
        store.schedule(A, "s1").await.expect("schedule"),
        Some(paused)
    );

    // Delete removes the record and its tick.
    commit_all(
        store,
        vec![Unit::new(vec![
            Write::DeleteSchedule {
                user: A.into(),
                id: "s2".into(),
            },
            Write::DeleteSchedule {
                user: A.into(),
                id: "s1".into(),
            },
            Write::DeleteSchedule {
                user: A.into(),
                id: "never".into(),
            },
        ])],
    )
    .await;
    assert_eq!(store.schedule(A, "s2").await.expect("schedule"), None);
    assert_eq!(store.schedules(A).await.expect("schedules"), vec![resumed]);
    assert_eq!(
        due_ticks(store, u64::MAX, 10).await,
        vec![tick(100, B, "s1"), tick(200, A, "s3")]
    );
}

fn schedule_at(user: &str, id: &str, at: u64) -> Guard {
    Guard::ScheduleAt {
        user: user.into(),
        id: id.into(),
        next_schedule_time: at,
    }
}

/// A tick of `s` at its current next time: moves it on and publishes one message.
fn fire(s: &depesha_core::schedule::Schedule, message_id: &str) -> Unit {
    let mut next = s.clone();
    next.last_schedule_time = Some(s.next_schedule_time);
    next.next_schedule_time = s.next_schedule_time + 60_000;
    next.last_message_ids = vec![message_id.into()];
    let mut produced = message(&s.user, message_id, s.next_schedule_time);
    produced.schedule_id = Some(s.id.clone());
    Unit::guarded(
        schedule_at(&s.user, &s.id, s.next_schedule_time),
        vec![Write::PutSchedule(next), Write::PutMessage(produced)],
    )
}

pub async fn schedule_at_fires_each_tick_once(store: &impl Store) {
    let s = schedule(A, "s", 1_000, false);
    commit_all(store, vec![Unit::new(vec![Write::PutSchedule(s.clone())])]).await;
    // Two schedulers race on one tick, in one commit and in a later one.
    let outcomes = store
        .commit(vec![fire(&s, "first"), fire(&s, "second")])
        .await
        .expect("commit");
    assert_eq!(
        outcomes,
        vec![
            made_due(Taken::Nothing, &[(1_000, A, "first")]),
            UnitOutcome::Rejected(Rejection::NotFound)
        ]
    );
    assert_eq!(
        store.commit(vec![fire(&s, "third")]).await.expect("commit"),
        vec![UnitOutcome::Rejected(Rejection::NotFound)]
    );
    assert!(store.message(A, "first").await.expect("read").is_some());
    assert_eq!(store.message(A, "second").await.expect("read"), None);
    assert_eq!(store.message(A, "third").await.expect("read"), None);
    let now = store
        .schedule(A, "s")
        .await
        .expect("read")
        .expect("present");
    assert_eq!(now.next_schedule_time, 61_000);
    assert_eq!(
        due_ticks(store, u64::MAX, 10).await,
        vec![tick(61_000, A, "s")]
    );

    // The next tick holds; a paused, missing or other user's schedule does not.
    let mut paused = now.clone();
    paused.paused = true;
    let missing = Unit::guarded(schedule_at(A, "nope", 61_000), Vec::new());
    let other_user = Unit::guarded(schedule_at(B, "s", 61_000), Vec::new());
    let outcomes = store
        .commit(vec![
            missing,
            other_user,
            Unit::new(vec![Write::PutSchedule(paused.clone())]),
            fire(&now, "paused"),
        ])
        .await
        .expect("commit");
    assert_eq!(
        outcomes,
        vec![
            UnitOutcome::Rejected(Rejection::NotFound),
            UnitOutcome::Rejected(Rejection::NotFound),
            applied(Taken::Nothing),
            UnitOutcome::Rejected(Rejection::NotFound),
        ]
    );
    let outcomes = store
        .commit(vec![
            Unit::new(vec![Write::PutSchedule(now.clone())]),
            fire(&now, "resumed"),
        ])
        .await
        .expect("commit");
    assert_eq!(
        outcomes,
        vec![
            applied(Taken::Nothing),
            made_due(Taken::Nothing, &[(61_000, A, "resumed")])
        ]
    );
}
