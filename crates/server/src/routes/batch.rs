//! `POST /v2/batch` (spec §3.3): many publishes in one request. The whole array is
//! validated before anything is stored — an invalid item fails the request with 400
//! and nothing is accepted — and then all items are committed together.

use std::collections::BTreeMap;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use depesha_core::destination::Destination;
use depesha_engine::PublishRequest;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::publishing::answer;
use crate::request::{caller_ip, parse_json, read_body};
use crate::state::AppState;

/// One item. `body` and `queue` may be `null` (the Python SDK always sends the keys).
#[derive(Debug, Deserialize)]
struct Item {
    destination: String,
    #[serde(default)]
    headers: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    queue: Option<String>,
}

pub async fn batch(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let bytes = read_body(body, state.config.max_body_bytes).await?;
    let items: Vec<Item> = parse_json(
        &bytes,
        "batch: expected a JSON array of {destination, headers, body, queue}",
    )?;
    let caller_ip = caller_ip(&parts.extensions);
    let policy = state.policy();

    // Every item is validated before anything is stored.
    let mut plans = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let at = |e: ApiError| match e {
            ApiError::BadRequest(m) => ApiError::BadRequest(format!("batch item {index}: {m}")),
            ApiError::NotFound(m) => ApiError::NotFound(format!("batch item {index}: {m}")),
            other => other,
        };
        let headers = item_headers(item.headers).map_err(at)?;
        let destination = Destination::parse(&item.destination, &policy.limits.destinations)
            .map_err(|e| at(e.into()))?;
        let plan = state
            .engine
            .plan(
                PublishRequest {
                    user: &user.id,
                    destination: &destination,
                    headers,
                    body: item.body.unwrap_or_default().into_bytes(),
                    caller_ip: caller_ip.clone(),
                    queue: item.queue.as_deref(),
                    schedule_id: None,
                },
                &policy,
            )
            .map_err(|e| at(e.into()))?;
        plans.push(plan);
    }

    let mut answers = Vec::with_capacity(plans.len());
    for accepted in state.engine.accept(plans).await? {
        answers.push(answer(accepted)?);
    }
    Ok(Json(answers).into_response())
}

/// Item headers as pairs. Values must be strings (numbers and booleans are accepted
/// as their text, since JSON writers sometimes emit them that way).
fn item_headers(headers: Option<BTreeMap<String, Value>>) -> ApiResult<Vec<(String, String)>> {
    headers
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(name, value)| match value {
            Value::Null => None,
            Value::String(s) => Some(Ok((name, s))),
            Value::Number(n) => Some(Ok((name, n.to_string()))),
            Value::Bool(b) => Some(Ok((name, b.to_string()))),
            _ => Some(Err(ApiError::bad_request(format!(
                "header {name}: expected a string value"
            )))),
        })
        .collect()
}
