//! The `evaluate` kind: the evaluation pipeline ([`crate::evaluate`]) of a scanner or strategy
//! on a sample of a pack's tickers. One shard runs every stage; its result, the
//! [`Evaluation`], is also the execution's summary (stored by the completing commit), which is
//! how a code version's deployment status is found ([`Engine::evaluation_of`]).

use super::check::{CheckedCode, checked_code};
use super::{Kind, reader_of, spec_of};
use crate::error::{EngineError, Result};
use crate::evaluate::Evaluation;
use crate::evaluate::pipeline::{Pipeline, Subject};
use crate::exec::Engine;
use crate::exec::jobs::{Job, ShardControl, ShardFailure, ShardOutput};
use crate::exec::request::SubmitRequest;
use crate::exec::spec::CodeInfo;
use crate::python::Sandboxed;
use crate::views::{Column, ColumnType, Table};
use quantd_core::{ExecutionId, ExecutionKind, ExecutionState};
use quantd_data::PackReader;
use quantd_store::{ExecutionFilter, ExecutionRecord, PackRecord, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Tickers an evaluation samples from its pack when the request names none.
pub const SAMPLE_TICKERS: usize = 20;
/// Most tickers one evaluation may name.
pub const MAX_TICKERS: usize = 100;

/// A resolved evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedEvaluation {
    /// The code evaluated.
    pub checked: CheckedCode,
    /// The stored code it came from, if any.
    pub code: Option<CodeInfo>,
    /// The pack read.
    pub pack_id: String,
    /// Parameter values.
    pub params: BTreeMap<String, f64>,
    /// The tickers asked for; `None`: an even sample of the pack.
    pub tickers: Option<Vec<String>>,
}

/// The `evaluate` kind.
pub struct Evaluate;

impl Kind for Evaluate {
    const KIND: ExecutionKind = ExecutionKind::Evaluate;
    const FIELDS: &'static [&'static str] = &["code", "expr", "python", "strategy", "tickers"];
    type Spec = ResolvedEvaluation;

    async fn resolve<S: Store>(
        engine: &Engine<S>,
        workspace: &str,
        pack: Option<&PackRecord>,
        mut request: SubmitRequest,
    ) -> Result<ResolvedEvaluation> {
        if let Some(t) = &request.tickers
            && (t.is_empty() || t.len() > MAX_TICKERS)
        {
            return Err(EngineError::Invalid(format!(
                "`tickers` lists {}; an evaluation takes 1 to {MAX_TICKERS} (leave it out for a sample of {SAMPLE_TICKERS})",
                t.len()
            )));
        }
        let (checked, code) = checked_code(engine, workspace, &mut request).await?;
        Ok(ResolvedEvaluation {
            checked,
            code,
            pack_id: pack.map(|p| p.id.to_string()).unwrap_or_default(),
            params: request.params,
            tickers: request.tickers,
        })
    }

    fn sandboxed(spec: &ResolvedEvaluation) -> bool {
        matches!(spec.checked, CheckedCode::Python(_))
    }

    fn code(spec: &ResolvedEvaluation) -> Option<&CodeInfo> {
        spec.code.as_ref()
    }

    fn name(spec: &ResolvedEvaluation) -> Option<String> {
        Some(
            spec.code
                .as_ref()
                .map_or_else(|| "evaluation".to_string(), |c| c.name.clone()),
        )
    }

    fn build<S: Store>(
        engine: &Engine<S>,
        _id: &ExecutionId,
        spec: &ResolvedEvaluation,
        reader: Option<Arc<PackReader>>,
        sandbox: &crate::exec::sandbox::SandboxRequest,
    ) -> Result<Arc<dyn Job>> {
        let reader = reader_of(reader)?;
        let tickers =
            crate::scan::sample_tickers(&reader, spec.tickers.as_deref(), SAMPLE_TICKERS)?;
        Ok(Arc::new(EvaluateJob {
            reader,
            limits: engine.options.limits.clone(),
            py: engine.sandboxed(sandbox),
            subject: Subject {
                checked: spec.checked.clone(),
                params: spec.params.clone(),
                tickers,
            },
        }))
    }

    async fn finalize<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<()> {
        let evaluation = engine.evaluation(&rec.id).await?;
        let summary = serde_json::to_value(&evaluation).expect("evaluations serialize");
        engine.store().set_summary(&rec.id, &summary).await?;
        Ok(())
    }

    async fn table<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<Table> {
        Ok(findings_table(&engine.evaluation(&rec.id).await?))
    }
}

/// The job of an evaluation: one shard running every stage.
struct EvaluateJob {
    reader: Arc<PackReader>,
    limits: crate::exec::limits::Limits,
    py: Sandboxed,
    subject: Subject,
}

impl Job for EvaluateJob {
    fn plan(&self) -> Vec<Value> {
        vec![serde_json::json!({"stages": "all"})]
    }

    fn run(
        &self,
        _payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        let pipeline = Pipeline {
            reader: self.reader.clone(),
            limits: &self.limits,
            py: self.py.clone(),
            ctl,
        };
        let evaluation = pipeline.run(&self.subject)?;
        let summary = serde_json::to_value(&evaluation).expect("evaluations serialize");
        let bars = self
            .subject
            .tickers
            .iter()
            .map(|&t| self.reader.manifest().tickers[t].rows)
            .sum();
        Ok(ShardOutput {
            bars,
            rows: evaluation
                .stages
                .iter()
                .map(|s| s.findings.len() as u64)
                .sum(),
            body: serde_json::to_vec(&evaluation).expect("evaluations serialize"),
            scan_summary: None,
            summary: Some(summary),
        })
    }
}

impl<S: Store> Engine<S> {
    /// The evaluation an `evaluate` execution stored.
    pub async fn evaluation(&self, id: &ExecutionId) -> Result<Evaluation> {
        let rec = self.execution(id).await?;
        spec_of::<Evaluate>(&rec)?;
        let body = self.store().shard_result(id, 0).await?.ok_or_else(|| {
            EngineError::Invalid(format!("evaluation {id} has no result yet ({})", rec.state))
        })?;
        serde_json::from_slice(&body)
            .map_err(|e| EngineError::Internal(format!("stored evaluation of {id}: {e}")))
    }

    /// The newest completed evaluation of the code version `version_id` (its content id) in
    /// `workspace`, named `name`: the version's deployment status.
    pub async fn evaluation_of(
        &self,
        workspace: &str,
        name: &str,
        version_id: &str,
    ) -> Result<Option<(ExecutionId, Evaluation)>> {
        let page = self
            .store()
            .list_executions(&ExecutionFilter {
                workspace: Some(workspace.to_string()),
                name: Some(name.to_string()),
                kind: Some(ExecutionKind::Evaluate),
                state: Some(ExecutionState::Completed),
                limit: 200,
                ..Default::default()
            })
            .await?;
        for rec in page.items {
            if rec.code_version.as_deref() == Some(version_id)
                && let Some(summary) = rec.summary.clone()
                && let Ok(e) = serde_json::from_value::<Evaluation>(summary)
            {
                return Ok(Some((rec.id, e)));
            }
        }
        Ok(None)
    }
}

/// An evaluation's findings as rows.
pub fn findings_table(e: &Evaluation) -> Table {
    let mut t = Table::new(vec![
        Column::new("stage", ColumnType::Text),
        Column::new("level", ColumnType::Text),
        Column::new("finding", ColumnType::Text),
    ]);
    for s in &e.stages {
        for f in &s.findings {
            let level = serde_json::to_value(f.level).expect("levels serialize");
            t.push(vec![
                s.name.as_str().into(),
                level.as_str().unwrap_or_default().into(),
                f.text.as_str().into(),
            ]);
        }
    }
    t
}
