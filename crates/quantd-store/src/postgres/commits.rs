//! Commits of several shards' results in one transaction, for the worker slots of one process
//! that finish at the same time ([`super::batch`]). Each commit is fenced by its own (owner,
//! claim) in the one statement that marks the shards done; the committed shards' results go in
//! with one statement, their executions are locked in id order and counted with one more, and
//! every event with one insert. Each commit appends what a lone commit appends
//! (`shard-completed`, `progress`, and for the one that completes its execution `health` and
//! `execution-completed`).
//!
//! A batch that would take an execution over its result limit, or that fails, is rolled back
//! and its commits are made one by one ([`crate::ExecutionQueue::complete_shard`]'s own
//! transaction), so each gets its own answer.

use super::PgStore;
use super::rows::{corrupt_exec, record_from_row};
use super::steps::{EventBatch, Tx, store_completion};
use crate::error::Result;
use crate::records::{
    ClaimedShard, Commit, ExecutionRecord, Millis, OnComplete, ShardDone, progress_event,
};
use quantd_core::{Event, EventRecord, ExecutionId, ExecutionState};
use sqlx::Row;
use sqlx::postgres::PgRow;
use std::collections::{BTreeMap, HashSet};

/// One worker slot's commit of a shard's results.
pub(super) struct CommitRequest {
    pub(super) shard: ClaimedShard,
    pub(super) owner: String,
    pub(super) now: Millis,
    pub(super) bars: u64,
    pub(super) rows: u64,
    pub(super) body: Vec<u8>,
    pub(super) max_result_bytes: u64,
    /// Behind a lock only so that a batch can be shared across its awaits (the closure is
    /// `Send`, not `Sync`); taken once.
    pub(super) on_complete: std::sync::Mutex<Option<OnComplete>>,
}

impl CommitRequest {
    /// The `on_complete` of the request, taken (`None` once taken).
    fn take_on_complete(&self) -> Option<OnComplete> {
        self.on_complete.lock().expect("on_complete lock").take()
    }
}

impl PgStore {
    /// Answers a batch of commits (see the module docs).
    pub(super) async fn commit_batch(&self, requests: Vec<CommitRequest>) -> Vec<Result<Commit>> {
        match self.commit_many(&requests).await {
            Ok(Some(answers)) => return answers.into_iter().map(Ok).collect(),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "a batch of commits failed; committing one by one")
            }
        }
        let mut answers = Vec::with_capacity(requests.len());
        for r in requests {
            let done = ShardDone {
                bars: r.bars,
                rows: r.rows,
                body: &r.body,
                max_result_bytes: r.max_result_bytes,
            };
            let on_complete = r.take_on_complete();
            answers.push(
                self.complete_one(&r.shard, &r.owner, r.now, &done, on_complete)
                    .await,
            );
        }
        answers
    }

    /// The batch in one transaction; `None` when it was rolled back because an execution would
    /// go over its result limit.
    async fn commit_many(&self, requests: &[CommitRequest]) -> Result<Option<Vec<Commit>>> {
        let now = requests.iter().map(|r| r.now).max().unwrap_or(0);
        let mut tx = self.pool.begin().await?;
        let done = mark_done(&mut tx, requests, now).await?;
        let committed: Vec<usize> = (0..requests.len()).filter(|&i| done[i]).collect();
        if committed.is_empty() {
            tx.rollback().await?;
            return Ok(Some(requests.iter().map(|_| Commit::LeaseLost).collect()));
        }
        insert_results(&mut tx, requests, &committed).await?;
        // Per execution, its committed requests in shard order.
        let mut of_exec: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &i in &committed {
            let exec = requests[i].shard.execution.as_str().to_string();
            of_exec.entry(exec).or_default().push(i);
        }
        for list in of_exec.values_mut() {
            list.sort_by_key(|&i| requests[i].shard.idx);
        }
        let rows = count_in(&mut tx, requests, &of_exec).await?;
        let mut events = EventBatch::default();
        let mut answers: Vec<Vec<EventRecord>> = requests.iter().map(|_| Vec::new()).collect();
        let mut ends = Ends::default();
        for row in &rows {
            let exec: String = row.try_get("id")?;
            let list = &of_exec[exec.as_str()];
            let limit = list
                .iter()
                .map(|&i| requests[i].max_result_bytes)
                .min()
                .unwrap_or(u64::MAX);
            if row.try_get::<i64, _>("result_bytes")? as u64 > limit {
                tx.rollback().await?;
                return Ok(None);
            }
            let id: ExecutionId = exec.parse().map_err(corrupt_exec)?;
            let mut seq = row.try_get::<i64, _>("next_seq")? - 2 * list.len() as i64;
            shard_events(
                row,
                &id,
                list,
                requests,
                now,
                &mut seq,
                &mut events,
                &mut answers,
            )?;
            let last = *list.last().expect("an execution of the batch has a commit");
            if let Some(end) = ends_here(row, &mut tx, requests, list, now).await? {
                for ev in end.events.iter().cloned() {
                    answers[last].push(events.push(&id, &mut seq, now, ev)?);
                }
                ends.push(&id, end);
            }
        }
        ends.store(&mut tx, now).await?;
        events.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(Some(
            done.into_iter()
                .zip(answers)
                .map(|(done, events)| {
                    if done {
                        Commit::Committed(events)
                    } else {
                        Commit::LeaseLost
                    }
                })
                .collect(),
        ))
    }
}

/// Marks done every requested shard still under its request's claim; returns, per request,
/// whether its shard was marked.
async fn mark_done(tx: &mut Tx, requests: &[CommitRequest], now: Millis) -> Result<Vec<bool>> {
    let execs: Vec<&str> = requests
        .iter()
        .map(|r| r.shard.execution.as_str())
        .collect();
    let idxs: Vec<i64> = requests.iter().map(|r| i64::from(r.shard.idx)).collect();
    let claims: Vec<i64> = requests.iter().map(|r| r.shard.claim as i64).collect();
    let owners: Vec<&str> = requests.iter().map(|r| r.owner.as_str()).collect();
    let bars: Vec<i64> = requests.iter().map(|r| r.bars as i64).collect();
    let rows: Vec<i64> = requests.iter().map(|r| r.rows as i64).collect();
    let marked: Vec<(String, i64)> = sqlx::query_as(
        "UPDATE shards s SET state = 'done', bars = u.b, rows = u.r, finished_at = $1, lease_owner = NULL, \
         lease_expires_at = NULL \
         FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[]) AS u(e, i, c, o, b, r) \
         WHERE s.execution_id = u.e AND s.idx = u.i AND s.state = 'running' AND s.lease_owner = u.o AND s.claims = u.c \
         RETURNING s.execution_id, s.idx",
    )
    .bind(now)
    .bind(&execs)
    .bind(&idxs)
    .bind(&claims)
    .bind(&owners)
    .bind(&bars)
    .bind(&rows)
    .fetch_all(&mut **tx)
    .await?;
    let marked: HashSet<(String, i64)> = marked.into_iter().collect();
    Ok(requests
        .iter()
        .map(|r| {
            marked.contains(&(
                r.shard.execution.as_str().to_string(),
                i64::from(r.shard.idx),
            ))
        })
        .collect())
}

/// Stores the results of the `committed` requests.
async fn insert_results(
    tx: &mut Tx,
    requests: &[CommitRequest],
    committed: &[usize],
) -> Result<()> {
    let execs: Vec<&str> = committed
        .iter()
        .map(|&i| requests[i].shard.execution.as_str())
        .collect();
    let idxs: Vec<i64> = committed
        .iter()
        .map(|&i| i64::from(requests[i].shard.idx))
        .collect();
    let rows: Vec<i64> = committed.iter().map(|&i| requests[i].rows as i64).collect();
    let bodies: Vec<&[u8]> = committed
        .iter()
        .map(|&i| requests[i].body.as_slice())
        .collect();
    sqlx::query(
        "INSERT INTO shard_results (execution_id, idx, rows, body) \
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bytea[])",
    )
    .bind(&execs)
    .bind(&idxs)
    .bind(&rows)
    .bind(&bodies)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Locks the executions of the batch (in id order) and adds their commits to their counters,
/// reserving two event numbers per commit; returns each execution's row as it now stands, with
/// its open shards counted after the locks (so the last commits of an execution cannot all miss
/// its end).
async fn count_in(
    tx: &mut Tx,
    requests: &[CommitRequest],
    of_exec: &BTreeMap<String, Vec<usize>>,
) -> Result<Vec<PgRow>> {
    let ids: Vec<&str> = of_exec.keys().map(String::as_str).collect();
    sqlx::query("SELECT id FROM executions WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
    let sum = |f: &dyn Fn(&CommitRequest) -> u64| -> Vec<i64> {
        of_exec
            .values()
            .map(|list| list.iter().map(|&i| f(&requests[i]) as i64).sum())
            .collect()
    };
    let counts = sum(&|_| 1);
    let bars = sum(&|r| r.bars);
    let rows = sum(&|r| r.rows);
    let bytes = sum(&|r| r.body.len() as u64);
    Ok(sqlx::query(
        "UPDATE executions e SET shards_done = e.shards_done + u.n, bars = e.bars + u.b, rows = e.rows + u.r, \
         result_bytes = e.result_bytes + u.bytes, crash_streak = 0, next_seq = e.next_seq + 2 * u.n \
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(id, n, b, r, bytes) \
         WHERE e.id = u.id \
         RETURNING e.*, (SELECT COUNT(*) FROM shards WHERE execution_id = e.id AND state IN ('pending', 'running')) AS open_shards",
    )
    .bind(&ids)
    .bind(&counts)
    .bind(&bars)
    .bind(&rows)
    .bind(&bytes)
    .fetch_all(&mut **tx)
    .await?)
}

/// Each commit's `shard-completed` and `progress` (the counters as they stood after that
/// commit, as if the batch's commits of the execution had been made one after another).
#[allow(clippy::too_many_arguments)]
fn shard_events(
    row: &PgRow,
    id: &ExecutionId,
    list: &[usize],
    requests: &[CommitRequest],
    now: Millis,
    seq: &mut i64,
    events: &mut EventBatch,
    answers: &mut [Vec<EventRecord>],
) -> Result<()> {
    let total = row.try_get::<i64, _>("shards_total")? as u32;
    let failed = row.try_get::<i64, _>("shards_failed")? as u32;
    let started: Option<Millis> = row.try_get("started_at")?;
    let (mut done, mut bars, mut rows) = (
        row.try_get::<i64, _>("shards_done")? as u32,
        row.try_get::<i64, _>("bars")? as u64,
        row.try_get::<i64, _>("rows")? as u64,
    );
    // Counters after each commit, last first.
    let mut after = Vec::with_capacity(list.len());
    for &i in list.iter().rev() {
        after.push((done, bars, rows));
        done -= 1;
        bars -= requests[i].bars;
        rows -= requests[i].rows;
    }
    after.reverse();
    for (&i, (done, bars, rows)) in list.iter().zip(after) {
        let r = &requests[i];
        let completed = Event::ShardCompleted {
            shard: r.shard.idx,
            rows: r.rows,
        };
        answers[i].push(events.push(id, seq, now, completed)?);
        let progress = progress_event(total, done, failed, bars, rows, started, now);
        answers[i].push(events.push(id, seq, now, progress)?);
    }
    Ok(())
}

/// How a batch ends one execution: its summary and the events after its last commit's.
struct End {
    summary: Option<String>,
    events: Vec<Event>,
}

/// Whether the batch completes the execution of `row` (nothing left to run, not ended yet):
/// then what `on_complete` of its commits gives (the last one that has it) is stored, as a
/// lone commit stores it.
async fn ends_here(
    row: &PgRow,
    tx: &mut Tx,
    requests: &[CommitRequest],
    list: &[usize],
    now: Millis,
) -> Result<Option<End>> {
    let open: i64 = row.try_get("open_shards")?;
    let state: String = row.try_get("state")?;
    let state: ExecutionState = state.parse().map_err(corrupt_exec)?;
    let active = matches!(
        state,
        ExecutionState::Running | ExecutionState::Paused | ExecutionState::Pending
    );
    if open != 0 || !active {
        return Ok(None);
    }
    let mut events = Vec::new();
    let mut summary = None;
    let on_complete = list
        .iter()
        .rev()
        .find_map(|&i| requests[i].take_on_complete());
    if let Some(f) = on_complete {
        let mut rec: ExecutionRecord = record_from_row(row)?;
        rec.state = ExecutionState::Completed;
        rec.finished_at = Some(now);
        let done = store_completion(tx, &rec, now, f).await?;
        summary = done.summary.map(|s| s.to_string());
        events.push(Event::Health {
            score: done.health.score,
            band: done.health.band,
        });
    }
    events.push(Event::ExecutionCompleted {
        failed_shards: row.try_get::<i64, _>("shards_failed")? as u32,
    });
    Ok(Some(End { summary, events }))
}

/// The executions a batch completes, stored with one statement.
#[derive(Default)]
struct Ends {
    ids: Vec<String>,
    summaries: Vec<Option<String>>,
    counts: Vec<i64>,
}

impl Ends {
    fn push(&mut self, id: &ExecutionId, end: End) {
        self.ids.push(id.as_str().to_string());
        self.counts.push(end.events.len() as i64);
        self.summaries.push(end.summary);
    }

    async fn store(self, tx: &mut Tx, now: Millis) -> Result<()> {
        if self.ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE executions e SET state = 'completed', finished_at = $1, summary = u.summary, \
             next_seq = e.next_seq + u.n \
             FROM unnest($2::text[], $3::text[], $4::bigint[]) AS u(id, summary, n) WHERE e.id = u.id",
        )
        .bind(now)
        .bind(&self.ids)
        .bind(&self.summaries)
        .bind(&self.counts)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
