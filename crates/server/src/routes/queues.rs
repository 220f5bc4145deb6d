//! Queues (spec §3.7): upsert, list, get (with the real `lag`), delete, pause, resume.
//! Enqueueing is in `publish.rs`.

use axum::extract::{Request, State};
use axum::Json;
use depesha_core::queue::{Queue, QueueSettings};
use depesha_engine::Missing;
use depesha_store::QueueStore;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::ApiResult;
use crate::request::{parse_json, read_body, IdPath};
use crate::state::AppState;
use crate::views::QueueView;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Upsert {
    queue_name: String,
    #[serde(default)]
    parallelism: Option<i64>,
    #[serde(default)]
    paused: Option<bool>,
}

async fn view(state: &AppState, q: Queue) -> ApiResult<QueueView> {
    let lag = state.engine.reads().queue_lag(&q.user, &q.name).await?;
    Ok(QueueView::of(q, lag))
}

/// `POST /v2/queues` `{"queueName", "parallelism", "paused"}`: creates or updates.
pub async fn upsert(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Json<Value>> {
    let body = read_body(request.into_body(), state.config.max_body_bytes).await?;
    let upsert: Upsert = parse_json(
        &body,
        "queue: expected {\"queueName\", \"parallelism\", \"paused\"}",
    )?;
    let settings = QueueSettings::parse(&upsert.queue_name, upsert.parallelism, upsert.paused)?;
    state.engine.upsert_queue(&user.id, &settings).await?;
    Ok(Json(json!({})))
}

pub async fn list(State(state): State<AppState>, user: User) -> ApiResult<Json<Vec<QueueView>>> {
    let queues = state.engine.reads().queues(&user.id).await?;
    let mut views = Vec::with_capacity(queues.len());
    for q in queues {
        views.push(view(&state, q).await?);
    }
    Ok(Json(views))
}

pub async fn get(
    State(state): State<AppState>,
    user: User,
    IdPath(name): IdPath,
) -> ApiResult<Json<QueueView>> {
    match state.engine.reads().queue(&user.id, &name).await? {
        Some(queue) => Ok(Json(view(&state, queue).await?)),
        None => Err(Missing::Queue(name).into()),
    }
}

/// Pausing and resuming are idempotent. A paused queue keeps accepting messages; its
/// deliveries wait (spec §3.7).
pub async fn pause(
    State(state): State<AppState>,
    user: User,
    IdPath(name): IdPath,
) -> ApiResult<Json<Value>> {
    state.engine.set_queue_paused(&user.id, &name, true).await?;
    Ok(Json(json!({})))
}

pub async fn resume(
    State(state): State<AppState>,
    user: User,
    IdPath(name): IdPath,
) -> ApiResult<Json<Value>> {
    state
        .engine
        .set_queue_paused(&user.id, &name, false)
        .await?;
    Ok(Json(json!({})))
}

/// Deletes the queue and cancels the messages still in it.
pub async fn delete(
    State(state): State<AppState>,
    user: User,
    IdPath(name): IdPath,
) -> ApiResult<Json<Value>> {
    state.engine.delete_queue(&user.id, &name).await?;
    Ok(Json(json!({})))
}
