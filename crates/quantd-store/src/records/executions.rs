//! What the store keeps about executions, shards, events and results, and what its queue
//! methods take and give: backend-neutral records, with no database types in them.
//!
//! Times are [`Millis`] (Unix milliseconds). JSON columns (spec, options, payloads, summaries)
//! are [`serde_json::Value`]s; every backend stores them as it likes and gives them back equal.

use quantd_core::{
    ErrorClass, Event, EventRecord, ExecutionId, ExecutionKind, ExecutionState, ShardState,
};
use serde::Serialize;
use serde_json::Value;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// What `create_execution` inserts.
#[derive(Debug, Clone)]
pub struct NewExecution {
    /// The id.
    pub id: ExecutionId,
    /// The workspace that owns it.
    pub workspace: String,
    /// Its kind.
    pub kind: ExecutionKind,
    /// The code name, if it runs stored code.
    pub name: Option<String>,
    /// The spec as asked (JSON).
    pub spec: Value,
    /// Hash of (code, pack, params, engine version, …).
    pub fingerprint: String,
    /// The pack it reads.
    pub pack_id: String,
    /// The code version it runs, if stored code.
    pub code_version: Option<String>,
    /// Retry and failure policies (JSON).
    pub options: Value,
    /// One payload per shard, in plan order.
    pub shards: Vec<Value>,
    /// Creation time.
    pub now: Millis,
    /// Claim the first shard in the same transaction, for a creator that runs the execution
    /// itself right away (saves a claim before work starts). Ignored when there are no shards.
    pub first_claim: Option<Lease>,
    /// The pattern step it runs, for a child execution of a pattern.
    pub parent: Option<ParentLink>,
    /// Its engine, not its shards, decides when it ends (a pattern): it starts running at once
    /// and stays running while it has no shard, until [`crate::ExecutionQueue::end_orchestrated`].
    pub orchestrated: bool,
    /// Its priority, -10 to 10 (0 by default): claims take executions by
    /// [`NewExecution::claim_at`], so higher goes first and waiting work ages.
    pub priority: i8,
}

/// How long one point of priority is worth in waiting, in ms: an execution of priority p is
/// claimed as if it had been created p × 5 minutes earlier (effective priority = priority +
/// minutes waited / 5).
pub const PRIORITY_STEP_MS: Millis = 5 * 60_000;

/// What one claimed shard costs its execution in claim order, in ms: each claim moves the
/// execution's `claim_at` this much later, and a new execution starts no earlier than where its
/// workspace's queue ends (its executions' unclaimed shards × this). So workspaces take turns:
/// one workspace's backlog, or one execution of 10,000 shards, does not keep another
/// workspace's newer work waiting until it is all claimed, while each workspace's own work
/// keeps its order (docs/architecture.md, "Claim order").
pub const SHARD_TURN_MS: Millis = 1_000;

impl NewExecution {
    /// The key claims order executions by, in a workspace whose queue ends at `tail` (see
    /// [`SHARD_TURN_MS`]; `None` when it has no pending or running execution): the later of its
    /// creation and `tail`, minus [`PRIORITY_STEP_MS`] per point of priority.
    pub fn claim_at(&self, tail: Option<Millis>) -> Millis {
        self.now.max(tail.unwrap_or(Millis::MIN)) - Millis::from(self.priority) * PRIORITY_STEP_MS
    }

    /// Where its workspace's queue ends once it is stored with `claim_at`: the turns of its
    /// shards past its start.
    pub fn tail(&self, claim_at: Millis) -> Millis {
        claim_at
            + Millis::from(self.priority) * PRIORITY_STEP_MS
            + self.shards.len() as Millis * SHARD_TURN_MS
    }
}

/// The claim keys of `batch`'s executions, in order, given where each of their workspaces'
/// queues ends (`tails`, read by the store in the creating transaction): each is queued after
/// the ones before it in its workspace ([`NewExecution::claim_at`]), and a first claim is
/// charged its turn as a claim would be.
pub(crate) fn claim_keys<'a>(
    batch: impl IntoIterator<Item = &'a NewExecution>,
    mut tails: std::collections::HashMap<String, Option<Millis>>,
) -> Vec<Millis> {
    batch
        .into_iter()
        .map(|e| {
            let at = e.claim_at(tails.get(&e.workspace).copied().flatten());
            tails.insert(e.workspace.clone(), Some(e.tail(at)));
            let charged = e.first_claim.is_some() && !e.shards.is_empty();
            at + if charged { SHARD_TURN_MS } else { 0 }
        })
        .collect()
}

/// Which shards a claim may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimScope<'a> {
    /// Any claimable shard.
    Any,
    /// Only the shards of this execution and of the executions under it.
    Of(&'a ExecutionId),
    /// Any claimable shard of bounded work: not of a kind whose one shard may hold its worker
    /// for hours ([`ExecutionKind::is_long`]). A pool's worker that must stay free for the
    /// queue's short work claims this way.
    Bounded,
}

impl<'a> From<Option<&'a ExecutionId>> for ClaimScope<'a> {
    /// `Some(id)` is [`ClaimScope::Of`], `None` [`ClaimScope::Any`].
    fn from(only: Option<&'a ExecutionId>) -> Self {
        only.map_or(ClaimScope::Any, ClaimScope::Of)
    }
}

/// The SQL condition on an execution row `e` that [`ClaimScope::Bounded`] adds to a claim's
/// pick: its kind is not long ([`ExecutionKind::is_long`]; a test keeps the two equal).
pub(crate) const BOUNDED_KINDS: &str = "e.kind NOT IN ('run', 'paper', 'live')";

/// Where a child execution belongs: the pattern execution and the step it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentLink {
    /// The pattern execution.
    pub parent: ExecutionId,
    /// The step and attempt it runs (`scan@1`, `bt[3]@2`): one child per parent and step.
    pub step: String,
    /// The outermost pattern execution of the family (the parent itself when it has none).
    pub root: ExecutionId,
}

/// A finished step of a pattern execution, as the engine records it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    /// The step (`scan`, `bt[3]`).
    pub step: String,
    /// `completed`, `failed`, `skipped` or `cancelled`.
    pub state: String,
    /// The engine's record of it (JSON).
    pub body: Value,
}

impl StepRow {
    /// The attempt the engine's record names (`attempt`), if any.
    pub fn attempt(&self) -> Option<u64> {
        self.body.get("attempt").and_then(Value::as_u64)
    }
}

/// What of a pattern's round is new, given the rows already stored for its steps: a row whose
/// step is stored with the same state and attempt was recorded before (another process
/// advancing the same pattern saw the same step end), and so were the round's events about that
/// step. Returns the rows to write and the events to append.
pub fn new_in_round<'a>(
    rows: &'a [StepRow],
    stored: &[StepRow],
    events: Vec<Event>,
) -> (Vec<&'a StepRow>, Vec<Event>) {
    let seen = |r: &StepRow| {
        stored
            .iter()
            .any(|s| s.step == r.step && s.state == r.state && s.attempt() == r.attempt())
    };
    let (old, new): (Vec<&StepRow>, Vec<&StepRow>) = rows.iter().partition(|r| seen(r));
    let events = events
        .into_iter()
        .filter(|e| !e.step().is_some_and(|s| old.iter().any(|r| r.step == s)))
        .collect();
    (new, events)
}

/// A lease on a shard: who holds it and until when (unless extended by heartbeats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The worker that holds it.
    pub owner: String,
    /// When it expires.
    pub until: Millis,
}

/// What `create_execution` stored.
#[derive(Debug, Clone)]
pub struct Created {
    /// The execution as stored.
    pub record: ExecutionRecord,
    /// Its events: `execution-created`, and with a first claim `execution-started` and
    /// `shard-started`.
    pub events: Vec<EventRecord>,
    /// The first shard, claimed under [`NewExecution::first_claim`]'s lease.
    pub claimed: Option<ClaimedShard>,
}

/// An execution as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionRecord {
    /// The id.
    pub id: ExecutionId,
    /// The owning workspace.
    pub workspace: String,
    /// Its kind.
    pub kind: ExecutionKind,
    /// The code name, if any.
    pub name: Option<String>,
    /// Its state.
    pub state: ExecutionState,
    /// The spec (JSON).
    pub spec: Value,
    /// The fingerprint.
    pub fingerprint: String,
    /// The pack id.
    pub pack_id: String,
    /// The code version id, if any.
    pub code_version: Option<String>,
    /// Policies (JSON).
    pub options: Value,
    /// Shards in the plan.
    pub shards_total: u32,
    /// Shards done.
    pub shards_done: u32,
    /// Shards failed for good.
    pub shards_failed: u32,
    /// Bars processed.
    pub bars: u64,
    /// Result rows.
    pub rows: u64,
    /// Shard attempts started.
    pub attempts: u32,
    /// Shard attempts that failed.
    pub failed_attempts: u32,
    /// Class of the error that failed it.
    pub error_class: Option<ErrorClass>,
    /// The error that failed it.
    pub error_message: Option<String>,
    /// Metrics of the finished execution (JSON).
    pub summary: Option<Value>,
    /// Failed as quarantined: a shard crashed its worker too often (`quantd resume --force` runs
    /// it again).
    pub quarantined: bool,
    /// Crashes of its shards (panics, dead processes) since one of its shards last committed.
    pub crash_streak: u32,
    /// Bytes of results stored (the bodies of its done shards).
    pub result_bytes: u64,
    /// Created (Unix ms).
    pub created_at: Millis,
    /// First shard started (Unix ms).
    pub started_at: Option<Millis>,
    /// Finished (Unix ms).
    pub finished_at: Option<Millis>,
    /// The pattern execution it runs a step of, if any.
    pub parent_id: Option<ExecutionId>,
    /// The step and attempt it runs for its parent (`scan@1`).
    pub parent_step: Option<String>,
    /// The outermost pattern execution of its family, for a child.
    pub root_id: Option<ExecutionId>,
}

/// A shard a worker now holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedShard {
    /// Its execution.
    pub execution: ExecutionId,
    /// Its index.
    pub idx: u32,
    /// The attempt starting now, from 1 (a crash or a release gives its attempt back, so a
    /// later claim may have the same number).
    pub attempt: u32,
    /// The claim's number: how many claims the shard was given, this one included. It never
    /// repeats, so with the owner it fences every outcome of the claim (complete, fail, stop,
    /// release): once the shard was claimed again, this claim writes nothing.
    pub claim: u64,
    /// The slice of work (JSON).
    pub payload: Value,
    /// Earlier attempts that crashed (see [`FailureOutcome::Quarantine`]).
    pub crashes: u32,
}

/// A shard as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardRecord {
    /// Its index.
    pub idx: u32,
    /// Its state.
    pub state: ShardState,
    /// Attempts started.
    pub attempt: u32,
    /// Bars processed.
    pub bars: u64,
    /// Rows committed.
    pub rows: u64,
    /// Last error class.
    pub error_class: Option<ErrorClass>,
    /// Last error.
    pub error_message: Option<String>,
    /// Started (Unix ms).
    pub started_at: Option<Millis>,
    /// Finished (Unix ms).
    pub finished_at: Option<Millis>,
    /// The worker holding its lease while it runs (`None` when no one claimed it).
    pub lease_owner: Option<String>,
}

/// A finished shard's output, as [`crate::ExecutionQueue::complete_shard`] stores it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShardDone<'a> {
    /// Bars processed.
    pub bars: u64,
    /// Result rows.
    pub rows: u64,
    /// The encoded results.
    pub body: &'a [u8],
    /// The most result bytes the execution may store in all.
    pub max_result_bytes: u64,
}

/// What a shard's commit did.
#[derive(Debug, Clone, PartialEq)]
pub enum Commit {
    /// Committed; the events it appended.
    Committed(Vec<EventRecord>),
    /// Nothing was written: the results would take the execution's stored results to this
    /// many bytes, over its limit.
    OverLimit(u64),
    /// The shard is no longer ours (lease expired and reclaimed, or the execution ended): nothing
    /// was written.
    LeaseLost,
}

/// What a shard's commit stores along when it completes its execution, computed inside that
/// transaction from the record and shards as they stand at completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The execution's summary (JSON), if it can be made without reading the results again.
    pub summary: Option<Value>,
    /// The final health snapshot, recorded with its `health` event.
    pub health: HealthSnapshot,
}

/// A health snapshot as stored: score, band and the whole snapshot (JSON).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HealthSnapshot {
    /// 0–100.
    pub score: u8,
    /// The score's band.
    pub band: String,
    /// The snapshot.
    pub body: Value,
}

/// Computes the [`Completion`] of an execution inside the commit that completes it; not called
/// when the commit does not complete the execution.
pub type OnComplete =
    Box<dyn FnOnce(&ExecutionRecord, &[ShardRecord]) -> Completion + Send + 'static>;

/// How a failed attempt ends.
#[derive(Debug, Clone, PartialEq)]
pub enum FailureOutcome {
    /// Retry at this time.
    RetryAt(Millis),
    /// The shard fails for good; the execution fails too (`fail` policy).
    FailExecution,
    /// The shard fails for good; the execution goes on (`continue` policy).
    Continue,
    /// The shard crashed its worker too often: it fails for good and its execution fails as
    /// quarantined, whatever its failure policy.
    Quarantine,
}

/// A failed attempt of a shard, as [`crate::ExecutionQueue::fail_shard`] records it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptFailure<'a> {
    /// The error's class.
    pub class: ErrorClass,
    /// What went wrong (the engine bounds its size).
    pub message: &'a str,
    /// The attempt crashed (a panic) rather than failing with an error: counted towards
    /// quarantine.
    pub crash: bool,
    /// What follows.
    pub outcome: FailureOutcome,
}

/// What [`crate::ExecutionQueue::recover_shards`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovered {
    /// Shards returned to the queue.
    pub requeued: u64,
    /// Executions failed as quarantined.
    pub quarantined: Vec<ExecutionId>,
    /// The events those quarantines appended.
    pub events: Vec<EventRecord>,
}

/// Filters for [`crate::ExecutionLog::list_executions`].
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// Only this workspace.
    pub workspace: Option<String>,
    /// Only this code name.
    pub name: Option<String>,
    /// Only this kind.
    pub kind: Option<ExecutionKind>,
    /// Only this state.
    pub state: Option<ExecutionState>,
    /// Only created at or after (Unix ms).
    pub since: Option<Millis>,
    /// Only executions that are no pattern's step (top-level ones).
    pub top_level: bool,
    /// Only the steps of this pattern execution.
    pub parent: Option<ExecutionId>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// Counts for monitoring (`/metrics`, `/health/ready`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueStats {
    /// Executions by kind and state.
    pub executions: Vec<(ExecutionKind, ExecutionState, u64)>,
    /// Shards waiting to be claimed.
    pub pending_shards: u64,
    /// Shards running under a lease.
    pub running_shards: u64,
}

/// The progress event of an execution's counters at `now`: shards finished (done or failed) of
/// the total, bars and rows so far, and an estimate of the time left from the pace since the
/// first shard started.
pub fn progress_event(
    total: u32,
    done: u32,
    failed: u32,
    bars: u64,
    rows: u64,
    started: Option<Millis>,
    now: Millis,
) -> Event {
    let finished = done + failed;
    let eta_ms = match started {
        Some(s) if finished > 0 && finished < total => Some(
            ((now - s).max(0) as f64 / f64::from(finished) * f64::from(total - finished)) as u64,
        ),
        _ => None,
    };
    Event::Progress {
        done: finished,
        total,
        bars,
        rows,
        eta_ms,
    }
}

/// The error message of an execution quarantined because its workers died `crashes` times in a
/// row (the last time running shard `idx`), with the command that runs it again.
pub fn quarantine_message(id: &ExecutionId, idx: u32, crashes: u32) -> String {
    format!(
        "quarantined after {crashes} crashes in a row: the worker running shard {idx} died \
         (process killed, out of memory, or lease expired); `quantd resume --force {id}` runs it again"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounded_claims_condition_names_every_long_kind() {
        let long: Vec<String> = ExecutionKind::ALL
            .into_iter()
            .filter(|k| k.is_long())
            .map(|k| format!("'{k}'"))
            .collect();
        assert_eq!(
            BOUNDED_KINDS,
            format!("e.kind NOT IN ({})", long.join(", "))
        );
    }
}
