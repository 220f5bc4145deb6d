//! Spec §3.8: schedules — create (or replace by id) with every publish option, read
//! back, list, pause / resume (PATCH and POST), delete; ticks on a manual clock: a
//! `* * * * *` schedule fires at the next minute with `Upstash-Schedule-Id`, missed
//! ticks collapse into one, a tick fires once across a restart, paused schedules do not
//! fire, a failed tick advances with its error; tenants are isolated.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{eventually, settle, Answer, Api, Receiver, Reply, TestServer};
use depesha_engine::ManualClock;
use serde_json::{json, Value};

const MINUTE: u64 = 60_000;
/// 2026-01-01T00:00:00Z.
const MIDNIGHT: u64 = 1_767_225_600_000;
/// Half a minute past midnight: the next `* * * * *` tick is at `MIDNIGHT + MINUTE`.
const START: u64 = MIDNIGHT + 30_000;

async fn server_at(start: u64) -> (TestServer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start));
    let server = TestServer::builder()
        .manual_clock(clock.clone())
        .start()
        .await;
    (server, clock)
}

/// `POST /v2/schedules/{destination}` with the destination raw in the path.
async fn create(api: &Api, destination: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    api.post(&format!("/v2/schedules/{destination}"), headers, body)
        .await
}

/// Creates a schedule and returns its id.
async fn create_ok(api: &Api, destination: &str, headers: &[(&str, &str)], body: &str) -> String {
    let json = create(api, destination, headers, body).await.ok();
    json["scheduleId"]
        .as_str()
        .unwrap_or_else(|| panic!("no scheduleId in {json}"))
        .to_string()
}

async fn schedule(api: &Api, id: &str) -> Value {
    api.get(&format!("/v2/schedules/{id}")).await.ok()
}

async fn list(api: &Api) -> Value {
    api.get("/v2/schedules").await.ok()
}

async fn patch(api: &Api, path: &str) -> Reply {
    api.send(api.request(reqwest::Method::PATCH, path)).await
}

/// Distinct `Upstash-Message-Id`s delivered to `path`: one per tick (a delivery
/// repeated after a restart would repeat its message id, not add one).
fn ticks_at(receiver: &Receiver, path: &str) -> BTreeSet<String> {
    receiver
        .requests_to(path)
        .iter()
        .map(|r| {
            r.header("upstash-message-id")
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

async fn wait_for_ticks(receiver: &Receiver, path: &str, n: usize) -> BTreeSet<String> {
    eventually(&format!("{n} tick(s) delivered to {path}"), || async {
        let ticks = ticks_at(receiver, path);
        (ticks.len() >= n).then_some(ticks)
    })
    .await
}

/// Waits until the schedule's last tick is `tick` and its messages are delivered.
async fn wait_for_success(api: &Api, id: &str, tick: u64) -> Value {
    eventually(
        &format!("schedule {id} firing {tick} successfully"),
        || async {
            let s = schedule(api, id).await;
            let states = s["lastScheduleStates"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            (s["lastScheduleTime"] == tick
                && !states.is_empty()
                && states.values().all(|v| v == "SUCCESS"))
            .then_some(s)
        },
    )
    .await
}

#[tokio::test]
async fn create_with_every_option_reads_every_field_back() {
    let (server, _clock) = server_at(START).await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let destination = receiver.url("/full?x=1");
    let callback = receiver.url("/callback");
    let failure_callback = receiver.url("/failure");
    let id = create_ok(
        &user,
        &destination,
        &[
            ("Upstash-Cron", "*/10 * * * * "),
            ("Upstash-Schedule-Id", "full-options"),
            ("Content-Type", "application/json"),
            ("Upstash-Method", "GET"),
            ("Upstash-Retries", "5"),
            ("Upstash-Delay", "10s"),
            ("Upstash-Timeout", "30s"),
            ("Upstash-Forward-test-header", "test-value"),
            ("Upstash-Forward-bypass-tunnel-reminder", "client-test"),
            ("Upstash-Callback", &callback),
            ("Upstash-Callback-Forward-Cb-Secret", "cb"),
            ("Upstash-Failure-Callback", &failure_callback),
            ("Upstash-Failure-Callback-Forward-Fcb-Secret", "fcb"),
            ("Upstash-Queue-Name", "full-queue"),
            ("Upstash-Flow-Control-Key", "full-key"),
            (
                "Upstash-Flow-Control-Value",
                "parallelism=2, rate=5, period=1m",
            ),
            ("Upstash-Retry-Delay", "1000 * (1 + retried)"),
            ("Upstash-Label", "first,second"),
            ("Upstash-Telemetry-Sdk", "test"),
        ],
        r#"{"hello":"world"}"#,
    )
    .await;
    assert_eq!(id, "full-options");

    let s = schedule(&user, &id).await;
    assert_eq!(
        s,
        json!({
            "scheduleId": "full-options",
            "cron": "*/10 * * * *",
            "destination": destination,
            "createdAt": START,
            "method": "GET",
            "retries": 5,
            "header": {
                "Bypass-Tunnel-Reminder": ["client-test"],
                "Content-Type": ["application/json"],
                "Test-Header": ["test-value"],
            },
            "body": r#"{"hello":"world"}"#,
            "delay": 10,
            "timeout": 30,
            "callback": callback,
            "failureCallback": failure_callback,
            "callbackHeader": { "Cb-Secret": ["cb"] },
            "failureCallbackHeader": { "Fcb-Secret": ["fcb"] },
            "queueName": "full-queue",
            "isPaused": false,
            "callerIP": "127.0.0.1",
            "callerIp": "127.0.0.1",
            "flowControlKey": "full-key",
            "parallelism": 2,
            "rate": 5,
            "period": 60,
            "retryDelayExpression": "1000 * (1 + retried)",
            "label": "first",
            "labels": ["first", "second"],
            "nextScheduleTime": MIDNIGHT + 10 * MINUTE,
        })
    );
}

#[tokio::test]
async fn a_generated_id_is_path_safe_and_the_list_is_an_array() {
    let (server, _clock) = server_at(START).await;
    let user = server.user(1);
    assert_eq!(list(&user).await, json!([]));

    let a = create_ok(
        &user,
        "https://example.com/a",
        &[("Upstash-Cron", "0 0 1 1 *")],
        "",
    )
    .await;
    let b = create_ok(&user, "my-url-group", &[("Upstash-Cron", "0 0 1 1 *")], "").await;
    assert!(a.starts_with("scd_"), "{a}");
    assert!(
        a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "{a}"
    );

    let all = list(&user).await;
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(common::ids_of(&all, "scheduleId"), expected);
    let entry = all
        .as_array()
        .and_then(|l| l.iter().find(|s| s["scheduleId"] == b.as_str()))
        .expect("b listed");
    assert_eq!(
        entry["destination"], "my-url-group",
        "a group need not exist yet"
    );
    assert_eq!(entry["method"], "POST");
    assert_eq!(entry["retries"], 3, "the server's default retries");
    assert_eq!(entry["header"], json!({}));
    assert!(entry.get("body").is_none());
    assert_eq!(
        entry["nextScheduleTime"], 1_798_761_600_000u64,
        "2027-01-01"
    );
}

#[tokio::test]
async fn creating_again_with_the_same_id_replaces_every_setting() {
    let (server, clock) = server_at(START).await;
    let user = server.user(1);
    let first = [
        ("Upstash-Cron", "* * * * *"),
        ("Upstash-Schedule-Id", "replace-me"),
        ("Upstash-Method", "PUT"),
        ("Upstash-Retries", "1"),
        ("Upstash-Forward-Old", "old"),
    ];
    create_ok(&user, "https://example.com/v1", &first, "first").await;
    clock.advance(Duration::from_secs(5));
    let again = create_ok(
        &user,
        "https://example.com/v2",
        &[
            ("Upstash-Cron", "0 * * * *"),
            ("Upstash-Schedule-Id", "replace-me"),
        ],
        "",
    )
    .await;
    assert_eq!(again, "replace-me");

    let s = schedule(&user, "replace-me").await;
    assert_eq!(s["destination"], "https://example.com/v2");
    assert_eq!(s["cron"], "0 * * * *");
    assert!(s.get("body").is_none(), "the first body is gone: {s}");
    assert_eq!(s["method"], "POST");
    assert_eq!(s["retries"], 3);
    assert_eq!(s["header"], json!({}));
    assert_eq!(s["createdAt"], START, "replacing keeps the creation time");
    assert_eq!(s["nextScheduleTime"], MIDNIGHT + 60 * MINUTE);
    assert_eq!(
        common::ids_of(&list(&user).await, "scheduleId"),
        ["replace-me"]
    );
}

#[tokio::test]
async fn pause_and_resume_by_patch_and_post_are_idempotent_and_shown() {
    let (server, clock) = server_at(START).await;
    let user = server.user(1);
    let id = create_ok(
        &user,
        "https://example.com/p",
        &[("Upstash-Cron", "* * * * *")],
        "",
    )
    .await;

    for _ in 0..2 {
        patch(&user, &format!("/v2/schedules/{id}/pause"))
            .await
            .ok();
        let s = schedule(&user, &id).await;
        assert_eq!(s["isPaused"], true);
        assert!(
            s.get("nextScheduleTime").is_none(),
            "no next tick while paused: {s}"
        );
    }
    assert_eq!(list(&user).await[0]["isPaused"], true);

    clock.advance(Duration::from_secs(300));
    patch(&user, &format!("/v2/schedules/{id}/resume"))
        .await
        .ok();
    patch(&user, &format!("/v2/schedules/{id}/resume"))
        .await
        .ok();
    let s = schedule(&user, &id).await;
    assert_eq!(s["isPaused"], false);
    assert_eq!(
        s["nextScheduleTime"],
        MIDNIGHT + 6 * MINUTE,
        "resuming computes the next tick from now"
    );

    user.post(&format!("/v2/schedules/{id}/pause"), &[], "")
        .await
        .ok();
    assert_eq!(schedule(&user, &id).await["isPaused"], true);
    user.post(&format!("/v2/schedules/{id}/resume"), &[], "")
        .await
        .ok();
    assert_eq!(schedule(&user, &id).await["isPaused"], false);

    patch(&user, "/v2/schedules/unknown/pause").await.error(404);
    user.post("/v2/schedules/unknown/resume", &[], "")
        .await
        .error(404);
}

#[tokio::test]
async fn delete_removes_the_schedule() {
    let (server, _clock) = server_at(START).await;
    let user = server.user(1);
    let id = create_ok(
        &user,
        "https://example.com/d",
        &[("Upstash-Cron", "* * * * *")],
        "",
    )
    .await;
    let reply = user.delete(&format!("/v2/schedules/{id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    user.get(&format!("/v2/schedules/{id}")).await.error(404);
    user.delete(&format!("/v2/schedules/{id}")).await.error(404);
    assert_eq!(list(&user).await, json!([]));
}

/// A destination, the headers, and the name the error message must mention.
type BadCase = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    &'static str,
);

#[tokio::test]
async fn bad_input_is_a_400_json_error_and_stores_nothing() {
    let (server, _clock) = server_at(START).await;
    let user = server.user(1);
    let url = "https://example.com/bad";
    let cases: Vec<BadCase> = vec![
        (url, vec![], "Upstash-Cron"),
        (url, vec![("Upstash-Cron", "not a cron")], "Upstash-Cron"),
        (url, vec![("Upstash-Cron", "* * * *")], "Upstash-Cron"),
        (
            url,
            vec![("Upstash-Cron", "*/30 * * * * *")],
            "Upstash-Cron",
        ),
        (url, vec![("Upstash-Cron", "0 0 30 2 *")], "Upstash-Cron"),
        (
            url,
            vec![("Upstash-Cron", "CRON_TZ=Nowhere/Land 0 9 * * *")],
            "Upstash-Cron",
        ),
        (
            url,
            vec![
                ("Upstash-Cron", "* * * * *"),
                ("Upstash-Schedule-Id", "bad id!"),
            ],
            "Upstash-Schedule-Id",
        ),
        (
            url,
            vec![
                ("Upstash-Cron", "* * * * *"),
                ("Upstash-Queue-Name", "bad queue!"),
            ],
            "Upstash-Queue-Name",
        ),
        (
            url,
            vec![("Upstash-Cron", "* * * * *"), ("Upstash-Retries", "many")],
            "Upstash-Retries",
        ),
        (
            url,
            vec![("Upstash-Cron", "* * * * *"), ("Upstash-Method", "FETCH")],
            "Upstash-Method",
        ),
        (
            url,
            vec![("Upstash-Cron", "* * * * *"), ("Upstash-Delay", "soon")],
            "Upstash-Delay",
        ),
        (
            "not a url",
            vec![("Upstash-Cron", "* * * * *")],
            "destination",
        ),
    ];
    for (destination, headers, named) in cases {
        let message = create(&user, destination, &headers, "").await.error(400);
        assert!(message.contains(named), "{headers:?}: {message}");
    }
    assert_eq!(list(&user).await, json!([]));
}

/// Issue 10: `, * * * *` once made the evaluator search minute by minute until the
/// year 5000 before answering. Such patterns are now refused by their grammar, and
/// patterns whose day never comes are refused by a calendar check, not a search.
#[tokio::test]
async fn pathological_crons_are_refused_by_their_grammar_and_store_nothing() {
    let (server, _clock) = server_at(START).await;
    let user = server.user(1);
    let long = format!("{} * * * *", "1,".repeat(5_000) + "2");
    let cases = [
        (", * * * *", "empty list item"),
        (",,,, * * * *", "empty list item"),
        ("CRON_TZ=Europe/Berlin , * * * *", "empty list item"),
        ("*/0 * * * *", "step"),
        ("0-99999 * * * *", "not a value from 0 to 59"),
        ("0 0 31 2 *", "never fires"),
        ("CRON_TZ=UTC 0 0 30 2 *", "never fires"),
        (long.as_str(), "longer than"),
    ];
    for (cron, reason) in cases {
        let message = create(
            &user,
            "https://example.com/x",
            &[("Upstash-Cron", cron)],
            "",
        )
        .await
        .error(400);
        assert!(message.contains("Upstash-Cron"), "{cron:?}: {message}");
        assert!(message.contains(reason), "{cron:?}: {message}");
    }
    assert_eq!(list(&user).await, json!([]));
    // The server answers the next request as usual.
    create_ok(
        &user,
        "https://example.com/x",
        &[("Upstash-Cron", "*/5 * * * *")],
        "",
    )
    .await;
}

#[tokio::test]
async fn an_every_minute_schedule_fires_at_the_next_minute_with_its_id() {
    let (server, clock) = server_at(START).await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let id = create_ok(
        &user,
        &receiver.url("/tick"),
        &[
            ("Upstash-Cron", "* * * * *"),
            ("Content-Type", "text/plain"),
            ("Upstash-Forward-X-Kind", "tick"),
        ],
        "tick body",
    )
    .await;
    let s = schedule(&user, &id).await;
    assert_eq!(s["nextScheduleTime"], MIDNIGHT + MINUTE);
    assert!(s.get("lastScheduleTime").is_none());

    clock.advance(Duration::from_secs(29)); // 00:00:59
    settle().await;
    assert!(receiver.requests_to("/tick").is_empty(), "fired early");

    clock.advance(Duration::from_secs(2)); // 00:01:01
    let got = receiver.wait_for("/tick", 1).await.remove(0);
    assert_eq!(got.header("upstash-schedule-id"), Some(id.as_str()));
    assert_eq!(got.header("x-kind"), Some("tick"));
    assert_eq!(got.header("content-type"), Some("text/plain"));
    assert_eq!(got.body_text(), "tick body");
    assert_eq!(got.method, "POST");

    let s = wait_for_success(&user, &id, MIDNIGHT + MINUTE).await;
    assert_eq!(s["nextScheduleTime"], MIDNIGHT + 2 * MINUTE);
    assert!(s.get("error").is_none(), "{s}");
    let message_id = got.header("upstash-message-id").expect("message id");
    assert_eq!(
        s["lastScheduleStates"],
        json!({ message_id: "SUCCESS" }),
        "the tick's message is the delivered one"
    );
    let message = user.message(message_id).await.ok();
    assert_eq!(message["scheduleId"], id.as_str());
    let events = user.events(&format!("scheduleId={id}&state=CREATED")).await;
    assert_eq!(events.len(), 1, "one message per tick: {events:?}");

    clock.advance(Duration::from_secs(60)); // 00:02:01
    wait_for_ticks(&receiver, "/tick", 2).await;
    wait_for_success(&user, &id, MIDNIGHT + 2 * MINUTE).await;
}

#[tokio::test]
async fn ticks_missed_during_ten_minutes_fire_once() {
    let (server, clock) = server_at(START).await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let id = create_ok(
        &user,
        &receiver.url("/late"),
        &[("Upstash-Cron", "* * * * *")],
        "",
    )
    .await;

    clock.advance(Duration::from_secs(600)); // 00:10:30: ten ticks were due
    receiver
        .wait_for_exactly_one("/late", Duration::from_millis(1500))
        .await;
    let s = wait_for_success(&user, &id, MIDNIGHT + MINUTE).await;
    assert_eq!(
        s["nextScheduleTime"],
        MIDNIGHT + 11 * MINUTE,
        "the next tick is after now, not a missed one"
    );

    clock.advance(Duration::from_secs(31)); // 00:11:01
    wait_for_ticks(&receiver, "/late", 2).await;
    settle().await;
    assert_eq!(ticks_at(&receiver, "/late").len(), 2);
}

#[tokio::test]
async fn a_paused_schedule_does_not_fire() {
    let (server, clock) = server_at(START).await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let every_minute = [("Upstash-Cron", "* * * * *")];
    let paused = create_ok(&user, &receiver.url("/paused"), &every_minute, "").await;
    create_ok(&user, &receiver.url("/control"), &every_minute, "").await;
    patch(&user, &format!("/v2/schedules/{paused}/pause"))
        .await
        .ok();

    clock.advance(Duration::from_secs(61));
    receiver.wait_for("/control", 1).await;
    settle().await;
    assert!(receiver.requests_to("/paused").is_empty());
    assert!(schedule(&user, &paused)
        .await
        .get("lastScheduleTime")
        .is_none());

    // Resumed, it fires from the next minute on, not for the ticks it missed.
    patch(&user, &format!("/v2/schedules/{paused}/resume"))
        .await
        .ok();
    settle().await;
    assert!(receiver.requests_to("/paused").is_empty());
    clock.advance(Duration::from_secs(60));
    receiver
        .wait_for_exactly_one("/paused", Duration::from_millis(500))
        .await;
}

#[tokio::test]
async fn a_tick_that_cannot_publish_advances_with_an_error() {
    let (server, clock) = server_at(START).await;
    let user = server.user(1);
    let id = create_ok(&user, "no-such-group", &[("Upstash-Cron", "* * * * *")], "").await;

    clock.advance(Duration::from_secs(31));
    let s = eventually("the failed tick recorded", || async {
        let s = schedule(&user, &id).await;
        (s["lastScheduleTime"] == MIDNIGHT + MINUTE).then_some(s)
    })
    .await;
    let error = s["error"].as_str().unwrap_or_default();
    assert!(error.contains("no-such-group"), "{s}");
    assert_eq!(s["nextScheduleTime"], MIDNIGHT + 2 * MINUTE);
    assert!(s.get("lastScheduleStates").is_none(), "no messages: {s}");
    assert!(user.events("state=CREATED").await.is_empty());
}

#[tokio::test]
async fn a_schedule_with_a_queue_enqueues_its_messages() {
    let (server, clock) = server_at(START).await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let id = create_ok(
        &user,
        &receiver.url("/queued"),
        &[
            ("Upstash-Cron", "* * * * *"),
            ("Upstash-Queue-Name", "sched-queue"),
        ],
        "q",
    )
    .await;
    assert_eq!(schedule(&user, &id).await["queueName"], "sched-queue");

    clock.advance(Duration::from_secs(31));
    let got = receiver.wait_for("/queued", 1).await.remove(0);
    assert_eq!(got.header("upstash-schedule-id"), Some(id.as_str()));
    let message_id = got.header("upstash-message-id").expect("message id");
    let message = user.message(message_id).await.ok();
    assert_eq!(message["queueName"], "sched-queue");
    assert_eq!(message["scheduleId"], id.as_str());
}

#[tokio::test]
async fn redacted_fields_are_hidden_in_reads_but_delivered() {
    let (server, clock) = server_at(START).await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let id = create_ok(
        &user,
        &receiver.url("/secret"),
        &[
            ("Upstash-Cron", "* * * * *"),
            ("Upstash-Forward-Api-Key", "s3cret"),
            ("Upstash-Forward-Visible", "shown"),
            ("Upstash-Redact-Fields", "body, header[Api-Key]"),
        ],
        "private body",
    )
    .await;
    let s = schedule(&user, &id).await;
    let body = s["body"].as_str().unwrap_or_default();
    assert!(body.starts_with("REDACTED:"), "{s}");
    let key = s["header"]["Api-Key"][0].as_str().unwrap_or_default();
    assert!(key.starts_with("REDACTED:"), "{s}");
    assert_eq!(s["header"]["Visible"], json!(["shown"]));
    assert!(!s.to_string().contains("s3cret") && !s.to_string().contains("private body"));

    clock.advance(Duration::from_secs(31));
    let got = receiver.wait_for("/secret", 1).await.remove(0);
    assert_eq!(got.header("api-key"), Some("s3cret"));
    assert_eq!(got.body_text(), "private body");
}

#[tokio::test]
async fn tenants_see_and_change_only_their_own_schedules() {
    let (server, _clock) = server_at(START).await;
    let one = server.user(1);
    let two = server.user(2);
    let id = create_ok(
        &one,
        "https://example.com/mine",
        &[("Upstash-Cron", "* * * * *")],
        "",
    )
    .await;

    two.get(&format!("/v2/schedules/{id}")).await.error(404);
    assert_eq!(list(&two).await, json!([]));
    two.delete(&format!("/v2/schedules/{id}")).await.error(404);
    patch(&two, &format!("/v2/schedules/{id}/pause"))
        .await
        .error(404);
    // The same id is free for another tenant.
    create_ok(
        &two,
        "https://example.com/theirs",
        &[("Upstash-Cron", "0 0 * * *"), ("Upstash-Schedule-Id", &id)],
        "",
    )
    .await;

    let mine = schedule(&one, &id).await;
    assert_eq!(mine["isPaused"], false);
    assert_eq!(mine["destination"], "https://example.com/mine");
    assert_eq!(
        schedule(&two, &id).await["destination"],
        "https://example.com/theirs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_fires_once_across_a_restart_on_the_same_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(START));
    let receiver = Arc::new(Receiver::start().await);
    let url = receiver.url("/restart");

    let (path, c, r) = (dir.path().to_path_buf(), clock.clone(), receiver.clone());
    let id = tokio::task::spawn_blocking(move || {
        common::on_own_runtime(move || async move {
            let server = TestServer::builder()
                .manual_clock(c.clone())
                .data_dir(&path)
                .start()
                .await;
            let user = server.user(1);
            let id = create_ok(&user, &url, &[("Upstash-Cron", "* * * * *")], "").await;
            c.advance(Duration::from_secs(31)); // 00:01:01
            wait_for_ticks(&r, "/restart", 1).await;
            wait_for_success(&user, &id, MIDNIGHT + MINUTE).await;
            id
        })
    })
    .await
    .expect("first life");

    // Same data, same time: the tick of 00:01 was fired and is not fired again.
    let (path, c, r) = (dir.path().to_path_buf(), clock.clone(), receiver.clone());
    tokio::task::spawn_blocking(move || {
        common::on_own_runtime(move || async move {
            let server = TestServer::builder()
                .manual_clock(c.clone())
                .data_dir(&path)
                .start()
                .await;
            let user = server.user(1);
            tokio::time::sleep(Duration::from_millis(1500)).await;
            assert_eq!(
                ticks_at(&r, "/restart").len(),
                1,
                "the 00:01 tick fired again"
            );
            let s = schedule(&user, &id).await;
            assert_eq!(s["lastScheduleTime"], MIDNIGHT + MINUTE);
            assert_eq!(s["nextScheduleTime"], MIDNIGHT + 2 * MINUTE);

            c.advance(Duration::from_secs(60)); // 00:02:01
            wait_for_ticks(&r, "/restart", 2).await;
            wait_for_success(&user, &id, MIDNIGHT + 2 * MINUTE).await;
            settle().await;
            assert_eq!(ticks_at(&r, "/restart").len(), 2, "exactly one more tick");
        })
    })
    .await
    .expect("second life");
}

#[tokio::test]
async fn last_schedule_states_outlive_the_messages_of_the_tick() {
    let clock = Arc::new(ManualClock::new(START));
    let server = TestServer::builder()
        .manual_clock(clock.clone())
        .config(|c| {
            c.engine.delivered_retention = Duration::from_secs(1);
            c.engine.prune_interval = Duration::from_millis(20);
        })
        .start()
        .await;
    let receiver = Receiver::start().await;
    receiver.always("/fails", Answer::status(500));
    let user = server.user(1);
    let ok = create_ok(
        &user,
        &receiver.url("/ok"),
        &[("Upstash-Cron", "* * * * *")],
        "",
    )
    .await;
    let failing = create_ok(
        &user,
        &receiver.url("/fails"),
        &[("Upstash-Cron", "* * * * *"), ("Upstash-Retries", "0")],
        "",
    )
    .await;

    clock.advance(Duration::from_secs(31)); // 00:01:01: both fire
    let delivered = receiver.wait_for("/ok", 1).await.remove(0);
    receiver.wait_for("/fails", 1).await;
    let delivered_id = delivered
        .header("upstash-message-id")
        .expect("id")
        .to_string();
    wait_for_success(&user, &ok, MIDNIGHT + MINUTE).await;

    // The delivered message is pruned from the store; its result is not forgotten.
    clock.advance(Duration::from_secs(5));
    eventually("the delivered message pruned", || async {
        (user.message(&delivered_id).await.status == 404).then_some(())
    })
    .await;
    let s = schedule(&user, &ok).await;
    assert_eq!(s["lastScheduleStates"], json!({ delivered_id: "SUCCESS" }));

    let failed = eventually("the failing tick recorded", || async {
        let s = schedule(&user, &failing).await;
        let states = s["lastScheduleStates"].as_object()?.clone();
        states.values().all(|v| v == "FAIL").then_some(states)
    })
    .await;
    assert_eq!(failed.len(), 1, "{failed:?}");
}
