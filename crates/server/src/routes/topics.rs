//! URL groups, under their REST name `topics` (spec §3.6): list, get, delete, add or
//! update endpoints (creating the group), remove endpoints (deleting the group with
//! its last one), and `PATCH` default headers.

use axum::extract::{Request, State};
use axum::Json;
use depesha_core::ids;
use depesha_core::url_group::{check_endpoint, EndpointSelector};
use depesha_engine::Missing;
use depesha_store::GroupStore;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::request::{parse_json, read_body, IdPath};
use crate::state::AppState;
use crate::views::GroupView;

#[derive(Debug, Deserialize)]
struct EndpointsBody {
    endpoints: Vec<EndpointBody>,
}

#[derive(Debug, Deserialize)]
struct EndpointBody {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HeadersBody {
    headers: serde_json::Map<String, Value>,
}

fn check_name(name: &str) -> ApiResult<()> {
    if ids::is_valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "invalid URL group name \"{name}\": use letters, digits, -, _ and ."
        )))
    }
}

pub async fn list(State(state): State<AppState>, user: User) -> ApiResult<Json<Vec<GroupView>>> {
    let groups = state.engine.reads().groups(&user.id).await?;
    Ok(Json(groups.into_iter().map(GroupView::of).collect()))
}

pub async fn get(
    State(state): State<AppState>,
    user: User,
    IdPath(name): IdPath,
) -> ApiResult<Json<GroupView>> {
    match state.engine.reads().group(&user.id, &name).await? {
        Some(group) => Ok(Json(GroupView::of(group))),
        None => Err(Missing::UrlGroup(name).into()),
    }
}

/// Deleting a group that does not exist answers 2xx (spec Appendix B). Messages
/// already published to it are not touched.
pub async fn delete(
    State(state): State<AppState>,
    user: User,
    IdPath(name): IdPath,
) -> ApiResult<Json<Value>> {
    state.engine.delete_group(&user.id, &name).await?;
    Ok(Json(json!({})))
}

/// `POST /v2/topics/{name}/endpoints`: creates the group if needed; adds endpoints or
/// updates those with the same name.
pub async fn add_endpoints(
    State(state): State<AppState>,
    user: User,
    IdPath(name): IdPath,
    request: Request,
) -> ApiResult<Json<Value>> {
    check_name(&name)?;
    let body = read_body(request.into_body(), state.config.max_body_bytes).await?;
    let parsed: EndpointsBody = parse_json(
        &body,
        "endpoints: expected {\"endpoints\": [{\"url\", \"name\"?}]}",
    )?;
    if parsed.endpoints.is_empty() {
        return Err(ApiError::bad_request(
            "endpoints: give at least one endpoint",
        ));
    }
    let endpoints = parsed
        .endpoints
        .iter()
        .map(|e| {
            check_endpoint(
                e.url.as_deref(),
                e.name.as_deref(),
                &state.config.limits.destinations,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    state
        .engine
        .add_endpoints(&user.id, &name, endpoints)
        .await?;
    Ok(Json(json!({})))
}

/// `DELETE /v2/topics/{name}/endpoints`: each item names a `url`, a `name`, or both.
/// The group goes with its last endpoint.
pub async fn remove_endpoints(
    State(state): State<AppState>,
    user: User,
    IdPath(name): IdPath,
    request: Request,
) -> ApiResult<Json<Value>> {
    let body = read_body(request.into_body(), state.config.max_body_bytes).await?;
    let parsed: EndpointsBody = parse_json(
        &body,
        "endpoints: expected {\"endpoints\": [{\"url\"?, \"name\"?}]}",
    )?;
    let selectors = parsed
        .endpoints
        .into_iter()
        .map(|e| {
            if e.url.is_none() && e.name.is_none() {
                Err(ApiError::bad_request(
                    "every endpoint to remove needs a \"url\" or a \"name\"",
                ))
            } else {
                Ok(EndpointSelector {
                    name: e.name,
                    url: e.url,
                })
            }
        })
        .collect::<ApiResult<Vec<_>>>()?;
    state
        .engine
        .remove_endpoints(&user.id, &name, &selectors)
        .await?;
    Ok(Json(json!({})))
}

/// `PATCH /v2/topics/{name}` `{"headers": {...}}`: default headers for every publish
/// to the group (the webhook how-to's use: `Upstash-Header-Forward`, retries …). They
/// are checked like a publish's headers now, so a bad one fails here, not later.
pub async fn set_headers(
    State(state): State<AppState>,
    user: User,
    IdPath(name): IdPath,
    request: Request,
) -> ApiResult<Json<Value>> {
    let body = read_body(request.into_body(), state.config.max_body_bytes).await?;
    let parsed: HeadersBody = parse_json(
        &body,
        "group headers: expected {\"headers\": {\"Name\": \"value\"}}",
    )?;
    let mut headers = Vec::new();
    for (k, v) in parsed.headers {
        match v {
            Value::String(s) => headers.push((k, s)),
            Value::Array(items) => {
                for item in items {
                    let Value::String(s) = item else {
                        return Err(ApiError::bad_request(format!(
                            "group header {k}: expected string values"
                        )));
                    };
                    headers.push((k.clone(), s));
                }
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "group header {k}: expected a string value"
                )))
            }
        }
    }
    let now = state.engine.clock().now();
    depesha_core::publish::classify(&headers, &state.config.limits, now)?;
    state
        .engine
        .set_group_headers(&user.id, &name, headers)
        .await?;
    Ok(Json(json!({})))
}
