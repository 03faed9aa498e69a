//! `call` steps: a task sent to an agent with the capability the step names, routed by the
//! engine to a healthy agent of the workspace behind its circuit breaker (docs/agents.md). The
//! task id is the pattern's, the step's and the attempt's, so an agent can tell a task sent again
//! (after a crash of the process that sent it) from a new one. An open breaker fails the step at
//! once with the retryable class `circuit_open`, saying when it lets a call through again.

use super::advance::{Round, Running, Seen};
use super::{StepError, StepStatus};
use crate::error::Result;
use crate::exec::Engine;
use quantd_agents::AgentError;
use quantd_core::{ErrorClass, Event};
use quantd_store::{ExecutionRecord, Store};
use serde_json::{Map, Value};
use std::time::Duration;

/// The keys a `call` takes.
pub const KEYS: [&str; 3] = ["capability", "input", "timeout"];

/// Seconds a call waits for its agent when the step does not say; at most [`MAX_TIMEOUT`].
pub const DEFAULT_TIMEOUT: u64 = 30;

/// The longest wait for an agent's answer, in seconds.
pub const MAX_TIMEOUT: u64 = 300;

/// A call's capability, input and timeout, or what is wrong with them.
fn parse(
    env: &quantd_pattern::minijinja::Environment<'static>,
    body: &Map<String, Value>,
    scope: &quantd_pattern::minijinja::Value,
) -> std::result::Result<(String, Value, u64), String> {
    if let Some(k) = body.keys().find(|k| !KEYS.contains(&k.as_str())) {
        let help = quantd_expr::did_you_mean(k, KEYS)
            .unwrap_or_else(|| format!("a call takes {}", KEYS.join(", ")));
        return Err(format!(
            "unknown key `{}` ({help})",
            quantd_data::text::cut(k, 40)
        ));
    }
    let body = quantd_pattern::template::render(env, &Value::Object(body.clone()), scope)
        .map_err(|e| e.to_string())?;
    let capability = body
        .get("capability")
        .and_then(Value::as_str)
        .ok_or("`capability` is required: the capability an agent must have")?
        .to_string();
    let timeout = match body.get("timeout") {
        None => DEFAULT_TIMEOUT,
        Some(t) => t
            .as_u64()
            .filter(|t| (1..=MAX_TIMEOUT).contains(t))
            .ok_or(format!(
                "timeout: expected whole seconds from 1 to {MAX_TIMEOUT}"
            ))?,
    };
    Ok((
        capability,
        body.get("input").cloned().unwrap_or(Value::Null),
        timeout,
    ))
}

/// The step error of a failed call, with the class the engine retries by.
fn error_of(e: &AgentError) -> StepError {
    let class = match e {
        AgentError::CircuitOpen { .. } => ErrorClass::CircuitOpen,
        AgentError::Timeout { .. } => ErrorClass::Timeout,
        AgentError::Transport { .. } => ErrorClass::Network,
        AgentError::Status { .. } if e.retryable() => ErrorClass::Network,
        AgentError::Status { .. } | AgentError::NoAgent { .. } => ErrorClass::Validation,
        _ => ErrorClass::Execution,
    };
    let mut message = e.to_string();
    if let AgentError::CircuitOpen {
        reopens_at_ms: Some(at),
        ..
    } = e
        && let Some(t) = chrono::DateTime::from_timestamp_millis(*at)
    {
        message.push_str(&format!(
            "; it lets a call through again at {}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    StepError { class, message }
}

impl<S: Store> Engine<S> {
    /// Runs call step `i` (or its item `key`): the task's input rendered with `scope`, sent to
    /// an agent of the pattern's workspace; its JSON answer is the step's outputs.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call_agent(
        &self,
        run: &Running,
        rec: &ExecutionRecord,
        seen: &mut Seen,
        i: usize,
        key: String,
        body: &Map<String, Value>,
        scope: quantd_pattern::minijinja::Value,
        round: &mut Round,
    ) -> Result<()> {
        let (capability, input, timeout) = match parse(&run.env, body, &scope) {
            Ok(p) => p,
            Err(message) => {
                let e = StepError {
                    class: ErrorClass::Validation,
                    message: format!("steps[{i}].call: {message}"),
                };
                self.fail_early(run, &key, e, seen, round);
                return Ok(());
            }
        };
        let attempt = super::steps::attempt_of(run, &key);
        round.events.push(Event::StepStarted {
            step: key.clone(),
            child: None,
            attempt,
        });
        let task_id = format!("{}:{key}@{attempt}", rec.id);
        let started = self.clock().now_ms();
        let outcome = match self
            .call_capability(
                &rec.workspace,
                &capability,
                &task_id,
                &input,
                Duration::from_secs(timeout),
            )
            .await
        {
            Ok(o) => o.map_err(|e| error_of(&e)),
            Err(e) => Err(StepError {
                class: e.class(),
                message: e.to_string(),
            }),
        };
        let now = self.clock().now_ms();
        let duration_ms = (now - started).max(0) as u64;
        let mut row = super::steps::record(StepStatus::Completed, attempt, now);
        row.started_at = Some(started);
        match outcome {
            Ok(answer) => {
                tracing::info!(execution = %rec.id, step = %key, agent = %answer.agent, "agent answered");
                round.events.push(Event::StepCompleted {
                    step: key.clone(),
                    child: None,
                    attempt,
                    duration_ms,
                    cached: false,
                });
                row.outputs = answer.output;
            }
            Err(e) => {
                round.events.push(Event::StepFailed {
                    step: key.clone(),
                    child: None,
                    attempt,
                    duration_ms,
                    class: e.class,
                    message: e.message.clone(),
                });
                row.status = StepStatus::Failed;
                row.error = Some(e);
            }
        }
        seen.finish(key, row, round);
        Ok(())
    }
}
