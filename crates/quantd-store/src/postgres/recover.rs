//! Recovery of dead claims in Postgres: running shards whose lease expired, or whose owner is
//! dead, go back to `pending` with one more crash; an execution whose crashes in a row reach
//! the limit fails as quarantined instead. Every write is fenced by the claim number read, so a
//! claim renewed or recovered meanwhile (by another process) is left alone.

use super::PgStore;
use super::rows::corrupt_exec;
use super::steps::{exec_state, failed_for_good};
use crate::error::Result;
use crate::records::{Millis, Recovered, quarantine_message};
use quantd_core::state::StateMachine;
use quantd_core::{ErrorClass, ExecutionId};

/// A running shard as recovery reads it: execution id, index, claim number, lease owner, lease
/// expiry, and its execution's state.
type RunningShard = (String, i64, i64, Option<String>, Option<i64>, String);

/// The dead claims of one execution: (index, claim number), in plan order.
type DeadClaims = (String, Vec<(i64, i64)>);

impl PgStore {
    /// See [`crate::ExecutionQueue::recover_shards`].
    pub(super) async fn recover_dead(
        &self,
        now: Millis,
        owner_alive: impl Fn(&str) -> bool,
        quarantine_after: u32,
    ) -> Result<Recovered> {
        let rows: Vec<RunningShard> = sqlx::query_as(
            "SELECT s.execution_id, s.idx, s.claims, s.lease_owner, s.lease_expires_at, e.state \
             FROM shards s JOIN executions e ON e.id = s.execution_id WHERE s.state = 'running' \
             ORDER BY s.execution_id, s.idx",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut dead: Vec<DeadClaims> = Vec::new();
        for (exec, idx, claim, owner, expires, exec_state) in rows {
            let gone = owner.as_deref().is_none_or(|o| !owner_alive(o))
                || expires.is_none_or(|t| t <= now);
            if !gone {
                continue;
            }
            if matches!(exec_state.as_str(), "completed" | "failed" | "cancelled") {
                // Its execution ended while it ran: it will never run again.
                self.cancel_dead_claim(&exec, idx, claim, now).await?;
                continue;
            }
            match dead.last_mut() {
                Some((e, shards)) if *e == exec => shards.push((idx, claim)),
                _ => dead.push((exec, vec![(idx, claim)])),
            }
        }
        let mut done = Recovered::default();
        for claims in dead {
            self.requeue_dead(claims, now, quarantine_after, &mut done)
                .await?;
        }
        Ok(done)
    }

    /// Cancels a dead worker's claim on a shard of an execution that already ended.
    async fn cancel_dead_claim(&self, exec: &str, idx: i64, claim: i64, now: Millis) -> Result<()> {
        sqlx::query(
            "UPDATE shards SET state = 'cancelled', finished_at = $1, lease_owner = NULL, \
             lease_expires_at = NULL WHERE execution_id = $2 AND idx = $3 AND state = 'running' \
             AND claims = $4",
        )
        .bind(now)
        .bind(exec)
        .bind(idx)
        .bind(claim)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Returns the dead claims of one execution to `pending` (or quarantines it), in one
    /// transaction, adding what it did to `done`.
    async fn requeue_dead(
        &self,
        (exec, shards): DeadClaims,
        now: Millis,
        quarantine_after: u32,
        done: &mut Recovered,
    ) -> Result<()> {
        let id: ExecutionId = exec.parse().map_err(corrupt_exec)?;
        let mut tx = self.pool.begin().await?;
        let mut requeued = Vec::new();
        // Still the same dead claims (another process may have recovered them, and someone
        // claimed them again, meanwhile)? The shards are locked in plan order.
        for (idx, claim) in shards {
            let r = sqlx::query(
                "UPDATE shards SET state = 'pending', attempt = attempt - 1, lease_owner = NULL, \
                 lease_expires_at = NULL, crashes = crashes + 1 WHERE execution_id = $1 AND idx = $2 \
                 AND state = 'running' AND claims = $3",
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
            return Ok(());
        };
        if exec_state(&mut tx, &id)
            .await?
            .is_none_or(|s| s.is_terminal())
        {
            // It ended after the shards were read: they will never run again.
            sqlx::query(
                "UPDATE shards SET state = 'cancelled', finished_at = $1 WHERE execution_id = $2 AND idx = ANY($3)",
            )
            .bind(now)
            .bind(&exec)
            .bind(&requeued)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(());
        }
        let streak: i64 = sqlx::query_scalar(
            "UPDATE executions SET crash_streak = crash_streak + 1 WHERE id = $1 RETURNING crash_streak",
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
        Ok(())
    }
}
