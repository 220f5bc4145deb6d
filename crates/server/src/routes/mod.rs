//! The `/v2` routes, one file per endpoint family.

pub mod batch;
pub mod dlq;
pub mod flow_control;
pub mod keys;
pub mod logs;
pub mod messages;
pub mod publish;
pub mod queues;
pub mod schedules;
pub mod topics;

use axum::http::{Method, Uri};
use axum::routing::{delete, get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v2/publish/{*destination}", post(publish::publish))
        .route("/v2/enqueue/{queue}/{*destination}", post(publish::enqueue))
        .route("/v2/batch", post(batch::batch))
        .route("/v2/queues", post(queues::upsert).get(queues::list))
        .route("/v2/queues/{name}", get(queues::get).delete(queues::delete))
        .route("/v2/queues/{name}/pause", post(queues::pause))
        .route("/v2/queues/{name}/resume", post(queues::resume))
        .route("/v2/topics", get(topics::list))
        .route(
            "/v2/topics/{name}",
            get(topics::get)
                .delete(topics::delete)
                .patch(topics::set_headers),
        )
        .route(
            "/v2/topics/{name}/endpoints",
            post(topics::add_endpoints).delete(topics::remove_endpoints),
        )
        .route("/v2/flowControl", get(flow_control::list))
        .route("/v2/flowControl/{key}", get(flow_control::get))
        .route("/v2/flowControl/{key}/pause", post(flow_control::pause))
        .route("/v2/flowControl/{key}/resume", post(flow_control::resume))
        .route("/v2/flowControl/{key}/pin", post(flow_control::pin))
        .route("/v2/flowControl/{key}/unpin", post(flow_control::unpin))
        .route(
            "/v2/flowControl/{key}/resetRate",
            post(flow_control::reset_rate),
        )
        .route(
            "/v2/flowControl/{key}/reset",
            post(flow_control::reset_rate),
        )
        .route(
            "/v2/globalParallelism",
            get(flow_control::global_parallelism),
        )
        .route("/v2/schedules", get(schedules::list))
        .route(
            "/v2/schedules/{*rest}",
            get(schedules::get)
                .delete(schedules::delete)
                .post(schedules::post)
                .patch(schedules::patch),
        )
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
