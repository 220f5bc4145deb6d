//! Flow-control gates on the manual clock (issue 11, item 7): a key's parallelism
//! bounds the attempts in flight, its rate the attempts started per period; a pause
//! holds everything and a resume lets it go (spec §3.10).

mod support;

use std::time::Duration;

use depesha_core::flow_key::Pin;
use support::{Harness, Receiver, QUIET, USER};

const KEY: &str = "Upstash-Flow-Control-Key";
const VALUE: &str = "Upstash-Flow-Control-Value";

#[tokio::test]
async fn a_keys_parallelism_bounds_the_attempts_in_flight() {
    let receiver = Receiver::holding().await;
    let harness = Harness::start();
    let headers = [(KEY, "k"), (VALUE, "parallelism=2")];
    harness
        .publish_numbered(&receiver.url(), &headers, None, 5)
        .await;

    receiver.settles_at(2, "a third attempt started").await;
    assert_eq!(harness.engine.flow_counters(USER, "k").in_flight, 2);

    // Each answer frees one slot, taken by the next waiting message.
    receiver.answer(1);
    receiver.wait_for(3).await;
    receiver.answer(4);
    receiver.wait_for(5).await;
    assert_eq!(receiver.most_open(), 2);
}

#[tokio::test]
async fn a_keys_rate_admits_so_many_per_period_and_the_next_period_the_rest() {
    let receiver = Receiver::start().await;
    let harness = Harness::start();
    let headers = [(KEY, "r"), (VALUE, "rate=2,period=60s")];
    harness
        .publish_numbered(&receiver.url(), &headers, None, 5)
        .await;

    receiver
        .settles_at(2, "the rate let a third one start")
        .await;

    harness.advance(Duration::from_secs(60));
    receiver
        .settles_at(4, "the second period started too many")
        .await;

    harness.advance(Duration::from_secs(60));
    receiver.wait_for(5).await;
}

#[tokio::test]
async fn a_paused_key_holds_its_messages_until_resumed() {
    let receiver = Receiver::start().await;
    let harness = Harness::start();
    let headers = [(KEY, "p"), (VALUE, "parallelism=5")];
    harness
        .publish(&receiver.url(), &headers, None, "first")
        .await;
    receiver.wait_for(1).await;

    harness
        .engine
        .set_flow_paused(USER, "p", true)
        .await
        .expect("pause");
    harness
        .publish(&receiver.url(), &headers, None, "held")
        .await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(receiver.bodies(), ["first"], "a paused key delivered");

    harness
        .engine
        .set_flow_paused(USER, "p", false)
        .await
        .expect("resume");
    receiver.wait_for(2).await;
}

#[tokio::test]
async fn pinning_a_higher_parallelism_releases_the_waiting_messages() {
    let receiver = Receiver::holding().await;
    let harness = Harness::start();
    let headers = [(KEY, "q"), (VALUE, "parallelism=1")];
    harness
        .publish_numbered(&receiver.url(), &headers, None, 3)
        .await;
    receiver.settles_at(1, "parallelism 1 let two go").await;

    let pin = Pin {
        parallelism: Some(3),
        ..Pin::default()
    };
    harness.engine.pin_flow(USER, "q", &pin).await.expect("pin");
    receiver.wait_for(3).await;
    assert_eq!(receiver.open(), 3, "all three in flight at once");
    receiver.answer(3);
}
