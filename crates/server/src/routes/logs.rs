//! `GET /v2/events` (what the SDKs call) and `GET /v2/logs` (the documented name), spec
//! §3.11. Both answer with the same array under `events` and `logs`; the cursor is
//! absent on the last page.

use axum::extract::{Request, State};
use axum::Json;
use depesha_core::filter::{self, Order, Scope};
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::views::LogView;
use depesha_store::LogStore;

pub async fn list(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Json<Value>> {
    let mut pairs = crate::query::pairs(request.uri().query().unwrap_or(""));
    pairs.retain(|(k, _)| k != "qstash_token");
    let (filter, paging) = filter::parse(Scope::Logs, &pairs)?;
    let page = state
        .engine
        .reads()
        .log_page(
            &user.id,
            &filter,
            paging.cursor.as_deref(),
            paging.count,
            paging.order.unwrap_or(Order::LatestFirst),
        )
        .await?;
    let events = json!(page.items.iter().map(LogView::of).collect::<Vec<_>>());
    let mut answer = json!({ "events": events.clone(), "logs": events });
    if let Some(cursor) = page.next_cursor {
        answer["cursor"] = json!(cursor);
    }
    Ok(Json(answer))
}
