//! Issue 10, item 5: what a bulk or listing filter selects. Only a request with no
//! filter at all means "everything"; an empty list selects nothing (and answers 0);
//! an empty value or a wrong JSON type is a 400. Each case runs against pending
//! messages or DLQ entries and checks that nothing was cancelled, deleted or
//! retried, and what the answer was.

mod common;

use common::{Answer, Api, Receiver, TestServer};
use serde_json::{json, Value};

const AN_HOUR: (&str, &str) = ("Upstash-Delay", "1h");

/// Three messages delayed by an hour, labelled and queued so that every filter
/// field has something it could match.
async fn pending_messages(user: &Api, receiver: &Receiver) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..3 {
        let headers = [AN_HOUR, ("Upstash-Label", "l")];
        ids.push(
            user.publish_ok(&receiver.url("/pending"), &headers, &format!("{i}"))
                .await,
        );
    }
    ids
}

async fn still_pending(user: &Api, ids: &[String]) {
    for id in ids {
        let reply = user.message(id).await;
        assert_eq!(reply.status, 200, "message {id} is gone: {}", reply.text());
    }
}

/// Three DLQ entries of `user`.
async fn dead_letters(user: &Api, receiver: &Receiver) -> Vec<String> {
    receiver.always("/fails", Answer::status(500));
    let mut dlq_ids = Vec::new();
    for i in 0..3 {
        let id = user
            .publish_ok(
                &receiver.url("/fails"),
                &[("Upstash-Retries", "0"), ("Upstash-Label", "l")],
                &format!("{i}"),
            )
            .await;
        let entry = user.wait_for_dlq_entry(&id).await;
        dlq_ids.push(entry["dlqId"].as_str().expect("dlqId").to_string());
    }
    dlq_ids
}

async fn dlq_ids(user: &Api) -> Vec<String> {
    let mut ids: Vec<String> = user.dlq("").await["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|e| e["dlqId"].as_str().expect("dlqId").to_string())
        .collect();
    ids.sort();
    ids
}

async fn post_json(user: &Api, path: &str, body: &Value) -> common::Reply {
    user.send(
        user.request(reqwest::Method::POST, path)
            .header("Content-Type", "application/json")
            .body(body.to_string()),
    )
    .await
}

#[tokio::test]
async fn cancel_with_an_empty_list_cancels_nothing_and_answers_zero() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let ids = pending_messages(&user, &receiver).await;

    for body in [json!({ "messageIds": [] }), json!({ "label": [] })] {
        let reply = user.delete_json("/v2/messages", &body).await.ok();
        assert_eq!(reply, json!({ "cancelled": 0 }), "{body}");
    }
    still_pending(&user, &ids).await;
}

#[tokio::test]
async fn cancel_with_an_empty_value_or_a_wrong_type_is_a_400_and_cancels_nothing() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let ids = pending_messages(&user, &receiver).await;

    for body in [
        json!({ "messageIds": null }),
        json!({ "messageIds": 5 }),
        json!({ "messageIds": "x" }),
        json!({ "label": "" }),
        json!({ "queueName": "" }),
        json!({ "url": "" }),
        json!({ "label": null }),
    ] {
        let message = user.delete_json("/v2/messages", &body).await.error(400);
        assert!(!message.is_empty(), "{body}");
    }
    for query in ["messageIds=", "label=", "queueName=", "url=", "label=l,,x"] {
        user.delete(&format!("/v2/messages?{query}"))
            .await
            .error(400);
    }
    still_pending(&user, &ids).await;
}

#[tokio::test]
async fn the_sdks_cancel_all_requests_still_cancel_everything() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    // The Python SDK's `cancel_all()`: no query, no body.
    pending_messages(&user, &receiver).await;
    assert_eq!(
        user.delete("/v2/messages").await.ok(),
        json!({ "cancelled": 3 })
    );
    // The JS SDK's `cancel({ all: true })`: only a count.
    pending_messages(&user, &receiver).await;
    assert_eq!(
        user.delete("/v2/messages?count=100").await.ok(),
        json!({ "cancelled": 3 })
    );
    // An empty JSON object is no filter either.
    pending_messages(&user, &receiver).await;
    assert_eq!(
        user.delete_json("/v2/messages", &json!({})).await.ok(),
        json!({ "cancelled": 3 })
    );
}

#[tokio::test]
async fn dlq_delete_and_retry_with_an_empty_list_touch_nothing() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let mut entries = dead_letters(&user, &receiver).await;
    entries.sort();

    let deleted = user
        .delete_json("/v2/dlq", &json!({ "dlqIds": [] }))
        .await
        .ok();
    assert_eq!(deleted, json!({ "deleted": 0 }));
    let retried = post_json(&user, "/v2/dlq/retry", &json!({ "dlqIds": [] })).await;
    assert_eq!(retried.status, 201, "{}", retried.text());
    assert_eq!(retried.json(), json!({ "responses": [] }));
    let listed = user
        .send(
            user.request(reqwest::Method::GET, "/v2/dlq")
                .header("Content-Type", "application/json")
                .body(json!({ "dlqIds": [] }).to_string()),
        )
        .await
        .ok();
    assert_eq!(listed, json!({ "messages": [] }));

    assert_eq!(dlq_ids(&user).await, entries);
}

#[tokio::test]
async fn dlq_filters_with_an_empty_value_or_a_wrong_type_are_a_400_and_touch_nothing() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let mut entries = dead_letters(&user, &receiver).await;
    entries.sort();

    for body in [
        json!({ "dlqIds": "x" }),
        json!({ "dlqIds": null }),
        json!({ "dlqIds": 5 }),
        json!({ "label": "" }),
        json!({ "url": [""] }),
    ] {
        user.delete_json("/v2/dlq", &body).await.error(400);
        let retried = post_json(&user, "/v2/dlq/retry", &body).await;
        retried.error(400);
    }
    for query in ["dlqIds=", "label=", "messageId=", "url=", "responseStatus="] {
        user.delete(&format!("/v2/dlq?{query}")).await.error(400);
        user.get(&format!("/v2/dlq?{query}")).await.error(400);
        post_json(&user, &format!("/v2/dlq/retry?{query}"), &json!({}))
            .await
            .error(400);
    }
    for query in ["messageIds=", "label=", "state=", "url="] {
        user.get(&format!("/v2/events?{query}")).await.error(400);
    }

    assert_eq!(dlq_ids(&user).await, entries);
}

#[tokio::test]
async fn the_sdks_dlq_delete_all_still_deletes_everything() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    dead_letters(&user, &receiver).await;

    // The JS SDK's `dlq.delete({ all: true })`: only a count.
    let reply = user.delete("/v2/dlq?count=100").await.ok();
    assert_eq!(reply["deleted"], 3, "{reply}");
    assert!(dlq_ids(&user).await.is_empty());
}
