//! `/v1/webhooks`: the workspace's webhooks (URLs told when its executions end, docs/webhooks.md)
//! and each one's delivery log. A secret is answered once, by the request that creates it.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::extract::{ApiQuery, body_of, json_bytes, parse_json};
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use quantd_engine::webhooks::{DeliveryView, WebhookSpec, WebhookView};
use serde::Deserialize;
use utoipa::IntoParams;

/// How many deliveries to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// At most this many deliveries, newest first (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// The workspace's webhooks, oldest first (without their secrets).
#[utoipa::path(get, path = "/v1/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    responses((status = 200, description = "Every webhook of the workspace", body = Vec<WebhookView>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<WebhookView>>, AppError> {
    Ok(Json(state.engine().webhooks(&caller.workspace).await?))
}

/// Registers a webhook; the answer carries its signing secret, this once.
#[utoipa::path(post, path = "/v1/webhooks", operation_id = "add_webhook", tag = "webhooks",
    request_body = WebhookSpec,
    responses(
        (status = 201, description = "Registered; `secret` is shown only here", body = WebhookView),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid url, event or secret, or the workspace's webhook limit reached", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    req: Request,
) -> Result<(StatusCode, Json<WebhookView>), AppError> {
    let bytes = json_bytes(req, &state).await?;
    let spec: WebhookSpec = body_of(parse_json(&bytes)?, "webhook")?;
    let view = state.engine().add_webhook(&caller.workspace, &spec).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Removes a webhook and its delivery log.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", operation_id = "remove_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id (`wh_…`)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such webhook in this workspace", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state.engine().remove_webhook(&caller.reader(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's deliveries, newest first, each with its attempts (status, error, duration).
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", operation_id = "webhook_deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id (`wh_…`)"), DeliveriesQuery),
    responses(
        (status = 200, description = "Its deliveries", body = Vec<DeliveryView>),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` out of range", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Vec<DeliveryView>>, AppError> {
    Ok(Json(
        state
            .engine()
            .webhook_deliveries(&caller.workspace, &id, q.limit.unwrap_or(50))
            .await?,
    ))
}
