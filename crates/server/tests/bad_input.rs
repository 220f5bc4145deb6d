//! Spec §2.2 (errors are JSON `{"error": "..."}` with a 4xx status), §4.2 (every
//! config header value is validated), §3.3 (batch validation) and §2.4 (empty ids):
//! a bad request is refused before anything is stored, and nothing the client sends —
//! however large or malformed — brings the server down.

mod common;

use std::time::Duration;

use common::{settle, Receiver, TestServer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Publishes to the receiver with `headers` and checks the answer is `status` with a
/// JSON error, that no message was created and that nothing was delivered.
async fn refused_publish(headers: &[(&str, &str)], status: u16) -> String {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let before = user.created_count().await;

    let message = user
        .publish(&receiver.url("/never"), headers, "body")
        .await
        .error(status);

    assert_eq!(user.created_count().await, before, "a message was stored");
    settle().await;
    assert!(receiver.requests().is_empty(), "something was delivered");
    message
}

#[tokio::test]
async fn a_delay_that_is_not_a_duration_is_400() {
    refused_publish(&[("Upstash-Delay", "10x")], 400).await;
    refused_publish(&[("Upstash-Delay", "-5s")], 400).await;
}

#[tokio::test]
async fn a_delay_beyond_the_servers_maximum_is_400() {
    refused_publish(&[("Upstash-Delay", "99999d")], 400).await;
}

#[tokio::test]
async fn a_negative_retry_count_is_400() {
    refused_publish(&[("Upstash-Retries", "-1")], 400).await;
}

#[tokio::test]
async fn a_retry_count_that_is_not_a_number_is_400() {
    refused_publish(&[("Upstash-Retries", "abc")], 400).await;
}

#[tokio::test]
async fn a_retry_count_above_the_servers_maximum_is_400() {
    let max = depesha_core::publish::PublishLimits::default().max_retries;
    refused_publish(&[("Upstash-Retries", &(max + 1).to_string())], 400).await;
}

#[tokio::test]
async fn an_unknown_method_is_400() {
    refused_publish(&[("Upstash-Method", "FETCH")], 400).await;
}

#[tokio::test]
async fn an_incomplete_retry_delay_expression_is_400() {
    refused_publish(&[("Upstash-Retry-Delay", "1000 +")], 400).await;
    refused_publish(&[("Upstash-Retry-Delay", "pow(2, retried")], 400).await;
}

#[tokio::test]
async fn a_timeout_that_is_not_a_duration_is_400() {
    refused_publish(&[("Upstash-Timeout", "forever")], 400).await;
}

#[tokio::test]
async fn a_not_before_that_is_not_a_unix_time_is_400() {
    refused_publish(&[("Upstash-Not-Before", "soon")], 400).await;
}

#[tokio::test]
async fn a_callback_that_is_not_an_http_url_is_400() {
    refused_publish(&[("Upstash-Callback", "ftp://x")], 400).await;
    refused_publish(&[("Upstash-Failure-Callback", "not a url")], 400).await;
}

#[tokio::test]
async fn a_flow_control_value_with_a_bad_number_is_400() {
    refused_publish(
        &[
            ("Upstash-Flow-Control-Key", "k"),
            ("Upstash-Flow-Control-Value", "parallelism=x"),
        ],
        400,
    )
    .await;
}

#[tokio::test]
async fn content_based_deduplication_must_be_true_or_false() {
    refused_publish(&[("Upstash-Content-Based-Deduplication", "maybe")], 400).await;
}

#[tokio::test]
async fn redact_fields_must_name_body_or_headers() {
    refused_publish(&[("Upstash-Redact-Fields", "everything")], 400).await;
}

#[tokio::test]
async fn a_forward_prefix_with_no_header_name_is_400() {
    refused_publish(&[("Upstash-Forward-", "x")], 400).await;
}

#[tokio::test]
async fn a_destination_that_is_not_a_url_is_400() {
    let server = TestServer::start().await;
    let user = server.user(1);
    let before = user.created_count().await;

    user.publish("not a url", &[], "x").await.error(400);
    user.publish("ftp://example.com/x", &[], "x")
        .await
        .error(400);
    user.publish("http://", &[], "x").await.error(400);
    user.publish("http://host:notaport/x", &[], "x")
        .await
        .error(400);

    assert_eq!(user.created_count().await, before);
}

#[tokio::test]
async fn a_publish_without_a_destination_is_refused() {
    let server = TestServer::start().await;
    let reply = server.user(1).post("/v2/publish/", &[], "x").await;
    assert!(
        reply.status == 400 || reply.status == 404,
        "{} {}",
        reply.status,
        reply.text()
    );
    reply.error(reply.status);
}

/// Sends a raw batch body and checks it is refused with 400 and stores nothing.
async fn refused_batch(body: &str) {
    let server = TestServer::start().await;
    let user = server.user(1);
    let before = user.created_count().await;

    user.post("/v2/batch", &[("Content-Type", "application/json")], body)
        .await
        .error(400);

    assert_eq!(user.created_count().await, before);
}

#[tokio::test]
async fn a_batch_body_that_is_not_json_is_400() {
    refused_batch("[{\"destination\": ").await;
    refused_batch("").await;
}

#[tokio::test]
async fn a_batch_body_that_is_not_an_array_is_400() {
    refused_batch(r#"{"destination": "http://127.0.0.1:1/x"}"#).await;
}

#[tokio::test]
async fn a_batch_item_without_a_destination_is_400() {
    refused_batch(r#"[{"body": "x"}]"#).await;
}

#[tokio::test]
async fn a_batch_item_with_non_string_headers_is_400() {
    refused_batch(r#"[{"destination": "http://127.0.0.1:1/x", "headers": {"X": {"a": 1}}}]"#).await;
}

#[tokio::test]
async fn a_body_above_the_limit_is_413_with_a_json_error() {
    let server = TestServer::builder()
        .config(|c| c.max_body_bytes = 1024)
        .start()
        .await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let before = user.created_count().await;
    let big = "x".repeat(4096);

    user.publish(&receiver.url("/big"), &[], &big)
        .await
        .error(413);
    let items = json!([{ "destination": receiver.url("/big"), "body": big }]);
    user.batch(&items).await.error(413);

    assert_eq!(user.created_count().await, before);
    // Just under the limit is fine.
    user.publish_ok(&receiver.url("/small"), &[], &"y".repeat(1000))
        .await;
}

#[tokio::test]
async fn an_unknown_route_is_404_with_a_json_error() {
    let server = TestServer::start().await;
    let user = server.user(1);
    user.get("/v2/nothing-here").await.error(404);
    user.get("/").await.error(404);
    server.anonymous().get("/v3/publish").await.error(404);
}

#[tokio::test]
async fn a_wrong_method_is_405_with_a_json_error() {
    let server = TestServer::start().await;
    let user = server.user(1);
    user.send(user.request(reqwest::Method::PUT, "/v2/keys"))
        .await
        .error(405);
    user.get("/v2/batch").await.error(405);
    user.send(user.request(reqwest::Method::PATCH, "/v2/dlq"))
        .await
        .error(405);
}

#[tokio::test]
async fn get_message_with_an_empty_id_is_404_not_500() {
    let server = TestServer::start().await;
    let user = server.user(1);
    user.get("/v2/messages/").await.error(404);
    user.get("/v2/dlq/").await.error(404);
}

#[tokio::test]
async fn an_invalid_cursor_or_count_is_400() {
    let server = TestServer::start().await;
    let user = server.user(1);
    user.get("/v2/events?cursor=garbage").await.error(400);
    user.get("/v2/dlq?cursor=garbage").await.error(400);
    user.get("/v2/events?count=many").await.error(400);
    user.get("/v2/dlq?order=sideways").await.error(400);
}

#[tokio::test]
async fn a_bulk_body_that_is_not_json_is_400_and_cancels_nothing() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let id = user
        .publish_ok(&receiver.url("/keep"), &[("Upstash-Delay", "1h")], "x")
        .await;

    let reply = user
        .send(
            user.request(reqwest::Method::DELETE, "/v2/messages")
                .body("{not json"),
        )
        .await;

    reply.error(400);
    user.message(&id).await.ok();
}

/// Writes `raw` bytes on a fresh connection and reads whatever comes back (the server
/// may answer or close; it must do so without hanging).
async fn raw_exchange(server: &TestServer, raw: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let _ = stream.write_all(raw).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    answer
}

async fn still_answers(server: &TestServer) {
    let keys = server.user(1).get("/v2/keys").await.ok();
    assert_eq!(keys["current"], common::dev_user(1).current);
}

#[tokio::test]
async fn a_huge_header_never_brings_the_server_down() {
    let server = TestServer::start().await;
    let huge = "a".repeat(1 << 20);
    let request = format!(
        "POST /v2/publish/http://127.0.0.1:1/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nUpstash-Forward-X-Big: {huge}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        common::dev_user(1).token
    );

    let answer = raw_exchange(&server, request.as_bytes()).await;

    let head = String::from_utf8_lossy(&answer[..answer.len().min(20)]).to_string();
    assert!(
        answer.is_empty() || head.starts_with("HTTP/1.1 4"),
        "unexpected answer {head:?}"
    );
    still_answers(&server).await;
}

#[tokio::test]
async fn too_many_headers_never_bring_the_server_down() {
    let server = TestServer::start().await;
    let mut request = String::from("GET /v2/keys HTTP/1.1\r\nHost: x\r\n");
    for i in 0..500 {
        request.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");

    raw_exchange(&server, request.as_bytes()).await;

    still_answers(&server).await;
}

#[tokio::test]
async fn garbage_instead_of_http_never_brings_the_server_down() {
    let server = TestServer::start().await;

    raw_exchange(&server, b"\x00\xff\xfe GARBAGE \r\n\r\n\r\n").await;
    raw_exchange(
        &server,
        b"POST /v2/publish/http://x HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
    )
    .await;
    raw_exchange(&server, b"GET /v2/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n").await;

    still_answers(&server).await;
}

#[tokio::test]
async fn a_header_value_that_is_not_utf8_is_refused_with_400() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let before = user.created_count().await;

    let request = format!(
        "POST /v2/publish/{} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nUpstash-Forward-X-Bin: \u{0}",
        receiver.url("/bin"),
        common::dev_user(1).token
    );
    let mut raw = request.into_bytes();
    raw.pop(); // drop the placeholder NUL: the value is the bytes below
    raw.extend_from_slice(b"\xff\xfe\xfd\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx");
    let answer = raw_exchange(&server, &raw).await;

    let text = String::from_utf8_lossy(&answer).to_string();
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("\"error\""), "{text}");
    assert_eq!(user.created_count().await, before);
    still_answers(&server).await;
}

#[tokio::test]
async fn a_long_but_legal_forwarded_header_is_accepted_and_delivered_whole() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let value = "v".repeat(16 * 1024);

    server
        .user(1)
        .publish_ok(
            &receiver.url("/long"),
            &[("Upstash-Forward-X-Long", &value)],
            "x",
        )
        .await;

    let got = receiver.wait_for("/long", 1).await.remove(0);
    assert_eq!(got.header("x-long").map(str::len), Some(value.len()));
}
