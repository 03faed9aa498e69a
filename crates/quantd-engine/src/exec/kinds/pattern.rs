//! The `pattern` kind: a stored pattern run as a DAG of steps, each step a child execution (or a
//! `select`, or an agent `call`). Its spec holds the document and its inputs; it has no shards:
//! the engine orchestrates it ([`crate::exec::pattern`]) and ends it when every step finished.
//! Its summary is the pattern's report, which is also its result.

use super::{Kind, spec_of};
use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::exec::jobs::{Job, ShardControl, ShardFailure, ShardOutput};
use crate::exec::pattern::report::{Report, report_table};
use crate::exec::request::SubmitRequest;
use crate::exec::spec::CodeInfo;
use crate::results::{Format, Writing};
use crate::views::Table;
use quantd_core::{ErrorClass, ExecutionId, ExecutionKind};
use quantd_data::PackReader;
use quantd_pattern::{Input, Pattern};
use quantd_store::{ExecutionRecord, PackRecord, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

/// How deep patterns may nest (a pattern step running a pattern that runs one, …).
pub const MAX_DEPTH: u32 = 8;

/// A resolved pattern execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedPattern {
    /// The stored pattern.
    pub code: CodeInfo,
    /// Its document.
    pub source: String,
    /// Every input's value (given, or its default).
    pub inputs: BTreeMap<String, Value>,
    /// `ctx.pack_id`: the pack the request named, or the newest fresh pack when there is one.
    pub pack_id: String,
    /// How deep it is nested: 0 for a pattern started by a request, else its parent's depth + 1.
    #[serde(default)]
    pub depth: u32,
    /// A run again of an earlier execution from some of its steps (`quantd retry --from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryFrom>,
}

/// What a pattern run again from a step reuses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryFrom {
    /// The earlier execution.
    pub execution: ExecutionId,
    /// The steps that run again (the chosen ones and everything depending on them); every other
    /// step that completed there is reused as it is.
    pub rerun: Vec<String>,
    /// The attempt each step had there (a step run again gets the next one).
    pub attempts: BTreeMap<String, u32>,
}

/// The `pattern` kind.
pub struct PatternKind;

impl Kind for PatternKind {
    const KIND: ExecutionKind = ExecutionKind::Pattern;
    const FIELDS: &'static [&'static str] = &["code", "inputs"];
    const READS_PACK: bool = false;
    const ORCHESTRATED: bool = true;
    type Spec = ResolvedPattern;

    async fn resolve<S: Store>(
        engine: &Engine<S>,
        workspace: &str,
        _pack: Option<&PackRecord>,
        request: SubmitRequest,
    ) -> Result<ResolvedPattern> {
        let reference = request.code.clone().ok_or_else(|| {
            EngineError::Invalid(
                "a pattern execution needs `code`: the name of a stored pattern (`quantd code add NAME --pattern FILE`)".into(),
            )
        })?;
        let v = crate::code::resolve(engine.store(), workspace, &reference).await?;
        if v.language != "pattern" {
            return Err(EngineError::Invalid(format!(
                "`{reference}` is {} code, not a pattern",
                v.language
            )));
        }
        let (pattern, _) = crate::pattern::check(&v.source)?;
        let inputs = resolve_inputs(&pattern, request.inputs.unwrap_or_default())?;
        let pack_id = match request.pack.as_deref() {
            Some(p) => engine.packs().find(Some(p)).await?.id.to_string(),
            None => engine
                .store()
                .newest_fresh_pack()
                .await?
                .map(|p| p.id.to_string())
                .unwrap_or_default(),
        };
        Ok(ResolvedPattern {
            code: CodeInfo {
                name: v.name,
                version: v.version,
                id: v.id.to_string(),
            },
            source: v.source,
            inputs,
            pack_id,
            depth: 0,
            retry: None,
        })
    }

    fn nest(spec: &mut ResolvedPattern, depth: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(EngineError::Invalid(format!(
                "pattern `{}` would run {depth} patterns deep, more than {MAX_DEPTH}: does it run itself?",
                spec.code.name
            )));
        }
        spec.depth = depth;
        Ok(())
    }

    fn code(spec: &ResolvedPattern) -> Option<&CodeInfo> {
        Some(&spec.code)
    }

    fn build<S: Store>(
        _engine: &Engine<S>,
        _id: &ExecutionId,
        _spec: &ResolvedPattern,
        _reader: Option<Arc<PackReader>>,
        _sandbox: &crate::exec::sandbox::SandboxRequest,
    ) -> Result<Arc<dyn Job>> {
        Ok(Arc::new(Orchestrated))
    }

    async fn finalize<S: Store>(_engine: &Engine<S>, _rec: &ExecutionRecord) -> Result<()> {
        // The report is stored as the summary by the commit that ends the pattern.
        Ok(())
    }

    async fn table<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<Table> {
        Ok(report_table(&engine.pattern_report(&rec.id).await?))
    }

    async fn write_results<S: Store, W: Write + Send>(
        engine: &Engine<S>,
        rec: &ExecutionRecord,
        how: &Writing<'_>,
        out: W,
    ) -> Result<()> {
        let report: Report = engine.pattern_report(&rec.id).await?;
        match how.format {
            Format::Json => {
                let mut text = serde_json::to_string_pretty(&report)
                    .map_err(|e| EngineError::Internal(format!("report: {e}")))?;
                text.push('\n');
                write_text(out, &text)
            }
            Format::Md => write_text(out, &report.markdown()),
            other => report_table(&report).write(other, crate::views::TABLE_PRECISION, out),
        }
    }

    /// A pattern's outputs: each completed step's outputs, by step id.
    async fn outputs<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<Value> {
        let report = engine.pattern_report(&rec.id).await?;
        Ok(Value::Object(
            report
                .steps
                .into_iter()
                .filter(|s| !s.outputs.is_null())
                .map(|s| (s.id, s.outputs))
                .collect(),
        ))
    }
}

/// The spec of a pattern execution.
pub(crate) fn pattern_spec(rec: &ExecutionRecord) -> Result<ResolvedPattern> {
    spec_of::<PatternKind>(rec)
}

/// The values of a pattern's inputs: the given ones, checked against their types, and the
/// defaults of the rest. An unknown or missing input, or one of the wrong type, is refused with
/// its path (`inputs.min_recall`).
pub fn resolve_inputs(
    pattern: &Pattern,
    mut given: Map<String, Value>,
) -> Result<BTreeMap<String, Value>> {
    let mut problems = Vec::new();
    let names: Vec<&str> = pattern.inputs.keys().map(String::as_str).collect();
    for name in given.keys() {
        if !pattern.inputs.contains_key(name) {
            let help = quantd_expr::did_you_mean(name, names.iter().copied()).unwrap_or_else(
                || match names.is_empty() {
                    true => "the pattern takes no inputs".into(),
                    false => format!("its inputs are {}", names.join(", ")),
                },
            );
            problems.push(format!(
                "inputs.{}: the pattern has no input `{}` ({help})",
                quantd_data::text::cut(name, 64),
                quantd_data::text::cut(name, 64)
            ));
        }
    }
    let mut out = BTreeMap::new();
    for (name, Input { ty, default, .. }) in &pattern.inputs {
        match given.remove(name).or_else(|| default.clone()) {
            Some(v) if ty.admits(&v) => {
                out.insert(name.clone(), v);
            }
            Some(v) => problems.push(format!(
                "inputs.{name}: expected {}, found {}",
                ty.with_article(),
                quantd_data::text::cut(&v.to_string(), 60)
            )),
            None => problems.push(format!(
                "inputs.{name}: required ({}); give it with `--input {name}=VALUE` or in `inputs`",
                ty.with_article()
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(EngineError::Invalid(problems.join("; ")))
    }
}

fn write_text(mut out: impl Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .map_err(|e| EngineError::Internal(format!("writing the report: {e}")))
}

/// A pattern's job: it has no shards (its steps are child executions).
struct Orchestrated;

impl Job for Orchestrated {
    fn plan(&self) -> Vec<Value> {
        Vec::new()
    }

    fn run(
        &self,
        _payload: &Value,
        _ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        Err(ShardFailure::Error(
            ErrorClass::Internal,
            "a pattern has no shards to run".into(),
        ))
    }
}
