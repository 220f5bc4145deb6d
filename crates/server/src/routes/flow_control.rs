//! Flow-control management (spec §3.10): read a key's limits and live counters, pause
//! and resume it, pin and unpin its limits, reset its rate period; and the global
//! parallelism.

use axum::extract::{Request, State};
use axum::Json;
use depesha_core::duration::parse_duration;
use depesha_core::flow_key::{FlowKey, Pin};
use depesha_engine::Missing;
use depesha_store::FlowKeyStore;
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::request::IdPath;
use crate::state::AppState;
use crate::views::FlowKeyView;

async fn view(state: &AppState, key: FlowKey) -> ApiResult<FlowKeyView> {
    let waiting = state
        .engine
        .reads()
        .waiting_count(&key.user, &key.key, u64::MAX)
        .await?;
    let counters = state.engine.flow_counters(&key.user, &key.key);
    Ok(FlowKeyView::of(key, waiting, counters))
}

/// An unknown key is a 404 before its parameters are looked at.
async fn known(state: &AppState, user: &str, key: &str) -> ApiResult<()> {
    match state.engine.reads().flow_key(user, key).await? {
        Some(_) => Ok(()),
        None => Err(Missing::FlowKey(key.to_string()).into()),
    }
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
    let keys = state.engine.reads().flow_keys(&user.id).await?;
    let mut views = Vec::with_capacity(keys.len());
    for k in keys
        .into_iter()
        .filter(|k| search.as_ref().is_none_or(|s| k.key.contains(s.as_str())))
    {
        views.push(view(&state, k).await?);
    }
    Ok(Json(views))
}

pub async fn get(
    State(state): State<AppState>,
    user: User,
    IdPath(key): IdPath,
) -> ApiResult<Json<FlowKeyView>> {
    match state.engine.reads().flow_key(&user.id, &key).await? {
        Some(flow) => Ok(Json(view(&state, flow).await?)),
        None => Err(Missing::FlowKey(key).into()),
    }
}

/// Deliveries stop; new messages go to the wait-list; the rate period keeps running.
pub async fn pause(
    State(state): State<AppState>,
    user: User,
    IdPath(key): IdPath,
) -> ApiResult<Json<Value>> {
    state.engine.set_flow_paused(&user.id, &key, true).await?;
    Ok(Json(json!({})))
}

pub async fn resume(
    State(state): State<AppState>,
    user: User,
    IdPath(key): IdPath,
) -> ApiResult<Json<Value>> {
    state.engine.set_flow_paused(&user.id, &key, false).await?;
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
    known(&state, &user.id, &key).await?;
    let mut pin = Pin::default();
    for (k, v) in crate::query::pairs(request.uri().query().unwrap_or("")) {
        match k.as_str() {
            "parallelism" => pin.parallelism = Some(positive(&k, &v)?),
            "rate" => pin.rate = Some(positive(&k, &v)?),
            "period" => {
                let period = parse_duration("period", &v)?.as_secs();
                if period == 0 || period > depesha_core::flow_control::MAX_PERIOD_SECS {
                    return Err(ApiError::bad_request(
                        "period must be between 1 second and 1 week",
                    ));
                }
                pin.period_secs = Some(period);
            }
            "qstash_token" => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter \"{k}\": expected parallelism, rate or period"
                )))
            }
        }
    }
    state.engine.pin_flow(&user.id, &key, &pin).await?;
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
    known(&state, &user.id, &key).await?;
    let (mut parallelism, mut rate) = (false, false);
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
            "parallelism" => parallelism |= yes,
            "rate" => rate |= yes,
            "qstash_token" => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter \"{k}\": expected parallelism or rate"
                )))
            }
        }
    }
    state
        .engine
        .unpin_flow(&user.id, &key, parallelism, rate)
        .await?;
    Ok(Json(json!({})))
}

/// `resetRate` (and its older name `reset`): the started count goes to 0 and a new
/// period begins now.
pub async fn reset_rate(
    State(state): State<AppState>,
    user: User,
    IdPath(key): IdPath,
) -> ApiResult<Json<Value>> {
    state.engine.reset_flow_rate(&user.id, &key).await?;
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
