//! `/v1/packs`: the catalog of market data. Packs are global: every workspace reads the same
//! shared, immutable, content-addressed snapshots; only admin tokens (or `--no-auth`) upload.

use super::code::PageQuery;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::extract::ApiQuery;
use crate::model::{PackList, PackView, UploadAccepted};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quantd_core::{NoProgress, Rights};
use quantd_data::ImportOptions;
use quantd_engine::EngineError;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use utoipa::IntoParams;

/// How long an upload request waits for its import before answering 202.
const WAIT_FOR_IMPORT: Duration = Duration::from_secs(2);

/// The catalog, newest first.
#[utoipa::path(get, path = "/v1/packs", tag = "packs", params(PageQuery),
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
        items: page.items.into_iter().map(PackView::from).collect(),
        next: page.next,
    }))
}

/// One pack by name (its fresh version), id or id prefix.
#[utoipa::path(get, path = "/v1/packs/{name}", tag = "packs",
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
    Ok(Json(state.engine().packs().find(Some(&name)).await?.into()))
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
    /// Forbid exporting the bars.
    #[serde(default)]
    pub no_export: bool,
}

/// Uploads a long-format CSV or Parquet file (ticker,date,open,high,low,close,volume) as a
/// pack. Small files answer 201 with the pack; larger ones 202 while the pack is `warming`.
#[utoipa::path(post, path = "/v1/packs", tag = "packs", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file"),
    responses(
        (status = 201, description = "Imported", body = PackView),
        (status = 202, description = "Importing; watch `/health/pack/{name}`", body = UploadAccepted),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "File too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file is not valid market data (with the row)", body = Problem, content_type = "application/problem+json"),
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
    let body = Bytes::from_request(req, &state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge(state.options().upload_limit)
        } else {
            AppError::BadRequest(format!("reading the upload: {e}"))
        }
    })?;
    let tmp = state.engine().packs().dir().tmp();
    std::fs::create_dir_all(&tmp)
        .map_err(|e| AppError::Internal(format!("creating {}: {e}", tmp.display())))?;
    let file = tempfile::Builder::new()
        .prefix("upload-")
        .suffix(&format!(".{ext}"))
        .tempfile_in(&tmp)
        .map_err(|e| AppError::Internal(format!("creating an upload file: {e}")))?;
    tokio::fs::write(file.path(), &body)
        .await
        .map_err(|e| AppError::Internal(format!("writing the upload: {e}")))?;
    let name = q.name.clone();
    let shown = format!("upload.{ext}");
    let hidden = file.path().display().to_string();
    let st = state.clone();
    let import = tokio::spawn(async move {
        let opts = ImportOptions {
            ticker: q.ticker,
            lenient: q.lenient,
        };
        let rights = Rights {
            source: q.source,
            license: q.license,
            attribution: q.attribution,
            export_allowed: !q.no_export,
        };
        let r = st
            .engine()
            .packs()
            .import_file(file.path(), &q.name, opts, rights, Arc::new(NoProgress))
            .await;
        if let Err(e) = &r {
            tracing::warn!(pack = %q.name, error = %e, "pack upload failed");
        }
        r
    });
    let status_url = format!("/health/pack/{name}");
    match tokio::time::timeout(WAIT_FOR_IMPORT, import).await {
        Ok(Ok(Ok(report))) => {
            let mut r = (StatusCode::CREATED, Json(PackView::from(report.pack))).into_response();
            r.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&format!("/v1/packs/{name}"))
                    .map_err(|e| AppError::Internal(e.to_string()))?,
            );
            Ok(r)
        }
        // Name the upload, not the server's temporary file.
        Ok(Ok(Err(e @ (EngineError::Data(_) | EngineError::Invalid(_))))) => Err(
            AppError::InvalidData(e.to_string().replace(&hidden, &shown)),
        ),
        Ok(Ok(Err(e))) => Err(e.into()),
        Ok(Err(join)) => Err(AppError::Internal(format!("pack import task: {join}"))),
        Err(_) => Ok((
            StatusCode::ACCEPTED,
            Json(UploadAccepted { name, status_url }),
        )
            .into_response()),
    }
}
