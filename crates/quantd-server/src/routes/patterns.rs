//! `POST /v1/execute` (start any request and wait for its result) and
//! `POST /v1/executions/{id}/retry` (run a finished pattern again from some steps).

use super::executions::{location, submitted_response};
use super::owned;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::extract::{ApiQuery, body_of, json_bytes, parse_json};
use crate::model::{Executed, ExecutionView, Submitted};
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use quantd_core::ExecutionState;
use quantd_core::state::StateMachine;
use quantd_engine::exec::request::SubmitRequest;
use serde::Deserialize;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

/// The longest wait of `POST /v1/execute` (docs/limits.md).
pub const MAX_WAIT_SECONDS: u64 = 300;

/// The wait of `POST /v1/execute` when the query does not say.
pub const DEFAULT_WAIT_SECONDS: u64 = 30;

/// `?wait_seconds=` of `POST /v1/execute`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// How long to wait for the result before answering 202 (0–300, default 30).
    #[param(minimum = 0, maximum = 300)]
    pub wait_seconds: Option<u64>,
}

/// Starts any execution (the body of `POST /v1/executions`) and waits up to `wait_seconds` for
/// it to end: 200 with its result, pack id and code version (what makes it reproducible) when it
/// ended; 202 with `Location` when it still runs.
#[utoipa::path(post, path = "/v1/execute", tag = "executions",
    request_body = SubmitRequest,
    params(WaitQuery),
    responses(
        (status = 200, description = "It ended within the wait: the execution and its result", body = Executed,
            headers(("Location" = String, description = "/v1/executions/{id}"))),
        (status = 202, description = "Still running after the wait; `Location` points at it", body = Submitted,
            headers(("Location" = String, description = "/v1/executions/{id}"))),
        (status = 400, description = "Malformed body, unknown field, or a wait over 300 s", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Refused: a pack whose rights deny derived data for a session that streams it (`policy`), or a live session the workspace's policy or the server does not allow (`not-allowed`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown pack or code", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The pack is unusable (import failed)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request or code", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The pack is warming; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds until the pack should be ready"))),
    ))]
pub async fn execute(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<WaitQuery>,
    req: Request,
) -> Result<Response, AppError> {
    let wait = q.wait_seconds.unwrap_or(DEFAULT_WAIT_SECONDS);
    if wait > MAX_WAIT_SECONDS {
        return Err(AppError::BadRequest(format!(
            "wait_seconds is {wait}; use 0 to {MAX_WAIT_SECONDS}, and follow `Location` for longer runs"
        )));
    }
    let bytes = json_bytes(req, &state).await?;
    let body: SubmitRequest = body_of(parse_json(&bytes)?, "request body")?;
    let engine = state.engine();
    let sub = engine.submit_as(&caller.reader(), body).await?;
    if !sub.reused {
        state.workers().wake();
    }
    tracing::info!(workspace = %caller.workspace, execution = %sub.execution.id, reused = sub.reused, "execute");
    let rec = engine
        .wait_for_end(sub.execution, Duration::from_secs(wait), |_| {})
        .await?;
    let id = rec.id.to_string();
    let mut response = if rec.state.is_terminal() {
        let result = if rec.state == ExecutionState::Completed {
            engine.outputs(&rec).await?
        } else {
            serde_json::Value::Null
        };
        let body = Executed {
            pack_id: rec.pack_id.clone(),
            code_version: rec.code_version.clone(),
            fingerprint: rec.fingerprint.clone(),
            execution: engine.records().view(rec).await?,
            result,
            reused: sub.reused,
            warnings: sub.warnings,
        };
        (StatusCode::OK, Json(body)).into_response()
    } else {
        let body = Submitted {
            execution: engine.records().view(rec).await?,
            reused: sub.reused,
            warnings: sub.warnings,
        };
        (StatusCode::ACCEPTED, Json(body)).into_response()
    };
    response
        .headers_mut()
        .insert(header::LOCATION, location(&id));
    Ok(response)
}

/// What to run again of a finished pattern.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryBody {
    /// Run again from these steps (and everything depending on them); default: every step that
    /// did not complete.
    #[serde(default)]
    pub from: Vec<String>,
}

/// Runs a finished pattern execution again from some steps, as a new pattern execution that
/// reuses every step that completed (and is not downstream of them).
#[utoipa::path(post, path = "/v1/executions/{id}/retry", tag = "executions",
    params(("id" = String, Path, description = "The pattern execution")),
    request_body(content = Option<RetryBody>, description = "The steps to run again from (optional)"),
    responses(
        (status = 202, description = "The new pattern execution; `Location` points at it", body = Submitted,
            headers(("Location" = String, description = "/v1/executions/{id}"))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such execution in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a finished pattern, or an unknown step", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, AppError> {
    let rec = owned(&state, &caller, &id).await?;
    let bytes = json_bytes(req, &state).await?;
    let body: RetryBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        RetryBody::default()
    } else {
        body_of(parse_json(&bytes)?, "request body")?
    };
    let sub = state.engine().retry_pattern(&rec.id, &body.from).await?;
    state
        .engine()
        .record(
            &caller.reader(),
            "retried",
            &sub.execution,
            &format!("retry of {}", rec.id),
        )
        .await;
    state.workers().wake();
    let view: ExecutionView = state.engine().records().view(sub.execution).await?;
    let body = Submitted {
        execution: view,
        reused: false,
        warnings: sub.warnings,
    };
    Ok(submitted_response(StatusCode::ACCEPTED, body, false))
}
