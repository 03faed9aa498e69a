//! Trace spans and metrics at the engine's boundaries: an execution, its shard attempts, and
//! each attempt's compute and commit. Never per bar.
//!
//! An execution's `execution` span opens when this engine creates the execution, as a child of
//! whatever span submitted it (the API request's, which carries the caller's W3C trace context),
//! and closes when the execution ends. Every shard attempt run here gets a `shard` span under it,
//! with `compute` (the job, including a Python sandbox's start) and `commit` below. The spans are
//! kept in memory by execution id, beside the compiled jobs, and dropped with them: the trace
//! context is diagnostics, not state, so it is not stored. A shard claimed by another process, or
//! after a restart, runs under a new `execution` span of its own (a new trace, with the same
//! attributes), not under the submitting request's.
//!
//! The engine speaks only `tracing` and the `metrics` facade: whether spans go out over OTLP and
//! where metrics are rendered is the server's choice (without a recorder the macros do nothing).

use quantd_core::{ErrorClass, ExecutionId, ExecutionKind};
use quantd_store::ClaimedShard;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::Span;

/// Time to run and commit one shard attempt, by kind and outcome (histogram, seconds).
pub const SHARD_DURATION: &str = "quantd_shard_duration_seconds";
/// Shard attempts run, by kind and outcome (counter).
pub const SHARDS: &str = "quantd_shards_total";
/// Time from an execution's creation to its end, by kind and final state (histogram, seconds).
pub const EXECUTION_DURATION: &str = "quantd_execution_duration_seconds";
/// Shard retries scheduled, by error class (counter).
pub const RETRIES: &str = "quantd_shard_retries_total";

/// Describes the engine's metrics (and the sandbox's) to the installed recorder.
pub fn describe_metrics() {
    metrics::describe_histogram!(
        SHARD_DURATION,
        metrics::Unit::Seconds,
        "Time to run and commit one shard attempt, by kind and outcome."
    );
    metrics::describe_counter!(SHARDS, "Shard attempts run, by kind and outcome.");
    metrics::describe_histogram!(
        EXECUTION_DURATION,
        metrics::Unit::Seconds,
        "Time from an execution's creation to its end, by kind and final state."
    );
    metrics::describe_counter!(RETRIES, "Shard retries scheduled, by error class.");
    quantd_sandbox::describe_metrics();
}

/// What the engine keeps of an execution it traces.
struct Traced {
    span: Span,
    kind: ExecutionKind,
    opened: Instant,
}

/// A shard attempt: execution, index, claim.
type ShardKey = (ExecutionId, u32, u64);

/// The open spans of executions and shard attempts of this engine.
#[derive(Default)]
pub(crate) struct Traces {
    executions: Mutex<HashMap<ExecutionId, Traced>>,
    /// Shard attempts between compute and commit, by (execution, index, claim), with when
    /// they started here.
    shards: Mutex<HashMap<ShardKey, (Span, Instant)>>,
}

/// Where an execution span goes.
pub(crate) enum Parent {
    /// Under the current span (the request that submitted it). Contextual rather than explicit:
    /// an exporter filtering spans by level then finds the nearest span it keeps.
    Current,
    /// A trace of its own.
    Root,
    /// Under this span (its pattern's execution).
    Of(tracing::Id),
}

/// The attributes of an execution span.
pub(crate) struct ExecutionAttrs<'a> {
    pub(crate) id: &'a ExecutionId,
    pub(crate) kind: ExecutionKind,
    pub(crate) workspace: &'a str,
    pub(crate) pack_id: &'a str,
    pub(crate) code_version: Option<&'a str>,
    /// The pattern step that made it, for a pattern's child.
    pub(crate) step: Option<&'a str>,
}

impl Traces {
    /// Opens the span of an execution under `parent`.
    pub(crate) fn open(&self, attrs: &ExecutionAttrs<'_>, parent: Parent) {
        macro_rules! execution_span {
            ($($parent:tt)*) => {
                tracing::info_span!(
                    $($parent)*
                    "execution",
                    otel.name = %format_args!("execution {}", attrs.kind),
                    execution.id = %attrs.id,
                    execution.kind = %attrs.kind,
                    workspace = attrs.workspace,
                    pack.id = attrs.pack_id,
                    code.version = attrs.code_version.unwrap_or(""),
                    pattern.step = attrs.step.unwrap_or(""),
                    execution.state = tracing::field::Empty,
                )
            };
        }
        let span = match parent {
            Parent::Current => execution_span!(),
            Parent::Root => execution_span!(parent: None,),
            Parent::Of(id) => execution_span!(parent: id,),
        };
        self.executions.lock().expect("traces lock").insert(
            attrs.id.clone(),
            Traced {
                span,
                kind: attrs.kind,
                opened: Instant::now(),
            },
        );
    }

    /// Whether the execution has a span here.
    pub(crate) fn has(&self, id: &ExecutionId) -> bool {
        self.executions
            .lock()
            .expect("traces lock")
            .contains_key(id)
    }

    /// The execution's span (`None` when it has none here).
    pub(crate) fn span(&self, id: &ExecutionId) -> Option<Span> {
        self.executions
            .lock()
            .expect("traces lock")
            .get(id)
            .map(|t| t.span.clone())
    }

    /// The execution's kind, if it is traced here.
    pub(crate) fn kind(&self, id: &ExecutionId) -> Option<ExecutionKind> {
        self.executions
            .lock()
            .expect("traces lock")
            .get(id)
            .map(|t| t.kind)
    }

    /// The execution ended as `state`: its span closes, its duration is observed.
    pub(crate) fn ended(&self, id: &ExecutionId, state: &str) {
        let Some(t) = self.executions.lock().expect("traces lock").remove(id) else {
            return;
        };
        t.span.record("execution.state", state);
        metrics::histogram!(EXECUTION_DURATION, "kind" => t.kind.to_string(), "state" => state.to_string())
            .record(t.opened.elapsed().as_secs_f64());
    }

    /// Forgets the execution (it was never stored): its span closes.
    pub(crate) fn forget(&self, id: &ExecutionId) {
        self.executions.lock().expect("traces lock").remove(id);
    }

    /// The span of a shard attempt, opened under its execution's span at its first use.
    pub(crate) fn shard(&self, shard: &ClaimedShard) -> Span {
        let key = (shard.execution.clone(), shard.idx, shard.claim);
        let mut shards = self.shards.lock().expect("traces lock");
        if let Some((s, _)) = shards.get(&key) {
            return s.clone();
        }
        let parent = self.span(&shard.execution).and_then(|s| s.id());
        let kind = self
            .kind(&shard.execution)
            .map_or_else(String::new, |k| k.to_string());
        let span = tracing::info_span!(
            parent: parent,
            "shard",
            otel.name = %format_args!("shard {}", shard.idx),
            execution.id = %shard.execution,
            execution.kind = kind,
            shard.index = shard.idx,
            shard.attempt = shard.attempt,
            shard.outcome = tracing::field::Empty,
        );
        shards.insert(key, (span.clone(), Instant::now()));
        span
    }

    /// The shard attempt's span and when it started, no longer kept (the span closes when the
    /// caller drops it).
    pub(crate) fn take_shard(&self, shard: &ClaimedShard) -> (Span, Instant) {
        let span = self.shard(shard);
        self.shards
            .lock()
            .expect("traces lock")
            .remove(&(shard.execution.clone(), shard.idx, shard.claim))
            .unwrap_or((span, Instant::now()))
    }

    /// A shard attempt of `execution` ended as `outcome` after `took`.
    pub(crate) fn observe_shard(
        &self,
        execution: &ExecutionId,
        outcome: &'static str,
        took: Duration,
    ) {
        let kind = self
            .kind(execution)
            .map_or_else(|| "unknown".to_string(), |k| k.to_string());
        metrics::counter!(SHARDS, "kind" => kind.clone(), "outcome" => outcome).increment(1);
        metrics::histogram!(SHARD_DURATION, "kind" => kind, "outcome" => outcome)
            .record(took.as_secs_f64());
    }
}

/// A retry was scheduled for a shard that failed with `class`.
pub(crate) fn observe_retry(class: ErrorClass) {
    metrics::counter!(RETRIES, "class" => class.as_str()).increment(1);
}
