//! A pattern's report: every step's status, timing, outputs and child, as JSON (the pattern's
//! summary once it ended, and its result), Markdown, a table, and the step graph the terminal
//! draws (`quantd show`).

use super::advance::{Running, Seen};
use super::{StepError, StepStatus, item_key};
use crate::error::Result;
use crate::exec::Engine;
use crate::exec::kinds::pattern::pattern_spec;
use crate::views::{Column, ColumnType, Table};
use quantd_core::state::StateMachine;
use quantd_core::{ExecutionId, ExecutionState};
use quantd_pattern::{Action, Step};
use quantd_store::{ExecutionRecord, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A pattern execution's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    /// The pattern execution.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub execution: ExecutionId,
    /// The stored pattern (`NAME@N`).
    pub pattern: String,
    /// The execution's state when the report was made.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub state: ExecutionState,
    /// Its inputs' values.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub inputs: BTreeMap<String, Value>,
    /// The pack `ctx.pack_id` named.
    pub pack_id: String,
    /// The execution it ran again from some steps (`retry --from`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub retry_of: Option<ExecutionId>,
    /// The step ids by parallel level.
    pub levels: Vec<Vec<String>>,
    /// Every step, in document order.
    pub steps: Vec<StepReport>,
    /// Started and finished (Unix ms).
    pub started_at: Option<i64>,
    /// Finished (Unix ms), once it ended.
    pub finished_at: Option<i64>,
}

/// One step in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepReport {
    /// Its id.
    pub id: String,
    /// What it does: an execution kind, `select`, `call` or `pattern`.
    pub does: String,
    /// The steps it waits for.
    pub needs: Vec<String>,
    /// Its status.
    pub status: StepStatus,
    /// Its attempt, once it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Its child execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub child: Option<ExecutionId>,
    /// Its child is an identical earlier run, reused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
    /// Reused from the execution run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub reused_from: Option<ExecutionId>,
    /// Started (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// Finished (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// How long it ran.
    pub duration_ms: u64,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StepError>,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A `for_each` step's items by status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub items: Option<BTreeMap<String, u64>>,
    /// Its outputs (null until it completed).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub outputs: Value,
}

/// What a step does, as reports name it.
fn does(step: &Step) -> String {
    match &step.action {
        Action::Execute { kind, .. } => kind.name().to_string(),
        Action::Select(_) => "select".into(),
        Action::Call(_) => "call".into(),
        Action::Pattern { code, .. } => format!("pattern {code}"),
    }
}

impl Report {
    /// The report of pattern `rec` as `seen` stands.
    pub(crate) fn of(
        run: &Running,
        rec: &ExecutionRecord,
        seen: &Seen,
        state: ExecutionState,
        finished_at: Option<i64>,
    ) -> Report {
        let ids = |v: &[usize]| -> Vec<String> {
            v.iter().map(|&d| run.pattern.steps[d].id.clone()).collect()
        };
        let steps = run
            .pattern
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| step_report(s, ids(&run.plan.depends_on[i]), seen))
            .collect();
        Report {
            execution: rec.id.clone(),
            pattern: format!("{}@{}", run.spec.code.name, run.spec.code.version),
            state,
            inputs: run.spec.inputs.clone(),
            pack_id: run.spec.pack_id.clone(),
            retry_of: run.spec.retry.as_ref().map(|r| r.execution.clone()),
            levels: run.plan.levels.iter().map(|l| ids(l)).collect(),
            steps,
            started_at: rec.started_at,
            finished_at,
        }
    }

    /// The report as Markdown: a table of the steps, then each completed step's outputs.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "# Pattern {} — {}\n\nExecution `{}`",
            self.pattern, self.state, self.execution
        );
        if let Some(r) = &self.retry_of {
            let _ = write!(md, ", run again from `{r}`");
        }
        md.push_str("\n\n| step | does | status | time | child | note |\n| --- | --- | --- | --- | --- | --- |\n");
        for s in &self.steps {
            let note = s
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.class, e.message))
                .or_else(|| s.reason.clone())
                .or_else(|| s.cached.then(|| "cached".to_string()))
                .or_else(|| s.reused_from.as_ref().map(|r| format!("reused from {r}")))
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                s.id,
                s.does,
                s.status.name(),
                seconds(s.duration_ms),
                s.child.as_ref().map_or(String::new(), |c| format!("`{c}`")),
                note.replace('|', "\\|").replace('\n', " ")
            );
        }
        for s in self.steps.iter().filter(|s| !s.outputs.is_null()) {
            let json = serde_json::to_string_pretty(&s.outputs).unwrap_or_default();
            let _ = write!(
                md,
                "\n## {}\n\n```json\n{}\n```\n",
                s.id,
                quantd_data::text::cut(&json, 4_000)
            );
        }
        md
    }

    /// The step graph for a terminal: each level on a line, each step with its status mark,
    /// what it does, how long it took and what it waited for.
    pub fn graph(&self) -> String {
        let by_id: BTreeMap<&str, &StepReport> =
            self.steps.iter().map(|s| (s.id.as_str(), s)).collect();
        let mut out = String::new();
        for (n, level) in self.levels.iter().enumerate() {
            let _ = writeln!(out, "level {n}");
            for id in level {
                let Some(s) = by_id.get(id.as_str()) else {
                    continue;
                };
                let mark = match s.status {
                    StepStatus::Completed => "✓",
                    StepStatus::Failed => "✗",
                    StepStatus::Skipped => "–",
                    StepStatus::Running => "▶",
                    StepStatus::Pending => "·",
                };
                let mut line = format!("  {mark} {} ({}) {}", s.id, s.does, s.status.name());
                if s.duration_ms > 0 {
                    let _ = write!(line, " {}", seconds(s.duration_ms));
                }
                if s.cached {
                    line.push_str(" cached");
                }
                if let Some(items) = &s.items {
                    let parts: Vec<String> =
                        items.iter().map(|(k, v)| format!("{v} {k}")).collect();
                    let _ = write!(line, " [{}]", parts.join(", "));
                }
                if !s.needs.is_empty() {
                    let _ = write!(line, " ← {}", s.needs.join(", "));
                }
                if let Some(e) = &s.error {
                    let _ = write!(
                        line,
                        "\n      {}: {}",
                        e.class,
                        quantd_data::text::cut(&e.message, 200)
                    );
                } else if let Some(r) = &s.reason {
                    let _ = write!(line, "\n      {r}");
                }
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }
}

fn seconds(ms: u64) -> String {
    if ms == 0 {
        String::new()
    } else {
        format!("{:.2} s", ms as f64 / 1000.0)
    }
}

fn step_report(step: &Step, needs: Vec<String>, seen: &Seen) -> StepReport {
    let row = seen.rows.get(&step.id);
    let child = seen.children.get(&step.id);
    let items = step.for_each.as_ref().map(|_| item_counts(step, seen));
    let running = child.is_some() || items.as_ref().is_some_and(|m| !m.is_empty());
    let status = match row {
        Some(r) => r.status,
        None if running => StepStatus::Running,
        None => StepStatus::Pending,
    };
    StepReport {
        id: step.id.clone(),
        does: does(step),
        needs,
        status,
        attempt: row.map(|r| r.attempt).or(child.map(|c| c.0)),
        child: row
            .and_then(|r| r.child.clone())
            .or_else(|| child.map(|c| c.1.id.clone())),
        cached: row.is_some_and(|r| r.cached),
        reused_from: row.and_then(|r| r.reused_from.clone()),
        started_at: row
            .and_then(|r| r.started_at)
            .or(child.map(|c| c.1.created_at)),
        finished_at: row.map(|r| r.finished_at),
        duration_ms: row.map_or(0, |r| r.duration_ms()),
        error: row.and_then(|r| r.error.clone()),
        reason: row.and_then(|r| r.reason.clone()),
        items,
        outputs: row.map_or(Value::Null, |r| r.outputs.clone()),
    }
}

/// A `for_each` step's items by status (those started so far).
fn item_counts(step: &Step, seen: &Seen) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for j in 0.. {
        let key = item_key(&step.id, j);
        let status = match (seen.rows.get(&key), seen.children.contains_key(&key)) {
            (Some(r), _) => r.status,
            (None, true) => StepStatus::Running,
            (None, false) => break,
        };
        *counts.entry(status.name().to_string()).or_insert(0) += 1;
    }
    counts
}

/// A report as rows: one per step.
pub fn report_table(report: &Report) -> Table {
    let mut t = Table::new(vec![
        Column::new("step", ColumnType::Text),
        Column::new("does", ColumnType::Text),
        Column::new("status", ColumnType::Text),
        Column::new("attempt", ColumnType::Int),
        Column::new("duration_ms", ColumnType::Int),
        Column::new("child", ColumnType::Text),
        Column::new("cached", ColumnType::Text),
        Column::new("note", ColumnType::Text),
    ]);
    for s in &report.steps {
        let note = s
            .error
            .as_ref()
            .map(|e| format!("{}: {}", e.class, e.message))
            .or_else(|| s.reason.clone())
            .unwrap_or_default();
        t.push(vec![
            s.id.as_str().into(),
            s.does.as_str().into(),
            s.status.name().into(),
            s.attempt
                .map_or(crate::views::Cell::Null, |a| (a as i64).into()),
            (s.duration_ms as i64).into(),
            s.child
                .as_ref()
                .map_or(crate::views::Cell::Null, |c| c.as_str().into()),
            if s.cached { "yes" } else { "" }.into(),
            note.as_str().into(),
        ]);
    }
    t
}

impl<S: Store> Engine<S> {
    /// The report of pattern execution `id`: the stored one once it ended, else made from its
    /// steps as they stand.
    pub async fn pattern_report(&self, id: &ExecutionId) -> Result<Report> {
        let rec = self.execution(id).await?;
        pattern_spec(&rec)?;
        if rec.state.is_terminal()
            && let Some(report) = rec
                .summary
                .as_ref()
                .and_then(|s| serde_json::from_value::<Report>(s.clone()).ok())
        {
            return Ok(report);
        }
        let spec = pattern_spec(&rec)?;
        let (pattern, plan) = crate::pattern::check(&spec.source)?;
        let run = Running::new(pattern, plan, spec);
        let seen = self.seen(&run, &rec).await?;
        Ok(Report::of(&run, &rec, &seen, rec.state, rec.finished_at))
    }
}
