//! `/v1/rights`: the rights registry (providers, shared by every workspace like packs; changed
//! with an admin token), a pack's provider, and the audit trail of refused and watermarked
//! exports (docs/rights.md).

use super::code::PageQuery;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::extract::{ApiQuery, body_of, json_bytes, parse_json};
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use quantd_core::{ExportPolicy, Provider};
use quantd_engine::records::{AuditEntry, AuditFilter, Paged};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A provider's terms, as `POST /v1/rights/{name}` takes them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderBody {
    /// The licence the data is under.
    #[serde(default)]
    pub license: Option<String>,
    /// Text to show with the data and everything derived from it.
    #[serde(default)]
    pub attribution: Option<String>,
    /// `allow` (default), `watermark` or `deny`.
    #[serde(default)]
    pub export: ExportPolicy,
    /// The environments the licence covers (`QUANTD_ENVIRONMENT` of a server); empty: any.
    #[serde(default)]
    pub environments: Vec<String>,
}

/// `{provider}` of `PUT /v1/packs/{name}/provider`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackProvider {
    /// The provider whose terms apply to the pack; `null` for the pack's own terms.
    pub provider: Option<String>,
}

/// One page of the audit trail, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The entries.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<AuditEntry>,
    /// The cursor of the next page, `null` on the last.
    pub next: Option<String>,
}

impl From<Paged<AuditEntry>> for AuditPage {
    fn from(p: Paged<AuditEntry>) -> Self {
        AuditPage {
            items: p.items,
            next: p.next,
        }
    }
}

/// `?exports=&execution=` of the audit trail.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// At most this many entries (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only refused and watermarked exports (default true: this is the rights log).
    pub exports: Option<bool>,
    /// Only this execution's entries.
    pub execution: Option<String>,
}

fn admin(caller: &Caller, what: &str) -> Result<(), AppError> {
    if caller.admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "providers are shared by every workspace; {what} needs an admin token (`quantd tokens create --admin`)"
        )))
    }
}

/// Every provider of the registry.
#[utoipa::path(get, path = "/v1/rights", operation_id = "list_providers", tag = "rights",
    responses((status = 200, description = "The providers, by name", body = Vec<Provider>)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<Provider>>, AppError> {
    Ok(Json(state.engine().providers().await?))
}

/// Adds (201) or replaces (200) a provider (admin token).
#[utoipa::path(post, path = "/v1/rights/{name}", operation_id = "add_provider", tag = "rights",
    params(("name" = String, Path, description = "The provider's name (letters, digits, `-`, `_`, `.`)")),
    request_body = ProviderBody,
    responses(
        (status = 201, description = "Added", body = Provider),
        (status = 200, description = "Replaced: every pack naming it takes the new terms", body = Provider),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid name, text or environment", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    req: Request,
) -> Result<(StatusCode, Json<Provider>), AppError> {
    admin(&caller, "adding one")?;
    let bytes = json_bytes(req, &state).await?;
    let body: ProviderBody = body_of(parse_json(&bytes)?, "provider")?;
    let p = Provider {
        name,
        license: body.license,
        attribution: body.attribution,
        export: body.export,
        environments: body.environments,
    };
    let new = state.engine().put_provider(&p).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(p)))
}

/// Removes a provider (admin token); refused while a pack names it.
#[utoipa::path(delete, path = "/v1/rights/{name}", operation_id = "remove_provider", tag = "rights",
    params(("name" = String, Path, description = "The provider's name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such provider", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A pack names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    admin(&caller, "removing one")?;
    if state
        .engine()
        .remove_provider(&caller.reader(), &name)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(format!(
            "provider `{}`",
            quantd_engine::data::cut(&name, 64)
        )))
    }
}

/// Makes a pack (every import of its name) name a provider, or none (admin token).
#[utoipa::path(put, path = "/v1/packs/{name}/provider", operation_id = "set_pack_provider", tag = "rights",
    params(("name" = String, Path, description = "Pack name")),
    request_body = PackProvider,
    responses(
        (status = 204, description = "Set"),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such pack or provider", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_pack_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    req: Request,
) -> Result<StatusCode, AppError> {
    admin(&caller, "changing a pack's provider")?;
    let bytes = json_bytes(req, &state).await?;
    let value: serde_json::Value = parse_json(&bytes)?;
    if value.get("provider").is_none() {
        // An empty body must not quietly take a pack's provider away.
        return Err(AppError::BadRequest(
            "send `{\"provider\": NAME}`, or `{\"provider\": null}` for the pack's own terms"
                .into(),
        ));
    }
    let body: PackProvider = body_of(value, "body")?;
    state
        .engine()
        .assign_provider(&name, body.provider.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit trail, newest first: the caller's workspace (every workspace with an admin
/// token); by default only refused and watermarked exports.
#[utoipa::path(get, path = "/v1/rights/log", operation_id = "rights_log", tag = "rights",
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of entries", body = AuditPage),
        (status = 400, description = "Bad query or cursor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn log(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    let execution = q
        .execution
        .as_deref()
        .map(|id| {
            id.parse().map_err(|_| {
                AppError::BadRequest(format!(
                    "execution `{}` is not an execution id",
                    quantd_engine::data::cut(id, 40)
                ))
            })
        })
        .transpose()?;
    let filter = AuditFilter {
        workspace: (!caller.admin).then(|| caller.workspace.clone()),
        execution,
        exports_only: q.exports.unwrap_or(true),
    };
    let page = PageQuery {
        after: q.after,
        limit: q.limit,
    }
    .page();
    Ok(Json(state.engine().audit(&filter, &page).await?.into()))
}
