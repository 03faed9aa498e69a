//! The Postgres execution queue's read side: executions (one, a filtered page, the unfinished,
//! by fingerprint), shards, events, stored results, queue counts, and the annotations that move
//! no shard (summaries, health snapshots, phase events), which lock their execution's row to
//! number their events.

use super::PgStore;
use super::rows::{
    SELECT_SHARDS, at, corrupt_exec, kind_from, parse, record_from_row, shard_from_row,
};
use super::steps::{append, exec_state, record_health_in};
use crate::error::{Result, StoreError};
use crate::records::{
    ExecutionFilter, ExecutionRecord, Millis, Page, Paged, QueueStats, ShardRecord,
};
use crate::traits::ExecutionLog;
use quantd_core::state::StateMachine;
use quantd_core::{Event, EventRecord, ExecutionId};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};

impl ExecutionLog for PgStore {
    async fn execution(&self, id: &ExecutionId) -> Result<Option<ExecutionRecord>> {
        let row = sqlx::query("SELECT * FROM executions WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Executions newest first, filtered, one page; only the filters given go into the SQL.
    async fn list_executions(&self, f: &ExecutionFilter) -> Result<Paged<ExecutionRecord>> {
        let mut q: QueryBuilder<Postgres> =
            QueryBuilder::new("SELECT * FROM executions WHERE true");
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
                "SELECT EXISTS (SELECT 1 FROM executions WHERE id = $1 AND created_at = $2 \
                 AND ($3::text IS NULL OR workspace = $3))",
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

    async fn unfinished_executions(&self) -> Result<Vec<ExecutionRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM executions WHERE state IN ('pending', 'running', 'paused') ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn completed_by_fingerprint(&self, fingerprint: &str) -> Result<Option<ExecutionRecord>> {
        let row = sqlx::query(
            "SELECT * FROM executions WHERE fingerprint = $1 AND state = 'completed' AND shards_failed = 0 \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    async fn shards(&self, id: &ExecutionId) -> Result<Vec<ShardRecord>> {
        let rows = sqlx::query(SELECT_SHARDS)
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(shard_from_row).collect()
    }

    async fn events_after(
        &self,
        id: &ExecutionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        // Sequence numbers are bigints: none is above i64::MAX (and `as` would wrap a larger
        // `after` to a negative number, replaying everything).
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        self.events_where(
            id,
            "SELECT seq, at, body FROM events WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            after,
            limit,
        )
        .await
    }

    async fn events_before(
        &self,
        id: &ExecutionId,
        before: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        self.events_where(
            id,
            "SELECT seq, at, body FROM events WHERE execution_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
            before,
            limit,
        )
        .await
    }

    async fn result_shards(&self, id: &ExecutionId) -> Result<Vec<u32>> {
        let v: Vec<i64> = sqlx::query_scalar(
            "SELECT idx FROM shard_results WHERE execution_id = $1 ORDER BY idx",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(v.into_iter().map(|i| i as u32).collect())
    }

    async fn shard_result(&self, id: &ExecutionId, idx: u32) -> Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar(
            "SELECT body FROM shard_results WHERE execution_id = $1 AND idx = $2",
        )
        .bind(id.as_str())
        .bind(idx as i64)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn set_summary(&self, id: &ExecutionId, summary: &Value) -> Result<()> {
        sqlx::query("UPDATE executions SET summary = $1 WHERE id = $2")
            .bind(summary.to_string())
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

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
        // Only shards that will run: those of executions that are pending or running.
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
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
        if exec_state(&mut tx, id).await?.is_none() {
            return Err(StoreError::Conflict(format!("execution {id} not found")));
        }
        let ev = append(&mut tx, id, now, event).await?;
        tx.commit().await?;
        Ok(ev)
    }
}

impl PgStore {
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
