//! Controls that reach a pattern's children (pause, resume and cancel of the pattern apply to
//! every unfinished child, sub-patterns included), and running a pattern again from some of its
//! steps (`quantd retry ID --from STEP`), reusing every step that completed.

use super::StepStatus;
use crate::error::{EngineError, Result};
use crate::exec::kinds::pattern::{PatternKind, RetryFrom, pattern_spec};
use crate::exec::kinds::{Kind, StoredSpec};
use crate::exec::submit::Planned;
use crate::exec::{Engine, ExecutionOptions, Submitted};
use quantd_core::state::StateMachine;
use quantd_core::{ExecutionId, ExecutionKind, ExecutionState};
use quantd_store::{ExecutionRecord, Store};
use std::collections::{BTreeMap, BTreeSet};

/// What to do to a pattern's children.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reach {
    Pause,
    Resume,
    Cancel,
}

impl<S: Store> Engine<S> {
    /// Applies `reach` to the unfinished children of `rec` when it is a pattern (each child
    /// pattern passes it on to its own).
    pub(crate) async fn reach_children(&self, rec: &ExecutionRecord, reach: Reach) {
        if rec.kind != ExecutionKind::Pattern {
            return;
        }
        let children = match self.store().children(&rec.id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(execution = %rec.id, error = %e, "listing a pattern's children failed");
                return;
            }
        };
        for child in children.into_iter().filter(|c| !c.state.is_terminal()) {
            let done = match reach {
                Reach::Pause if child.state != ExecutionState::Paused => {
                    Box::pin(self.pause(&child.id)).await.map(drop)
                }
                Reach::Resume if child.state == ExecutionState::Paused => {
                    Box::pin(self.resume(&child.id)).await.map(drop)
                }
                Reach::Cancel => Box::pin(self.cancel(&child.id)).await.map(drop),
                _ => Ok(()),
            };
            if let Err(e) = done {
                // It may have ended meanwhile; the next advance reads how.
                tracing::debug!(execution = %child.id, error = %e, "a child did not follow its pattern");
            }
        }
    }

    /// Runs pattern execution `id` again from `from` (step ids; all its steps that did not
    /// complete when empty): those steps and every step depending on them run again, as their
    /// next attempt, in a new pattern execution; every other step that completed is reused.
    pub async fn retry_pattern(&self, id: &ExecutionId, from: &[String]) -> Result<Submitted> {
        let rec = self.execution(id).await?;
        if rec.kind != ExecutionKind::Pattern {
            return Err(EngineError::Invalid(format!(
                "execution {id} is a {}; only a pattern runs again from a step (run the {} again instead)",
                rec.kind, rec.kind
            )));
        }
        if !rec.state.is_terminal() {
            return Err(EngineError::Invalid(format!(
                "execution {id} is {}; wait for it to end, or cancel it, before running it again",
                rec.state
            )));
        }
        let spec = pattern_spec(&rec)?;
        let (pattern, plan) = crate::pattern::check(&spec.source)?;
        let rows = self.store().pattern_steps(id).await?;
        let status: BTreeMap<&str, StepStatus> = rows
            .iter()
            .map(|r| (r.step.as_str(), StepStatus::parse(&r.state)))
            .collect();
        let ids: Vec<&str> = pattern.steps.iter().map(|s| s.id.as_str()).collect();
        let mut chosen = Vec::new();
        for name in from {
            match ids.iter().position(|s| s == name) {
                Some(i) => chosen.push(i),
                None => {
                    return Err(EngineError::Invalid(format!(
                        "pattern `{}` has no step `{}`{}",
                        spec.code.name,
                        quantd_data::text::cut(name, 64),
                        quantd_expr::did_you_mean(name, ids.iter().copied()).map_or_else(
                            || format!("; its steps are {}", ids.join(", ")),
                            |h| format!(" ({h})")
                        )
                    )));
                }
            }
        }
        if from.is_empty() {
            chosen = (0..ids.len())
                .filter(|&i| status.get(ids[i]) != Some(&StepStatus::Completed))
                .collect();
            if chosen.is_empty() {
                return Err(EngineError::Invalid(format!(
                    "every step of {id} completed; name the steps to run again with --from STEP"
                )));
            }
        }
        let rerun = with_dependants(&plan.depends_on, &chosen);
        let mut attempts = BTreeMap::new();
        for r in &rows {
            if !r.step.contains('[')
                && let Some(a) = r.body.get("attempt").and_then(|a| a.as_u64())
            {
                attempts.insert(r.step.clone(), a as u32);
            }
        }
        // The steps reused come from the execution run again (a retry's rows hold the steps it
        // reused, too, so a chain of retries reuses from the newest).
        let mut again = spec.clone();
        again.retry = Some(RetryFrom {
            execution: id.clone(),
            rerun: rerun.iter().map(|&i| ids[i].to_string()).collect(),
            attempts,
        });
        let stored = StoredSpec::of::<PatternKind>(&again);
        let new_id = self.new_execution_id();
        let options: ExecutionOptions =
            serde_json::from_value(rec.options.clone()).unwrap_or_default();
        let job = PatternKind::build(self, &new_id, &again, None, &options.sandbox)?;
        let planned = Planned::new(new_id, stored, String::new(), options, job);
        let submitted = self.create(&rec.workspace, planned, false, None).await?;
        self.advance_pattern(&submitted.execution.id).await?;
        Ok(submitted)
    }
}

/// `chosen` and every step that depends on one of them, directly or not, in index order.
fn with_dependants(depends_on: &[Vec<usize>], chosen: &[usize]) -> Vec<usize> {
    let mut set: BTreeSet<usize> = chosen.iter().copied().collect();
    loop {
        let before = set.len();
        for (i, deps) in depends_on.iter().enumerate() {
            if deps.iter().any(|d| set.contains(d)) {
                set.insert(i);
            }
        }
        if set.len() == before {
            return set.into_iter().collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_runs_again_with_everything_after_it() {
        // a → b → c, a → d; e alone.
        let deps = vec![vec![], vec![0], vec![1], vec![0], vec![]];
        assert_eq!(with_dependants(&deps, &[1]), vec![1, 2]);
        assert_eq!(with_dependants(&deps, &[0]), vec![0, 1, 2, 3]);
        assert_eq!(with_dependants(&deps, &[4]), vec![4]);
    }
}
