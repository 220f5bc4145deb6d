//! `POST /v2/batch` (spec §3.3): many publishes in one request. The whole array is
//! validated before anything is stored — an invalid item fails the request with 400
//! and nothing is accepted — and then all items are committed together.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use depesha_core::batch::parse_batch;
use depesha_core::destination::Destination;
use depesha_engine::PublishRequest;

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::publishing::answer;
use crate::request::{caller_ip, read_body};
use crate::state::AppState;

pub async fn batch(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let bytes = read_body(body, state.config.max_body_bytes).await?;
    let items = parse_batch(&bytes)?;
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
        let destination = Destination::parse(&item.destination, &policy.limits.destinations)
            .map_err(|e| at(e.into()))?;
        let plan = state
            .engine
            .plan(
                PublishRequest {
                    user: &user.id,
                    destination: &destination,
                    headers: item.headers,
                    body: item.body,
                    caller_ip: caller_ip.clone(),
                    queue: item.queue.as_deref(),
                    schedule_id: None,
                },
                &policy,
            )
            .await
            .map_err(|e| at(e.into()))?;
        plans.push(plan);
    }

    let mut answers = Vec::with_capacity(plans.len());
    for accepted in state.engine.accept(plans).await? {
        answers.push(answer(accepted)?);
    }
    Ok(Json(answers).into_response())
}
