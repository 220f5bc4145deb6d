//! Serving client connections with limits (`ServerConfig::connections`): our own
//! accept loop over hyper's HTTP/1 connection, because `axum::serve` has no knobs
//! for how long a client may take or how many connections it may hold.
//!
//! - at most `max_connections` connections are served; the accept loop waits for a
//!   free slot, and new connections wait in the kernel's listen backlog meanwhile;
//! - a request head must arrive within `header_timeout`, a body within
//!   `body_timeout` (else 408), and an idle kept-alive connection is closed after
//!   `idle_timeout`, as is one whose client takes none of an answer for that long;
//! - heads with too long a target, too large headers, or a `Content-Length` over
//!   `max_body_bytes` are answered with a JSON error before routing ([`gate`]).

mod bodies;
mod deadline_io;
mod gate;
mod phase;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::config::ConnectionLimits;

pub(crate) use bodies::BodyTimedOut;
use bodies::{DeadlineBody, WatchedBody};
use deadline_io::DeadlineIo;
use phase::ConnectionPhase;

/// What every connection's requests go through.
struct Shared {
    router: Router,
    limits: ConnectionLimits,
    max_body_bytes: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting
/// (the listener is closed), lets requests under way finish, closes idle
/// connections, and returns once every connection has ended.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    max_body_bytes: usize,
    shutdown: impl Future<Output = ()>,
) {
    let max_connections = limits
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let slots = Arc::new(Semaphore::new(max_connections));
    let (stop, stopping) = watch::channel(false);
    let shared = Arc::new(Shared {
        router,
        limits,
        max_body_bytes,
    });
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A slot first, then accept: beyond the limit a new connection waits in the
        // backlog and is served as soon as one ends, rather than being refused while
        // slow clients are being timed out.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            shared.clone(),
            stopping.clone(),
            slot,
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it ends: all slots back means all ended.
    let _ = slots.acquire_many(max_connections as u32).await;
}

/// A failed accept. One that concerns a single connection (reset before it was
/// accepted) is skipped; others (out of file handles) are waited out briefly so the
/// loop does not spin while connections end and free their handles.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!("could not accept a connection ({error}); retrying shortly");
    tokio::time::sleep(ACCEPT_RETRY).await;
}

/// Pause after an accept that failed for want of resources.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stopping: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let phase = ConnectionPhase::new(&shared.limits);
    let mut builder = http1::Builder::new();
    builder
        // Our own deadlines apply (`ConnectionPhase`); hyper's would also cut idle
        // connections at the header timeout.
        .header_read_timeout(None)
        // Room for a head somewhat over our limit, so that one is answered with a
        // JSON 431 by the gate; beyond this, hyper answers a bare 431.
        .max_buf_size(shared.limits.max_header_bytes.saturating_mul(2).max(8192));
    let io = TokioIo::new(DeadlineIo::new(
        stream,
        phase.clone(),
        shared.limits.idle_timeout,
    ));
    let service = hyper::service::service_fn(move |request| {
        let shared = shared.clone();
        let phase = phase.clone();
        async move { Ok::<_, Infallible>(answer(request, &shared, phase, peer).await) }
    });
    let mut connection = std::pin::pin!(builder.serve_connection(io, service));
    let ended = tokio::select! {
        ended = connection.as_mut() => Some(ended),
        _ = stopping.wait_for(|stop| *stop) => None,
    };
    let ended = match ended {
        Some(ended) => ended,
        None => {
            // Finish the request under way, if any, then close.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = ended {
        // Clients hanging up or timing out are routine, not server errors.
        tracing::debug!(%peer, "connection ended: {e}");
    }
}

/// Answers one request: refused from its head alone, or routed with its body under
/// the body deadline.
async fn answer(
    request: hyper::Request<Incoming>,
    shared: &Shared,
    phase: Arc<ConnectionPhase>,
    peer: SocketAddr,
) -> Response<WatchedBody> {
    phase.request_started();
    let limits = &shared.limits;
    let response = match gate::refusal(&request, limits.max_header_bytes, shared.max_body_bytes) {
        Some(refusal) => refusal.into_response(),
        None => {
            let mut request = request
                .map(|body| axum::body::Body::new(DeadlineBody::new(body, limits.body_timeout)));
            request.extensions_mut().insert(ConnectInfo(peer));
            match shared.router.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    };
    response.map(|body| WatchedBody::new(body, phase))
}
