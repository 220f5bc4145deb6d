//! Spec §3.6: URL groups (REST name `topics`) — adding, updating and removing
//! endpoints, listing, deleting, default headers — and §3.1/§3.3/§5: publishing to a
//! group fans out one message per endpoint, answers a bare array, and each delivery
//! names the group. Appendix B: groups are per user; deleting an unknown group is 2xx.

mod common;

use std::time::Duration;

use common::{ids_of, now_ms, settle, Api, Receiver, Reply, TestServer};
use serde_json::{json, Value};

/// `POST /v2/topics/{group}/endpoints` with `{"endpoints": endpoints}`.
async fn add(user: &Api, group: &str, endpoints: Value) -> Reply {
    user.post(
        &format!("/v2/topics/{group}/endpoints"),
        &[("Content-Type", "application/json")],
        &json!({ "endpoints": endpoints }).to_string(),
    )
    .await
}

/// `DELETE /v2/topics/{group}/endpoints` with `{"endpoints": endpoints}`.
async fn remove(user: &Api, group: &str, endpoints: Value) -> Reply {
    user.delete_json(
        &format!("/v2/topics/{group}/endpoints"),
        &json!({ "endpoints": endpoints }),
    )
    .await
}

/// `PATCH /v2/topics/{group}` with `{"headers": headers}`.
async fn set_default_headers(user: &Api, group: &str, headers: Value) -> Reply {
    user.send(
        user.request(reqwest::Method::PATCH, &format!("/v2/topics/{group}"))
            .header("Content-Type", "application/json")
            .body(json!({ "headers": headers }).to_string()),
    )
    .await
}

async fn get_group(user: &Api, group: &str) -> Reply {
    user.get(&format!("/v2/topics/{group}")).await
}

/// The `endpoints` array of a group, asserting it exists.
async fn endpoints_of(user: &Api, group: &str) -> Value {
    get_group(user, group).await.ok()["endpoints"].clone()
}

/// A group with two named endpoints on `receiver`: `a` → `/a`, `b` → `/b`.
async fn group_of_two(user: &Api, receiver: &Receiver, group: &str) {
    add(
        user,
        group,
        json!([
            { "name": "a", "url": receiver.url("/a") },
            { "name": "b", "url": receiver.url("/b") },
        ]),
    )
    .await
    .ok();
}

#[tokio::test]
async fn adding_endpoints_creates_the_group_which_shows_exactly_name_and_url_in_insertion_order() {
    let server = TestServer::start().await;
    let user = server.user(1);
    let before = now_ms();

    let reply = add(
        &user,
        "orders",
        json!([
            { "name": "second-first", "url": "https://b.example/hook" },
            { "url": "https://a.example/hook" },
            { "name": "third", "url": "https://c.example/hook" },
        ]),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let group = get_group(&user, "orders").await.ok();
    assert_eq!(group["name"], "orders");
    let created = group["createdAt"].as_u64().expect("createdAt in ms");
    let updated = group["updatedAt"].as_u64().expect("updatedAt in ms");
    assert!(created >= before && created <= now_ms(), "{group}");
    assert!(updated >= created, "{group}");
    // Strict structural equality: no keys beyond `name` (when set) and `url`.
    assert_eq!(
        group["endpoints"],
        json!([
            { "name": "second-first", "url": "https://b.example/hook" },
            { "url": "https://a.example/hook" },
            { "name": "third", "url": "https://c.example/hook" },
        ])
    );
}

#[tokio::test]
async fn adding_more_endpoints_appends_them_after_the_existing_ones() {
    let server = TestServer::start().await;
    let user = server.user(1);
    add(&user, "g", json!([{ "url": "https://one.example/" }]))
        .await
        .ok();

    add(&user, "g", json!([{ "url": "https://two.example/" }]))
        .await
        .ok();

    assert_eq!(
        endpoints_of(&user, "g").await,
        json!([{ "url": "https://one.example/" }, { "url": "https://two.example/" }])
    );
}

#[tokio::test]
async fn re_adding_an_endpoint_with_the_same_name_updates_its_url_in_place() {
    let server = TestServer::start().await;
    let user = server.user(1);
    add(
        &user,
        "g",
        json!([
            { "name": "billing", "url": "https://old.example/billing" },
            { "name": "audit", "url": "https://audit.example/" },
        ]),
    )
    .await
    .ok();
    let created = get_group(&user, "g").await.ok()["createdAt"].clone();

    add(
        &user,
        "g",
        json!([{ "name": "billing", "url": "https://new.example/billing" }]),
    )
    .await
    .ok();

    let group = get_group(&user, "g").await.ok();
    assert_eq!(
        group["endpoints"],
        json!([
            { "name": "billing", "url": "https://new.example/billing" },
            { "name": "audit", "url": "https://audit.example/" },
        ])
    );
    assert_eq!(group["createdAt"], created, "updating keeps createdAt");
}

#[tokio::test]
async fn the_list_shows_every_group_of_the_user() {
    let server = TestServer::start().await;
    let user = server.user(1);
    add(&user, "alpha", json!([{ "url": "https://a.example/" }]))
        .await
        .ok();
    add(
        &user,
        "beta",
        json!([{ "name": "x", "url": "https://b.example/" }]),
    )
    .await
    .ok();

    let list = user.get("/v2/topics").await.ok();
    let mut names = ids_of(&list, "name");
    names.sort();
    assert_eq!(names, ["alpha", "beta"]);
    for group in list.as_array().expect("array") {
        assert!(group["createdAt"].is_u64(), "{group}");
        assert!(group["updatedAt"].is_u64(), "{group}");
        assert!(group["endpoints"].is_array(), "{group}");
    }
    let beta = list
        .as_array()
        .and_then(|l| l.iter().find(|g| g["name"] == "beta"))
        .expect("beta listed");
    assert_eq!(
        beta["endpoints"],
        json!([{ "name": "x", "url": "https://b.example/" }])
    );
}

#[tokio::test]
async fn endpoints_can_be_removed_by_url_and_by_name() {
    let server = TestServer::start().await;
    let user = server.user(1);
    add(
        &user,
        "g",
        json!([
            { "name": "one", "url": "https://one.example/" },
            { "name": "two", "url": "https://two.example/" },
            { "url": "https://three.example/" },
        ]),
    )
    .await
    .ok();

    let by_url = remove(&user, "g", json!([{ "url": "https://three.example/" }])).await;
    assert_eq!(by_url.status, 200, "{}", by_url.text());
    assert_eq!(
        endpoints_of(&user, "g").await,
        json!([
            { "name": "one", "url": "https://one.example/" },
            { "name": "two", "url": "https://two.example/" },
        ])
    );

    let by_name = remove(&user, "g", json!([{ "name": "one" }])).await;
    assert_eq!(by_name.status, 200, "{}", by_name.text());
    assert_eq!(
        endpoints_of(&user, "g").await,
        json!([{ "name": "two", "url": "https://two.example/" }])
    );
}

#[tokio::test]
async fn removing_the_last_endpoint_deletes_the_group() {
    let server = TestServer::start().await;
    let user = server.user(1);
    add(
        &user,
        "short-lived",
        json!([{ "name": "only", "url": "https://only.example/" }]),
    )
    .await
    .ok();

    remove(&user, "short-lived", json!([{ "name": "only" }]))
        .await
        .ok();

    get_group(&user, "short-lived").await.error(404);
    let list = user.get("/v2/topics").await.ok();
    assert!(ids_of(&list, "name").is_empty(), "{list}");
}

#[tokio::test]
async fn deleting_a_group_removes_it_and_deleting_an_unknown_group_is_2xx() {
    let server = TestServer::start().await;
    let user = server.user(1);
    add(&user, "doomed", json!([{ "url": "https://d.example/" }]))
        .await
        .ok();

    let reply = user.delete("/v2/topics/doomed").await;
    assert!((200..300).contains(&reply.status), "{}", reply.text());
    get_group(&user, "doomed").await.error(404);

    let unknown = user.delete("/v2/topics/never-existed").await;
    assert!((200..300).contains(&unknown.status), "{}", unknown.text());
}

#[tokio::test]
async fn an_unknown_group_is_404_to_get_and_to_remove_endpoints_from() {
    let server = TestServer::start().await;
    let user = server.user(1);
    get_group(&user, "nope").await.error(404);
    remove(&user, "nope", json!([{ "url": "https://x.example/" }]))
        .await
        .error(404);
}

#[tokio::test]
async fn publishing_to_a_group_fans_out_one_message_per_endpoint_and_answers_a_bare_array() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    group_of_two(&user, &receiver, "fanout").await;

    let reply = user
        .publish("fanout", &[("Content-Type", "text/plain")], "to all")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let answer = reply.json();
    let items = answer
        .as_array()
        .unwrap_or_else(|| panic!("a group publish answers a bare array, got {answer}"));
    assert_eq!(items.len(), 2, "{answer}");
    assert_eq!(items[0]["url"], receiver.url("/a"));
    assert_eq!(items[1]["url"], receiver.url("/b"));
    let ids = ids_of(&answer, "messageId");
    assert_ne!(ids[0], ids[1], "one message per endpoint: {answer}");
    assert!(ids.iter().all(|id| !id.is_empty()), "{answer}");

    let a = receiver.wait_for_exactly_one("/a", Duration::ZERO).await;
    let b = receiver.wait_for_exactly_one("/b", Duration::ZERO).await;
    assert_eq!(a.header("upstash-message-id"), Some(ids[0].as_str()));
    assert_eq!(b.header("upstash-message-id"), Some(ids[1].as_str()));
    assert_eq!(a.body_text(), "to all");
    assert_eq!(b.body_text(), "to all");
    assert_eq!(a.header("content-type"), Some("text/plain"));
    settle().await;
    assert_eq!(receiver.requests_to("/a").len(), 1);
    assert_eq!(receiver.requests_to("/b").len(), 1);
}

#[tokio::test]
async fn a_group_with_one_endpoint_still_answers_an_array() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    add(&user, "solo", json!([{ "url": receiver.url("/solo") }]))
        .await
        .ok();

    let answer = user.publish("solo", &[], "x").await.ok();

    assert_eq!(answer.as_array().map(Vec::len), Some(1), "{answer}");
    assert_eq!(answer[0]["url"], receiver.url("/solo"));
}

#[tokio::test]
async fn each_delivery_names_the_group_and_the_message_shows_topic_and_endpoint() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    add(
        &user,
        "named",
        json!([
            { "name": "first", "url": receiver.url("/first") },
            { "url": receiver.url("/unnamed") },
        ]),
    )
    .await
    .ok();

    let answer = user.publish("named", &[], "x").await.ok();
    let ids = ids_of(&answer, "messageId");

    let first = receiver.wait_for("/first", 1).await.remove(0);
    let unnamed = receiver.wait_for("/unnamed", 1).await.remove(0);
    assert_eq!(first.header("upstash-topic-name"), Some("named"));
    assert_eq!(unnamed.header("upstash-topic-name"), Some("named"));
    // The signature's subject is the endpoint's URL.
    let (current, _) = user.keys().await;
    first.verify_signature(&current, &receiver.url("/first"));

    let m = user.message(&ids[0]).await.ok();
    assert_eq!(m["topicName"], "named", "{m}");
    assert_eq!(m["endpointName"], "first", "{m}");
    assert_eq!(m["url"], receiver.url("/first"), "{m}");
    let m = user.message(&ids[1]).await.ok();
    assert_eq!(m["topicName"], "named", "{m}");
    assert!(m.get("endpointName").is_none_or(Value::is_null), "{m}");
}

#[tokio::test]
async fn a_plain_url_publish_carries_no_topic_name() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    user.publish_ok(&receiver.url("/plain"), &[], "x").await;

    let got = receiver.wait_for("/plain", 1).await.remove(0);
    assert_eq!(got.header("upstash-topic-name"), None);
}

#[tokio::test]
async fn publishing_to_an_unknown_group_is_404_and_stores_nothing() {
    let server = TestServer::start().await;
    let user = server.user(1);

    user.publish("no-such-group", &[], "x").await.error(404);

    assert_eq!(user.created_count().await, 0);
}

#[tokio::test]
async fn a_batch_item_sent_to_a_group_answers_a_nested_array() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    group_of_two(&user, &receiver, "batched").await;

    let reply = user
        .batch(&json!([
            { "destination": "batched", "body": "to the group" },
            { "destination": receiver.url("/single"), "body": "to one" },
        ]))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let answer = reply.json();

    let group_part = answer[0]
        .as_array()
        .unwrap_or_else(|| panic!("a group item answers an array, got {answer}"));
    assert_eq!(group_part.len(), 2, "{answer}");
    assert_eq!(group_part[0]["url"], receiver.url("/a"));
    assert_eq!(group_part[1]["url"], receiver.url("/b"));
    assert!(
        answer[1].is_object(),
        "a URL item answers an object: {answer}"
    );
    assert!(answer[1]["messageId"].is_string(), "{answer}");

    for path in ["/a", "/b"] {
        let got = receiver.wait_for(path, 1).await.remove(0);
        assert_eq!(got.body_text(), "to the group");
        assert_eq!(got.header("upstash-topic-name"), Some("batched"));
    }
    receiver.wait_for("/single", 1).await;
}

#[tokio::test]
async fn a_batch_item_sent_to_an_unknown_group_fails_the_whole_batch_with_404() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);

    let reply = user
        .batch(&json!([
            { "destination": receiver.url("/fine"), "body": "x" },
            { "destination": "missing-group", "body": "y" },
        ]))
        .await;

    reply.error(404);
    settle().await;
    assert!(receiver.requests_to("/fine").is_empty());
}

#[tokio::test]
async fn default_headers_apply_to_publishes_to_the_group_and_a_publishs_own_header_wins() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    add(&user, "defaults", json!([{ "url": receiver.url("/dflt") }]))
        .await
        .ok();
    let reply = set_default_headers(
        &user,
        "defaults",
        json!({ "Upstash-Forward-X-Default": "d", "Upstash-Retries": "0" }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let plain = ids_of(&user.publish("defaults", &[], "1").await.ok(), "messageId");
    let got = receiver.wait_for("/dflt", 1).await.remove(0);
    assert_eq!(got.header("x-default"), Some("d"));
    assert_eq!(user.message(&plain[0]).await.ok()["maxRetries"], 0);

    let own = ids_of(
        &user
            .publish(
                "defaults",
                &[
                    ("Upstash-Forward-X-Default", "mine"),
                    ("Upstash-Retries", "2"),
                ],
                "2",
            )
            .await
            .ok(),
        "messageId",
    );
    let got = receiver.wait_for("/dflt", 2).await.remove(1);
    assert_eq!(got.header("x-default"), Some("mine"));
    assert_eq!(user.message(&own[0]).await.ok()["maxRetries"], 2);
}

#[tokio::test]
async fn default_headers_are_checked_like_a_publishs_and_need_an_existing_group() {
    let server = TestServer::start().await;
    let user = server.user(1);
    add(&user, "checked", json!([{ "url": "https://c.example/" }]))
        .await
        .ok();

    set_default_headers(&user, "checked", json!({ "Upstash-Retries": "many" }))
        .await
        .error(400);
    set_default_headers(&user, "unknown-group", json!({ "Upstash-Retries": "1" }))
        .await
        .error(404);
}

#[tokio::test]
async fn a_deduplicated_group_publish_returns_every_id_marked_deduplicated() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    group_of_two(&user, &receiver, "dedup").await;
    let dedup = [("Upstash-Deduplication-Id", "once-only")];

    let first = user.publish("dedup", &dedup, "x").await;
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    let again = user.publish("dedup", &dedup, "x").await;

    assert_eq!(again.status, 202, "{}", again.text());
    let again = again.json();
    assert_eq!(
        ids_of(&again, "messageId"),
        ids_of(&first, "messageId"),
        "the earlier ids: {first} vs {again}"
    );
    for item in again.as_array().expect("array") {
        assert_eq!(item["deduplicated"], true, "{again}");
    }
    assert_eq!(user.created_count().await, 2, "no new messages");
    receiver.wait_for("/a", 1).await;
    receiver.wait_for("/b", 1).await;
    settle().await;
    assert_eq!(receiver.requests_to("/a").len(), 1);
    assert_eq!(receiver.requests_to("/b").len(), 1);
}

#[tokio::test]
async fn a_deduplicated_group_item_in_a_batch_answers_the_earlier_ids_in_a_nested_array() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    group_of_two(&user, &receiver, "batch-dedup").await;
    let item = json!({
        "destination": "batch-dedup",
        "headers": { "Upstash-Deduplication-Id": "run-1" },
        "body": "x",
    });

    let answer = user.batch(&json!([item, item])).await.ok();
    let again = user.batch(&json!([item])).await.ok();

    let first = ids_of(&answer[0], "messageId");
    assert_eq!(first.len(), 2, "{answer}");
    for nested in [&answer[1], &again[0]] {
        assert_eq!(ids_of(nested, "messageId"), first, "{answer} / {again}");
        for element in nested.as_array().expect("nested array") {
            assert_eq!(element["deduplicated"], true, "{answer} / {again}");
        }
    }
    assert_eq!(user.created_count().await, 2);
}

#[tokio::test]
async fn groups_are_per_user() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let owner = server.user(1);
    let other = server.user(2);
    add(
        &owner,
        "private",
        json!([{ "url": receiver.url("/owner") }]),
    )
    .await
    .ok();

    get_group(&other, "private").await.error(404);
    let list = other.get("/v2/topics").await.ok();
    assert!(ids_of(&list, "name").is_empty(), "{list}");
    other.publish("private", &[], "x").await.error(404);

    // The other user's own group of the same name is a different group.
    add(
        &other,
        "private",
        json!([{ "url": receiver.url("/other") }]),
    )
    .await
    .ok();
    other.publish("private", &[], "x").await.ok();
    receiver.wait_for("/other", 1).await;
    assert_eq!(
        endpoints_of(&owner, "private").await,
        json!([{ "url": receiver.url("/owner") }])
    );
    // Deleting it as the other user leaves the owner's group alone.
    other.delete("/v2/topics/private").await.ok();
    get_group(&owner, "private").await.ok();
    settle().await;
    assert!(receiver.requests_to("/owner").is_empty());
}

#[tokio::test]
async fn invalid_group_names_are_400() {
    let server = TestServer::start().await;
    let user = server.user(1);
    for name in ["bad!name", "with%20space", "semi;colon"] {
        add(&user, name, json!([{ "url": "https://x.example/" }]))
            .await
            .error(400);
    }
    let list = user.get("/v2/topics").await.ok();
    assert!(ids_of(&list, "name").is_empty(), "{list}");
}

#[tokio::test]
async fn invalid_endpoints_are_400_and_change_nothing() {
    let server = TestServer::start().await;
    let user = server.user(1);
    add(&user, "g", json!([{ "url": "https://kept.example/" }]))
        .await
        .ok();

    for endpoints in [
        json!([{ "url": "not-a-url" }]),
        json!([{ "url": "ftp://files.example/x" }]),
        json!([{ "url": "https://" }]),
        json!([{ "name": "no-url" }]),
        json!([{ "url": "https://ok.example/", "name": "bad name!" }]),
        json!([]),
    ] {
        add(&user, "g", endpoints).await.error(400);
    }
    // A body that is not the expected shape at all.
    user.post(
        "/v2/topics/g/endpoints",
        &[("Content-Type", "application/json")],
        "[1, 2]",
    )
    .await
    .error(400);
    // Removing needs a url or a name per item.
    remove(&user, "g", json!([{}])).await.error(400);

    assert_eq!(
        endpoints_of(&user, "g").await,
        json!([{ "url": "https://kept.example/" }])
    );
}
