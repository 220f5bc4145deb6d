//! Queues on the manual clock (issue 11, item 7): a queue lets through as many
//! messages as its parallelism, in order; a paused queue lets none through until it
//! is resumed; deleting a queue cancels what it still holds (spec §3.7).

mod support;

use depesha_core::queue::QueueSettings;
use depesha_store::{MessageStore, QueueStore};
use support::{Harness, Receiver, QUIET, USER};

#[tokio::test]
async fn a_queue_lets_through_as_many_as_its_parallelism_in_order() {
    let receiver = Receiver::holding().await;
    let harness = Harness::start();
    let settings = QueueSettings::parse("q", Some(2), None).expect("settings");
    harness
        .engine
        .upsert_queue(USER, &settings)
        .await
        .expect("upsert");
    harness
        .publish_numbered(&receiver.url(), &[], Some("q"), 4)
        .await;

    receiver.wait_for(2).await;
    tokio::time::sleep(QUIET).await;
    let mut first_two = receiver.bodies();
    first_two.sort();
    assert_eq!(first_two, ["0", "1"], "not the queue's first two, or more");

    // One finishes: the next in line, and only it, starts.
    receiver.answer(1);
    receiver.wait_for(3).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(receiver.bodies()[2..], ["2"]);
    receiver.answer(3);
    receiver.wait_for(4).await;
    assert_eq!(receiver.bodies()[3..], ["3"]);
    assert_eq!(receiver.most_open(), 2);
}

#[tokio::test]
async fn a_paused_queue_holds_its_messages_until_resumed() {
    let receiver = Receiver::start().await;
    let harness = Harness::start();
    paused_queue(&harness, "p").await;
    harness
        .publish(&receiver.url(), &[], Some("p"), "held")
        .await;
    tokio::time::sleep(QUIET).await;
    assert!(receiver.bodies().is_empty(), "a paused queue delivered");

    harness
        .engine
        .set_queue_paused(USER, "p", false)
        .await
        .expect("resume");
    receiver.wait_for(1).await;
}

#[tokio::test]
async fn deleting_a_queue_cancels_what_it_still_holds() {
    let receiver = Receiver::start().await;
    let harness = Harness::start();
    paused_queue(&harness, "d").await;
    let first = harness.publish(&receiver.url(), &[], Some("d"), "a").await;
    let second = harness.publish(&receiver.url(), &[], Some("d"), "b").await;

    harness
        .engine
        .delete_queue(USER, "d")
        .await
        .expect("delete");

    let reads = harness.engine.reads();
    assert_eq!(reads.queue(USER, "d").await.expect("read"), None);
    for id in [&first, &second] {
        assert_eq!(
            reads.message(USER, id).await.expect("read"),
            None,
            "{id} kept"
        );
    }
    assert_eq!(
        harness
            .engine
            .cancel_messages(USER, &[first, second])
            .await
            .expect("cancel"),
        0,
        "nothing was left to cancel"
    );
    tokio::time::sleep(QUIET).await;
    assert!(receiver.bodies().is_empty());
}

/// Creates the queue `name`, paused, with parallelism 1.
async fn paused_queue(harness: &Harness, name: &str) {
    let paused = QueueSettings::parse(name, Some(1), Some(true)).expect("settings");
    harness
        .engine
        .upsert_queue(USER, &paused)
        .await
        .expect("upsert");
}
