//! Reading the parts of a request every handler needs: the body (within the size
//! limit), the headers as text, the caller's IP, and JSON.

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::connections::BodyTimedOut;
use crate::error::{ApiError, ApiResult};

/// Reads the whole body, refusing more than `limit` bytes with 413, and a body that
/// stalls past the connection's body deadline with 408.
pub async fn read_body(body: Body, limit: usize) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner.is::<http_body_util::LengthLimitError>() {
            ApiError::PayloadTooLarge(limit)
        } else if let Some(BodyTimedOut(after)) = find_cause::<BodyTimedOut>(inner.as_ref()) {
            ApiError::BodyTimeout(after.as_millis())
        } else {
            ApiError::bad_request(format!("could not read the request body: {inner}"))
        }
    })
}

/// The first error of type `T` in `error`'s chain: body errors arrive wrapped once
/// or twice by the layers they pass through.
fn find_cause<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// Request headers as `(name, value)` text pairs, in order. A value that is not
/// UTF-8 is refused: it could not be stored and shown faithfully.
pub fn header_pairs(headers: &HeaderMap) -> ApiResult<Vec<(String, String)>> {
    headers
        .iter()
        .map(|(name, value)| {
            let text = std::str::from_utf8(value.as_bytes())
                .map_err(|_| ApiError::bad_request(format!("header {name} is not valid UTF-8")))?;
            Ok((name.as_str().to_string(), text.to_string()))
        })
        .collect()
}

/// The peer address of the connection, as the publisher's IP (spec §5 `Upstash-Caller-Ip`).
pub fn caller_ip(extensions: &axum::http::Extensions) -> Option<String> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
}

/// Parses a JSON body, with an error that says where it went wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

/// A JSON body that may be absent: `None` when the body is empty or whitespace.
pub fn optional_json(bytes: &[u8], what: &str) -> ApiResult<Option<serde_json::Value>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse_json(bytes, what).map(Some)
}

/// The `{id}` segment of a path, with a JSON error instead of axum's plain-text one
/// when it cannot be decoded (e.g. `%FF`).
pub struct IdPath(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| IdPath(id))
            .map_err(|e| ApiError::bad_request(format!("invalid id in the path: {e}")))
    }
}
