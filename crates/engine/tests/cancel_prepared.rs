//! A cancel against a delivery the dispatcher prepared ahead of its due time (issue
//! 11, item 7): the worker read the message and waits for the due time to send it,
//! while the store no longer holds it. A message whose cancel was answered is never
//! sent (`prepared.rs`).

mod support;

use std::time::Duration;

use depesha_core::filter::{Filter, Order};
use depesha_store::{LogStore, MessageStore};
use support::{Harness, Receiver, QUIET, USER};

#[tokio::test]
async fn a_cancel_answered_before_the_due_time_stops_the_prepared_delivery() {
    let receiver = Receiver::start().await;
    let harness = Harness::start();
    let delay = [("Upstash-Delay", "10s")];
    let cancelled = harness
        .publish(&receiver.url(), &delay, None, "cancelled")
        .await;
    harness.publish(&receiver.url(), &delay, None, "kept").await;

    // Closer to the due time than a delivery is prepared ahead of it (100 ms): both
    // deliveries are prepared, signed, and wait for it.
    harness.advance(Duration::from_millis(9_950));
    tokio::time::sleep(QUIET).await;
    assert!(
        receiver.bodies().is_empty(),
        "nothing is sent before it is due"
    );

    let ids = [cancelled.clone()];
    let n = harness
        .engine
        .cancel_messages(USER, &ids)
        .await
        .expect("cancel");
    assert_eq!(n, 1);

    harness.advance(Duration::from_secs(1));
    receiver.wait_for(1).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        receiver.bodies(),
        ["kept"],
        "the cancelled message was sent after its cancel was answered"
    );
    let reads = harness.engine.reads();
    assert_eq!(reads.message(USER, &cancelled).await.expect("read"), None);
    let logs = reads
        .log_page(USER, &Filter::default(), None, 100, Order::EarliestFirst)
        .await
        .expect("logs");
    let states: Vec<&str> = logs
        .items
        .iter()
        .filter(|e| e.message_id == cancelled)
        .map(|e| e.state.as_str())
        .collect();
    assert_eq!(states, ["CREATED", "CANCEL_REQUESTED", "CANCELED"]);
}

#[tokio::test]
async fn a_message_delivered_already_is_not_cancelled() {
    let receiver = Receiver::start().await;
    let harness = Harness::start();
    let id = harness.publish(&receiver.url(), &[], None, "sent").await;
    receiver.wait_for(1).await;
    support::eventually("the delivery recorded", || async {
        harness
            .engine
            .reads()
            .message(USER, &id)
            .await
            .ok()
            .flatten()
            .is_some_and(|m| m.state == depesha_core::message::MessageState::Delivered)
    })
    .await;

    let ids = [id];
    let n = harness
        .engine
        .cancel_messages(USER, &ids)
        .await
        .expect("cancel");
    assert_eq!(n, 0, "a delivered message is no longer cancellable");
}
