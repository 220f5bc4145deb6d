//! Spec §3.9 and §6: `GET /v2/keys` gives the caller's `{current, next}` pair;
//! `POST /v2/keys/rotate` makes `current := old next` and `next := fresh`; deliveries
//! are signed with the current key; keys are durable like everything else.

mod common;

use common::{dev_user, Receiver, TestServer};
use depesha_core::jwt;

#[tokio::test]
async fn get_keys_gives_the_users_current_and_next_key() {
    let server = TestServer::start().await;
    let keys = server.user(1).get("/v2/keys").await.ok();
    assert_eq!(keys["current"], dev_user(1).current);
    assert_eq!(keys["next"], dev_user(1).next);
}

#[tokio::test]
async fn rotating_makes_the_old_next_key_current_and_creates_a_fresh_next_key() {
    let server = TestServer::start().await;
    let user = server.user(1);

    let rotated = user.post("/v2/keys/rotate", &[], "").await.ok();

    assert_eq!(rotated["current"], dev_user(1).next);
    let next = rotated["next"].as_str().expect("next key");
    assert_ne!(next, dev_user(1).current);
    assert_ne!(next, dev_user(1).next);
    assert!(next.len() >= 32, "keys are at least 32 bytes: {next}");
    let (current, next_after) = user.keys().await;
    assert_eq!(current, dev_user(1).next);
    assert_eq!(next_after, next);

    // Only the caller's keys move.
    let (other_current, _) = server.user(2).keys().await;
    assert_eq!(other_current, dev_user(2).current);
}

#[tokio::test]
async fn deliveries_after_a_rotation_are_signed_with_the_new_current_key() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let url = receiver.url("/after-rotate");
    user.post("/v2/keys/rotate", &[], "").await.ok();
    let (current, next) = user.keys().await;

    user.publish_ok(&url, &[], "rotated").await;

    let got = receiver.wait_for("/after-rotate", 1).await.remove(0);
    got.verify_signature(&current, &url);
    let token = got.header("upstash-signature").expect("signature");
    assert!(jwt::verify(dev_user(1).current, token).is_none());
    assert!(jwt::verify(&next, token).is_none());
    // A receiver still holding the pair from before the rotation verifies with its
    // `next` key (spec §6 "Key rotation").
    assert!(jwt::verify(dev_user(1).next, token).is_some());
}

#[tokio::test]
async fn a_user_without_preset_keys_gets_a_generated_pair() {
    let users = vec![depesha_server::UserConfig {
        id: "fresh".into(),
        token: "fresh-token".into(),
        keys: None,
    }];
    let server = TestServer::builder().users(users).start().await;
    let (current, next) = server.api("fresh-token").keys().await;
    assert!(
        current.starts_with("sig_") && current.len() >= 32,
        "{current}"
    );
    assert!(next.starts_with("sig_") && next.len() >= 32, "{next}");
    assert_ne!(current, next);
}

fn users_with_a_generated_pair() -> Vec<depesha_server::UserConfig> {
    let mut users = common::dev_user_configs();
    users.push(depesha_server::UserConfig {
        id: "generated".into(),
        token: "generated-token".into(),
        keys: None,
    });
    users
}

#[test]
fn rotated_and_generated_keys_survive_a_restart_on_the_same_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();

    let first = path.clone();
    let rotated = common::on_own_runtime(move || async move {
        let server = TestServer::builder()
            .users(users_with_a_generated_pair())
            .data_dir(&first)
            .start()
            .await;
        server.user(1).post("/v2/keys/rotate", &[], "").await.ok();
        let generated = server.api("generated-token").keys().await;
        (server.user(1).keys().await, generated)
    });
    assert_eq!(rotated.0 .0, dev_user(1).next);

    let second = path.clone();
    let after_restart = common::on_own_runtime(move || async move {
        let server = TestServer::builder()
            .users(users_with_a_generated_pair())
            .data_dir(&second)
            .start()
            .await;
        let receiver = Receiver::start().await;
        let url = receiver.url("/restarted");
        server.user(1).publish_ok(&url, &[], "x").await;
        let got = receiver.wait_for("/restarted", 1).await.remove(0);
        let keys = server.user(1).keys().await;
        got.verify_signature(&keys.0, &url);
        let generated = server.api("generated-token").keys().await;
        (keys, generated)
    });

    assert_eq!(after_restart, rotated);
}
