//! The one error type of the HTTP layer and its RFC 9457 `application/problem+json` form.
//!
//! Every failure of every route becomes an [`AppError`]; [`AppError::into_response`] is the only
//! place that decides status codes and problem types. 5xx bodies carry a generic message: the
//! details go to the log with the request's route (and to error reports, when they are on),
//! never to the client. Every problem carries the request's `trace_id`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quantd_core::ErrorClass;
use quantd_engine::EngineError;
use quantd_engine::records::StoreError;
pub use quantd_engine::views::model::CodeDiagnostic;
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Where problem types live: `urn:quantd:problem:<slug>` (stable; listed in docs/api.md).
pub const PROBLEM_PREFIX: &str = "urn:quantd:problem:";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI naming the kind of problem (`urn:quantd:problem:not-found`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened here, and how to fix it.
    pub detail: String,
    /// Code diagnostics with line and column (`invalid-code`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<CodeDiagnostic>,
    /// Code diagnostics rendered under the source lines (`invalid-code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered: Option<String>,
    /// When a warming pack should be ready (`pack-warming`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_ready: Option<chrono::DateTime<chrono::Utc>>,
    /// The data provider whose terms refused the request (`policy`; docs/rights.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The W3C trace id of the request (32 hex digits; the response's `traceparent` carries
    /// it too): quote it when reporting a problem, to find the request's logs and spans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// Everything a route can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An engine operation failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A store read failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request is malformed (bad JSON, unknown field, bad query value).
    #[error("{0}")]
    BadRequest(String),
    /// Nothing with this id or name in the caller's workspace (also for other workspaces' ids).
    #[error("{0} not found")]
    NotFound(String),
    /// No route matches the path.
    #[error("no route for {0}")]
    NoRoute(String),
    /// No or a wrong bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not do this (e.g. upload a shared pack without an admin token).
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state (pause a finished execution).
    #[error("{0}")]
    Conflict(String),
    /// The same `Idempotency-Key` was used with a different body.
    #[error(
        "Idempotency-Key `{0}` was already used with a different request body; use a new key for a new request"
    )]
    IdempotencyMismatch(String),
    /// Uploaded market data is not valid (the message names the row).
    #[error("{0}")]
    InvalidData(String),
    /// The body is larger than the route allows.
    #[error("the request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// The body's `Content-Type` is not one the route accepts (or one any web site can send).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A generic client error produced by the framework (405, 415, …), already worded.
    #[error("{1}")]
    Status(StatusCode, String),
    /// The server is shutting down or not ready.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected state; the message is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Results of routes.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// The status, the problem slug and title.
    fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        use EngineError as E;
        match self {
            AppError::Engine(e) => match e {
                E::NotFound { .. } => (StatusCode::NOT_FOUND, "not-found", "Not found"),
                E::Invalid(_) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-request",
                    "Invalid request",
                ),
                E::Expression { .. } | E::Pattern { .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-code",
                    "Invalid code",
                ),
                E::Limit { .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "limit-exceeded",
                    "Over a limit",
                ),
                E::PackNotReady {
                    estimated_ready: Some(_),
                    ..
                } => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "pack-warming",
                    "Pack is warming",
                ),
                E::PackNotReady { .. } => (StatusCode::CONFLICT, "pack-unusable", "Pack unusable"),
                E::Policy { .. } => (StatusCode::FORBIDDEN, "policy", "Refused by data rights"),
                E::NotAllowed(_) => (StatusCode::FORBIDDEN, "not-allowed", "Not allowed"),
                E::Data(_) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-data",
                    "Invalid data",
                ),
                E::Store(StoreError::Conflict(_)) => (StatusCode::CONFLICT, "conflict", "Conflict"),
                E::Store(s) if s.class() == ErrorClass::Network => store_unavailable(),
                E::Store(StoreError::BadCursor(_)) => {
                    (StatusCode::BAD_REQUEST, "bad-cursor", "Bad page cursor")
                }
                E::Cancelled => (StatusCode::CONFLICT, "cancelled", "Cancelled"),
                // Errors of lower layers keep their class: the caller's fault is a 422.
                E::Backtest(_) | E::Sandbox(_) if e.class() == ErrorClass::Validation => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-request",
                    "Invalid request",
                ),
                E::Backtest(_) | E::Sandbox(_) | E::Eval(_) => internal(),
                E::Store(_) | E::Io { .. } | E::Internal(_) => internal(),
            },
            AppError::Store(StoreError::BadCursor(_)) => {
                (StatusCode::BAD_REQUEST, "bad-cursor", "Bad page cursor")
            }
            AppError::Store(s) if s.class() == ErrorClass::Network => store_unavailable(),
            AppError::Store(_) | AppError::Internal(_) => internal(),
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            AppError::NoRoute(_) => (StatusCode::NOT_FOUND, "no-route", "No such route"),
            AppError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            AppError::IdempotencyMismatch(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
            ),
            AppError::InvalidData(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-data",
                "Invalid data",
            ),
            AppError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            AppError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            AppError::Status(s, _) => (*s, "http-error", "HTTP error"),
            AppError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
        }
    }

    /// The problem document (what the client sees).
    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.classify();
        let detail = if status.is_server_error() && slug == "internal" {
            "the server failed to handle this request; it has been logged".to_string()
        } else if slug == "store-unavailable" {
            "the database cannot be reached (it may be restarting); nothing was changed; try \
             again in a few seconds"
                .to_string()
        } else {
            self.to_string()
        };
        let mut p = Problem {
            kind: format!("{PROBLEM_PREFIX}{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            errors: vec![],
            rendered: None,
            estimated_ready: None,
            provider: None,
            trace_id: crate::telemetry::current_trace_id(),
        };
        match self {
            AppError::Engine(EngineError::Expression {
                rendered,
                message,
                diagnostics,
            }) => {
                p.detail = message.clone();
                p.rendered = Some(rendered.clone());
                p.errors = diagnostics.iter().map(CodeDiagnostic::from).collect();
            }
            AppError::Engine(EngineError::Pattern {
                rendered,
                message,
                problems,
            }) => {
                p.detail = message.clone();
                p.rendered = Some(rendered.clone());
                p.errors = problems.iter().map(CodeDiagnostic::from).collect();
            }
            AppError::Engine(EngineError::PackNotReady {
                estimated_ready, ..
            }) => p.estimated_ready = *estimated_ready,
            AppError::Engine(EngineError::Policy { provider, .. }) => {
                p.provider = Some(provider.clone());
            }
            _ => {}
        }
        p
    }
}

/// The database cannot be reached or is restarting: try again shortly.
fn store_unavailable() -> (StatusCode, &'static str, &'static str) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "store-unavailable",
        "The database is unavailable",
    )
}

fn internal() -> (StatusCode, &'static str, &'static str) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
    )
}

/// A problem document as a response.
pub fn problem_response(p: &Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // A problem is strings and numbers: serializing it cannot fail.
    let body = serde_json::to_vec(p).unwrap_or_default();
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    r
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let p = self.problem();
        if p.status >= 500 {
            tracing::error!(error = %self, status = p.status, "request failed");
        } else {
            tracing::debug!(error = %self, status = p.status, "request refused");
        }
        let mut r = problem_response(&p);
        let h = r.headers_mut();
        match &self {
            AppError::Engine(EngineError::PackNotReady {
                estimated_ready: Some(t),
                ..
            }) => {
                let secs = (*t - chrono::Utc::now()).num_seconds().clamp(1, 3600);
                h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            AppError::Unavailable(_) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(5));
            }
            _ if p.status == 503 && p.kind.ends_with("store-unavailable") => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(2));
            }
            AppError::Unauthorized(_) => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"quantd\""),
                );
            }
            _ => {}
        }
        r
    }
}
