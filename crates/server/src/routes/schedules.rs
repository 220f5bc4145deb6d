//! Schedules (spec §3.8): `POST /v2/schedules/{destination}` creates (or replaces) a
//! schedule, `GET /v2/schedules[/{id}]` reads them, `DELETE /v2/schedules/{id}`
//! removes one, and `PATCH|POST /v2/schedules/{id}/pause|resume` pause and resume.
//!
//! A schedule stores the create request as it came — the `Upstash-*` and
//! `Content-Type` headers, the body, the destination, the caller's IP — and each tick
//! publishes it again (`depesha-engine`'s scheduler), so a produced message is exactly
//! what a publish with those headers would make. The headers are checked at creation
//! (`depesha_core::schedule::ScheduleSettings`), so a bad value is a 400 then rather
//! than a failing tick; reads classify them again to show the settings (`method`,
//! `retries`, `header`, …).
//!
//! Routing: the destination, like publish's, is everything after the prefix in the
//! *raw* path (`/v2/schedules/https://example.com/a?x=1`, spec §2.4), so every
//! `/v2/schedules/…` request goes to one catch-all route and is told apart here: a
//! `POST` to `{name}/pause` or `{name}/resume` (a valid schedule id, then one of those
//! words) is a pause or resume; any other `POST` is a create. That is unambiguous,
//! because a destination is either an `http(s)://` URL or a group name without `/`.

use axum::extract::{Request, State};
use axum::http::{Method, Uri};
use axum::Json;
use depesha_core::destination::Destination;
use depesha_core::ids;
use depesha_core::schedule::{Schedule, ScheduleSettings};
use depesha_engine::Missing;
use depesha_store::ScheduleStore;
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::query::split_destination_query;
use crate::request::{caller_ip, header_pairs, read_body};
use crate::state::AppState;
use crate::views::ScheduleView;

const PREFIX: &str = "/v2/schedules/";

/// `GET /v2/schedules`: the caller's schedules, by id (`[]` when none).
pub async fn list(State(state): State<AppState>, user: User) -> ApiResult<Json<Vec<ScheduleView>>> {
    let schedules = state.engine.reads().schedules(&user.id).await?;
    let mut views = Vec::with_capacity(schedules.len());
    for s in &schedules {
        views.push(view(&state, s).await?);
    }
    Ok(Json(views))
}

/// `GET /v2/schedules/{id}`.
pub async fn get(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
) -> ApiResult<Json<ScheduleView>> {
    let id = id_of(&uri)?;
    let schedule = load(&state, &user, &id).await?;
    Ok(Json(view(&state, &schedule).await?))
}

/// `DELETE /v2/schedules/{id}`: 404 when there is no such schedule.
pub async fn delete(State(state): State<AppState>, user: User, uri: Uri) -> ApiResult<Json<Value>> {
    let id = id_of(&uri)?;
    state.engine.delete_schedule(&user.id, &id).await?;
    Ok(Json(json!({})))
}

/// `POST /v2/schedules/…`: pause, resume, or create.
pub async fn post(
    State(state): State<AppState>,
    user: User,
    request: Request,
) -> ApiResult<Json<Value>> {
    match action_of(request.uri()) {
        Some((id, paused)) => set_paused(&state, &user, &id, paused).await,
        None => create(&state, &user, request).await,
    }
}

/// `PATCH /v2/schedules/{id}/pause|resume` (what both SDKs send).
pub async fn patch(State(state): State<AppState>, user: User, uri: Uri) -> ApiResult<Json<Value>> {
    match action_of(&uri) {
        Some((id, paused)) => set_paused(&state, &user, &id, paused).await,
        None => Err(ApiError::NoRoute {
            method: Method::PATCH.to_string(),
            path: uri.path().to_string(),
        }),
    }
}

async fn create(state: &AppState, user: &User, request: Request) -> ApiResult<Json<Value>> {
    let raw = raw_rest(request.uri()).to_string();
    let (parts, body) = request.into_parts();
    let (own_query, query_config) = split_destination_query(parts.uri.query().unwrap_or(""));
    let destinations = &state.config.limits.destinations;
    let destination = match Destination::parse(&raw, destinations)? {
        Destination::Url(url) if !own_query.is_empty() => {
            Destination::parse(&format!("{url}?{own_query}"), destinations)?
        }
        other => other,
    };
    let mut headers = header_pairs(&parts.headers)?;
    headers.extend(query_config);
    let body = read_body(body, state.config.max_body_bytes).await?;

    let settings = ScheduleSettings::parse(
        destination.as_str(),
        &headers,
        body.to_vec(),
        caller_ip(&parts.extensions),
        &state.config.limits,
        state.engine.clock().now(),
    )?;
    let id = state.engine.put_schedule(&user.id, settings).await?;
    Ok(Json(json!({ "scheduleId": id })))
}

/// Pausing and resuming are idempotent. Resuming computes the next tick from now:
/// the ticks missed while paused are not fired.
async fn set_paused(
    state: &AppState,
    user: &User,
    id: &str,
    paused: bool,
) -> ApiResult<Json<Value>> {
    state
        .engine
        .set_schedule_paused(&user.id, id, paused)
        .await?;
    Ok(Json(json!({})))
}

async fn load(state: &AppState, user: &User, id: &str) -> ApiResult<Schedule> {
    match state.engine.reads().schedule(&user.id, id).await? {
        Some(schedule) => Ok(schedule),
        None => Err(Missing::Schedule(id.to_string()).into()),
    }
}

async fn view(state: &AppState, schedule: &Schedule) -> ApiResult<ScheduleView> {
    let now = state.engine.clock().now();
    Ok(ScheduleView::of(schedule, &state.config.limits, now, state.engine.reads()).await?)
}

/// What follows `/v2/schedules/` in the raw path.
fn raw_rest(uri: &Uri) -> &str {
    uri.path().strip_prefix(PREFIX).unwrap_or("")
}

/// The schedule id of `/v2/schedules/{id}`; anything with a further `/` is no schedule.
fn id_of(uri: &Uri) -> ApiResult<String> {
    let rest = raw_rest(uri);
    let id = percent_decode_str(rest).decode_utf8_lossy();
    if rest.is_empty() || id.contains('/') {
        return Err(ApiError::not_found(format!(
            "schedule {id} not found: expected /v2/schedules/{{scheduleId}}"
        )));
    }
    Ok(id.into_owned())
}

/// `{id}/pause` → `(id, true)`, `{id}/resume` → `(id, false)`.
fn action_of(uri: &Uri) -> Option<(String, bool)> {
    let (head, action) = raw_rest(uri).rsplit_once('/')?;
    let paused = match action {
        "pause" => true,
        "resume" => false,
        _ => return None,
    };
    let id = percent_decode_str(head).decode_utf8().ok()?;
    ids::is_valid_name(&id).then(|| (id.into_owned(), paused))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(path: &str) -> Uri {
        path.parse().expect("uri")
    }

    #[test]
    fn pause_and_resume_are_told_apart_from_destinations() {
        assert_eq!(
            action_of(&uri("/v2/schedules/scd_1/pause")),
            Some(("scd_1".to_string(), true))
        );
        assert_eq!(
            action_of(&uri("/v2/schedules/my.id/resume")),
            Some(("my.id".to_string(), false))
        );
        assert_eq!(
            action_of(&uri("/v2/schedules/https://example.com/pause")),
            None
        );
        assert_eq!(
            action_of(&uri("/v2/schedules/https%3A%2F%2Fexample.com/pause")),
            None
        );
        assert_eq!(action_of(&uri("/v2/schedules/my-group")), None);
        assert_eq!(action_of(&uri("/v2/schedules//pause")), None);
        assert_eq!(action_of(&uri("/v2/schedules/id/other")), None);
    }
}
