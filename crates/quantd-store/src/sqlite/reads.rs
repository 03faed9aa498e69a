//! The SQLite execution queue's read side: executions (one, a filtered page, the unfinished,
//! by fingerprint), shards, events, stored results, queue counts, and the annotations that move
//! no shard (summaries, health snapshots, phase events).
//!
//! Reads go through the reader pool and never wait for the writer; annotations go through the
//! writer like every other write.

use super::SqliteStore;
use super::rows::{
    SELECT_SHARDS, at, corrupt_exec, kind_from, parse, record_from_row, shard_from_row,
};
use super::steps::{append, record_health_in};
use crate::error::Result;
use crate::records::{
    ExecutionFilter, ExecutionRecord, Millis, Page, Paged, QueueStats, ShardRecord,
};
use crate::traits::ExecutionLog;
use quantd_core::state::StateMachine;
use quantd_core::{Event, EventRecord, ExecutionId};
use serde_json::Value;
use sqlx::Sqlite;

impl ExecutionLog for SqliteStore {
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
        // A filtered page walks the index of its most selective filter in page order (a name
        // over a state over a kind, see migration 0010), whatever the table's statistics say:
        // without them SQLite would walk the time index and test every row of the workspace.
        let index = match (&f.workspace, &f.parent, &f.name, f.state, f.kind) {
            (Some(_), None, Some(_), _, _) => " INDEXED BY executions_by_name",
            (Some(_), None, None, Some(_), _) => " INDEXED BY executions_by_state",
            (Some(_), None, None, None, Some(_)) => " INDEXED BY executions_by_kind",
            _ => "",
        };
        let mut q: sqlx::QueryBuilder<Sqlite> =
            sqlx::QueryBuilder::new(format!("SELECT * FROM executions{index} WHERE 1 = 1"));
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
        if f.top_level {
            q.push(" AND parent_id IS NULL");
        }
        if let Some(p) = &f.parent {
            q.push(" AND parent_id = ")
                .push_bind(p.as_str().to_string());
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
            .push_bind(page.fetch_limit());
        let rows = q.build().fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, &page, |r| {
            format!("{}.{}", r.created_at, r.id)
        }))
    }

    async fn children(&self, parent: &ExecutionId) -> Result<Vec<ExecutionRecord>> {
        self.children_of(parent).await
    }

    async fn pattern_steps(&self, exec: &ExecutionId) -> Result<Vec<crate::records::StepRow>> {
        self.steps_of(exec).await
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
        // Sequence numbers are SQLite integers: none is above i64::MAX (and `as` would wrap a
        // larger `after` to a negative number, replaying everything).
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        self.events_where(
            id,
            "SELECT seq, at, body FROM events WHERE execution_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            after,
            limit,
        )
        .await
    }

    /// Events with a sequence number below `before`, newest first, at most `limit`.
    async fn events_before(
        &self,
        id: &ExecutionId,
        before: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        // Every stored number is below i64::MAX: a larger `before` is the whole log.
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        self.events_where(
            id,
            "SELECT seq, at, body FROM events WHERE execution_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            before,
            limit,
        )
        .await
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

impl SqliteStore {
    /// The events of `id` a query selects (`seq, at, body`, bound to the id, one number and the
    /// limit).
    async fn events_where(
        &self,
        id: &ExecutionId,
        query: &'static str,
        number: i64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(query)
            .bind(id.as_str())
            .bind(number)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(seq, t, body)| {
                Ok(EventRecord {
                    execution: id.clone(),
                    seq: seq as u64,
                    at: at(t),
                    event: serde_json::from_str(&body).map_err(corrupt_exec)?,
                })
            })
            .collect()
    }
}
