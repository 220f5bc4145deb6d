//! The rules every backend applies inside its transaction (ARCHITECTURE.md, "Where
//! each rule lives"): which of a queue's items may be active (spec §3.7), what a
//! message becomes when its queue or its flow-control key lets it through (§3.10),
//! and how a schedule records the results of its last tick (§3.8).

mod common;

use common::{message, NOW};
use depesha_core::message::MessageState;
use depesha_core::queue::Queue;
use depesha_core::schedule::Schedule;

fn schedule(last_message_ids: &[&str]) -> Schedule {
    Schedule {
        user: "u".into(),
        id: "scd_x".into(),
        cron: "* * * * *".into(),
        destination: "http://127.0.0.1/".into(),
        headers: Vec::new(),
        body: Vec::new(),
        queue_name: None,
        caller_ip: None,
        created_at: NOW,
        paused: false,
        last_schedule_time: Some(NOW),
        next_schedule_time: NOW + 60_000,
        last_message_ids: last_message_ids.iter().map(|m| m.to_string()).collect(),
        last_results: Vec::new(),
        error: None,
    }
}

#[test]
fn a_running_queue_has_as_many_active_slots_as_its_parallelism_and_a_paused_one_none() {
    let mut queue = Queue::first_use("u", "q", NOW);
    assert_eq!(queue.active_slots(), 1);
    queue.parallelism = 5;
    assert_eq!(queue.active_slots(), 5);
    queue.paused = true;
    assert_eq!(queue.active_slots(), 0);
}

#[test]
fn an_admitted_message_is_pending_and_due_now_or_when_its_delay_ends() {
    let mut plain = message(&[]);
    plain.state = MessageState::Queued;
    plain.admit_from_queue(NOW + 5_000);
    assert_eq!(plain.state, MessageState::Pending);
    assert_eq!(plain.due, NOW + 5_000);

    let mut delayed = message(&[("Upstash-Delay", "1m")]);
    delayed.state = MessageState::Queued;
    delayed.admit_from_queue(NOW + 5_000);
    assert_eq!(delayed.state, MessageState::Pending);
    assert_eq!(
        delayed.due,
        NOW + 60_000,
        "the delay given at enqueue still holds"
    );
}

#[test]
fn a_released_message_is_pending_and_due_now() {
    let mut waiting = message(&[]);
    waiting.state = MessageState::Waiting;
    waiting.due = NOW;
    waiting.release_from_wait(NOW + 9_000);
    assert_eq!(waiting.state, MessageState::Pending);
    assert_eq!(waiting.due, NOW + 9_000);
}

#[test]
fn a_schedule_records_each_result_of_its_last_tick_once() {
    let mut s = schedule(&["msg_a", "msg_b"]);
    assert!(s.record_result("msg_a", true));
    assert!(
        !s.record_result("msg_a", false),
        "a second outcome of one message"
    );
    assert!(
        !s.record_result("msg_old", true),
        "a message of an earlier tick"
    );
    assert!(s.record_result("msg_b", false));
    assert_eq!(
        s.last_results,
        vec![("msg_a".to_string(), true), ("msg_b".to_string(), false)]
    );
}

#[test]
fn a_paused_schedule_is_in_no_tick_index() {
    let mut s = schedule(&[]);
    assert_eq!(s.indexed_at(), Some(NOW + 60_000));
    s.paused = true;
    assert_eq!(s.indexed_at(), None);
}
