//! `/v1/code`: the workspace's stored scanners and strategies, and `/v1/validate`.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::model::{
    CodeAdded, CodeBody, CodeList, CodeNameView, CodeVersionView, RollbackBody, Validated,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use quantd_engine::code;
use quantd_engine::records::Page;
use serde::Deserialize;
use utoipa::IntoParams;

/// Paging of lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// At most this many items (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl PageQuery {
    /// The store's page.
    pub fn page(&self) -> Page {
        Page {
            after: self.after.clone(),
            limit: self.limit.unwrap_or(100).clamp(1, 1000),
        }
    }
}

/// Stores a new version of a scanner or strategy (validated first).
#[utoipa::path(post, path = "/v1/code/{name}", operation_id = "add_code", tag = "code",
    params(("name" = String, Path, description = "Code name: 1–64 letters, digits, `-`, `_`, `.`")),
    request_body = CodeBody,
    responses(
        (status = 201, description = "A new version was stored", body = CodeAdded),
        (status = 200, description = "The current version already has this content", body = CodeAdded),
        (status = 400, description = "Malformed body, or a key given twice", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid code (with line and column) or name", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<(StatusCode, Json<CodeAdded>), AppError> {
    let source = body
        .source()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let added = state
        .engine()
        .code(&caller.workspace)
        .add(&name, &source)
        .await?;
    let status = if added.unchanged {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(CodeAdded {
            version: added.version.into(),
            unchanged: added.unchanged,
        }),
    ))
}

/// Lists the workspace's code names.
#[utoipa::path(get, path = "/v1/code", operation_id = "list_code", tag = "code", params(PageQuery),
    responses(
        (status = 200, description = "One page of names", body = CodeList),
        (status = 400, description = "Bad query or cursor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<CodeList>, AppError> {
    let page = state
        .engine()
        .code(&caller.workspace)
        .names(&q.page())
        .await?;
    Ok(Json(CodeList {
        items: page.items.into_iter().map(CodeNameView::from).collect(),
        next: page.next,
    }))
}

/// The current version of a name (or `NAME@N`).
#[utoipa::path(get, path = "/v1/code/{name}", operation_id = "show_code", tag = "code",
    params(("name" = String, Path, description = "`NAME` or `NAME@N`")),
    responses(
        (status = 200, description = "The version", body = CodeVersionView),
        (status = 404, description = "No such code in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed reference", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<CodeVersionView>, AppError> {
    let v = state
        .engine()
        .code(&caller.workspace)
        .resolve(&name)
        .await?;
    Ok(Json(v.into()))
}

/// One version of a name.
#[utoipa::path(get, path = "/v1/code/{name}/versions/{version}", tag = "code",
    params(("name" = String, Path, description = "Code name"),
           ("version" = u32, Path, description = "Version number, from 1", minimum = 1)),
    responses(
        (status = 200, description = "The version", body = CodeVersionView),
        (status = 400, description = "Version is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such version in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed name", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn version(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<CodeVersionView>, AppError> {
    let version: u32 = version.parse().ok().filter(|v| *v >= 1).ok_or_else(|| {
        AppError::BadRequest(format!("version `{version}` is not a number from 1"))
    })?;
    code::check_code_name(&name)?;
    let v = state
        .engine()
        .code(&caller.workspace)
        .resolve(&format!("{name}@{version}"))
        .await?;
    Ok(Json(v.into()))
}

/// Removes a name (its versions stay for the executions that used them).
#[utoipa::path(delete, path = "/v1/code/{name}", operation_id = "remove_code", tag = "code",
    params(("name" = String, Path, description = "Code name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 415, description = "A body typed as a web form or plain text (refused: any web site can send those)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such code in this workspace", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    if state.engine().remove_code(&caller.reader(), &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(format!("code `{name}`")))
    }
}

/// Points a name back at an earlier version.
#[utoipa::path(post, path = "/v1/code/{name}/rollback", tag = "code",
    params(("name" = String, Path, description = "Code name")),
    request_body(content = RollbackBody, description = "Empty for the previous version"),
    responses(
        (status = 200, description = "The version the name now resolves to", body = CodeVersionView),
        (status = 400, description = "Malformed body, or a key given twice", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such code or version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Nothing to roll back to", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<RollbackBody>,
) -> Result<Json<CodeVersionView>, AppError> {
    let v = state
        .engine()
        .code(&caller.workspace)
        .rollback(&name, body.to)
        .await?;
    Ok(Json(v.into()))
}

/// The JSON Schema of pattern documents (docs/patterns.md): their shape, for editors and agents.
#[utoipa::path(get, path = "/v1/schemas/pattern.json", tag = "code",
    responses((status = 200, description = "A JSON Schema (draft 2020-12)", body = Object)))]
pub async fn pattern_schema(_caller: Caller) -> Json<serde_json::Value> {
    Json(
        serde_json::from_str(quantd_engine::pattern::JSON_SCHEMA)
            .expect("the pattern schema is JSON (a test reads it)"),
    )
}

/// Checks code without storing it: errors with line and column, no side effects.
#[utoipa::path(post, path = "/v1/validate", tag = "code",
    request_body = CodeBody,
    responses(
        (status = 200, description = "The code is valid", body = Validated),
        (status = 400, description = "Malformed body, or a key given twice", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid code, with diagnostics", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn validate(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Validated>, AppError> {
    let source = body
        .source()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let columns = state
        .engine()
        .code(&caller.workspace)
        .known_columns()
        .await?;
    match source.validate(&columns) {
        Ok(params) => Ok(Json(Validated {
            valid: true,
            language: source.language().to_string(),
            params,
            id: source.id().to_string(),
        })),
        Err(e) => Err(e.into()),
    }
}
