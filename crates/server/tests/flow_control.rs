//! Spec §4.2 (`Upstash-Flow-Control-Key` / `-Value`) and §3.10 (flow-control
//! management): a key's `parallelism` bounds its deliveries in flight and `rate` the
//! deliveries started per `period`, over every route a message can come by; keys can
//! be read, listed, paused, resumed, pinned, unpinned and have their rate reset; they
//! are per user (Appendix B); messages waiting for a key survive a restart.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{
    eventually, ids_of, now_ms, settle, Answer, Api, Receiver, Recorded, Reply, TestServer,
};
use depesha_engine::ManualClock;
use depesha_store::{MessageStore, Store};
use serde_json::{json, Value};

const KEY: &str = "Upstash-Flow-Control-Key";
const VALUE: &str = "Upstash-Flow-Control-Value";

/// `GET /v2/flowControl/{key}`.
async fn get_key(user: &Api, key: &str) -> Reply {
    user.get(&format!("/v2/flowControl/{key}")).await
}

/// `POST /v2/flowControl/{key}/{action}` (action may carry a query).
async fn manage(user: &Api, key: &str, action: &str) -> Reply {
    user.post(&format!("/v2/flowControl/{key}/{action}"), &[], "")
        .await
}

/// Waits until the key's `waitListSize` is `n`; returns the key object.
async fn wait_for_wait_list(user: &Api, key: &str, n: u64) -> Value {
    eventually(&format!("{n} message(s) waiting for key {key}"), || async {
        let k = get_key(user, key).await.ok();
        (k["waitListSize"] == n).then_some(k)
    })
    .await
}

/// Waits until requests to paths starting with `prefix` number at least `n`.
async fn wait_for_prefix(receiver: &Receiver, prefix: &str, n: usize) -> Vec<Recorded> {
    eventually(&format!("{n} request(s) under {prefix}"), || async {
        let got: Vec<Recorded> = receiver
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect();
        (got.len() >= n).then_some(got)
    })
    .await
}

fn message_ids(requests: &[Recorded]) -> BTreeSet<String> {
    requests
        .iter()
        .map(|r| {
            r.header("upstash-message-id")
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn parallelism_1_lets_one_delivery_of_the_key_run_at_a_time() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/one", Answer::ok().after(Duration::from_millis(200)));
    let user = server.user(1);
    let headers = [(KEY, "one-at-a-time"), (VALUE, "parallelism=1")];

    let mut ids = BTreeSet::new();
    for i in 0..4 {
        ids.insert(
            user.publish_ok(&receiver.url("/one"), &headers, &i.to_string())
                .await,
        );
    }

    let got = receiver.wait_for("/one", 4).await;
    assert_eq!(message_ids(&got), ids);
    assert_eq!(receiver.max_concurrency("/one"), 1);
    settle().await;
    assert_eq!(receiver.requests_to("/one").len(), 4, "each delivered once");
}

#[tokio::test]
async fn without_a_key_the_same_messages_are_delivered_concurrently() {
    // The control of the test above: the receiver does see overlapping deliveries.
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/free", Answer::ok().after(Duration::from_millis(200)));
    let user = server.user(1);

    for i in 0..4 {
        user.publish_ok(&receiver.url("/free"), &[], &i.to_string())
            .await;
    }

    receiver.wait_for("/free", 4).await;
    assert!(receiver.max_concurrency("/free") > 1);
}

#[tokio::test]
async fn values_with_and_without_spaces_are_accepted_and_read_back() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    for (key, value) in [
        ("no-spaces", "parallelism=2,rate=10,period=1m"),
        ("spaces", "parallelism=2, rate=10, period=1m"),
    ] {
        let reply = user
            .publish(&receiver.url("/v"), &[(KEY, key), (VALUE, value)], "x")
            .await;
        assert_eq!(reply.status, 200, "{value}: {}", reply.text());
        let id = reply.message_id();

        let k = get_key(&user, key).await.ok();
        assert_eq!(k["parallelismMax"], 2, "{value}: {k}");
        assert_eq!(k["rateMax"], 10, "{value}: {k}");
        assert_eq!(k["ratePeriod"], 60, "{value}: {k}");
        let m = user.message(&id).await.ok();
        assert_eq!(m["flowControlKey"], key, "{m}");
    }
    receiver.wait_for("/v", 2).await;
}

#[tokio::test]
async fn parallelism_holds_across_publish_batch_group_publish_and_enqueue() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let slow = Answer::ok().after(Duration::from_millis(200));
    for path in ["/fc/pub", "/fc/batch", "/fc/g1", "/fc/g2", "/fc/q"] {
        receiver.always(path, slow.clone());
    }
    let user = server.user(1);
    user.post(
        "/v2/topics/fc-group/endpoints",
        &[("Content-Type", "application/json")],
        &json!({ "endpoints": [{ "url": receiver.url("/fc/g1") }, { "url": receiver.url("/fc/g2") }] })
            .to_string(),
    )
    .await
    .ok();
    let headers = [(KEY, "shared"), (VALUE, "parallelism=2")];

    for i in 0..2 {
        user.publish_ok(&receiver.url("/fc/pub"), &headers, &i.to_string())
            .await;
    }
    let item = |i: usize| {
        json!({
            "destination": receiver.url("/fc/batch"),
            "headers": { "upstash-flow-control-key": "shared", "upstash-flow-control-value": "parallelism=2" },
            "body": i.to_string(),
        })
    };
    user.batch(&json!([item(0), item(1)])).await.ok();
    user.publish("fc-group", &headers, "g").await.ok();
    for i in 0..2 {
        user.post(
            &format!("/v2/enqueue/fc-queue/{}", receiver.url("/fc/q")),
            &headers,
            &i.to_string(),
        )
        .await
        .message_id();
    }

    wait_for_prefix(&receiver, "/fc/", 8).await;
    assert_eq!(receiver.max_concurrency("/fc/"), 2);
    settle().await;
    assert_eq!(receiver.requests().len(), 8, "each delivered once");
}

#[tokio::test]
async fn rate_lets_at_most_rate_deliveries_start_per_period() {
    let start = now_ms() / 1000 * 1000;
    let clock = Arc::new(ManualClock::new(start));
    let server = TestServer::builder()
        .manual_clock(clock.clone())
        .start()
        .await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let headers = [(KEY, "rated"), (VALUE, "rate=2, period=10s")];

    for i in 0..5 {
        user.publish_ok(&receiver.url("/rated"), &headers, &i.to_string())
            .await;
    }

    receiver.wait_for("/rated", 2).await;
    let k = wait_for_wait_list(&user, "rated", 3).await;
    assert_eq!(receiver.requests_to("/rated").len(), 2);
    assert_eq!(k["rateMax"], 2, "{k}");
    assert_eq!(k["rateCount"], 2, "{k}");
    assert_eq!(k["ratePeriod"], 10, "{k}");
    assert_eq!(k["ratePeriodStart"], start / 1000, "{k}");

    clock.advance(Duration::from_secs(10));
    receiver.wait_for("/rated", 4).await;
    let k = wait_for_wait_list(&user, "rated", 1).await;
    assert_eq!(receiver.requests_to("/rated").len(), 4);
    assert_eq!(k["rateCount"], 2, "{k}");
    assert_eq!(k["ratePeriodStart"], start / 1000 + 10, "{k}");

    clock.advance(Duration::from_secs(10));
    let got = receiver.wait_for("/rated", 5).await;
    wait_for_wait_list(&user, "rated", 0).await;
    let mut bodies: Vec<String> = got.iter().map(Recorded::body_text).collect();
    bodies.sort();
    assert_eq!(bodies, ["0", "1", "2", "3", "4"]);
    settle().await;
    assert_eq!(receiver.requests_to("/rated").len(), 5);
}

#[tokio::test]
async fn a_rate_limited_backlog_drains_period_after_period_on_the_real_clock() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let headers = [(KEY, "drain"), (VALUE, "rate=1, period=1s")];

    let mut ids = BTreeSet::new();
    for i in 0..4 {
        ids.insert(
            user.publish_ok(&receiver.url("/drain"), &headers, &i.to_string())
                .await,
        );
    }

    let got = receiver.wait_for("/drain", 4).await;
    assert_eq!(message_ids(&got), ids);
    // One start per fixed one-second period: four starts lie in four periods, so the
    // first and the last are more than two periods apart (less a little network jitter).
    let span = got[3].at.duration_since(got[0].at);
    assert!(
        span >= Duration::from_millis(1900),
        "4 starts within {span:?}"
    );
}

#[tokio::test]
async fn a_key_shows_every_field() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    user.publish_ok(
        &receiver.url("/fields"),
        &[
            (KEY, "fields"),
            (VALUE, "parallelism=3, rate=7, period=30s"),
        ],
        "x",
    )
    .await;
    receiver.wait_for("/fields", 1).await;

    let k = eventually("the delivery to be over", || async {
        let k = get_key(&user, "fields").await.ok();
        (k["parallelismCount"] == 0).then_some(k)
    })
    .await;
    let mut names: Vec<&str> = k
        .as_object()
        .expect("a key object")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "flowControlKey",
            "isPaused",
            "isPinnedParallelism",
            "isPinnedRate",
            "parallelismCount",
            "parallelismMax",
            "rateCount",
            "rateMax",
            "ratePeriod",
            "ratePeriodStart",
            "waitListSize",
        ]
    );
    assert_eq!(k["flowControlKey"], "fields");
    assert_eq!(k["waitListSize"], 0);
    assert_eq!(k["parallelismMax"], 3);
    assert_eq!(k["parallelismCount"], 0);
    assert_eq!(k["rateMax"], 7);
    assert_eq!(
        k["rateCount"], 1,
        "one delivery started in this period: {k}"
    );
    assert_eq!(k["ratePeriod"], 30);
    let period_start = k["ratePeriodStart"].as_u64().expect("unix seconds");
    assert!(period_start <= now_ms() / 1000 && period_start + 60 >= now_ms() / 1000);
    assert_eq!(k["isPaused"], false);
    assert_eq!(k["isPinnedParallelism"], false);
    assert_eq!(k["isPinnedRate"], false);
}

#[tokio::test]
async fn parallelism_count_shows_deliveries_of_the_key_in_flight() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.always("/busy", Answer::ok().after(Duration::from_millis(800)));
    let user = server.user(1);

    user.publish_ok(
        &receiver.url("/busy"),
        &[(KEY, "busy"), (VALUE, "parallelism=4")],
        "x",
    )
    .await;
    receiver.wait_for("/busy", 1).await;

    assert_eq!(get_key(&user, "busy").await.ok()["parallelismCount"], 1);
    eventually("the delivery to be over", || async {
        (get_key(&user, "busy").await.ok()["parallelismCount"] == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_unknown_key_is_404() {
    let server = TestServer::start().await;
    let user = server.user(1);
    get_key(&user, "nope").await.error(404);
    for action in [
        "pause",
        "resume",
        "pin?parallelism=1",
        "unpin?parallelism=true",
        "resetRate",
    ] {
        manage(&user, "nope", action).await.error(404);
    }
}

#[tokio::test]
async fn a_paused_key_keeps_new_messages_waiting_until_resumed() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let headers = [(KEY, "pausable"), (VALUE, "parallelism=5")];
    user.publish_ok(&receiver.url("/p"), &headers, "before")
        .await;
    receiver.wait_for("/p", 1).await;

    let reply = manage(&user, "pausable", "pause").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(get_key(&user, "pausable").await.ok()["isPaused"], true);
    let ids: BTreeSet<String> = [
        user.publish_ok(&receiver.url("/p"), &headers, "during-1")
            .await,
        user.publish_ok(&receiver.url("/p"), &headers, "during-2")
            .await,
    ]
    .into();
    // Another key is not held back in the meantime.
    user.publish_ok(&receiver.url("/other"), &[(KEY, "other")], "o")
        .await;
    receiver.wait_for("/other", 1).await;
    wait_for_wait_list(&user, "pausable", 2).await;
    settle().await;
    assert_eq!(receiver.requests_to("/p").len(), 1, "nothing delivered");

    let reply = manage(&user, "pausable", "resume").await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let got = receiver.wait_for("/p", 3).await;
    assert_eq!(message_ids(&got[1..]), ids);
    let k = wait_for_wait_list(&user, "pausable", 0).await;
    assert_eq!(k["isPaused"], false);
    settle().await;
    assert_eq!(receiver.requests_to("/p").len(), 3);
}

#[tokio::test]
async fn a_waiting_message_can_be_read_and_cancelled_and_leaves_the_wait_list() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let headers = [(KEY, "cancel-me"), (VALUE, "parallelism=1")];
    user.publish_ok(&receiver.url("/w"), &headers, "first")
        .await;
    receiver.wait_for("/w", 1).await;
    manage(&user, "cancel-me", "pause").await.ok();
    let doomed = user
        .publish_ok(&receiver.url("/w"), &headers, "doomed")
        .await;
    let kept = user.publish_ok(&receiver.url("/w"), &headers, "kept").await;
    wait_for_wait_list(&user, "cancel-me", 2).await;

    let m = user.message(&doomed).await.ok();
    assert_eq!(m["flowControlKey"], "cancel-me", "{m}");
    let reply = user.delete(&format!("/v2/messages/{doomed}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "cancelled": 1 }));
    wait_for_wait_list(&user, "cancel-me", 1).await;

    manage(&user, "cancel-me", "resume").await.ok();
    let got = receiver.wait_for("/w", 2).await.remove(1);
    assert_eq!(got.header("upstash-message-id"), Some(kept.as_str()));
    wait_for_wait_list(&user, "cancel-me", 0).await;
    settle().await;
    assert_eq!(receiver.requests_to("/w").len(), 2);
}

#[tokio::test]
async fn pinned_limits_hold_against_new_messages_until_unpinned() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let url = receiver.url("/pin");
    user.publish_ok(&url, &[(KEY, "pinned"), (VALUE, "parallelism=1")], "x")
        .await;

    let reply = manage(&user, "pinned", "pin?parallelism=3&rate=20&period=120").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let k = get_key(&user, "pinned").await.ok();
    assert_eq!(k["parallelismMax"], 3, "{k}");
    assert_eq!(k["rateMax"], 20, "{k}");
    assert_eq!(k["ratePeriod"], 120, "{k}");
    assert_eq!(k["isPinnedParallelism"], true, "{k}");
    assert_eq!(k["isPinnedRate"], true, "{k}");

    // A message bringing other limits does not change pinned ones.
    let other_limits = [
        (KEY, "pinned"),
        (VALUE, "parallelism=7, rate=50, period=10s"),
    ];
    user.publish_ok(&url, &other_limits, "y").await;
    let k = get_key(&user, "pinned").await.ok();
    assert_eq!(
        (&k["parallelismMax"], &k["rateMax"], &k["ratePeriod"]),
        (&json!(3), &json!(20), &json!(120)),
        "{k}"
    );

    let reply = manage(&user, "pinned", "unpin?parallelism=true&rate=false").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let k = get_key(&user, "pinned").await.ok();
    assert_eq!(k["isPinnedParallelism"], false, "{k}");
    assert_eq!(k["isPinnedRate"], true, "{k}");
    assert_eq!(k["parallelismMax"], 3, "the last pinned value stays: {k}");

    // Now only parallelism follows new messages.
    user.publish_ok(&url, &other_limits, "z").await;
    let k = get_key(&user, "pinned").await.ok();
    assert_eq!(k["parallelismMax"], 7, "{k}");
    assert_eq!(k["rateMax"], 20, "{k}");
    assert_eq!(k["ratePeriod"], 120, "{k}");
    receiver.wait_for("/pin", 3).await;
}

#[tokio::test]
async fn pinning_a_higher_parallelism_lets_waiting_messages_through() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    receiver.script("/hold", vec![Answer::ok().after(Duration::from_secs(2))]);
    let user = server.user(1);
    let headers = [(KEY, "raise"), (VALUE, "parallelism=1")];
    user.publish_ok(&receiver.url("/hold"), &headers, "slow")
        .await;
    receiver.wait_for("/hold", 1).await;
    user.publish_ok(&receiver.url("/hold"), &headers, "waiting")
        .await;
    wait_for_wait_list(&user, "raise", 1).await;

    manage(&user, "raise", "pin?parallelism=2").await.ok();

    let got = receiver.wait_for("/hold", 2).await;
    assert!(
        got[0].answered.is_none() || got[1].at < got[0].answered.expect("answered"),
        "the waiting message started while the slow one still ran"
    );
}

#[tokio::test]
async fn reset_rate_zeroes_the_count_and_starts_a_new_period_now() {
    let start = now_ms() / 1000 * 1000;
    let clock = Arc::new(ManualClock::new(start));
    let server = TestServer::builder()
        .manual_clock(clock.clone())
        .start()
        .await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let headers = [(KEY, "reset"), (VALUE, "rate=1, period=1h")];
    for i in 0..2 {
        user.publish_ok(&receiver.url("/reset"), &headers, &i.to_string())
            .await;
    }
    receiver.wait_for("/reset", 1).await;
    let k = wait_for_wait_list(&user, "reset", 1).await;
    assert_eq!(k["rateCount"], 1, "{k}");
    clock.advance(Duration::from_secs(5));

    let reply = manage(&user, "reset", "resetRate").await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    // The new period admits the waiting message.
    receiver.wait_for("/reset", 2).await;
    let k = wait_for_wait_list(&user, "reset", 0).await;
    assert_eq!(k["ratePeriodStart"], start / 1000 + 5, "{k}");
    assert_eq!(k["rateCount"], 1, "{k}");

    manage(&user, "reset", "resetRate").await.ok();
    let k = get_key(&user, "reset").await.ok();
    assert_eq!(k["rateCount"], 0, "{k}");
}

#[tokio::test]
async fn pinning_resets_the_rate_state() {
    let start = now_ms() / 1000 * 1000;
    let clock = Arc::new(ManualClock::new(start));
    let server = TestServer::builder()
        .manual_clock(clock.clone())
        .start()
        .await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let headers = [(KEY, "pin-reset"), (VALUE, "rate=1, period=1h")];
    for i in 0..2 {
        user.publish_ok(&receiver.url("/pr"), &headers, &i.to_string())
            .await;
    }
    receiver.wait_for("/pr", 1).await;
    wait_for_wait_list(&user, "pin-reset", 1).await;
    clock.advance(Duration::from_secs(7));

    manage(&user, "pin-reset", "pin?rate=1&period=3600")
        .await
        .ok();

    // A new period began at the pin: the waiting message may start in it.
    receiver.wait_for("/pr", 2).await;
    let k = wait_for_wait_list(&user, "pin-reset", 0).await;
    assert_eq!(k["ratePeriodStart"], start / 1000 + 7, "{k}");
    assert_eq!(k["rateCount"], 1, "{k}");
}

#[tokio::test]
async fn the_list_shows_the_users_keys_and_search_filters_them() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    for key in ["billing-eu", "billing-us", "emails"] {
        user.publish_ok(
            &receiver.url("/l"),
            &[(KEY, key), (VALUE, "parallelism=2")],
            "x",
        )
        .await;
    }

    let all = user.get("/v2/flowControl").await.ok();
    let mut keys = ids_of(&all, "flowControlKey");
    keys.sort();
    assert_eq!(keys, ["billing-eu", "billing-us", "emails"]);
    assert!(all[0]["parallelismMax"].is_u64(), "{all}");

    let found = user.get("/v2/flowControl?search=billing").await.ok();
    let mut keys = ids_of(&found, "flowControlKey");
    keys.sort();
    assert_eq!(keys, ["billing-eu", "billing-us"]);
    let none = user.get("/v2/flowControl?search=nothing").await.ok();
    assert_eq!(none, json!([]));
}

#[tokio::test]
async fn global_parallelism_shows_the_limit_and_the_deliveries_in_flight() {
    let server = TestServer::builder()
        .config(|c| c.engine.max_in_flight = 7)
        .start()
        .await;
    let receiver = Receiver::start().await;
    receiver.always("/long", Answer::ok().after(Duration::from_millis(800)));
    let user = server.user(1);

    let idle = user.get("/v2/globalParallelism").await.ok();
    assert_eq!(idle["parallelismMax"], 7, "{idle}");
    assert_eq!(idle["parallelismCount"], 0, "{idle}");

    user.publish_ok(&receiver.url("/long"), &[], "x").await;
    receiver.wait_for("/long", 1).await;
    let busy = user.get("/v2/globalParallelism").await.ok();
    assert_eq!(busy["parallelismCount"], 1, "{busy}");
    eventually("no delivery in flight", || async {
        let g = user.get("/v2/globalParallelism").await.ok();
        (g["parallelismCount"] == 0).then_some(())
    })
    .await;
}

/// Twice `max_in_flight` deliveries may be started (prepared ahead of their time or
/// waiting for a slot), but only `max_in_flight` requests are ever on the wire.
#[tokio::test]
async fn no_more_than_max_in_flight_requests_reach_destinations_at_once() {
    let server = TestServer::builder()
        .config(|c| c.engine.max_in_flight = 3)
        .start()
        .await;
    let receiver = Receiver::start().await;
    receiver.always("/slow", Answer::ok().after(Duration::from_millis(600)));
    let user = server.user(1);

    for n in 0..10 {
        user.publish_ok(&receiver.url("/slow"), &[], &n.to_string())
            .await;
    }
    receiver.wait_for("/slow", 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.requests_to("/slow").len(), 3, "three on the wire");
    let busy = user.get("/v2/globalParallelism").await.ok();
    assert_eq!(busy["parallelismCount"], 3, "{busy}");
    receiver.wait_for("/slow", 10).await;
}

#[tokio::test]
async fn invalid_flow_control_headers_are_400_on_every_route() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let url = receiver.url("/never");

    let bad: [&[(&str, &str)]; 7] = [
        &[(KEY, "k"), (VALUE, "parallelism=0")],
        &[(KEY, "k"), (VALUE, "rate=x")],
        &[(KEY, "k"), (VALUE, "rate=0")],
        &[(KEY, "k"), (VALUE, "rate=1, period=8d")],
        &[(KEY, "k"), (VALUE, "speed=3")],
        &[(KEY, "k"), (VALUE, "period=5s")],
        &[(VALUE, "parallelism=1")],
    ];
    for headers in bad {
        let message = user.publish(&url, headers, "x").await.error(400);
        assert!(
            message.to_ascii_lowercase().contains("flow-control"),
            "the error names the header: {message}"
        );
    }
    user.post(
        &format!("/v2/enqueue/q/{url}"),
        &[(KEY, "k"), (VALUE, "parallelism=0")],
        "x",
    )
    .await
    .error(400);
    user.batch(&json!([{
        "destination": url,
        "headers": { "Upstash-Flow-Control-Key": "k", "Upstash-Flow-Control-Value": "rate=x" },
    }]))
    .await
    .error(400);

    assert_eq!(user.created_count().await, 0);
    assert_eq!(user.get("/v2/flowControl").await.ok(), json!([]));
}

#[tokio::test]
async fn invalid_pin_and_unpin_parameters_are_400_and_change_nothing() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    user.publish_ok(
        &receiver.url("/x"),
        &[(KEY, "strict"), (VALUE, "parallelism=2")],
        "x",
    )
    .await;

    for action in [
        "pin?parallelism=0",
        "pin?rate=x",
        "pin?period=0",
        "pin?colour=red",
        "unpin?parallelism=maybe",
    ] {
        manage(&user, "strict", action).await.error(400);
    }

    let k = get_key(&user, "strict").await.ok();
    assert_eq!(k["parallelismMax"], 2, "{k}");
    assert_eq!(k["isPinnedParallelism"], false, "{k}");
    assert_eq!(k["isPinnedRate"], false, "{k}");
}

#[tokio::test]
async fn keys_are_per_user() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let owner = server.user(1);
    let other = server.user(2);
    owner
        .publish_ok(
            &receiver.url("/owner"),
            &[(KEY, "tenant-key"), (VALUE, "parallelism=1")],
            "x",
        )
        .await;
    manage(&owner, "tenant-key", "pause").await.ok();

    get_key(&other, "tenant-key").await.error(404);
    assert_eq!(other.get("/v2/flowControl").await.ok(), json!([]));
    manage(&other, "tenant-key", "resume").await.error(404);

    // The same key name is the other user's own key: not paused, own limits.
    other
        .publish_ok(
            &receiver.url("/other"),
            &[(KEY, "tenant-key"), (VALUE, "parallelism=9")],
            "y",
        )
        .await;
    receiver.wait_for("/other", 1).await;
    let mine = get_key(&other, "tenant-key").await.ok();
    assert_eq!(mine["isPaused"], false, "{mine}");
    assert_eq!(mine["parallelismMax"], 9, "{mine}");
    let theirs = get_key(&owner, "tenant-key").await.ok();
    assert_eq!(theirs["isPaused"], true, "{theirs}");
    assert_eq!(theirs["parallelismMax"], 1, "{theirs}");
}

#[test]
fn waiting_messages_survive_a_restart_and_are_delivered_once_after_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver_runtime = tokio::runtime::Runtime::new().expect("runtime");
    let receiver = Arc::new(receiver_runtime.block_on(Receiver::start()));
    let headers = [(KEY, "durable"), (VALUE, "parallelism=1")];

    let (path, rx) = (dir.path().to_path_buf(), receiver.clone());
    let waiting: BTreeSet<String> = common::on_own_runtime(move || async move {
        let server = TestServer::builder().data_dir(&path).start().await;
        let user = server.user(1);
        user.publish_ok(&rx.url("/first"), &headers, "first").await;
        rx.wait_for("/first", 1).await;
        manage(&user, "durable", "pause").await.ok();
        let mut ids = BTreeSet::new();
        for i in 0..3 {
            ids.insert(
                user.publish_ok(&rx.url("/survivor"), &headers, &i.to_string())
                    .await,
            );
        }
        wait_for_wait_list(&user, "durable", 3).await;
        ids
    });
    assert!(receiver.requests_to("/survivor").is_empty());

    let (path, rx) = (dir.path().to_path_buf(), receiver.clone());
    let delivered = common::on_own_runtime(move || async move {
        let server = TestServer::builder().data_dir(&path).start().await;
        let user = server.user(1);
        let k = get_key(&user, "durable").await.ok();
        assert_eq!(k["isPaused"], true, "{k}");
        assert_eq!(k["waitListSize"], 3, "{k}");
        assert_eq!(k["parallelismMax"], 1, "{k}");
        settle().await;
        assert!(rx.requests_to("/survivor").is_empty(), "still paused");

        manage(&user, "durable", "resume").await.ok();
        rx.wait_for("/survivor", 3).await;
        wait_for_wait_list(&user, "durable", 0).await;
        settle().await;
        rx.requests_to("/survivor")
    });

    assert_eq!(delivered.len(), 3, "each delivered exactly once");
    assert_eq!(message_ids(&delivered), waiting);
    assert_eq!(receiver.requests_to("/first").len(), 1);
    assert_eq!(receiver.max_concurrency("/survivor"), 1);
}

/// Who waits is the store's wait-list, not a count the engine keeps. A message listed
/// there that the engine never counted (as when a park crosses the resume at start —
/// the kill loop lost one that way) is released by the key's next event.
#[tokio::test]
async fn a_waiting_message_the_engine_did_not_count_is_released_by_the_next_event() {
    let receiver = Receiver::start().await;
    let server = TestServer::start().await;
    let user = server.user(1);
    let headers = [(KEY, "drift"), (VALUE, "parallelism=1")];

    // A message of the key, put in the wait-list behind the engine's back.
    let delayed = [
        (KEY, "drift"),
        (VALUE, "parallelism=1"),
        ("Upstash-Delay", "1h"),
    ];
    let id = user
        .publish_ok(&receiver.url("/uncounted"), &delayed, "uncounted")
        .await;
    let mut message = server
        .store
        .message(common::dev_user(1).id, &id)
        .await
        .expect("read")
        .expect("stored");
    message.state = depesha_core::message::MessageState::Waiting;
    message.due = server.now();
    server
        .store
        .commit(vec![depesha_store::Unit::new(vec![
            depesha_store::Write::PutMessage(message),
        ])])
        .await
        .expect("commit");
    wait_for_wait_list(&user, "drift", 1).await;

    // The key's next delivery ends, and so frees a slot.
    user.publish_ok(&receiver.url("/counted"), &headers, "counted")
        .await;
    receiver.wait_for("/counted", 1).await;
    receiver.wait_for("/uncounted", 1).await;
    wait_for_wait_list(&user, "drift", 0).await;
}
