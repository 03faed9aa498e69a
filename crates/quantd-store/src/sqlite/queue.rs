//! The SQLite execution queue's write side: create executions, claim shards under leases,
//! heartbeat, complete, fail, stop and release them, recover dead claims, change states.
//!
//! Every method is one `BEGIN IMMEDIATE` transaction (SQLite's single writer, so a claim's
//! `UPDATE … RETURNING` cannot race another), and every outcome of a claim is fenced by
//! (owner, claim number): a claim lost to recovery, or given again (even to the same owner),
//! writes nothing.

use super::SqliteStore;
use super::create::{insert_batch, insert_execution};
use super::rows::{corrupt_exec, json, record_from_row};
use super::steps::{
    append, end_execution, exec_state, failed_for_good, insert_events, store_completion,
};
use crate::error::{Result, StoreError};
use crate::records::executions::BOUNDED_KINDS;
use crate::records::{
    AttemptFailure, ClaimScope, ClaimedShard, Commit, Created, FailureOutcome, Millis,
    NewExecution, OnComplete, Recovered, SHARD_TURN_MS, ShardDone, progress_event,
    quarantine_message,
};
use crate::traits::ExecutionQueue;
use quantd_core::state::StateMachine;
use quantd_core::{ErrorClass, Event, EventRecord, ExecutionId, ExecutionState};
use sqlx::Row;

/// A running shard as recovery reads it: execution id, index, claim number, lease owner, lease
/// expiry, crashes so far, and its execution's state.
type RunningShard = (String, i64, i64, Option<String>, Option<i64>, i64, String);

/// A claimed shard as a claim's `RETURNING` gives it: execution id, index, attempt, claim
/// number, payload, crashes so far, and its execution's state before the claim.
type ClaimRow = (String, i64, i64, i64, String, i64, String);

/// Cancels a dead worker's claim on a shard of an execution that already ended.
async fn cancel_dead_claim(
    writer: &sqlx::SqlitePool,
    exec: &str,
    idx: i64,
    claim: i64,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "UPDATE shards SET state = 'cancelled', finished_at = ?, lease_owner = NULL, \
         lease_expires_at = NULL WHERE execution_id = ? AND idx = ? AND state = 'running' \
         AND claims = ?",
    )
    .bind(now)
    .bind(exec)
    .bind(idx)
    .bind(claim)
    .execute(writer)
    .await?;
    Ok(())
}

/// The next claimable shard: the first pending shard whose backoff has passed of the active
/// execution with the smallest `claim_at` (the oldest, moved earlier by its priority: migration
/// 0014; later by its workspace's queue and by each shard claimed: [`SHARD_TURN_MS`]) (binds:
/// now).
const CLAIM_NEXT: &str = "SELECT s.execution_id, s.idx \
     FROM executions e INDEXED BY executions_claim_order \
     CROSS JOIN shards s INDEXED BY shards_pending ON s.execution_id = e.id \
     WHERE e.state IN ('pending', 'running') AND s.state = 'pending' AND s.not_before <= ? \
     ORDER BY e.claim_at, e.id, s.idx LIMIT 1";

/// [`CLAIM_NEXT`] within one execution and the executions under it (binds: now, id, id).
const CLAIM_NEXT_OF: &str = "SELECT s.execution_id, s.idx \
     FROM executions e CROSS JOIN shards s INDEXED BY shards_pending ON s.execution_id = e.id \
     WHERE e.state IN ('pending', 'running') AND s.state = 'pending' AND s.not_before <= ? \
     AND (e.id = ? OR e.root_id = ?) \
     ORDER BY e.claim_at, e.id, s.idx LIMIT 1";

/// The pick of a claim of `scope`: [`CLAIM_NEXT`], [`CLAIM_NEXT_OF`] (binds: now, id, id), or
/// [`CLAIM_NEXT`] over bounded work only ([`ClaimScope::Bounded`]).
fn pick(scope: ClaimScope<'_>) -> String {
    match scope {
        ClaimScope::Any => CLAIM_NEXT.to_string(),
        ClaimScope::Of(_) => CLAIM_NEXT_OF.to_string(),
        ClaimScope::Bounded => CLAIM_NEXT.replacen(
            "WHERE e.state",
            &format!("WHERE {BOUNDED_KINDS} AND e.state"),
            1,
        ),
    }
}

impl ExecutionQueue for SqliteStore {
    /// Inserts an execution, its shards and its `execution-created` event (sequence number 1).
    async fn create_execution(&self, e: &NewExecution) -> Result<Created> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let created = insert_execution(&mut tx, e).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Inserts every execution of `batch` in one transaction, skipping those whose parent step
    /// already has a child.
    async fn create_executions(&self, batch: &[NewExecution]) -> Result<Vec<Option<Created>>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let created = insert_batch(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Claims the next pending shard (of `only` when given) whose backoff has passed, of an
    /// execution that is pending or running, under `owner`'s lease until `lease_until`.
    #[tracing::instrument(level = "debug", skip(self, scope), fields(owner = owner))]
    async fn claim_shard(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        scope: ClaimScope<'_>,
    ) -> Result<Option<(ClaimedShard, Vec<EventRecord>)>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // Picks and leases the shard in one statement (the writer lock is held: no race). The
        // pick walks the active executions in claim order (or only the scope's tree) and each
        // one's pending shards (migration 0011): it stops at the first claimable shard instead
        // of sorting every pending one.
        let pick = pick(scope);
        let mut claim = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE shards SET state = 'running', attempt = attempt + 1, claims = claims + 1, lease_owner = ?, \
             lease_expires_at = ?, started_at = ? \
             WHERE (execution_id, idx) = ({pick}) \
             RETURNING execution_id, idx, attempt, claims, payload, crashes, (SELECT state FROM executions WHERE id = shards.execution_id)",
        )))
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(now);
        if let ClaimScope::Of(only) = scope {
            claim = claim.bind(only.as_str()).bind(only.as_str());
        }
        let row: Option<ClaimRow> = claim.fetch_optional(&mut *tx).await?;
        let Some((exec, idx, attempt, claim, payload, crashes, state)) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let exec: ExecutionId = exec.parse().map_err(corrupt_exec)?;
        let mut events = Vec::new();
        let first: i64 = if state == "pending" {
            ExecutionState::Pending
                .transition(ExecutionState::Running)
                .map_err(|e| StoreError::Conflict(e.to_string()))?;
            events.push(Event::ExecutionStarted);
            sqlx::query_scalar(
                "UPDATE executions SET attempts = attempts + 1, state = 'running', started_at = COALESCE(started_at, ?), \
                 next_seq = next_seq + 2, claim_at = claim_at + ? WHERE id = ? RETURNING next_seq - 2",
            )
            .bind(now)
            .bind(SHARD_TURN_MS)
            .bind(exec.as_str())
            .fetch_one(&mut *tx)
            .await?
        } else {
            sqlx::query_scalar(
                "UPDATE executions SET attempts = attempts + 1, next_seq = next_seq + 1, claim_at = claim_at + ? \
                 WHERE id = ? RETURNING next_seq - 1",
            )
            .bind(SHARD_TURN_MS)
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
                claim: claim as u64,
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
    #[tracing::instrument(level = "debug", skip(self, shard, done, on_complete), fields(execution = %shard.execution, shard = shard.idx, rows = done.rows))]
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
             WHERE execution_id = ? AND idx = ? AND state = 'running' AND lease_owner = ? AND claims = ?",
        )
        .bind(bars as i64)
        .bind(rows as i64)
        .bind(now)
        .bind(exec.as_str())
        .bind(shard.idx as i64)
        .bind(owner)
        .bind(shard.claim as i64)
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
             result_bytes = result_bytes + ?, crash_streak = 0, next_seq = next_seq + 2 WHERE id = ? \
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
            progress_event(
                row.try_get::<i64, _>("shards_total")? as u32,
                row.try_get::<i64, _>("shards_done")? as u32,
                failed as u32,
                row.try_get::<i64, _>("bars")? as u64,
                row.try_get::<i64, _>("rows")? as u64,
                row.try_get("started_at")?,
                now,
            ),
        ];
        // The last open shard of a live execution: it completes, with what `on_complete` gives.
        let open: i64 = row.try_get("open_shards")?;
        let state: String = row.try_get("state")?;
        let state: ExecutionState = state.parse().map_err(corrupt_exec)?;
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
    #[tracing::instrument(level = "debug", skip(self, shard, failure), fields(execution = %shard.execution, shard = shard.idx, class = %failure.class))]
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
             WHERE execution_id = ? AND idx = ? AND state = 'running' AND lease_owner = ? AND claims = ?",
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
        .bind(shard.claim as i64)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Commit::LeaseLost);
        }
        sqlx::query(
            "UPDATE executions SET failed_attempts = failed_attempts + 1, crash_streak = crash_streak + ? \
             WHERE id = ?",
        )
        .bind(i64::from(failure.crash))
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
             WHERE execution_id = ? AND idx = ? AND state = 'running' AND lease_owner = ? AND claims = ?",
        )
        .bind(now)
        .bind(shard.execution.as_str())
        .bind(shard.idx as i64)
        .bind(owner)
        .bind(shard.claim as i64)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Returns a claimed shard to `pending` without counting a failure (shutdown, pause race).
    async fn release_shard(&self, shard: &ClaimedShard, owner: &str) -> Result<bool> {
        self.release_shard_until(shard, owner, 0).await
    }

    async fn release_shard_until(
        &self,
        shard: &ClaimedShard,
        owner: &str,
        not_before: Millis,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE shards SET state = 'pending', attempt = attempt - 1, lease_owner = NULL, lease_expires_at = NULL, \
             not_before = ? WHERE execution_id = ? AND idx = ? AND state = 'running' AND lease_owner = ? AND claims = ?",
        )
        .bind(not_before)
        .bind(shard.execution.as_str())
        .bind(shard.idx as i64)
        .bind(owner)
        .bind(shard.claim as i64)
        .execute(&self.writer)
        .await?;
        if r.rows_affected() == 1 && not_before > 0 {
            // Work that goes on later takes its turn then, behind what waited before it.
            sqlx::query("UPDATE executions SET claim_at = max(claim_at, ?) WHERE id = ?")
                .bind(not_before)
                .bind(shard.execution.as_str())
                .execute(&self.writer)
                .await?;
        }
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
    /// (`owner_alive` answers for each owner), each with one more crash. Each execution that had
    /// such shards counts one crash in a row (however many of its shards the dead worker held); one
    /// reaching `quarantine_after` (0: never) fails as quarantined instead, its dead shards with it.
    #[tracing::instrument(level = "debug", skip(self, owner_alive))]
    async fn recover_shards(
        &self,
        now: Millis,
        owner_alive: impl Fn(&str) -> bool,
        quarantine_after: u32,
    ) -> Result<Recovered> {
        let rows: Vec<RunningShard> = sqlx::query_as(
            "SELECT s.execution_id, s.idx, s.claims, s.lease_owner, s.lease_expires_at, s.crashes, e.state \
             FROM shards s JOIN executions e ON e.id = s.execution_id WHERE s.state = 'running' \
             ORDER BY s.execution_id, s.idx",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut dead: Vec<(String, Vec<(i64, i64)>)> = Vec::new();
        for (exec, idx, claim, owner, expires, _crashes, exec_state) in rows {
            let gone = owner.as_deref().is_none_or(|o| !owner_alive(o))
                || expires.is_none_or(|t| t <= now);
            if !gone {
                continue;
            }
            if matches!(exec_state.as_str(), "completed" | "failed" | "cancelled") {
                // Its execution ended while it ran: it will never run again.
                cancel_dead_claim(&self.writer, &exec, idx, claim, now).await?;
                continue;
            }
            match dead.last_mut() {
                Some((e, shards)) if *e == exec => shards.push((idx, claim)),
                _ => dead.push((exec, vec![(idx, claim)])),
            }
        }
        let mut done = Recovered::default();
        for (exec, shards) in dead {
            let id: ExecutionId = exec.parse().map_err(corrupt_exec)?;
            let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
            let mut requeued = Vec::new();
            // Still the same dead claims (another process may have recovered them, and someone
            // claimed them again, meanwhile)?
            for (idx, claim) in shards {
                let r = sqlx::query(
                    "UPDATE shards SET state = 'pending', attempt = attempt - 1, lease_owner = NULL, \
                     lease_expires_at = NULL, crashes = crashes + 1 WHERE execution_id = ? AND idx = ? \
                     AND state = 'running' AND claims = ?",
                )
                .bind(&exec)
                .bind(idx)
                .bind(claim)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() == 1 {
                    requeued.push(idx);
                }
            }
            let Some(&last) = requeued.last() else {
                tx.rollback().await?;
                continue;
            };
            let streak: i64 = sqlx::query_scalar(
                "UPDATE executions SET crash_streak = crash_streak + 1 WHERE id = ? RETURNING crash_streak",
            )
            .bind(&exec)
            .fetch_one(&mut *tx)
            .await?;
            if quarantine_after > 0 && streak >= i64::from(quarantine_after) {
                let message = quarantine_message(&id, last as u32, streak as u32);
                let events = failed_for_good(
                    &mut tx,
                    &id,
                    last as u32,
                    now,
                    ErrorClass::Internal,
                    &message,
                    Some(true),
                )
                .await?;
                done.quarantined.push(id);
                done.events.extend(events);
            } else {
                done.requeued += requeued.len() as u64;
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
            "UPDATE executions SET state = ?, quarantined = 0, crash_streak = 0, shards_failed = 0, error_class = NULL, \
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

    async fn record_steps(
        &self,
        exec: &ExecutionId,
        rows: &[crate::records::StepRow],
        events: Vec<Event>,
        progress: (u32, u32, u32),
        now: Millis,
    ) -> Result<Vec<EventRecord>> {
        self.write_steps(exec, rows, events, progress, now).await
    }

    async fn end_orchestrated(
        &self,
        exec: &ExecutionId,
        summary: &serde_json::Value,
        error: Option<(ErrorClass, &str)>,
        now: Millis,
    ) -> Result<Vec<EventRecord>> {
        self.end_pattern(exec, summary, error, now).await
    }
}
