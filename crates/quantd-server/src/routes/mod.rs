//! The route handlers, one module per area, and what every route shares: workspace-scoped
//! lookups, the fallback for unknown paths, and the middleware that counts requests and turns
//! framework errors (405, 413, …) into problem documents.

pub mod agents;
pub mod code;
pub mod executions;
pub mod health;
pub mod packs;
pub mod patterns;
pub mod policy;
pub mod rights;
pub mod webhooks;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, PROBLEM_JSON, Problem, problem_response};
use crate::telemetry::{self, RequestTrace};
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use quantd_core::ExecutionId;
use quantd_engine::records::ExecutionRecord;
use std::time::Instant;

/// Parses an execution id from a path; a malformed id is simply not found.
pub fn parse_id(id: &str) -> Result<ExecutionId, AppError> {
    id.parse()
        .map_err(|_| AppError::NotFound(format!("execution `{id}`")))
}

/// The execution `id` if it belongs to the caller's workspace; 404 otherwise (never 403).
pub async fn owned(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ExecutionRecord, AppError> {
    Ok(state
        .engine()
        .records()
        .owned(&caller.workspace, id)
        .await?)
}

/// Unknown paths.
pub async fn no_route(uri: Uri) -> AppError {
    AppError::NoRoute(uri.path().to_string())
}

/// Traces, counts and times each request by route and status: its `request` span continues
/// the caller's W3C `traceparent` and every response returns the span's own; and rewrites
/// plain-text error responses of the framework (405, 413, 415, …) as problem documents (the
/// dashboard's HTML error pages stay pages).
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let trace = RequestTrace::start(req.headers(), &span);
    let handled = async {
        let resp = tracing::Instrument::instrument(next.run(req), span.clone()).await;
        problem_for_errors(&state, &route, resp).await
    };
    let mut resp = telemetry::scope(trace, handled).await;
    span.record("http.response.status_code", resp.status().as_u16());
    if let Ok(v) = HeaderValue::from_str(&trace.traceparent()) {
        resp.headers_mut().insert(telemetry::TRACEPARENT, v);
    }
    crate::metrics::observe_request(
        &route,
        method.as_str(),
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
}

/// A plain-text error response of the framework as a problem document.
async fn problem_for_errors(state: &AppState, route: &str, mut resp: Response) -> Response {
    let status = resp.status();
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let is_page = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if (status.is_client_error() || status.is_server_error()) && !is_problem && !is_page {
        let detail =
            match axum::body::to_bytes(std::mem::replace(resp.body_mut(), Body::empty()), 64 << 10)
                .await
            {
                Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).to_string(),
                _ => status.canonical_reason().unwrap_or("error").to_string(),
            };
        let err = match status {
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(if route == "/v1/packs" {
                state.options().upload_limit
            } else {
                state.options().body_limit
            }),
            s if s.is_server_error() => AppError::Internal(detail),
            s => AppError::Status(s, detail),
        };
        let p: Problem = err.problem();
        let headers = resp.headers().clone();
        resp = problem_response(&p);
        for (k, v) in headers.iter() {
            if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
                resp.headers_mut().insert(k.clone(), v.clone());
            }
        }
    }
    resp
}
