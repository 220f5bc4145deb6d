//! Schedules (spec §3.8): `POST /v2/schedules/{destination}` creates (or replaces) a
//! schedule, `GET /v2/schedules[/{id}]` reads them, `DELETE /v2/schedules/{id}`
//! removes one, and `PATCH|POST /v2/schedules/{id}/pause|resume` pause and resume.
//!
//! A schedule stores the create request as it came — the `Upstash-*` and
//! `Content-Type` headers, the body, the destination, the caller's IP — and each tick
//! publishes it again (`depesha-engine`'s scheduler), so a produced message is exactly
//! what a publish with those headers would make. The headers are classified here too,
//! once, so a bad value is a 400 at creation rather than a failing tick; reads classify
//! them again to show the settings (`method`, `retries`, `header`, …).
//!
//! Routing: the destination, like publish's, is everything after the prefix in the
//! *raw* path (`/v2/schedules/https://example.com/a?x=1`, spec §2.4), so every
//! `/v2/schedules/…` request goes to one catch-all route and is told apart here: a
//! `POST` to `{name}/pause` or `{name}/resume` (a valid schedule id, then one of those
//! words) is a pause or resume; any other `POST` is a create. That is unambiguous,
//! because a destination is either an `http(s)://` URL or a group name without `/`.

use std::collections::BTreeMap;

use axum::extract::{Request, State};
use axum::http::{Method, Uri};
use axum::Json;
use depesha_core::cron::{next_tick, CronExpr, NEVER};
use depesha_core::destination::Destination;
use depesha_core::header_map::HeaderMap;
use depesha_core::ids;
use depesha_core::message::{redacted_headers, CallbackSpec, MessageState};
use depesha_core::publish::{classify, PublishHeaders};
use depesha_core::schedule::Schedule;
use depesha_store::{Unit, Write};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::query::split_destination_query;
use crate::request::{caller_ip, header_pairs, read_body};
use crate::state::AppState;
use crate::views::body_fields;

const PREFIX: &str = "/v2/schedules/";

/// Headers of the create request that are not stored for the ticks: the
/// schedule-only ones (kept in the schedule's own fields), telemetry, and
/// `Upstash-Not-Before` and deduplication, which are not part of schedules (spec §3.8).
const NOT_STORED: [&str; 6] = [
    "upstash-cron",
    "upstash-schedule-id",
    "upstash-queue-name",
    "upstash-not-before",
    "upstash-deduplication-id",
    "upstash-content-based-deduplication",
];

/// `GET /v2/schedules`: the caller's schedules, by id (`[]` when none).
pub async fn list(State(state): State<AppState>, user: User) -> ApiResult<Json<Vec<ScheduleView>>> {
    let schedules = state.engine.store().schedules(&user.id)?;
    let views = schedules
        .iter()
        .map(|s| ScheduleView::of(&state, s))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(views))
}

/// `GET /v2/schedules/{id}`.
pub async fn get(
    State(state): State<AppState>,
    user: User,
    uri: Uri,
) -> ApiResult<Json<ScheduleView>> {
    let id = id_of(&uri)?;
    let schedule = load(&state, &user, &id)?;
    Ok(Json(ScheduleView::of(&state, &schedule)?))
}

/// `DELETE /v2/schedules/{id}`: 404 when there is no such schedule.
pub async fn delete(State(state): State<AppState>, user: User, uri: Uri) -> ApiResult<Json<Value>> {
    let id = id_of(&uri)?;
    load(&state, &user, &id)?;
    state
        .engine
        .commit(vec![Unit::new(vec![Write::DeleteSchedule {
            user: user.id.clone(),
            id,
        }])])
        .await?;
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

    let now = state.engine.clock().now();
    // Every header is checked now, exactly as a publish would check it.
    let parsed = classify(&headers, &state.config.limits, now)?;
    let cron = CronExpr::parse(parsed.cron.as_deref().unwrap_or(""))?;
    let next = cron.next_after(now).ok_or_else(|| {
        ApiError::bad_request(format!(
            "invalid Upstash-Cron \"{}\": it never fires (no such date); use a date that exists, like \"0 0 1 * *\"",
            cron.as_str()
        ))
    })?;
    let id = match parsed.schedule_id.as_deref() {
        Some(id) if ids::is_valid_name(id) => id.to_string(),
        Some(id) => {
            return Err(ApiError::bad_request(format!(
                "invalid Upstash-Schedule-Id \"{id}\": use 1 to {} letters, digits, -, _ and ., like \"daily-report\"",
                ids::MAX_NAME_LEN
            )))
        }
        None => ids::schedule_id(),
    };
    if let Some(queue) = parsed.queue_name.as_deref() {
        if !ids::is_valid_name(queue) {
            return Err(ApiError::bad_request(format!(
                "invalid Upstash-Queue-Name \"{queue}\": use 1 to {} letters, digits, -, _ and ., like \"reports\"",
                ids::MAX_NAME_LEN
            )));
        }
    }

    // Replacing keeps what is not a setting: when it was created, its history, and
    // whether an operator paused it.
    let existing = state.engine.store().schedule(&user.id, &id)?;
    let schedule = Schedule {
        user: user.id.clone(),
        id: id.clone(),
        cron: cron.as_str().to_string(),
        destination: destination.as_str().to_string(),
        headers: stored_headers(&headers, parsed.header_forward),
        body: body.to_vec(),
        queue_name: parsed.queue_name.clone(),
        caller_ip: caller_ip(&parts.extensions),
        created_at: existing.as_ref().map_or(now, |s| s.created_at),
        paused: existing.as_ref().is_some_and(|s| s.paused),
        last_schedule_time: existing.as_ref().and_then(|s| s.last_schedule_time),
        next_schedule_time: next,
        last_message_ids: existing
            .as_ref()
            .map(|s| s.last_message_ids.clone())
            .unwrap_or_default(),
        last_results: existing
            .as_ref()
            .map(|s| s.last_results.clone())
            .unwrap_or_default(),
        error: None,
    };
    state
        .engine
        .commit(vec![Unit::new(vec![Write::PutSchedule(schedule)])])
        .await?;
    Ok(Json(json!({ "scheduleId": id })))
}

/// The create request's headers that configure the ticks' messages, as sent.
fn stored_headers(headers: &[(String, String)], header_forward: bool) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            if name == "content-type" {
                true
            } else if name.starts_with("upstash-") {
                !NOT_STORED.contains(&name.as_str()) && !name.starts_with("upstash-telemetry-")
            } else {
                // Plain headers matter only to `Upstash-Header-Forward: true`; each tick
                // drops hop-by-hop ones again.
                header_forward && name != "authorization"
            }
        })
        .cloned()
        .collect()
}

/// Pausing and resuming are idempotent. Resuming computes the next tick from now:
/// the ticks missed while paused are not fired.
async fn set_paused(
    state: &AppState,
    user: &User,
    id: &str,
    paused: bool,
) -> ApiResult<Json<Value>> {
    let mut schedule = load(state, user, id)?;
    if schedule.paused != paused {
        schedule.paused = paused;
        if !paused {
            schedule.next_schedule_time = next_tick(&schedule.cron, state.engine.clock().now());
        }
        state
            .engine
            .commit(vec![Unit::new(vec![Write::PutSchedule(schedule)])])
            .await?;
    }
    Ok(Json(json!({})))
}

fn load(state: &AppState, user: &User, id: &str) -> ApiResult<Schedule> {
    state
        .engine
        .store()
        .schedule(&user.id, id)?
        .ok_or_else(|| ApiError::not_found(format!("schedule {id} not found")))
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

/// A schedule as the API shows it (spec §3.8). Settings come from classifying the
/// stored headers, so they read back exactly as a produced message would have them;
/// redaction (`Upstash-Redact-Fields`) applies to `header`, `body` and the callback
/// headers, as for messages.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub schedule_id: String,
    pub cron: String,
    pub destination: String,
    pub created_at: u64,
    pub method: String,
    pub retries: u32,
    pub header: HeaderMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<u64>,
    /// Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_header: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_callback_header: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    pub is_paused: bool,
    #[serde(rename = "callerIP", skip_serializing_if = "Option::is_none")]
    pub caller_ip_upper: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_control_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    /// Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_delay_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<u64>,
    /// Absent while paused (resuming computes it anew).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub last_schedule_states: BTreeMap<String, &'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ScheduleView {
    fn of(state: &AppState, s: &Schedule) -> ApiResult<ScheduleView> {
        let limits = &state.config.limits;
        // Stored headers were valid at creation; should today's limits refuse them,
        // the ticks fail with an error (shown below) and the settings show as default.
        let parsed = classify(&s.headers, limits, state.engine.clock().now())
            .unwrap_or_else(|_| PublishHeaders::default());
        let options = &parsed.options;
        let redaction = &parsed.redaction;
        let body = match redaction.redact_body(&s.body) {
            Some(text) => text.into_bytes(),
            None => s.body.clone(),
        };
        let (body, body_base64) = body_fields(&body);
        let callback_headers = |c: &Option<Box<CallbackSpec>>| {
            c.as_ref()
                .filter(|c| !c.options.headers.is_empty())
                .map(|c| redacted_headers(&c.options.headers, redaction))
        };
        let flow = options.flow_control.as_ref();
        let mut states = BTreeMap::new();
        for id in &s.last_message_ids {
            let finished = s.last_results.iter().find(|(m, _)| m == id);
            let shown = match finished {
                Some((_, true)) => "SUCCESS",
                Some((_, false)) => "FAIL",
                None => match state.engine.store().message(&s.user, id)? {
                    Some(m) if m.state == MessageState::Delivered => "SUCCESS",
                    Some(_) => "IN_PROGRESS",
                    // Cancelled before it finished.
                    None => "FAIL",
                },
            };
            states.insert(id.clone(), shown);
        }
        Ok(ScheduleView {
            schedule_id: s.id.clone(),
            cron: s.cron.clone(),
            destination: s.destination.clone(),
            created_at: s.created_at,
            method: options.method().to_string(),
            retries: options
                .retries
                .unwrap_or(limits.default_retries.min(limits.max_retries)),
            header: redacted_headers(&options.headers, redaction),
            body,
            body_base64,
            delay: options.delay_ms.map(|d| d / 1000),
            timeout: options.timeout_ms.map(|t| t / 1000),
            callback: options.callback.as_ref().map(|c| c.url.clone()),
            failure_callback: options.failure_callback.as_ref().map(|c| c.url.clone()),
            callback_header: callback_headers(&options.callback),
            failure_callback_header: callback_headers(&options.failure_callback),
            queue_name: s.queue_name.clone(),
            is_paused: s.paused,
            caller_ip_upper: s.caller_ip.clone(),
            caller_ip: s.caller_ip.clone(),
            flow_control_key: flow.map(|f| f.key.clone()),
            parallelism: flow.and_then(|f| f.parallelism),
            rate: flow.and_then(|f| f.rate),
            period: flow
                .filter(|f| f.rate.is_some() || f.parallelism.is_some())
                .map(|f| f.period_secs),
            retry_delay_expression: options.retry_delay.as_ref().map(|r| r.source().to_string()),
            label: parsed.labels.first().cloned(),
            labels: parsed.labels.clone(),
            last_schedule_time: s.last_schedule_time,
            next_schedule_time: (!s.paused && s.next_schedule_time != NEVER)
                .then_some(s.next_schedule_time),
            last_schedule_states: states,
            error: s.error.clone(),
        })
    }
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

    #[test]
    fn only_settings_are_stored() {
        let headers: Vec<(String, String)> = [
            ("Upstash-Cron", "* * * * *"),
            ("upstash-schedule-id", "x"),
            ("Upstash-Queue-Name", "q"),
            ("Upstash-Telemetry-Sdk", "js"),
            ("Upstash-Deduplication-Id", "d"),
            ("Upstash-Not-Before", "1"),
            ("Upstash-Retries", "5"),
            ("Upstash-Forward-Test-Header", "v"),
            ("content-type", "application/json"),
            ("Authorization", "Bearer secret"),
            ("User-Agent", "curl"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        let names = |forward| -> Vec<String> {
            stored_headers(&headers, forward)
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        };
        assert_eq!(
            names(false),
            [
                "Upstash-Retries",
                "Upstash-Forward-Test-Header",
                "content-type"
            ]
        );
        assert_eq!(
            names(true),
            [
                "Upstash-Retries",
                "Upstash-Forward-Test-Header",
                "content-type",
                "User-Agent"
            ]
        );
    }
}
