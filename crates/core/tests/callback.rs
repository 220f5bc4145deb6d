//! Callback bodies and messages (spec §8).

use depesha_core::callback::{callback_body, callback_message, CallbackKind};
use depesha_core::delivery_failure::DeliveryFailure;
use depesha_core::header_map::HeaderMap;
use depesha_core::log::HttpResponse;
use depesha_core::message::Origin;
use depesha_core::publish::{build_message, classify, NewMessage, PublishLimits, Target};
use depesha_core::retry_policy::AttemptResult;

fn source() -> depesha_core::message::Message {
    let pairs = vec![
        ("Upstash-Retries".to_string(), "2".to_string()),
        ("Upstash-Callback".to_string(), "http://cb/".to_string()),
        ("Upstash-Callback-Forward-X-Cb".to_string(), "1".to_string()),
        ("Upstash-Callback-Delay".to_string(), "5s".to_string()),
        ("Content-Type".to_string(), "text/plain".to_string()),
    ];
    let parsed = classify(&pairs, &PublishLimits::default(), 1000).expect("valid");
    build_message(
        NewMessage {
            id: "msg_src".into(),
            user: "u",
            target: Target {
                url: "http://dest/".into(),
                topic_name: None,
                endpoint_name: None,
            },
            queue_name: None,
            schedule_id: None,
            body: b"hello".to_vec(),
            caller_ip: Some("127.0.0.1".into()),
            now: 1000,
        },
        &parsed,
        &PublishLimits::default(),
    )
}

#[test]
fn the_body_describes_the_attempt() {
    let mut src = source();
    src.retried = 1;
    let result = AttemptResult::Response(HttpResponse {
        status: 500,
        headers: HeaderMap::new(),
        body: b"oops".to_vec(),
    });
    let body: serde_json::Value =
        serde_json::from_slice(&callback_body(&src, &result, &CallbackKind::Callback))
            .expect("json");
    assert_eq!(body["status"], 500);
    assert_eq!(body["body"], "b29wcw==");
    assert_eq!(body["retried"], 1);
    assert_eq!(body["maxRetries"], 2);
    assert_eq!(body["sourceMessageId"], "msg_src");
    assert_eq!(body["url"], "http://dest/");
    assert_eq!(body["method"], "POST");
    assert_eq!(body["sourceBody"], "aGVsbG8=");
    assert_eq!(body["sourceHeader"]["Content-Type"][0], "text/plain");
    assert_eq!(body["notBefore"], 1000);
    assert_eq!(body["createdAt"], 1000);
    assert_eq!(body["callerIP"], "127.0.0.1");
    assert!(body.get("dlqId").is_none());
}

#[test]
fn a_failure_callback_names_its_dlq_entry() {
    let kind = CallbackKind::Failure {
        dlq_id: "1-0".into(),
    };
    let body: serde_json::Value = serde_json::from_slice(&callback_body(
        &source(),
        &AttemptResult::NoResponse(DeliveryFailure::Connect("refused".into())),
        &kind,
    ))
    .expect("json");
    assert_eq!(body["dlqId"], "1-0");
    assert_eq!(body["status"], 0);
}

#[test]
fn the_callback_message_uses_the_callback_layer() {
    let src = source();
    let spec = src.callback.clone().expect("callback");
    let m = callback_message(
        &src,
        &spec,
        &CallbackKind::Callback,
        b"{}".to_vec(),
        "msg_cb".into(),
        2000,
    );
    assert_eq!(m.url, "http://cb/");
    assert_eq!(m.headers["X-Cb"], ["1"]);
    assert_eq!(m.headers["Content-Type"], ["application/json"]);
    assert_eq!(m.max_retries, 2, "defaults to the source's retries");
    assert_eq!(m.due, 7000, "Upstash-Callback-Delay applies");
    assert_eq!(
        m.origin,
        Origin::Callback {
            source_message_id: "msg_src".into()
        }
    );
}
