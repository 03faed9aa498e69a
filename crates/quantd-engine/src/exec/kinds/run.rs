//! The `run` kind: a whole Python bot script in the sandbox, with the pack readable. One shard;
//! its result is the [`RunLog`] (verdict, metrics, captured output), whose metrics are the
//! summary and whose lines are the result table.

use super::{Kind, reader_of, spec_of};
use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::exec::jobs::Job;
use crate::exec::request::SubmitRequest;
use crate::python::bot::{RunJob, RunLog};
use crate::views::{Column, ColumnType, Table};
use quantd_core::{ExecutionId, ExecutionKind};
use quantd_data::PackReader;
use quantd_store::{ExecutionRecord, PackRecord, Store};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A run's wall-clock limit in seconds when the request does not say.
pub const DEFAULT_TIMEOUT_SECS: u64 = 300;

/// A resolved bot script run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedRun {
    /// The Python script.
    pub script: String,
    /// The run's name.
    pub name: String,
    /// Script arguments.
    pub args: Vec<String>,
    /// Wall-clock limit in seconds (of the first attempt).
    pub timeout_secs: u64,
    /// Each retry's wall-clock limit is `timeout_secs` × this^(attempt-1), within the server's
    /// maximum (the `timeout` class's `timeout_multiplier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_multiplier: Option<f64>,
    /// The pack the script can read.
    pub pack_id: String,
}

/// The `run` kind.
pub struct Run;

impl Kind for Run {
    const KIND: ExecutionKind = ExecutionKind::Run;
    const FIELDS: &'static [&'static str] = &["script", "name", "args", "timeout"];
    type Spec = ResolvedRun;

    async fn resolve<S: Store>(
        _engine: &Engine<S>,
        _workspace: &str,
        pack: Option<&PackRecord>,
        request: SubmitRequest,
    ) -> Result<ResolvedRun> {
        Ok(ResolvedRun {
            script: request.script.ok_or_else(|| {
                EngineError::Invalid(
                    "kind `run` needs `script`: the Python source of the bot".into(),
                )
            })?,
            name: request.name.unwrap_or_else(|| "run".into()),
            args: request.args,
            timeout_secs: request.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS),
            timeout_multiplier: request
                .options
                .retry
                .get(&quantd_core::ErrorClass::Timeout)
                .and_then(|c| c.timeout_multiplier)
                .filter(|m| *m != 1.0),
            pack_id: pack.map(|p| p.id.to_string()).unwrap_or_default(),
        })
    }

    fn sandboxed(_spec: &ResolvedRun) -> bool {
        true
    }

    fn name(spec: &ResolvedRun) -> Option<String> {
        Some(spec.name.clone())
    }

    fn build<S: Store>(
        engine: &Engine<S>,
        _id: &ExecutionId,
        spec: &ResolvedRun,
        reader: Option<Arc<PackReader>>,
        sandbox: &crate::exec::sandbox::SandboxRequest,
    ) -> Result<Arc<dyn Job>> {
        Ok(Arc::new(RunJob::new(
            spec,
            reader_of(reader)?,
            engine.python.clone(),
            sandbox.clone(),
            engine.options().limits.clone(),
        )))
    }

    async fn finalize<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<()> {
        engine.run_log(&rec.id).await.map(drop)
    }

    async fn outputs<S: Store>(
        engine: &Engine<S>,
        rec: &ExecutionRecord,
    ) -> Result<serde_json::Value> {
        engine.run_outputs(rec).await
    }

    async fn table<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<Table> {
        Ok(run_table(engine.run_log(&rec.id).await?.as_ref()))
    }
}

impl<S: Store> Engine<S> {
    /// The log and metrics of a `run` execution (its one shard's body); stores the metrics as
    /// the summary. `None` when the run has no committed result (it failed or is still running).
    pub async fn run_log(&self, id: &ExecutionId) -> Result<Option<RunLog>> {
        let rec = self.execution(id).await?;
        spec_of::<Run>(&rec)?;
        let Some(idx) = self.store().result_shards(id).await?.into_iter().next() else {
            return Ok(None);
        };
        let Some(body) = self.store().shard_result(id, idx).await? else {
            return Ok(None);
        };
        let log: RunLog = serde_json::from_slice(&body)
            .map_err(|e| EngineError::Internal(format!("stored run log: {e}")))?;
        if rec.summary.is_none() {
            self.store().set_summary(id, &log.summary()).await?;
        }
        Ok(Some(log))
    }
}

/// A run's log: one row per captured line, stdout first (no rows before the run ended).
pub fn run_table(log: Option<&RunLog>) -> Table {
    let mut t = Table::new(vec![
        Column::new("stream", ColumnType::Text),
        Column::new("line", ColumnType::Int),
        Column::new("text", ColumnType::Text),
    ]);
    let Some(log) = log else { return t };
    for (stream, text) in [("stdout", &log.stdout), ("stderr", &log.stderr)] {
        for (n, line) in text.lines().enumerate() {
            t.push(vec![stream.into(), (n as u64 + 1).into(), line.into()]);
        }
    }
    t
}
