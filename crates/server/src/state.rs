//! Shared state of the HTTP handlers, and the `User` extractor that authenticates
//! every `/v2` request before a handler runs.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use depesha_engine::Engine;

use crate::auth::{authenticate, User};
use crate::config::ServerConfig;
use crate::error::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub config: Arc<ServerConfig>,
}

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let authorization = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        authenticate(&state.config.users, authorization, parts.uri.query())
    }
}
