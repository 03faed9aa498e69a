//! `/v1/policy`: the workspace's policy, the defaults its executions start from (retries per
//! error class, which a request's `options.retry` overrides class by class).

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::extract::{body_of, json_bytes, parse_json};
use axum::Json;
use axum::extract::{Request, State};
use quantd_engine::policy::WorkspacePolicy;

/// The workspace's policy (empty when none was set).
#[utoipa::path(get, path = "/v1/policy", operation_id = "get_policy", tag = "executions",
    responses((status = 200, description = "The workspace's policy", body = WorkspacePolicy)))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<WorkspacePolicy>, AppError> {
    Ok(Json(
        state.engine().workspace_policy(&caller.workspace).await?,
    ))
}

/// Replaces the workspace's policy (`{}` clears it).
#[utoipa::path(put, path = "/v1/policy", operation_id = "set_policy", tag = "executions",
    request_body = WorkspacePolicy,
    responses(
        (status = 200, description = "Stored", body = WorkspacePolicy),
        (status = 400, description = "Malformed body, unknown field or error class", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`live_trading` changed by a token that is not an admin's", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Attempts or a multiplier out of range", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    req: Request,
) -> Result<Json<WorkspacePolicy>, AppError> {
    let bytes = json_bytes(req, &state).await?;
    let policy: WorkspacePolicy = body_of(parse_json(&bytes)?, "policy")?;
    Ok(Json(
        state
            .engine()
            .set_workspace_policy(&caller.workspace, &policy, caller.admin)
            .await?,
    ))
}
