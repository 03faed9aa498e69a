//! `/v1/packs`: the catalog of market data. Packs are global: every workspace reads the same
//! shared, immutable, content-addressed snapshots; only admin tokens (or `--no-auth`) upload.

use super::code::PageQuery;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::extract::ApiQuery;
use crate::model::{PackList, PackView, UploadAccepted};
use crate::uploads;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quantd_core::state::StateMachine;
use quantd_core::{ErrorClass, ExecutionState, ExportPolicy, Rights};
use quantd_engine::data::ImportOptions;
use quantd_engine::exec::import::ImportRequest;
use quantd_engine::records::ExecutionRecord;
use serde::Deserialize;
use tokio::sync::broadcast;
use utoipa::IntoParams;

/// The catalog, newest first.
#[utoipa::path(get, path = "/v1/packs", operation_id = "list_packs", tag = "packs", params(PageQuery),
    responses(
        (status = 200, description = "One page of packs", body = PackList),
        (status = 400, description = "Bad query or cursor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<PackList>, AppError> {
    let page = state.engine().packs().list(&q.page()).await?;
    Ok(Json(PackList {
        items: state.engine().pack_views(page.items).await?,
        next: page.next,
    }))
}

/// One pack by name (its fresh version), id or id prefix.
#[utoipa::path(get, path = "/v1/packs/{name}", operation_id = "show_pack", tag = "packs",
    params(("name" = String, Path, description = "Pack name, id or id prefix (8+ characters)")),
    responses(
        (status = 200, description = "The pack", body = PackView),
        (status = 404, description = "No such pack", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Ambiguous id prefix", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<PackView>, AppError> {
    let rec = state.engine().packs().find(Some(&name)).await?;
    Ok(Json(state.engine().pack_view(rec).await?))
}

/// Options of an upload.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Pack name.
    pub name: String,
    /// `csv` (default) or `parquet`.
    pub format: Option<String>,
    /// Ticker of a file without a ticker column.
    pub ticker: Option<String>,
    /// Drop bad rows (and count them) instead of refusing the file.
    #[serde(default)]
    pub lenient: bool,
    /// Where the data came from.
    pub source: Option<String>,
    /// The data's license.
    pub license: Option<String>,
    /// Attribution to show with the data.
    pub attribution: Option<String>,
    /// The provider of the rights registry whose terms apply (`GET /v1/rights`); its terms win
    /// over `license`, `attribution` and `export`.
    pub provider: Option<String>,
    /// What may leave quantd of the bars and of what is derived from them: `allow` (default),
    /// `watermark` or `deny` (docs/rights.md).
    pub export: Option<String>,
    /// Forbid exporting the bars and what is derived from them (`export=deny`).
    #[serde(default)]
    pub no_export: bool,
    /// The exchange's time zone (IANA name, e.g. `America/New_York`): naive times in the file
    /// are local to it, and the pack records it. Default: UTC (or the zone a Parquet time
    /// column is stored with).
    pub tz: Option<String>,
    /// The unit of integer times: `s`, `ms` or `ns`.
    pub epoch: Option<String>,
    /// The bar interval (`1m`, `5m`, `15m`, `30m`, `1h`, `4h`, `1d`, `1w`, `1mo`, `irregular`);
    /// default: the most common gap between bars.
    pub interval: Option<String>,
}

/// The export policy of `export=` and `no_export=`; both at odds is a 400.
fn export_policy(export: Option<&str>, no_export: bool) -> Result<ExportPolicy, AppError> {
    let asked = export
        .map(|e| {
            ExportPolicy::parse(e).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "query parameter `export`: `{}` is not a policy; use allow, watermark or deny",
                    quantd_engine::data::cut(e, 40)
                ))
            })
        })
        .transpose()?;
    match (asked, no_export) {
        (Some(p), true) if p != ExportPolicy::Deny => Err(AppError::BadRequest(format!(
            "`no_export=true` means `export=deny`, but `export={p}` was given; send one"
        ))),
        (_, true) => Ok(ExportPolicy::Deny),
        (p, false) => Ok(p.unwrap_or_default()),
    }
}

/// A query parameter parsed by `FromStr`, or a 400 naming the parameter.
fn parsed<T: std::str::FromStr>(name: &str, v: Option<&str>) -> Result<Option<T>, AppError>
where
    T::Err: std::fmt::Display,
{
    v.map(|v| {
        v.parse()
            .map_err(|e| AppError::BadRequest(format!("query parameter `{name}`: {e}")))
    })
    .transpose()
}

/// Uploads a long-format CSV or Parquet file (ticker,date,open,high,low,close,volume) as a
/// pack. The import is an execution of kind `import` in the caller's workspace: watch it at
/// `/v1/executions/{id}` and its `events` (`phase` events: `read` bytes, `validate`, `hash`,
/// `write` tickers). An import done within a short wait answers 201 with the pack; a file the
/// import refuses answers 422 with the row; a longer one answers 202 while the pack is `warming`.
///
/// The body is the file, typed `text/csv`, `application/octet-stream` or
/// `application/vnd.apache.parquet` (types any web site could send are refused with 415). It is
/// streamed to disk; uploads in flight share the server's upload budget (503 when full), and
/// the file is removed once its import has ended, whatever the outcome.
#[utoipa::path(post, path = "/v1/packs", tag = "packs", params(UploadQuery),
    request_body(description = "The file", content(
        (Vec<u8> = "text/csv"), (Vec<u8> = "application/octet-stream"), (Vec<u8> = "application/vnd.apache.parquet"))),
    responses(
        (status = 201, description = "Imported (the import execution is linked with `Link: <…>; rel=\"execution\"`)", body = PackView),
        (status = 202, description = "Importing: follow the execution (`Location`)", body = UploadAccepted),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The named `provider` is not in the rights registry", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "File too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type missing or not one of the upload types", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file is not valid market data (with the row)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Uploads in flight fill the upload budget; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UploadQuery>,
    req: Request,
) -> Result<Response, AppError> {
    if !caller.admin {
        return Err(AppError::Forbidden(
            "packs are shared by every workspace; uploading one needs an admin token (`quantd tokens create --admin`)".into(),
        ));
    }
    let ext = match q.format.as_deref().unwrap_or("csv") {
        "csv" => "csv",
        "parquet" => "parquet",
        other => {
            return Err(AppError::BadRequest(format!(
                "format `{other}`: use csv or parquet"
            )));
        }
    };
    quantd_engine::packs::check_name(&q.name)?;
    crate::guard::upload_type(req.headers())?;
    let received = uploads::receive(&state, req, ext).await?;
    let request = ImportRequest {
        upload: received.path.clone(),
        shown_as: format!("upload.{ext}"),
        name: q.name.clone(),
        options: ImportOptions {
            ticker: q.ticker,
            lenient: q.lenient,
            tz: parsed("tz", q.tz.as_deref())?,
            epoch: parsed("epoch", q.epoch.as_deref())?,
            interval: parsed("interval", q.interval.as_deref())?,
        },
        rights: Rights {
            provider: q.provider,
            source: q.source,
            license: q.license,
            attribution: q.attribution,
            export: export_policy(q.export.as_deref(), q.no_export)?,
        },
    };
    // Subscribe before submitting so the end cannot slip past the wait.
    let mut events = state.engine().subscribe();
    let submitted = match state
        .engine()
        .submit_import(&caller.workspace, &request)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            uploads::remove(&received.path).await;
            return Err(e.into());
        }
    };
    state.workers().wake();
    let id = submitted.execution.id;
    let ended = tokio::time::timeout(state.options().upload_wait, async {
        loop {
            match events.recv().await {
                Ok(ev) if ev.execution == id && ev.event.is_final() => return,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    })
    .await
    .is_ok();
    let rec = state.engine().execution(&id).await;
    if rec.as_ref().is_ok_and(|r| r.state.is_terminal()) {
        // Imported, refused or failed: whatever the engine left, the file has no further use.
        uploads::remove(&received.path).await;
    } else {
        uploads::remove_when_ended(&state, id.clone(), received);
    }
    let rec = rec?;
    let execution_url = format!("/v1/executions/{id}");
    match rec.state {
        ExecutionState::Completed if ended => {
            let pack = state.engine().packs().find(Some(&q.name)).await?;
            let view = state.engine().pack_view(pack).await?;
            let mut r = (StatusCode::CREATED, Json(view)).into_response();
            let h = r.headers_mut();
            h.insert(
                header::LOCATION,
                header_value(&format!("/v1/packs/{}", q.name))?,
            );
            h.insert(
                header::LINK,
                header_value(&format!("<{execution_url}>; rel=\"execution\""))?,
            );
            Ok(r)
        }
        ExecutionState::Failed => Err(refused(&rec)),
        _ => {
            let mut r = (
                StatusCode::ACCEPTED,
                Json(UploadAccepted {
                    name: q.name.clone(),
                    execution: id.to_string(),
                    events_url: format!("{execution_url}/events"),
                    status_url: format!("/health/pack/{}", q.name),
                }),
            )
                .into_response();
            r.headers_mut()
                .insert(header::LOCATION, header_value(&execution_url)?);
            Ok(r)
        }
    }
}

/// The problem for a failed import: the file's fault (422, with the row) or the server's.
fn refused(rec: &ExecutionRecord) -> AppError {
    let message = rec
        .error_message
        .clone()
        .unwrap_or_else(|| "the import failed".into());
    match rec.error_class {
        Some(ErrorClass::Data | ErrorClass::Validation) => AppError::InvalidData(message),
        _ => AppError::Internal(format!("import execution {}: {message}", rec.id)),
    }
}

fn header_value(s: &str) -> Result<HeaderValue, AppError> {
    HeaderValue::from_str(s).map_err(|e| AppError::Internal(e.to_string()))
}
