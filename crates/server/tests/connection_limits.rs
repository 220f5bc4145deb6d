//! Connection limits (issue 10 item 4): no client, authenticated or not, can keep
//! connections from others by sending slowly, sending half a request, or holding
//! connections open; a body announced too large is refused before it is sent; and
//! errors answered from the HTTP layer carry a JSON body where the stack allows.
//!
//! Timeouts are configured short (300 ms) and the tests wait on events (the server
//! closing a socket, an answer) with a generous bound, never on elapsed time.

mod common;
#[path = "common/raw_client.rs"]
mod raw_client;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use depesha_server::{App, ServerConfig};
use raw_client::RawClient;

const SHORT: Duration = Duration::from_millis(300);
/// A timeout that no test waits out.
const LONG: Duration = Duration::from_secs(600);

fn bearer(n: usize) -> String {
    format!("Authorization: Bearer {}\r\n", dev_user(n).token)
}

/// The head of a publish to `destination` with a body of `length` bytes.
fn publish_head(destination: &str, length: usize) -> String {
    format!(
        "POST /v2/publish/{destination} HTTP/1.1\r\nHost: depesha\r\n{}Content-Length: {length}\r\n\r\n",
        bearer(1)
    )
}

async fn server_with(tweak: impl FnOnce(&mut ServerConfig) + Send + 'static) -> TestServer {
    TestServer::builder().config(tweak).start().await
}

#[tokio::test]
async fn a_half_sent_request_head_is_closed_after_the_header_timeout_while_others_publish() {
    let server = server_with(|c| {
        c.connections.header_timeout = SHORT;
        c.connections.idle_timeout = LONG;
    })
    .await;
    let receiver = Receiver::start().await;
    let mut half = RawClient::connect(server.addr).await;
    assert!(
        half.send(b"POST /v2/publish/http://x HTTP/1.1\r\nHost: dep")
            .await
    );

    server
        .user(1)
        .publish_ok(&receiver.url("/meanwhile"), &[], "hello")
        .await;
    assert!(
        half.closed_by_server().await,
        "a connection that never finishes its request head is closed"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let server = server_with(|c| {
        c.connections.header_timeout = SHORT;
        c.connections.idle_timeout = LONG;
    })
    .await;
    let mut silent = RawClient::connect(server.addr).await;
    assert!(silent.closed_by_server().await);
}

#[tokio::test]
async fn a_request_head_trickled_a_byte_at_a_time_is_cut_off_at_the_header_timeout() {
    let server = server_with(|c| {
        c.connections.header_timeout = SHORT;
        c.connections.idle_timeout = LONG;
    })
    .await;
    let mut trickle = RawClient::connect(server.addr).await;
    // Each byte comes well within the header timeout of the last; the whole head
    // would take 40 s. Only a deadline on the whole head stops it.
    let head = format!(
        "GET /v2/keys HTTP/1.1\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(760)
    );
    let mut cut_off = false;
    for byte in head.as_bytes() {
        if !trickle.send(&[*byte]).await {
            cut_off = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        cut_off || trickle.closed_by_server().await,
        "the server waited for a head trickled over 40 s"
    );
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_and_its_connection_closed() {
    let server = server_with(|c| {
        c.connections.body_timeout = SHORT;
        c.connections.header_timeout = LONG;
        c.connections.idle_timeout = LONG;
    })
    .await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let before = user.created_count().await;

    let mut stalled = RawClient::connect(server.addr).await;
    let head = publish_head(&receiver.url("/stalled"), 100);
    assert!(stalled.send(head.as_bytes()).await);
    assert!(stalled.send(&[b'x'; 10]).await);

    let response = stalled.response().await;
    response.json_error(408);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(stalled.closed_by_server().await);
    assert_eq!(user.created_count().await, before, "nothing was accepted");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = server_with(|c| {
        c.connections.idle_timeout = SHORT;
        c.connections.header_timeout = LONG;
    })
    .await;
    let mut client = RawClient::connect(server.addr).await;
    let request = format!(
        "GET /v2/keys HTTP/1.1\r\nHost: depesha\r\n{}\r\n",
        bearer(1)
    );
    assert!(client.send(request.as_bytes()).await);
    assert_eq!(client.response().await.status, 200);
    assert!(client.closed_by_server().await);
}

#[tokio::test]
async fn an_idle_connection_may_wait_longer_than_the_header_timeout() {
    let server = server_with(|c| {
        c.connections.header_timeout = SHORT;
        c.connections.idle_timeout = LONG;
    })
    .await;
    let mut client = RawClient::connect(server.addr).await;
    let request = format!(
        "GET /v2/keys HTTP/1.1\r\nHost: depesha\r\n{}\r\n",
        bearer(1)
    );
    assert!(client.send(request.as_bytes()).await);
    assert_eq!(client.response().await.status, 200);

    // Idle for three header timeouts: only the idle timeout applies between requests.
    tokio::time::sleep(SHORT * 3).await;
    assert!(client.send(request.as_bytes()).await);
    assert_eq!(client.response().await.status, 200);
}

#[tokio::test]
async fn half_open_connections_at_the_limit_are_shed_and_a_publish_still_succeeds() {
    const LIMIT: usize = 4;
    let server = server_with(|c| {
        c.connections.max_connections = LIMIT;
        c.connections.header_timeout = SHORT;
    })
    .await;
    let receiver = Receiver::start().await;
    let mut half_open = Vec::new();
    for _ in 0..LIMIT {
        let mut client = RawClient::connect(server.addr).await;
        assert!(client.send(b"POST /v2/publish/http://x HTTP/1.1\r\n").await);
        half_open.push(client);
    }

    server
        .user(1)
        .publish_ok(&receiver.url("/after-the-flood"), &[], "hello")
        .await;
    for client in &mut half_open {
        assert!(
            client.closed_by_server().await,
            "a half-open connection is shed"
        );
    }
}

#[tokio::test]
async fn a_connection_beyond_the_limit_waits_and_is_served_when_a_slot_frees() {
    let server = server_with(|c| {
        c.connections.max_connections = 1;
        c.connections.header_timeout = LONG;
    })
    .await;
    let mut first = RawClient::connect(server.addr).await;
    assert!(
        first
            .send(b"GET /v2/keys HTTP/1.1\r\nHost: depesha\r\n")
            .await
    );

    let mut second = RawClient::connect(server.addr).await;
    let request = format!(
        "GET /v2/keys HTTP/1.1\r\nHost: depesha\r\n{}\r\n",
        bearer(1)
    );
    assert!(second.send(request.as_bytes()).await);
    assert!(
        second.response_within(SHORT).await.is_none(),
        "the only slot is taken: the second connection waits"
    );

    let rest = format!("{}Connection: close\r\n\r\n", bearer(1));
    assert!(first.send(rest.as_bytes()).await);
    assert_eq!(first.response().await.status, 200);
    assert!(first.closed_by_server().await);
    assert_eq!(second.response().await.status, 200);
}

#[tokio::test]
async fn a_content_length_over_the_limit_is_413_before_any_body_is_sent() {
    let server = server_with(|c| {
        c.max_body_bytes = 1000;
        c.connections.body_timeout = LONG;
        c.connections.header_timeout = LONG;
    })
    .await;
    let receiver = Receiver::start().await;
    let user = server.user(1);
    let before = user.created_count().await;

    let mut client = RawClient::connect(server.addr).await;
    let head = publish_head(&receiver.url("/too-big"), 1001);
    assert!(client.send(head.as_bytes()).await);

    let response = client.response().await;
    response.json_error(413);
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(user.created_count().await, before, "nothing was accepted");
}

#[tokio::test]
async fn a_chunked_body_is_413_as_soon_as_it_crosses_the_limit() {
    let server = server_with(|c| {
        c.max_body_bytes = 1000;
        c.connections.body_timeout = LONG;
    })
    .await;
    let receiver = Receiver::start().await;
    let mut client = RawClient::connect(server.addr).await;
    let head = format!(
        "POST /v2/publish/{} HTTP/1.1\r\nHost: depesha\r\n{}Transfer-Encoding: chunked\r\n\r\n",
        receiver.url("/chunked"),
        bearer(1)
    );
    assert!(client.send(head.as_bytes()).await);
    // 1,200 bytes in two chunks, and no final chunk: the body never ends.
    for _ in 0..2 {
        let chunk = format!("258\r\n{}\r\n", "c".repeat(600));
        assert!(client.send(chunk.as_bytes()).await);
    }
    client.response().await.json_error(413);
}

#[tokio::test]
async fn a_target_over_the_limit_is_414_with_a_json_error() {
    let server = TestServer::start().await;
    let mut client = RawClient::connect(server.addr).await;
    let path = format!("/v2/publish/http://x/{}", "a".repeat(20 * 1024));
    let request = format!("POST {path} HTTP/1.1\r\nHost: depesha\r\n{}\r\n", bearer(1));
    assert!(client.send(request.as_bytes()).await);
    client.response().await.json_error(414);
}

#[tokio::test]
async fn headers_over_the_limit_are_431_with_a_json_error() {
    let server = server_with(|c| c.connections.max_header_bytes = 8 * 1024).await;
    let mut client = RawClient::connect(server.addr).await;
    let request = format!(
        "GET /v2/keys HTTP/1.1\r\nHost: depesha\r\nX-Big: {}\r\n\r\n",
        "b".repeat(10 * 1024)
    );
    assert!(client.send(request.as_bytes()).await);
    client.response().await.json_error(431);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_404_and_405_with_json_errors() {
    let server = TestServer::start().await;
    let mut client = RawClient::connect(server.addr).await;
    assert!(
        client
            .send(b"GET /nowhere HTTP/1.1\r\nHost: depesha\r\n\r\n")
            .await
    );
    client.response().await.json_error(404);
    assert!(
        client
            .send(b"PUT /v2/keys HTTP/1.1\r\nHost: depesha\r\n\r\n")
            .await
    );
    client.response().await.json_error(405);
}

/// hyper answers these itself, before any of our code sees the request, and gives
/// no way to set their body (docs/security-connections.md).
#[tokio::test]
async fn the_http_parser_answers_what_it_cannot_parse_bare_and_closes() {
    let server = server_with(|c| c.connections.max_header_bytes = 8 * 1024).await;

    let mut garbage = RawClient::connect(server.addr).await;
    assert!(garbage.send(b"NOT AN HTTP REQUEST\r\n\r\n").await);
    assert_eq!(garbage.response().await.status, 400);
    assert!(garbage.closed_by_server().await);

    // Beyond twice the header limit the parser's buffer is full before the head is.
    let mut huge = RawClient::connect(server.addr).await;
    let request = format!(
        "GET /v2/keys HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "b".repeat(40 * 1024)
    );
    huge.send(request.as_bytes()).await;
    assert_eq!(huge.response().await.status, 431);
    assert!(huge.closed_by_server().await);
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_the_request_under_way_finish() {
    let dir = tempfile::tempdir().expect("temporary data directory");
    let store = depesha_store::embedded::EmbeddedStore::open(dir.path()).expect("store");
    let config = ServerConfig::new(dev_user_configs());
    let app = App::start(
        config,
        Arc::new(store),
        Arc::new(depesha_engine::SystemClock),
    )
    .await
    .expect("server starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.serve_until(listener, async {
        let _ = stopped.await;
    }));
    let receiver = Receiver::start().await;

    // A publish under way: its head and half its body are in.
    let mut under_way = RawClient::connect(addr).await;
    assert!(
        under_way
            .send(publish_head(&receiver.url("/late"), 10).as_bytes())
            .await
    );
    assert!(under_way.send(b"hello").await);
    // An idle kept-alive connection.
    let mut idle = RawClient::connect(addr).await;
    let request = format!(
        "GET /v2/keys HTTP/1.1\r\nHost: depesha\r\n{}\r\n",
        bearer(1)
    );
    assert!(idle.send(request.as_bytes()).await);
    assert_eq!(idle.response().await.status, 200);

    let _ = stop.send(());
    eventually("new connections being refused", || async {
        tokio::net::TcpStream::connect(addr).await.err().map(|_| ())
    })
    .await;
    assert!(idle.closed_by_server().await, "idle connections are closed");

    assert!(under_way.send(b"world").await);
    assert_eq!(
        under_way.response().await.status,
        200,
        "the publish is accepted"
    );
    let ended = tokio::time::timeout(WAIT, serving).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "serving ends once the last request is answered: {ended:?}"
    );
}

#[tokio::test]
async fn a_client_that_never_reads_its_answers_loses_its_connection() {
    let server = server_with(|c| {
        c.connections.max_connections = 1;
        c.connections.idle_timeout = SHORT;
        c.connections.header_timeout = LONG;
    })
    .await;
    // Pipelined requests whose answers are never read: once the socket buffers are
    // full, the server's writes wait on this client.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let mut never_reads = socket.connect(server.addr).await.expect("connect");
    let flood = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let requests = b"GET /nowhere HTTP/1.1\r\nHost: depesha\r\n\r\n".repeat(20_000);
        let _ = never_reads.write_all(&requests).await;
        never_reads
    });

    // The only slot is the flooder's until the server gives up on it.
    let mut next = RawClient::connect(server.addr).await;
    let request = format!(
        "GET /v2/keys HTTP/1.1\r\nHost: depesha\r\n{}\r\n",
        bearer(1)
    );
    assert!(next.send(request.as_bytes()).await);
    assert_eq!(next.response().await.status, 200);
    flood.abort();
}
