//! The tools' work: each one parses its arguments, makes the engine call the HTTP API's route
//! makes (scoped to the caller's workspace), and returns the engine's view as JSON. Nothing
//! here knows MCP's wire types; [`crate::server`] maps these to tool results.

use crate::args::*;
use crate::error::ToolError;
use quantd_core::ExecutionState;
use quantd_core::state::StateMachine;
use quantd_engine::exec::Engine;
use quantd_engine::exec::pool::Pool;
use quantd_engine::exec::request::{EvaluateRequest, LookaheadRequest, SubmitRequest};
use quantd_engine::records::{ExecutionFilter, ExecutionRecord, Page};
use quantd_engine::rights::Reader;
use quantd_engine::views::model::{
    CodeAdded, CodeBody, CodeNameView, CodeVersionView, ExecutionList, PackList, Submitted,
};
use quantd_engine::views::page::{PageRequest, ResultPage};
use quantd_engine::{EngineError, data};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The longest `wait_seconds` of `start_execution` (docs/limits.md, "MCP").
pub const MAX_WAIT_SECONDS: u64 = 600;

/// One progress report of a waiting call: `done` of `total` shards, and what is happening.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Shards finished.
    pub done: u32,
    /// Shards in the plan.
    pub total: u32,
    /// For a person or a model: `shard 3/8`, `import: parse 40%`.
    pub message: String,
}

/// An execution `start_execution` submitted, and how long to wait for it.
#[derive(Debug, Clone)]
pub struct Started {
    /// The execution as submitted (or the completed one reused).
    pub execution: ExecutionRecord,
    /// How long to wait for it to end.
    pub wait: Duration,
    /// Whether a completed execution was reused.
    pub reused: bool,
    /// Things to know (a stale pack).
    pub warnings: Vec<String>,
}

/// The engine and, when this process runs the queue, its worker pool (woken after a submit).
#[derive(Clone)]
pub struct Ops {
    engine: Arc<Engine>,
    pool: Option<Arc<Pool>>,
}

/// The result of a tool call as JSON.
pub type Output = Result<Value, ToolError>;

fn json<T: Serialize>(v: &T) -> Output {
    serde_json::to_value(v).map_err(|e| ToolError::internal(e.to_string()))
}

/// Parses tool arguments (none = `{}`); unknown fields and wrong types are tool errors.
pub fn parse<T: DeserializeOwned>(args: Option<Map<String, Value>>) -> Result<T, ToolError> {
    serde_json::from_value(Value::Object(args.unwrap_or_default())).map_err(ToolError::arguments)
}

fn page(cursor: Option<String>, limit: Option<u32>, default: u32) -> Page {
    Page {
        after: cursor,
        limit: limit.unwrap_or(default).clamp(1, 100),
    }
}

impl Ops {
    /// Operations over `engine`; `pool` is woken after each submit.
    pub fn new(engine: Arc<Engine>, pool: Option<Arc<Pool>>) -> Ops {
        Ops { engine, pool }
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// `validate_code`: valid, or the diagnostics (a tool error carrying a [`Validation`]).
    pub async fn validate_code(&self, ws: &str, args: Option<Map<String, Value>>) -> Output {
        let body: CodeBody = parse(args)?;
        let source = body.source().map_err(ToolError::from)?;
        let columns = self.engine.code(ws).known_columns().await?;
        match source.validate(&columns) {
            Ok(params) => json(&Validation {
                valid: true,
                language: source.language().to_string(),
                params,
                id: Some(source.id().to_string()),
                errors: vec![],
                rendered: None,
            }),
            Err(EngineError::Expression {
                rendered,
                message,
                diagnostics,
            }) => {
                let errors = diagnostics.iter().map(Into::into).collect();
                Err(invalid_code(source.language(), message, errors, rendered)?)
            }
            Err(EngineError::Pattern {
                rendered,
                message,
                problems,
            }) => {
                let errors = problems.iter().map(Into::into).collect();
                Err(invalid_code(source.language(), message, errors, rendered)?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `deploy_code`: a new version, or the current one when the content is unchanged.
    pub async fn deploy_code(&self, ws: &str, args: Option<Map<String, Value>>) -> Output {
        let (name, body) = parse::<DeployArgs>(args)?.body();
        let source = body.source()?;
        let added = self.engine.code(ws).add(&name, &source).await?;
        json(&CodeAdded {
            version: added.version.into(),
            unchanged: added.unchanged,
        })
    }

    /// `list_code`: names, or one name's versions (after a rollback when asked).
    pub async fn list_code(&self, ws: &str, args: Option<Map<String, Value>>) -> Output {
        let a: ListCodeArgs = parse(args)?;
        let code = self.engine.code(ws);
        let p = page(a.cursor, a.limit, 50);
        let Some(name) = a.name else {
            if a.rollback_to.is_some() {
                return Err(ToolError::invalid(
                    "`rollback_to` needs the `name` whose version to restore",
                ));
            }
            let names = code.names(&p).await?;
            return json(&CodeIndex {
                names: names.items.into_iter().map(CodeNameView::from).collect(),
                next: names.next,
                ..CodeIndex::default()
            });
        };
        let current = match a.rollback_to {
            Some(to) => code.rollback(&name, Some(to)).await?,
            None => code.resolve(&name).await?,
        };
        let versions = code.versions(&name, &p).await?;
        json(&CodeIndex {
            name: Some(name),
            current: Some(current.version),
            versions: versions
                .items
                .into_iter()
                .map(CodeVersionView::from)
                .collect(),
            next: versions.next,
            ..CodeIndex::default()
        })
    }

    /// `start_execution`: a [`SubmitRequest`] plus `wait_seconds`; returns at once, or when the
    /// execution ends or the wait does, reporting progress on the way.
    pub async fn start_execution(
        &self,
        reader: &Reader,
        args: Option<Map<String, Value>>,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Output {
        let started = self.submit(reader, args).await?;
        self.finish(started, progress).await
    }

    /// `check_lookahead`: a [`LookaheadRequest`] plus `wait_seconds`, started as an execution of
    /// kind `check`; returns as `start_execution` does.
    pub async fn check_lookahead(
        &self,
        reader: &Reader,
        args: Option<Map<String, Value>>,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Output {
        self.start_as(reader, args, progress, LookaheadRequest::into_submit)
            .await
    }

    /// `evaluate_code`: an [`EvaluateRequest`] plus `wait_seconds`, started as an execution of
    /// kind `evaluate`; returns as `start_execution` does.
    pub async fn evaluate_code(
        &self,
        reader: &Reader,
        args: Option<Map<String, Value>>,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Output {
        self.start_as(reader, args, progress, EvaluateRequest::into_submit)
            .await
    }

    /// A tool's own request type `T` plus `wait_seconds`, made a [`SubmitRequest`] by `into`,
    /// started and waited for as `start_execution` does.
    async fn start_as<T: DeserializeOwned>(
        &self,
        reader: &Reader,
        args: Option<Map<String, Value>>,
        progress: Option<mpsc::UnboundedSender<Progress>>,
        into: fn(T) -> SubmitRequest,
    ) -> Output {
        let mut args = args.unwrap_or_default();
        let wait = wait_of(&mut args)?;
        let req: T = parse(Some(args))?;
        let started = self.submit_request(reader, into(req), wait).await?;
        self.finish(started, progress).await
    }

    /// The first half of `start_execution`: the execution submitted (or reused).
    pub async fn submit(
        &self,
        reader: &Reader,
        args: Option<Map<String, Value>>,
    ) -> Result<Started, ToolError> {
        let mut args = args.unwrap_or_default();
        let wait = wait_of(&mut args)?;
        let req: SubmitRequest = parse(Some(args))?;
        if req.kind == quantd_core::ExecutionKind::Live {
            return Err(ToolError::new(
                "not-allowed",
                "a live session places real orders at the broker account: agents trade on paper (kind `paper`); a person starts live sessions (`quantd paper --live`, or the HTTP API with `confirm_live`)",
            ));
        }
        self.submit_request(reader, req, wait).await
    }

    /// Submits `req`, to be waited for `wait` seconds.
    async fn submit_request(
        &self,
        reader: &Reader,
        req: SubmitRequest,
        wait: u64,
    ) -> Result<Started, ToolError> {
        let ws = reader.workspace.as_str();
        let sub = self.engine.submit_as(reader, req).await?;
        if !sub.reused
            && let Some(pool) = &self.pool
        {
            pool.wake();
        }
        tracing::info!(workspace = %ws, execution = %sub.execution.id, reused = sub.reused, "execution submitted over MCP");
        Ok(Started {
            execution: sub.execution,
            wait: Duration::from_secs(wait),
            reused: sub.reused,
            warnings: sub.warnings,
        })
    }

    /// The second half of `start_execution`: waits as asked, then the execution's view.
    pub async fn finish(
        &self,
        started: Started,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Output {
        let rec = if started.wait > Duration::ZERO && !started.execution.state.is_terminal() {
            self.wait(started.execution, started.wait, progress).await?
        } else {
            started.execution
        };
        json(&Submitted {
            execution: self.engine.records().view(rec).await?,
            reused: started.reused,
            warnings: started.warnings,
        })
    }

    /// Waits until `rec` ends or `wait` passes, sending a [`Progress`] for each change.
    async fn wait(
        &self,
        rec: ExecutionRecord,
        wait: Duration,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Result<ExecutionRecord, ToolError> {
        let mut last = (u32::MAX, String::new());
        Ok(self
            .engine
            .wait_for_end(rec, wait, |rec| {
                if let Some(tx) = &progress {
                    let p = progress_of(rec);
                    if (p.done, p.message.clone()) != last {
                        last = (p.done, p.message.clone());
                        let _ = tx.send(p);
                    }
                }
            })
            .await?)
    }

    /// `get_execution`.
    pub async fn get_execution(&self, ws: &str, args: Option<Map<String, Value>>) -> Output {
        let a: IdArgs = parse(args)?;
        let rec = self.engine.records().owned(ws, &a.id).await?;
        let rec = self.engine.with_summary(rec).await?;
        json(&self.engine.records().view(rec).await?)
    }

    /// `list_executions`.
    pub async fn list_executions(&self, ws: &str, args: Option<Map<String, Value>>) -> Output {
        let a: ListExecutionsArgs = parse(args)?;
        let state = a
            .state
            .map(|s| {
                s.parse::<ExecutionState>().map_err(|_| {
                    ToolError::invalid(format!(
                        "state `{}`: use pending, running, paused, completed, failed or cancelled",
                        data::cut(&s, 40)
                    ))
                })
            })
            .transpose()?;
        let filter = ExecutionFilter {
            workspace: Some(ws.to_string()),
            name: a.name,
            kind: a.kind,
            state,
            since: None,
            after: a.cursor,
            limit: a.limit.unwrap_or(20).clamp(1, 100),
            top_level: a.parent.is_none(),
            parent: match a.parent.as_deref() {
                Some(p) => Some(self.engine.records().owned(ws, p).await?.id),
                None => None,
            },
        };
        let page = self.engine.records().list(&filter).await?;
        json(&ExecutionList::from(page))
    }

    /// `control_execution`: pause, resume or cancel; a change the state does not allow is a
    /// tool error saying why.
    pub async fn control_execution(
        &self,
        reader: &Reader,
        args: Option<Map<String, Value>>,
    ) -> Output {
        let a: ControlArgs = parse(args)?;
        let rec = self
            .engine
            .records()
            .owned(&reader.workspace, &a.id)
            .await?;
        let rec = self
            .engine
            .control_as(reader, &rec, a.action)
            .await
            .map_err(|e| match e {
                EngineError::Invalid(m) => ToolError::new("conflict", m),
                other => other.into(),
            })?;
        if let Some(pool) = &self.pool {
            pool.wake();
        }
        json(&self.engine.records().view(rec).await?)
    }

    /// `get_results`: one bounded page of rows, with the summary.
    pub async fn get_results(&self, reader: &Reader, args: Option<Map<String, Value>>) -> Output {
        let a: ResultsArgs = parse(args)?;
        let rec = self
            .engine
            .records()
            .owned(&reader.workspace, &a.id)
            .await?;
        let (limit, max_bytes, max_text) = match a.format {
            Detail::Concise => (a.limit.unwrap_or(50).clamp(1, 50), 60 << 10, Some(200)),
            Detail::Detailed => (a.limit.unwrap_or(200).clamp(1, 500), 1 << 20, None),
        };
        let page: ResultPage = self
            .engine
            .result_page(
                &rec,
                &PageRequest {
                    ticker: a.ticker,
                    cursor: a.cursor,
                    limit: limit as usize,
                    max_bytes,
                    max_text,
                    signals_only: a.signals_only,
                },
                reader,
            )
            .await?;
        json(&page)
    }

    /// `get_orders`: a page of a paper session's record (order events and trading days),
    /// released as derived data.
    pub async fn get_orders(&self, reader: &Reader, args: Option<Map<String, Value>>) -> Output {
        let a: OrdersArgs = parse(args)?;
        let rec = self
            .engine
            .records()
            .owned(&reader.workspace, &a.id)
            .await?;
        let limit = a.limit.unwrap_or(200).clamp(1, 500);
        let record = self
            .engine
            .session_record(&rec.id, a.after.unwrap_or(0), limit)
            .await?;
        let release = self
            .engine
            .release(
                &rec,
                reader,
                quantd_core::Disclosure::Derived,
                "paper orders (MCP)",
            )
            .await?;
        json(&OrdersPage {
            events: record
                .events
                .iter()
                .map(|e| serde_json::to_value(e).expect("events serialize"))
                .collect(),
            next: record.next,
            attribution: release.attribution(),
            watermark: release.watermark,
        })
    }

    /// `list_packs`: the shared catalog, newest first.
    pub async fn list_packs(&self, args: Option<Map<String, Value>>) -> Output {
        let a: ListPacksArgs = parse(args)?;
        let packs = self
            .engine
            .packs()
            .list(&page(a.cursor, a.limit, 50))
            .await?;
        json(&PackList {
            items: self.engine.pack_views(packs.items).await?,
            next: packs.next,
        })
    }
}

/// The tool error of code that does not check: a [`Validation`] with its diagnostics.
fn invalid_code(
    language: &str,
    message: String,
    errors: Vec<quantd_engine::views::model::CodeDiagnostic>,
    rendered: String,
) -> Result<ToolError, ToolError> {
    let content = json(&Validation {
        valid: false,
        language: language.to_string(),
        params: vec![],
        id: None,
        errors,
        rendered: Some(rendered),
    })?;
    Ok(ToolError::with_content("invalid-code", message, content))
}

/// Progress of `rec` as a report: shards, and for a single-shard import its phase.
fn progress_of(rec: &ExecutionRecord) -> Progress {
    let done = rec.shards_done + rec.shards_failed;
    let message = if rec.state.is_terminal() {
        format!("{} {}", rec.kind, rec.state)
    } else {
        format!(
            "{} {}: shard {done}/{}",
            rec.kind, rec.state, rec.shards_total
        )
    };
    Progress {
        done,
        total: rec.shards_total,
        message,
    }
}

/// Takes `wait_seconds` out of a tool's arguments: 0 to [`MAX_WAIT_SECONDS`], default 0.
fn wait_of(args: &mut Map<String, Value>) -> Result<u64, ToolError> {
    match args.remove("wait_seconds") {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_u64()
            .filter(|s| *s <= MAX_WAIT_SECONDS)
            .ok_or_else(|| {
                ToolError::invalid(format!(
                    "`wait_seconds` must be a whole number from 0 to {MAX_WAIT_SECONDS}"
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_mistyped_arguments_are_tool_errors_that_name_them() {
        let args = |v: Value| v.as_object().cloned();
        let e = parse::<IdArgs>(args(serde_json::json!({"id": "x", "idd": 1}))).unwrap_err();
        assert!(e.message.contains("unknown field `idd`"), "{}", e.message);
        let e = parse::<IdArgs>(args(serde_json::json!({"id": 5}))).unwrap_err();
        assert!(e.message.contains("invalid type"), "{}", e.message);
        let e = parse::<IdArgs>(None).unwrap_err();
        assert!(e.message.contains("missing field `id`"), "{}", e.message);
        // serde quotes a mistyped value; a megabyte of it is not echoed back (found by the fuzz test).
        let huge = serde_json::json!({"kind": "test", "examples": ["x".repeat(1 << 20)]});
        let e = parse::<SubmitRequest>(args(huge)).unwrap_err();
        assert!(e.message.len() < 1_000, "{} bytes", e.message.len());
        assert!(e.message.contains("invalid type: string"), "{}", e.message);
    }
}
