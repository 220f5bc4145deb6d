//! `GET /v2/keys` and `POST /v2/keys/rotate` (spec §3.9).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::ApiResult;
use crate::state::AppState;

pub async fn get(State(state): State<AppState>, user: User) -> ApiResult<Json<Value>> {
    let keys = state.engine.signing_keys(&user.id).await?;
    Ok(Json(json!({ "current": keys.current, "next": keys.next })))
}

pub async fn rotate(State(state): State<AppState>, user: User) -> ApiResult<Json<Value>> {
    let keys = state.engine.rotate_keys(&user.id).await?;
    Ok(Json(json!({ "current": keys.current, "next": keys.next })))
}
