//! Spec §3.2 and §3.7: queues. Enqueueing creates a queue on first use with
//! parallelism 1; a queue is FIFO and lets at most `parallelism` messages be active at
//! once, a message being active until it is delivered or failed *and* its callbacks
//! are done; a paused queue accepts but delivers nothing; `lag` counts the unfinished
//! messages. Queues are per user (Appendix B).

mod common;

use std::time::Duration;

use common::{
    eventually, ids_of, now_ms, settle, Answer, Api, Receiver, Recorded, Reply, TestServer,
};
use serde_json::{json, Value};

/// How long a "slow" receiver takes to answer.
const SLOW: Duration = Duration::from_millis(150);

/// `POST /v2/queues` with `body`.
async fn upsert(user: &Api, body: Value) -> Reply {
    user.post(
        "/v2/queues",
        &[("Content-Type", "application/json")],
        &body.to_string(),
    )
    .await
}

/// `GET /v2/queues/{name}`.
async fn get_queue(user: &Api, name: &str) -> Reply {
    user.get(&format!("/v2/queues/{name}")).await
}

/// `POST /v2/enqueue/{queue}/{destination}`.
async fn enqueue(
    user: &Api,
    queue: &str,
    destination: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    user.post(&format!("/v2/enqueue/{queue}/{destination}"), headers, body)
        .await
}

/// Enqueues and asserts success; returns the message id.
async fn enqueue_ok(user: &Api, queue: &str, url: &str, body: &str) -> String {
    enqueue(user, queue, url, &[], body).await.message_id()
}

async fn lag(user: &Api, queue: &str) -> u64 {
    let q = get_queue(user, queue).await.ok();
    q["lag"]
        .as_u64()
        .unwrap_or_else(|| panic!("lag is a number: {q}"))
}

/// Waits until the queue's lag is `n`.
async fn wait_for_lag(user: &Api, queue: &str, n: u64) {
    eventually(&format!("lag {n} on queue {queue}"), || async {
        (lag(user, queue).await == n).then_some(())
    })
    .await
}

async fn pause(user: &Api, queue: &str) {
    user.post(&format!("/v2/queues/{queue}/pause"), &[], "")
        .await
        .ok();
}

async fn resume(user: &Api, queue: &str) {
    user.post(&format!("/v2/queues/{queue}/resume"), &[], "")
        .await
        .ok();
}

fn bodies(requests: &[Recorded]) -> Vec<String> {
    requests.iter().map(Recorded::body_text).collect()
}

#[tokio::test]
async fn upsert_creates_a_queue_that_shows_all_six_fields() {
    let server = TestServer::start().await;
    let user = server.user(1);
    let before = now_ms();

    let reply = upsert(
        &user,
        json!({ "queueName": "orders", "parallelism": 3, "paused": false }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let q = get_queue(&user, "orders").await.ok();
    let mut keys: Vec<&str> = q
        .as_object()
        .expect("a queue object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "createdAt",
            "lag",
            "name",
            "parallelism",
            "paused",
            "updatedAt"
        ]
    );
    assert_eq!(q["name"], "orders");
    assert_eq!(q["parallelism"], 3);
    assert_eq!(q["lag"], 0);
    assert_eq!(q["paused"], false);
    let created = q["createdAt"].as_u64().expect("createdAt in ms");
    assert!(created >= before && created <= now_ms(), "{q}");
    assert!(q["updatedAt"].as_u64().expect("updatedAt in ms") >= created);
}

#[tokio::test]
async fn upsert_updates_an_existing_queue_and_keeps_its_creation_time() {
    let server = TestServer::start().await;
    let user = server.user(1);
    upsert(
        &user,
        json!({ "queueName": "q", "parallelism": 1, "paused": false }),
    )
    .await
    .ok();
    let created = get_queue(&user, "q").await.ok()["createdAt"].clone();
    tokio::time::sleep(Duration::from_millis(5)).await;

    upsert(
        &user,
        json!({ "queueName": "q", "parallelism": 4, "paused": true }),
    )
    .await
    .ok();

    let q = get_queue(&user, "q").await.ok();
    assert_eq!(q["parallelism"], 4);
    assert_eq!(q["paused"], true);
    assert_eq!(q["createdAt"], created);
    assert!(q["updatedAt"].as_u64() > created.as_u64(), "{q}");
}

#[tokio::test]
async fn the_list_shows_every_queue_of_the_user_with_all_fields() {
    let server = TestServer::start().await;
    let user = server.user(1);
    for name in ["first", "second"] {
        upsert(
            &user,
            json!({ "queueName": name, "parallelism": 2, "paused": true }),
        )
        .await
        .ok();
    }

    let list = user.get("/v2/queues").await.ok();

    let mut names = ids_of(&list, "name");
    names.sort();
    assert_eq!(names, ["first", "second"]);
    for q in list.as_array().expect("array") {
        assert_eq!(q["parallelism"], 2, "{q}");
        assert_eq!(q["paused"], true, "{q}");
        assert_eq!(q["lag"], 0, "{q}");
        assert!(q["createdAt"].is_u64() && q["updatedAt"].is_u64(), "{q}");
    }
}

#[tokio::test]
async fn an_unknown_queue_is_404() {
    let server = TestServer::start().await;
    let user = server.user(1);
    get_queue(&user, "nope").await.error(404);
    user.post("/v2/queues/nope/pause", &[], "").await.error(404);
    user.post("/v2/queues/nope/resume", &[], "")
        .await
        .error(404);
}

#[tokio::test]
async fn enqueue_creates_the_queue_on_first_use_with_parallelism_1() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let reply = enqueue(&user, "fresh", &receiver.url("/fresh"), &[], "hi").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let id = reply.message_id();

    let q = get_queue(&user, "fresh").await.ok();
    assert_eq!(q["name"], "fresh");
    assert_eq!(q["parallelism"], 1);
    assert_eq!(q["paused"], false);
    let got = receiver.wait_for("/fresh", 1).await.remove(0);
    assert_eq!(got.header("upstash-message-id"), Some(id.as_str()));
    assert_eq!(got.body_text(), "hi");
    assert_eq!(user.message(&id).await.ok()["queueName"], "fresh");
}

#[tokio::test]
async fn with_parallelism_1_messages_are_delivered_one_at_a_time_in_enqueue_order() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/fifo", Answer::ok().after(SLOW));
    let user = server.user(1);

    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(enqueue_ok(&user, "line", &receiver.url("/fifo"), &i.to_string()).await);
    }

    let got = receiver.wait_for("/fifo", 5).await;
    assert_eq!(bodies(&got), ["0", "1", "2", "3", "4"]);
    let arrived: Vec<String> = got
        .iter()
        .map(|r| {
            r.header("upstash-message-id")
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(arrived, ids);
    assert_eq!(receiver.max_concurrency("/fifo"), 1);
}

#[tokio::test]
async fn with_parallelism_2_at_most_two_messages_are_delivered_at_once() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/duo", Answer::ok().after(Duration::from_millis(300)));
    let user = server.user(1);
    upsert(
        &user,
        json!({ "queueName": "duo", "parallelism": 2, "paused": false }),
    )
    .await
    .ok();

    for i in 0..6 {
        enqueue_ok(&user, "duo", &receiver.url("/duo"), &i.to_string()).await;
    }

    let got = receiver.wait_for("/duo", 6).await;
    let mut delivered = bodies(&got);
    delivered.sort();
    assert_eq!(delivered, ["0", "1", "2", "3", "4", "5"]);
    assert_eq!(receiver.max_concurrency("/duo"), 2);
}

#[tokio::test]
async fn raising_the_parallelism_of_a_busy_queue_lets_more_messages_run_at_once() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/raise", Answer::ok().after(Duration::from_millis(400)));
    let user = server.user(1);
    for i in 0..4 {
        enqueue_ok(&user, "grow", &receiver.url("/raise"), &i.to_string()).await;
    }
    receiver.wait_for("/raise", 1).await;

    upsert(
        &user,
        json!({ "queueName": "grow", "parallelism": 3, "paused": false }),
    )
    .await
    .ok();

    receiver.wait_for("/raise", 4).await;
    assert_eq!(receiver.max_concurrency("/raise"), 3);
}

#[tokio::test]
async fn a_failing_message_holds_the_queue_until_it_has_failed() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/fail", Answer::status(500));
    let user = server.user(1);
    let failing = enqueue(
        &user,
        "strict",
        &receiver.url("/fail"),
        &[("Upstash-Retries", "1"), ("Upstash-Retry-Delay", "200")],
        "doomed",
    )
    .await
    .message_id();
    let next = enqueue_ok(&user, "strict", &receiver.url("/next"), "next").await;

    let got = receiver.wait_for("/next", 1).await.remove(0);
    // The failed message is in the DLQ by the time the next one arrives.
    let entry = user
        .dlq("count=100")
        .await
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .find(|e| e["messageId"] == failing.as_str())
                .cloned()
        });
    assert!(entry.is_some(), "no DLQ entry for {failing} yet");
    let attempts = receiver.requests_to("/fail");
    assert_eq!(attempts.len(), 2, "both attempts before the next message");
    let last_answered = attempts[1].answered.expect("the last attempt was answered");
    assert!(
        got.at >= last_answered,
        "the next message started too early"
    );
    assert_eq!(got.header("upstash-message-id"), Some(next.as_str()));
    let states = user.states_of(&failing).await;
    assert_eq!(
        states.last().map(String::as_str),
        Some("FAILED"),
        "{states:?}"
    );
}

#[tokio::test]
async fn the_next_message_starts_only_after_the_callback_of_the_current_one_finished() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/cb", Answer::ok().after(Duration::from_millis(400)));
    let user = server.user(1);
    let callback = receiver.url("/cb");

    enqueue(
        &user,
        "with-callbacks",
        &receiver.url("/q1"),
        &[("Upstash-Callback", callback.as_str())],
        "one",
    )
    .await
    .message_id();
    enqueue_ok(&user, "with-callbacks", &receiver.url("/q2"), "two").await;

    let second = receiver.wait_for("/q2", 1).await.remove(0);
    let cb = receiver.requests_to("/cb");
    assert_eq!(cb.len(), 1, "the callback ran before the next message");
    let cb_answered = cb[0].answered.expect("the callback was answered");
    assert!(
        second.at >= cb_answered,
        "the next queue message started while the callback was still running"
    );
    let first = receiver.requests_to("/q1").remove(0);
    assert!(cb[0].at >= first.answered.expect("answered"));
}

#[tokio::test]
async fn the_next_message_waits_for_the_failure_callback_of_a_failed_one() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/broken", Answer::status(500));
    receiver.always("/fcb", Answer::ok().after(Duration::from_millis(400)));
    let user = server.user(1);
    let failure_callback = receiver.url("/fcb");

    enqueue(
        &user,
        "with-failure-callback",
        &receiver.url("/broken"),
        &[
            ("Upstash-Retries", "0"),
            ("Upstash-Failure-Callback", failure_callback.as_str()),
        ],
        "broken",
    )
    .await
    .message_id();
    enqueue_ok(
        &user,
        "with-failure-callback",
        &receiver.url("/after-fcb"),
        "next",
    )
    .await;

    let next = receiver.wait_for("/after-fcb", 1).await.remove(0);
    let fcb = receiver.requests_to("/fcb");
    assert_eq!(
        fcb.len(),
        1,
        "the failure callback ran before the next message"
    );
    assert!(
        next.at >= fcb[0].answered.expect("the failure callback was answered"),
        "the next queue message started while the failure callback was still running"
    );
}

#[tokio::test]
async fn the_next_message_waits_for_both_the_callback_and_the_failure_callback() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/broken2", Answer::status(500));
    receiver.always("/slow-cb", Answer::ok().after(Duration::from_millis(600)));
    let user = server.user(1);
    let callback = receiver.url("/slow-cb");
    let failure_callback = receiver.url("/quick-fcb");

    enqueue(
        &user,
        "with-both",
        &receiver.url("/broken2"),
        &[
            ("Upstash-Retries", "0"),
            ("Upstash-Callback", callback.as_str()),
            ("Upstash-Failure-Callback", failure_callback.as_str()),
        ],
        "broken",
    )
    .await
    .message_id();
    enqueue_ok(&user, "with-both", &receiver.url("/after-both"), "next").await;

    let next = receiver.wait_for("/after-both", 1).await.remove(0);
    for path in ["/slow-cb", "/quick-fcb"] {
        let cb = receiver.requests_to(path);
        assert_eq!(cb.len(), 1, "{path} ran before the next message");
        let answered = cb[0].answered;
        assert!(
            answered.is_some_and(|a| next.at >= a),
            "the next queue message started while {path} was still running"
        );
    }
}

#[tokio::test]
async fn a_paused_queue_accepts_but_delivers_nothing_until_resumed_and_lag_counts_the_waiting() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    upsert(
        &user,
        json!({ "queueName": "held", "parallelism": 1, "paused": true }),
    )
    .await
    .ok();

    for i in 0..3 {
        let reply = enqueue(&user, "held", &receiver.url("/held"), &[], &i.to_string()).await;
        assert_eq!(
            reply.status,
            200,
            "a paused queue accepts: {}",
            reply.text()
        );
    }
    // A control message outside the queue is delivered in the same time.
    user.publish_ok(&receiver.url("/control"), &[], "c").await;
    receiver.wait_for("/control", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert!(receiver.requests_to("/held").is_empty());
    let q = get_queue(&user, "held").await.ok();
    assert_eq!(q["paused"], true);
    assert_eq!(q["lag"], 3);

    resume(&user, "held").await;

    let got = receiver.wait_for("/held", 3).await;
    assert_eq!(bodies(&got), ["0", "1", "2"]);
    wait_for_lag(&user, "held", 0).await;
    assert_eq!(get_queue(&user, "held").await.ok()["paused"], false);
}

#[tokio::test]
async fn pausing_a_running_queue_stops_its_next_messages() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/run", Answer::ok().after(Duration::from_millis(300)));
    let user = server.user(1);

    enqueue_ok(&user, "run", &receiver.url("/run"), "0").await;
    receiver.wait_for("/run", 1).await;
    pause(&user, "run").await;
    pause(&user, "run").await; // idempotent
    enqueue_ok(&user, "run", &receiver.url("/run"), "1").await;
    enqueue_ok(&user, "run", &receiver.url("/run"), "2").await;
    wait_for_lag(&user, "run", 2).await;
    settle().await;

    assert_eq!(receiver.requests_to("/run").len(), 1);
    resume(&user, "run").await;
    resume(&user, "run").await; // idempotent
    let got = receiver.wait_for("/run", 3).await;
    assert_eq!(bodies(&got), ["0", "1", "2"]);
}

#[tokio::test]
async fn cancelling_a_queued_message_removes_it_and_the_rest_continue() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    upsert(
        &user,
        json!({ "queueName": "c", "parallelism": 1, "paused": true }),
    )
    .await
    .ok();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(enqueue_ok(&user, "c", &receiver.url("/c"), &i.to_string()).await);
    }
    assert_eq!(lag(&user, "c").await, 3);

    let reply = user.delete(&format!("/v2/messages/{}", ids[1])).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "cancelled": 1 }));
    assert_eq!(lag(&user, "c").await, 2);
    user.message(&ids[1]).await.error(404);

    resume(&user, "c").await;
    let got = receiver.wait_for("/c", 2).await;
    assert_eq!(bodies(&got), ["0", "2"]);
    settle().await;
    assert_eq!(receiver.requests_to("/c").len(), 2);
    wait_for_lag(&user, "c", 0).await;
    let states = user.states_of(&ids[1]).await;
    assert!(states.iter().any(|s| s == "CANCELED"), "{states:?}");
}

#[tokio::test]
async fn cancelling_the_head_of_a_running_queue_while_it_waits_for_a_retry_lets_the_next_through() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/head", Answer::status(500));
    let user = server.user(1);
    // The head fails once and then waits an hour for its retry, still holding the queue.
    let head = enqueue(
        &user,
        "blocked",
        &receiver.url("/head"),
        &[("Upstash-Retries", "3"), ("Upstash-Retry-Delay", "3600000")],
        "head",
    )
    .await
    .message_id();
    enqueue_ok(&user, "blocked", &receiver.url("/behind"), "behind").await;
    user.wait_for_state(&head, "RETRY").await;
    settle().await;
    assert!(receiver.requests_to("/behind").is_empty());
    assert_eq!(lag(&user, "blocked").await, 2);

    user.delete(&format!("/v2/messages/{head}")).await.ok();

    receiver.wait_for("/behind", 1).await;
    assert_eq!(receiver.requests_to("/head").len(), 1);
    wait_for_lag(&user, "blocked", 0).await;
}

#[tokio::test]
async fn bulk_cancel_removes_queued_messages_from_their_queue() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    upsert(
        &user,
        json!({ "queueName": "bulk", "parallelism": 1, "paused": true }),
    )
    .await
    .ok();
    for i in 0..3 {
        enqueue_ok(&user, "bulk", &receiver.url("/bulk"), &i.to_string()).await;
    }

    let reply = user.delete("/v2/messages").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "cancelled": 3 }));

    assert_eq!(lag(&user, "bulk").await, 0);
    resume(&user, "bulk").await;
    enqueue_ok(&user, "bulk", &receiver.url("/after"), "after").await;
    receiver.wait_for("/after", 1).await;
    assert!(receiver.requests_to("/bulk").is_empty());
}

#[tokio::test]
async fn deleting_a_queue_cancels_its_waiting_messages() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    upsert(
        &user,
        json!({ "queueName": "gone", "parallelism": 1, "paused": true }),
    )
    .await
    .ok();
    let ids = [
        enqueue_ok(&user, "gone", &receiver.url("/gone"), "0").await,
        enqueue_ok(&user, "gone", &receiver.url("/gone"), "1").await,
    ];

    let reply = user.delete("/v2/queues/gone").await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    get_queue(&user, "gone").await.error(404);
    let list = user.get("/v2/queues").await.ok();
    assert!(ids_of(&list, "name").is_empty(), "{list}");
    for id in &ids {
        user.message(id).await.error(404);
        let states = user.states_of(id).await;
        assert!(states.iter().any(|s| s == "CANCELED"), "{id}: {states:?}");
    }
    // A new queue of the same name starts empty and runs.
    enqueue_ok(&user, "gone", &receiver.url("/again"), "new").await;
    receiver.wait_for("/again", 1).await;
    settle().await;
    assert!(receiver.requests_to("/gone").is_empty());
}

#[tokio::test]
async fn a_batch_item_with_a_queue_is_enqueued() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    upsert(
        &user,
        json!({ "queueName": "bq", "parallelism": 1, "paused": true }),
    )
    .await
    .ok();

    let answer = user
        .batch(&json!([
            { "destination": receiver.url("/bq"), "queue": "bq", "body": "0" },
            { "destination": receiver.url("/bq"), "queue": "bq", "body": "1" },
            { "destination": receiver.url("/free"), "queue": null, "body": "free" },
        ]))
        .await
        .ok();
    let ids = ids_of(&answer, "messageId");
    assert_eq!(ids.len(), 3, "{answer}");

    receiver.wait_for("/free", 1).await;
    settle().await;
    assert!(
        receiver.requests_to("/bq").is_empty(),
        "the queue is paused"
    );
    assert_eq!(lag(&user, "bq").await, 2);
    assert_eq!(user.message(&ids[0]).await.ok()["queueName"], "bq");

    resume(&user, "bq").await;
    let got = receiver.wait_for("/bq", 2).await;
    assert_eq!(bodies(&got), ["0", "1"]);
}

#[tokio::test]
async fn a_batch_item_creates_its_queue_on_first_use() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    user.batch(&json!([{ "destination": receiver.url("/new"), "queue": "new-q" }]))
        .await
        .ok();

    receiver.wait_for("/new", 1).await;
    assert_eq!(get_queue(&user, "new-q").await.ok()["parallelism"], 1);
}

#[tokio::test]
async fn enqueueing_to_a_url_group_puts_one_message_per_endpoint_in_the_queue() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/ga", Answer::ok().after(SLOW));
    receiver.always("/gb", Answer::ok().after(SLOW));
    let user = server.user(1);
    user.post(
        "/v2/topics/grp/endpoints",
        &[("Content-Type", "application/json")],
        &json!({ "endpoints": [{ "url": receiver.url("/ga") }, { "url": receiver.url("/gb") }] })
            .to_string(),
    )
    .await
    .ok();

    let answer = enqueue(&user, "gq", "grp", &[], "x").await.ok();

    assert_eq!(answer.as_array().map(Vec::len), Some(2), "{answer}");
    receiver.wait_for("/ga", 1).await;
    receiver.wait_for("/gb", 1).await;
    assert_eq!(
        receiver.max_concurrency("/g"),
        1,
        "parallelism 1 of the queue"
    );
}

#[tokio::test]
async fn invalid_queue_names_and_parallelism_are_400() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let url = receiver.url("/never");

    enqueue(&user, "bad!name", &url, &[], "x").await.error(400);
    enqueue(&user, "with%20space", &url, &[], "x")
        .await
        .error(400);
    upsert(&user, json!({ "queueName": "bad name", "parallelism": 1 }))
        .await
        .error(400);
    upsert(&user, json!({ "queueName": "q", "parallelism": 0 }))
        .await
        .error(400);
    upsert(&user, json!({ "queueName": "q", "parallelism": -1 }))
        .await
        .error(400);
    upsert(&user, json!({ "parallelism": 1 })).await.error(400);
    user.batch(&json!([{ "destination": url, "queue": "bad name" }]))
        .await
        .error(400);

    let list = user.get("/v2/queues").await.ok();
    assert!(ids_of(&list, "name").is_empty(), "{list}");
    assert_eq!(user.created_count().await, 0);
    settle().await;
    assert!(receiver.requests_to("/never").is_empty());
}

#[tokio::test]
async fn queues_are_per_user() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let owner = server.user(1);
    let other = server.user(2);
    upsert(
        &owner,
        json!({ "queueName": "shared-name", "parallelism": 1, "paused": true }),
    )
    .await
    .ok();
    enqueue_ok(&owner, "shared-name", &receiver.url("/owner"), "o").await;

    get_queue(&other, "shared-name").await.error(404);
    let list = other.get("/v2/queues").await.ok();
    assert!(ids_of(&list, "name").is_empty(), "{list}");
    other
        .post("/v2/queues/shared-name/resume", &[], "")
        .await
        .error(404);
    other.delete("/v2/queues/shared-name").await.error(404);

    // The other user's queue of the same name is its own, created running.
    enqueue_ok(&other, "shared-name", &receiver.url("/other"), "x").await;
    receiver.wait_for("/other", 1).await;
    settle().await;
    assert!(receiver.requests_to("/owner").is_empty());
    let q = get_queue(&owner, "shared-name").await.ok();
    assert_eq!(q["paused"], true);
    assert_eq!(q["lag"], 1);
}

#[tokio::test]
async fn a_queue_message_retried_from_the_dlq_goes_back_into_its_queue() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.script("/flaky", vec![Answer::status(500)]);
    let user = server.user(1);
    let id = enqueue(
        &user,
        "rq",
        &receiver.url("/flaky"),
        &[("Upstash-Retries", "0")],
        "again",
    )
    .await
    .message_id();
    let entry = user.wait_for_dlq_entry(&id).await;
    let dlq_id = entry["dlqId"].as_str().expect("dlqId").to_string();
    wait_for_lag(&user, "rq", 0).await;
    pause(&user, "rq").await;

    let reply = user.post(&format!("/v2/dlq/retry/{dlq_id}"), &[], "").await;
    assert!((200..300).contains(&reply.status), "{}", reply.text());
    let retried = reply.json()["messageId"]
        .as_str()
        .expect("the retry's messageId")
        .to_string();

    // Back in its queue: the paused queue holds it.
    assert_eq!(lag(&user, "rq").await, 1);
    assert_eq!(user.message(&retried).await.ok()["queueName"], "rq");
    settle().await;
    assert_eq!(receiver.requests_to("/flaky").len(), 1);

    resume(&user, "rq").await;
    let got = receiver.wait_for("/flaky", 2).await.remove(1);
    assert_eq!(got.header("upstash-message-id"), Some(retried.as_str()));
    assert_eq!(got.body_text(), "again");
    wait_for_lag(&user, "rq", 0).await;
}

#[test]
fn a_paused_queue_and_its_messages_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver_runtime = tokio::runtime::Runtime::new().expect("runtime");
    let receiver = std::sync::Arc::new(receiver_runtime.block_on(Receiver::start()));

    let (path, rx) = (dir.path().to_path_buf(), receiver.clone());
    let ids = common::on_own_runtime(move || async move {
        let server = TestServer::builder().data_dir(&path).start().await;
        let user = server.user(1);
        upsert(
            &user,
            json!({ "queueName": "durable", "parallelism": 1, "paused": true }),
        )
        .await
        .ok();
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(enqueue_ok(&user, "durable", &rx.url("/durable"), &i.to_string()).await);
        }
        ids
    });

    let (path, rx) = (dir.path().to_path_buf(), receiver.clone());
    let delivered = common::on_own_runtime(move || async move {
        let server = TestServer::builder().data_dir(&path).start().await;
        let user = server.user(1);
        let q = get_queue(&user, "durable").await.ok();
        assert_eq!(q["paused"], true, "{q}");
        assert_eq!(q["lag"], 3, "{q}");
        settle().await;
        assert!(rx.requests_to("/durable").is_empty(), "still paused");

        resume(&user, "durable").await;
        rx.wait_for("/durable", 3).await;
        wait_for_lag(&user, "durable", 0).await;
        settle().await;
        rx.requests_to("/durable")
    });

    let arrived: Vec<String> = delivered
        .iter()
        .map(|r| {
            r.header("upstash-message-id")
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(arrived, ids, "each delivered once, in order");
}
