//! The dead-letter queue (spec §3.5): list, get, delete one, bulk delete, retry one,
//! bulk retry. A retry re-publishes the entry as a new message (same destination,
//! headers and original — unredacted — body) and removes the entry, in one unit.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use depesha_core::dlq::DlqEntry;
use depesha_core::filter::{self, Filter, Order, Paging, Scope};
use depesha_core::ids;
use depesha_core::message::{Message, MessageState, Origin};
use depesha_core::publish::{classify, PublishHeaders};
use depesha_store::{Applied, Guard, Taken, Unit, UnitOutcome};
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::request::{header_pairs, optional_json, read_body, IdPath};
use crate::state::AppState;
use crate::views::DlqView;
use depesha_engine::publisher::creation_writes;

pub async fn list(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Json<Value>> {
    let (filter, paging) = selection(&state, request).await?;
    if filter.selects_nothing() {
        return Ok(Json(json!({ "messages": [] })));
    }
    let page = state.engine.store().dlq_page(
        &user.id,
        &filter,
        paging.cursor.as_deref(),
        paging.count,
        paging.order.unwrap_or(Order::EarliestFirst),
    )?;
    let messages: Vec<DlqView> = page.items.iter().map(DlqView::of).collect();
    let mut answer = json!({ "messages": messages });
    if let Some(cursor) = page.next_cursor {
        answer["cursor"] = json!(cursor);
    }
    Ok(Json(answer))
}

pub async fn get(
    State(state): State<AppState>,
    user: User,
    IdPath(id): IdPath,
) -> ApiResult<Json<DlqView>> {
    state
        .engine
        .store()
        .dlq_entry(&user.id, &id)?
        .map(|e| Json(DlqView::of(&e)))
        .ok_or_else(|| not_found(&id))
}

pub async fn delete(
    State(state): State<AppState>,
    user: User,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    let outcomes = state
        .engine
        .commit(vec![take(&user.id, &id, Vec::new())])
        .await?;
    match outcomes.first() {
        Some(UnitOutcome::Applied(_)) => Ok(Json(json!({ "deleted": 1 }))),
        _ => Err(not_found(&id)),
    }
}

pub async fn delete_many(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Json<Value>> {
    let (filter, paging) = selection(&state, request).await?;
    let (ids, cursor) = select_ids(&state, &user.id, filter, &paging)?;
    let units = ids
        .iter()
        .map(|id| take(&user.id, id, Vec::new()))
        .collect();
    let outcomes = state.engine.commit(units).await?;
    let deleted = outcomes
        .iter()
        .filter(|o| matches!(o, UnitOutcome::Applied(_)))
        .count();
    let mut answer = json!({ "deleted": deleted });
    if let Some(cursor) = cursor {
        answer["cursor"] = json!(cursor);
    }
    Ok(Json(answer))
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
        .store()
        .dlq_entry(&user.id, &id)?
        .ok_or_else(|| not_found(&id))?;
    let (unit, message_id) = retry_unit(&state, &user.id, &entry, &overrides)?;
    let outcomes = state.engine.commit(vec![unit]).await?;
    match outcomes.first() {
        Some(UnitOutcome::Applied(Applied {
            taken: Taken::Dlq(_),
            ..
        })) => Ok((
            StatusCode::CREATED,
            Json(json!({ "messageId": message_id })),
        )
            .into_response()),
        _ => Err(not_found(&id)),
    }
}

pub async fn retry_many(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Response> {
    let overrides = overrides(&state, &request)?;
    let (filter, paging) = selection(&state, request).await?;
    let (entries, cursor) = select_entries(&state, &user.id, filter, &paging)?;
    let mut units = Vec::with_capacity(entries.len());
    let mut new_ids = Vec::with_capacity(entries.len());
    for entry in &entries {
        let (unit, message_id) = retry_unit(&state, &user.id, entry, &overrides)?;
        units.push(unit);
        new_ids.push(message_id);
    }
    let outcomes = state.engine.commit(units).await?;
    let responses: Vec<Value> = outcomes
        .iter()
        .zip(new_ids)
        .filter(|(o, _)| matches!(o, UnitOutcome::Applied(_)))
        .map(|(_, id)| json!({ "messageId": id }))
        .collect();
    let mut answer = json!({ "responses": responses });
    if let Some(cursor) = cursor {
        answer["cursor"] = json!(cursor);
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "DLQ entry {id} not found (deleted, retried or expired)"
    ))
}

fn take(user: &str, dlq_id: &str, writes: Vec<depesha_store::Write>) -> Unit {
    Unit::guarded(
        Guard::TakeDlq {
            user: user.to_string(),
            dlq_id: dlq_id.to_string(),
        },
        writes,
    )
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
fn select_ids(
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
    let page = filter_page(state, user, &filter, paging)?;
    Ok((
        page.items.into_iter().map(|e| e.dlq_id).collect(),
        page.next_cursor,
    ))
}

/// Like [`select_ids`], but the entries themselves (a retry needs them): the page
/// read once, not each entry again.
fn select_entries(
    state: &AppState,
    user: &str,
    filter: Filter,
    paging: &Paging,
) -> ApiResult<(Vec<DlqEntry>, Option<String>)> {
    if filter.selects_nothing() {
        return Ok((Vec::new(), None));
    }
    if filter.ids.is_empty() {
        let page = filter_page(state, user, &filter, paging)?;
        return Ok((page.items, page.next_cursor));
    }
    let mut entries = Vec::with_capacity(filter.ids.len());
    for id in &filter.ids {
        entries.extend(state.engine.store().dlq_entry(user, id)?);
    }
    Ok((entries, None))
}

fn filter_page(
    state: &AppState,
    user: &str,
    filter: &Filter,
    paging: &Paging,
) -> ApiResult<depesha_store::Page<DlqEntry>> {
    Ok(state.engine.store().dlq_page(
        user,
        filter,
        paging.cursor.as_deref(),
        paging.count,
        paging.order.unwrap_or(Order::EarliestFirst),
    )?)
}

/// `Upstash-*` headers on a retry request override the original settings (spec §3.5).
struct Overrides {
    parsed: PublishHeaders,
    present: Vec<String>,
}

fn overrides(state: &AppState, request: &Request) -> ApiResult<Overrides> {
    let pairs = header_pairs(request.headers())?;
    let present = pairs.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
    let parsed = classify(&pairs, &state.config.limits, state.engine.clock().now())?;
    Ok(Overrides { parsed, present })
}

/// The unit that retries `entry`: take it from the DLQ, create a fresh message.
fn retry_unit(
    state: &AppState,
    user: &str,
    entry: &DlqEntry,
    overrides: &Overrides,
) -> ApiResult<(Unit, String)> {
    let now = state.engine.clock().now();
    let mut m: Message = entry.message.clone();
    let has = |name: &str| overrides.present.iter().any(|p| p == name);
    let o = &overrides.parsed.options;
    if has("upstash-retries") {
        m.max_retries = o.retries.unwrap_or(m.max_retries);
    }
    if has("upstash-retry-delay") {
        m.retry_delay = o.retry_delay.clone();
    }
    if has("upstash-timeout") {
        m.timeout_ms = o.timeout_ms;
    }
    if has("upstash-method") {
        m.method = o.method().to_string();
    }
    if has("upstash-callback") {
        m.callback = o.callback.as_deref().cloned();
    }
    if has("upstash-failure-callback") {
        m.failure_callback = o.failure_callback.as_deref().cloned();
    }
    if has("upstash-flow-control-key") {
        m.flow_control = o.flow_control.clone();
    }
    m.id = ids::message_id(now);
    m.retried = 0;
    m.created_at = now;
    m.not_before = now.saturating_add(o.delay_ms.unwrap_or(0));
    m.due = m.not_before;
    m.state = MessageState::Pending;
    m.expires_at = None;
    m.dedup_id = None;
    m.origin = Origin::Publish;
    m.queue_item = None;
    let id = m.id.clone();
    // A queue's message goes back to the end of its queue.
    let mut messages = vec![m];
    let queue_writes = match messages[0].queue_name.clone() {
        Some(queue) => state.engine.enqueue(user, &queue, &mut messages)?,
        None => Vec::new(),
    };
    let mut writes = creation_writes(messages, now);
    writes.extend(queue_writes);
    Ok((take(user, &entry.dlq_id, writes), id))
}
