//! What is refused from the request head alone, before routing and before any of the
//! body is read: a target or headers too large to be worth parsing further, and a
//! body announced larger than the server accepts (an early 413 — the client need
//! not send the body, and the server reads none of it).

use http_body::Body;
use hyper::Request;

use crate::error::ApiError;

/// Longest request target (path and query) answered with a JSON error. A publish
/// carries its destination URL here, so this is generous; hyper itself refuses
/// targets over 64 KiB with a bare 414.
pub(crate) const MAX_TARGET_BYTES: usize = 16 * 1024;

/// The refusal a request head earns, if any.
pub(crate) fn refusal<B: Body>(
    request: &Request<B>,
    max_header_bytes: usize,
    max_body_bytes: usize,
) -> Option<ApiError> {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if target > MAX_TARGET_BYTES {
        return Some(ApiError::UriTooLong(MAX_TARGET_BYTES));
    }
    // Name, value, ": " and CRLF of each line, as they came on the wire.
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > max_header_bytes {
        return Some(ApiError::HeadersTooLarge(max_header_bytes));
    }
    // hyper reports a `Content-Length` body as its lower bound; a chunked body has
    // none and is refused as it crosses the limit (`request::read_body`).
    if request.body().size_hint().lower() > max_body_bytes as u64 {
        return Some(ApiError::PayloadTooLarge(max_body_bytes));
    }
    None
}
