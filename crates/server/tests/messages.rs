//! Spec §3.4: `GET /v2/messages/{id}`, `DELETE /v2/messages/{id}` (cancel one,
//! answering `{"cancelled": 1}`) and bulk cancel `DELETE /v2/messages` by query, by
//! JSON body, by filter, or with no input at all (everything of the caller).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{now_ms, settle, Receiver, TestServer};
use depesha_engine::ManualClock;
use serde_json::json;

const AN_HOUR: (&str, &str) = ("Upstash-Delay", "1h");

#[tokio::test]
async fn a_delayed_message_can_be_read_with_all_its_fields() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let url = receiver.url("/read?x=1");
    let before = now_ms();

    let id = user
        .publish_ok(
            &url,
            &[
                AN_HOUR,
                ("Content-Type", "text/plain"),
                ("Upstash-Method", "PUT"),
                ("Upstash-Retries", "5"),
                ("Upstash-Forward-test-header", "test-value"),
            ],
            "hello",
        )
        .await;

    let m = user.message(&id).await.ok();
    assert_eq!(m["messageId"], id.as_str());
    assert_eq!(m["url"], url);
    assert_eq!(m["method"], "PUT");
    assert_eq!(m["body"], "hello");
    assert_eq!(m["maxRetries"], 5);
    assert_eq!(m["header"]["Content-Type"], json!(["text/plain"]));
    assert_eq!(m["header"]["Test-Header"], json!(["test-value"]));
    let created = m["createdAt"].as_u64().expect("createdAt in ms");
    let not_before = m["notBefore"].as_u64().expect("notBefore in ms");
    assert!(created >= before && created <= now_ms(), "{m}");
    assert!(not_before >= created + 3_600_000, "{m}");
}

#[tokio::test]
async fn max_retries_is_present_even_when_zero() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/zero"),
            &[AN_HOUR, ("Upstash-Retries", "0")],
            "",
        )
        .await;

    assert_eq!(user.message(&id).await.ok()["maxRetries"], 0);
}

#[tokio::test]
async fn an_unknown_message_is_404() {
    let server = TestServer::start().await;
    server
        .user(1)
        .message("msg_does_not_exist")
        .await
        .error(404);
}

#[tokio::test]
async fn a_cancelled_message_is_gone_never_delivered_and_logged_as_canceled() {
    cancel_one_of_two_delayed_messages(Duration::ZERO).await;
}

/// A delivery starts a little before its due time and waits, prepared, for it: both
/// messages are waiting so when one of them is cancelled.
#[tokio::test]
async fn a_message_cancelled_while_its_delivery_waits_for_its_time_is_never_sent() {
    cancel_one_of_two_delayed_messages(Duration::from_millis(9_950)).await;
}

/// Publishes two messages delayed by 10 s, lets `before` pass, cancels one, and
/// checks that only the other is delivered once they are due.
async fn cancel_one_of_two_delayed_messages(before: Duration) {
    let clock = Arc::new(ManualClock::new(now_ms()));
    let server = TestServer::builder()
        .manual_clock(clock.clone())
        .start()
        .await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let delay = [("Upstash-Delay", "10s")];
    let doomed = user.publish_ok(&receiver.url("/doomed"), &delay, "x").await;
    let control = user
        .publish_ok(&receiver.url("/control"), &delay, "y")
        .await;

    clock.advance(before);
    settle().await;
    assert!(receiver.requests().is_empty(), "nothing before its time");
    let reply = user.delete(&format!("/v2/messages/{doomed}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "cancelled": 1 }));
    user.message(&doomed).await.error(404);

    clock.advance(Duration::from_millis(10_001) - before);
    let got = receiver.wait_for("/control", 1).await.remove(0);
    assert_eq!(got.header("upstash-message-id"), Some(control.as_str()));
    settle().await;
    assert!(receiver.requests_to("/doomed").is_empty());

    let states = user.states_of(&doomed).await;
    assert_eq!(states, ["CREATED", "CANCEL_REQUESTED", "CANCELED"]);
}

#[tokio::test]
async fn cancelling_an_unknown_or_already_cancelled_message_is_404() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    user.delete("/v2/messages/msg_nope").await.error(404);

    let id = user
        .publish_ok(&receiver.url("/twice"), &[AN_HOUR], "x")
        .await;
    user.delete(&format!("/v2/messages/{id}")).await.ok();
    user.delete(&format!("/v2/messages/{id}")).await.error(404);
}

/// Publishes `n` messages delayed by an hour to `path`, with `headers` added.
async fn pending(
    user: &common::Api,
    receiver: &Receiver,
    path: &str,
    n: usize,
    headers: &[(&str, &str)],
) -> Vec<String> {
    let mut all = vec![AN_HOUR];
    all.extend_from_slice(headers);
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            user.publish_ok(&receiver.url(path), &all, &format!("{i}"))
                .await,
        );
    }
    ids
}

async fn exists(user: &common::Api, id: &str) -> bool {
    let reply = user.message(id).await;
    match reply.status {
        200 => true,
        404 => false,
        other => panic!("GET message answered {other}: {}", reply.text()),
    }
}

#[tokio::test]
async fn bulk_cancel_by_message_ids_in_the_query_cancels_exactly_those() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let ids = pending(&user, &receiver, "/bulk", 3, &[]).await;

    let reply = user
        .delete(&format!(
            "/v2/messages?messageIds={}&messageIds={}",
            ids[0], ids[1]
        ))
        .await
        .ok();

    assert_eq!(reply, json!({ "cancelled": 2 }));
    assert!(!exists(&user, &ids[0]).await);
    assert!(!exists(&user, &ids[1]).await);
    assert!(exists(&user, &ids[2]).await);
}

#[tokio::test]
async fn bulk_cancel_by_a_json_body_cancels_exactly_those() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let ids = pending(&user, &receiver, "/json", 3, &[]).await;

    let reply = user
        .delete_json("/v2/messages", &json!({ "messageIds": [ids[1], ids[2]] }))
        .await
        .ok();

    assert_eq!(reply, json!({ "cancelled": 2 }));
    assert!(exists(&user, &ids[0]).await);
    assert!(!exists(&user, &ids[1]).await);
    assert!(!exists(&user, &ids[2]).await);
}

#[tokio::test]
async fn bulk_cancel_by_label_filter_cancels_only_matching_messages() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let tagged = pending(&user, &receiver, "/l", 2, &[("Upstash-Label", "cleanup")]).await;
    let untagged = pending(&user, &receiver, "/l", 1, &[("Upstash-Label", "keep")]).await;

    let reply = user.delete("/v2/messages?label=cleanup").await.ok();

    assert_eq!(reply, json!({ "cancelled": 2 }));
    for id in &tagged {
        assert!(!exists(&user, id).await);
    }
    assert!(exists(&user, &untagged[0]).await);
    assert!(user
        .states_of(&tagged[0])
        .await
        .contains(&"CANCELED".into()));
}

#[tokio::test]
async fn bulk_cancel_with_no_input_cancels_all_of_my_pending_messages_and_nobody_elses() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let (me, other) = (server.user(1), server.user(2));
    let mine = pending(&me, &receiver, "/mine", 3, &[]).await;
    let theirs = pending(&other, &receiver, "/theirs", 2, &[]).await;

    let reply = me.delete("/v2/messages").await.ok();

    assert_eq!(reply, json!({ "cancelled": 3 }));
    for id in &mine {
        assert!(!exists(&me, id).await);
    }
    for id in &theirs {
        assert!(exists(&other, id).await);
    }
    assert_eq!(
        me.delete("/v2/messages").await.ok(),
        json!({ "cancelled": 0 })
    );
}

#[tokio::test]
async fn bulk_cancel_with_an_unknown_filter_is_refused_and_cancels_nothing() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let ids = pending(&user, &receiver, "/typo", 1, &[("Upstash-Label", "x")]).await;

    user.delete("/v2/messages?lable=x").await.error(400);

    assert!(exists(&user, &ids[0]).await);
}

#[tokio::test]
async fn delete_with_an_empty_message_id_does_not_cancel_everything() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let ids = pending(&user, &receiver, "/empty-id", 1, &[]).await;

    let reply = user.delete("/v2/messages/").await;

    assert!(
        (400..500).contains(&reply.status),
        "DELETE /v2/messages/ answered {} {}",
        reply.status,
        reply.text()
    );
    assert!(exists(&user, &ids[0]).await);
}

#[tokio::test]
async fn a_message_stays_readable_right_after_it_was_delivered() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let id = user.publish_ok(&receiver.url("/fast"), &[], "quick").await;
    receiver.wait_for("/fast", 1).await;
    user.wait_for_state(&id, "DELIVERED").await;

    let m = user.message(&id).await.ok();
    assert_eq!(m["messageId"], id.as_str());
    assert_eq!(m["body"], "quick");
}

#[tokio::test]
async fn an_undelayed_message_has_its_creation_time_as_not_before() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let id = user.publish_ok(&receiver.url("/now"), &[], "x").await;

    let m = user.message(&id).await.ok();
    assert_eq!(m["notBefore"], m["createdAt"], "{m}");
}

#[tokio::test]
async fn the_stored_header_map_holds_only_what_will_be_forwarded() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/clean"),
            &[
                AN_HOUR,
                ("Upstash-Retries", "2"),
                ("Upstash-Method", "POST"),
                ("Upstash-Label", "l"),
                ("Upstash-Telemetry-Sdk", "upstash-qstash-js@2.12.0"),
                ("Upstash-Telemetry-Runtime", "node@v22"),
                ("X-Not-Forwarded", "plain"),
                ("Upstash-Forward-X-Forwarded", "yes"),
                ("Content-Type", "text/plain"),
            ],
            "x",
        )
        .await;

    let header = &user.message(&id).await.ok()["header"];
    assert_eq!(
        header,
        &json!({ "Content-Type": ["text/plain"], "X-Forwarded": ["yes"] })
    );
}

#[tokio::test]
async fn repeated_forwarded_headers_keep_every_value() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let reply = user
        .send(
            user.request(
                reqwest::Method::POST,
                &format!("/v2/publish/{}", receiver.url("/multi")),
            )
            .header("Upstash-Delay", "1h")
            .header("Upstash-Forward-Test-Case", "value-uppercase")
            .header("upstash-forward-test-case", "value-lowercase"),
        )
        .await;
    let id = reply.message_id();

    let values = user.message(&id).await.ok()["header"]["Test-Case"].clone();
    let joined = values
        .as_array()
        .expect("an array of values")
        .iter()
        .map(|v| v.as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(", ");
    assert_eq!(joined, "value-uppercase, value-lowercase");
}

#[tokio::test]
async fn cancelling_a_delivered_message_is_404() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let id = user.publish_ok(&receiver.url("/done"), &[], "x").await;
    user.wait_for_state(&id, "DELIVERED").await;

    user.delete(&format!("/v2/messages/{id}")).await.error(404);
    assert!(!user.states_of(&id).await.contains(&"CANCELED".to_string()));
}

#[tokio::test]
async fn a_message_waiting_for_its_next_retry_can_be_cancelled() {
    let clock = Arc::new(ManualClock::new(now_ms()));
    let server = TestServer::builder()
        .manual_clock(clock.clone())
        .start()
        .await;
    let receiver = Receiver::start().await;
    receiver.always("/failing", common::Answer::status(500));
    let user = server.user(1);
    let id = user
        .publish_ok(
            &receiver.url("/failing"),
            &[("Upstash-Retries", "3"), ("Upstash-Retry-Delay", "1000")],
            "x",
        )
        .await;
    user.wait_for_state(&id, "RETRY").await;

    let reply = user.delete(&format!("/v2/messages/{id}")).await.ok();

    assert_eq!(reply, json!({ "cancelled": 1 }));
    let control = user
        .publish_ok(&receiver.url("/control"), &[("Upstash-Delay", "2s")], "c")
        .await;
    clock.advance(Duration::from_secs(3));
    user.wait_for_state(&control, "DELIVERED").await;
    assert_eq!(receiver.requests_to("/failing").len(), 1);
    let states = user.states_of(&id).await;
    assert_eq!(
        states.last().map(String::as_str),
        Some("CANCELED"),
        "{states:?}"
    );
    assert_eq!(user.dlq("").await["messages"], json!([]));
}

#[tokio::test]
async fn bulk_cancel_accepts_comma_joined_message_ids() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let ids = pending(&user, &receiver, "/comma", 3, &[]).await;

    let reply = user
        .delete(&format!("/v2/messages?messageIds={},{}", ids[0], ids[2]))
        .await
        .ok();

    assert_eq!(reply, json!({ "cancelled": 2 }));
    assert!(exists(&user, &ids[1]).await);
}

#[tokio::test]
async fn bulk_cancel_with_a_count_cancels_at_most_that_many_and_callers_loop_until_zero() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    pending(&user, &receiver, "/count", 5, &[]).await;

    let mut rounds = Vec::new();
    loop {
        let reply = user.delete("/v2/messages?count=2").await.ok();
        let n = reply["cancelled"].as_u64().expect("cancelled");
        rounds.push(n);
        if n == 0 || rounds.len() > 5 {
            break;
        }
    }

    assert_eq!(rounds, [2, 2, 1, 0]);
}
