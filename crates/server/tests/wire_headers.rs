//! What a destination receives, byte for byte: QStash sends header names title-cased
//! (`Upstash-Signature`, `Upstash-Message-Id`), and some platforms hand a function a
//! case-sensitive header map, so a delivery must spell them the same way on the wire.
//! An HTTP server library would normalise the names it parses; a bare TCP listener
//! shows them as sent.

mod common;

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Reads one request's head (up to the blank line) from the first connection, answers
/// 200, and returns the head.
async fn receive_one_request_head(listener: TcpListener) -> String {
    let (mut socket, _) = listener.accept().await.expect("a delivery connects");
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.expect("read the request");
        assert!(n > 0, "connection closed before the request head ended");
        head.extend_from_slice(&buf[..n]);
        assert!(head.len() < 64 * 1024, "request head too long");
    }
    socket
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await
        .expect("answer");
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test]
async fn deliveries_send_title_case_header_names() {
    let server = TestServer::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/raw", listener.local_addr().expect("address"));
    let received = tokio::spawn(receive_one_request_head(listener));

    server
        .user(1)
        .publish_ok(
            &url,
            &[
                ("Content-Type", "application/json"),
                ("upstash-forward-x-order-id", "ord_1"),
            ],
            "{}",
        )
        .await;
    let head = tokio::time::timeout(common::WAIT, received)
        .await
        .expect("a delivery arrives")
        .expect("the receiver task ends");

    let names: Vec<&str> = head
        .split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':').map(|(name, _)| name))
        .collect();
    for expected in [
        "Upstash-Signature",
        "Upstash-Message-Id",
        "Upstash-Retried",
        "User-Agent",
        "Content-Type",
        "X-Order-Id",
    ] {
        assert!(names.contains(&expected), "no {expected} in {names:?}");
    }
    for name in &names {
        let title_case = name
            .split('-')
            .all(|word| word.chars().next().is_some_and(|c| !c.is_ascii_lowercase()));
        assert!(title_case, "{name} is not title-case in {names:?}");
    }
}
