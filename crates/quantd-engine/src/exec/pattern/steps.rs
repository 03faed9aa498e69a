//! One step of a pattern in a round: wait for its dependencies, skip it (a dependency did not
//! complete, its condition is false), start it (templates rendered against the finished steps,
//! its child submitted, or its `select` computed), notice its child ended (outputs read) or ran
//! over its timeout; for a `for_each` step, the same per item with at most `max_parallel` items
//! running, then the step's own record from its items'.

use super::advance::{Round, Running, Seen};
use super::{StepError, StepRecord, StepStatus, child_key};
use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::exec::Submitted;
use crate::exec::request::SubmitRequest;
use crate::exec::retry::RetryPolicy;
use crate::exec::submit::ChildOf;
use quantd_core::state::StateMachine;
use quantd_core::{ErrorClass, Event, ExecutionState};
use quantd_pattern::{Action, Step, StepKind};
use quantd_store::{ExecutionRecord, ParentLink, Store};
use serde_json::{Map, Value, json};

/// Whether a step's execution is reused from an identical completed one when its `cache` is not
/// set: deterministic kinds are; a bot script (which may read the clock) is not.
fn cached_by_default(kind: StepKind) -> bool {
    !matches!(kind, StepKind::Run)
}

/// The request fields of the child of a step that runs one (an execution kind or a
/// sub-pattern), before rendering; empty for other steps.
pub(crate) fn child_fields(step: &Step) -> Map<String, Value> {
    let mut fields = Map::new();
    match &step.action {
        Action::Execute { kind, request } => {
            fields = request.clone();
            fields.insert("kind".into(), json!(kind.name()));
            if step.cache.unwrap_or(cached_by_default(*kind)) && !fields.contains_key("reuse") {
                fields.insert("reuse".into(), Value::Bool(true));
            }
        }
        Action::Pattern { code, inputs } => {
            fields.insert("kind".into(), json!("pattern"));
            fields.insert("code".into(), json!(code));
            fields.insert("inputs".into(), Value::Object(inputs.clone()));
            if step.cache == Some(true) {
                fields.insert("reuse".into(), Value::Bool(true));
            }
        }
        Action::Select(_) | Action::Call(_) => {}
    }
    fields
}

/// What a step's dependencies and condition allow.
enum Gate {
    /// Start it, with this scope.
    Go(quantd_pattern::minijinja::Value),
    /// Skip it, for this reason.
    Skip(String),
    /// It fails before it starts.
    Fail(StepError),
}

/// How a step ends without a child (skipped, failed early, computed here).
pub(crate) fn record(status: StepStatus, attempt: u32, now: i64) -> StepRecord {
    StepRecord {
        status,
        attempt,
        child: None,
        cached: false,
        reused_from: None,
        outputs: Value::Null,
        error: None,
        reason: None,
        started_at: None,
        finished_at: now,
    }
}

pub(crate) fn validation(message: String) -> StepError {
    StepError {
        class: ErrorClass::Validation,
        message,
    }
}

impl<S: Store> Engine<S> {
    /// Visits step `i` of pattern `rec` in this round.
    pub(crate) async fn visit(
        &self,
        run: &Running,
        rec: &ExecutionRecord,
        seen: &mut Seen,
        i: usize,
        round: &mut Round,
    ) -> Result<()> {
        let step = &run.pattern.steps[i];
        if seen.rows.contains_key(&step.id) {
            return Ok(());
        }
        if self.reuse_earlier(run, seen, step, round).await? {
            return Ok(());
        }
        let deps = &run.plan.depends_on[i];
        if deps
            .iter()
            .any(|&d| !seen.rows.contains_key(&run.pattern.steps[d].id))
        {
            return Ok(());
        }
        if step.for_each.is_some() {
            return self.visit_items(run, rec, seen, i, round).await;
        }
        if let Some((attempt, child)) = seen.children.get(&step.id).cloned() {
            return self
                .watch_child(step, &step.id, attempt, &child, seen, round)
                .await;
        }
        let Some(scope) = self.open_gate(run, seen, i, round) else {
            return Ok(());
        };
        let key = step.id.clone();
        self.start_step(run, rec, seen, i, key, scope, round).await
    }

    /// A step of an execution run again from a later step (`retry --from`): a step that is not
    /// run again and completed there is reused as it is.
    async fn reuse_earlier(
        &self,
        run: &Running,
        seen: &mut Seen,
        step: &Step,
        round: &mut Round,
    ) -> Result<bool> {
        let Some(retry) = &run.spec.retry else {
            return Ok(false);
        };
        if retry.rerun.contains(&step.id) {
            return Ok(false);
        }
        let rows = self.store().pattern_steps(&retry.execution).await?;
        let Some(row) = rows.into_iter().find(|r| r.step == step.id) else {
            return Ok(false);
        };
        let Ok(mut earlier) = serde_json::from_value::<StepRecord>(row.body) else {
            return Ok(false);
        };
        if earlier.status != StepStatus::Completed {
            return Ok(false);
        }
        earlier.reused_from = Some(retry.execution.clone());
        round.events.push(Event::StepCompleted {
            step: step.id.clone(),
            child: earlier.child.clone(),
            attempt: earlier.attempt,
            duration_ms: 0,
            cached: true,
        });
        seen.finish(step.id.clone(), earlier, round);
        Ok(true)
    }

    /// Whether step `i` starts: each dependency completed (or failed and may
    /// `continue_on_error`), unless the step's own `if` decides; and its `if` holds.
    fn gate(&self, run: &Running, seen: &mut Seen, i: usize) -> Gate {
        let step = &run.pattern.steps[i];
        let mut blocked = None;
        for &d in &run.plan.depends_on[i] {
            let dep = &run.pattern.steps[d];
            let status = seen.rows.get(&dep.id).map(|r| r.status);
            let reason = match status {
                Some(StepStatus::Failed) if !dep.continue_on_error => {
                    format!("step `{}` failed", dep.id)
                }
                Some(StepStatus::Skipped) => format!("step `{}` was skipped", dep.id),
                _ => continue,
            };
            blocked.get_or_insert(reason);
        }
        if let Some(reason) = blocked
            && step.condition.is_none()
        {
            return Gate::Skip(reason);
        }
        let scope = seen.scope();
        if let Some(condition) = &step.condition {
            match quantd_pattern::template::holds(&run.env, condition, &scope) {
                Ok(true) => {}
                Ok(false) => return Gate::Skip(format!("its condition is false: {condition}")),
                Err(e) => return Gate::Fail(validation(format!("steps[{i}].if: {e}"))),
            }
        }
        Gate::Go(scope)
    }

    /// The scope step `i` starts with, or `None` when its gate skipped or failed it (recorded).
    pub(crate) fn open_gate(
        &self,
        run: &Running,
        seen: &mut Seen,
        i: usize,
        round: &mut Round,
    ) -> Option<quantd_pattern::minijinja::Value> {
        let step = &run.pattern.steps[i];
        match self.gate(run, seen, i) {
            Gate::Go(scope) => Some(scope),
            Gate::Skip(reason) => {
                self.skip(step, &step.id, reason, seen, round);
                None
            }
            Gate::Fail(e) => {
                self.fail_early(run, &step.id, e, seen, round);
                None
            }
        }
    }

    fn skip(&self, step: &Step, key: &str, reason: String, seen: &mut Seen, round: &mut Round) {
        let _ = step;
        round.events.push(Event::StepSkipped {
            step: key.to_string(),
            reason: reason.clone(),
        });
        let mut row = record(StepStatus::Skipped, 1, self.clock.now_ms());
        row.reason = Some(reason);
        seen.finish(key.to_string(), row, round);
    }

    pub(crate) fn fail_early(
        &self,
        run: &Running,
        key: &str,
        error: StepError,
        seen: &mut Seen,
        round: &mut Round,
    ) {
        let attempt = attempt_of(run, key);
        round.events.push(Event::StepFailed {
            step: key.to_string(),
            child: None,
            attempt,
            duration_ms: 0,
            class: error.class,
            message: error.message.clone(),
        });
        let mut row = record(StepStatus::Failed, attempt, self.clock.now_ms());
        row.error = Some(error);
        seen.finish(key.to_string(), row, round);
    }

    /// Starts step `i` (or one of its items) under `key` with `scope`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn start_step(
        &self,
        run: &Running,
        rec: &ExecutionRecord,
        seen: &mut Seen,
        i: usize,
        key: String,
        scope: quantd_pattern::minijinja::Value,
        round: &mut Round,
    ) -> Result<()> {
        let step = &run.pattern.steps[i];
        let fields = match &step.action {
            Action::Execute { .. } | Action::Pattern { .. } => child_fields(step),
            Action::Select(body) => {
                let now = self.clock.now_ms();
                let attempt = attempt_of(run, &key);
                round.events.push(Event::StepStarted {
                    step: key.clone(),
                    child: None,
                    attempt,
                });
                match super::select::select(&run.env, body, &scope) {
                    Ok(outputs) => {
                        round.events.push(Event::StepCompleted {
                            step: key.clone(),
                            child: None,
                            attempt,
                            duration_ms: 0,
                            cached: false,
                        });
                        let mut row = record(StepStatus::Completed, attempt, now);
                        row.started_at = Some(now);
                        row.outputs = outputs;
                        seen.finish(key, row, round);
                    }
                    Err(message) => {
                        let e = validation(format!("steps[{i}].select: {message}"));
                        self.fail_early(run, &key, e, seen, round);
                    }
                }
                return Ok(());
            }
            Action::Call(body) => {
                return self
                    .call_agent(run, rec, seen, i, key, body, scope, round)
                    .await;
            }
        };
        let (request, child) = match self.child_request(run, rec, i, &key, fields, &scope) {
            Ok(r) => r,
            Err(e) => {
                self.fail_early(run, &key, e, seen, round);
                return Ok(());
            }
        };
        let started = self.clock.now_ms();
        let submitted = self.submit_child(&rec.workspace, request, &child).await;
        self.started_child(run, i, key, started, submitted, seen, round)
            .await;
        Ok(())
    }

    /// The child request of step `i` under `key`: its `fields` rendered with `scope`, its retry
    /// policy, its link to the pattern; an error is the step's (it fails before it starts).
    pub(crate) fn child_request(
        &self,
        run: &Running,
        rec: &ExecutionRecord,
        i: usize,
        key: &str,
        fields: Map<String, Value>,
        scope: &quantd_pattern::minijinja::Value,
    ) -> std::result::Result<(SubmitRequest, ChildOf), StepError> {
        let step = &run.pattern.steps[i];
        let rendered = quantd_pattern::template::render(&run.env, &Value::Object(fields), scope)
            .map_err(|e| validation(format!("steps[{i}]: {e}")))?;
        let request: SubmitRequest =
            serde_json::from_value(rendered).map_err(|e| validation(format!("steps[{i}]: {e}")))?;
        let retry = step_retry(step, &self.options.retry)
            .map_err(|message| validation(format!("steps[{i}].retry: {message}")))?;
        let attempt = attempt_of(run, key);
        let child = ChildOf {
            link: ParentLink {
                parent: rec.id.clone(),
                step: child_key(key, attempt),
                root: rec.root_id.clone().unwrap_or_else(|| rec.id.clone()),
            },
            depth: run.spec.depth + 1,
            retry,
        };
        Ok((request, child))
    }

    /// What submitting the child of step `i` under `key` (at `started`) came to: a reused
    /// execution finishes the step at once, a new one starts it, an error fails it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn started_child(
        &self,
        run: &Running,
        i: usize,
        key: String,
        started: i64,
        submitted: Result<Submitted>,
        seen: &mut Seen,
        round: &mut Round,
    ) {
        let attempt = attempt_of(run, &key);
        match submitted {
            Ok(s) if s.reused => {
                round.events.push(Event::StepStarted {
                    step: key.clone(),
                    child: Some(s.execution.id.clone()),
                    attempt,
                });
                let mut row = self.ended_child(&key, attempt, &s.execution, round).await;
                row.cached = true;
                row.started_at = Some(started);
                row.finished_at = self.clock.now_ms();
                if let Some(Event::StepCompleted { cached, .. }) = round.events.last_mut() {
                    *cached = true;
                }
                seen.finish(key, row, round);
            }
            Ok(s) => {
                quantd_data::failpoint::hit("pattern-child-created");
                round.events.push(Event::StepStarted {
                    step: key.clone(),
                    child: Some(s.execution.id.clone()),
                    attempt,
                });
                seen.begun.insert(run.pattern.steps[i].id.clone());
                seen.children.insert(key, (attempt, s.execution));
            }
            Err(EngineError::Store(quantd_store::StoreError::Conflict(_))) => {
                // Another advance created this child a moment ago: the next round sees it.
            }
            Err(e) => {
                let e = StepError {
                    class: e.class(),
                    message: format!("steps[{i}]: {e}"),
                };
                self.fail_early(run, &key, e, seen, round);
            }
        }
    }

    /// A step's (or item's) child: record the step if the child ended; cancel it and fail the
    /// step if it ran over the step's timeout.
    pub(crate) async fn watch_child(
        &self,
        step: &Step,
        key: &str,
        attempt: u32,
        child: &ExecutionRecord,
        seen: &mut Seen,
        round: &mut Round,
    ) -> Result<()> {
        if child.state.is_terminal() {
            let row = self.ended_child(key, attempt, child, round).await;
            seen.finish(key.to_string(), row, round);
            return Ok(());
        }
        let Some(timeout) = step.timeout else {
            return Ok(());
        };
        let now = self.clock.now_ms();
        if now - child.created_at <= (timeout as i64).saturating_mul(1000) {
            return Ok(());
        }
        if let Err(e) = self.cancel(&child.id).await {
            tracing::warn!(execution = %child.id, error = %e, "cancelling a step over its timeout failed");
        }
        let message =
            format!("it ran longer than its timeout of {timeout} s; its execution was cancelled");
        round.events.push(Event::StepFailed {
            step: key.to_string(),
            child: Some(child.id.clone()),
            attempt,
            duration_ms: (now - child.created_at).max(0) as u64,
            class: ErrorClass::Timeout,
            message: message.clone(),
        });
        let mut row = record(StepStatus::Failed, attempt, now);
        row.child = Some(child.id.clone());
        row.started_at = Some(child.created_at);
        row.error = Some(StepError {
            class: ErrorClass::Timeout,
            message,
        });
        seen.finish(key.to_string(), row, round);
        Ok(())
    }

    /// The record of a step whose child ended, with its outputs, and its event.
    async fn ended_child(
        &self,
        key: &str,
        attempt: u32,
        child: &ExecutionRecord,
        round: &mut Round,
    ) -> StepRecord {
        let key = key.to_string();
        let finished = child.finished_at.unwrap_or_else(|| self.clock.now_ms());
        let mut row = record(StepStatus::Completed, attempt, finished);
        row.child = Some(child.id.clone());
        row.started_at = Some(child.created_at);
        let error = match child.state {
            ExecutionState::Completed => match self.outputs(child).await {
                Ok(outputs) => {
                    row.outputs = outputs;
                    None
                }
                Err(e) => Some(StepError {
                    class: e.class(),
                    message: format!("reading its outputs: {e}"),
                }),
            },
            ExecutionState::Cancelled => Some(StepError {
                class: ErrorClass::Execution,
                message: format!("its execution {} was cancelled", child.id),
            }),
            _ => Some(StepError {
                class: child.error_class.unwrap_or(ErrorClass::Execution),
                message: child
                    .error_message
                    .clone()
                    .unwrap_or_else(|| "its execution failed".into()),
            }),
        };
        match error {
            None => round.events.push(Event::StepCompleted {
                step: key,
                child: Some(child.id.clone()),
                attempt,
                duration_ms: row.duration_ms(),
                cached: false,
            }),
            Some(e) => {
                round.events.push(Event::StepFailed {
                    step: key,
                    child: Some(child.id.clone()),
                    attempt,
                    duration_ms: row.duration_ms(),
                    class: e.class,
                    message: e.message.clone(),
                });
                row.status = StepStatus::Failed;
                row.error = Some(e);
            }
        }
        row
    }

    /// What a completed execution produced, as a pattern step's outputs (by its kind; see
    /// docs/patterns.md).
    pub async fn outputs(&self, rec: &ExecutionRecord) -> Result<Value> {
        crate::exec::kinds::with_kind!(rec.kind, |K| K::outputs(self, rec).await)
    }
}

/// The attempt a step (or item) runs as: 1, or the next one when its execution is a run again.
pub(crate) fn attempt_of(run: &Running, key: &str) -> u32 {
    let step = key.split_once('[').map_or(key, |(s, _)| s);
    run.spec
        .retry
        .as_ref()
        .and_then(|r| r.attempts.get(step))
        .map_or(1, |a| a + 1)
}

/// The retry policy of a step's executions: the engine's with the step's `retry` fields.
fn step_retry(
    step: &Step,
    engine: &RetryPolicy,
) -> std::result::Result<Option<RetryPolicy>, String> {
    let Some(fields) = &step.retry else {
        return Ok(None);
    };
    let mut merged = serde_json::to_value(engine).expect("retry policies serialize");
    if let Value::Object(m) = &mut merged {
        for (k, v) in fields {
            m.insert(k.clone(), v.clone());
        }
    }
    let policy: RetryPolicy = serde_json::from_value(merged).map_err(|e| e.to_string())?;
    if policy.maximum_attempts == 0 || policy.maximum_attempts > 10 {
        return Err(format!(
            "maximum_attempts is {}; use 1 to 10",
            policy.maximum_attempts
        ));
    }
    Ok(Some(policy))
}
