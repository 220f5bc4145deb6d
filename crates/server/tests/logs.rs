//! Spec §3.11 and §1 "Logs": `GET /v2/events` (what the SDKs call) and `GET /v2/logs`
//! (the documented name) both answer `{"events": [...], "logs": [...]}`; a delivered
//! message goes CREATED → ACTIVE → DELIVERED; filters, `count` + `cursor` paging
//! with the cursor absent on the last page, `latestFirst` (default) and
//! `earliestFirst` order.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{now_ms, Answer, Api, Receiver, TestServer};
use depesha_engine::ManualClock;
use serde_json::Value;

/// Publishes to `path` and waits until it is delivered.
async fn delivered(
    user: &Api,
    receiver: &Receiver,
    path: &str,
    headers: &[(&str, &str)],
) -> String {
    let id = user.publish_ok(&receiver.url(path), headers, path).await;
    user.wait_for_state(&id, "DELIVERED").await;
    id
}

fn states(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["state"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn message_ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["messageId"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn events_and_logs_both_answer_with_events_and_logs_arrays() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    for path in ["/v2/events", "/v2/logs"] {
        let empty = user.get(path).await.ok();
        assert_eq!(empty["events"], serde_json::json!([]), "{path}: {empty}");
        assert_eq!(empty["logs"], serde_json::json!([]), "{path}: {empty}");
        assert!(empty.get("cursor").is_none(), "{path}: {empty}");
    }

    delivered(&user, &receiver, "/x", &[]).await;
    for path in ["/v2/events", "/v2/logs"] {
        let full = user.get(path).await.ok();
        assert_eq!(full["events"].as_array().map(Vec::len), Some(3), "{full}");
        assert_eq!(full["events"], full["logs"], "{path}");
    }
}

#[tokio::test]
async fn a_delivered_message_goes_created_active_delivered() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let before = now_ms();

    let id = delivered(&user, &receiver, "/ok", &[("Upstash-Label", "L")]).await;

    let events = user
        .events(&format!("messageId={id}&order=earliestFirst"))
        .await;
    assert_eq!(states(&events), ["CREATED", "ACTIVE", "DELIVERED"]);
    let mut last = before;
    for event in &events {
        assert_eq!(event["messageId"], id.as_str());
        assert_eq!(event["url"], receiver.url("/ok"));
        let time = event["time"].as_u64().expect("time in ms");
        assert!(time >= last && time <= now_ms(), "{event}");
        last = time;
    }
    // The CREATED line carries the request; bodies are base64 in logs.
    assert_eq!(events[0]["body"], STANDARD.encode("/ok"));
    assert_eq!(events[0]["labels"], serde_json::json!(["L"]));
}

#[tokio::test]
async fn the_default_order_is_latest_first_and_earliest_first_reverses_it() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let id = delivered(&user, &receiver, "/ok", &[]).await;

    let latest = user.events(&format!("messageId={id}")).await;
    assert_eq!(states(&latest), ["DELIVERED", "ACTIVE", "CREATED"]);
    let explicit = user
        .events(&format!("messageId={id}&order=latestFirst"))
        .await;
    assert_eq!(states(&explicit), ["DELIVERED", "ACTIVE", "CREATED"]);
    let earliest = user
        .events(&format!("messageId={id}&order=earliestFirst"))
        .await;
    assert_eq!(states(&earliest), ["CREATED", "ACTIVE", "DELIVERED"]);
}

#[tokio::test]
async fn logs_filter_by_message_id_state_label_and_url() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let a = delivered(&user, &receiver, "/a", &[("Upstash-Label", "red")]).await;
    let b = delivered(&user, &receiver, "/b", &[("Upstash-Label", "blue")]).await;

    let only_a = user.events(&format!("messageId={a}")).await;
    assert!(only_a.iter().all(|e| e["messageId"] == a.as_str()));
    assert_eq!(only_a.len(), 3);

    let created = user.events("state=CREATED&order=earliestFirst").await;
    assert_eq!(message_ids(&created), [a.clone(), b.clone()]);
    assert_eq!(states(&created), ["CREATED", "CREATED"]);

    let blue = user.events("label=blue").await;
    assert_eq!(blue.len(), 3);
    assert!(blue.iter().all(|e| e["messageId"] == b.as_str()));

    let by_url = user.events(&format!("url={}", receiver.url("/a"))).await;
    assert_eq!(by_url.len(), 3);
    assert!(by_url.iter().all(|e| e["messageId"] == a.as_str()));

    let delivered_red = user.events("state=DELIVERED&label=red").await;
    assert_eq!(message_ids(&delivered_red), [a.as_str()]);

    let both = user.events("label=red,blue&state=DELIVERED").await;
    assert_eq!(both.len(), 2);
    let repeated = user
        .events(&format!("messageIds={a}&messageIds={b}&state=CREATED"))
        .await;
    assert_eq!(repeated.len(), 2);
}

#[tokio::test]
async fn the_in_progress_filter_matches_active_retry_and_error() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.script("/flaky", vec![Answer::status(500)]);
    let user = server.user(1);
    let id = user
        .publish_ok(
            &receiver.url("/flaky"),
            &[("Upstash-Retries", "1"), ("Upstash-Retry-Delay", "10")],
            "x",
        )
        .await;
    user.wait_for_state(&id, "DELIVERED").await;

    let in_progress = user
        .events(&format!(
            "messageId={id}&state=IN_PROGRESS&order=earliestFirst"
        ))
        .await;

    assert_eq!(states(&in_progress), ["ACTIVE", "ERROR", "RETRY", "ACTIVE"]);
}

#[tokio::test]
async fn an_unknown_state_or_filter_is_refused_with_400() {
    let server = TestServer::start().await;
    let user = server.user(1);
    user.get("/v2/events?state=EXPLODED").await.error(400);
    user.get("/v2/events?colour=red").await.error(400);
    user.get("/v2/logs?colour=red").await.error(400);
}

#[tokio::test]
async fn logs_filter_by_from_date_and_to_date_inclusively() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let server = TestServer::builder()
        .manual_clock(clock.clone())
        .start()
        .await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let t1 = server.now();
    let first = delivered(&user, &receiver, "/1", &[]).await;
    clock.advance(Duration::from_secs(10));
    let t2 = server.now();
    let second = delivered(&user, &receiver, "/2", &[]).await;

    let from_t2 = user.events(&format!("state=CREATED&fromDate={t2}")).await;
    assert_eq!(message_ids(&from_t2), [second.as_str()]);
    let to_t1 = user.events(&format!("state=CREATED&toDate={t1}")).await;
    assert_eq!(message_ids(&to_t1), [first.as_str()]);
    let between = user
        .events(&format!(
            "fromDate={}&toDate={}&order=earliestFirst",
            t1 + 1,
            t2 - 1
        ))
        .await;
    assert!(between.is_empty(), "{between:?}");
    let both = user
        .events(&format!(
            "state=CREATED&fromDate={t1}&toDate={t2}&order=earliestFirst"
        ))
        .await;
    assert_eq!(message_ids(&both), [first, second]);
    let created = user.events("state=CREATED&order=earliestFirst").await;
    assert_eq!(created[0]["time"], t1);
    assert_eq!(created[1]["time"], t2);
}

#[tokio::test]
async fn logs_page_with_count_and_cursor_and_no_cursor_on_the_last_page() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    for path in ["/1", "/2", "/3"] {
        delivered(&user, &receiver, path, &[]).await;
    }
    let all = user.events("order=earliestFirst").await;
    assert_eq!(all.len(), 9);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("/v2/events?count=4&order=earliestFirst&cursor={c}"),
            None => "/v2/events?count=4&order=earliestFirst".to_string(),
        };
        let page = user.get(&query).await.ok();
        pages += 1;
        let events = page["events"].as_array().expect("events").clone();
        assert!(events.len() <= 4);
        seen.extend(events);
        match page.get("cursor") {
            Some(c) => {
                let c = c.as_str().expect("cursor is a string");
                assert!(!c.is_empty());
                cursor = Some(c.to_string());
            }
            None => break,
        }
        assert!(pages < 5, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, all);
}

#[tokio::test]
async fn a_page_that_ends_exactly_at_the_last_entry_has_no_cursor() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    delivered(&user, &receiver, "/1", &[]).await;

    let page = user.get("/v2/events?count=3").await.ok();
    assert_eq!(page["events"].as_array().map(Vec::len), Some(3));
    assert!(page.get("cursor").is_none(), "{page}");
}

#[tokio::test]
async fn logs_show_redacted_values_not_the_originals() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let id = delivered(
        &user,
        &receiver,
        "/secret",
        &[
            ("Upstash-Redact-Fields", "body,header[X-Token]"),
            ("Upstash-Forward-X-Token", "s3cr3t"),
        ],
    )
    .await;

    let events = user.events(&format!("messageId={id}")).await;
    let text = serde_json::to_string(&events).expect("json");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(!text.contains(&STANDARD.encode("/secret")), "{text}");
    let created = events
        .iter()
        .find(|e| e["state"] == "CREATED")
        .expect("CREATED line");
    let token = created["header"]["X-Token"][0].as_str().unwrap_or_default();
    assert!(token.starts_with("REDACTED"), "{created}");
}

#[tokio::test]
async fn filtered_logs_page_over_matching_entries_only() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let mut ids = Vec::new();
    for path in ["/1", "/2", "/3"] {
        ids.push(delivered(&user, &receiver, path, &[]).await);
    }

    let mut seen = Vec::new();
    let mut query = "state=DELIVERED&count=1&order=earliestFirst".to_string();
    for _ in 0..3 {
        let page = user.get(&format!("/v2/events?{query}")).await.ok();
        let events = page["events"].as_array().expect("events").clone();
        assert_eq!(events.len(), 1, "{page}");
        seen.extend(message_ids(&events));
        match page["cursor"].as_str() {
            Some(c) => query = format!("state=DELIVERED&count=1&order=earliestFirst&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
}
