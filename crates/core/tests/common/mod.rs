//! What several of core's test files build the same way.

use depesha_core::message::Message;
use depesha_core::publish::{build_message, classify, NewMessage, PublishLimits, Target};

pub const NOW: u64 = 1_700_000_000_000;

/// The message a publish to `http://127.0.0.1/` with these headers makes at `NOW`.
pub fn message(headers: &[(&str, &str)]) -> Message {
    let pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let parsed = classify(&pairs, &PublishLimits::default(), NOW).expect("valid");
    build_message(
        NewMessage {
            id: "msg_x".into(),
            user: "u",
            target: Target {
                url: "http://127.0.0.1/".into(),
                topic_name: None,
                endpoint_name: None,
            },
            queue_name: None,
            schedule_id: None,
            body: Vec::new(),
            caller_ip: None,
            now: NOW,
        },
        &parsed,
        &PublishLimits::default(),
    )
}
