//! `/health`, `/health/ready` and `/health/pack/{name}`: for load balancers and for clients that
//! wait on a warming pack. The probes (`/health`, `/health/ready`) need no token and say nothing
//! about any workspace; `/health/pack/{name}` needs a token like the catalog it reads.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::model::{Live, PackHealth, Ready};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use quantd_engine::EngineError;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "Alive", body = Live)))]
pub async fn live(State(state): State<AppState>) -> Json<Live> {
    let mut breakers = std::collections::BTreeMap::new();
    for (_, s) in state.engine().breaker_states() {
        *breakers.entry(s.state.as_str().to_string()).or_insert(0) += 1;
    }
    Json(Live {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        breakers,
    })
}

/// Readiness: the store answers and the worker pool runs.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready (store unreachable, no workers, shutting down)", body = Ready),
    ))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Ready>) {
    let store = state.engine().records().queue_stats().await.is_ok();
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
        (status = 401, description = "No or a wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such pack (the catalog is at `GET /v1/packs`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Ambiguous id prefix", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn pack(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<PackHealth>, AppError> {
    let p = match state.engine().packs().find(Some(&name)).await {
        Ok(p) => p,
        // Name only what was asked for, not the catalog's other packs.
        Err(EngineError::NotFound { .. }) => {
            return Err(EngineError::NotFound {
                what: format!("pack `{name}`"),
                hint: "; list the catalog with GET /v1/packs".into(),
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Json(PackHealth {
        name,
        id: p.id.to_string(),
        state: p.state.to_string(),
        estimated_ready: p.estimated_ready,
        error: p.error,
    }))
}
