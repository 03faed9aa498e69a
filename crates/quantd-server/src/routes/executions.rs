//! `/v1/executions`: start, list, read, pause, resume, cancel; results (streamed), summary,
//! A+ report, trades and equity; `/v1/history` and `/v1/summary` as in the CLI.

use super::owned;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::extract::{ApiQuery, body_of, json_bytes, parse_json};
use crate::model::{ExecutionList, ExecutionView, Submitted};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quantd_core::{Disclosure, ExecutionKind, ExecutionState};
use quantd_engine::exec::Control;
use quantd_engine::exec::request::{LookaheadRequest, SubmitRequest};
use quantd_engine::records::{ExecutionFilter, ExecutionRecord};
use quantd_engine::results::Format;
use quantd_engine::rights::Release;
use quantd_engine::views::ExportRequest;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

/// The header that makes `POST /v1/executions` safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub(super) fn location(id: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("/v1/executions/{id}")).expect("ids are ASCII")
}

/// The view of `rec`, with its summary when it completed ([`quantd_engine::exec::Engine::with_summary`]).
async fn view(state: &AppState, rec: ExecutionRecord) -> Result<ExecutionView, AppError> {
    let rec = state.engine().with_summary(rec).await?;
    Ok(state.engine().records().view(rec).await?)
}

pub(super) fn submitted_response(status: StatusCode, body: Submitted, replayed: bool) -> Response {
    let id = body.execution.id.clone();
    let mut r = (status, Json(body)).into_response();
    r.headers_mut().insert(header::LOCATION, location(&id));
    if replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

/// Starts an execution: validated, gated on the pack's freshness, planned into shards, and run
/// by the server's worker pool.
#[utoipa::path(post, path = "/v1/executions", tag = "executions",
    request_body = SubmitRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key + same body ⇒ the same execution; same key + another body ⇒ 422")),
    responses(
        (status = 202, description = "Accepted; `Location` points at the execution", body = Submitted,
            headers(("Location" = String, description = "/v1/executions/{id}"))),
        (status = 200, description = "A completed execution with the same fingerprint (`reuse`)", body = Submitted,
            headers(("Location" = String, description = "/v1/executions/{id}"))),
        (status = 400, description = "Malformed body, unknown field, a key given twice, or Idempotency-Key sent twice", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Refused: a pack whose rights deny derived data for a session that streams it (`policy`), or a live session the workspace's policy or the server does not allow (`not-allowed`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown pack or code", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The pack is unusable (import failed)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request, code or reused Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The pack is warming; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds until the pack should be ready"))),
    ))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, AppError> {
    let key = idempotency_key(&headers)?;
    let bytes: Bytes = json_bytes(req, &state).await?;
    let value: Value = parse_json(&bytes)?;
    let body: SubmitRequest = body_of(value.clone(), "request body")?;
    let Some(key) = key else {
        return start(&state, &caller, body)
            .await
            .map(|(s, b)| submitted_response(s, b, false));
    };
    // The canonical body (keys sorted by serde_json's map) names the request.
    let hash: String = Sha256::digest(value.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let tokens = state.engine().tokens();
    let _one_at_a_time = state.inner.idempotency.lock().await;
    if let Some(prev) = tokens.idempotency_key(&caller.workspace, &key).await? {
        if prev.request_hash != hash {
            return Err(AppError::IdempotencyMismatch(key));
        }
        let rec = owned(&state, &caller, prev.execution.as_str()).await?;
        let body = Submitted {
            execution: view(&state, rec).await?,
            reused: false,
            warnings: vec![],
        };
        return Ok(submitted_response(StatusCode::ACCEPTED, body, true));
    }
    let (status, out) = start(&state, &caller, body).await?;
    let id: quantd_core::ExecutionId = super::parse_id(&out.execution.id)?;
    tokens
        .save_idempotency_key(
            &caller.workspace,
            &key,
            &hash,
            &id,
            chrono::Utc::now().timestamp_millis(),
        )
        .await?;
    Ok(submitted_response(status, out, false))
}

/// The `Idempotency-Key` header, if sent: once, 1–255 visible ASCII characters (400 else).
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let mut keys = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(first) = keys.next() else {
        return Ok(None);
    };
    let more = keys.count();
    if more > 0 {
        return Err(AppError::BadRequest(format!(
            "Idempotency-Key was sent {} times; send it once per request",
            more + 1
        )));
    }
    first
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .map(|k| Some(k.to_string()))
        .ok_or_else(|| {
            AppError::BadRequest("Idempotency-Key must be 1–255 visible ASCII characters".into())
        })
}

/// Starts a look-ahead check of a scanner or strategy: an execution of kind `check`, as `POST
/// /v1/executions` with `{"kind": "check", ...}` would. Its report is the execution's summary, and
/// `GET /v1/executions/{id}/report` (JSON or Markdown) once it completed.
#[utoipa::path(post, path = "/v1/checks/lookahead", tag = "executions",
    request_body = LookaheadRequest,
    responses(
        (status = 202, description = "Accepted; `Location` points at the execution", body = Submitted,
            headers(("Location" = String, description = "/v1/executions/{id}"))),
        (status = 200, description = "A completed check with the same fingerprint (`reuse`)", body = Submitted,
            headers(("Location" = String, description = "/v1/executions/{id}"))),
        (status = 400, description = "Malformed body, unknown field or a key given twice", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown pack or code", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The pack is unusable (import failed)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request or code", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The pack is warming; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds until the pack should be ready"))),
    ))]
pub async fn check_lookahead(
    State(state): State<AppState>,
    caller: Caller,
    req: Request,
) -> Result<Response, AppError> {
    let bytes: Bytes = json_bytes(req, &state).await?;
    let body: LookaheadRequest = body_of(parse_json(&bytes)?, "request body")?;
    start(&state, &caller, body.into_submit())
        .await
        .map(|(s, b)| submitted_response(s, b, false))
}

async fn start(
    state: &AppState,
    caller: &Caller,
    body: SubmitRequest,
) -> Result<(StatusCode, Submitted), AppError> {
    let sub = state.engine().submit_as(&caller.reader(), body).await?;
    let status = if sub.reused {
        StatusCode::OK
    } else {
        state.workers().wake();
        StatusCode::ACCEPTED
    };
    tracing::info!(workspace = %caller.workspace, execution = %sub.execution.id, reused = sub.reused, "execution submitted");
    Ok((
        status,
        Submitted {
            execution: view(state, sub.execution).await?,
            reused: sub.reused,
            warnings: sub.warnings,
        },
    ))
}

/// Filters of execution lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only executions of this code name.
    pub name: Option<String>,
    /// Only this kind: scan, test, backtest, sweep, run, import, pattern, check, evaluate.
    pub kind: Option<String>,
    /// Only this state: pending, running, paused, completed, failed, cancelled.
    #[serde(alias = "status")]
    pub state: Option<String>,
    /// Only executions created at or after this time (RFC 3339) or date (YYYY-MM-DD).
    pub since: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// At most this many (1–1000, default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only the step executions of this pattern execution (`ex_…`; a malformed id is 400).
    pub parent: Option<String>,
    /// List the executions patterns ran for their steps too (default false: they are hidden).
    pub steps: Option<bool>,
}

fn parse_since(s: &str) -> Result<i64, AppError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = s.parse::<chrono::NaiveDate>() {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis());
    }
    Err(AppError::BadRequest(format!(
        "since `{s}`: use an RFC 3339 time (2025-01-31T09:00:00Z) or a date (2025-01-31)"
    )))
}

fn filter(caller: &Caller, q: ListQuery) -> Result<ExecutionFilter, AppError> {
    let kind = q
        .kind
        .map(|k| {
            k.parse::<ExecutionKind>()
                .map_err(|e| AppError::BadRequest(e.to_string()))
        })
        .transpose()?;
    let state = q
        .state
        .map(|s| {
            s.parse::<ExecutionState>().map_err(|_| {
                AppError::BadRequest(format!(
                    "state `{s}`: use pending, running, paused, completed, failed or cancelled"
                ))
            })
        })
        .transpose()?;
    Ok(ExecutionFilter {
        workspace: Some(caller.workspace.clone()),
        name: q.name,
        kind,
        state,
        since: q.since.as_deref().map(parse_since).transpose()?,
        after: q.after,
        limit: q.limit.unwrap_or(50).clamp(1, 1000),
        top_level: q.parent.is_none() && !q.steps.unwrap_or(false),
        parent: q
            .parent
            .as_deref()
            .map(|p| {
                p.parse().map_err(|_| {
                    AppError::BadRequest(format!(
                        "parent `{}` is not an execution id (`ex_…`)",
                        quantd_engine::data::cut(p, 40)
                    ))
                })
            })
            .transpose()?,
    })
}

async fn list_page(state: &AppState, f: ExecutionFilter) -> Result<ExecutionList, AppError> {
    Ok(state.engine().records().list(&f).await?.into())
}

/// The workspace's executions, newest first, filtered, in cursor pages.
#[utoipa::path(get, path = "/v1/executions", operation_id = "list_executions", tag = "executions", params(ListQuery),
    responses(
        (status = 200, description = "One page", body = ExecutionList),
        (status = 400, description = "Bad filter or cursor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<ExecutionList>, AppError> {
    Ok(Json(list_page(&state, filter(&caller, q)?).await?))
}

/// Past executions, as `quantd history` (the same filters and pages as `GET /v1/executions`).
#[utoipa::path(get, path = "/v1/history", tag = "history", params(ListQuery),
    responses(
        (status = 200, description = "One page", body = ExecutionList),
        (status = 400, description = "Bad filter or cursor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn history(
    state: State<AppState>,
    caller: Caller,
    q: ApiQuery<ListQuery>,
) -> Result<Json<ExecutionList>, AppError> {
    list(state, caller, q).await
}

/// `?name=` of the summary.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// Only executions of this code name.
    pub name: Option<String>,
}

/// Totals over the workspace's executions, as `quantd summary`.
#[utoipa::path(get, path = "/v1/summary", tag = "history", params(SummaryQuery),
    responses(
        (status = 200, description = "Runs, success rate, signals, average return, Sharpe, drawdown, best and worst run", body = serde_json::Value),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn run_summary(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> Result<Json<Value>, AppError> {
    let s = state
        .engine()
        .records()
        .summary(&caller.workspace, q.name.as_deref())
        .await?;
    Ok(Json(serde_json::to_value(s).expect("summaries serialize")))
}

/// One execution: status, progress, health, fingerprint, timings.
#[utoipa::path(get, path = "/v1/executions/{id}", operation_id = "show_execution", tag = "executions",
    params(("id" = String, Path, description = "Execution id")),
    responses(
        (status = 200, description = "The execution", body = ExecutionView),
        (status = 404, description = "No such execution in this workspace", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ExecutionView>, AppError> {
    let rec = owned(&state, &caller, &id).await?;
    Ok(Json(view(&state, rec).await?))
}

async fn change(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Control,
) -> Result<Json<ExecutionView>, AppError> {
    let rec = owned(state, caller, id).await?;
    change_owned(state, caller, rec, action).await.map(Json)
}

/// Pauses, resumes or cancels an execution the caller owns (REST and WebSocket commands); a
/// change its state does not allow is a 409 saying why.
pub async fn change_owned(
    state: &AppState,
    caller: &Caller,
    rec: ExecutionRecord,
    action: Control,
) -> Result<ExecutionView, AppError> {
    let rec = state
        .engine()
        .control_as(&caller.reader(), &rec, action)
        .await
        .map_err(|e| match e {
            quantd_engine::EngineError::Invalid(m) => AppError::Conflict(m),
            other => other.into(),
        })?;
    state.workers().wake();
    view(state, rec).await
}

macro_rules! lifecycle {
    ($name:ident, $to:expr, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "executions",
            params(("id" = String, Path, description = "Execution id")),
            responses(
                (status = 200, description = "The execution after the change", body = ExecutionView),
                (status = 404, description = "No such execution in this workspace", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "Not allowed in the execution's state", body = Problem, content_type = "application/problem+json"),
                (status = 415, description = "A body typed as a web form or plain text (refused: any web site can send those)", body = Problem, content_type = "application/problem+json"),
            ))]
        pub async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            Path(id): Path<String>,
        ) -> Result<Json<ExecutionView>, AppError> {
            change(&state, &caller, &id, $to).await
        }
    };
}

lifecycle!(
    pause,
    Control::Pause,
    "/v1/executions/{id}/pause",
    "Pauses: no new shard starts; running ones stop within a second and go back to the queue."
);
lifecycle!(
    resume,
    Control::Resume,
    "/v1/executions/{id}/resume",
    "Resumes a paused execution on the server's workers."
);
lifecycle!(
    cancel,
    Control::Cancel,
    "/v1/executions/{id}/cancel",
    "Cancels: running shards stop within a second; committed results stay readable."
);

/// `?format=` of a report.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// json (default), ndjson, csv, parquet or md: every kind has every format.
    pub format: Option<String>,
}

/// `?format=&columns=` of results.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// json (default), ndjson, csv, parquet or md: every kind has every format.
    pub format: Option<String>,
    /// `all` (default) or `signals`: a scan's rows without their `let` columns (ticker and
    /// bar), readable whatever the data's rights (docs/rights.md).
    pub columns: Option<String>,
}

/// The attribution header of a response carrying derived data (docs/rights.md).
pub const ATTRIBUTION: &str = "quantd-attribution";

/// Headers of a released export: the attribution, if any (bytes that cannot be a header value
/// are dropped from it).
pub fn release_headers(release: &Release) -> Vec<(header::HeaderName, header::HeaderValue)> {
    release
        .attribution()
        .and_then(|a| {
            let clean: String = a.chars().filter(|c| !c.is_control()).collect();
            header::HeaderValue::from_str(&clean).ok()
        })
        .map(|v| (header::HeaderName::from_static(ATTRIBUTION), v))
        .into_iter()
        .collect()
}

fn content_type(f: Format) -> &'static str {
    match f {
        Format::Json => "application/json",
        Format::Ndjson => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
        Format::Parquet => "application/vnd.apache.parquet",
        Format::Md | Format::Table => "text/markdown; charset=utf-8",
    }
}

/// A `Write` that sends what it is given to a response body, waiting when the client is slow.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        futures::executor::block_on(self.tx.send(Ok(chunk)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 << 10 {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        let _ = self.send();
    }
}

/// Streams a scan's rows shard by shard: memory stays bounded by one shard and a 16-chunk buffer.
fn stream_scan(
    state: &AppState,
    rec: &ExecutionRecord,
    req: ExportRequest,
    release: Release,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let state = state.clone();
    let rec = rec.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let err_tx = tx.clone();
        let out = ChannelWriter {
            tx,
            buf: Vec::new(),
        };
        if let Err(e) = handle.block_on(state.engine().write_export(&rec, &req, &release, out)) {
            tracing::error!(execution = %rec.id, error = %e, "streaming results failed");
            let _ = futures::executor::block_on(
                err_tx.send(Err(std::io::Error::other("results failed"))),
            );
        }
    });
    Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// An execution's results in any format: scan rows (streamed), backtest statistics per
/// ticker, sweep parameter sets with mean statistics, A+ verdict rows, a run's log lines, an
/// import's outcome. Data rights decide first: derived data (scan `let` columns, a run's
/// output) of a `deny` pack is a 403 `policy` problem; of a `watermark` pack it carries a
/// watermark (docs/rights.md).
#[utoipa::path(get, path = "/v1/executions/{id}/results", tag = "results",
    params(("id" = String, Path, description = "Execution id"), ResultsQuery),
    responses(
        (status = 200, description = "The results committed so far; a watermarked JSON export is `{watermark, rows}`; header `quantd-attribution` carries the data's attribution", content(
            (serde_json::Value = "application/json"), (String = "application/x-ndjson"), (String = "text/csv"),
            (String = "text/markdown"), (String = "application/vnd.apache.parquet"))),
        (status = 400, description = "Unknown or unavailable format", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The data's rights deny exporting these results", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such execution in this workspace", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn results(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ResultsQuery>,
) -> Result<Response, AppError> {
    let rec = owned(&state, &caller, &id).await?;
    let format = match q.format.as_deref() {
        None => Format::Json,
        Some(f) => Format::parse(f)
            .ok()
            .filter(|f| *f != Format::Table)
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "format `{f}`: use json, ndjson, csv, parquet or md"
                ))
            })?,
    };
    let signals_only = match q.columns.as_deref() {
        None | Some("all") => false,
        Some("signals") => true,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "columns `{}`: use all or signals",
                quantd_engine::data::cut(other, 40)
            )));
        }
    };
    let req = ExportRequest {
        format,
        signals_only,
        max_rows: None,
    };
    let release = state
        .engine()
        .release_export(&rec, &req, &caller.reader())
        .await?;
    // `Vec<u8>` answers `application/octet-stream` by itself: the type is set (not appended).
    let kind = [(header::CONTENT_TYPE, content_type(format))];
    let attribution = axum::response::AppendHeaders(release_headers(&release));
    if rec.kind == ExecutionKind::Scan {
        let body = stream_scan(&state, &rec, req, release);
        return Ok((kind, attribution, body).into_response());
    }
    // Every other kind's view is one table in memory (bounded by the result limits): errors
    // answer before the status line.
    let mut body = Vec::new();
    state
        .engine()
        .write_export(&rec, &req, &release, &mut body)
        .await?;
    Ok((kind, attribution, body).into_response())
}

async fn report_response(
    state: &AppState,
    rec: &ExecutionRecord,
    format: Format,
) -> Result<Response, AppError> {
    if rec.kind == ExecutionKind::Check {
        return check_report_response(state, rec, format).await;
    }
    let report = state.engine().test_report(&rec.id).await?;
    match format {
        Format::Md => Ok((
            [(header::CONTENT_TYPE, content_type(Format::Md))],
            report.markdown(rec.name.as_deref().unwrap_or(rec.id.as_str())),
        )
            .into_response()),
        Format::Json => Ok(Json(json!({"execution": rec.id, "report": report})).into_response()),
        other => Err(AppError::BadRequest(format!(
            "an A+ report is md or json, not {other:?}"
        ))),
    }
}

/// The report of a check execution, as JSON or Markdown.
async fn check_report_response(
    state: &AppState,
    rec: &ExecutionRecord,
    format: Format,
) -> Result<Response, AppError> {
    if rec.state != ExecutionState::Completed {
        return Err(AppError::Conflict(format!(
            "check {} is {}: its report is ready when it completed",
            rec.id, rec.state
        )));
    }
    let report = state.engine().check_report(&rec.id).await?;
    match format {
        Format::Md => Ok((
            [(header::CONTENT_TYPE, content_type(Format::Md))],
            report.markdown(),
        )
            .into_response()),
        Format::Json => Ok(Json(json!({"execution": rec.id, "report": report})).into_response()),
        other => Err(AppError::BadRequest(format!(
            "a check report is md or json, not {other:?}"
        ))),
    }
}

/// The stored summary of an execution (computed once it completed).
#[utoipa::path(get, path = "/v1/executions/{id}/summary", tag = "results",
    params(("id" = String, Path, description = "Execution id")),
    responses(
        (status = 200, description = "`{execution, state, summary}`; summary is null until the execution completes", body = serde_json::Value),
        (status = 404, description = "No such execution in this workspace", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let rec = owned(&state, &caller, &id).await?;
    let rec = state.engine().with_summary(rec).await?;
    Ok(Json(
        json!({"execution": rec.id, "kind": rec.kind, "state": rec.state, "summary": rec.summary}),
    ))
}

/// The report of a test execution (A+) or of a check execution (look-ahead).
#[utoipa::path(get, path = "/v1/executions/{id}/report", tag = "results",
    params(("id" = String, Path, description = "Execution id"), FormatQuery),
    responses(
        (status = 200, description = "The report", content((serde_json::Value = "application/json"), (String = "text/markdown"))),
        (status = 400, description = "Unknown format", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such execution in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A check that has not completed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an A+ test or a check", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<FormatQuery>,
) -> Result<Response, AppError> {
    let rec = owned(&state, &caller, &id).await?;
    let format = match q.format.as_deref() {
        None => Format::Json,
        Some(f) => Format::parse(f)
            .map_err(|_| AppError::BadRequest(format!("format `{f}`: use json or md")))?,
    };
    report_response(&state, &rec, format).await
}

async fn backtests(
    state: &AppState,
    caller: &Caller,
    id: &str,
    what: &str,
) -> Result<(Vec<quantd_engine::exec::strategy::TickerBacktest>, Release), AppError> {
    let rec = owned(state, caller, id).await?;
    let release = state
        .engine()
        .release(&rec, &caller.reader(), Disclosure::Derived, what)
        .await?;
    Ok((state.engine().backtest_results(&rec.id).await?, release))
}

/// `rows` as a response under `release`: wrapped with the watermark when it has one, with the
/// attribution header.
fn released_json(rows: Value, release: &Release) -> Response {
    let body = match &release.watermark {
        Some(w) => w.wrap(rows),
        None => rows,
    };
    (
        axum::response::AppendHeaders(release_headers(release)),
        Json(body),
    )
        .into_response()
}

/// Every trade of a backtest, per ticker. Trades are derived data: refused for a `deny` pack,
/// watermarked (`{watermark, rows}`) for a `watermark` pack (docs/rights.md).
#[utoipa::path(get, path = "/v1/executions/{id}/trades", tag = "results",
    params(("id" = String, Path, description = "Execution id")),
    responses(
        (status = 200, description = "`[{ticker, trades: [...]}]` (backtesting.py's trade columns); watermarked: `{watermark, rows}`", body = serde_json::Value),
        (status = 403, description = "The data's rights deny exporting trades", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such execution in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a backtest", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn trades(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let (results, release) = backtests(&state, &caller, &id, "trades as json").await?;
    let rows: Vec<Value> = results
        .into_iter()
        .map(|t| json!({"ticker": t.ticker, "trades": t.trades, "open_trade": t.open_trade}))
        .collect();
    Ok(released_json(Value::Array(rows), &release))
}

/// `?after=&limit=` of a paper session's record.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    /// Only events with a sequence number above this (the `next` of the previous page).
    pub after: Option<u64>,
    /// Events per page (default and maximum 10,000).
    pub limit: Option<u32>,
}

/// A paper session's record so far: every order event (accepted, rejected with the reason,
/// filled with ticker, size and price, cancelled, expired) and each trading day's account, in
/// the order they happened; the same events stream live on `/events` and `/ws`. Fill prices are
/// the pack's: derived data, released as trades are.
#[utoipa::path(get, path = "/v1/executions/{id}/orders", tag = "results",
    params(("id" = String, Path, description = "Execution id"), RecordQuery),
    responses(
        (status = 200, description = "`{events: [{seq, at, type: order|session-day, ...}], next}`; `next` is the `after` of the next page, null on the last so far; watermarked: `{watermark, rows}`", body = serde_json::Value),
        (status = 400, description = "A query parameter other than `after` and `limit`, or one that is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The data's rights deny exporting derived data", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such execution in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a paper session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn orders(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<RecordQuery>,
) -> Result<Response, AppError> {
    let rec = owned(&state, &caller, &id).await?;
    let record = state
        .engine()
        .session_record(
            &rec.id,
            q.after.unwrap_or(0),
            q.limit
                .unwrap_or(quantd_engine::exec::kinds::paper::MAX_RECORD_PAGE),
        )
        .await?;
    let release = state
        .engine()
        .release(
            &rec,
            &caller.reader(),
            Disclosure::Derived,
            "orders as json",
        )
        .await?;
    Ok(released_json(json!(record), &release))
}

/// Equity curves of a backtest (kept for universes of at most 100 tickers). Derived data, as
/// trades.
#[utoipa::path(get, path = "/v1/executions/{id}/equity", tag = "results",
    params(("id" = String, Path, description = "Execution id")),
    responses(
        (status = 200, description = "`[{ticker, points: [{date, equity, drawdown}]}]`; `date` is `YYYY-MM-DD` for daily bars, RFC 3339 with the offset of the pack's zone for intraday bars; watermarked: `{watermark, rows}`", body = serde_json::Value),
        (status = 403, description = "The data's rights deny exporting equity curves", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such execution in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a backtest", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn equity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let (results, release) = backtests(&state, &caller, &id, "equity as json").await?;
    let rows: Vec<Value> = results
        .into_iter()
        .map(|t| {
            let points: Vec<Value> = t
                .equity
                .unwrap_or_default()
                .into_iter()
                .map(|(time, equity, drawdown)| {
                    json!({"date": t.calendar.format(time), "equity": equity, "drawdown": drawdown})
                })
                .collect();
            json!({"ticker": t.ticker, "points": points})
        })
        .collect();
    Ok(released_json(Value::Array(rows), &release))
}
