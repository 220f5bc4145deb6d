//! Fair delivery (issue 10): a destination that accepts connections and never
//! answers holds at most `max_in_flight_per_destination` requests, a user at most
//! `max_in_flight_per_user`; due messages of other destinations and other users keep
//! flowing, and the messages held back stay pending (nothing is lost or failed).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{eventually, settle, Receiver, TestServer};
use depesha_store::MessageStore;
use tokio::net::TcpListener;

/// A destination that accepts every connection, reads nothing and never answers.
/// Counts the connections it accepted; they stay open while it lives.
struct Hanging {
    url: String,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Hanging {
    async fn start() -> Hanging {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                open.push(socket);
            }
        });
        Hanging {
            url: format!("http://{addr}/hang"),
            accepted,
            task,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const TIMEOUT: (&str, &str) = ("Upstash-Timeout", "1h");

#[tokio::test]
async fn a_hanging_destination_holds_only_its_share_and_other_destinations_keep_flowing() {
    let server = TestServer::builder()
        .config(|c| {
            c.engine.max_in_flight = 8;
            c.engine.max_in_flight_per_destination = 2;
            c.engine.max_in_flight_per_user = 8;
        })
        .start()
        .await;
    let hanging = Hanging::start().await;
    let receiver = Receiver::start().await;
    let (shop, billing) = (server.user(1), server.user(2));

    let mut held = Vec::new();
    for n in 0..40 {
        held.push(
            shop.publish_ok(&hanging.url, &[TIMEOUT], &n.to_string())
                .await,
        );
    }
    for n in 0..10 {
        shop.publish_ok(&receiver.url("/shop"), &[], &n.to_string())
            .await;
        billing
            .publish_ok(&receiver.url("/billing"), &[], &n.to_string())
            .await;
    }

    receiver.wait_for("/shop", 10).await;
    receiver.wait_for("/billing", 10).await;
    settle().await;
    assert_eq!(
        hanging.accepted(),
        2,
        "the hanging destination holds exactly its share of requests"
    );
    for id in &held {
        let message = shop.message(id).await.ok();
        assert_eq!(
            message["messageId"],
            id.as_str(),
            "still pending: {message}"
        );
    }
    assert_eq!(shop.dlq("").await["messages"], serde_json::json!([]));
}

#[tokio::test]
async fn a_user_holds_only_its_share_and_other_users_keep_flowing() {
    let server = TestServer::builder()
        .config(|c| {
            c.engine.max_in_flight = 8;
            c.engine.max_in_flight_per_destination = 8;
            c.engine.max_in_flight_per_user = 3;
        })
        .start()
        .await;
    let hanging = [
        Hanging::start().await,
        Hanging::start().await,
        Hanging::start().await,
    ];
    let receiver = Receiver::start().await;
    let (greedy, other) = (server.user(1), server.user(2));

    for n in 0..30 {
        let destination = &hanging[n % hanging.len()].url;
        greedy
            .publish_ok(destination, &[TIMEOUT], &n.to_string())
            .await;
    }
    for n in 0..10 {
        other
            .publish_ok(&receiver.url("/other"), &[], &n.to_string())
            .await;
    }

    receiver.wait_for("/other", 10).await;
    settle().await;
    let accepted: usize = hanging.iter().map(Hanging::accepted).sum();
    assert_eq!(accepted, 3, "the user holds exactly its share of requests");
}

/// A lane that gives back no slot for a while is stuck: beyond a few keys per slot,
/// the messages it holds back are deferred in the store (their due time moves back,
/// their attempt count does not), so that they cost no memory.
#[tokio::test]
async fn messages_held_back_by_a_stuck_destination_are_deferred_not_lost() {
    let server = TestServer::builder()
        .config(|c| {
            c.engine.max_in_flight = 4;
            c.engine.max_in_flight_per_destination = 1;
            c.engine.max_in_flight_per_user = 4;
        })
        .start()
        .await;
    let hanging = Hanging::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let owner = common::dev_user(1).id;

    let mut held = Vec::new();
    for n in 0..10 {
        held.push(
            user.publish_ok(&hanging.url, &[TIMEOUT], &n.to_string())
                .await,
        );
    }
    // Longer than a lane may give back nothing and still count as busy.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let late_from = server.now();
    let mut late = Vec::new();
    for n in 0..10 {
        late.push(
            user.publish_ok(&hanging.url, &[TIMEOUT], &n.to_string())
                .await,
        );
    }
    user.publish_ok(&receiver.url("/after"), &[], "x").await;
    receiver.wait_for("/after", 1).await;

    eventually("the late messages deferred in the store", || async {
        let store = &server.store;
        let mut deferred = true;
        for id in &late {
            let message = store.message(owner, id).await.ok().flatten();
            if !message.is_some_and(|m| m.due > late_from + 500 && m.retried == 0) {
                deferred = false;
                break;
            }
        }
        deferred.then_some(())
    })
    .await;
    assert_eq!(hanging.accepted(), 1);
    for id in held.iter().chain(&late) {
        let message = user.message(id).await.ok();
        assert_eq!(message["messageId"], id.as_str(), "{message}");
    }
    let events = user.events("").await;
    assert!(
        !events
            .iter()
            .any(|e| e["state"] == "ERROR" || e["state"] == "RETRY" || e["state"] == "FAILED"),
        "holding back is not an attempt: {events:#?}"
    );
}

/// A destination whose connections never open (its accept queue is full, so the
/// kernel drops the handshake) fails the attempt after `connect_timeout`, not after
/// the attempt's own timeout: it gives its slot back early.
#[tokio::test]
async fn a_connection_that_never_opens_fails_after_the_connect_timeout() {
    let server = TestServer::builder()
        .config(|c| c.engine.connect_timeout = std::time::Duration::from_millis(300))
        .start()
        .await;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let full = socket.listen(0).expect("listen");
    let addr = full.local_addr().expect("address");
    // Fill the accept queue, which nobody empties.
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(s);
        }
    }
    let user = server.user(1);
    let id = user
        .publish_ok(
            &format!("http://{addr}/never-opens"),
            &[TIMEOUT, ("Upstash-Retries", "0")],
            "x",
        )
        .await;
    let entry = user.wait_for_dlq_entry(&id).await;
    let events = user.events(&format!("messageId={id}")).await;
    let error = events
        .iter()
        .find(|e| e["state"] == "ERROR")
        .unwrap_or_else(|| panic!("an ERROR event: {events:#?} {entry}"));
    assert!(
        error["error"].as_str().unwrap_or("").contains("connect"),
        "the error says the connection did not open: {error}"
    );
}

/// A key taken out of parking whose message needs no slot any more (it was
/// cancelled meanwhile) gives back no slot: the lane's next parked key must still go.
#[tokio::test]
async fn a_cancelled_message_among_held_back_ones_does_not_stop_the_others() {
    let server = TestServer::builder()
        .config(|c| {
            c.engine.max_in_flight = 4;
            c.engine.max_in_flight_per_destination = 1;
        })
        .start()
        .await;
    let receiver = Receiver::start().await;
    receiver.always(
        "/slow",
        common::Answer::ok().after(std::time::Duration::from_millis(800)),
    );
    let user = server.user(1);

    user.publish_ok(&receiver.url("/slow"), &[], "first").await;
    receiver.wait_for("/slow", 1).await;
    let cancelled = user
        .publish_ok(&receiver.url("/slow"), &[], "cancelled")
        .await;
    user.publish_ok(&receiver.url("/slow"), &[], "last").await;
    settle().await; // both are held back behind the first
    user.delete(&format!("/v2/messages/{cancelled}")).await.ok();

    let got = receiver.wait_for("/slow", 2).await;
    let bodies: Vec<String> = got.iter().map(|r| r.body_text()).collect();
    assert_eq!(bodies, ["first", "last"]);
}
