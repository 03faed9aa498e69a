//! The steps Postgres write transactions are made of: lock an execution, append events
//! (numbered from the execution's `next_seq` counter under its row lock, so they stay gapless
//! whoever writes), insert shards, finish, fail or end an execution, store health snapshots.
//! Each takes the open transaction; the caller commits.
//!
//! Lock order (see the module above): a step that holds an execution's row never waits for a
//! shard's: ending an execution cancels the pending shards no claimer holds (`SKIP LOCKED`), and
//! a claimer that finds its shard's execution ended cancels that shard itself.

use super::rows::{SELECT_SHARDS, at, corrupt_exec, shard_from_row, text};
use crate::error::{Result, StoreError};
use crate::records::{
    Completion, ExecutionRecord, Lease, Millis, NewExecution, OnComplete, progress_event,
};
use quantd_core::state::StateMachine;
use quantd_core::{ErrorClass, Event, EventRecord, ExecutionId, ExecutionState};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder, Transaction};

/// An open Postgres transaction.
pub(super) type Tx = Transaction<'static, Postgres>;

/// An event as stored in the `body` column.
pub(super) fn event_json(event: &Event) -> Result<String> {
    serde_json::to_string(event).map_err(corrupt_exec)
}

/// Locks the row of `exec` for this transaction and reads its state (`None`: no such execution).
/// Statements after it see every transaction that committed before the lock was granted.
pub(super) async fn exec_state(tx: &mut Tx, exec: &ExecutionId) -> Result<Option<ExecutionState>> {
    let s: Option<String> =
        sqlx::query_scalar("SELECT state FROM executions WHERE id = $1 FOR NO KEY UPDATE")
            .bind(exec.as_str())
            .fetch_optional(&mut **tx)
            .await?;
    s.map(|s| s.parse().map_err(corrupt_exec)).transpose()
}

/// Appends an event to an execution inside a transaction, returning the stored record.
pub(super) async fn append(
    tx: &mut Tx,
    exec: &ExecutionId,
    now: Millis,
    event: Event,
) -> Result<EventRecord> {
    let first = reserve(tx, exec, 1).await?;
    let mut records = insert_events(tx, exec, now, first, vec![event]).await?;
    Ok(records.remove(0))
}

/// Reserves `n` sequence numbers of `exec` (under its row lock) and returns the first.
pub(super) async fn reserve(tx: &mut Tx, exec: &ExecutionId, n: usize) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "UPDATE executions SET next_seq = next_seq + $1 WHERE id = $2 RETURNING next_seq - $1",
    )
    .bind(n as i64)
    .bind(exec.as_str())
    .fetch_one(&mut **tx)
    .await?)
}

/// Inserts an execution's planned shards, pending, except the first one under `lease` when given
/// (running, attempt 1, claim 1, as a claim leaves it).
pub(super) async fn insert_shards(
    tx: &mut Tx,
    e: &NewExecution,
    lease: Option<&Lease>,
) -> Result<()> {
    // Nine parameters a row, well under Postgres's 65,535 per statement.
    for (n, chunk) in e.shards.chunks(1000).enumerate() {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO shards (execution_id, idx, state, payload, attempt, claims, lease_owner, lease_expires_at, started_at) ",
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
                .push_bind(i64::from(lease.is_some()))
                .push_bind(lease.map(|l| l.owner.clone()))
                .push_bind(lease.map(|l| l.until))
                .push_bind(lease.map(|_| e.now));
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Inserts `events` with sequence numbers from `first` on (already reserved from the execution's
/// counter), in few statements.
pub(super) async fn insert_events(
    tx: &mut Tx,
    exec: &ExecutionId,
    now: Millis,
    first: i64,
    events: Vec<Event>,
) -> Result<Vec<EventRecord>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let bodies = events.iter().map(event_json).collect::<Result<Vec<_>>>()?;
    for (n, chunk) in bodies.chunks(5_000).enumerate() {
        let mut q: QueryBuilder<Postgres> =
            QueryBuilder::new("INSERT INTO events (execution_id, seq, at, body) ");
        q.push_values(chunk.iter().enumerate(), |mut row, (i, body)| {
            row.push_bind(exec.as_str().to_string())
                .push_bind(first + (n * 5_000 + i) as i64)
                .push_bind(now)
                .push_bind(body.clone());
        });
        q.build().execute(&mut **tx).await?;
    }
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

/// Events of several executions gathered for one insert (a batch of claims or commits), each
/// numbered from its execution's counter reserved by the caller.
#[derive(Default)]
pub(super) struct EventBatch {
    execs: Vec<String>,
    seqs: Vec<i64>,
    ats: Vec<Millis>,
    bodies: Vec<String>,
}

impl EventBatch {
    /// Adds `event` of `exec` as number `*seq` (then moved on by one) and returns its record.
    pub(super) fn push(
        &mut self,
        exec: &ExecutionId,
        seq: &mut i64,
        now: Millis,
        event: Event,
    ) -> Result<EventRecord> {
        self.bodies.push(event_json(&event)?);
        self.execs.push(exec.as_str().to_string());
        self.seqs.push(*seq);
        self.ats.push(now);
        let record = EventRecord {
            execution: exec.clone(),
            seq: *seq as u64,
            at: at(now),
            event,
        };
        *seq += 1;
        Ok(record)
    }

    /// Inserts the gathered events (one statement per 5,000).
    pub(super) async fn insert(self, tx: &mut Tx) -> Result<()> {
        const CHUNK: usize = 5_000;
        for start in (0..self.execs.len()).step_by(CHUNK) {
            let end = (start + CHUNK).min(self.execs.len());
            sqlx::query(
                "INSERT INTO events (execution_id, seq, at, body) \
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[])",
            )
            .bind(&self.execs[start..end])
            .bind(&self.seqs[start..end])
            .bind(&self.ats[start..end])
            .bind(&self.bodies[start..end])
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

/// The progress event of an execution's counters as they stand in `tx`.
pub(super) async fn progress_now(tx: &mut Tx, exec: &ExecutionId, now: Millis) -> Result<Event> {
    let (total, done, failed, bars, rows, started): (i64, i64, i64, i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT shards_total, shards_done, shards_failed, bars, rows, started_at FROM executions WHERE id = $1",
    )
    .bind(exec.as_str())
    .fetch_one(&mut **tx)
    .await?;
    Ok(progress_event(
        total as u32,
        done as u32,
        failed as u32,
        bars as u64,
        rows as u64,
        started,
        now,
    ))
}

/// Ends the execution as `completed` (listing its failed shards) once no shard is left to run.
/// The caller holds the execution's lock.
pub(super) async fn finish_if_done(
    tx: &mut Tx,
    exec: &ExecutionId,
    now: Millis,
) -> Result<Option<EventRecord>> {
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM shards WHERE execution_id = $1 AND state IN ('pending', 'running')",
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
    let failed: i64 = sqlx::query_scalar(
        "UPDATE executions SET state = 'completed', finished_at = $1 WHERE id = $2 RETURNING shards_failed",
    )
    .bind(now)
    .bind(exec.as_str())
    .fetch_one(&mut **tx)
    .await?;
    let ev = Event::ExecutionCompleted {
        failed_shards: failed as u32,
    };
    Ok(Some(append(tx, exec, now, ev).await?))
}

/// Stores a health snapshot inside a transaction (its event is the caller's).
pub(super) async fn insert_health(
    tx: &mut Tx,
    exec: &ExecutionId,
    now: Millis,
    score: u8,
    band: &str,
    body: &Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO health (execution_id, at, score, band, body) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (execution_id, at) DO UPDATE SET score = excluded.score, band = excluded.band, body = excluded.body",
    )
    .bind(exec.as_str())
    .bind(now)
    .bind(i64::from(score))
    .bind(band)
    .bind(body.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores a health snapshot and appends its `health` event inside a transaction.
pub(super) async fn record_health_in(
    tx: &mut Tx,
    exec: &ExecutionId,
    now: Millis,
    score: u8,
    band: &str,
    body: &Value,
) -> Result<EventRecord> {
    exec_state(tx, exec).await?;
    insert_health(tx, exec, now, score, band, body).await?;
    let ev = Event::Health {
        score,
        band: band.to_string(),
    };
    append(tx, exec, now, ev).await
}

/// Runs `on_complete` on the record and shards of an execution the transaction completes and
/// stores its health snapshot; the caller stores the summary and the `health` event.
pub(super) async fn store_completion(
    tx: &mut Tx,
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
/// running ones finish or stop on their own (and one a claimer holds right now is cancelled by
/// that claimer, which finds the execution ended).
pub(super) async fn end_execution(
    tx: &mut Tx,
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
    sqlx::query("UPDATE executions SET state = $1, finished_at = $2, error_class = $3, error_message = $4 WHERE id = $5")
        .bind(to.name())
        .bind(now)
        .bind(error.map(|e| e.0.as_str()))
        .bind(error.map(|e| text(e.1).into_owned()))
        .bind(exec.as_str())
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE shards SET state = 'cancelled', finished_at = $1 WHERE (execution_id, idx) IN \
         (SELECT execution_id, idx FROM shards WHERE execution_id = $2 AND state = 'pending' FOR UPDATE SKIP LOCKED)",
    )
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

/// Records a shard failed for good (already `failed` or locked in `tx`) with its events, then
/// ends the execution: `Some(false)` fails it, `Some(true)` fails it as quarantined, `None`
/// completes it if nothing is left to run. An execution that already ended keeps its end: only
/// the shard's failure is recorded. The caller holds the shard's row.
pub(super) async fn failed_for_good(
    tx: &mut Tx,
    exec: &ExecutionId,
    idx: u32,
    now: Millis,
    class: ErrorClass,
    message: &str,
    ending: Option<bool>,
) -> Result<Vec<EventRecord>> {
    sqlx::query(
        "UPDATE shards SET state = 'failed', error_class = $1, error_message = $2, finished_at = $3, \
         lease_owner = NULL, lease_expires_at = NULL WHERE execution_id = $4 AND idx = $5",
    )
    .bind(class.as_str())
    .bind(text(message).into_owned())
    .bind(now)
    .bind(exec.as_str())
    .bind(idx as i64)
    .execute(&mut **tx)
    .await?;
    let state = exec_state(tx, exec).await?;
    sqlx::query("UPDATE executions SET shards_failed = shards_failed + 1 WHERE id = $1")
        .bind(exec.as_str())
        .execute(&mut **tx)
        .await?;
    let ev = Event::ShardFailed {
        shard: idx,
        class,
        message: message.to_string(),
    };
    let mut events = vec![append(tx, exec, now, ev).await?];
    let progress = progress_now(tx, exec, now).await?;
    events.push(append(tx, exec, now, progress).await?);
    let active = state.is_some_and(|s| !s.is_terminal());
    match ending {
        Some(quarantine) if active => {
            if quarantine {
                sqlx::query("UPDATE executions SET quarantined = true WHERE id = $1")
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
