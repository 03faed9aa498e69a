//! Executions, shards, events and shard results.
//!
//! Every state change is one transaction that also appends the events describing it (with the
//! execution's next sequence numbers) and returns them, so the engine can broadcast exactly what
//! was committed. A shard's results, its `done` state and its events commit together.
//!
//! Claims use `BEGIN IMMEDIATE` (SQLite's single writer) and a lease: a shard is `running` under
//! an owner until its lease expires or its owner is known dead, then returns to `pending`.

use crate::SqliteStore;
use crate::error::{Result, StoreError};
use crate::traits::{ExecutionQueue, Page, Paged};
use chrono::{DateTime, Utc};
use quantd_core::state::StateMachine;
use quantd_core::{
    ErrorClass, Event, EventRecord, ExecutionId, ExecutionKind, ExecutionState, ShardState,
};
use serde::Serialize;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

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
    /// Bytes of results stored (the bodies of its done shards).
    pub result_bytes: u64,
    /// Created (Unix ms).
    pub created_at: Millis,
    /// First shard started (Unix ms).
    pub started_at: Option<Millis>,
    /// Finished (Unix ms).
    pub finished_at: Option<Millis>,
}

/// A shard a worker now holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedShard {
    /// Its execution.
    pub execution: ExecutionId,
    /// Its index.
    pub idx: u32,
    /// The attempt starting now, from 1.
    pub attempt: u32,
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
}

/// A finished shard's output, as [`ExecutionQueue::complete_shard`] stores it.
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

/// A failed attempt of a shard, as [`ExecutionQueue::fail_shard`] records it.
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

/// What [`ExecutionQueue::recover_shards`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovered {
    /// Shards returned to the queue.
    pub requeued: u64,
    /// Executions failed as quarantined.
    pub quarantined: Vec<ExecutionId>,
    /// The events those quarantines appended.
    pub events: Vec<EventRecord>,
}

/// Filters for [`SqliteStore::list_executions`].
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

fn corrupt(m: impl ToString) -> StoreError {
    StoreError::Corrupt {
        table: "executions",
        message: m.to_string(),
    }
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_value(Value::String(s.to_string())).map_err(corrupt)
}

fn kind_from(s: &str) -> Result<ExecutionKind> {
    parse(s)
}

fn json(s: &str) -> Result<Value> {
    serde_json::from_str(s).map_err(corrupt)
}

fn record_from_row(r: &SqliteRow) -> Result<ExecutionRecord> {
    let id: String = r.try_get("id")?;
    let state: String = r.try_get("state")?;
    let kind: String = r.try_get("kind")?;
    let spec: String = r.try_get("spec")?;
    let options: String = r.try_get("options")?;
    let class: Option<String> = r.try_get("error_class")?;
    let summary: Option<String> = r.try_get("summary")?;
    Ok(ExecutionRecord {
        id: id.parse().map_err(corrupt)?,
        workspace: r.try_get("workspace")?,
        kind: kind_from(&kind)?,
        name: r.try_get("name")?,
        state: state.parse().map_err(corrupt)?,
        spec: json(&spec)?,
        fingerprint: r.try_get("fingerprint")?,
        pack_id: r.try_get("pack_id")?,
        code_version: r.try_get("code_version")?,
        options: json(&options)?,
        shards_total: r.try_get::<i64, _>("shards_total")? as u32,
        shards_done: r.try_get::<i64, _>("shards_done")? as u32,
        shards_failed: r.try_get::<i64, _>("shards_failed")? as u32,
        bars: r.try_get::<i64, _>("bars")? as u64,
        rows: r.try_get::<i64, _>("rows")? as u64,
        attempts: r.try_get::<i64, _>("attempts")? as u32,
        failed_attempts: r.try_get::<i64, _>("failed_attempts")? as u32,
        error_class: class.as_deref().map(parse).transpose()?,
        error_message: r.try_get("error_message")?,
        summary: summary.as_deref().map(json).transpose()?,
        quarantined: r.try_get::<i64, _>("quarantined")? != 0,
        result_bytes: r.try_get::<i64, _>("result_bytes")? as u64,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

/// An execution's shards as [`shard_from_row`] reads them (without their payloads, which can be
/// long lists of tickers).
const SELECT_SHARDS: &str = "SELECT idx, state, attempt, bars, rows, error_class, error_message, started_at, finished_at \
     FROM shards WHERE execution_id = ? ORDER BY idx";

fn shard_from_row(r: &SqliteRow) -> Result<ShardRecord> {
    let state: String = r.try_get("state")?;
    let class: Option<String> = r.try_get("error_class")?;
    Ok(ShardRecord {
        idx: r.try_get::<i64, _>("idx")? as u32,
        state: state.parse().map_err(corrupt)?,
        attempt: r.try_get::<i64, _>("attempt")? as u32,
        bars: r.try_get::<i64, _>("bars")? as u64,
        rows: r.try_get::<i64, _>("rows")? as u64,
        error_class: class.as_deref().map(parse).transpose()?,
        error_message: r.try_get("error_message")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

fn at(ms: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Appends an event to an execution inside a transaction, returning the stored record.
async fn append(
    tx: &mut Transaction<'_, Sqlite>,
    exec: &ExecutionId,
    now: Millis,
    event: Event,
) -> Result<EventRecord> {
    let seq: i64 = sqlx::query_scalar(
        "UPDATE executions SET next_seq = next_seq + 1 WHERE id = ? RETURNING next_seq - 1",
    )
    .bind(exec.as_str())
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO events (execution_id, seq, at, body) VALUES (?, ?, ?, ?)")
        .bind(exec.as_str())
        .bind(seq)
        .bind(now)
        .bind(serde_json::to_string(&event).expect("events serialize"))
        .execute(&mut **tx)
        .await?;
    Ok(EventRecord {
        execution: exec.clone(),
        seq: seq as u64,
        at: at(now),
        event,
    })
}

/// Inserts `events` with sequence numbers from `first` on (already reserved from the execution's
/// counter), in one statement.
/// Inserts an execution's planned shards, pending, except the first one under `lease` when given
/// (running, attempt 1, as a claim leaves it). Many rows per statement (8 parameters each, well
/// under SQLite's limit of 32,766).
async fn insert_shards(
    tx: &mut Transaction<'_, Sqlite>,
    e: &NewExecution,
    lease: Option<&Lease>,
) -> Result<()> {
    for (n, chunk) in e.shards.chunks(1000).enumerate() {
        let mut q: sqlx::QueryBuilder<Sqlite> = sqlx::QueryBuilder::new(
            "INSERT INTO shards (execution_id, idx, state, payload, attempt, lease_owner, lease_expires_at, started_at) ",
        );
        q.push_values(chunk.iter().enumerate(), |mut row, (i, p)| {
            let idx = n * 1000 + i;
            let lease = lease.filter(|_| idx == 0);
            row.push_bind(e.id.as_str().to_string())
                .push_bind(idx as i64)
                .push_bind(if lease.is_some() {
                    "running"
                } else {
                    "pending"
                })
                .push_bind(p.to_string())
                .push_bind(i64::from(lease.is_some()))
                .push_bind(lease.map(|l| l.owner.clone()))
                .push_bind(lease.map(|l| l.until))
                .push_bind(lease.map(|_| e.now));
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_events(
    tx: &mut Transaction<'_, Sqlite>,
    exec: &ExecutionId,
    now: Millis,
    first: i64,
    events: Vec<Event>,
) -> Result<Vec<EventRecord>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut q: sqlx::QueryBuilder<Sqlite> =
        sqlx::QueryBuilder::new("INSERT INTO events (execution_id, seq, at, body) ");
    q.push_values(events.iter().enumerate(), |mut row, (i, e)| {
        row.push_bind(exec.as_str().to_string())
            .push_bind(first + i as i64)
            .push_bind(now)
            .push_bind(serde_json::to_string(e).expect("events serialize"));
    });
    q.build().execute(&mut **tx).await?;
    Ok(events
        .into_iter()
        .enumerate()
        .map(|(i, event)| EventRecord {
            execution: exec.clone(),
            seq: (first + i as i64) as u64,
            at: at(now),
            event,
        })
        .collect())
}

async fn exec_state(
    tx: &mut Transaction<'_, Sqlite>,
    exec: &ExecutionId,
) -> Result<Option<ExecutionState>> {
    let s: Option<String> = sqlx::query_scalar("SELECT state FROM executions WHERE id = ?")
        .bind(exec.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    s.map(|s| s.parse().map_err(corrupt)).transpose()
}

/// Progress counters of an execution, as an event.
async fn progress_event(
    tx: &mut Transaction<'_, Sqlite>,
    exec: &ExecutionId,
    now: Millis,
) -> Result<Event> {
    let (total, done, failed, bars, rows, started): (i64, i64, i64, i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT shards_total, shards_done, shards_failed, bars, rows, started_at FROM executions WHERE id = ?",
    )
    .bind(exec.as_str())
    .fetch_one(&mut **tx)
    .await?;
    Ok(progress(total, done, failed, bars, rows, started, now))
}

/// The progress event of these counters.
fn progress(
    total: i64,
    done: i64,
    failed: i64,
    bars: i64,
    rows: i64,
    started: Option<i64>,
    now: Millis,
) -> Event {
    let finished = done + failed;
    let eta_ms = match started {
        Some(s) if finished > 0 && finished < total => {
            Some(((now - s) as f64 / finished as f64 * (total - finished) as f64) as u64)
        }
        _ => None,
    };
    Event::Progress {
        done: finished as u32,
        total: total as u32,
        bars: bars as u64,
        rows: rows as u64,
        eta_ms,
    }
}

/// Ends the execution as `completed` (listing its failed shards) once no shard is left to run.
async fn finish_if_done(
    tx: &mut Transaction<'_, Sqlite>,
    exec: &ExecutionId,
    now: Millis,
) -> Result<Option<EventRecord>> {
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM shards WHERE execution_id = ? AND state IN ('pending', 'running')",
    )
    .bind(exec.as_str())
    .fetch_one(&mut **tx)
    .await?;
    if open > 0 {
        return Ok(None);
    }
    let state = exec_state(tx, exec).await?;
    if !matches!(
        state,
        Some(ExecutionState::Running | ExecutionState::Paused | ExecutionState::Pending)
    ) {
        return Ok(None);
    }
    let failed: i64 = sqlx::query_scalar("SELECT shards_failed FROM executions WHERE id = ?")
        .bind(exec.as_str())
        .fetch_one(&mut **tx)
        .await?;
    sqlx::query("UPDATE executions SET state = 'completed', finished_at = ? WHERE id = ?")
        .bind(now)
        .bind(exec.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(Some(
        append(
            tx,
            exec,
            now,
            Event::ExecutionCompleted {
                failed_shards: failed as u32,
            },
        )
        .await?,
    ))
}

/// Stores a health snapshot inside a transaction (its event is the caller's).
async fn insert_health(
    tx: &mut Transaction<'_, Sqlite>,
    exec: &ExecutionId,
    now: Millis,
    score: u8,
    band: &str,
    body: &Value,
) -> Result<()> {
    sqlx::query("INSERT OR REPLACE INTO health (execution_id, at, score, band, body) VALUES (?, ?, ?, ?, ?)")
        .bind(exec.as_str())
        .bind(now)
        .bind(score as i64)
        .bind(band)
        .bind(body.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Stores a health snapshot and appends its `health` event inside a transaction.
async fn record_health_in(
    tx: &mut Transaction<'_, Sqlite>,
    exec: &ExecutionId,
    now: Millis,
    score: u8,
    band: &str,
    body: &Value,
) -> Result<EventRecord> {
    insert_health(tx, exec, now, score, band, body).await?;
    append(
        tx,
        exec,
        now,
        Event::Health {
            score,
            band: band.to_string(),
        },
    )
    .await
}

/// Runs `on_complete` on the record and shards of an execution the transaction completes and
/// stores its health snapshot; the caller stores the summary and the `health` event.
async fn store_completion(
    tx: &mut Transaction<'_, Sqlite>,
    rec: &ExecutionRecord,
    now: Millis,
    on_complete: OnComplete,
) -> Result<Completion> {
    let shards = sqlx::query(SELECT_SHARDS)
        .bind(rec.id.as_str())
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(shard_from_row)
        .collect::<Result<Vec<_>>>()?;
    let done = on_complete(rec, &shards);
    let h = &done.health;
    insert_health(tx, &rec.id, now, h.score, &h.band, &h.body).await?;
    Ok(done)
}

/// Ends an execution (failed or cancelled) inside a transaction: pending shards are cancelled;
/// running ones finish or stop on their own.
async fn end_execution(
    tx: &mut Transaction<'_, Sqlite>,
    exec: &ExecutionId,
    now: Millis,
    to: ExecutionState,
    error: Option<(ErrorClass, &str)>,
) -> Result<Vec<EventRecord>> {
    let from = exec_state(tx, exec)
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("execution {exec} not found")))?;
    from.transition(to)
        .map_err(|e| StoreError::Conflict(e.to_string()))?;
    sqlx::query("UPDATE executions SET state = ?, finished_at = ?, error_class = ?, error_message = ? WHERE id = ?")
        .bind(to.name())
        .bind(now)
        .bind(error.map(|e| e.0.as_str()))
        .bind(error.map(|e| e.1))
        .bind(exec.as_str())
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE shards SET state = 'cancelled', finished_at = ? WHERE execution_id = ? AND state = 'pending'")
        .bind(now)
        .bind(exec.as_str())
        .execute(&mut **tx)
        .await?;
    let ev = match (to, error) {
        (ExecutionState::Failed, Some((class, message))) => Event::ExecutionFailed {
            class,
            message: message.to_string(),
        },
        (ExecutionState::Failed, None) => Event::ExecutionFailed {
            class: ErrorClass::Internal,
            message: "failed".into(),
        },
        _ => Event::ExecutionCancelled,
    };
    Ok(vec![append(tx, exec, now, ev).await?])
}

/// Records a shard failed for good (already `failed` in `tx`) with its events, then ends the
/// execution: `Some(false)` fails it, `Some(true)` fails it as quarantined, `None` completes it if
/// nothing is left to run. An execution that already ended (another shard failed it first, or it
/// was cancelled) keeps its end: only the shard's failure is recorded.
async fn failed_for_good(
    tx: &mut Transaction<'_, Sqlite>,
    exec: &ExecutionId,
    idx: u32,
    now: Millis,
    class: ErrorClass,
    message: &str,
    ending: Option<bool>,
) -> Result<Vec<EventRecord>> {
    sqlx::query(
        "UPDATE shards SET state = 'failed', error_class = ?, error_message = ?, finished_at = ?, \
         lease_owner = NULL, lease_expires_at = NULL WHERE execution_id = ? AND idx = ?",
    )
    .bind(class.as_str())
    .bind(message)
    .bind(now)
    .bind(exec.as_str())
    .bind(idx as i64)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE executions SET shards_failed = shards_failed + 1 WHERE id = ?")
        .bind(exec.as_str())
        .execute(&mut **tx)
        .await?;
    let ev = Event::ShardFailed {
        shard: idx,
        class,
        message: message.to_string(),
    };
    let mut events = vec![append(tx, exec, now, ev).await?];
    let progress = progress_event(tx, exec, now).await?;
    events.push(append(tx, exec, now, progress).await?);
    let active = exec_state(tx, exec)
        .await?
        .is_some_and(|s| !s.is_terminal());
    match ending {
        Some(quarantine) if active => {
            if quarantine {
                sqlx::query("UPDATE executions SET quarantined = 1 WHERE id = ?")
                    .bind(exec.as_str())
                    .execute(&mut **tx)
                    .await?;
            }
            let error = Some((class, message));
            events.extend(end_execution(tx, exec, now, ExecutionState::Failed, error).await?);
        }
        Some(_) => {}
        None => events.extend(finish_if_done(tx, exec, now).await?),
    }
    Ok(events)
}

impl ExecutionQueue for SqliteStore {
    /// Inserts an execution, its shards and its `execution-created` event (sequence number 1).
    async fn create_execution(&self, e: &NewExecution) -> Result<Created> {
        // With a first claim the execution starts running at once, as a claim would leave it.
        let lease = e.first_claim.as_ref().filter(|_| !e.shards.is_empty());
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "INSERT INTO executions (id, workspace, kind, name, state, spec, fingerprint, pack_id, code_version, options, \
             shards_total, created_at, started_at, attempts, next_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(e.id.as_str())
        .bind(&e.workspace)
        .bind(e.kind.as_str())
        .bind(&e.name)
        .bind(if lease.is_some() { "running" } else { "pending" })
        .bind(e.spec.to_string())
        .bind(&e.fingerprint)
        .bind(&e.pack_id)
        .bind(&e.code_version)
        .bind(e.options.to_string())
        .bind(e.shards.len() as i64)
        .bind(e.now)
        .bind(lease.map(|_| e.now))
        .bind(i64::from(lease.is_some()))
        .bind(if lease.is_some() { 4 } else { 2 })
        .fetch_one(&mut *tx)
        .await?;
        let mut rec = record_from_row(&row)?;
        insert_shards(&mut tx, e, lease).await?;
        let mut events = vec![Event::ExecutionCreated {
            shards: e.shards.len() as u32,
        }];
        if lease.is_some() {
            events.push(Event::ExecutionStarted);
            events.push(Event::ShardStarted {
                shard: 0,
                attempt: 1,
            });
        }
        let mut events = insert_events(&mut tx, &e.id, e.now, 1, events).await?;
        if e.shards.is_empty() {
            events.extend(finish_if_done(&mut tx, &e.id, e.now).await?);
            let row = sqlx::query("SELECT * FROM executions WHERE id = ?")
                .bind(e.id.as_str())
                .fetch_one(&mut *tx)
                .await?;
            rec = record_from_row(&row)?;
        }
        tx.commit().await?;
        let claimed = lease.map(|_| ClaimedShard {
            execution: e.id.clone(),
            idx: 0,
            attempt: 1,
            payload: e.shards[0].clone(),
            crashes: 0,
        });
        Ok(Created {
            record: rec,
            events,
            claimed,
        })
    }

    /// Claims the next pending shard (of `only` when given) whose backoff has passed, of an
    /// execution that is pending or running, under `owner`'s lease until `lease_until`.
    async fn claim_shard(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        only: Option<&ExecutionId>,
    ) -> Result<Option<(ClaimedShard, Vec<EventRecord>)>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // Picks and leases the shard in one statement (the writer lock is held: no race).
        let row: Option<(String, i64, i64, String, i64, String)> = sqlx::query_as(
            "UPDATE shards SET state = 'running', attempt = attempt + 1, lease_owner = ?, lease_expires_at = ?, started_at = ? \
             WHERE (execution_id, idx) = (\
               SELECT s.execution_id, s.idx FROM shards s JOIN executions e ON e.id = s.execution_id \
               WHERE s.state = 'pending' AND s.not_before <= ? AND e.state IN ('pending', 'running') AND (? IS NULL OR e.id = ?) \
               ORDER BY e.created_at, e.id, s.idx LIMIT 1) \
             RETURNING execution_id, idx, attempt, payload, crashes, (SELECT state FROM executions WHERE id = shards.execution_id)",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(now)
        .bind(only.map(|o| o.as_str()))
        .bind(only.map(|o| o.as_str()))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((exec, idx, attempt, payload, crashes, state)) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let exec: ExecutionId = exec.parse().map_err(corrupt)?;
        let mut events = Vec::new();
        let first: i64 = if state == "pending" {
            ExecutionState::Pending
                .transition(ExecutionState::Running)
                .map_err(|e| StoreError::Conflict(e.to_string()))?;
            events.push(Event::ExecutionStarted);
            sqlx::query_scalar(
                "UPDATE executions SET attempts = attempts + 1, state = 'running', started_at = COALESCE(started_at, ?), \
                 next_seq = next_seq + 2 WHERE id = ? RETURNING next_seq - 2",
            )
            .bind(now)
            .bind(exec.as_str())
            .fetch_one(&mut *tx)
            .await?
        } else {
            sqlx::query_scalar(
                "UPDATE executions SET attempts = attempts + 1, next_seq = next_seq + 1 WHERE id = ? RETURNING next_seq - 1",
            )
            .bind(exec.as_str())
            .fetch_one(&mut *tx)
            .await?
        };
        events.push(Event::ShardStarted {
            shard: idx as u32,
            attempt: attempt as u32,
        });
        let events = insert_events(&mut tx, &exec, now, first, events).await?;
        tx.commit().await?;
        let payload = json(&payload)?;
        Ok(Some((
            ClaimedShard {
                execution: exec,
                idx: idx as u32,
                attempt: attempt as u32,
                payload,
                crashes: crashes as u32,
            },
            events,
        )))
    }

    /// Extends the leases of every shard `owner` holds.
    async fn heartbeat(&self, owner: &str, lease_until: Millis) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE shards SET lease_expires_at = ? WHERE lease_owner = ? AND state = 'running'",
        )
        .bind(lease_until)
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected())
    }

    /// Commits a shard's results with its `done` state and events — or nothing, if the shard is
    /// no longer `owner`'s. When the commit completes the execution, what `on_complete` gives is
    /// stored in the same transaction.
    #[allow(clippy::too_many_arguments)]
    async fn complete_shard(
        &self,
        shard: &ClaimedShard,
        owner: &str,
        now: Millis,
        done: &ShardDone<'_>,
        on_complete: Option<OnComplete>,
    ) -> Result<Commit> {
        let (bars, rows, body) = (done.bars, done.rows, done.body);
        let exec = &shard.execution;
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let updated = sqlx::query(
            "UPDATE shards SET state = 'done', bars = ?, rows = ?, finished_at = ?, lease_owner = NULL, lease_expires_at = NULL \
             WHERE execution_id = ? AND idx = ? AND state = 'running' AND lease_owner = ? AND attempt = ?",
        )
        .bind(bars as i64)
        .bind(rows as i64)
        .bind(now)
        .bind(exec.as_str())
        .bind(shard.idx as i64)
        .bind(owner)
        .bind(shard.attempt as i64)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Commit::LeaseLost);
        }
        sqlx::query(
            "INSERT INTO shard_results (execution_id, idx, rows, body) VALUES (?, ?, ?, ?)",
        )
        .bind(exec.as_str())
        .bind(shard.idx as i64)
        .bind(rows as i64)
        .bind(body)
        .execute(&mut *tx)
        .await?;
        // The counters, the sequence numbers of the two events below, the record, and the open
        // shards left (the end check), in one statement.
        let row = sqlx::query(
            "UPDATE executions SET shards_done = shards_done + 1, bars = bars + ?, rows = rows + ?, \
             result_bytes = result_bytes + ?, next_seq = next_seq + 2 WHERE id = ? \
             RETURNING *, (SELECT COUNT(*) FROM shards WHERE execution_id = ? AND state IN ('pending', 'running')) AS open_shards",
        )
        .bind(bars as i64)
        .bind(rows as i64)
        .bind(body.len() as i64)
        .bind(exec.as_str())
        .bind(exec.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let stored = row.try_get::<i64, _>("result_bytes")? as u64;
        if stored > done.max_result_bytes {
            tx.rollback().await?;
            return Ok(Commit::OverLimit(stored));
        }
        let next: i64 = row.try_get("next_seq")?;
        let failed: i64 = row.try_get("shards_failed")?;
        let mut events = vec![
            Event::ShardCompleted {
                shard: shard.idx,
                rows,
            },
            progress(
                row.try_get("shards_total")?,
                row.try_get("shards_done")?,
                failed,
                row.try_get("bars")?,
                row.try_get("rows")?,
                row.try_get("started_at")?,
                now,
            ),
        ];
        // The last open shard of a live execution: it completes, with what `on_complete` gives.
        let open: i64 = row.try_get("open_shards")?;
        let state: String = row.try_get("state")?;
        let state: ExecutionState = state.parse().map_err(corrupt)?;
        if open == 0
            && matches!(
                state,
                ExecutionState::Running | ExecutionState::Paused | ExecutionState::Pending
            )
        {
            let mut summary = None;
            if let Some(f) = on_complete {
                // The record as the completion below leaves it.
                let mut rec = record_from_row(&row)?;
                rec.state = ExecutionState::Completed;
                rec.finished_at = Some(now);
                let done = store_completion(&mut tx, &rec, now, f).await?;
                summary = done.summary;
                events.push(Event::Health {
                    score: done.health.score,
                    band: done.health.band,
                });
            }
            // Last: the event that ends the execution's stream.
            events.push(Event::ExecutionCompleted {
                failed_shards: failed as u32,
            });
            sqlx::query(
                "UPDATE executions SET state = 'completed', finished_at = ?, summary = ?, next_seq = next_seq + ? WHERE id = ?",
            )
            .bind(now)
            .bind(summary.map(|s| s.to_string()))
            .bind(events.len() as i64 - 2)
            .bind(exec.as_str())
            .execute(&mut *tx)
            .await?;
        }
        let records = insert_events(&mut tx, exec, now, next - 2, events).await?;
        tx.commit().await?;
        Ok(Commit::Committed(records))
    }

    /// Records a failed attempt and what follows from it.
    async fn fail_shard(
        &self,
        shard: &ClaimedShard,
        owner: &str,
        now: Millis,
        failure: &AttemptFailure<'_>,
    ) -> Result<Commit> {
        let exec = &shard.execution;
        let (class, message, outcome) = (failure.class, failure.message, &failure.outcome);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let (state, not_before) = match outcome {
            FailureOutcome::RetryAt(t) => ("pending", *t),
            _ => ("failed", 0),
        };
        let updated = sqlx::query(
            "UPDATE shards SET state = ?, not_before = ?, error_class = ?, error_message = ?, lease_owner = NULL, \
             lease_expires_at = NULL, finished_at = CASE WHEN ? = 'failed' THEN ? END, crashes = crashes + ? \
             WHERE execution_id = ? AND idx = ? AND state = 'running' AND lease_owner = ? AND attempt = ?",
        )
        .bind(state)
        .bind(not_before)
        .bind(class.as_str())
        .bind(message)
        .bind(state)
        .bind(now)
        .bind(i64::from(failure.crash))
        .bind(exec.as_str())
        .bind(shard.idx as i64)
        .bind(owner)
        .bind(shard.attempt as i64)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Commit::LeaseLost);
        }
        sqlx::query("UPDATE executions SET failed_attempts = failed_attempts + 1 WHERE id = ?")
            .bind(exec.as_str())
            .execute(&mut *tx)
            .await?;
        let events = match outcome {
            FailureOutcome::RetryAt(t) => {
                let ev = Event::ShardRetrying {
                    shard: shard.idx,
                    attempt: shard.attempt + 1,
                    delay_ms: (t - now).max(0) as u64,
                    class,
                };
                vec![append(&mut tx, exec, now, ev).await?]
            }
            FailureOutcome::FailExecution
            | FailureOutcome::Continue
            | FailureOutcome::Quarantine => {
                let ending = match outcome {
                    FailureOutcome::Continue => None,
                    FailureOutcome::Quarantine => Some(true),
                    _ => Some(false),
                };
                failed_for_good(&mut tx, exec, shard.idx, now, class, message, ending).await?
            }
        };
        tx.commit().await?;
        Ok(Commit::Committed(events))
    }

    /// Marks a claimed shard `cancelled` after it stopped because its execution was cancelled.
    async fn stop_shard(&self, shard: &ClaimedShard, owner: &str, now: Millis) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE shards SET state = 'cancelled', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL \
             WHERE execution_id = ? AND idx = ? AND state = 'running' AND lease_owner = ?",
        )
        .bind(now)
        .bind(shard.execution.as_str())
        .bind(shard.idx as i64)
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Returns a claimed shard to `pending` without counting a failure (shutdown, pause race).
    async fn release_shard(&self, shard: &ClaimedShard, owner: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE shards SET state = 'pending', attempt = attempt - 1, lease_owner = NULL, lease_expires_at = NULL \
             WHERE execution_id = ? AND idx = ? AND state = 'running' AND lease_owner = ?",
        )
        .bind(shard.execution.as_str())
        .bind(shard.idx as i64)
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Returns every shard `owner` holds to `pending`.
    async fn release_owned(&self, owner: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE shards SET state = 'pending', attempt = attempt - 1, lease_owner = NULL, lease_expires_at = NULL \
             WHERE state = 'running' AND lease_owner = ?",
        )
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected())
    }

    /// Pauses, resumes or cancels an execution (checked against the state machine).
    async fn change_execution_state(
        &self,
        exec: &ExecutionId,
        to: ExecutionState,
        now: Millis,
    ) -> Result<Vec<EventRecord>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let from = exec_state(&mut tx, exec)
            .await?
            .ok_or_else(|| StoreError::Conflict(format!("execution {exec} not found")))?;
        let events = match to {
            ExecutionState::Cancelled => end_execution(&mut tx, exec, now, to, None).await?,
            ExecutionState::Paused | ExecutionState::Running => {
                // Resuming goes back to where it was: running if a shard ever started, else pending.
                let target = if to == ExecutionState::Running {
                    let started: Option<i64> =
                        sqlx::query_scalar("SELECT started_at FROM executions WHERE id = ?")
                            .bind(exec.as_str())
                            .fetch_one(&mut *tx)
                            .await?;
                    if started.is_some() {
                        ExecutionState::Running
                    } else {
                        ExecutionState::Pending
                    }
                } else {
                    to
                };
                if from != ExecutionState::Paused && to == ExecutionState::Running {
                    return Err(StoreError::Conflict(format!(
                        "execution {exec} is {from}, not paused"
                    )));
                }
                from.transition(target).map_err(|e| {
                    StoreError::Conflict(format!("execution {exec} is {from}: {e}"))
                })?;
                sqlx::query("UPDATE executions SET state = ? WHERE id = ?")
                    .bind(target.name())
                    .bind(exec.as_str())
                    .execute(&mut *tx)
                    .await?;
                let ev = if to == ExecutionState::Paused {
                    Event::ExecutionPaused
                } else {
                    Event::ExecutionResumed
                };
                vec![append(&mut tx, exec, now, ev).await?]
            }
            other => {
                return Err(StoreError::Conflict(format!(
                    "cannot set an execution to {other} by request"
                )));
            }
        };
        tx.commit().await?;
        Ok(events)
    }

    /// Returns to `pending` the running shards whose lease expired or whose owner is dead
    /// (`owner_alive` answers for each owner), each with one more crash; a shard reaching
    /// `quarantine_after` crashes fails and quarantines its execution instead.
    async fn recover_shards(
        &self,
        now: Millis,
        owner_alive: impl Fn(&str) -> bool,
        quarantine_after: u32,
    ) -> Result<Recovered> {
        let rows: Vec<(String, i64, Option<String>, Option<i64>, i64, String)> = sqlx::query_as(
            "SELECT s.execution_id, s.idx, s.lease_owner, s.lease_expires_at, s.crashes, e.state \
             FROM shards s JOIN executions e ON e.id = s.execution_id WHERE s.state = 'running'",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut done = Recovered::default();
        for (exec, idx, owner, expires, crashes, exec_state) in rows {
            let dead = owner.as_deref().is_none_or(|o| !owner_alive(o))
                || expires.is_none_or(|t| t <= now);
            if !dead {
                continue;
            }
            if matches!(exec_state.as_str(), "completed" | "failed" | "cancelled") {
                // Its execution ended while it ran: it will never run again.
                sqlx::query(
                    "UPDATE shards SET state = 'cancelled', finished_at = ?, lease_owner = NULL, \
                     lease_expires_at = NULL WHERE execution_id = ? AND idx = ? AND state = 'running' \
                     AND lease_owner IS ?",
                )
                .bind(now)
                .bind(&exec)
                .bind(idx)
                .bind(&owner)
                .execute(&self.writer)
                .await?;
                continue;
            }
            let crashes = crashes + 1;
            let quarantine = quarantine_after > 0 && crashes >= i64::from(quarantine_after);
            let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
            // Still the same dead claim (another process may have recovered it meanwhile)?
            let requeue = if quarantine {
                "UPDATE shards SET crashes = ? WHERE execution_id = ? AND idx = ? AND state = 'running' \
                 AND lease_owner IS ?"
            } else {
                "UPDATE shards SET state = 'pending', attempt = attempt - 1, lease_owner = NULL, \
                 lease_expires_at = NULL, crashes = ? WHERE execution_id = ? AND idx = ? AND state = 'running' \
                 AND lease_owner IS ?"
            };
            let r = sqlx::query(requeue)
                .bind(crashes)
                .bind(&exec)
                .bind(idx)
                .bind(&owner)
                .execute(&mut *tx)
                .await?;
            if r.rows_affected() == 1 && quarantine {
                let id: ExecutionId = exec.parse().map_err(corrupt)?;
                let message = format!(
                    "quarantined after {crashes} crashes: the worker running shard {idx} died (process \
                     killed, out of memory, or lease expired); `quantd resume --force {id}` runs it again"
                );
                let events = failed_for_good(
                    &mut tx,
                    &id,
                    idx as u32,
                    now,
                    ErrorClass::Internal,
                    &message,
                    Some(true),
                )
                .await?;
                done.quarantined.push(id);
                done.events.extend(events);
            } else {
                done.requeued += r.rows_affected();
            }
            tx.commit().await?;
        }
        Ok(done)
    }

    /// Runs a quarantined execution again.
    async fn requeue_quarantined(
        &self,
        exec: &ExecutionId,
        now: Millis,
    ) -> Result<Vec<EventRecord>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let row: Option<(String, i64, Option<i64>)> =
            sqlx::query_as("SELECT state, quarantined, started_at FROM executions WHERE id = ?")
                .bind(exec.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let Some((state, quarantined, started)) = row else {
            return Err(StoreError::Conflict(format!("execution {exec} not found")));
        };
        if state != "failed" || quarantined == 0 {
            return Err(StoreError::Conflict(format!(
                "execution {exec} is {state} and not quarantined; --force only resumes quarantined executions"
            )));
        }
        sqlx::query(
            "UPDATE shards SET state = 'pending', attempt = 0, crashes = 0, not_before = 0, error_class = NULL, \
             error_message = NULL, finished_at = NULL WHERE execution_id = ? AND state IN ('failed', 'cancelled')",
        )
        .bind(exec.as_str())
        .execute(&mut *tx)
        .await?;
        // Failed is final for every other path: this is the one explicit way back, so it does not
        // go through the state machine.
        let to = if started.is_some() {
            "running"
        } else {
            "pending"
        };
        sqlx::query(
            "UPDATE executions SET state = ?, quarantined = 0, shards_failed = 0, error_class = NULL, \
             error_message = NULL, finished_at = NULL WHERE id = ?",
        )
        .bind(to)
        .bind(exec.as_str())
        .execute(&mut *tx)
        .await?;
        let ev = append(&mut tx, exec, now, Event::ExecutionResumed).await?;
        tx.commit().await?;
        Ok(vec![ev])
    }

    /// One execution.
    async fn execution(&self, id: &ExecutionId) -> Result<Option<ExecutionRecord>> {
        let row = sqlx::query("SELECT * FROM executions WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Executions newest first, filtered, one page. Only the filters given go into the SQL, so
    /// SQLite walks the (workspace, created_at, id) or (workspace, name, created_at) index.
    async fn list_executions(&self, f: &ExecutionFilter) -> Result<Paged<ExecutionRecord>> {
        let mut q: sqlx::QueryBuilder<Sqlite> =
            sqlx::QueryBuilder::new("SELECT * FROM executions WHERE 1 = 1");
        if let Some(w) = &f.workspace {
            q.push(" AND workspace = ").push_bind(w.clone());
        }
        if let Some(n) = &f.name {
            q.push(" AND name = ").push_bind(n.clone());
        }
        if let Some(k) = f.kind {
            q.push(" AND kind = ").push_bind(k.as_str());
        }
        if let Some(s) = f.state {
            q.push(" AND state = ").push_bind(s.name());
        }
        if let Some(t) = f.since {
            q.push(" AND created_at >= ").push_bind(t);
        }
        let page = Page {
            after: f.after.clone(),
            limit: f.limit,
        };
        let before = page.cursor(|c| {
            let (t, id) = c.split_once('.')?;
            Some((t.parse::<Millis>().ok()?, id.to_string()))
        })?;
        if let Some((t, id)) = &before {
            let known: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM executions WHERE id = ? AND created_at = ? AND workspace IS COALESCE(?, workspace))",
            )
            .bind(id)
            .bind(*t)
            .bind(f.workspace.as_deref())
            .fetch_one(&self.pool)
            .await?;
            if !known {
                return Err(page.unknown_cursor());
            }
            q.push(" AND (created_at, id) < (")
                .push_bind(*t)
                .push(", ")
                .push_bind(id.clone())
                .push(")");
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(page.sql_limit());
        let rows = q.build().fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, &page, |r| {
            format!("{}.{}", r.created_at, r.id)
        }))
    }

    /// Executions that are not finished, oldest first.
    async fn unfinished_executions(&self) -> Result<Vec<ExecutionRecord>> {
        let rows = sqlx::query("SELECT * FROM executions WHERE state IN ('pending', 'running', 'paused') ORDER BY created_at")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// The newest completed execution with this fingerprint.
    async fn completed_by_fingerprint(&self, fingerprint: &str) -> Result<Option<ExecutionRecord>> {
        let row = sqlx::query(
            "SELECT * FROM executions WHERE fingerprint = ? AND state = 'completed' AND shards_failed = 0 ORDER BY created_at DESC LIMIT 1",
        )
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// The shards of an execution, in plan order.
    async fn shards(&self, id: &ExecutionId) -> Result<Vec<ShardRecord>> {
        let rows = sqlx::query(SELECT_SHARDS)
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(shard_from_row).collect()
    }

    /// Events with a sequence number above `after`, in order, at most `limit`.
    async fn events_after(
        &self,
        id: &ExecutionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        let rows: Vec<(i64, i64, String)> =
            sqlx::query_as("SELECT seq, at, body FROM events WHERE execution_id = ? AND seq > ? ORDER BY seq LIMIT ?")
                .bind(id.as_str())
                .bind(after as i64)
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(seq, t, body)| {
                Ok(EventRecord {
                    execution: id.clone(),
                    seq: seq as u64,
                    at: at(t),
                    event: serde_json::from_str(&body).map_err(corrupt)?,
                })
            })
            .collect()
    }

    /// Shard indices that have results, in order (read each with [`SqliteStore::shard_result`]).
    async fn result_shards(&self, id: &ExecutionId) -> Result<Vec<u32>> {
        let v: Vec<i64> =
            sqlx::query_scalar("SELECT idx FROM shard_results WHERE execution_id = ? ORDER BY idx")
                .bind(id.as_str())
                .fetch_all(&self.pool)
                .await?;
        Ok(v.into_iter().map(|i| i as u32).collect())
    }

    /// One shard's stored results.
    async fn shard_result(&self, id: &ExecutionId, idx: u32) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT body FROM shard_results WHERE execution_id = ? AND idx = ?")
                .bind(id.as_str())
                .bind(idx as i64)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Stores the metrics of a finished execution.
    async fn set_summary(&self, id: &ExecutionId, summary: &Value) -> Result<()> {
        sqlx::query("UPDATE executions SET summary = ? WHERE id = ?")
            .bind(summary.to_string())
            .bind(id.as_str())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Records a health snapshot and its event.
    async fn queue_stats(&self) -> Result<QueueStats> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT kind, state, COUNT(*) FROM executions GROUP BY kind, state")
                .fetch_all(&self.pool)
                .await?;
        let mut stats = QueueStats::default();
        for (kind, state, n) in rows {
            stats
                .executions
                .push((kind_from(&kind)?, parse(&state)?, n as u64));
        }
        // Only shards that will run: those of executions that are pending or running (a paused
        // execution's shards wait for a person, and an ended one's never run).
        let shards: Vec<(String, i64)> = sqlx::query_as(
            "SELECT s.state, COUNT(*) FROM shards s JOIN executions e ON e.id = s.execution_id \
             WHERE s.state IN ('pending', 'running') AND e.state IN ('pending', 'running') GROUP BY s.state",
        )
        .fetch_all(&self.pool)
        .await?;
        for (state, n) in shards {
            match state.as_str() {
                "pending" => stats.pending_shards = n as u64,
                _ => stats.running_shards = n as u64,
            }
        }
        Ok(stats)
    }

    async fn record_health(
        &self,
        id: &ExecutionId,
        now: Millis,
        score: u8,
        band: &str,
        body: &Value,
    ) -> Result<EventRecord> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let ev = record_health_in(&mut tx, id, now, score, band, body).await?;
        tx.commit().await?;
        Ok(ev)
    }

    async fn record_event(
        &self,
        id: &ExecutionId,
        now: Millis,
        event: Event,
    ) -> Result<EventRecord> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let ev = append(&mut tx, id, now, event).await?;
        tx.commit().await?;
        Ok(ev)
    }
}
