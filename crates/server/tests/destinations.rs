//! Where deliveries may go (issue 10, items 3 and 6). With the policy of `depesha
//! serve` (public addresses only), a URL naming a blocked address is refused with a
//! 400 in every place a URL enters, and a message that reaches the engine anyway (a
//! name resolving to loopback, a message stored before the policy) fails its attempt
//! without a byte sent. A URL that cannot be delivered is a 400 under any policy.
//!
//! No test here connects anywhere but 127.0.0.1: refused addresses are refused before
//! any connection is attempted.

mod common;

use std::sync::Arc;

use common::{now_ms, Api, Receiver, TestServer};
use depesha_core::destination_policy::DestinationPolicy;
use depesha_engine::ManualClock;
use serde_json::{json, Value};

/// The hosts of issue 10 item 3, in every literal form, and more of the same ranges.
const BLOCKED_HOSTS: [&str; 18] = [
    "169.254.169.254",
    "10.0.0.1",
    "192.168.1.1",
    "[fd00::1]",
    "[::1]",
    "[::ffff:169.254.169.254]",
    "0.0.0.0",
    "localhost",
    "127.1",
    "2852039166",
    "0xa9fea9fe",
    "0251.0376.0251.0376",
    "metadata.google.internal",
    "[fd00:ec2::254]",
    "100.64.0.1",
    "[fe80::1]",
    "224.0.0.1",
    "api.localhost",
];

/// A public URL that these tests never deliver to: every request carrying it is
/// refused for another reason before anything is stored.
const PUBLIC: &str = "https://example.com/hook";

fn strict(allow: &[&str]) -> DestinationPolicy {
    DestinationPolicy::public_only_allowing(allow).expect("valid rules")
}

async fn strict_server() -> TestServer {
    TestServer::builder()
        .config(|c| c.set_destination_policy(strict(&[])))
        .start()
        .await
}

/// Asserts a 400 whose message names `place` and says why.
fn assert_refused(reply: common::Reply, place: &str, url: &str) {
    let error = reply.error(400);
    assert!(
        error.contains(place)
            && error.contains("is not allowed")
            && error.contains("allow_destinations"),
        "{place} {url}: {error}"
    );
}

async fn post_json(user: &Api, path: &str, body: &Value) -> common::Reply {
    user.post(
        path,
        &[("Content-Type", "application/json")],
        &body.to_string(),
    )
    .await
}

/// Nothing of a refused request was stored: no message, no schedule, no URL group.
async fn assert_nothing_stored(user: &Api) {
    assert_eq!(user.created_count().await, 0);
    assert_eq!(user.get("/v2/schedules").await.ok(), json!([]));
    assert_eq!(user.get("/v2/topics").await.ok(), json!([]));
}

#[tokio::test]
async fn a_blocked_host_is_refused_in_every_place_a_url_enters() {
    let server = strict_server().await;
    let user = server.user(1);
    for host in BLOCKED_HOSTS {
        let url = format!("http://{host}/hook");
        let url = url.as_str();

        assert_refused(user.publish(url, &[], "x").await, "destination", url);
        assert_refused(
            user.post(&format!("/v2/enqueue/q/{url}"), &[], "x").await,
            "destination",
            url,
        );
        for header in ["Upstash-Callback", "Upstash-Failure-Callback"] {
            assert_refused(
                user.publish(PUBLIC, &[(header, url)], "x").await,
                header,
                url,
            );
        }
        assert_refused(
            user.publish(
                PUBLIC,
                &[
                    ("Upstash-Callback", PUBLIC),
                    ("Upstash-Callback-Failure-Callback", url),
                ],
                "x",
            )
            .await,
            "Upstash-Callback-Failure-Callback",
            url,
        );
        assert_refused(
            post_json(
                &user,
                "/v2/topics/group/endpoints",
                &json!({ "endpoints": [{ "name": "e", "url": url }] }),
            )
            .await,
            "endpoint url",
            url,
        );
        let cron = ("Upstash-Cron", "* * * * *");
        assert_refused(
            user.post(&format!("/v2/schedules/{url}"), &[cron], "x")
                .await,
            "destination",
            url,
        );
        assert_refused(
            user.post(
                &format!("/v2/schedules/{PUBLIC}"),
                &[cron, ("Upstash-Failure-Callback", url)],
                "x",
            )
            .await,
            "Upstash-Failure-Callback",
            url,
        );
        assert_refused(
            user.batch(&json!([{ "destination": url, "body": "x" }]))
                .await,
            "batch item 0: destination",
            url,
        );
        assert_refused(
            user.batch(&json!([
                { "destination": PUBLIC, "body": "x", "headers": { "Upstash-Callback": url } }
            ]))
            .await,
            "batch item 0: Upstash-Callback",
            url,
        );
    }
    assert_nothing_stored(&user).await;
}

#[tokio::test]
async fn a_url_groups_default_callback_is_checked_too() {
    let server = strict_server().await;
    let user = server.user(1);
    post_json(
        &user,
        "/v2/topics/group/endpoints",
        &json!({ "endpoints": [{ "name": "e", "url": PUBLIC }] }),
    )
    .await
    .ok();
    let reply = user
        .send(
            user.request(reqwest::Method::PATCH, "/v2/topics/group")
                .header("Content-Type", "application/json")
                .body(json!({ "headers": { "Upstash-Callback": "http://[::1]/" } }).to_string()),
        )
        .await;
    assert_refused(reply, "Upstash-Callback", "http://[::1]/");
}

/// Issue 10 item 6: accepted before, failing only at delivery.
const MALFORMED: [&str; 8] = [
    "http://[::1",
    "http://%00/",
    "https%3A%2F%2F%ZZ",
    "http%3A%2F%2F%FF%FE",
    "http%3a%2f%2f%2e%2e",
    "http://127.0.0.1:0/",
    "http://a.example/100%",
    "http://",
];

#[tokio::test]
async fn a_url_that_cannot_be_delivered_is_refused_before_anything_is_stored() {
    // The default (allow-all) policy: these are refused for their form alone.
    let server = TestServer::start().await;
    let user = server.user(1);
    for raw in MALFORMED {
        let error = user.publish(raw, &[], "x").await.error(400);
        assert!(error.contains("destination"), "{raw}: {error}");
        let error = user
            .batch(&json!([{ "destination": raw }]))
            .await
            .error(400);
        assert!(error.contains("batch item 0"), "{raw}: {error}");
    }
    // Headers and JSON fields take the URL as it is (no percent-decoding).
    for raw in MALFORMED.iter().filter(|u| u.starts_with("http://")) {
        let error = user
            .publish(PUBLIC, &[("Upstash-Callback", raw)], "x")
            .await
            .error(400);
        assert!(error.contains("Upstash-Callback"), "{raw}: {error}");
        let error = post_json(
            &user,
            "/v2/topics/group/endpoints",
            &json!({ "endpoints": [{ "url": raw }] }),
        )
        .await
        .error(400);
        assert!(error.contains("endpoint url"), "{raw}: {error}");
    }
    assert_nothing_stored(&user).await;
}

#[tokio::test]
async fn allow_destinations_lets_a_listed_address_and_name_through() {
    let server = TestServer::builder()
        .config(|c| c.set_destination_policy(strict(&["127.0.0.1/32", "localhost"])))
        .start()
        .await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    user.publish_ok(
        &receiver.url("/by-address"),
        &[("Upstash-Callback", &receiver.url("/callback"))],
        "x",
    )
    .await;
    let by_name = receiver.base.replace("127.0.0.1", "localhost");
    user.publish_ok(&format!("{by_name}/by-name"), &[], "x")
        .await;

    receiver.wait_for("/by-address", 1).await;
    receiver.wait_for("/callback", 1).await;
    receiver.wait_for("/by-name", 1).await;
    // Only what is listed: another loopback address is still refused.
    assert_refused(
        user.publish("http://127.0.0.2/", &[], "x").await,
        "destination",
        "http://127.0.0.2/",
    );
}

#[test]
fn a_stored_message_to_a_blocked_host_fails_its_attempt_and_nothing_reaches_it() {
    // Accepted while everything was allowed (as by `depesha dev`), delivered after a
    // restart with the policy of `depesha serve`: once by a name that resolves to
    // loopback (the resolver refuses it), once by a literal address (refused before
    // sending, since literal addresses are never resolved).
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver_runtime = tokio::runtime::Runtime::new().expect("runtime");
    let receiver = Arc::new(receiver_runtime.block_on(Receiver::start()));
    let start = now_ms();
    let by_name = format!(
        "{}/by-name",
        receiver.base.replace("127.0.0.1", "localhost")
    );
    let literal = receiver.url("/literal");

    let (path, urls) = (dir.path().to_path_buf(), [by_name.clone(), literal.clone()]);
    let ids = common::on_own_runtime(move || async move {
        let server = TestServer::builder()
            .data_dir(&path)
            .manual_clock(Arc::new(ManualClock::new(start)))
            .start()
            .await;
        let user = server.user(1);
        let headers = [("Upstash-Delay", "60s"), ("Upstash-Retries", "0")];
        let mut ids = Vec::new();
        for url in &urls {
            ids.push(user.publish_ok(url, &headers, "x").await);
        }
        ids
    });

    let path = dir.path().to_path_buf();
    let errors = common::on_own_runtime(move || async move {
        let server = TestServer::builder()
            .data_dir(&path)
            .manual_clock(Arc::new(ManualClock::new(start + 61_000)))
            .config(|c| c.set_destination_policy(strict(&[])))
            .start()
            .await;
        let user = server.user(1);
        let mut errors = Vec::new();
        for id in &ids {
            user.wait_for_dlq_entry(id).await;
            let events = user.events(&format!("messageId={id}&state=ERROR")).await;
            errors.push(events[0]["error"].as_str().unwrap_or_default().to_string());
        }
        errors
    });

    assert!(
        errors[0].contains("destination localhost is not allowed: it resolves to ")
            && errors[0].contains("loopback address; see allow_destinations"),
        "{}",
        errors[0]
    );
    assert_eq!(
        errors[1],
        "destination 127.0.0.1 is not allowed: loopback address; see allow_destinations"
    );
    // Both attempts are over (their DLQ entries exist) and none is left to make.
    assert!(receiver.requests().is_empty(), "{:?}", receiver.requests());
}
