//! The Postgres execution queue's write side: create executions, claim shards under leases,
//! heartbeat, complete, fail, stop and release them, change states. Recovery of dead claims is
//! in [`super::recover`].
//!
//! A claim picks its shard with `FOR UPDATE SKIP LOCKED` (claimers pass each other by), then
//! locks the shard's execution, whose row numbers the events. Every outcome of a claim is
//! fenced by (owner, claim number) in the statement that writes it: a claim lost to recovery, or
//! given again (even to the same owner), writes nothing.

use super::PgStore;
use super::claims::ClaimRequest;
use super::commits::CommitRequest;
use super::create::{insert_batch, insert_execution};
use super::rows::{corrupt_exec, json, record_from_row, text};
use super::steps::{
    Tx, append, end_execution, exec_state, failed_for_good, insert_events, store_completion,
};
use crate::error::{Result, StoreError};
use crate::records::executions::BOUNDED_KINDS;
use crate::records::{
    AttemptFailure, ClaimScope, ClaimedShard, Commit, Created, FailureOutcome, Millis,
    NewExecution, OnComplete, Recovered, SHARD_TURN_MS, ShardDone, progress_event,
};
use crate::traits::ExecutionQueue;
use quantd_core::state::StateMachine;
use quantd_core::{ErrorClass, Event, EventRecord, ExecutionId, ExecutionState};
use sqlx::Row;

/// The next claimable shard, locked: the first pending shard whose backoff has passed of the
/// active execution with the smallest `claim_at` (the oldest, moved earlier by its priority,
/// later by its workspace's queue and by each shard claimed: [`SHARD_TURN_MS`]),
/// skipping shards other claimers hold (binds: now). It walks the active executions in claim
/// order (the partial index `executions_claim_order`) and looks into each one's pending shards
/// (`shards_pending`) until one gives a shard, so its cost does not grow with the backlog: a
/// join of every pending shard, sorted, is what a planner with stale statistics picks for the
/// plain join (40 ms a claim with 20,000 pending executions; docs/PERFORMANCE.md).
const CLAIM_NEXT: &str = "SELECT s.execution_id, s.idx FROM executions e CROSS JOIN LATERAL \
     (SELECT execution_id, idx FROM shards WHERE execution_id = e.id AND state = 'pending' AND not_before <= $1 \
      ORDER BY idx LIMIT 1 FOR UPDATE SKIP LOCKED) s \
     WHERE e.state IN ('pending', 'running') ORDER BY e.claim_at, e.id LIMIT 1";

/// [`CLAIM_NEXT`] within one execution and the executions under it (binds: now, id).
const CLAIM_NEXT_OF: &str = "SELECT s.execution_id, s.idx FROM executions e CROSS JOIN LATERAL \
     (SELECT execution_id, idx FROM shards WHERE execution_id = e.id AND state = 'pending' AND not_before <= $1 \
      ORDER BY idx LIMIT 1 FOR UPDATE SKIP LOCKED) s \
     WHERE e.state IN ('pending', 'running') AND (e.id = $2 OR e.root_id = $2) \
     ORDER BY e.claim_at, e.id LIMIT 1";

/// The pick of a claim of `scope` (binds: now, then the id for [`ClaimScope::Of`]):
/// [`CLAIM_NEXT`], [`CLAIM_NEXT_OF`], or [`CLAIM_NEXT`] over bounded work only.
fn pick(scope: ClaimScope<'_>) -> String {
    match scope {
        ClaimScope::Any => CLAIM_NEXT.to_string(),
        ClaimScope::Of(_) => CLAIM_NEXT_OF.to_string(),
        ClaimScope::Bounded => bounded(CLAIM_NEXT),
    }
}

/// `pick` over bounded work only: [`BOUNDED_KINDS`] added to its executions' condition.
pub(super) fn bounded(pick: &str) -> String {
    pick.replacen(
        "WHERE e.state",
        &format!("WHERE {BOUNDED_KINDS} AND e.state"),
        1,
    )
}

/// How many picks one claim tries when the execution of the shard it picked was paused or
/// ended before its lock was granted.
const CLAIM_TRIES: usize = 8;

impl PgStore {
    /// One claim in a transaction of its own (of one execution's tree, or after a batch failed).
    pub(super) async fn claim_one(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        scope: ClaimScope<'_>,
    ) -> Result<Option<(ClaimedShard, Vec<EventRecord>)>> {
        for _ in 0..CLAIM_TRIES {
            match self.try_claim(owner, now, lease_until, scope).await? {
                None => return Ok(None),
                Some(Some(claimed)) => return Ok(Some(claimed)),
                Some(None) => continue,
            }
        }
        Ok(None)
    }

    /// One attempt at a claim: `None` when nothing is claimable, `Some(None)` when the picked
    /// shard's execution was paused or ended before its lock was granted (pick again).
    async fn try_claim(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        scope: ClaimScope<'_>,
    ) -> Result<Option<Option<(ClaimedShard, Vec<EventRecord>)>>> {
        let mut tx = self.pool.begin().await?;
        let sql = pick(scope);
        let mut pick = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now);
        if let ClaimScope::Of(id) = scope {
            pick = pick.bind(id.as_str());
        }
        let picked: Option<(String, i64)> = pick.fetch_optional(&mut *tx).await?;
        let Some((exec, idx)) = picked else {
            tx.rollback().await?;
            return Ok(None);
        };
        let exec: ExecutionId = exec.parse().map_err(corrupt_exec)?;
        let state = exec_state(&mut tx, &exec)
            .await?
            .ok_or_else(|| corrupt_exec(format!("shard {idx} of a missing execution {exec}")))?;
        match state {
            ExecutionState::Pending | ExecutionState::Running => {}
            ExecutionState::Paused => {
                tx.rollback().await?;
                return Ok(Some(None));
            }
            _ => {
                // It ended while this claimer held the shard: cancel it as the end would have.
                sqlx::query("UPDATE shards SET state = 'cancelled', finished_at = $1 WHERE execution_id = $2 AND idx = $3")
                    .bind(now)
                    .bind(exec.as_str())
                    .bind(idx)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(Some(None));
            }
        }
        let claimed = lease_shard(&mut tx, &exec, idx, owner, now, lease_until, state).await?;
        if let Err(e) = tx.commit().await {
            self.give_back_later(owner, vec![claimed.0]);
            return Err(e.into());
        }
        Ok(Some(Some(claimed)))
    }
}

/// Leases the locked pending shard `idx` of `exec` (whose row is locked, in `state`) to
/// `owner`, starting the execution if it was pending, with the claim's events.
async fn lease_shard(
    tx: &mut Tx,
    exec: &ExecutionId,
    idx: i64,
    owner: &str,
    now: Millis,
    lease_until: Millis,
    state: ExecutionState,
) -> Result<(ClaimedShard, Vec<EventRecord>)> {
    let (attempt, claim, payload, crashes): (i64, i64, String, i64) = sqlx::query_as(
        "UPDATE shards SET state = 'running', attempt = attempt + 1, claims = claims + 1, lease_owner = $1, \
         lease_expires_at = $2, started_at = $3 WHERE execution_id = $4 AND idx = $5 \
         RETURNING attempt, claims, payload, crashes",
    )
    .bind(owner)
    .bind(lease_until)
    .bind(now)
    .bind(exec.as_str())
    .bind(idx)
    .fetch_one(&mut **tx)
    .await?;
    let mut events = Vec::new();
    let starts = state == ExecutionState::Pending;
    if starts {
        ExecutionState::Pending
            .transition(ExecutionState::Running)
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        events.push(Event::ExecutionStarted);
    }
    events.push(Event::ShardStarted {
        shard: idx as u32,
        attempt: attempt as u32,
    });
    // One statement for the execution's row: the attempt, the start (if this claim starts it)
    // and the events' sequence numbers.
    let first: i64 = sqlx::query_scalar(
        "UPDATE executions SET attempts = attempts + 1, next_seq = next_seq + $1, \
         state = CASE WHEN $2 THEN 'running' ELSE state END, \
         started_at = CASE WHEN $2 THEN COALESCE(started_at, $3) ELSE started_at END, \
         claim_at = claim_at + $5 WHERE id = $4 RETURNING next_seq - $1",
    )
    .bind(events.len() as i64)
    .bind(starts)
    .bind(now)
    .bind(exec.as_str())
    .bind(SHARD_TURN_MS)
    .fetch_one(&mut **tx)
    .await?;
    let events = insert_events(tx, exec, now, first, events).await?;
    let claimed = ClaimedShard {
        execution: exec.clone(),
        idx: idx as u32,
        attempt: attempt as u32,
        claim: claim as u64,
        payload: json(&payload)?,
        crashes: crashes as u32,
    };
    Ok((claimed, events))
}

impl ExecutionQueue for PgStore {
    /// Workers on many hosts share one Postgres.
    fn shared_across_hosts(&self) -> bool {
        true
    }

    async fn event_wakeups(&self) -> Result<Option<tokio::sync::mpsc::Receiver<ExecutionId>>> {
        super::listen::event_wakeups(&self.pool).await.map(Some)
    }

    /// Inserts an execution, its shards and its `execution-created` event (sequence number 1).
    async fn create_execution(&self, e: &NewExecution) -> Result<Created> {
        let mut tx = self.pool.begin().await?;
        let created = insert_execution(&mut tx, e).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Inserts every execution of `batch` in one transaction, skipping those whose parent step
    /// already has a child.
    async fn create_executions(&self, batch: &[NewExecution]) -> Result<Vec<Option<Created>>> {
        let mut tx = self.pool.begin().await?;
        let created = insert_batch(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Claims the next pending shard of `scope` whose backoff has passed, of an execution that
    /// is pending or running, under `owner`'s lease until `lease_until`. Claims of the queue
    /// made at the same time by this process's workers are taken together in one transaction
    /// ([`super::claims`]).
    #[tracing::instrument(level = "debug", skip(self, scope), fields(owner = owner))]
    async fn claim_shard(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        scope: ClaimScope<'_>,
    ) -> Result<Option<(ClaimedShard, Vec<EventRecord>)>> {
        if let ClaimScope::Of(_) = scope {
            return self.claim_one(owner, now, lease_until, scope).await;
        }
        let request = ClaimRequest {
            owner: owner.to_string(),
            now,
            lease_until,
            bounded: scope == ClaimScope::Bounded,
        };
        self.claims
            .submit(request, |batch| {
                let store = self.clone();
                async move { store.claim_batch(batch).await }
            })
            .await
    }

    /// Extends the leases of every shard `owner` holds (locked in one order, so heartbeats and
    /// recoveries never wait for each other in a circle).
    async fn heartbeat(&self, owner: &str, lease_until: Millis) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE shards SET lease_expires_at = $1 WHERE (execution_id, idx) IN \
             (SELECT execution_id, idx FROM shards WHERE lease_owner = $2 AND state = 'running' \
             ORDER BY execution_id, idx FOR UPDATE)",
        )
        .bind(lease_until)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Commits a shard's results with its `done` state and events — or nothing, if the shard is
    /// no longer `owner`'s. When the commit completes the execution, what `on_complete` gives is
    /// stored in the same transaction. Commits made at the same time by this process's workers
    /// go in one transaction ([`super::commits`]), each fenced on its own.
    #[tracing::instrument(level = "debug", skip(self, shard, done, on_complete), fields(execution = %shard.execution, shard = shard.idx, rows = done.rows))]
    async fn complete_shard(
        &self,
        shard: &ClaimedShard,
        owner: &str,
        now: Millis,
        done: &ShardDone<'_>,
        on_complete: Option<OnComplete>,
    ) -> Result<Commit> {
        let request = CommitRequest {
            shard: shard.clone(),
            owner: owner.to_string(),
            now,
            bars: done.bars,
            rows: done.rows,
            body: done.body.to_vec(),
            max_result_bytes: done.max_result_bytes,
            on_complete: std::sync::Mutex::new(on_complete),
        };
        self.commits
            .submit(request, |batch| {
                let store = self.clone();
                async move { store.commit_batch(batch).await }
            })
            .await
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
        let mut tx = self.pool.begin().await?;
        let (state, not_before, finished) = match outcome {
            FailureOutcome::RetryAt(t) => ("pending", *t, None),
            _ => ("failed", 0, Some(now)),
        };
        let updated = sqlx::query(
            "UPDATE shards SET state = $1, not_before = $2, error_class = $3, error_message = $4, lease_owner = NULL, \
             lease_expires_at = NULL, finished_at = $5, crashes = crashes + $6 \
             WHERE execution_id = $7 AND idx = $8 AND state = 'running' AND lease_owner = $9 AND claims = $10",
        )
        .bind(state)
        .bind(not_before)
        .bind(class.as_str())
        .bind(text(message).into_owned())
        .bind(finished)
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
        exec_state(&mut tx, exec).await?;
        sqlx::query(
            "UPDATE executions SET failed_attempts = failed_attempts + 1, crash_streak = crash_streak + $1 WHERE id = $2",
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
            "UPDATE shards SET state = 'cancelled', finished_at = $1, lease_owner = NULL, lease_expires_at = NULL \
             WHERE execution_id = $2 AND idx = $3 AND state = 'running' AND lease_owner = $4 AND claims = $5",
        )
        .bind(now)
        .bind(shard.execution.as_str())
        .bind(shard.idx as i64)
        .bind(owner)
        .bind(shard.claim as i64)
        .execute(&self.pool)
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
        // Work that goes on later takes its turn then, behind what waited before it (the
        // execution's row is locked after its shard's, as a claim locks them).
        let r = sqlx::query(
            "WITH released AS (UPDATE shards SET state = 'pending', attempt = attempt - 1, lease_owner = NULL, \
             lease_expires_at = NULL, not_before = $1 \
             WHERE execution_id = $2 AND idx = $3 AND state = 'running' AND lease_owner = $4 AND claims = $5 \
             RETURNING execution_id) \
             UPDATE executions SET claim_at = GREATEST(claim_at, $1) WHERE id IN (SELECT execution_id FROM released)",
        )
        .bind(not_before)
        .bind(shard.execution.as_str())
        .bind(shard.idx as i64)
        .bind(owner)
        .bind(shard.claim as i64)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Returns every shard `owner` holds to `pending`.
    async fn release_owned(&self, owner: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE shards SET state = 'pending', attempt = attempt - 1, lease_owner = NULL, lease_expires_at = NULL \
             WHERE (execution_id, idx) IN (SELECT execution_id, idx FROM shards WHERE state = 'running' \
             AND lease_owner = $1 ORDER BY execution_id, idx FOR UPDATE)",
        )
        .bind(owner)
        .execute(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        let from = exec_state(&mut tx, exec)
            .await?
            .ok_or_else(|| StoreError::Conflict(format!("execution {exec} not found")))?;
        let events = match to {
            ExecutionState::Cancelled => end_execution(&mut tx, exec, now, to, None).await?,
            ExecutionState::Paused | ExecutionState::Running => {
                vec![pause_or_resume(&mut tx, exec, from, to, now).await?]
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

    /// Returns to `pending` the running shards whose lease expired or whose owner is dead.
    #[tracing::instrument(level = "debug", skip(self, owner_alive))]
    async fn recover_shards(
        &self,
        now: Millis,
        owner_alive: impl Fn(&str) -> bool + Send,
        quarantine_after: u32,
    ) -> Result<Recovered> {
        self.recover_dead(now, owner_alive, quarantine_after).await
    }

    /// Runs a quarantined execution again.
    async fn requeue_quarantined(
        &self,
        exec: &ExecutionId,
        now: Millis,
    ) -> Result<Vec<EventRecord>> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(String, bool, Option<i64>)> = sqlx::query_as(
            "SELECT state, quarantined, started_at FROM executions WHERE id = $1 FOR NO KEY UPDATE",
        )
        .bind(exec.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((state, quarantined, started)) = row else {
            return Err(StoreError::Conflict(format!("execution {exec} not found")));
        };
        if state != "failed" || !quarantined {
            return Err(StoreError::Conflict(format!(
                "execution {exec} is {state} and not quarantined; --force only resumes quarantined executions"
            )));
        }
        sqlx::query(
            "UPDATE shards SET state = 'pending', attempt = 0, crashes = 0, not_before = 0, error_class = NULL, \
             error_message = NULL, finished_at = NULL WHERE execution_id = $1 AND state IN ('failed', 'cancelled')",
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
            "UPDATE executions SET state = $1, quarantined = false, crash_streak = 0, shards_failed = 0, error_class = NULL, \
             error_message = NULL, finished_at = NULL WHERE id = $2",
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

/// Pauses (`to` paused) or resumes (`to` running) execution `exec`, which is `from` and locked:
/// resuming goes back to where it was, running if a shard ever started, else pending.
async fn pause_or_resume(
    tx: &mut Tx,
    exec: &ExecutionId,
    from: ExecutionState,
    to: ExecutionState,
    now: Millis,
) -> Result<EventRecord> {
    let target = if to == ExecutionState::Running {
        let started: Option<i64> =
            sqlx::query_scalar("SELECT started_at FROM executions WHERE id = $1")
                .bind(exec.as_str())
                .fetch_one(&mut **tx)
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
    from.transition(target)
        .map_err(|e| StoreError::Conflict(format!("execution {exec} is {from}: {e}")))?;
    sqlx::query("UPDATE executions SET state = $1 WHERE id = $2")
        .bind(target.name())
        .bind(exec.as_str())
        .execute(&mut **tx)
        .await?;
    let ev = if to == ExecutionState::Paused {
        Event::ExecutionPaused
    } else {
        Event::ExecutionResumed
    };
    append(tx, exec, now, ev).await
}

impl PgStore {
    /// One commit in a transaction of its own (after a batch was rolled back): see
    /// [`ExecutionQueue::complete_shard`].
    pub(super) async fn complete_one(
        &self,
        shard: &ClaimedShard,
        owner: &str,
        now: Millis,
        done: &ShardDone<'_>,
        on_complete: Option<OnComplete>,
    ) -> Result<Commit> {
        let (bars, rows, body) = (done.bars, done.rows, done.body);
        let exec = &shard.execution;
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE shards SET state = 'done', bars = $1, rows = $2, finished_at = $3, lease_owner = NULL, lease_expires_at = NULL \
             WHERE execution_id = $4 AND idx = $5 AND state = 'running' AND lease_owner = $6 AND claims = $7",
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
            "INSERT INTO shard_results (execution_id, idx, rows, body) VALUES ($1, $2, $3, $4)",
        )
        .bind(exec.as_str())
        .bind(shard.idx as i64)
        .bind(rows as i64)
        .bind(body)
        .execute(&mut *tx)
        .await?;
        // The execution's lock first: the count of open shards below then sees every shard
        // committed before it (the last two shards committing at once cannot both miss the end).
        exec_state(&mut tx, exec).await?;
        let row = sqlx::query(
            "UPDATE executions SET shards_done = shards_done + 1, bars = bars + $1, rows = rows + $2, \
             result_bytes = result_bytes + $3, crash_streak = 0, next_seq = next_seq + 2 WHERE id = $4 \
             RETURNING *, (SELECT COUNT(*) FROM shards WHERE execution_id = $4 AND state IN ('pending', 'running')) AS open_shards",
        )
        .bind(bars as i64)
        .bind(rows as i64)
        .bind(body.len() as i64)
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
                "UPDATE executions SET state = 'completed', finished_at = $1, summary = $2, next_seq = next_seq + $3 WHERE id = $4",
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
}
