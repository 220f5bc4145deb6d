//! Every error the API can answer, its HTTP status, in one table. Bodies are always
//! `{"error": "<message>"}` (spec §2.2): the SDKs raise on any non-2xx and show the
//! text, so the text says what was wrong and what to do.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use depesha_core::InputError;
use depesha_engine::{EngineError, Missing, PlanError};
use depesha_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing or unknown token.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Invalid input: a header, a duration, an expression, a URL, JSON, a filter.
    #[error("{0}")]
    BadRequest(String),
    /// The message, DLQ entry, URL group … does not exist for this user.
    #[error("{0}")]
    NotFound(String),
    /// No such route.
    #[error("no such endpoint: {method} {path}")]
    NoRoute { method: String, path: String },
    #[error("method {0} is not allowed on this endpoint")]
    MethodNotAllowed(String),
    #[error("request body is larger than this server's limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// The request body did not arrive within the body timeout.
    #[error("the request body did not arrive within {0} ms; send it whole and promptly")]
    BodyTimeout(u128),
    #[error("the request target is longer than this server's limit of {0} bytes; send long data in the body")]
    UriTooLong(usize),
    #[error("the request headers are larger than this server's limit of {0} bytes; send fewer or shorter headers (the operator sets the limit with max_header_bytes)")]
    HeadersTooLarge(usize),
    /// A store or engine failure: nothing was accepted, the client may retry.
    #[error("{0}")]
    Internal(String),
    /// The store refused a write (e.g. the disk is full): nothing was accepted.
    #[error("the server could not store the request, nothing was accepted; try again later ({0})")]
    Unavailable(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) | ApiError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Whether the request body may be left unread, so the connection cannot carry
    /// another request and the client is told so (`Connection: close`).
    fn leaves_body_unread(&self) -> bool {
        matches!(
            self,
            ApiError::PayloadTooLarge(_)
                | ApiError::BodyTimeout(_)
                | ApiError::UriTooLong(_)
                | ApiError::HeadersTooLarge(_)
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound(message.into())
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> Self {
        ApiError::BadRequest(e.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor(c) => ApiError::BadRequest(format!(
                "invalid cursor \"{c}\": pass a cursor from an earlier answer"
            )),
            StoreError::Io(cause) => ApiError::Unavailable(cause.to_string()),
            StoreError::Corrupt(cause) => {
                ApiError::Internal(format!("stored data could not be read: {cause}"))
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(s) => s.into(),
            EngineError::ShuttingDown => {
                ApiError::Unavailable("the server is shutting down".into())
            }
            EngineError::NotFound(missing) => missing.into(),
        }
    }
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Input(e) => e.into(),
            PlanError::NotFound(missing) => missing.into(),
            PlanError::Store(e) => e.into(),
        }
    }
}

impl From<Missing> for ApiError {
    fn from(missing: Missing) -> Self {
        ApiError::NotFound(missing.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!("{self}");
        }
        let close = self.leaves_body_unread();
        let mut response = (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        if close {
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
