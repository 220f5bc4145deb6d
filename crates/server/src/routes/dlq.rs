//! The dead-letter queue (spec §3.5): list, get, delete one, bulk delete, retry one,
//! bulk retry. A retry re-publishes the entry as a new message (same destination,
//! headers and original — unredacted — body) and removes the entry, in one unit (see
//! `depesha_engine::operations`).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use depesha_core::dlq::DlqEntry;
use depesha_core::dlq_retry::RetryOverrides;
use depesha_core::filter::{self, Filter, Order, Paging, Scope};
use depesha_engine::Missing;
use depesha_store::{DlqStore, Page};
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::ApiResult;
use crate::request::{header_pairs, optional_json, read_body, IdPath};
use crate::state::AppState;
use crate::views::DlqView;

pub async fn list(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Json<Value>> {
    let (filter, paging) = selection(&state, request).await?;
    if filter.selects_nothing() {
        return Ok(Json(json!({ "messages": [] })));
    }
    let page = filter_page(&state, &user.id, &filter, &paging).await?;
    let messages: Vec<DlqView> = page.items.iter().map(DlqView::of).collect();
    Ok(Json(with_cursor(
        json!({ "messages": messages }),
        page.next_cursor,
    )))
}

pub async fn get(
    State(state): State<AppState>,
    user: User,
    IdPath(id): IdPath,
) -> ApiResult<Json<DlqView>> {
    match state.engine.reads().dlq_entry(&user.id, &id).await? {
        Some(entry) => Ok(Json(DlqView::of(&entry))),
        None => Err(Missing::DlqEntry(id).into()),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    user: User,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    let ids = std::slice::from_ref(&id);
    match state.engine.delete_dlq_entries(&user.id, ids).await? {
        0 => Err(Missing::DlqEntry(id).into()),
        _ => Ok(Json(json!({ "deleted": 1 }))),
    }
}

pub async fn delete_many(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Json<Value>> {
    let (filter, paging) = selection(&state, request).await?;
    let (ids, cursor) = select_ids(&state, &user.id, filter, &paging).await?;
    let deleted = state.engine.delete_dlq_entries(&user.id, &ids).await?;
    Ok(Json(with_cursor(json!({ "deleted": deleted }), cursor)))
}

pub async fn retry_one(
    State(state): State<AppState>,
    user: User,
    IdPath(id): IdPath,
    request: Request,
) -> ApiResult<Response> {
    let overrides = overrides(&state, &request)?;
    let entry = state
        .engine
        .reads()
        .dlq_entry(&user.id, &id)
        .await?
        .ok_or_else(|| Missing::DlqEntry(id.clone()))?;
    let retried = state
        .engine
        .retry_dlq_entries(&user.id, &[entry], &overrides)
        .await?;
    match retried.into_iter().next() {
        Some(message_id) => Ok((
            StatusCode::CREATED,
            Json(json!({ "messageId": message_id })),
        )
            .into_response()),
        None => Err(Missing::DlqEntry(id).into()),
    }
}

pub async fn retry_many(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Response> {
    let overrides = overrides(&state, &request)?;
    let (filter, paging) = selection(&state, request).await?;
    let (entries, cursor) = select_entries(&state, &user.id, filter, &paging).await?;
    let retried = state
        .engine
        .retry_dlq_entries(&user.id, &entries, &overrides)
        .await?;
    let responses: Vec<Value> = retried
        .into_iter()
        .map(|id| json!({ "messageId": id }))
        .collect();
    let answer = with_cursor(json!({ "responses": responses }), cursor);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `answer` with the cursor of the next page, when there is one.
fn with_cursor(mut answer: Value, cursor: Option<String>) -> Value {
    if let Some(cursor) = cursor {
        answer["cursor"] = json!(cursor);
    }
    answer
}

/// Filter and paging from the query string or, as the Python SDK sends them, a JSON
/// body (`{"dlqIds": [...]}`).
async fn selection(state: &AppState, request: Request) -> ApiResult<(Filter, Paging)> {
    let (parts, body) = request.into_parts();
    let mut pairs = crate::query::pairs(parts.uri.query().unwrap_or(""));
    pairs.retain(|(k, _)| k != "qstash_token");
    let body = read_body(body, state.config.max_body_bytes).await?;
    let json = optional_json(&body, "DLQ body: expected a JSON object")?;
    Ok(filter::parse_request(Scope::Dlq, &pairs, json.as_ref())?)
}

/// The DLQ ids a bulk operation works on: the given `dlqIds`, or one page of entries
/// matching the filter, with the cursor of the next page.
async fn select_ids(
    state: &AppState,
    user: &str,
    filter: Filter,
    paging: &Paging,
) -> ApiResult<(Vec<String>, Option<String>)> {
    if filter.selects_nothing() {
        return Ok((Vec::new(), None));
    }
    if !filter.ids.is_empty() {
        return Ok((filter.ids, None));
    }
    let page = filter_page(state, user, &filter, paging).await?;
    Ok((
        page.items.into_iter().map(|e| e.dlq_id).collect(),
        page.next_cursor,
    ))
}

/// Like [`select_ids`], but the entries themselves (a retry needs them): the page
/// read once, not each entry again.
async fn select_entries(
    state: &AppState,
    user: &str,
    filter: Filter,
    paging: &Paging,
) -> ApiResult<(Vec<DlqEntry>, Option<String>)> {
    if filter.selects_nothing() {
        return Ok((Vec::new(), None));
    }
    if filter.ids.is_empty() {
        let page = filter_page(state, user, &filter, paging).await?;
        return Ok((page.items, page.next_cursor));
    }
    let mut entries = Vec::with_capacity(filter.ids.len());
    for id in &filter.ids {
        entries.extend(state.engine.reads().dlq_entry(user, id).await?);
    }
    Ok((entries, None))
}

async fn filter_page(
    state: &AppState,
    user: &str,
    filter: &Filter,
    paging: &Paging,
) -> ApiResult<Page<DlqEntry>> {
    Ok(state
        .engine
        .reads()
        .dlq_page(
            user,
            filter,
            paging.cursor.as_deref(),
            paging.count,
            paging.order.unwrap_or(Order::EarliestFirst),
        )
        .await?)
}

/// `Upstash-*` headers on a retry request override the original settings (spec §3.5).
fn overrides(state: &AppState, request: &Request) -> ApiResult<RetryOverrides> {
    let pairs = header_pairs(request.headers())?;
    let now = state.engine.clock().now();
    Ok(RetryOverrides::parse(&pairs, &state.config.limits, now)?)
}
