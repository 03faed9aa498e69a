//! Validation of user code, itself run in the sandbox (`python -m quantd.validate`): syntax
//! errors with line and column, the decorated entry points and whether their `params` match
//! their signatures, imports outside the allow-list. Nothing of the code is executed.

use crate::run::{CancelToken, JOB_DIR, Job, Outcome};
use crate::{Limits, Result, SandboxError, Verdict, Zygote};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One problem found in the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeProblem {
    /// 1-based line, when the problem has a place.
    pub line: Option<u32>,
    /// 1-based column, when known.
    pub column: Option<u32>,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// An entry point the code declares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryPointInfo {
    /// The function's name.
    pub name: String,
    /// `scanner` or `strategy`.
    pub kind: String,
    /// The decorator's `params` (name → default value).
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The line of its `def`.
    pub line: u32,
    /// `"class"` for a `qd.Strategy` subclass (it places orders itself); absent for decorated
    /// functions.
    #[serde(default)]
    pub style: Option<String>,
}

/// The validator's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// No problem found.
    pub ok: bool,
    /// The problems, in source order of discovery.
    pub errors: Vec<CodeProblem>,
    /// The entry points found.
    pub entry_points: Vec<EntryPointInfo>,
    /// How long validation took, end to end (serialized as milliseconds).
    #[serde(skip)]
    pub elapsed: Duration,
}

/// The job that validates `source` (and, when given, that it defines the entry point `entry`).
pub fn validation_job(source: &str, entry: Option<&str>) -> Job {
    let mut job = Job {
        args: vec![
            "-m".into(),
            "quantd.validate".into(),
            format!("{JOB_DIR}/main.py"),
        ],
        limits: Some(Limits {
            cpu: Duration::from_secs(5),
            wall: Duration::from_secs(10),
            memory_bytes: 2 << 30,
            processes: 4,
            ..Limits::default()
        }),
        ..Job::default()
    }
    .with_file("main.py", source);
    if let Some(e) = entry {
        job.args.extend(["--entry".into(), e.to_owned()]);
    }
    job
}

/// Reads a validation job's outcome.
pub fn parse_validation(outcome: &Outcome) -> Result<ValidationReport> {
    if outcome.verdict != Verdict::Ok {
        return Err(SandboxError::Validator(format!(
            "the validator ended with {}: {}{}",
            outcome.verdict,
            outcome.detail.as_deref().unwrap_or_default(),
            String::from_utf8_lossy(&outcome.stderr)
        )));
    }
    let mut report: ValidationReport = serde_json::from_slice(&outcome.stdout).map_err(|e| {
        SandboxError::Validator(format!(
            "its answer is not valid ({e}): {}",
            String::from_utf8_lossy(&outcome.stdout)
        ))
    })?;
    report.elapsed = outcome.wall_time;
    Ok(report)
}

/// Validates `source` in a child of the warm `zygote`.
#[tracing::instrument(skip_all)]
pub fn validate(zygote: &Zygote, source: &str, entry: Option<&str>) -> Result<ValidationReport> {
    let out = zygote.run(&validation_job(source, entry), &CancelToken::new())?;
    parse_validation(&out)
}
