//! Flow-control management (spec §3.10): read a key's limits and live counters, pause
//! and resume it, pin and unpin its limits, reset its rate period; and the global
//! parallelism.

use axum::extract::{Request, State};
use axum::Json;
use depesha_core::duration::parse_duration;
use depesha_core::flow_key::FlowKey;
use depesha_store::{Unit, Write};
use serde::Serialize;
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::request::IdPath;
use crate::state::AppState;

/// The FlowControlKey object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowKeyView {
    flow_control_key: String,
    wait_list_size: u64,
    parallelism_max: u32,
    parallelism_count: u32,
    rate_max: u32,
    rate_count: u32,
    /// Seconds.
    rate_period: u64,
    /// Unix seconds.
    rate_period_start: u64,
    is_paused: bool,
    is_pinned_parallelism: bool,
    is_pinned_rate: bool,
}

fn view(state: &AppState, key: FlowKey) -> ApiResult<FlowKeyView> {
    let waiting = state
        .engine
        .store()
        .waiting_count(&key.user, &key.key, u64::MAX)?;
    let counters = state.engine.flow_counters(&key.user, &key.key);
    Ok(FlowKeyView {
        flow_control_key: key.key,
        wait_list_size: waiting,
        parallelism_max: key.parallelism.unwrap_or(0),
        parallelism_count: counters.in_flight,
        rate_max: key.rate.unwrap_or(0),
        rate_count: counters.started_in_period,
        rate_period: key.period_secs,
        rate_period_start: counters.period_start / 1000,
        is_paused: key.paused,
        is_pinned_parallelism: key.pinned_parallelism,
        is_pinned_rate: key.pinned_rate,
    })
}

fn load(state: &AppState, user: &str, key: &str) -> ApiResult<FlowKey> {
    state
        .engine
        .store()
        .flow_key(user, key)?
        .ok_or_else(|| ApiError::not_found(format!("flow-control key \"{key}\" not found (a key exists once a message carrying it was published)")))
}

/// Stores new limits and hands them to the gate.
async fn save(state: &AppState, key: FlowKey) -> ApiResult<()> {
    state
        .engine
        .commit(vec![Unit::new(vec![Write::PutFlowKey(key.clone())])])
        .await?;
    state.engine.flow_limits_changed(key).await;
    Ok(())
}

/// `GET /v2/flowControl[?search=substring]`.
pub async fn list(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Json<Vec<FlowKeyView>>> {
    let mut search = None;
    for (k, v) in crate::query::pairs(request.uri().query().unwrap_or("")) {
        match k.as_str() {
            "search" => search = Some(v),
            "qstash_token" => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter \"{k}\": only search is supported"
                )))
            }
        }
    }
    let keys = state.engine.store().flow_keys(&user.id)?;
    let views = keys
        .into_iter()
        .filter(|k| search.as_ref().is_none_or(|s| k.key.contains(s.as_str())))
        .map(|k| view(&state, k))
        .collect::<ApiResult<_>>()?;
    Ok(Json(views))
}

pub async fn get(
    State(state): State<AppState>,
    user: User,
    IdPath(key): IdPath,
) -> ApiResult<Json<FlowKeyView>> {
    let key = load(&state, &user.id, &key)?;
    Ok(Json(view(&state, key)?))
}

/// Deliveries stop; new messages go to the wait-list; the rate period keeps running.
pub async fn pause(
    State(state): State<AppState>,
    user: User,
    IdPath(key): IdPath,
) -> ApiResult<Json<Value>> {
    let mut key = load(&state, &user.id, &key)?;
    key.paused = true;
    save(&state, key).await?;
    Ok(Json(json!({})))
}

pub async fn resume(
    State(state): State<AppState>,
    user: User,
    IdPath(key): IdPath,
) -> ApiResult<Json<Value>> {
    let mut key = load(&state, &user.id, &key)?;
    key.paused = false;
    save(&state, key).await?;
    Ok(Json(json!({})))
}

/// `pin?parallelism=&rate=&period=` (period in seconds or a duration): these limits
/// hold, whatever new messages carry, until unpinned. Pinning starts a new rate period.
pub async fn pin(
    State(state): State<AppState>,
    user: User,
    IdPath(key): IdPath,
    request: Request,
) -> ApiResult<Json<Value>> {
    let mut flow = load(&state, &user.id, &key)?;
    for (k, v) in crate::query::pairs(request.uri().query().unwrap_or("")) {
        match k.as_str() {
            "parallelism" => {
                flow.parallelism = Some(positive(&k, &v)?);
                flow.pinned_parallelism = true;
            }
            "rate" => {
                flow.rate = Some(positive(&k, &v)?);
                flow.pinned_rate = true;
            }
            "period" => {
                let period = parse_duration("period", &v)?.as_secs();
                if period == 0 || period > depesha_core::flow_control::MAX_PERIOD_SECS {
                    return Err(ApiError::bad_request(
                        "period must be between 1 second and 1 week",
                    ));
                }
                flow.period_secs = period;
                flow.pinned_rate = true;
            }
            "qstash_token" => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter \"{k}\": expected parallelism, rate or period"
                )))
            }
        }
    }
    flow.updated_at = state.engine.clock().now();
    save(&state, flow).await?;
    state.engine.reset_flow_rate(&user.id, &key).await;
    Ok(Json(json!({})))
}

/// `unpin?parallelism=true&rate=true`: the pinned limits stay until a message brings
/// new ones.
pub async fn unpin(
    State(state): State<AppState>,
    user: User,
    IdPath(key): IdPath,
    request: Request,
) -> ApiResult<Json<Value>> {
    let mut flow = load(&state, &user.id, &key)?;
    for (k, v) in crate::query::pairs(request.uri().query().unwrap_or("")) {
        let yes = match v.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid {k} \"{v}\": expected true or false"
                )))
            }
        };
        match k.as_str() {
            "parallelism" => flow.pinned_parallelism &= !yes,
            "rate" => flow.pinned_rate &= !yes,
            "qstash_token" => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter \"{k}\": expected parallelism or rate"
                )))
            }
        }
    }
    flow.updated_at = state.engine.clock().now();
    save(&state, flow).await?;
    Ok(Json(json!({})))
}

/// `resetRate` (and its older name `reset`): the started count goes to 0 and a new
/// period begins now.
pub async fn reset_rate(
    State(state): State<AppState>,
    user: User,
    IdPath(key): IdPath,
) -> ApiResult<Json<Value>> {
    load(&state, &user.id, &key)?;
    state.engine.reset_flow_rate(&user.id, &key).await;
    Ok(Json(json!({})))
}

/// `GET /v2/globalParallelism`: deliveries in flight, and the most there may be.
pub async fn global_parallelism(
    State(state): State<AppState>,
    _user: User,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({
        "parallelismMax": state.engine.config().max_in_flight,
        "parallelismCount": state.engine.in_flight(),
    })))
}

fn positive(name: &str, value: &str) -> ApiResult<u32> {
    value.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_request(format!(
            "invalid {name} \"{value}\": expected a positive whole number"
        ))
    })
}
