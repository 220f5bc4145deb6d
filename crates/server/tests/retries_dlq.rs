//! Spec §7 (retries, success/failure, timeouts) and §3.5 (the dead-letter queue):
//! a failed attempt is retried `Upstash-Retries` times with `Upstash-Retried` counting
//! up, `Retry-After` is honoured, 489 + `Upstash-NonRetryable-Error` stops at once;
//! exhausted messages land in the DLQ with the last response, where they can be listed
//! (paged, filtered), read, deleted and retried.

mod common;

use std::time::Duration;

use common::{dev_user, ids_of, refused_url, settle, Answer, Api, Receiver, TestServer};
use serde_json::{json, Value};

const FAST_RETRIES: (&str, &str) = ("Upstash-Retry-Delay", "10");

/// Publishes to `path` (which always answers 500 unless scripted otherwise) with no
/// retries and waits for its DLQ entry.
async fn dead_letter(
    user: &Api,
    receiver: &Receiver,
    path: &str,
    headers: &[(&str, &str)],
) -> (String, Value) {
    let mut all = vec![("Upstash-Retries", "0")];
    all.extend_from_slice(headers);
    let id = user.publish_ok(&receiver.url(path), &all, path).await;
    let entry = user.wait_for_dlq_entry(&id).await;
    (id, entry)
}

fn log_of<'a>(events: &'a [Value], state: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["state"] == state)
        .unwrap_or_else(|| panic!("no {state} line in {events:#?}"))
}

#[tokio::test]
async fn a_failing_endpoint_is_attempted_one_plus_retries_times_then_dead_lettered() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always(
        "/fail",
        Answer::status(500)
            .header("X-Reason", "boom")
            .body("  internal\nerror {\"x\":1}  "),
    );
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/fail"),
            &[("Upstash-Retries", "2"), FAST_RETRIES],
            "payload",
        )
        .await;

    let attempts = receiver.wait_for("/fail", 3).await;
    let retried: Vec<_> = attempts
        .iter()
        .map(|a| a.header("upstash-retried").unwrap_or_default().to_string())
        .collect();
    assert_eq!(retried, ["0", "1", "2"]);
    for attempt in &attempts {
        assert_eq!(attempt.header("upstash-message-id"), Some(id.as_str()));
        assert_eq!(attempt.body_text(), "payload");
        attempt.verify_signature(dev_user(1).current, &receiver.url("/fail"));
    }

    let entry = user.wait_for_dlq_entry(&id).await;
    assert_eq!(entry["responseStatus"], 500);
    assert_eq!(entry["responseBody"], "  internal\nerror {\"x\":1}  ");
    assert_eq!(entry["responseHeader"]["X-Reason"], json!(["boom"]));
    assert_eq!(entry["url"], receiver.url("/fail"));
    assert_eq!(entry["method"], "POST");
    assert_eq!(entry["maxRetries"], 2);
    assert_eq!(entry["body"], "payload");
    assert!(entry["dlqId"].as_str().is_some_and(|d| !d.is_empty()));
    assert!(entry["notBefore"].is_u64() && entry["createdAt"].is_u64());
    settle().await;
    assert_eq!(receiver.requests_to("/fail").len(), 3);
}

#[tokio::test]
async fn the_log_of_a_failed_message_shows_error_retry_and_failed() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/fail", Answer::status(500).body("nope"));
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/fail"),
            &[("Upstash-Retries", "1"), FAST_RETRIES],
            "x",
        )
        .await;

    let states = user.wait_for_state(&id, "FAILED").await;
    assert_eq!(
        states,
        ["CREATED", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "ERROR", "FAILED"]
    );
    let events = user
        .events(&format!("messageId={id}&order=earliestFirst"))
        .await;
    let error = log_of(&events, "ERROR");
    assert_eq!(error["responseStatus"], 500);
    assert!(error["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(error["nextDeliveryTime"].is_u64(), "{error}");
    assert!(log_of(&events, "RETRY")["nextDeliveryTime"].is_u64());
}

#[tokio::test]
async fn the_default_backoff_is_e_to_the_2_5_units_before_the_first_retry() {
    // One backoff unit is 10 ms in these tests: e^2.5 = 12.18 → 12 units = 120 ms.
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.script("/backoff", vec![Answer::status(500)]);
    let user = server.user(1);

    let id = user
        .publish_ok(&receiver.url("/backoff"), &[("Upstash-Retries", "1")], "x")
        .await;

    receiver.wait_for("/backoff", 2).await;
    user.wait_for_state(&id, "DELIVERED").await;
    let events = user.events(&format!("messageId={id}&state=RETRY")).await;
    let retry = &events[0];
    let wait = retry["nextDeliveryTime"]
        .as_u64()
        .expect("nextDeliveryTime")
        - retry["time"].as_u64().expect("time");
    assert_eq!(wait, 120, "{retry}");
}

#[tokio::test]
async fn retry_after_zero_means_retry_at_once_whatever_the_retry_delay() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.script(
        "/busy",
        vec![Answer::status(503).header("Retry-After", "0")],
    );
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/busy"),
            &[("Upstash-Retries", "1"), ("Upstash-Retry-Delay", "3600000")],
            "x",
        )
        .await;

    let attempts = receiver.wait_for("/busy", 2).await;
    assert_eq!(attempts[1].header("upstash-retried"), Some("1"));
    user.wait_for_state(&id, "DELIVERED").await;
    let retry = user.events(&format!("messageId={id}&state=RETRY")).await;
    assert_eq!(retry[0]["nextDeliveryTime"], retry[0]["time"], "{retry:?}");
}

#[tokio::test]
async fn retry_after_one_second_schedules_the_retry_one_second_later() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.script(
        "/slow-down",
        vec![Answer::status(429).header("Retry-After", "1")],
    );
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/slow-down"),
            &[("Upstash-Retries", "1"), ("Upstash-Retry-Delay", "3600000")],
            "x",
        )
        .await;

    let attempts = receiver.wait_for("/slow-down", 2).await;
    assert!(
        attempts[1].at.duration_since(attempts[0].at) >= Duration::from_millis(900),
        "the retry came before Retry-After had passed"
    );
    user.wait_for_state(&id, "DELIVERED").await;
    let retry = user.events(&format!("messageId={id}&state=RETRY")).await;
    let wait = retry[0]["nextDeliveryTime"].as_u64().expect("next")
        - retry[0]["time"].as_u64().expect("time");
    assert_eq!(wait, 1000, "{retry:?}");
}

#[tokio::test]
async fn a_489_with_upstash_nonretryable_error_goes_to_the_dlq_after_one_attempt() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always(
        "/fatal",
        Answer::status(489)
            .header("Upstash-NonRetryable-Error", "true")
            .body("do not retry"),
    );
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/fatal"),
            &[("Upstash-Retries", "3"), FAST_RETRIES],
            "x",
        )
        .await;

    let entry = user.wait_for_dlq_entry(&id).await;
    assert_eq!(entry["responseStatus"], 489);
    assert_eq!(entry["responseBody"], "do not retry");
    settle().await;
    assert_eq!(receiver.requests_to("/fatal").len(), 1);
    let states = user.states_of(&id).await;
    assert_eq!(states, ["CREATED", "ACTIVE", "ERROR", "FAILED"]);
}

#[tokio::test]
async fn a_489_without_the_nonretryable_header_is_retried_like_any_failure() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/489", Answer::status(489));
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/489"),
            &[("Upstash-Retries", "1"), FAST_RETRIES],
            "x",
        )
        .await;

    user.wait_for_dlq_entry(&id).await;
    assert_eq!(receiver.requests_to("/489").len(), 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_dead_lettered_with_status_0() {
    let server = TestServer::start().await;
    let user = server.user(1);
    let url = refused_url("/nobody-home").await;

    let id = user
        .publish_ok(&url, &[("Upstash-Retries", "1"), FAST_RETRIES], "x")
        .await;

    let entry = user.wait_for_dlq_entry(&id).await;
    assert_eq!(entry["responseStatus"], 0);
    assert_eq!(entry["url"], url);
    let states = user.states_of(&id).await;
    assert_eq!(
        states,
        ["CREATED", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "ERROR", "FAILED"]
    );
    let events = user.events(&format!("messageId={id}&state=ERROR")).await;
    assert!(events[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn an_attempt_longer_than_upstash_timeout_is_a_failure() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/sleepy", Answer::ok().after(Duration::from_secs(3)));
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/sleepy"),
            &[("Upstash-Timeout", "1s"), ("Upstash-Retries", "0")],
            "x",
        )
        .await;

    let entry = user.wait_for_dlq_entry(&id).await;
    assert_ne!(entry["responseStatus"], 200, "{entry}");
    let states = user.states_of(&id).await;
    assert!(!states.contains(&"DELIVERED".to_string()), "{states:?}");
    let errors = user.events(&format!("messageId={id}&state=ERROR")).await;
    assert!(errors[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn the_dlq_pages_with_count_and_cursor_latest_first_and_no_cursor_on_the_last_page() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/p", Answer::status(500));
    let user = server.user(1);
    let mut failed_in_order = Vec::new();
    for _ in 0..5 {
        failed_in_order.push(dead_letter(&user, &receiver, "/p", &[]).await.0);
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("count=2&order=latestFirst&cursor={c}"),
            None => "count=2&order=latestFirst".to_string(),
        };
        let page = user.dlq(&query).await;
        pages += 1;
        let messages = page["messages"].as_array().expect("messages array");
        assert!(messages.len() <= 2, "{page}");
        seen.extend(ids_of(&page["messages"], "messageId"));
        match page.get("cursor") {
            Some(c) => {
                let c = c.as_str().expect("cursor is a string");
                assert!(!c.is_empty(), "a non-final cursor is never empty");
                cursor = Some(c.to_string());
            }
            None => break,
        }
        assert!(pages < 5, "paging does not end: {page}");
    }
    assert_eq!(pages, 3);
    let mut latest_first = failed_in_order.clone();
    latest_first.reverse();
    assert_eq!(seen, latest_first);

    let everything = user.dlq("order=earliestFirst").await;
    assert_eq!(
        ids_of(&everything["messages"], "messageId"),
        failed_in_order
    );
    assert!(everything.get("cursor").is_none(), "{everything}");
}

#[tokio::test]
async fn an_empty_dlq_is_an_empty_array_without_cursor() {
    let server = TestServer::start().await;
    let page = server.user(1).dlq("").await;
    assert_eq!(page, json!({ "messages": [] }));
}

#[tokio::test]
async fn the_dlq_filters_by_url_response_status_and_label() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/a", Answer::status(500));
    receiver.always("/b", Answer::status(404));
    receiver.always("/c", Answer::status(500));
    let user = server.user(1);
    let (a, _) = dead_letter(&user, &receiver, "/a", &[("Upstash-Label", "x")]).await;
    let (b, _) = dead_letter(&user, &receiver, "/b", &[("Upstash-Label", "y")]).await;
    let (c, _) = dead_letter(&user, &receiver, "/c", &[("Upstash-Label", "y")]).await;

    let by_url = user.dlq(&format!("url={}", receiver.url("/b"))).await;
    assert_eq!(ids_of(&by_url["messages"], "messageId"), [b.as_str()]);
    let by_status = user.dlq("responseStatus=500").await;
    assert_eq!(
        ids_of(&by_status["messages"], "messageId"),
        [a.clone(), c.clone()]
    );
    let by_label = user.dlq("label=y").await;
    assert_eq!(
        ids_of(&by_label["messages"], "messageId"),
        [b.clone(), c.clone()]
    );
    let both = user.dlq("label=y&responseStatus=500").await;
    assert_eq!(ids_of(&both["messages"], "messageId"), [c.as_str()]);
    let either = user.dlq("label=x&label=y&responseStatus=404,500").await;
    assert_eq!(ids_of(&either["messages"], "messageId"), [a, b, c]);
    let none = user.dlq("label=nothing").await;
    assert_eq!(none, json!({ "messages": [] }));
}

#[tokio::test]
async fn an_unknown_dlq_filter_is_refused_with_400() {
    let server = TestServer::start().await;
    let user = server.user(1);
    user.get("/v2/dlq?lable=x").await.error(400);
    user.delete("/v2/dlq?lable=x").await.error(400);
    user.post("/v2/dlq/retry?lable=x", &[], "").await.error(400);
}

#[tokio::test]
async fn a_dlq_entry_can_be_read_and_deleted_once() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/one", Answer::status(500).body("why"));
    let user = server.user(1);
    let (id, entry) = dead_letter(&user, &receiver, "/one", &[]).await;
    let dlq_id = entry["dlqId"].as_str().expect("dlqId");

    let one = user.get(&format!("/v2/dlq/{dlq_id}")).await.ok();
    assert_eq!(one["dlqId"], dlq_id);
    assert_eq!(one["messageId"], id.as_str());
    assert_eq!(one["responseStatus"], 500);
    assert_eq!(one["responseBody"], "why");

    let deleted = user.delete(&format!("/v2/dlq/{dlq_id}")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    user.get(&format!("/v2/dlq/{dlq_id}")).await.error(404);
    user.delete(&format!("/v2/dlq/{dlq_id}")).await.error(404);
    assert_eq!(user.dlq("").await, json!({ "messages": [] }));
}

#[tokio::test]
async fn bulk_delete_by_dlq_ids_deletes_exactly_those() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/bulk", Answer::status(500));
    let user = server.user(1);
    let mut dlq_ids = Vec::new();
    for _ in 0..3 {
        let (_, entry) = dead_letter(&user, &receiver, "/bulk", &[]).await;
        dlq_ids.push(entry["dlqId"].as_str().expect("dlqId").to_string());
    }

    let by_query = user
        .delete(&format!(
            "/v2/dlq?dlqIds={}&dlqIds={}",
            dlq_ids[0], dlq_ids[1]
        ))
        .await
        .ok();
    assert_eq!(by_query["deleted"], 2);
    assert!(by_query.get("cursor").is_none(), "{by_query}");
    let left = user.dlq("").await;
    assert_eq!(ids_of(&left["messages"], "dlqId"), [dlq_ids[2].clone()]);

    let by_body = user
        .delete_json("/v2/dlq", &json!({ "dlqIds": [dlq_ids[2]] }))
        .await
        .ok();
    assert_eq!(by_body["deleted"], 1);
    assert_eq!(user.dlq("").await, json!({ "messages": [] }));
}

#[tokio::test]
async fn bulk_delete_by_filter_deletes_only_matching_entries() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/f", Answer::status(500));
    let user = server.user(1);
    dead_letter(&user, &receiver, "/f", &[("Upstash-Label", "old")]).await;
    dead_letter(&user, &receiver, "/f", &[("Upstash-Label", "old")]).await;
    let (keep, _) = dead_letter(&user, &receiver, "/f", &[("Upstash-Label", "new")]).await;

    let reply = user.delete("/v2/dlq?label=old").await.ok();
    assert_eq!(reply["deleted"], 2);
    assert!(reply.get("cursor").is_none(), "{reply}");
    let left = user.dlq("").await;
    assert_eq!(ids_of(&left["messages"], "messageId"), [keep]);

    let nothing = user.delete("/v2/dlq?label=missing").await.ok();
    assert_eq!(nothing, json!({ "deleted": 0 }));
}

#[tokio::test]
async fn retrying_one_entry_delivers_it_as_a_new_message_and_removes_the_entry() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.script("/again", vec![Answer::status(500)]);
    let user = server.user(1);
    let (old_id, entry) = dead_letter(
        &user,
        &receiver,
        "/again",
        &[
            ("Upstash-Forward-X-Keep", "kept"),
            ("Content-Type", "text/plain"),
        ],
    )
    .await;
    let dlq_id = entry["dlqId"].as_str().expect("dlqId");

    let reply = user.post(&format!("/v2/dlq/retry/{dlq_id}"), &[], "").await;
    let new_id = reply.message_id();
    assert_ne!(new_id, old_id);

    let attempts = receiver.wait_for("/again", 2).await;
    let redelivery = &attempts[1];
    assert_eq!(
        redelivery.header("upstash-message-id"),
        Some(new_id.as_str())
    );
    assert_eq!(redelivery.header("upstash-retried"), Some("0"));
    assert_eq!(redelivery.header("x-keep"), Some("kept"));
    assert_eq!(redelivery.header("content-type"), Some("text/plain"));
    assert_eq!(redelivery.body_text(), "/again");
    redelivery.verify_signature(dev_user(1).current, &receiver.url("/again"));
    user.wait_for_state(&new_id, "DELIVERED").await;

    user.get(&format!("/v2/dlq/{dlq_id}")).await.error(404);
    user.delete(&format!("/v2/dlq/{dlq_id}")).await.error(404);
    user.post(&format!("/v2/dlq/retry/{dlq_id}"), &[], "")
        .await
        .error(404);
}

#[tokio::test]
async fn bulk_retry_redelivers_every_selected_entry() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.script("/r", vec![Answer::status(500), Answer::status(500)]);
    let user = server.user(1);
    let mut dlq_ids = Vec::new();
    for _ in 0..2 {
        let (_, entry) = dead_letter(&user, &receiver, "/r", &[]).await;
        dlq_ids.push(entry["dlqId"].as_str().expect("dlqId").to_string());
    }

    let reply = user
        .post(
            &format!("/v2/dlq/retry?dlqIds={}&dlqIds={}", dlq_ids[0], dlq_ids[1]),
            &[],
            "",
        )
        .await
        .ok();

    let new_ids = ids_of(&reply["responses"], "messageId");
    assert_eq!(new_ids.len(), 2, "{reply}");
    assert!(
        reply.get("cursor").is_none_or(|c| c == ""),
        "cursor on the last page: {reply}"
    );
    let attempts = receiver.wait_for("/r", 4).await;
    let mut redelivered: Vec<_> = attempts[2..]
        .iter()
        .map(|a| {
            a.header("upstash-message-id")
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    redelivered.sort();
    let mut expected = new_ids.clone();
    expected.sort();
    assert_eq!(redelivered, expected);
    assert_eq!(user.dlq("").await, json!({ "messages": [] }));
}

#[tokio::test]
async fn bulk_retry_by_filter_retries_only_matching_entries() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/x", Answer::status(500));
    receiver.script("/y", vec![Answer::status(500)]);
    let user = server.user(1);
    let (keep, _) = dead_letter(&user, &receiver, "/x", &[]).await;
    dead_letter(&user, &receiver, "/y", &[]).await;

    let reply = user
        .post(
            &format!("/v2/dlq/retry?url={}", receiver.url("/y")),
            &[],
            "",
        )
        .await
        .ok();

    assert_eq!(ids_of(&reply["responses"], "messageId").len(), 1);
    receiver.wait_for("/y", 2).await;
    let left = user.dlq("").await;
    assert_eq!(ids_of(&left["messages"], "messageId"), [keep]);
}

#[tokio::test]
async fn a_retry_with_upstash_retries_0_overrides_the_original_retries() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/stubborn", Answer::status(500));
    let user = server.user(1);
    let id = user
        .publish_ok(
            &receiver.url("/stubborn"),
            &[("Upstash-Retries", "2"), FAST_RETRIES],
            "x",
        )
        .await;
    let entry = user.wait_for_dlq_entry(&id).await;
    assert_eq!(receiver.requests_to("/stubborn").len(), 3);
    let dlq_id = entry["dlqId"].as_str().expect("dlqId");

    let new_id = user
        .post(
            &format!("/v2/dlq/retry/{dlq_id}"),
            &[("Upstash-Retries", "0")],
            "",
        )
        .await
        .message_id();

    let again = user.wait_for_dlq_entry(&new_id).await;
    assert_eq!(again["maxRetries"], 0);
    settle().await;
    assert_eq!(receiver.requests_to("/stubborn").len(), 4);
}

#[tokio::test]
async fn a_binary_response_body_is_kept_as_base64() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let mut answer = Answer::status(500);
    answer.body = vec![0xff, 0xfe, 0x00, 0x01];
    receiver.always("/bin", answer);
    let user = server.user(1);

    let (_, entry) = dead_letter(&user, &receiver, "/bin", &[]).await;

    assert_eq!(entry["responseBodyBase64"], "//4AAQ==", "{entry}");
    assert!(entry.get("responseBody").is_none(), "{entry}");
}

#[tokio::test]
async fn without_upstash_retries_a_message_gets_three_retries() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/default", Answer::status(500));
    let user = server.user(1);

    let id = user
        .publish_ok(&receiver.url("/default"), &[FAST_RETRIES], "x")
        .await;

    let entry = user.wait_for_dlq_entry(&id).await;
    assert_eq!(entry["maxRetries"], 3);
    let retried: Vec<_> = receiver
        .requests_to("/default")
        .iter()
        .map(|r| r.header("upstash-retried").unwrap_or_default().to_string())
        .collect();
    assert_eq!(retried, ["0", "1", "2", "3"]);
}

#[tokio::test]
async fn the_retry_delay_expression_sees_retried_starting_at_zero() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/expr", Answer::status(500));
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/expr"),
            &[
                ("Upstash-Retries", "3"),
                (
                    "Upstash-Retry-Delay",
                    "max(20, pow(2, retried) * 30) + 0 * sqrt(4)",
                ),
            ],
            "x",
        )
        .await;

    user.wait_for_dlq_entry(&id).await;
    let retries = user
        .events(&format!("messageId={id}&state=RETRY&order=earliestFirst"))
        .await;
    let waits: Vec<u64> = retries
        .iter()
        .map(|r| r["nextDeliveryTime"].as_u64().unwrap_or(0) - r["time"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(waits, [30, 60, 120]);
}

#[tokio::test]
async fn retry_after_and_rate_limit_headers_are_read_in_every_documented_form() {
    // A manual clock: no retry (but the immediate one) ever fires, so each RETRY
    // line's nextDeliveryTime - time is exactly the delay that was chosen.
    let start = 1_700_000_000_000;
    let clock = std::sync::Arc::new(depesha_engine::ManualClock::new(start));
    let server = TestServer::builder().manual_clock(clock).start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let in_two_minutes =
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_millis(start + 120_000));
    let fallback = 3_600_000;
    let cases: Vec<(&str, String, u64)> = vec![
        ("Retry-After", "0".into(), 0),
        ("Retry-After", "10".into(), 10_000),
        ("Retry-After", "10s".into(), 10_000),
        ("Retry-After", "6m5s".into(), 365_000),
        ("Retry-After", in_two_minutes, 120_000),
        ("Retry-After", "86401".into(), fallback),
        ("Retry-After", "soon".into(), fallback),
        ("X-RateLimit-Reset-Requests", "2s".into(), 2_000),
        ("X-RateLimit-Reset-Tokens", "500ms".into(), 500),
    ];

    for (i, (name, value, expected)) in cases.iter().enumerate() {
        let path = format!("/ra{i}");
        receiver.script(&path, vec![Answer::status(429).header(name, value)]);
        let id = user
            .publish_ok(
                &receiver.url(&path),
                &[("Upstash-Retries", "1"), ("Upstash-Retry-Delay", "3600000")],
                "x",
            )
            .await;
        user.wait_for_state(&id, "RETRY").await;
        let retry = user.events(&format!("messageId={id}&state=RETRY")).await;
        let wait = retry[0]["nextDeliveryTime"].as_u64().expect("next")
            - retry[0]["time"].as_u64().expect("time");
        assert_eq!(wait, *expected, "{name}: {value}");
    }
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_not_followed() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always(
        "/moved",
        Answer::status(302).header("Location", &receiver.url("/target")),
    );
    let user = server.user(1);

    let (_, entry) = dead_letter(&user, &receiver, "/moved", &[]).await;

    assert_eq!(entry["responseStatus"], 302);
    assert!(receiver.requests_to("/target").is_empty());
}

#[tokio::test]
async fn a_dlq_entry_shows_redacted_values_but_its_retry_delivers_the_originals() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.script("/private", vec![Answer::status(500)]);
    let user = server.user(1);
    let (_, entry) = dead_letter(
        &user,
        &receiver,
        "/private",
        &[
            ("Upstash-Redact-Fields", "body, header[X-Api-Key]"),
            ("Upstash-Forward-X-Api-Key", "key-123"),
        ],
    )
    .await;
    let dlq_id = entry["dlqId"].as_str().expect("dlqId");
    let shown = user.get(&format!("/v2/dlq/{dlq_id}")).await.ok();
    assert!(!shown.to_string().contains("key-123"), "{shown}");
    assert!(
        shown["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("REDACTED")),
        "{shown}"
    );
    assert!(
        shown["header"]["X-Api-Key"][0]
            .as_str()
            .is_some_and(|v| v.starts_with("REDACTED")),
        "{shown}"
    );
    let listed = user.dlq("").await;
    assert!(!listed.to_string().contains("key-123"), "{listed}");

    user.post(&format!("/v2/dlq/retry/{dlq_id}"), &[], "")
        .await
        .message_id();

    let attempts = receiver.wait_for("/private", 2).await;
    assert_eq!(attempts[1].header("x-api-key"), Some("key-123"));
    assert_eq!(attempts[1].body_text(), "/private");
}

#[tokio::test]
async fn get_dlq_accepts_dlq_ids_as_a_filter() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/ids", Answer::status(500));
    let user = server.user(1);
    let (_, first) = dead_letter(&user, &receiver, "/ids", &[]).await;
    dead_letter(&user, &receiver, "/ids", &[]).await;
    let wanted = first["dlqId"].as_str().expect("dlqId");

    let page = user.dlq(&format!("dlqIds={wanted}")).await;

    assert_eq!(ids_of(&page["messages"], "dlqId"), [wanted.to_string()]);
}

#[tokio::test]
async fn bulk_dlq_delete_pages_with_count_and_reports_no_cursor_when_finished() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/many", Answer::status(500));
    let user = server.user(1);
    for _ in 0..3 {
        dead_letter(&user, &receiver, "/many", &[]).await;
    }

    let first = user.delete("/v2/dlq?count=2").await.ok();
    assert_eq!(first["deleted"], 2);
    let cursor = first["cursor"]
        .as_str()
        .expect("a cursor while entries remain");
    let second = user
        .delete(&format!("/v2/dlq?count=2&cursor={cursor}"))
        .await
        .ok();
    assert_eq!(second["deleted"], 1);
    assert!(second.get("cursor").is_none(), "{second}");
    assert_eq!(user.dlq("").await, json!({ "messages": [] }));
}

#[tokio::test]
async fn filtered_dlq_pages_cover_matching_entries_only() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/m", Answer::status(500));
    let user = server.user(1);
    let mut wanted = Vec::new();
    for i in 0..5 {
        let label = if i % 2 == 0 { "even" } else { "odd" };
        let (id, _) = dead_letter(&user, &receiver, "/m", &[("Upstash-Label", label)]).await;
        if label == "even" {
            wanted.push(id);
        }
    }

    let mut seen = Vec::new();
    let mut query = "label=even&count=1".to_string();
    for _ in 0..4 {
        let page = user.dlq(&query).await;
        seen.extend(ids_of(&page["messages"], "messageId"));
        match page["cursor"].as_str() {
            Some(c) => query = format!("label=even&count=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, wanted);
}

#[tokio::test]
async fn a_retry_is_not_attempted_before_its_retry_delay_has_passed() {
    let clock = std::sync::Arc::new(depesha_engine::ManualClock::new(common::now_ms()));
    let server = TestServer::builder()
        .manual_clock(clock.clone())
        .start()
        .await;
    let receiver = Receiver::start().await;
    receiver.script("/later", vec![Answer::status(500)]);
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/later"),
            &[("Upstash-Retries", "1"), ("Upstash-Retry-Delay", "5000")],
            "x",
        )
        .await;
    user.wait_for_state(&id, "RETRY").await;

    clock.advance(Duration::from_millis(4_900));
    settle().await;
    assert_eq!(receiver.requests_to("/later").len(), 1);
    clock.advance(Duration::from_millis(200));
    let attempts = receiver.wait_for("/later", 2).await;
    assert_eq!(attempts[1].header("upstash-retried"), Some("1"));
    user.wait_for_state(&id, "DELIVERED").await;
}
