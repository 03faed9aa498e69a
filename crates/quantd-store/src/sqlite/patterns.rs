//! Patterns in SQLite: the child executions of a pattern execution, the rows of its finished
//! steps, and the end of an orchestrated execution (which no shard commit ends).

use super::SqliteStore;
use super::rows::{corrupt, record_from_row};
use super::steps::{append, end_execution, exec_state, insert_events};
use crate::error::{Result, StoreError};
use crate::records::{ExecutionRecord, Millis, StepRow, new_in_round};
use quantd_core::state::StateMachine;
use quantd_core::{ErrorClass, Event, EventRecord, ExecutionId, ExecutionState};
use serde_json::Value;
use sqlx::Row;

impl SqliteStore {
    /// See [`crate::ExecutionLog::children`].
    pub(super) async fn children_of(&self, parent: &ExecutionId) -> Result<Vec<ExecutionRecord>> {
        let rows =
            sqlx::query("SELECT * FROM executions WHERE parent_id = ? ORDER BY created_at, id")
                .bind(parent.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// See [`crate::ExecutionLog::pattern_steps`].
    pub(super) async fn steps_of(&self, exec: &ExecutionId) -> Result<Vec<StepRow>> {
        let rows = sqlx::query(
            "SELECT step, state, body FROM pattern_steps WHERE execution_id = ? ORDER BY at, step",
        )
        .bind(exec.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| step_from_row(exec, r)).collect()
    }

    /// A write transaction on pattern `exec`, or `None` when it already ended (it takes no more
    /// writes).
    async fn begin_unended(
        &self,
        exec: &ExecutionId,
    ) -> Result<Option<sqlx::Transaction<'static, sqlx::Sqlite>>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let state = exec_state(&mut tx, exec)
            .await?
            .ok_or_else(|| StoreError::Conflict(format!("execution {exec} not found")))?;
        if state.is_terminal() {
            tx.rollback().await?;
            return Ok(None);
        }
        Ok(Some(tx))
    }

    /// See [`crate::ExecutionQueue::record_steps`].
    pub(super) async fn write_steps(
        &self,
        exec: &ExecutionId,
        rows: &[StepRow],
        events: Vec<Event>,
        (done, failed, total): (u32, u32, u32),
        now: Millis,
    ) -> Result<Vec<EventRecord>> {
        let Some(mut tx) = self.begin_unended(exec).await? else {
            return Ok(Vec::new());
        };
        // In the write transaction: what another process advancing the pattern recorded already
        // stays as it is, without its events again.
        let names = serde_json::to_string(&rows.iter().map(|r| &r.step).collect::<Vec<_>>())
            .expect("step names serialize");
        let stored = sqlx::query(
            "SELECT step, state, body FROM pattern_steps WHERE execution_id = ? \
             AND step IN (SELECT value FROM json_each(?))",
        )
        .bind(exec.as_str())
        .bind(names)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| step_from_row(exec, r))
        .collect::<Result<Vec<_>>>()?;
        let (rows, events) = new_in_round(rows, &stored, events);
        // Five parameters a row, well under SQLite's limit per statement.
        for chunk in rows.chunks(5_000) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT OR REPLACE INTO pattern_steps (execution_id, step, state, body, at) ",
            );
            q.push_values(chunk.iter(), |mut r, row| {
                r.push_bind(exec.as_str().to_string())
                    .push_bind(row.step.clone())
                    .push_bind(row.state.clone())
                    .push_bind(row.body.to_string())
                    .push_bind(now);
            });
            q.build().execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE executions SET shards_done = ?, shards_failed = ?, shards_total = ? WHERE id = ?",
        )
        .bind(i64::from(done))
        .bind(i64::from(failed))
        .bind(i64::from(total))
        .bind(exec.as_str())
        .execute(&mut *tx)
        .await?;
        let out = if events.is_empty() {
            Vec::new()
        } else {
            // The events' sequence numbers, reserved from the counter at once.
            let first: i64 = sqlx::query_scalar(
                "UPDATE executions SET next_seq = next_seq + ? WHERE id = ? RETURNING next_seq - ?",
            )
            .bind(events.len() as i64)
            .bind(exec.as_str())
            .bind(events.len() as i64)
            .fetch_one(&mut *tx)
            .await?;
            insert_events(&mut tx, exec, now, first, events).await?
        };
        tx.commit().await?;
        Ok(out)
    }

    /// See [`crate::ExecutionQueue::end_orchestrated`].
    pub(super) async fn end_pattern(
        &self,
        exec: &ExecutionId,
        summary: &Value,
        error: Option<(ErrorClass, &str)>,
        now: Millis,
    ) -> Result<Vec<EventRecord>> {
        let Some(mut tx) = self.begin_unended(exec).await? else {
            return Ok(Vec::new());
        };
        sqlx::query("UPDATE executions SET summary = ? WHERE id = ?")
            .bind(summary.to_string())
            .bind(exec.as_str())
            .execute(&mut *tx)
            .await?;
        let events = match error {
            Some(e) => end_execution(&mut tx, exec, now, ExecutionState::Failed, Some(e)).await?,
            None => {
                sqlx::query(
                    "UPDATE executions SET state = 'completed', finished_at = ? WHERE id = ?",
                )
                .bind(now)
                .bind(exec.as_str())
                .execute(&mut *tx)
                .await?;
                let failed: i64 =
                    sqlx::query_scalar("SELECT shards_failed FROM executions WHERE id = ?")
                        .bind(exec.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                let ev = Event::ExecutionCompleted {
                    failed_shards: failed as u32,
                };
                vec![append(&mut tx, exec, now, ev).await?]
            }
        };
        tx.commit().await?;
        Ok(events)
    }
}

/// A stored step row of pattern `exec`.
fn step_from_row(exec: &ExecutionId, r: &sqlx::sqlite::SqliteRow) -> Result<StepRow> {
    let body: String = r.try_get("body")?;
    Ok(StepRow {
        step: r.try_get("step")?,
        state: r.try_get("state")?,
        body: serde_json::from_str(&body)
            .map_err(|e| corrupt("pattern_steps", format!("{exec}: {e}")))?,
    })
}
