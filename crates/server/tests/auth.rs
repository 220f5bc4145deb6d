//! Spec §2.1 (authentication) and Appendix B (tenants): every `/v2` call needs a
//! token, in `Authorization: Bearer` or `?qstash_token=`; each token is a user who
//! sees only their own messages, DLQ, logs and signing keys.

mod common;

use common::{dev_user, Answer, Receiver, TestServer};
use serde_json::json;

#[tokio::test]
async fn a_request_without_a_token_is_refused_with_401_and_a_json_error() {
    let server = TestServer::start().await;
    let anonymous = server.anonymous();

    anonymous.get("/v2/keys").await.error(401);
    anonymous
        .publish("http://127.0.0.1:1/x", &[], "hi")
        .await
        .error(401);
    anonymous.get("/v2/events").await.error(401);
}

#[tokio::test]
async fn a_request_with_an_unknown_token_is_refused_with_401() {
    let server = TestServer::start().await;
    server.api("not-a-token").get("/v2/keys").await.error(401);
    server
        .api("eyJVc2VySUQiOiJub2JvZHkiLCJQYXNzd29yZCI6Im5vIn0=")
        .get("/v2/dlq")
        .await
        .error(401);
}

#[tokio::test]
async fn a_refused_publish_stores_nothing() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let before = user.created_count().await;

    server
        .api("wrong")
        .publish(&receiver.url("/hook"), &[], "x")
        .await
        .error(401);

    assert_eq!(user.created_count().await, before);
    common::settle().await;
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn the_qstash_token_query_parameter_authenticates_and_is_stripped_from_the_destination() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let token = dev_user(1).token;
    let destination = receiver.url("/hook?x=1");

    let reply = server
        .anonymous()
        .publish(&format!("{destination}&qstash_token={token}"), &[], "q")
        .await;
    let id = reply.message_id();

    let delivery = receiver.wait_for("/hook", 1).await.remove(0);
    assert_eq!(delivery.path_and_query, "/hook?x=1");
    assert_eq!(delivery.header("upstash-message-id"), Some(id.as_str()));
    delivery.verify_signature(dev_user(1).current, &destination);
    let message = server.user(1).message(&id).await.ok();
    assert_eq!(message["url"], destination);
}

#[tokio::test]
async fn the_qstash_token_query_parameter_works_on_management_routes() {
    let server = TestServer::start().await;
    let token = dev_user(2).token;
    let keys = server
        .anonymous()
        .get(&format!("/v2/keys?qstash_token={token}"))
        .await
        .ok();
    assert_eq!(keys["current"], dev_user(2).current);
}

#[tokio::test]
async fn another_user_cannot_read_or_cancel_my_message() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let (me, other) = (server.user(1), server.user(2));
    let id = me
        .publish_ok(&receiver.url("/later"), &[("Upstash-Delay", "1h")], "mine")
        .await;

    other.message(&id).await.error(404);
    other.delete(&format!("/v2/messages/{id}")).await.error(404);
    let bulk = other
        .delete_json("/v2/messages", &json!({ "messageIds": [id] }))
        .await
        .ok();
    assert_eq!(bulk["cancelled"], 0);
    let all = other.delete("/v2/messages").await.ok();
    assert_eq!(all["cancelled"], 0);

    let mine = me.message(&id).await.ok();
    assert_eq!(mine["messageId"], id.as_str());
    assert_eq!(mine["body"], "mine");
}

#[tokio::test]
async fn another_user_sees_neither_my_dlq_nor_my_logs() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/fail", Answer::status(500));
    let (me, other) = (server.user(1), server.user(2));
    let id = me
        .publish_ok(&receiver.url("/fail"), &[("Upstash-Retries", "0")], "x")
        .await;
    let entry = me.wait_for_dlq_entry(&id).await;
    let dlq_id = entry["dlqId"].as_str().expect("dlqId");

    let theirs = other.dlq("").await;
    assert_eq!(theirs["messages"], json!([]));
    other.get(&format!("/v2/dlq/{dlq_id}")).await.error(404);
    other.delete(&format!("/v2/dlq/{dlq_id}")).await.error(404);
    other
        .post(&format!("/v2/dlq/retry/{dlq_id}"), &[], "")
        .await
        .error(404);
    assert!(other.events("").await.is_empty());
    assert!(other.events(&format!("messageId={id}")).await.is_empty());
    let logs = other.get("/v2/logs").await.ok();
    assert_eq!(logs["logs"], json!([]));

    // Still all there for me.
    me.get(&format!("/v2/dlq/{dlq_id}")).await.ok();
    assert!(!me.events(&format!("messageId={id}")).await.is_empty());
}

#[tokio::test]
async fn each_user_has_their_own_signing_keys_and_deliveries_are_signed_with_them() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    for n in 1..=4 {
        let (current, next) = server.user(n).keys().await;
        assert_eq!(current, dev_user(n).current, "user {n}");
        assert_eq!(next, dev_user(n).next, "user {n}");
    }

    let url = receiver.url("/two");
    server.user(2).publish_ok(&url, &[], "from 2").await;
    let delivery = receiver.wait_for("/two", 1).await.remove(0);
    delivery.verify_signature(dev_user(2).current, &url);
    let token = delivery.header("upstash-signature").expect("signature");
    assert!(depesha_core::jwt::verify(dev_user(1).current, token).is_none());
}

#[tokio::test]
async fn the_qstash_token_is_stripped_wherever_it_sits_in_the_query_string() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let token = dev_user(1).token;

    server
        .anonymous()
        .publish(
            &receiver.url(&format!("/mid?a=1&qstash_token={token}&b=2")),
            &[],
            "q",
        )
        .await
        .message_id();

    let delivery = receiver.wait_for("/mid", 1).await.remove(0);
    assert_eq!(delivery.path_and_query, "/mid?a=1&b=2");
    assert!(!delivery.path_and_query.contains(token));
}

#[tokio::test]
async fn deduplication_ids_are_per_user() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let headers = [("Upstash-Deduplication-Id", "shared-id")];

    let mine = server
        .user(1)
        .publish_ok(&receiver.url("/one"), &headers, "x")
        .await;
    let theirs = server
        .user(2)
        .publish(&receiver.url("/two"), &headers, "x")
        .await;

    assert_eq!(theirs.status, 200, "{}", theirs.text());
    assert_ne!(theirs.json()["messageId"], mine.as_str());
    assert_ne!(theirs.json()["deduplicated"], true);
    receiver.wait_for("/two", 1).await;
}

#[tokio::test]
async fn another_user_cannot_delete_or_retry_my_dlq_entries_in_bulk() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/fail", Answer::status(500));
    let (me, other) = (server.user(1), server.user(2));
    let id = me
        .publish_ok(&receiver.url("/fail"), &[("Upstash-Retries", "0")], "x")
        .await;
    let entry = me.wait_for_dlq_entry(&id).await;
    let dlq_id = entry["dlqId"].as_str().expect("dlqId");

    let deleted = other.delete(&format!("/v2/dlq?dlqIds={dlq_id}")).await.ok();
    assert_eq!(deleted["deleted"], 0);
    let deleted = other
        .delete_json("/v2/dlq", &json!({ "dlqIds": [dlq_id] }))
        .await
        .ok();
    assert_eq!(deleted["deleted"], 0);
    let retried = other
        .post(&format!("/v2/dlq/retry?dlqIds={dlq_id}"), &[], "")
        .await
        .ok();
    assert_eq!(retried["responses"], json!([]));
    let all = other.delete("/v2/dlq").await.ok();
    assert_eq!(all["deleted"], 0);

    me.get(&format!("/v2/dlq/{dlq_id}")).await.ok();
    common::settle().await;
    assert_eq!(receiver.requests_to("/fail").len(), 1);
}
