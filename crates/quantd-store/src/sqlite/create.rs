//! Creating executions: one (with its shards, its first events and, when asked, its first
//! claim), or a batch of a pattern's children in a few multi-row statements — a statement per
//! item would cost a round trip to SQLite's thread each, which is most of a large fan-out's time.

use super::rows::record_from_row;
use super::steps::{event_json, finish_if_done, insert_events, insert_shards};
use crate::error::{Result, StoreError};
use crate::records::{
    ClaimedShard, Created, Millis, NewExecution, PRIORITY_STEP_MS, SHARD_TURN_MS,
};
use quantd_core::{Event, EventRecord};
use sqlx::query_builder::Separated;
use sqlx::{QueryBuilder, Sqlite, Transaction};
use std::collections::{HashMap, HashSet};

/// The columns of an execution's row as created (see [`bind_execution`]).
const COLUMNS: &str = "INSERT INTO executions (id, workspace, kind, name, state, spec, fingerprint, \
     pack_id, code_version, options, shards_total, created_at, started_at, attempts, next_seq, \
     parent_id, parent_step, root_id, priority, claim_at) ";

/// Executions per multi-row statement (20 parameters each, under SQLite's 32,766).
const EXECUTIONS_PER_STATEMENT: usize = 1_000;

/// Pending shards per multi-row statement (4 parameters each).
const SHARDS_PER_STATEMENT: usize = 5_000;

/// Events per multi-row statement (4 parameters each).
const EVENTS_PER_STATEMENT: usize = 5_000;

/// Where the queue of a workspace ends (binds: turn ms, priority step ms, workspace): its
/// newest pending and newest running executions' claim keys past their priority and the turns
/// of their unfinished shards ([`SHARD_TURN_MS`]). Within a workspace each
/// execution starts at or after the one before it, so the newest ones end its queue; each is
/// one step down `executions_by_state`.
const QUEUE_TAIL: &str = "SELECT max(claim_at + priority * ?2 + (shards_total - shards_done - shards_failed) * ?1) FROM ( \
     SELECT * FROM (SELECT claim_at, priority, shards_total, shards_done, shards_failed FROM executions INDEXED BY executions_by_state \
       WHERE workspace = ?3 AND state = 'pending' ORDER BY created_at DESC, id DESC LIMIT 1) \
     UNION ALL \
     SELECT * FROM (SELECT claim_at, priority, shards_total, shards_done, shards_failed FROM executions INDEXED BY executions_by_state \
       WHERE workspace = ?3 AND state = 'running' ORDER BY created_at DESC, id DESC LIMIT 1))";

/// The claim keys of `batch`'s executions ([`crate::records::executions::claim_keys`]), reading where each
/// of their workspaces' queues ends (see [`QUEUE_TAIL`]).
async fn claim_keys(
    tx: &mut Transaction<'_, Sqlite>,
    batch: &[&NewExecution],
) -> Result<Vec<Millis>> {
    let mut tails = HashMap::new();
    for e in batch {
        if !tails.contains_key(&e.workspace) {
            let tail: Option<Millis> = sqlx::query_scalar(QUEUE_TAIL)
                .bind(SHARD_TURN_MS)
                .bind(PRIORITY_STEP_MS)
                .bind(&e.workspace)
                .fetch_one(&mut **tx)
                .await?;
            tails.insert(e.workspace.clone(), tail);
        }
    }
    Ok(crate::records::executions::claim_keys(
        batch.iter().copied(),
        tails,
    ))
}

/// Binds the row of execution `e` as created, with claim key `claim_at`: running when it
/// `starts` (a first claim, or an orchestrated execution), its event counter past the events
/// it starts with.
fn bind_execution(
    row: &mut Separated<'_, Sqlite, &'static str>,
    e: &NewExecution,
    claim_at: Millis,
    starts: bool,
    claimed: bool,
) {
    row.push_bind(e.id.as_str().to_string())
        .push_bind(e.workspace.clone())
        .push_bind(e.kind.as_str())
        .push_bind(e.name.clone())
        .push_bind(if starts { "running" } else { "pending" })
        .push_bind(e.spec.to_string())
        .push_bind(e.fingerprint.clone())
        .push_bind(e.pack_id.clone())
        .push_bind(e.code_version.clone())
        .push_bind(e.options.to_string())
        .push_bind(e.shards.len() as i64)
        .push_bind(e.now)
        .push_bind(starts.then_some(e.now))
        .push_bind(i64::from(claimed))
        .push_bind(2 + i64::from(starts) + i64::from(claimed))
        .push_bind(e.parent.as_ref().map(|p| p.parent.as_str().to_string()))
        .push_bind(e.parent.as_ref().map(|p| p.step.clone()))
        .push_bind(e.parent.as_ref().map(|p| p.root.as_str().to_string()))
        .push_bind(i64::from(e.priority))
        .push_bind(claim_at);
}

/// The events an execution starts with.
fn first_events(e: &NewExecution, starts: bool, claimed: bool) -> Vec<Event> {
    let mut events = vec![Event::ExecutionCreated {
        shards: e.shards.len() as u32,
    }];
    if starts {
        events.push(Event::ExecutionStarted);
    }
    if claimed {
        events.push(Event::ShardStarted {
            shard: 0,
            attempt: 1,
        });
    }
    events
}

/// Inserts execution `e`, its shards and its first events (sequence numbers from 1) in `tx`;
/// with a first claim, its first shard is claimed too. A second child of one parent step is a
/// [`StoreError::Conflict`].
pub(super) async fn insert_execution(
    tx: &mut Transaction<'_, Sqlite>,
    e: &NewExecution,
) -> Result<Created> {
    // With a first claim the execution starts running at once, as a claim would leave it; an
    // orchestrated one too (its engine starts its steps).
    let lease = e.first_claim.as_ref().filter(|_| !e.shards.is_empty());
    let starts = lease.is_some() || e.orchestrated;
    let claim_at = claim_keys(tx, &[e]).await?[0];
    let mut q = QueryBuilder::new(COLUMNS);
    q.push_values([e], |mut row, e| {
        bind_execution(&mut row, e, claim_at, starts, lease.is_some())
    });
    q.push(" RETURNING *");
    let row = q
        .build()
        .fetch_one(&mut **tx)
        .await
        .map_err(|err| match (&e.parent, &err) {
            (Some(p), sqlx::Error::Database(d)) if d.is_unique_violation() => {
                StoreError::Conflict(format!(
                    "execution {} already has a child for step {}",
                    p.parent, p.step
                ))
            }
            _ => err.into(),
        })?;
    let mut rec = record_from_row(&row)?;
    insert_shards(tx, e, lease).await?;
    let events = first_events(e, starts, lease.is_some());
    let mut events = insert_events(tx, &e.id, e.now, 1, events).await?;
    if e.shards.is_empty() && !e.orchestrated {
        events.extend(finish_if_done(tx, &e.id, e.now).await?);
        let row = sqlx::query("SELECT * FROM executions WHERE id = ?")
            .bind(e.id.as_str())
            .fetch_one(&mut **tx)
            .await?;
        rec = record_from_row(&row)?;
    }
    let claimed = lease.map(|_| ClaimedShard {
        execution: e.id.clone(),
        idx: 0,
        attempt: 1,
        claim: 1,
        payload: e.shards[0].clone(),
        crashes: 0,
    });
    Ok(Created {
        record: rec,
        events,
        claimed,
    })
}

/// Inserts the executions of `batch` in `tx`, skipping those whose parent step already has a
/// child (`None` in their place). Executions with shards and no first claim — a fan-out's items
/// — go in a few multi-row statements; any other one as [`insert_execution`].
pub(super) async fn insert_batch(
    tx: &mut Transaction<'_, Sqlite>,
    batch: &[NewExecution],
) -> Result<Vec<Option<Created>>> {
    let mut taken = taken_steps(tx, batch).await?;
    let mut created: Vec<Option<Created>> = batch.iter().map(|_| None).collect();
    let mut bulk = Vec::new();
    for (i, e) in batch.iter().enumerate() {
        if let Some(p) = &e.parent
            && !taken.insert((p.parent.as_str().to_string(), p.step.clone()))
        {
            continue;
        }
        if e.first_claim.is_some() || e.shards.is_empty() {
            created[i] = Some(insert_execution(tx, e).await?);
        } else {
            bulk.push(i);
        }
    }
    let mut records = HashMap::new();
    let items: Vec<&NewExecution> = bulk.iter().map(|&i| &batch[i]).collect();
    let keys: HashMap<usize, Millis> = bulk
        .iter()
        .copied()
        .zip(claim_keys(tx, &items).await?)
        .collect();
    for chunk in bulk.chunks(EXECUTIONS_PER_STATEMENT) {
        let mut q = QueryBuilder::new(COLUMNS);
        q.push_values(chunk, |mut row, &i| {
            bind_execution(&mut row, &batch[i], keys[&i], batch[i].orchestrated, false)
        });
        // RETURNING gives rows in no promised order: they are matched by id.
        q.push(" RETURNING *");
        for row in q.build().fetch_all(&mut **tx).await? {
            let rec = record_from_row(&row)?;
            records.insert(rec.id.clone(), rec);
        }
    }
    let shards: Vec<(usize, usize)> = bulk
        .iter()
        .flat_map(|&i| (0..batch[i].shards.len()).map(move |idx| (i, idx)))
        .collect();
    for rows in shards.chunks(SHARDS_PER_STATEMENT) {
        let mut q = QueryBuilder::new("INSERT INTO shards (execution_id, idx, state, payload) ");
        q.push_values(rows, |mut row, &(i, idx)| {
            row.push_bind(batch[i].id.as_str().to_string())
                .push_bind(idx as i64)
                .push_bind("pending")
                .push_bind(batch[i].shards[idx].to_string());
        });
        q.build().execute(&mut **tx).await?;
    }
    let mut events: Vec<EventRecord> = Vec::new();
    for &i in &bulk {
        let e = &batch[i];
        for (n, event) in first_events(e, e.orchestrated, false)
            .into_iter()
            .enumerate()
        {
            events.push(EventRecord {
                execution: e.id.clone(),
                seq: n as u64 + 1,
                at: super::rows::at(e.now),
                event,
            });
        }
    }
    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
        let bodies = chunk
            .iter()
            .map(|r| event_json(&r.event))
            .collect::<Result<Vec<_>>>()?;
        let mut q = QueryBuilder::new("INSERT INTO events (execution_id, seq, at, body) ");
        q.push_values(chunk.iter().zip(bodies), |mut row, (r, body)| {
            row.push_bind(r.execution.as_str().to_string())
                .push_bind(r.seq as i64)
                .push_bind(r.at.timestamp_millis())
                .push_bind(body);
        });
        q.build().execute(&mut **tx).await?;
    }
    let mut by_execution: HashMap<_, Vec<EventRecord>> = HashMap::new();
    for r in events {
        by_execution.entry(r.execution.clone()).or_default().push(r);
    }
    for i in bulk {
        let id = &batch[i].id;
        let record = records.remove(id).ok_or_else(|| StoreError::Corrupt {
            table: "executions",
            message: format!("execution {id} was inserted but not returned"),
        })?;
        created[i] = Some(Created {
            record,
            events: by_execution.remove(id).unwrap_or_default(),
            claimed: None,
        });
    }
    Ok(created)
}

/// The (parent, step) pairs of `batch`'s parents that already have a child.
async fn taken_steps(
    tx: &mut Transaction<'_, Sqlite>,
    batch: &[NewExecution],
) -> Result<HashSet<(String, String)>> {
    let parents: HashSet<&str> = batch
        .iter()
        .filter_map(|e| e.parent.as_ref().map(|p| p.parent.as_str()))
        .collect();
    let mut taken = HashSet::new();
    for parent in parents {
        let steps: Vec<String> = sqlx::query_scalar(
            "SELECT parent_step FROM executions WHERE parent_id = ? AND parent_step IS NOT NULL",
        )
        .bind(parent)
        .fetch_all(&mut **tx)
        .await?;
        taken.extend(steps.into_iter().map(|s| (parent.to_string(), s)));
    }
    Ok(taken)
}
