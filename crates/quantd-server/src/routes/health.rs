//! `/health`, `/health/ready` and `/health/pack/{name}`: for load balancers and for clients that
//! wait on a warming pack. None of them needs a token.

use crate::AppState;
use crate::error::{AppError, Problem};
use crate::model::{Live, PackHealth, Ready};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use quantd_store::prelude::*;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "Alive", body = Live)))]
pub async fn live() -> Json<Live> {
    Json(Live {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Readiness: the store answers and the worker pool runs.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready (store unreachable, no workers, shutting down)", body = Ready),
    ))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Ready>) {
    let store = state.engine().store().queue_stats().await.is_ok();
    let workers = state.workers().alive();
    let shutting_down = *state.shutdown_signal().borrow();
    // A server of 0 workers serves the API only (`quantd worker`s run the queue).
    let workers_ok = workers > 0 || state.options().workers == 0;
    let ok = store && workers_ok && !shutting_down;
    let body = Ready {
        status: if ok { "ready" } else { "not_ready" }.into(),
        store,
        workers,
        workers_configured: state.options().workers,
        shutting_down,
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// Freshness of a pack: `fresh`, `warming` (with `estimated_ready`), `stale` or `error`.
#[utoipa::path(get, path = "/health/pack/{name}", tag = "health",
    params(("name" = String, Path, description = "Pack name, id or id prefix")),
    responses(
        (status = 200, description = "The pack's state", body = PackHealth),
        (status = 404, description = "No such pack", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Ambiguous id prefix", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn pack(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PackHealth>, AppError> {
    let p = state.engine().packs().find(Some(&name)).await?;
    Ok(Json(PackHealth {
        name,
        id: p.id.to_string(),
        state: p.state.to_string(),
        estimated_ready: p.estimated_ready,
        error: p.error,
    }))
}
