//! `/v1/agents`: the workspace's agents (what pattern `call` steps reach), with their circuit
//! breakers as this server sees them; register, replace and remove them.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::extract::{body_of, json_bytes, parse_json};
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use quantd_engine::agents::{AgentSpec, AgentView};

/// The workspace's agents with their breakers.
#[utoipa::path(get, path = "/v1/agents", operation_id = "list_agents", tag = "agents",
    responses((status = 200, description = "Every agent of the workspace", body = Vec<AgentView>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<AgentView>>, AppError> {
    Ok(Json(state.engine().agent_views(&caller.workspace).await?))
}

/// Registers (201) or replaces (200) an agent.
#[utoipa::path(post, path = "/v1/agents/{name}", operation_id = "add_agent", tag = "agents",
    params(("name" = String, Path, description = "The agent's name (letters, digits, `-`, `_`)")),
    request_body = AgentSpec,
    responses(
        (status = 201, description = "Registered", body = Vec<AgentView>),
        (status = 200, description = "Replaced (its breaker starts over if its settings changed)", body = Vec<AgentView>),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid name, url, capability or breaker setting", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    req: Request,
) -> Result<(StatusCode, Json<Vec<AgentView>>), AppError> {
    let bytes = json_bytes(req, &state).await?;
    let spec: AgentSpec = body_of(parse_json(&bytes)?, "agent")?;
    let engine = state.engine();
    let new = engine.add_agent(&caller.workspace, &name, &spec).await?;
    let views = engine.agent_views(&caller.workspace).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(views)))
}

/// Removes an agent.
#[utoipa::path(delete, path = "/v1/agents/{name}", operation_id = "remove_agent", tag = "agents",
    params(("name" = String, Path, description = "The agent's name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such agent in this workspace", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    if state.engine().remove_agent(&caller.reader(), &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(format!("agent `{name}`")))
    }
}
