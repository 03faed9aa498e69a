//! Request extractors that fail with problem documents: JSON bodies (unknown fields → 400,
//! too large → 413), query strings and path ids.

use crate::AppState;
use crate::error::AppError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body; an empty body reads as `{}` (every body type here has defaults or says what is
/// missing).
pub struct ApiJson<T>(pub T);

/// Reads a body, mapping the body-limit rejection to 413.
pub async fn body_bytes(req: Request, state: &AppState) -> Result<Bytes, AppError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge(state.options().body_limit)
        } else {
            AppError::BadRequest(format!("reading the request body: {e}"))
        }
    })
}

/// Parses JSON with serde's message (line, column, unknown field) as a 400.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| AppError::BadRequest(format!("invalid JSON body: {e}")))
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let bytes = body_bytes(req, state).await?;
        Ok(ApiJson(parse_json(&bytes)?))
    }
}

/// A query string; unknown parameters and bad values are 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, AppError> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded_from_str(q)
            .map(ApiQuery)
            .map_err(|e| AppError::BadRequest(format!("invalid query string: {e}")))
    }
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(q: &str) -> Result<T, String> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{q}")
            .parse()
            .map_err(|e: axum::http::uri::InvalidUri| e.to_string())?,
    )
    .map(|axum::extract::Query(t)| t)
    .map_err(|e| e.body_text())
}
