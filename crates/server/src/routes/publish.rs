//! `POST /v2/publish/{destination}` (spec §3.1) and `POST /v2/enqueue/{queue}/{destination}`
//! (spec §3.2).
//!
//! The destination is everything after the fixed prefix in the *raw* path: SDKs put
//! URLs there unencoded (`/v2/publish/https://example.com/a?x=1`), so the path must not
//! be normalised or decoded, and the request's query string is the destination's own
//! query string — minus `qstash_token` and `upstash-*` config keys (spec §2.4, §4.3).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use depesha_core::destination::Destination;
use depesha_engine::PublishRequest;

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::publishing::answer;
use crate::query::split_destination_query;
use crate::request::{caller_ip, header_pairs, read_body};
use crate::state::AppState;

const PUBLISH: &str = "/v2/publish/";
const ENQUEUE: &str = "/v2/enqueue/";

pub async fn publish(state: State<AppState>, user: User, request: Request) -> ApiResult<Response> {
    let raw = request
        .uri()
        .path()
        .strip_prefix(PUBLISH)
        .unwrap_or("")
        .to_string();
    accept(state, user, request, None, &raw).await
}

pub async fn enqueue(state: State<AppState>, user: User, request: Request) -> ApiResult<Response> {
    let rest = request.uri().path().strip_prefix(ENQUEUE).unwrap_or("");
    let (queue, raw) = rest.split_once('/').unwrap_or((rest, ""));
    let queue = crate::query::decode(queue);
    let raw = raw.to_string();
    accept(state, user, request, Some(queue), &raw).await
}

async fn accept(
    State(state): State<AppState>,
    user: User,
    request: Request,
    queue: Option<String>,
    raw_destination: &str,
) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let (own_query, query_config) = split_destination_query(parts.uri.query().unwrap_or(""));
    let destinations = &state.config.limits.destinations;
    let destination = match Destination::parse(raw_destination, destinations)? {
        Destination::Url(url) if !own_query.is_empty() => {
            Destination::parse(&format!("{url}?{own_query}"), destinations)?
        }
        other => other,
    };
    let mut headers = header_pairs(&parts.headers)?;
    headers.extend(query_config);
    let body = read_body(body, state.config.max_body_bytes).await?;

    let plan = state
        .engine
        .plan(
            PublishRequest {
                user: &user.id,
                destination: &destination,
                headers,
                body: body.to_vec(),
                caller_ip: caller_ip(&parts.extensions),
                queue: queue.as_deref(),
                schedule_id: None,
            },
            &state.policy(),
        )
        .await?;
    let accepted = state
        .engine
        .accept(vec![plan])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Internal("a publish produced no outcome".into()))?;
    let status = if accepted.receipts.iter().any(|r| r.deduplicated) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(answer(accepted)?)).into_response())
}
