//! `GET /v2/messages/{id}`, `DELETE /v2/messages/{id}` and bulk cancel
//! `DELETE /v2/messages` (spec §3.4).

use axum::extract::{Request, State};
use axum::Json;
use depesha_core::filter::{self, Scope};
use depesha_engine::{CancelSlice, Missing};
use depesha_store::MessageStore;
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::ApiResult;
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
    let message = state.engine.reads().message(&user.id, &id).await?;
    match message {
        Some(m) => Ok(Json(MessageView::of(&m))),
        None => Err(Missing::Message(id).into()),
    }
}

pub async fn cancel(
    State(state): State<AppState>,
    user: User,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    let ids = std::slice::from_ref(&id);
    match state.engine.cancel_messages(&user.id, ids).await? {
        0 => Err(Missing::UnfinishedMessage(id).into()),
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
    let cancelled = if !filter.ids.is_empty() {
        state.engine.cancel_messages(&user.id, &filter.ids).await?
    } else {
        // With an explicit count, one slice; callers loop until 0 (spec §3.4).
        let slice = if count_given {
            CancelSlice::AtMost(paging.count)
        } else {
            CancelSlice::All {
                per_commit: CANCEL_SLICE,
            }
        };
        state
            .engine
            .cancel_matching(&user.id, &filter, slice)
            .await?
    };
    Ok(Json(json!({ "cancelled": cancelled })))
}
