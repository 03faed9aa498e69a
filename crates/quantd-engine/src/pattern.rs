//! Patterns as the engine sees them: a document (quantd-pattern) checked against the fields
//! each execution kind's request takes, as stored code is checked before it is stored.

use crate::error::{EngineError, Result};
use crate::exec::kinds::request_fields;
use quantd_core::ExecutionKind;
use quantd_pattern::{Limits, Pattern, Plan, Problem, StepKind};

/// The JSON Schema of pattern documents.
pub use quantd_pattern::JSON_SCHEMA;

/// The execution kind a step runs.
fn kind_of(step: StepKind) -> ExecutionKind {
    match step {
        StepKind::Scan => ExecutionKind::Scan,
        StepKind::Test => ExecutionKind::Test,
        StepKind::Backtest => ExecutionKind::Backtest,
        StepKind::Sweep => ExecutionKind::Sweep,
        StepKind::Run => ExecutionKind::Run,
    }
}

/// The fields a step of `kind` may set: those of its kind's request, without `kind`.
fn fields(kind: StepKind) -> Vec<&'static str> {
    request_fields(kind_of(kind))
}

/// Reads and checks a pattern document; its plan, or [`EngineError::Pattern`] with every
/// problem and its JSON path.
pub fn check(text: &str) -> Result<(Pattern, Plan)> {
    let limits = Limits::default();
    let pattern = quantd_pattern::parse(text, &limits).map_err(refused)?;
    let plan = quantd_pattern::check(&pattern, &fields).map_err(refused)?;
    Ok((pattern, plan))
}

fn refused(problems: Vec<Problem>) -> EngineError {
    let rendered = problems
        .iter()
        .map(|p| format!("error: {p}\n"))
        .collect::<String>();
    EngineError::Pattern {
        message: problems
            .first()
            .map(ToString::to_string)
            .unwrap_or_default(),
        rendered,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_of_docs_patterns_md_passes_the_checks() {
        let doc = include_str!("../../../docs/patterns.md");
        let start = doc.find("```json\n").expect("an example") + "```json\n".len();
        let end = start + doc[start..].find("```").expect("its end");
        let (pattern, plan) = check(&doc[start..end]).unwrap();
        assert_eq!(pattern.steps.len(), 3);
        assert_eq!(plan.levels, vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn steps_are_checked_against_each_kinds_request_fields() {
        let e = check(
            r#"{"steps": [{"id": "a", "kind": "scan", "expr": "close > 1", "grid": ["x=1"]}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("steps[0].grid: `grid` is not a field of a scan step"),
            "{e}"
        );
        let ok = r#"{"steps": [{"id": "a", "kind": "sweep", "code": "s", "grid": ["x=1"], "pack": "u", "reuse": true}]}"#;
        assert!(check(ok).is_ok());
    }
}
