//! The steps SQLite write transactions are made of: append events (numbered from the
//! execution's `next_seq` counter, so they stay gapless whoever writes), insert shards, finish,
//! fail or end an execution, store health snapshots. Each takes the open transaction; the caller
//! commits.

use super::rows::{SELECT_SHARDS, at, corrupt_exec, shard_from_row};
use crate::error::{Result, StoreError};
use crate::records::{
    Completion, ExecutionRecord, Lease, Millis, NewExecution, OnComplete, progress_event,
};
use quantd_core::state::StateMachine;
use quantd_core::{ErrorClass, Event, EventRecord, ExecutionId, ExecutionState};
use serde_json::Value;
use sqlx::{Sqlite, Transaction};

/// An event as stored in the `body` column.
pub(super) fn event_json(event: &Event) -> Result<String> {
    serde_json::to_string(event).map_err(corrupt_exec)
}

/// Appends an event to an execution inside a transaction, returning the stored record.
pub(super) async fn append(
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
        .bind(event_json(&event)?)
        .execute(&mut **tx)
        .await?;
    Ok(EventRecord {
        execution: exec.clone(),
        seq: seq as u64,
        at: at(now),
        event,
    })
}

/// Inserts an execution's planned shards, pending, except the first one under `lease` when given
/// (running, attempt 1, claim 1, as a claim leaves it). Many rows per statement (9 parameters
/// each, well under SQLite's limit of 32,766).
pub(super) async fn insert_shards(
    tx: &mut Transaction<'_, Sqlite>,
    e: &NewExecution,
    lease: Option<&Lease>,
) -> Result<()> {
    for (n, chunk) in e.shards.chunks(1000).enumerate() {
        let mut q: sqlx::QueryBuilder<Sqlite> = sqlx::QueryBuilder::new(
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
    tx: &mut Transaction<'_, Sqlite>,
    exec: &ExecutionId,
    now: Millis,
    first: i64,
    events: Vec<Event>,
) -> Result<Vec<EventRecord>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let bodies = events.iter().map(event_json).collect::<Result<Vec<_>>>()?;
    // Four parameters an event, well under SQLite's limit per statement.
    for (n, chunk) in bodies.chunks(5_000).enumerate() {
        let mut q: sqlx::QueryBuilder<Sqlite> =
            sqlx::QueryBuilder::new("INSERT INTO events (execution_id, seq, at, body) ");
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

pub(super) async fn exec_state(
    tx: &mut Transaction<'_, Sqlite>,
    exec: &ExecutionId,
) -> Result<Option<ExecutionState>> {
    let s: Option<String> = sqlx::query_scalar("SELECT state FROM executions WHERE id = ?")
        .bind(exec.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    s.map(|s| s.parse().map_err(corrupt_exec)).transpose()
}

/// The progress event of an execution's counters as they stand in `tx`.
pub(super) async fn progress_now(
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
pub(super) async fn finish_if_done(
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
pub(super) async fn insert_health(
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
pub(super) async fn record_health_in(
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
pub(super) async fn store_completion(
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
pub(super) async fn end_execution(
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
pub(super) async fn failed_for_good(
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
    let progress = progress_now(tx, exec, now).await?;
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
