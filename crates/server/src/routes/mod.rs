//! The `/v2` routes, one file per endpoint family.

pub mod batch;
pub mod dlq;
pub mod keys;
pub mod logs;
pub mod messages;
pub mod publish;

use axum::http::{Method, Uri};
use axum::routing::{delete, get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v2/publish/{*destination}", post(publish::publish))
        .route("/v2/batch", post(batch::batch))
        .route("/v2/messages", delete(messages::cancel_many))
        .route(
            "/v2/messages/{id}",
            get(messages::get).delete(messages::cancel),
        )
        .route("/v2/dlq", get(dlq::list).delete(dlq::delete_many))
        .route("/v2/dlq/retry", post(dlq::retry_many))
        .route("/v2/dlq/retry/{id}", post(dlq::retry_one))
        .route("/v2/dlq/{id}", get(dlq::get).delete(dlq::delete))
        .route("/v2/events", get(logs::list))
        .route("/v2/logs", get(logs::list))
        .route("/v2/keys", get(keys::get))
        .route("/v2/keys/rotate", post(keys::rotate))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        // A panic is a bug, but it must not take down the connection without an
        // answer: the client gets a 500 JSON error and nothing half-stored (every
        // write is a unit committed as a whole).
        .layer(CatchPanicLayer::custom(panic_answer))
        .with_state(state)
}

fn panic_answer(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    ApiError::Internal("internal error while handling the request; nothing was accepted".into())
        .into_response()
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

async fn wrong_method(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
