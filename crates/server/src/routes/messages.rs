//! `GET /v2/messages/{id}`, `DELETE /v2/messages/{id}` and bulk cancel
//! `DELETE /v2/messages` (spec §3.4).

use axum::extract::{Request, State};
use axum::Json;
use depesha_core::filter::{self, Scope};
use depesha_core::log::{LogEntry, LogState};
use depesha_core::message::Message;
use depesha_store::{Applied, Guard, Taken, Unit, UnitOutcome, Write};
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::request::{read_body, IdPath};
use crate::state::AppState;
use crate::views::MessageView;

/// Cancels are committed in slices of this many messages.
const CANCEL_SLICE: usize = 1000;

pub async fn get(
    State(state): State<AppState>,
    user: User,
    IdPath(id): IdPath,
) -> ApiResult<Json<MessageView>> {
    state
        .engine
        .store()
        .message(&user.id, &id)?
        .map(|m| Json(MessageView::of(&m)))
        .ok_or_else(|| ApiError::not_found(format!("message {id} not found")))
}

pub async fn cancel(
    State(state): State<AppState>,
    user: User,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    match cancel_ids(&state, &user.id, vec![id.clone()]).await? {
        0 => Err(ApiError::not_found(format!(
            "message {id} not found (or already delivered, failed or cancelled)"
        ))),
        n => Ok(Json(json!({ "cancelled": n }))),
    }
}

/// Bulk cancel. Selection by query (`messageIds` or filters, `count`), by JSON body
/// (the Python SDK's `{"messageIds": [...]}`), or — with no filter at all — every
/// pending message of the caller. An empty list cancels nothing; an empty value or a
/// wrong type is a 400 (see `depesha_core::filter`).
pub async fn cancel_many(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Json<Value>> {
    let (parts, body) = request.into_parts();
    let mut pairs = crate::query::pairs(parts.uri.query().unwrap_or(""));
    pairs.retain(|(k, _)| k != "qstash_token");
    let body = read_body(body, state.config.max_body_bytes).await?;
    let json = crate::request::optional_json(&body, "cancel body: expected a JSON object")?;
    let (filter, paging) = filter::parse_request(Scope::Messages, &pairs, json.as_ref())?;
    let count_given = paging.count_given;

    if filter.selects_nothing() {
        return Ok(Json(json!({ "cancelled": 0 })));
    }
    if !filter.ids.is_empty() {
        let n = cancel_ids(&state, &user.id, filter.ids).await?;
        return Ok(Json(json!({ "cancelled": n })));
    }
    let mut total = 0;
    loop {
        let limit = if count_given {
            paging.count
        } else {
            CANCEL_SLICE
        };
        let ids = state.engine.store().pending_ids(&user.id, &filter, limit)?;
        if ids.is_empty() {
            break;
        }
        let n = cancel_ids(&state, &user.id, ids).await?;
        total += n;
        // With an explicit count, one slice; callers loop until 0 (spec §3.4).
        if count_given || n == 0 {
            break;
        }
    }
    Ok(Json(json!({ "cancelled": total })))
}

/// The unit that cancels `message`: taken out of the store if still unfinished, with
/// `CANCEL_REQUESTED` and `CANCELED` logged; a queue's message gives up its place and
/// the queue moves on.
pub(crate) fn cancel_unit(message: &Message, now: u64) -> Unit {
    let user = &message.user;
    let mut writes = vec![
        Write::AppendLog(LogEntry::for_message(
            message,
            LogState::CancelRequested,
            now,
        )),
        Write::AppendLog(LogEntry::for_message(message, LogState::Canceled, now)),
    ];
    if let Some(item) = &message.queue_item {
        writes.push(Write::DeleteQueueItem {
            user: user.clone(),
            queue: item.queue.clone(),
            position: item.position,
        });
        writes.push(Write::FillQueue {
            user: user.clone(),
            queue: item.queue.clone(),
            now,
        });
    }
    let guard = Guard::TakePendingMessage {
        user: user.clone(),
        id: message.id.clone(),
    };
    Unit::guarded(guard, writes)
}

/// Cancels the given messages of `user`; returns how many were pending and are now
/// cancelled. Each cancel writes `CANCEL_REQUESTED` and `CANCELED` in the same unit,
/// guarded so that a message delivered or cancelled meanwhile is left alone.
async fn cancel_ids(state: &AppState, user: &str, ids: Vec<String>) -> ApiResult<u64> {
    let now = state.engine.clock().now();
    let mut units = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(message) = state.engine.store().message(user, &id)? {
            units.push(cancel_unit(&message, now));
        }
    }
    let outcomes = state.engine.commit(units).await?;
    let cancelled = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                UnitOutcome::Applied(Applied {
                    taken: Taken::Message(_),
                    ..
                })
            )
        })
        .count();
    Ok(cancelled as u64)
}
