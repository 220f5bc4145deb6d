//! Spec §8 (callback bodies), §5 (callbacks are ordinary signed deliveries with the
//! `Upstash-Callback-Forward-*` headers) and §4.1 rules 3–8: `Upstash-Callback` gets a
//! POST after every attempt, `Upstash-Failure-Callback` one after the final failure,
//! carrying the `dlqId` of the entry that already exists.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{dev_user, Answer, Receiver, TestServer};
use serde_json::{json, Value};

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

fn has_time_fields(body: &Value) {
    assert!(body["notBefore"].is_u64(), "notBefore is a number: {body}");
    assert!(body["createdAt"].is_u64(), "createdAt is a number: {body}");
}

#[tokio::test]
async fn the_callback_describes_the_attempt_with_the_section_8_fields() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always(
        "/dest",
        Answer::status(201)
            .header("X-Answer", "42")
            .body("{\"done\":true}"),
    );
    let user = server.user(1);
    let destination = receiver.url("/dest?q=1");

    let id = user
        .publish_ok(
            &destination,
            &[
                ("Upstash-Callback", &receiver.url("/cb")),
                ("Upstash-Method", "PUT"),
                ("Upstash-Retries", "2"),
                ("Content-Type", "text/plain"),
                ("Upstash-Forward-X-Source", "s"),
            ],
            "source body",
        )
        .await;

    let callback = receiver.wait_for("/cb", 1).await.remove(0);
    let body = callback.json();
    assert_eq!(body["status"], 201);
    assert_eq!(body["header"]["X-Answer"], json!(["42"]));
    assert_eq!(body["body"], b64("{\"done\":true}"));
    assert_eq!(body["retried"].as_u64().unwrap_or(0), 0);
    assert_eq!(body["maxRetries"], 2);
    assert_eq!(body["sourceMessageId"], id.as_str());
    assert_eq!(body["url"], destination);
    assert_eq!(body["method"], "PUT");
    assert_eq!(body["sourceHeader"]["X-Source"], json!(["s"]));
    assert_eq!(body["sourceHeader"]["Content-Type"], json!(["text/plain"]));
    assert_eq!(body["sourceBody"], b64("source body"));
    has_time_fields(&body);
    let message = user.message(&id).await.ok();
    assert_eq!(body["notBefore"], message["notBefore"]);
    assert_eq!(body["createdAt"], message["createdAt"]);
}

#[tokio::test]
async fn the_callback_is_a_signed_post_to_the_callback_url_with_its_forwarded_headers() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let callback_url = receiver.url("/cb?from=depesha");

    server
        .user(1)
        .publish_ok(
            &receiver.url("/dest"),
            &[
                ("Upstash-Callback", &callback_url),
                ("Upstash-Callback-Forward-X-Cb-Secret", "cb-value"),
                ("Upstash-Forward-X-Dest-Only", "dest"),
            ],
            "x",
        )
        .await;

    let callback = receiver.wait_for("/cb", 1).await.remove(0);
    assert_eq!(callback.method, "POST");
    assert_eq!(callback.path_and_query, "/cb?from=depesha");
    assert_eq!(callback.header("x-cb-secret"), Some("cb-value"));
    assert_eq!(callback.header("x-dest-only"), None);
    assert_eq!(callback.header("user-agent"), Some("Upstash-QStash"));
    assert_eq!(callback.header("upstash-retried"), Some("0"));
    assert!(callback.header("upstash-message-id").is_some());
    callback.verify_signature(dev_user(1).current, &callback_url);

    let delivery = receiver.wait_for("/dest", 1).await.remove(0);
    assert_eq!(delivery.header("x-cb-secret"), None);
    assert_eq!(delivery.header("x-dest-only"), Some("dest"));
    assert_ne!(
        callback.header("upstash-message-id"),
        delivery.header("upstash-message-id"),
        "the callback is a message of its own"
    );
}

#[tokio::test]
async fn the_callback_method_can_be_set_with_upstash_callback_method() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;

    server
        .user(1)
        .publish_ok(
            &receiver.url("/dest"),
            &[
                ("Upstash-Callback", &receiver.url("/cb")),
                ("Upstash-Callback-Method", "PUT"),
            ],
            "x",
        )
        .await;

    let callback = receiver.wait_for("/cb", 1).await.remove(0);
    assert_eq!(callback.method, "PUT");
}

#[tokio::test]
async fn a_callback_follows_every_attempt_with_its_retry_count() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.script("/flaky", vec![Answer::status(500).body("first try failed")]);
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/flaky"),
            &[
                ("Upstash-Callback", &receiver.url("/cb")),
                ("Upstash-Retries", "1"),
                ("Upstash-Retry-Delay", "10"),
            ],
            "x",
        )
        .await;

    let callbacks = receiver.wait_for("/cb", 2).await;
    let mut bodies: Vec<Value> = callbacks.iter().map(|c| c.json()).collect();
    bodies.sort_by_key(|b| b["retried"].as_u64().unwrap_or(0));
    assert_eq!(bodies[0]["status"], 500);
    assert_eq!(bodies[0]["body"], b64("first try failed"));
    assert_eq!(bodies[0]["retried"].as_u64().unwrap_or(0), 0);
    assert_eq!(bodies[1]["status"], 200);
    assert_eq!(bodies[1]["retried"], 1);
    for body in &bodies {
        assert_eq!(body["sourceMessageId"], id.as_str());
        assert_eq!(body["maxRetries"], 1);
    }
}

#[tokio::test]
async fn the_failure_callback_fires_once_after_the_final_failure_with_the_dlq_id() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always(
        "/broken",
        Answer::status(503)
            .header("X-Why", "down")
            .body("service unavailable"),
    );
    let user = server.user(1);
    let failure_url = receiver.url("/failed");
    let destination = receiver.url("/broken");

    let id = user
        .publish_ok(
            &destination,
            &[
                ("Upstash-Failure-Callback", &failure_url),
                ("Upstash-Failure-Callback-Forward-X-Fc", "fc-value"),
                ("Upstash-Retries", "1"),
                ("Upstash-Retry-Delay", "10"),
            ],
            "original",
        )
        .await;

    let entry = user.wait_for_dlq_entry(&id).await;
    let failure = receiver
        .wait_for_exactly_one("/failed", std::time::Duration::from_millis(300))
        .await;
    assert_eq!(receiver.requests_to("/broken").len(), 2);
    assert_eq!(failure.method, "POST");
    assert_eq!(failure.header("x-fc"), Some("fc-value"));
    failure.verify_signature(dev_user(1).current, &failure_url);

    let body = failure.json();
    assert_eq!(body["dlqId"], entry["dlqId"]);
    assert_eq!(body["status"], 503);
    assert_eq!(body["header"]["X-Why"], json!(["down"]));
    assert_eq!(body["body"], b64("service unavailable"));
    assert_eq!(
        body["retried"], 1,
        "the final attempt has retried == maxRetries"
    );
    assert_eq!(body["maxRetries"], 1);
    assert_eq!(body["sourceMessageId"], id.as_str());
    assert_eq!(body["url"], destination);
    assert_eq!(body["method"], "POST");
    assert_eq!(body["sourceBody"], b64("original"));
    has_time_fields(&body);

    let broken = receiver.requests_to("/broken");
    assert!(broken.iter().all(|r| r.header("x-fc").is_none()));
}

#[tokio::test]
async fn no_failure_callback_is_sent_when_the_message_is_delivered() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/fine"),
            &[
                ("Upstash-Failure-Callback", &receiver.url("/failed")),
                ("Upstash-Callback", &receiver.url("/cb")),
            ],
            "x",
        )
        .await;

    user.wait_for_state(&id, "DELIVERED").await;
    receiver.wait_for("/cb", 1).await;
    common::settle().await;
    assert!(receiver.requests_to("/failed").is_empty());
}

#[tokio::test]
async fn the_callback_of_an_attempt_without_an_answer_reports_status_0() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let destination = common::refused_url("/gone").await;

    server
        .user(1)
        .publish_ok(
            &destination,
            &[
                ("Upstash-Failure-Callback", &receiver.url("/failed")),
                ("Upstash-Retries", "0"),
            ],
            "x",
        )
        .await;

    let failure = receiver.wait_for("/failed", 1).await.remove(0);
    let body = failure.json();
    assert_eq!(body["status"], 0);
    assert_eq!(body["url"], destination);
    assert!(body["dlqId"].as_str().is_some_and(|d| !d.is_empty()));
}

#[tokio::test]
async fn redacted_source_fields_are_not_shown_by_reads_of_the_callback_message() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    user.publish_ok(
        &receiver.url("/dest"),
        &[
            ("Upstash-Callback", &receiver.url("/cb")),
            ("Upstash-Redact-Fields", "body, header[X-Api-Key]"),
            ("Upstash-Forward-X-Api-Key", "key-123"),
        ],
        "top secret body",
    )
    .await;

    let callback = receiver.wait_for("/cb", 1).await.remove(0);
    let callback_id = callback
        .header("upstash-message-id")
        .expect("callback message id")
        .to_string();
    user.wait_for_state(&callback_id, "DELIVERED").await;
    let created = user
        .events(&format!("messageId={callback_id}&state=CREATED"))
        .await;
    let logged_body = STANDARD
        .decode(created[0]["body"].as_str().unwrap_or_default())
        .expect("log bodies are base64");
    let shown = [
        (
            "GET /v2/messages/{callback}",
            user.message(&callback_id).await.text(),
        ),
        (
            "CREATED log line of the callback",
            String::from_utf8_lossy(&logged_body).into_owned(),
        ),
    ];
    for (read, text) in shown {
        assert!(
            !text.contains("key-123"),
            "{read} shows the secret header: {text}"
        );
        assert!(
            !text.contains(&b64("top secret body")),
            "{read} shows the secret body (base64): {text}"
        );
    }
}

#[tokio::test]
async fn a_failing_callback_is_retried_with_its_own_retry_settings() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/cb", Answer::status(500));
    let user = server.user(1);

    user.publish_ok(
        &receiver.url("/dest"),
        &[
            ("Upstash-Callback", &receiver.url("/cb")),
            ("Upstash-Callback-Retries", "1"),
            ("Upstash-Callback-Retry-Delay", "10"),
            ("Upstash-Retries", "3"),
        ],
        "x",
    )
    .await;

    let attempts = receiver.wait_for("/cb", 2).await;
    assert_eq!(attempts[0].header("upstash-retried"), Some("0"));
    assert_eq!(attempts[1].header("upstash-retried"), Some("1"));
    let callback_id = attempts[0]
        .header("upstash-message-id")
        .expect("id")
        .to_string();
    assert_eq!(
        attempts[1].header("upstash-message-id"),
        Some(callback_id.as_str())
    );
    let entry = user.wait_for_dlq_entry(&callback_id).await;
    assert_eq!(entry["maxRetries"], 1);
    assert_eq!(receiver.requests_to("/cb").len(), 2);
}

#[tokio::test]
async fn the_message_shows_its_callbacks_and_their_forwarded_headers() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/dest"),
            &[
                ("Upstash-Delay", "1h"),
                ("Upstash-Callback", &receiver.url("/cb")),
                ("Upstash-Callback-Forward-X-Cb", "1"),
                ("Upstash-Failure-Callback", &receiver.url("/fcb")),
                ("Upstash-Failure-Callback-Forward-X-Fcb", "2"),
            ],
            "x",
        )
        .await;

    let message = user.message(&id).await.ok();
    assert_eq!(message["callback"], receiver.url("/cb"));
    assert_eq!(message["failureCallback"], receiver.url("/fcb"));
    assert_eq!(message["callbackHeader"]["X-Cb"], json!(["1"]));
    assert_eq!(message["failureCallbackHeader"]["X-Fcb"], json!(["2"]));
    assert!(message["header"].get("X-Cb").is_none(), "{message}");
}
