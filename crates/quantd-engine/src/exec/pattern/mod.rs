//! Running patterns. A `pattern` execution has no shards: its steps are child executions (each
//! naming its parent and step), `select`s computed here, or agent `call`s. The engine
//! *advances* a pattern whenever something may have moved — it was submitted, one of its
//! children ended, a scheduler's watcher ticked, it was resumed: it reads the finished steps
//! (the `pattern_steps` rows) and the children, records the steps whose child ended, and starts
//! every step whose dependencies finished (or skips it). When every step finished, the pattern
//! ends with its report as its summary.
//!
//! Everything advancing reads is stored, and creating a step's child is one transaction that a
//! unique (parent, step, attempt) key makes happen at most once; so a process killed at any point
//! resumes where it was, and no step's child runs twice.
//!
//! - [`advance`]: the loop above;
//! - [`steps`]: one step's start (templates rendered, its child submitted) and end (outputs);
//! - [`items`]: `for_each` steps, their items' children created in batches;
//! - [`select`]: `select` steps; [`call`]: agent calls;
//! - [`outputs`]: what each kind's execution gives its step;
//! - [`report`]: the report (JSON, Markdown, a table, the step graph);
//! - [`control`]: pause, resume and cancel reaching the children; `retry --from`.

pub mod advance;
pub mod call;
pub mod control;
pub mod items;
pub mod outputs;
pub mod report;
pub mod select;
pub mod steps;

use quantd_core::{ErrorClass, ExecutionId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a step ended (or that it is still waiting or running, in reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Its dependencies have not finished.
    Pending,
    /// Its child (or its items' children) runs.
    Running,
    /// It finished; its outputs are readable.
    Completed,
    /// It failed; steps that need it are skipped (unless it may `continue_on_error`).
    Failed,
    /// Its condition was false, or a step it needs did not complete.
    Skipped,
}

impl StepStatus {
    /// Its name, as templates read it (`state.<step>.status`).
    pub fn name(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Completed => "completed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        }
    }

    pub(crate) fn parse(s: &str) -> StepStatus {
        match s {
            "completed" => StepStatus::Completed,
            "skipped" => StepStatus::Skipped,
            "running" => StepStatus::Running,
            "pending" => StepStatus::Pending,
            _ => StepStatus::Failed,
        }
    }
}

/// A finished step as stored (`pattern_steps.body`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// How it ended.
    pub status: StepStatus,
    /// Its attempt, from 1.
    pub attempt: u32,
    /// The child execution it ran (or reused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<ExecutionId>,
    /// The child is an earlier identical run, reused (the step cache).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
    /// The step was reused from the execution run again (`retry --from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<ExecutionId>,
    /// Its outputs (`state.<step>.outputs`); null when it has none.
    #[serde(default)]
    pub outputs: Value,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StepError>,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it started (Unix ms), if it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// When it finished (Unix ms).
    pub finished_at: i64,
}

impl StepRecord {
    /// How long it ran, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.started_at
            .map_or(0, |s| (self.finished_at - s).max(0) as u64)
    }
}

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepError {
    /// The error's class (as executions' errors: `validation`, `timeout`, `circuit_open`, …).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub class: ErrorClass,
    /// What went wrong.
    pub message: String,
}

/// The key of item `i` of a `for_each` step.
pub(crate) fn item_key(step: &str, i: usize) -> String {
    format!("{step}[{i}]")
}

/// The `parent_step` of a step's child: the step's key and attempt (`scan@1`).
pub(crate) fn child_key(key: &str, attempt: u32) -> String {
    format!("{key}@{attempt}")
}

/// The step key and attempt of a child's `parent_step`.
pub(crate) fn split_child_key(s: &str) -> Option<(&str, u32)> {
    let (key, attempt) = s.rsplit_once('@')?;
    Some((key, attempt.parse().ok()?))
}
