//! Queues (spec §3.7): upsert, list, get (with the real `lag`), delete, pause, resume.
//! Enqueueing is in `publish.rs`.

use crate::routes::messages::cancel_unit;
use axum::extract::{Request, State};
use axum::Json;
use depesha_core::ids;
use depesha_core::queue::Queue;
use depesha_store::{Unit, Write};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::request::{parse_json, read_body, IdPath};
use crate::state::AppState;

/// The Queue object: all six fields are required by the Python SDK.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueView {
    name: String,
    created_at: u64,
    updated_at: u64,
    parallelism: u32,
    lag: u64,
    paused: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Upsert {
    queue_name: String,
    #[serde(default)]
    parallelism: Option<i64>,
    #[serde(default)]
    paused: Option<bool>,
}

/// Largest parallelism a queue may have.
const MAX_PARALLELISM: i64 = 1000;

fn view(state: &AppState, q: Queue) -> ApiResult<QueueView> {
    let lag = state.engine.store().queue_lag(&q.user, &q.name)?;
    Ok(QueueView {
        name: q.name,
        created_at: q.created_at,
        updated_at: q.updated_at,
        parallelism: q.parallelism,
        lag,
        paused: q.paused,
    })
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("queue \"{name}\" not found"))
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
    if !ids::is_valid_name(&upsert.queue_name) {
        return Err(ApiError::bad_request(format!(
            "invalid queueName \"{}\": use letters, digits, -, _ and .",
            upsert.queue_name
        )));
    }
    let parallelism = upsert.parallelism.unwrap_or(1);
    if !(1..=MAX_PARALLELISM).contains(&parallelism) {
        return Err(ApiError::bad_request(format!(
            "invalid parallelism {parallelism}: expected 1 to {MAX_PARALLELISM}"
        )));
    }
    let now = state.engine.clock().now();
    let mut queue = state
        .engine
        .store()
        .queue(&user.id, &upsert.queue_name)?
        .unwrap_or_else(|| Queue::first_use(&user.id, &upsert.queue_name, now));
    queue.parallelism = u32::try_from(parallelism).unwrap_or(1);
    queue.paused = upsert.paused.unwrap_or(queue.paused);
    queue.updated_at = now;
    save_and_fill(&state, queue).await?;
    Ok(Json(json!({})))
}

pub async fn list(State(state): State<AppState>, user: User) -> ApiResult<Json<Vec<QueueView>>> {
    let queues = state.engine.store().queues(&user.id)?;
    let views = queues
        .into_iter()
        .map(|q| view(&state, q))
        .collect::<ApiResult<_>>()?;
    Ok(Json(views))
}

pub async fn get(
    State(state): State<AppState>,
    user: User,
    IdPath(name): IdPath,
) -> ApiResult<Json<QueueView>> {
    let queue = state
        .engine
        .store()
        .queue(&user.id, &name)?
        .ok_or_else(|| not_found(&name))?;
    Ok(Json(view(&state, queue)?))
}

pub async fn pause(state: State<AppState>, user: User, name: IdPath) -> ApiResult<Json<Value>> {
    set_paused(state, user, name, true).await
}

pub async fn resume(state: State<AppState>, user: User, name: IdPath) -> ApiResult<Json<Value>> {
    set_paused(state, user, name, false).await
}

/// Pausing and resuming are idempotent. A paused queue keeps accepting messages; its
/// deliveries wait (spec §3.7).
async fn set_paused(
    State(state): State<AppState>,
    user: User,
    IdPath(name): IdPath,
    paused: bool,
) -> ApiResult<Json<Value>> {
    let mut queue = state
        .engine
        .store()
        .queue(&user.id, &name)?
        .ok_or_else(|| not_found(&name))?;
    queue.paused = paused;
    queue.updated_at = state.engine.clock().now();
    save_and_fill(&state, queue).await?;
    Ok(Json(json!({})))
}

/// Stores the queue's settings and lets it through as far as they now allow.
async fn save_and_fill(state: &AppState, queue: Queue) -> ApiResult<()> {
    let fill = Write::FillQueue {
        user: queue.user.clone(),
        queue: queue.name.clone(),
        now: queue.updated_at,
    };
    state
        .engine
        .commit(vec![Unit::new(vec![Write::PutQueue(queue), fill])])
        .await?;
    Ok(())
}

/// Deletes the queue and cancels the messages still in it.
pub async fn delete(
    State(state): State<AppState>,
    user: User,
    IdPath(name): IdPath,
) -> ApiResult<Json<Value>> {
    let store = state.engine.store();
    if store.queue(&user.id, &name)?.is_none() {
        return Err(not_found(&name));
    }
    let now = state.engine.clock().now();
    let mut units = Vec::new();
    for (position, holder) in store.queue_items(&user.id, &name, usize::MAX)? {
        if let Some(message) = store.message(&user.id, &holder)? {
            if message.state.is_unfinished() {
                units.push(cancel_unit(&message, now));
            }
        }
        // Also when the holder finished meanwhile (or is gone): the item goes.
        units.push(Unit::new(vec![Write::DeleteQueueItem {
            user: user.id.clone(),
            queue: name.clone(),
            position,
        }]));
    }
    units.push(Unit::new(vec![Write::DeleteQueue {
        user: user.id.clone(),
        name: name.clone(),
    }]));
    state.engine.commit(units).await?;
    Ok(Json(json!({})))
}
