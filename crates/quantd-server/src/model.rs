//! The API's request and response bodies, as they appear in the OpenAPI document.
//!
//! Requests reject unknown fields (`deny_unknown_fields`: a typo is a 400, not a silent
//! default). Responses mirror the store's records with the fields clients need; conversions
//! live here so that routes stay one call into the engine.

use crate::error::AppError;
use quantd_engine::code::{CodeSource, StrategyExprs};
use quantd_engine::exec::health::Health;
use quantd_engine::exec::retry::RetryPolicy;
use quantd_engine::exec::spec::{
    BacktestRequest, CodeChoice, JobRequest, RunRequest, ScanRequest, StrategyChoice, SubmitSpec,
    SweepRequest, TestRequest,
};
use quantd_engine::exec::{ExecutionOptions, ShardFailurePolicy};
use quantd_store::{CodeName, CodeVersion, ExecutionRecord, PackRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A strategy of expressions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyBody {
    /// Enter long when true.
    pub entry: String,
    /// Exit long when true.
    pub exit: String,
    /// Enter short when true.
    #[serde(default)]
    pub short_entry: Option<String>,
    /// Exit short when true.
    #[serde(default)]
    pub short_exit: Option<String>,
}

impl From<StrategyBody> for StrategyExprs {
    fn from(s: StrategyBody) -> Self {
        StrategyExprs {
            entry: s.entry,
            exit: s.exit,
            short_entry: s.short_entry,
            short_exit: s.short_exit,
        }
    }
}

/// Code to store or validate: exactly one of `expr`, `python`, `strategy`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
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
    pub strategy: Option<StrategyBody>,
}

impl CodeBody {
    /// The engine's source, or what is wrong with the body.
    pub fn source(self) -> Result<CodeSource, AppError> {
        match (self.expr, self.python, self.strategy) {
            (Some(e), None, None) => Ok(CodeSource::Expr(e)),
            (None, Some(p), None) => Ok(CodeSource::Python(p)),
            (None, None, Some(s)) => Ok(CodeSource::Strategy(s.into())),
            _ => Err(AppError::BadRequest(
                "give exactly one of `expr`, `python` or `strategy`".into(),
            )),
        }
    }
}

/// `POST /v1/code/{name}/rollback`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    /// The version to point at (default: the one before the current).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub to: Option<u32>,
}

/// A stored code version.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CodeAdded {
    /// The version the name now resolves to.
    pub version: CodeVersionView,
    /// True when the current version already had this content (nothing was added).
    pub unchanged: bool,
}

/// A code name and where it points.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CodeList {
    /// The names of this page.
    pub items: Vec<CodeNameView>,
    /// Cursor of the next page (`?after=`), `null` on the last.
    pub next: Option<String>,
}

/// The outcome of `POST /v1/validate` for valid code.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

/// An A+ test example.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExampleBody {
    /// The ticker.
    pub ticker: String,
    /// The date a signal is (or is not) expected on.
    pub date: chrono::NaiveDate,
    /// Whether a signal is expected (default true).
    #[serde(default = "yes")]
    pub expected: bool,
}

fn yes() -> bool {
    true
}

/// Execution kinds the API starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubmitKind {
    /// A scanner over a pack: signal rows.
    Scan,
    /// An A+ test of a scanner on example names.
    Test,
    /// A strategy backtest per ticker.
    Backtest,
    /// A backtest over a parameter grid.
    Sweep,
    /// A whole Python bot script in the sandbox (`script`, `name`, `args`, `timeout`), with the
    /// pack readable; its log and metrics are its results.
    Run,
}

/// Shard failure policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnShardFailure {
    /// The execution fails at once.
    #[default]
    Fail,
    /// The execution goes on and lists the failed shards.
    Continue,
}

/// Engine options of an execution.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionsBody {
    /// Attempts per shard, the first included (retryable errors only; default 3).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub max_attempts: Option<u32>,
    /// What a shard that fails for good does.
    #[serde(default)]
    pub on_shard_failure: OnShardFailure,
}

/// `POST /v1/executions`: what to run.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// The kind of execution.
    pub kind: SubmitKind,
    /// Stored code, `NAME` or `NAME@N` (a scanner for scan/test, a strategy for backtest/sweep).
    #[serde(default)]
    pub code: Option<String>,
    /// An inline scanner expression (scan, test).
    #[serde(default)]
    pub expr: Option<String>,
    /// An inline strategy (backtest, sweep).
    #[serde(default)]
    pub strategy: Option<StrategyBody>,
    /// Pack name, id or id prefix; default: the newest fresh pack.
    #[serde(default)]
    pub pack: Option<String>,
    /// `$name` parameter values.
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
    /// Only these tickers.
    #[serde(default)]
    pub tickers: Option<Vec<String>>,
    /// First date (scan: signals kept; backtest: first bar traded).
    #[serde(default)]
    pub from: Option<chrono::NaiveDate>,
    /// Last date.
    #[serde(default)]
    pub to: Option<chrono::NaiveDate>,
    /// A+ test examples.
    #[serde(default)]
    pub examples: Vec<ExampleBody>,
    /// A+ test: bars a signal may be away from an example date.
    #[serde(default)]
    #[schema(maximum = 1000)]
    pub tolerance: Option<u32>,
    /// Sweep grid: `name=start..end:step` or `name=v1,v2`.
    #[serde(default)]
    pub grid: Vec<String>,
    /// Sweep: a condition on the parameters, e.g. `fast < slow`.
    #[serde(default)]
    pub constraint: Option<String>,
    /// Backtest settings (cash, commission, fill, sizing, stops), as quantd-backtest's Config.
    #[serde(default)]
    pub config: Option<Value>,
    /// Retries and failure policy.
    #[serde(default)]
    pub options: OptionsBody,
    /// Return a completed execution with the same fingerprint instead of running again.
    #[serde(default)]
    pub reuse: bool,
    /// Run: the Python script's source.
    #[serde(default)]
    pub script: Option<String>,
    /// Run: the name it is listed under in history and summary (default `run`).
    #[serde(default)]
    pub name: Option<String>,
    /// Run: the script's arguments (`sys.argv[1:]`).
    #[serde(default)]
    pub args: Vec<String>,
    /// Run: wall-clock limit in seconds (default 300).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 86400)]
    pub timeout: Option<u64>,
}

impl SubmitBody {
    /// The engine request, or what is wrong with the body.
    pub fn into_spec(self) -> Result<SubmitSpec, AppError> {
        let bad = |m: &str| AppError::BadRequest(m.to_string());
        let scanner = |code: Option<String>, expr: Option<String>| match (code, expr) {
            (Some(c), None) => Ok(CodeChoice::Stored(c)),
            (None, Some(e)) => Ok(CodeChoice::Inline(e)),
            _ => Err(bad("give exactly one of `code` or `expr` for a scanner")),
        };
        let strategy = |code: Option<String>, s: Option<StrategyBody>| match (code, s) {
            (Some(c), None) => Ok(StrategyChoice::Stored(c)),
            (None, Some(s)) => Ok(StrategyChoice::Inline(s.into())),
            _ => Err(bad(
                "give exactly one of `code` or `strategy` for a strategy",
            )),
        };
        let config = match self.config {
            Some(v) => serde_json::from_value(v)
                .map_err(|e| AppError::BadRequest(format!("`config`: {e}")))?,
            None => quantd_backtest::Config::default(),
        };
        if self.kind != SubmitKind::Run
            && (self.script.is_some()
                || self.name.is_some()
                || !self.args.is_empty()
                || self.timeout.is_some())
        {
            return Err(bad(
                "`script`, `name`, `args` and `timeout` are for kind `run`",
            ));
        }
        let job = match self.kind {
            SubmitKind::Run => JobRequest::Run(RunRequest {
                script: self
                    .script
                    .ok_or_else(|| bad("kind `run` needs `script`: the Python source"))?,
                name: self.name.unwrap_or_else(|| "run".into()),
                args: self.args,
                timeout_secs: self.timeout.unwrap_or(300),
            }),
            SubmitKind::Scan => JobRequest::Scan(ScanRequest {
                code: scanner(self.code, self.expr)?,
                params: self.params,
                tickers: self.tickers,
                from: self.from,
                to: self.to,
            }),
            SubmitKind::Test => JobRequest::Test(TestRequest {
                code: scanner(self.code, self.expr)?,
                params: self.params,
                examples: self
                    .examples
                    .into_iter()
                    .map(|e| quantd_engine::atest::Example {
                        ticker: e.ticker,
                        date: e.date,
                        expected: e.expected,
                    })
                    .collect(),
                tolerance: self.tolerance.unwrap_or(2) as usize,
            }),
            SubmitKind::Backtest | SubmitKind::Sweep => {
                let backtest = BacktestRequest {
                    strategy: strategy(self.code, self.strategy)?,
                    params: self.params,
                    tickers: self.tickers,
                    from: self.from,
                    to: self.to,
                    config,
                };
                if self.kind == SubmitKind::Backtest {
                    JobRequest::Backtest(backtest)
                } else {
                    JobRequest::Sweep(SweepRequest {
                        backtest,
                        grid: self.grid,
                        constraint: self.constraint,
                    })
                }
            }
        };
        Ok(SubmitSpec {
            job,
            pack: self.pack,
            options: ExecutionOptions {
                retry: RetryPolicy {
                    maximum_attempts: self.options.max_attempts.unwrap_or(3).max(1),
                    ..RetryPolicy::default()
                },
                on_shard_failure: match self.options.on_shard_failure {
                    OnShardFailure::Fail => ShardFailurePolicy::Fail,
                    OnShardFailure::Continue => ShardFailurePolicy::Continue,
                },
            },
            reuse: self.reuse,
        })
    }
}

/// Progress counters.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressView {
    /// Shards finished (done or failed).
    pub done: u32,
    /// Shards in the plan.
    pub total: u32,
    /// done / total, from 0 to 1.
    pub fraction: f64,
}

/// Execution health.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExecutionView {
    /// The id (`ex_…`).
    pub id: String,
    /// `scan`, `test`, `backtest`, `sweep`, `run` or `pattern`.
    pub kind: String,
    /// The stored code's name, if it runs stored code.
    pub name: Option<String>,
    /// `pending`, `running`, `paused`, `completed`, `failed` or `cancelled`.
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
        }
    }
}

/// What `POST /v1/executions` did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Submitted {
    /// The execution (new, or the reused / idempotent one).
    pub execution: ExecutionView,
    /// True when a completed execution with the same fingerprint was returned (`reuse`).
    pub reused: bool,
    /// Things to know (a stale pack).
    pub warnings: Vec<String>,
}

/// One page of executions, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExecutionList {
    /// The executions of this page.
    pub items: Vec<ExecutionView>,
    /// Cursor of the next page (`?after=`), `null` on the last.
    pub next: Option<String>,
}

/// Rights metadata of a pack.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RightsView {
    /// Where the data came from.
    pub source: Option<String>,
    /// Its license.
    pub license: Option<String>,
    /// Attribution to show with it.
    pub attribution: Option<String>,
    /// Whether bars may be exported.
    pub export_allowed: bool,
}

/// A pack (shared market data, read-only to workspaces).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PackView {
    /// Its name.
    pub name: String,
    /// Content id.
    pub id: String,
    /// `warming`, `fresh`, `stale` or `error`.
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
    /// Value columns.
    pub columns: Vec<String>,
    /// Rows dropped by a lenient import.
    pub rows_dropped: u64,
    /// The imported file, or `synth …`.
    pub origin: String,
    /// Rights metadata.
    pub rights: RightsView,
}

impl From<PackRecord> for PackView {
    fn from(p: PackRecord) -> Self {
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
            columns: p.columns,
            rows_dropped: p.rows_dropped,
            origin: p.origin,
            rights: RightsView {
                source: p.rights.source,
                license: p.rights.license,
                attribution: p.rights.attribution,
                export_allowed: p.rights.export_allowed,
            },
        }
    }
}

/// One page of packs, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PackList {
    /// The packs of this page.
    pub items: Vec<PackView>,
    /// Cursor of the next page (`?after=`), `null` on the last.
    pub next: Option<String>,
}

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
