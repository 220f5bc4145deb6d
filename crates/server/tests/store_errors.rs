//! What a client is answered when the store fails, as `depesha_store::StoreError`
//! documents it: a store that refused to read or write (a full disk) is 503 and the
//! same request may succeed later, a page cursor no answer gave is 400, and stored
//! data this build cannot read is 500. Every answer is `{"error": "..."}` (spec §2.2).

use axum::body::to_bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use depesha_server::error::ApiError;
use depesha_store::StoreError;
use serde_json::Value;

/// The status and the `error` text the server answers for `error`.
async fn answer(error: StoreError) -> (StatusCode, String) {
    let response = ApiError::from(error).into_response();
    let status = response.status();
    let body = to_bytes(response.into_body(), 64 * 1024)
        .await
        .expect("an error body is small");
    let json: Value = serde_json::from_slice(&body).expect("an error body is JSON");
    let text = json["error"]
        .as_str()
        .expect("an error body has an `error` string")
        .to_string();
    (status, text)
}

#[tokio::test]
async fn a_store_io_error_is_503_and_says_nothing_was_accepted() {
    let (status, text) = answer(StoreError::Io("No space left on device".into())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(text.contains("nothing was accepted"), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
}

#[tokio::test]
async fn an_invalid_cursor_from_the_store_is_400_and_names_the_cursor() {
    let (status, text) = answer(StoreError::InvalidCursor("not-a-cursor".into())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("\"not-a-cursor\""), "{text}");
}

#[tokio::test]
async fn corrupt_stored_data_is_500() {
    let (status, text) = answer(StoreError::Corrupt("bad record".into())).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(text.contains("bad record"), "{text}");
}
