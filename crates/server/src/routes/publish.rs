//! `POST /v2/publish/{destination}` (spec §3.1).
//!
//! The destination is everything after `/v2/publish/` in the *raw* path: SDKs put
//! URLs there unencoded (`/v2/publish/https://example.com/a?x=1`), so the path must not
//! be normalised or decoded, and the request's query string is the destination's own
//! query string — minus `qstash_token` and `upstash-*` config keys (spec §2.4, §4.3).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use depesha_core::publish::classify;

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::publishing::{receipts, Destination, Publisher};
use crate::query::split_destination_query;
use crate::request::{caller_ip, header_pairs, read_body};
use crate::state::AppState;

pub const PREFIX: &str = "/v2/publish/";

pub async fn publish(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let raw = parts.uri.path().strip_prefix(PREFIX).unwrap_or("");
    let (own_query, query_config) = split_destination_query(parts.uri.query().unwrap_or(""));
    let destination = match Destination::parse(raw)? {
        Destination::Url(url) if !own_query.is_empty() => {
            Destination::parse(&format!("{url}?{own_query}"))?
        }
        other => other,
    };

    let mut headers = header_pairs(&parts.headers)?;
    headers.extend(query_config);
    let now = state.engine.clock().now();
    let parsed = classify(&headers, &state.config.limits, now)?;
    let body = read_body(body, state.config.max_body_bytes).await?;

    let publisher = Publisher {
        state: &state,
        user: &user.id,
        caller_ip: caller_ip(&parts.extensions),
    };
    let planned = publisher.plan(&destination, &parsed, body.to_vec())?;
    let outcomes = state.engine.commit(vec![planned.unit]).await?;
    let to_group = planned.to_group;
    let receipts = receipts(planned.receipts, outcomes.first())?;
    let status = if receipts.iter().any(|r| r.deduplicated) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    if to_group {
        return Ok((status, Json(receipts)).into_response());
    }
    let receipt = receipts
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Internal("a publish produced no message".into()))?;
    Ok((status, Json(receipt)).into_response())
}
