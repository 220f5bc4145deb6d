//! Spec §3.3 `POST /v2/batch`: a JSON array of `{destination, headers, body, queue}`
//! items, answered with an array in request order; header keys are case-insensitive
//! (JS sends lower case), `body`/`queue` may be `null` (Python); the whole array is
//! validated first, so one invalid item fails the request and nothing is accepted.

mod common;

use std::time::Duration;

use common::{ids_of, settle, Receiver, TestServer};
use serde_json::json;

#[tokio::test]
async fn several_items_are_answered_in_order_and_each_is_delivered() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let paths = ["/one", "/two", "/three"];
    let items: Vec<_> = paths
        .iter()
        .map(|p| {
            json!({
                "destination": receiver.url(p),
                "headers": { "Content-Type": "text/plain", "Upstash-Forward-X-Item": p },
                "body": format!("body of {p}"),
            })
        })
        .collect();

    let answer = server.user(1).batch(&json!(items)).await.ok();

    let ids = ids_of(&answer, "messageId");
    assert_eq!(ids.len(), 3, "{answer}");
    for (i, path) in paths.iter().enumerate() {
        assert_eq!(answer[i]["url"], receiver.url(path), "{answer}");
        let got = receiver.wait_for(path, 1).await.remove(0);
        assert_eq!(got.header("upstash-message-id"), Some(ids[i].as_str()));
        assert_eq!(got.body_text(), format!("body of {path}"));
        assert_eq!(got.header("x-item"), Some(*path));
        assert_eq!(got.header("content-type"), Some("text/plain"));
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3);
}

#[tokio::test]
async fn a_single_item_batch_is_still_answered_with_an_array() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;

    let answer = server
        .user(1)
        .batch(&json!([{ "destination": receiver.url("/single"), "body": "x" }]))
        .await
        .ok();

    assert!(answer.is_array(), "{answer}");
    assert_eq!(answer.as_array().map(Vec::len), Some(1));
    let id = answer[0]["messageId"].as_str().expect("messageId");
    let got = receiver.wait_for("/single", 1).await.remove(0);
    assert_eq!(got.header("upstash-message-id"), Some(id));
}

#[tokio::test]
async fn js_style_lower_case_header_keys_are_understood() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;

    server
        .user(1)
        .batch(&json!([{
            "destination": receiver.url("/js"),
            "headers": {
                "content-type": "application/json",
                "upstash-method": "PATCH",
                "upstash-forward-x-from-js": "yes",
                "upstash-retries": "0",
                "upstash-telemetry-sdk": "upstash-qstash-js@2.12.0",
            },
            "body": "{\"js\":true}",
        }]))
        .await
        .ok();

    let got = receiver.wait_for("/js", 1).await.remove(0);
    assert_eq!(got.method, "PATCH");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("x-from-js"), Some("yes"));
    assert_eq!(got.header("upstash-telemetry-sdk"), None);
    assert_eq!(got.body_text(), "{\"js\":true}");
}

#[tokio::test]
async fn python_style_null_queue_and_null_body_are_accepted() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;

    let answer = server
        .user(1)
        .batch(&json!([{
            "destination": receiver.url("/py"),
            "headers": { "Upstash-Method": "POST" },
            "body": null,
            "queue": null,
        }]))
        .await
        .ok();

    let id = answer[0]["messageId"].as_str().expect("messageId");
    let got = receiver.wait_for("/py", 1).await.remove(0);
    assert_eq!(got.header("upstash-message-id"), Some(id));
    assert!(got.body.is_empty());
}

#[tokio::test]
async fn batch_items_with_the_same_deduplication_id_are_deduplicated() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let item = json!({
        "destination": receiver.url("/dedup"),
        "headers": { "Upstash-Deduplication-Id": "batch-dedup" },
        "body": "x",
    });

    let first = server.user(1).batch(&json!([item])).await.ok();
    let second = server.user(1).batch(&json!([item])).await.ok();

    assert_eq!(second[0]["messageId"], first[0]["messageId"]);
    assert_eq!(second[0]["deduplicated"], true);
    receiver
        .wait_for_exactly_one("/dedup", Duration::from_millis(400))
        .await;
}

#[tokio::test]
async fn one_invalid_item_fails_the_whole_batch_and_nothing_is_stored_or_delivered() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let before = user.created_count().await;

    let reply = user
        .batch(&json!([
            { "destination": receiver.url("/good-1"), "body": "ok" },
            { "destination": receiver.url("/bad"), "headers": { "Upstash-Delay": "10x" }, "body": "bad" },
            { "destination": receiver.url("/good-2"), "body": "ok" },
        ]))
        .await;

    reply.error(400);
    assert_eq!(user.created_count().await, before);
    settle().await;
    assert!(receiver.requests().is_empty(), "{:#?}", receiver.requests());
}

#[tokio::test]
async fn an_item_without_a_destination_fails_the_whole_batch() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let before = user.created_count().await;

    user.batch(&json!([
        { "destination": receiver.url("/good"), "body": "ok" },
        { "body": "where to?" },
    ]))
    .await
    .error(400);

    assert_eq!(user.created_count().await, before);
    settle().await;
    assert!(receiver.requests().is_empty());
}
