//! The four fixed users of QStash's local development server (spec §9). Depesha's
//! `dev` command serves exactly these, so apps configured for `qstash dev` — and the
//! JavaScript SDK's `QSTASH_DEV=true` mode, which checks user 1's keys — adopt it as is.

use depesha_core::keys::SigningKeys;
use depesha_server::UserConfig;

/// (user id, token, current key, next key).
const DEV_USERS: [(&str, &str, &str, &str); 4] = [
    (
        "defaultUser",
        "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=",
        "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
        "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
    ),
    (
        "testUser1",
        "eyJVc2VySUQiOiJ0ZXN0VXNlcjEiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        "sig_7GVPjvuwsfqF65iC8fSrs1dfYruM",
        "sig_5NoELc3EFnZn4DVS5bDs2Nk4b7Ua",
    ),
    (
        "testUser2",
        "eyJVc2VySUQiOiJ0ZXN0VXNlcjIiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        "sig_6jWGaWRxHsw4vMSPJprXadyvrybF",
        "sig_7qHbvhmahe5GwfePDiS5Lg3pi6Qx",
    ),
    (
        "testUser3",
        "eyJVc2VySUQiOiJ0ZXN0VXNlcjMiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        "sig_5T8FcSsynBjn9mMLBsXhpacRovJf",
        "sig_7GFR4YaDshFcqsxWRZpRB161jguD",
    ),
];

pub fn dev_users() -> Vec<UserConfig> {
    DEV_USERS
        .iter()
        .map(|(id, token, current, next)| UserConfig {
            id: id.to_string(),
            token: token.to_string(),
            keys: Some(SigningKeys {
                current: current.to_string(),
                next: next.to_string(),
            }),
        })
        .collect()
}
