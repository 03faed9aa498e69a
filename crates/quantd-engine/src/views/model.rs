//! The views surfaces return for stored records — executions (with progress and health),
//! packs, code names and versions — and the code bodies they accept: the JSON of the HTTP API
//! and the structured content of the MCP tools, made here once. With the `openapi` feature each
//! has its schema (the API's document and the MCP tools' input and output schemas).

use crate::code::{CodeSource, StrategyExprs};
use crate::error::{EngineError, Result};
use crate::exec::health::Health;
use crate::records::{CodeName, CodeVersion, ExecutionRecord, PackRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One diagnostic of scanner or strategy code.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeDiagnostic {
    /// What is wrong.
    pub message: String,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// 1-based column of the problem, when known.
    pub column: Option<usize>,
    /// How to fix it, when known.
    pub help: Option<String>,
    /// Which expression of a strategy (`entry`, `exit`, …), when several.
    pub expression: Option<String>,
    /// Where in a pattern document: its JSON path (`steps[2].needs[0]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl From<&quantd_pattern::Problem> for CodeDiagnostic {
    fn from(p: &quantd_pattern::Problem) -> Self {
        CodeDiagnostic {
            message: p.message.clone(),
            line: None,
            column: None,
            help: p.help.clone(),
            expression: None,
            path: Some(p.path.clone()),
        }
    }
}

impl From<&quantd_expr::Diagnostic> for CodeDiagnostic {
    fn from(d: &quantd_expr::Diagnostic) -> Self {
        CodeDiagnostic {
            message: d.message.clone(),
            line: d.location.as_ref().map(|l| l.line),
            column: d.location.as_ref().map(|l| l.column),
            help: d.help.clone(),
            expression: d.origin.clone(),
            path: None,
        }
    }
}

/// Code to store or validate: exactly one of `expr`, `python`, `strategy`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// A scanner expression.
    #[serde(default)]
    pub expr: Option<String>,
    /// A Python file's source (stored now; runs in the sandbox).
    #[serde(default)]
    pub python: Option<String>,
    /// A strategy of expressions.
    #[serde(default)]
    pub strategy: Option<StrategyExprs>,
    /// A pattern document: `inputs` and `steps` (docs/patterns.md), as a JSON object, or as
    /// its text (JSON or YAML).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub pattern: Option<Value>,
}

impl CodeBody {
    /// The engine's source, or what is wrong with the body.
    pub fn source(self) -> Result<CodeSource> {
        match (self.expr, self.python, self.strategy, self.pattern) {
            (Some(e), None, None, None) => Ok(CodeSource::Expr(e)),
            (None, Some(p), None, None) => Ok(CodeSource::Python(p)),
            (None, None, Some(s), None) => Ok(CodeSource::Strategy(s)),
            (None, None, None, Some(Value::String(text))) => Ok(CodeSource::Pattern(text)),
            (None, None, None, Some(p)) => Ok(CodeSource::Pattern(p.to_string())),
            _ => Err(EngineError::Invalid(
                "give exactly one of `expr`, `python`, `strategy` or `pattern`".into(),
            )),
        }
    }
}

/// `POST /v1/code/{name}/rollback`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    /// The version to point at (default: the one before the current).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub to: Option<u32>,
}

/// A stored code version.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeVersionView {
    /// The name.
    pub name: String,
    /// Its number under the name, from 1.
    pub version: u32,
    /// Content id (hash of language and source).
    pub id: String,
    /// `expr`, `strategy` or `python`.
    pub language: String,
    /// The source text (a strategy is JSON of its expressions).
    pub source: String,
    /// Parameter names the code uses.
    pub params: Vec<String>,
    /// When it was added.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<CodeVersion> for CodeVersionView {
    fn from(v: CodeVersion) -> Self {
        CodeVersionView {
            name: v.name,
            version: v.version,
            id: v.id.to_string(),
            language: v.language,
            source: v.source,
            params: v.params,
            created_at: v.created_at,
        }
    }
}

/// What adding code did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeAdded {
    /// The version the name now resolves to.
    pub version: CodeVersionView,
    /// True when the current version already had this content (nothing was added).
    pub unchanged: bool,
}

/// A code name and where it points.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeNameView {
    /// The name.
    pub name: String,
    /// The version `NAME` resolves to.
    pub current: u32,
    /// How many versions exist.
    pub versions: u32,
    /// The current version's language.
    pub language: String,
    /// When the name last changed.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<CodeName> for CodeNameView {
    fn from(n: CodeName) -> Self {
        CodeNameView {
            name: n.name,
            current: n.current,
            versions: n.versions,
            language: n.language,
            updated_at: n.updated_at,
        }
    }
}

/// One page of code names.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeList {
    /// The names of this page.
    pub items: Vec<CodeNameView>,
    /// Cursor of the next page (`?after=`), `null` on the last.
    pub next: Option<String>,
}

/// The outcome of `POST /v1/validate` for valid code.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Validated {
    /// Always true (invalid code answers 422 with diagnostics).
    pub valid: bool,
    /// `expr`, `strategy` or `python`.
    pub language: String,
    /// Parameter names the code uses (`$name`).
    pub params: Vec<String>,
    /// The content id the code would be stored under.
    pub id: String,
}

/// Progress counters.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgressView {
    /// Shards finished (done or failed).
    pub done: u32,
    /// Shards in the plan.
    pub total: u32,
    /// done / total, from 0 to 1.
    pub fraction: f64,
}

/// Execution health.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthView {
    /// Finished shards / shards.
    pub completion_rate: f64,
    /// Failed attempts / attempts.
    pub error_rate: f64,
    /// Mean duration of finished shards, in milliseconds.
    pub avg_shard_ms: Option<f64>,
    /// 0–100.
    pub score: u8,
    /// `excellent`, `good`, `degraded` or `critical`.
    pub band: String,
}

impl From<Health> for HealthView {
    fn from(h: Health) -> Self {
        HealthView {
            completion_rate: h.completion_rate,
            error_rate: h.error_rate,
            avg_shard_ms: h.avg_shard_ms,
            score: h.score,
            band: h.band.to_string(),
        }
    }
}

/// An execution: status, progress, health, fingerprint, timings.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecutionView {
    /// The id (`ex_…`).
    pub id: String,
    /// Its kind.
    #[cfg_attr(feature = "openapi", schema(value_type = quantd_core::ExecutionKind))]
    pub kind: String,
    /// The stored code's name, if it runs stored code.
    pub name: Option<String>,
    /// Where it is in its life.
    #[cfg_attr(feature = "openapi", schema(value_type = quantd_core::ExecutionState))]
    pub state: String,
    /// Hash of code, pack, params and engine version: same fingerprint, same results.
    pub fingerprint: String,
    /// The pack read.
    pub pack_id: String,
    /// The code version's content id, if stored code.
    pub code_version: Option<String>,
    /// Shard counters.
    pub progress: ProgressView,
    /// Shards done.
    pub shards_done: u32,
    /// Shards failed for good.
    pub shards_failed: u32,
    /// Bars processed.
    pub bars: u64,
    /// Result rows.
    pub rows: u64,
    /// Shard attempts started.
    pub attempts: u32,
    /// Shard attempts that failed.
    pub failed_attempts: u32,
    /// Health (present on single-execution reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthView>,
    /// Class of the error that failed it.
    pub error_class: Option<String>,
    /// The error that failed it.
    pub error_message: Option<String>,
    /// Metrics of the finished execution.
    pub summary: Option<Value>,
    /// The resolved spec (code text, pack id, params, …).
    pub spec: Value,
    /// Retry and failure policies.
    pub options: Value,
    /// Created (RFC 3339).
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// First shard started.
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Finished.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Wall time from start to finish (or until now), in milliseconds.
    pub duration_ms: Option<i64>,
    /// The pattern execution it runs a step of, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The step (and attempt, `scan@1`) it runs for that pattern.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_step: Option<String>,
}

fn ms(t: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(t).unwrap_or_default()
}

impl ExecutionView {
    /// The view of a record, with health when given.
    pub fn new(r: ExecutionRecord, health: Option<Health>) -> Self {
        let done = r.shards_done + r.shards_failed;
        let end = r
            .finished_at
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        ExecutionView {
            id: r.id.to_string(),
            kind: r.kind.to_string(),
            name: r.name,
            state: r.state.to_string(),
            fingerprint: r.fingerprint,
            pack_id: r.pack_id,
            code_version: r.code_version,
            progress: ProgressView {
                done,
                total: r.shards_total,
                fraction: if r.shards_total == 0 {
                    1.0
                } else {
                    done as f64 / r.shards_total as f64
                },
            },
            shards_done: r.shards_done,
            shards_failed: r.shards_failed,
            bars: r.bars,
            rows: r.rows,
            attempts: r.attempts,
            failed_attempts: r.failed_attempts,
            health: health.map(Into::into),
            error_class: r.error_class.map(|c| c.as_str().to_string()),
            error_message: r.error_message,
            summary: r.summary,
            spec: r.spec,
            options: r.options,
            created_at: ms(r.created_at),
            started_at: r.started_at.map(ms),
            finished_at: r.finished_at.map(ms),
            duration_ms: r.started_at.map(|s| end - s),
            parent_id: r.parent_id.map(|p| p.to_string()),
            parent_step: r.parent_step,
        }
    }
}

/// What `POST /v1/executions` did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Submitted {
    /// The execution (new, or the reused / idempotent one).
    pub execution: ExecutionView,
    /// True when a completed execution with the same fingerprint was returned (`reuse`).
    pub reused: bool,
    /// Things to know (a stale pack).
    pub warnings: Vec<String>,
}

/// What `POST /v1/execute` answers when the execution ended within the wait.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Executed {
    /// The execution as it ended.
    pub execution: ExecutionView,
    /// What it produced, as a pattern step's outputs (docs/patterns.md lists them per kind); null
    /// when it did not complete.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub result: Value,
    /// The pack it read (with the code versions, what makes it reproducible).
    pub pack_id: String,
    /// The stored code version it ran, if any.
    pub code_version: Option<String>,
    /// Hash of code, pack, parameters and engine version.
    pub fingerprint: String,
    /// True when a completed execution with the same fingerprint was returned (`reuse`).
    pub reused: bool,
    /// Things to know (a stale pack).
    pub warnings: Vec<String>,
}

impl From<crate::records::Paged<ExecutionRecord>> for ExecutionList {
    /// A page of records as listed (no health: that needs each execution's shards).
    fn from(page: crate::records::Paged<ExecutionRecord>) -> Self {
        ExecutionList {
            items: page
                .items
                .into_iter()
                .map(|r| ExecutionView::new(r, None))
                .collect(),
            next: page.next,
        }
    }
}

/// One page of executions, newest first.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecutionList {
    /// The executions of this page.
    pub items: Vec<ExecutionView>,
    /// Cursor of the next page (`?after=`), `null` on the last.
    pub next: Option<String>,
}

/// The rights of a pack: the terms that apply to it (its provider's when it names one, else its
/// own; docs/rights.md).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RightsView {
    /// The provider of the rights registry whose terms apply, if the pack names one.
    pub provider: Option<String>,
    /// Where the data came from.
    pub source: Option<String>,
    /// Its license.
    pub license: Option<String>,
    /// Attribution to show with it and with everything derived from it.
    pub attribution: Option<String>,
    /// What may leave quantd of its bars and of what is derived from them: `allow`,
    /// `watermark` or `deny`.
    pub export: quantd_core::ExportPolicy,
    /// Whether bars may be exported (`export` is not `deny`).
    pub export_allowed: bool,
}

impl RightsView {
    /// The view of a pack's `rights` under the `terms` that apply to it.
    pub fn new(rights: &quantd_core::Rights, terms: &quantd_core::Terms) -> RightsView {
        let source = terms.sources.first();
        RightsView {
            provider: rights.provider.clone(),
            source: rights.source.clone(),
            license: source.and_then(|s| s.license.clone()),
            attribution: terms.attribution(),
            export: terms.export(),
            export_allowed: terms.export() != quantd_core::ExportPolicy::Deny,
        }
    }
}

/// A pack (shared market data, read-only to workspaces).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackView {
    /// Its name.
    pub name: String,
    /// Content id.
    pub id: String,
    /// `warming`, `fresh`, `stale` or `error`.
    #[cfg_attr(feature = "openapi", schema(value_type = quantd_core::PackState))]
    pub state: String,
    /// Why an import failed.
    pub error: Option<String>,
    /// When the import started.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// While warming: when it should be ready.
    pub estimated_ready: Option<chrono::DateTime<chrono::Utc>>,
    /// Tickers.
    pub tickers: u64,
    /// Bars.
    pub bars: u64,
    /// First date.
    pub first_date: chrono::NaiveDate,
    /// Last date.
    pub last_date: chrono::NaiveDate,
    /// Bar interval: `1m`, `5m`, `15m`, `30m`, `1h`, `4h`, `1d`, `1w`, `1mo` or `irregular`.
    pub interval: String,
    /// The exchange's time zone (IANA name, or `UTC`).
    pub zone: String,
    /// The first bar: `YYYY-MM-DD` for daily bars, RFC 3339 with its offset for intraday ones.
    pub first_bar: String,
    /// The last bar, written the same way.
    pub last_bar: String,
    /// Value columns.
    pub columns: Vec<String>,
    /// Rows dropped by a lenient import.
    pub rows_dropped: u64,
    /// The imported file, or `synth …`.
    pub origin: String,
    /// Rights metadata.
    pub rights: RightsView,
}

impl PackView {
    /// The view of catalog row `p` whose rights resolve to `terms`
    /// ([`crate::Engine::pack_view`] resolves them).
    pub fn new(p: PackRecord, terms: &quantd_core::Terms) -> Self {
        let rights = RightsView::new(&p.rights, terms);
        PackView {
            name: p.name,
            id: p.id.to_string(),
            state: p.state.to_string(),
            error: p.error,
            created_at: p.created_at,
            estimated_ready: p.estimated_ready,
            tickers: p.tickers,
            bars: p.bars,
            first_date: p.first_date,
            last_date: p.last_date,
            interval: p.timing.interval,
            zone: p.timing.zone,
            first_bar: p.timing.first_bar,
            last_bar: p.timing.last_bar,
            columns: p.columns,
            rows_dropped: p.rows_dropped,
            origin: p.origin,
            rights,
        }
    }
}

/// One page of packs, newest first.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackList {
    /// The packs of this page.
    pub items: Vec<PackView>,
    /// Cursor of the next page (`?after=`), `null` on the last.
    pub next: Option<String>,
}
