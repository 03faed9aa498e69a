//! The API's own bodies (uploads, pack health, liveness, readiness), and the engine's views
//! (executions, packs, code) it returns, as they appear in the OpenAPI document.

pub use quantd_engine::views::model::*;
use serde::Serialize;
use utoipa::ToSchema;

/// A pack upload that was accepted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UploadAccepted {
    /// The pack name.
    pub name: String,
    /// The import execution's id (`/v1/executions/{id}`).
    pub execution: String,
    /// Its live events (SSE): `phase` events, then `execution-completed` or `-failed`.
    pub events_url: String,
    /// The pack's freshness: `/health/pack/{name}` (`warming` until the import is done).
    pub status_url: String,
}

/// The freshness of a pack.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PackHealth {
    /// The name asked for.
    pub name: String,
    /// The pack id the name resolves to.
    pub id: String,
    /// `fresh`, `warming`, `stale` or `error`.
    #[schema(value_type = quantd_core::PackState)]
    pub state: String,
    /// While warming: when it should be ready.
    pub estimated_ready: Option<chrono::DateTime<chrono::Utc>>,
    /// Why it is unusable (`error`).
    pub error: Option<String>,
}

/// Liveness.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Live {
    /// Always `ok`.
    pub status: String,
    /// quantd's version.
    pub version: String,
    /// The circuit breakers of the agents this process called, counted by state (`closed`,
    /// `open`, `half_open`); names stay behind a token (`/v1/agents`).
    pub breakers: std::collections::BTreeMap<String, u64>,
}

/// Readiness.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ready {
    /// `ready` or `not_ready`.
    pub status: String,
    /// Whether the store answered.
    pub store: bool,
    /// Workers of the pool that are running.
    pub workers: usize,
    /// Workers configured.
    pub workers_configured: usize,
    /// Whether shutdown has begun.
    pub shutting_down: bool,
}
