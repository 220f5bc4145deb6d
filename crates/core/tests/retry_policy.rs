//! What follows an attempt (spec §7).

mod common;

use common::NOW;
use depesha_core::backoff::Backoff;
use depesha_core::delivery_failure::DeliveryFailure;
use depesha_core::header_map::HeaderMap;
use depesha_core::log::HttpResponse;
use depesha_core::message::Message;
use depesha_core::retry_policy::{next_step, AttemptResult, NextStep};
use std::time::Duration;

fn message(headers: &[(&str, &str)], retried: u32) -> Message {
    let mut m = common::message(headers);
    m.retried = retried;
    m
}

fn answer(status: u16, headers: &[(&str, &str)]) -> AttemptResult {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        depesha_core::header_map::append(&mut map, k, v);
    }
    AttemptResult::Response(HttpResponse {
        status,
        headers: map,
        body: Vec::new(),
    })
}

#[test]
fn any_2xx_is_a_delivery() {
    for status in [200, 201, 204, 299] {
        assert_eq!(
            next_step(
                &message(&[], 0),
                &answer(status, &[]),
                NOW,
                &Backoff::default()
            ),
            NextStep::Delivered
        );
    }
}

#[test]
fn failures_back_off_by_e_to_the_2_5_n_seconds() {
    let backoff = Backoff::default();
    assert_eq!(
        next_step(&message(&[], 0), &answer(500, &[]), NOW, &backoff),
        NextStep::RetryAt(NOW + 12_000)
    );
    assert_eq!(
        next_step(&message(&[], 1), &answer(302, &[]), NOW, &backoff),
        NextStep::RetryAt(NOW + 148_000)
    );
    let fast = Backoff {
        base: 2.5,
        unit: Duration::from_millis(10),
    };
    assert_eq!(
        next_step(
            &message(&[], 0),
            &AttemptResult::NoResponse(DeliveryFailure::Connect("refused".into())),
            NOW,
            &fast
        ),
        NextStep::RetryAt(NOW + 120)
    );
}

#[test]
fn the_last_attempt_fails_for_good() {
    let m = message(&[("Upstash-Retries", "2")], 2);
    assert_eq!(
        next_step(&m, &answer(500, &[]), NOW, &Backoff::default()),
        NextStep::Failed
    );
    let none = message(&[("Upstash-Retries", "0")], 0);
    assert_eq!(
        next_step(&none, &answer(500, &[]), NOW, &Backoff::default()),
        NextStep::Failed
    );
}

#[test]
fn a_retry_delay_expression_sees_retried_starting_at_zero() {
    let m = message(&[("Upstash-Retry-Delay", "1000 * (1 + retried)")], 0);
    assert_eq!(
        next_step(&m, &answer(500, &[]), NOW, &Backoff::default()),
        NextStep::RetryAt(NOW + 1000)
    );
    let m = message(&[("Upstash-Retry-Delay", "1000 * (1 + retried)")], 2);
    assert_eq!(
        next_step(&m, &answer(500, &[]), NOW, &Backoff::default()),
        NextStep::RetryAt(NOW + 3000)
    );
}

#[test]
fn retry_after_from_the_destination_wins() {
    let m = message(&[("Upstash-Retry-Delay", "60000")], 0);
    assert_eq!(
        next_step(
            &m,
            &answer(429, &[("Retry-After", "2")]),
            NOW,
            &Backoff::default()
        ),
        NextStep::RetryAt(NOW + 2000)
    );
    assert_eq!(
        next_step(
            &m,
            &answer(503, &[("Retry-After", "0")]),
            NOW,
            &Backoff::default()
        ),
        NextStep::RetryAt(NOW)
    );
    // Beyond a day it is ignored and the message's own delay applies.
    assert_eq!(
        next_step(
            &m,
            &answer(503, &[("Retry-After", "172800")]),
            NOW,
            &Backoff::default()
        ),
        NextStep::RetryAt(NOW + 60_000)
    );
}

#[test]
fn status_489_with_the_non_retryable_header_stops_at_once() {
    let m = message(&[("Upstash-Retries", "5")], 0);
    let stop = answer(489, &[("Upstash-NonRetryable-Error", "true")]);
    assert_eq!(
        next_step(&m, &stop, NOW, &Backoff::default()),
        NextStep::Failed
    );
    // Without the header, 489 is an ordinary failure.
    assert!(matches!(
        next_step(&m, &answer(489, &[]), NOW, &Backoff::default()),
        NextStep::RetryAt(_)
    ));
}
