//! Spec §3.1 `POST /v2/publish/{destination}`, §2.4 raw destination paths, §4 the
//! `Upstash-*` request headers, §5 what the destination receives and §6 the signature.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{dev_user, now_ms, settle, Answer, Receiver, TestServer};
use depesha_engine::ManualClock;
use serde_json::json;

#[tokio::test]
async fn the_destination_receives_the_exact_body_method_content_type_and_forwarded_headers() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let url = receiver.url("/hook");
    let body = "{\"hello\":\"world\"}  \n\u{e9}";

    let id = server
        .user(1)
        .publish_ok(
            &url,
            &[
                ("Content-Type", "application/json; charset=utf-8"),
                ("Upstash-Method", "PUT"),
                ("Upstash-Forward-X-Custom", "custom value"),
                ("Upstash-Forward-Upstash-Workflow-Sdk-Version", "1"),
                ("Upstash-Retries", "0"),
            ],
            body,
        )
        .await;

    let got = receiver.wait_for("/hook", 1).await.remove(0);
    assert_eq!(got.method, "PUT");
    assert_eq!(got.body, body.as_bytes());
    assert_eq!(
        got.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(got.header("x-custom"), Some("custom value"));
    assert_eq!(got.header("upstash-workflow-sdk-version"), Some("1"));
    assert_eq!(got.header("upstash-forward-x-custom"), None);
    assert_eq!(got.header("upstash-retries"), None);
    assert_eq!(got.header("upstash-method"), None);
    assert_eq!(got.header("authorization"), None);
    assert_eq!(got.header("user-agent"), Some("Upstash-QStash"));
    assert_eq!(got.header("upstash-message-id"), Some(id.as_str()));
    assert_eq!(got.header("upstash-retried"), Some("0"));
}

#[tokio::test]
async fn the_delivery_is_signed_with_a_jwt_over_the_destination_and_the_body() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let url = receiver.url("/signed");
    let before = now_ms() / 1000;

    server.user(1).publish_ok(&url, &[], "sign me").await;

    let got = receiver.wait_for("/signed", 1).await.remove(0);
    let claims = got.verify_signature(dev_user(1).current, &url);
    assert_eq!(claims["sub"], url);
    assert_eq!(
        claims["body"],
        depesha_core::jwt::body_hash(b"sign me"),
        "body claim is base64url(sha256(body))"
    );
    let iat = claims["iat"].as_u64().expect("iat");
    assert!(iat >= before && iat <= now_ms() / 1000 + 1, "iat {iat}");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert!(claims.get("aud").is_none(), "no aud claim: {claims}");
    let token = got.header("upstash-signature").expect("signature");
    assert!(depesha_core::jwt::verify(dev_user(1).next, token).is_none());
}

#[tokio::test]
async fn an_empty_body_is_delivered_empty_and_signed_with_the_empty_body_hash() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let url = receiver.url("/empty");

    server.user(1).publish_ok(&url, &[], "").await;

    let got = receiver.wait_for("/empty", 1).await.remove(0);
    assert!(got.body.is_empty());
    let claims = got.verify_signature(dev_user(1).current, &url);
    let hash = claims["body"].as_str().expect("body claim");
    assert_eq!(
        hash.trim_end_matches('='),
        "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
    );
}

#[tokio::test]
async fn a_raw_destination_keeps_its_path_port_and_query_string() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let url = receiver.url("/a/b/c?a=1&b=two");

    let reply = server.user(1).publish(&url, &[], "raw").await;
    let answer = reply.ok();
    let id = answer["messageId"].as_str().expect("messageId").to_string();
    assert_eq!(answer["url"], url);

    let got = receiver.wait_for("/a/b/c", 1).await.remove(0);
    assert_eq!(got.path_and_query, "/a/b/c?a=1&b=two");
    got.verify_signature(dev_user(1).current, &url);
    assert_eq!(server.user(1).message(&id).await.ok()["url"], url);
}

#[tokio::test]
async fn query_string_config_is_applied_and_removed_from_the_destination() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/q", Answer::status(500));
    let user = server.user(1);

    let id = user
        .publish_ok(&receiver.url("/q?keep=1&upstash-retries=0"), &[], "x")
        .await;

    let entry = user.wait_for_dlq_entry(&id).await;
    assert_eq!(entry["maxRetries"], 0);
    assert_eq!(entry["url"], receiver.url("/q?keep=1"));
    let got = receiver
        .wait_for_exactly_one("/q", Duration::from_millis(300))
        .await;
    assert_eq!(got.path_and_query, "/q?keep=1");
}

#[tokio::test]
async fn a_delayed_message_shows_its_not_before_and_is_delivered_only_after_it() {
    let clock = Arc::new(ManualClock::new(now_ms()));
    let server = TestServer::builder()
        .manual_clock(clock.clone())
        .start()
        .await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let published_at = server.now();

    let delayed = user
        .publish_ok(&receiver.url("/delayed"), &[("Upstash-Delay", "2s")], "d")
        .await;
    let message = user.message(&delayed).await.ok();
    assert!(
        message["notBefore"].as_u64().expect("notBefore") >= published_at + 2000,
        "{message}"
    );

    // An undelayed control is delivered at once; the delayed one is not.
    user.publish_ok(&receiver.url("/now"), &[], "n").await;
    receiver.wait_for("/now", 1).await;
    clock.advance(Duration::from_millis(1500));
    settle().await;
    assert!(receiver.requests_to("/delayed").is_empty());

    clock.advance(Duration::from_millis(600));
    let got = receiver.wait_for("/delayed", 1).await.remove(0);
    assert_eq!(got.header("upstash-message-id"), Some(delayed.as_str()));
}

#[tokio::test]
async fn upstash_not_before_wins_over_upstash_delay() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let not_before = now_ms() / 1000 + 3600;

    let id = user
        .publish_ok(
            &receiver.url("/nb"),
            &[
                ("Upstash-Delay", "1s"),
                ("Upstash-Not-Before", &not_before.to_string()),
            ],
            "x",
        )
        .await;
    let message = user.message(&id).await.ok();
    assert_eq!(message["notBefore"], not_before * 1000);

    // And the other way round: a Not-Before already passed beats a day of delay.
    let past = now_ms() / 1000 - 1;
    let soon = user
        .publish_ok(
            &receiver.url("/past"),
            &[
                ("Upstash-Delay", "1d"),
                ("Upstash-Not-Before", &past.to_string()),
            ],
            "y",
        )
        .await;
    let got = receiver.wait_for("/past", 1).await.remove(0);
    assert_eq!(got.header("upstash-message-id"), Some(soon.as_str()));
    settle().await;
    assert!(receiver.requests_to("/nb").is_empty());
}

#[tokio::test]
async fn the_same_deduplication_id_gives_the_same_message_and_one_delivery() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let url = receiver.url("/dedup");
    let headers = [("Upstash-Deduplication-Id", "order-42")];

    let first = user.publish(&url, &headers, "a").await;
    let first_json = first.ok();
    assert_ne!(first_json["deduplicated"], true);
    let second = user.publish(&url, &headers, "a").await;
    assert_eq!(second.status, 202, "{}", second.text());
    let second_json = second.json();
    assert_eq!(second_json["messageId"], first_json["messageId"]);
    assert_eq!(second_json["deduplicated"], true);

    let got = receiver
        .wait_for_exactly_one("/dedup", Duration::from_millis(400))
        .await;
    assert_eq!(
        got.header("upstash-message-id"),
        first_json["messageId"].as_str()
    );
}

#[tokio::test]
async fn content_based_deduplication_suppresses_an_identical_publish_only() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let url = receiver.url("/content");
    // Python sends `True` (str(bool)): case-insensitive.
    let headers = [
        ("Upstash-Content-Based-Deduplication", "True"),
        ("Content-Type", "text/plain"),
    ];

    let first = user.publish(&url, &headers, "same").await.message_id();
    let again = user.publish(&url, &headers, "same").await;
    assert_eq!(again.status, 202, "{}", again.text());
    assert_eq!(again.json()["messageId"], first.as_str());
    assert_eq!(again.json()["deduplicated"], true);
    let other = user.publish(&url, &headers, "different").await;
    assert_eq!(other.status, 200);
    assert_ne!(other.json()["messageId"], first.as_str());

    receiver.wait_for("/content", 2).await;
    settle().await;
    assert_eq!(receiver.requests_to("/content").len(), 2);
}

#[tokio::test]
async fn labels_are_shown_when_the_message_is_read() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/labelled"),
            &[("Upstash-Label", "billing,urgent"), ("Upstash-Delay", "1h")],
            "x",
        )
        .await;

    let message = user.message(&id).await.ok();
    assert_eq!(message["label"], "billing");
    assert_eq!(message["labels"], json!(["billing", "urgent"]));
}

#[tokio::test]
async fn redacted_fields_are_hidden_when_read_but_delivered_as_they_were() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/secret"),
            &[
                ("Upstash-Redact-Fields", "body, header[X-Secret]"),
                ("Upstash-Forward-X-Secret", "hunter2"),
                ("Upstash-Forward-X-Public", "visible"),
            ],
            "card=4111",
        )
        .await;

    let got = receiver.wait_for("/secret", 1).await.remove(0);
    assert_eq!(got.body_text(), "card=4111");
    assert_eq!(got.header("x-secret"), Some("hunter2"));

    let message = user.message(&id).await.ok();
    let body = message["body"].as_str().unwrap_or_default();
    assert!(body.starts_with("REDACTED"), "body shown as {body:?}");
    let secret = &message["header"]["X-Secret"][0];
    assert!(
        secret.as_str().is_some_and(|s| s.starts_with("REDACTED")),
        "X-Secret shown as {secret}"
    );
    assert_eq!(message["header"]["X-Public"], json!(["visible"]));
    assert!(!message.to_string().contains("hunter2"));
    assert!(!message.to_string().contains("card=4111"));
}

#[tokio::test]
async fn header_forward_true_forwards_plain_headers_but_never_authorization() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;

    server
        .user(1)
        .publish_ok(
            &receiver.url("/webhook"),
            &[
                ("Upstash-Header-Forward", "true"),
                ("X-Github-Event", "push"),
                ("Content-Type", "application/json"),
                ("Upstash-Retries", "1"),
            ],
            "{}",
        )
        .await;

    let got = receiver.wait_for("/webhook", 1).await.remove(0);
    assert_eq!(got.header("x-github-event"), Some("push"));
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("authorization"), None);
    assert_eq!(got.header("upstash-header-forward"), None);
    assert_eq!(got.header("upstash-retries"), None);
}

#[tokio::test]
async fn without_header_forward_plain_headers_are_not_forwarded() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;

    server
        .user(1)
        .publish_ok(&receiver.url("/plain"), &[("X-Github-Event", "push")], "{}")
        .await;

    let got = receiver.wait_for("/plain", 1).await.remove(0);
    assert_eq!(got.header("x-github-event"), None);
}

#[tokio::test]
async fn double_slashes_and_encoded_slashes_in_the_destination_path_survive() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let url = receiver.url("/a//b/c%2Fd");

    let id = server.user(1).publish_ok(&url, &[], "x").await;

    let got = receiver.wait_for("/a//b/c%2Fd", 1).await.remove(0);
    assert_eq!(got.path_and_query, "/a//b/c%2Fd");
    assert_eq!(got.header("upstash-message-id"), Some(id.as_str()));
    got.verify_signature(dev_user(1).current, &url);
}

#[tokio::test]
async fn a_percent_encoded_destination_url_is_decoded_once() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let url = receiver.url("/encoded");
    let encoded = url.replace(':', "%3A").replace('/', "%2F");

    let id = server.user(1).publish_ok(&encoded, &[], "x").await;

    let got = receiver.wait_for("/encoded", 1).await.remove(0);
    assert_eq!(got.header("upstash-message-id"), Some(id.as_str()));
    assert_eq!(server.user(1).message(&id).await.ok()["url"], url);
}

#[tokio::test]
async fn the_publish_answer_of_a_url_destination_carries_the_message_id_and_url() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let url = receiver.url("/answer");

    let reply = server.user(1).publish(&url, &[], "x").await;

    assert_eq!(reply.status, 200);
    let answer = reply.json();
    assert!(answer["messageId"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert_eq!(answer["url"], url);
    assert!(answer.get("deduplicated").is_none_or(|d| d == false));
}

#[tokio::test]
async fn delays_follow_the_duration_grammar_including_bare_seconds() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let server = TestServer::builder()
        .manual_clock(clock.clone())
        .start()
        .await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let now = server.now();
    let cases = [
        ("1d10h30m", ((24 + 10) * 60 + 30) * 60_000),
        ("90", 90_000),
        ("5m", 300_000),
        ("2h", 7_200_000),
        ("10s", 10_000),
    ];

    for (delay, ms) in cases {
        let id = user
            .publish_ok(&receiver.url("/d"), &[("Upstash-Delay", delay)], "x")
            .await;
        let message = user.message(&id).await.ok();
        assert_eq!(message["notBefore"], now + ms, "Upstash-Delay: {delay}");
        assert_eq!(message["createdAt"], now, "Upstash-Delay: {delay}");
    }
}

#[tokio::test]
async fn the_same_deduplication_id_to_another_destination_is_still_a_duplicate() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let headers = [("Upstash-Deduplication-Id", "same-id")];

    let first = user.publish_ok(&receiver.url("/one"), &headers, "a").await;
    let second = user.publish(&receiver.url("/two"), &headers, "b").await;

    assert_eq!(second.json()["messageId"], first.as_str());
    assert_eq!(second.json()["deduplicated"], true);
    receiver.wait_for("/one", 1).await;
    settle().await;
    assert!(receiver.requests_to("/two").is_empty());
}

#[tokio::test]
async fn content_based_deduplication_tells_destinations_and_content_types_apart() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let dedup = ("Upstash-Content-Based-Deduplication", "true");

    let a = user.publish_ok(&receiver.url("/a"), &[dedup], "same").await;
    let b = user.publish(&receiver.url("/b"), &[dedup], "same").await;
    let c = user
        .publish(
            &receiver.url("/a"),
            &[dedup, ("Content-Type", "application/json")],
            "same",
        )
        .await;

    assert_eq!(b.status, 200, "{}", b.text());
    assert_ne!(b.json()["messageId"], a.as_str());
    assert_eq!(c.status, 200, "{}", c.text());
    assert_ne!(c.json()["messageId"], a.as_str());
}

#[tokio::test]
async fn flow_control_values_are_read_with_or_without_spaces() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    for value in [
        "parallelism=2, rate=10, period=1m",
        "parallelism=2,rate=10,period=1m",
    ] {
        let id = user
            .publish_ok(
                &receiver.url("/fc"),
                &[
                    ("Upstash-Delay", "1h"),
                    ("Upstash-Flow-Control-Key", "fc-key"),
                    ("Upstash-Flow-Control-Value", value),
                ],
                "x",
            )
            .await;
        let message = user.message(&id).await.ok();
        assert_eq!(message["flowControlKey"], "fc-key", "{value}");
        assert_eq!(message["parallelism"], 2, "{value}");
        assert_eq!(message["rate"], 10, "{value}");
        assert_eq!(message["period"], 60, "{value}");
    }
}

#[tokio::test]
async fn the_retry_delay_expression_is_shown_when_the_message_is_read() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/expr"),
            &[
                ("Upstash-Delay", "1h"),
                ("Upstash-Retry-Delay", "pow(2, retried) * 1000"),
            ],
            "x",
        )
        .await;

    let message = user.message(&id).await.ok();
    assert_eq!(message["retryDelayExpression"], "pow(2, retried) * 1000");
}

#[tokio::test]
async fn forwarded_header_names_are_shown_in_go_canonical_form() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let id = user
        .publish_ok(
            &receiver.url("/canon"),
            &[
                ("Upstash-Delay", "1h"),
                ("Upstash-Forward-bypass-tunnel-reminder", "client-test"),
                ("upstash-forward-test-header", "test-value"),
                ("content-type", "application/json"),
            ],
            "{}",
        )
        .await;

    let header = &user.message(&id).await.ok()["header"];
    assert_eq!(
        header,
        &json!({
            "Bypass-Tunnel-Reminder": ["client-test"],
            "Content-Type": ["application/json"],
            "Test-Header": ["test-value"],
        })
    );
}

#[tokio::test]
async fn concurrent_publishes_with_one_deduplication_id_make_one_message() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let url = receiver.url("/race");

    let replies = futures_join_all(
        (0..8)
            .map(|_| {
                let user = user.clone();
                let url = url.clone();
                tokio::spawn(async move {
                    user.publish(&url, &[("Upstash-Deduplication-Id", "race")], "x")
                        .await
                })
            })
            .collect(),
    )
    .await;

    let ids: Vec<_> = replies
        .iter()
        .map(|r| r.json()["messageId"].clone())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let fresh = replies
        .iter()
        .filter(|r| r.json()["deduplicated"] != true)
        .count();
    assert_eq!(fresh, 1);
    receiver
        .wait_for_exactly_one("/race", Duration::from_millis(400))
        .await;
}

async fn futures_join_all(
    handles: Vec<tokio::task::JoinHandle<common::Reply>>,
) -> Vec<common::Reply> {
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("publish task"));
    }
    out
}

#[tokio::test]
async fn a_not_before_in_the_past_is_shown_as_the_time_the_message_became_deliverable() {
    // §3.1: notBefore = max(now, Upstash-Not-Before*1000 | now+Upstash-Delay).
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let an_hour_ago = now_ms() / 1000 - 3600;

    let id = user
        .publish_ok(
            &receiver.url("/past"),
            &[("Upstash-Not-Before", &an_hour_ago.to_string())],
            "x",
        )
        .await;

    let message = user.message(&id).await.ok();
    let not_before = message["notBefore"].as_u64().expect("notBefore");
    let created = message["createdAt"].as_u64().expect("createdAt");
    assert!(not_before >= created, "{message}");
}

#[tokio::test]
async fn a_bare_number_of_seconds_is_a_valid_timeout() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;

    server
        .user(1)
        .publish_ok(&receiver.url("/t"), &[("Upstash-Timeout", "10")], "x")
        .await;

    receiver.wait_for("/t", 1).await;
}

#[tokio::test]
async fn the_delivery_names_the_publishers_ip() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;

    server
        .user(1)
        .publish_ok(&receiver.url("/ip"), &[], "x")
        .await;

    let got = receiver.wait_for("/ip", 1).await.remove(0);
    assert_eq!(got.header("upstash-caller-ip"), Some("127.0.0.1"));
}

#[tokio::test]
async fn a_binary_body_is_delivered_byte_for_byte_and_read_back_as_base64() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();

    let reply = user
        .send(
            user.request(
                reqwest::Method::POST,
                &format!("/v2/publish/{}", receiver.url("/bin")),
            )
            .header("Content-Type", "application/octet-stream")
            .body(body.clone()),
        )
        .await;
    let id = reply.message_id();

    let got = receiver.wait_for("/bin", 1).await.remove(0);
    assert_eq!(got.body, body);
    got.verify_signature(dev_user(1).current, &receiver.url("/bin"));
    let message = user.message(&id).await.ok();
    use base64::Engine as _;
    let shown = base64::engine::general_purpose::STANDARD
        .decode(message["bodyBase64"].as_str().expect("bodyBase64"))
        .expect("valid base64");
    assert_eq!(shown, body);
    assert!(
        message.get("body").is_none(),
        "no text body for binary data"
    );
}

#[tokio::test]
async fn without_a_content_type_none_is_sent() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;

    server
        .user(1)
        .publish_ok(&receiver.url("/no-ct"), &[], "x")
        .await;

    let got = receiver.wait_for("/no-ct", 1).await.remove(0);
    assert_eq!(got.header("content-type"), None);
}

#[tokio::test]
async fn forwarded_headers_never_replace_the_headers_depesha_sets() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let url = receiver.url("/own");

    let id = server
        .user(1)
        .publish_ok(
            &url,
            &[
                ("Upstash-Header-Forward", "true"),
                ("User-Agent", "GitHub-Hookshot/1"),
                ("Upstash-Forward-Upstash-Message-Id", "msg_forged"),
                ("Upstash-Forward-Upstash-Retried", "7"),
            ],
            "x",
        )
        .await;

    let got = receiver.wait_for("/own", 1).await.remove(0);
    let all = |name: &str| -> Vec<String> {
        got.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .collect()
    };
    let seen = [
        all("user-agent"),
        all("upstash-message-id"),
        all("upstash-retried"),
    ];
    assert_eq!(
        seen,
        [
            vec!["Upstash-QStash".to_string()],
            vec![id],
            vec!["0".to_string()]
        ]
    );
}

#[tokio::test]
async fn a_deduplication_id_can_be_used_again_once_the_window_has_passed() {
    let server = TestServer::builder()
        .config(|c| {
            c.dedup_window_ms = 300;
            c.engine.prune_interval = Duration::from_millis(100);
        })
        .start()
        .await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let headers = [("Upstash-Deduplication-Id", "window")];
    let first = user.publish_ok(&receiver.url("/w"), &headers, "x").await;

    let again = common::eventually("the deduplication window to pass", || async {
        let reply = user.publish(&receiver.url("/w"), &headers, "x").await;
        (reply.json()["deduplicated"] != true).then_some(reply)
    })
    .await;

    assert_eq!(again.status, 200);
    assert_ne!(again.json()["messageId"], first.as_str());
    receiver.wait_for("/w", 2).await;
}
