//! Claims of several shards in one transaction, for the worker slots of one process that look
//! for work at the same time ([`super::batch`]): one pick of up to `n` shards (`FOR UPDATE SKIP
//! LOCKED`, oldest executions first, as a single claim picks), their executions locked in id
//! order, then one statement each for the leases, the executions' counters and the events.
//! What each claim leaves behind is what [`crate::ExecutionQueue::claim_shard`] leaves.

use super::PgStore;
use super::rows::{corrupt_exec, json};
use super::steps::Tx;
use crate::error::Result;
use crate::records::{ClaimScope, ClaimedShard, Millis, SHARD_TURN_MS};
use quantd_core::{Event, EventRecord, ExecutionId, ExecutionState};
use std::collections::BTreeMap;

/// Up to `$2` claimable shards, locked: [`super::queue`]'s `CLAIM_NEXT` taking more than one
/// (binds: now, n). Shards of one execution come in index order.
const PICK_MANY: &str = "SELECT s.execution_id, s.idx FROM executions e CROSS JOIN LATERAL \
     (SELECT execution_id, idx FROM shards WHERE execution_id = e.id AND state = 'pending' AND not_before <= $1 \
      ORDER BY idx LIMIT $2 FOR UPDATE SKIP LOCKED) s \
     WHERE e.state IN ('pending', 'running') ORDER BY e.claim_at, e.id LIMIT $2";

/// One worker slot's claim request.
#[derive(Debug)]
pub(super) struct ClaimRequest {
    pub(super) owner: String,
    pub(super) now: Millis,
    pub(super) lease_until: Millis,
    /// Bounded work only ([`ClaimScope::Bounded`]).
    pub(super) bounded: bool,
}

/// A claim's answer: the shard and its events, or nothing claimable.
pub(super) type ClaimAnswer = Option<(ClaimedShard, Vec<EventRecord>)>;

/// How many picks a batch tries when every shard it picked belonged to executions paused or
/// ended before their locks were granted.
const TRIES: usize = 8;

impl PgStore {
    /// Answers a batch of claims (see the module docs): the first requests get the shards
    /// found, the rest nothing. Requests of different owners, or of different scopes, are
    /// claimed group by group.
    pub(super) async fn claim_batch(
        &self,
        requests: Vec<ClaimRequest>,
    ) -> Vec<Result<ClaimAnswer>> {
        let mut answers: Vec<Option<Result<ClaimAnswer>>> = requests.iter().map(|_| None).collect();
        let mut by_owner: BTreeMap<(&str, bool), Vec<usize>> = BTreeMap::new();
        for (i, r) in requests.iter().enumerate() {
            by_owner
                .entry((r.owner.as_str(), r.bounded))
                .or_default()
                .push(i);
        }
        for ((owner, bounded), slots) in by_owner {
            let scope = if bounded {
                ClaimScope::Bounded
            } else {
                ClaimScope::Any
            };
            let now = slots.iter().map(|&i| requests[i].now).max().unwrap_or(0);
            let until = slots
                .iter()
                .map(|&i| requests[i].lease_until)
                .min()
                .unwrap_or(0);
            match self
                .claim_many(owner, now, until, slots.len(), bounded)
                .await
            {
                Ok(claimed) => {
                    let mut claimed = claimed.into_iter();
                    for &i in &slots {
                        answers[i] = Some(Ok(claimed.next()));
                    }
                }
                Err(e) => {
                    // Each request of the owner alone, so each gets its own answer or error.
                    for &i in &slots {
                        let r = &requests[i];
                        answers[i] = Some(self.claim_one(owner, r.now, r.lease_until, scope).await);
                    }
                    tracing::debug!(error = %e, "a batch of claims failed; claimed one by one");
                }
            }
        }
        answers
            .into_iter()
            .map(|a| a.expect("every request answered"))
            .collect()
    }

    /// Claims up to `n` shards (of bounded work only, when `bounded`) for `owner`, retrying
    /// when every pick was paused or ended.
    async fn claim_many(
        &self,
        owner: &str,
        now: Millis,
        until: Millis,
        n: usize,
        bounded: bool,
    ) -> Result<Vec<(ClaimedShard, Vec<EventRecord>)>> {
        let pick = if bounded {
            super::queue::bounded(PICK_MANY)
        } else {
            PICK_MANY.to_string()
        };
        for _ in 0..TRIES {
            let mut tx = self.pool.begin().await?;
            let picked: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(pick.clone()))
                .bind(now)
                .bind(n as i64)
                .fetch_all(&mut *tx)
                .await?;
            if picked.is_empty() {
                tx.rollback().await?;
                return Ok(Vec::new());
            }
            let runnable = runnable_of(&mut tx, &picked, now).await?;
            if runnable.is_empty() {
                tx.commit().await?;
                continue;
            }
            let claimed = lease_many(&mut tx, &runnable, owner, now, until).await?;
            if let Err(e) = tx.commit().await {
                self.give_back_later(owner, claimed.into_iter().map(|(c, _)| c).collect());
                return Err(e.into());
            }
            return Ok(claimed);
        }
        Ok(Vec::new())
    }
}

impl PgStore {
    /// Gives back claims whose commit failed without saying whether it happened (the
    /// connection dropped at `COMMIT`, the server restarting): had it happened, no worker here
    /// would run them, and this owner's heartbeats would keep their leases alive for good. Each
    /// is released fenced by its claim number (nothing happens to a claim that was not
    /// committed), retried every second for ten minutes while the database does not answer.
    pub(super) fn give_back_later(&self, owner: &str, claims: Vec<ClaimedShard>) {
        let (store, owner) = (self.clone(), owner.to_string());
        tokio::spawn(async move {
            use crate::traits::ExecutionQueue;
            let mut left = claims;
            for _ in 0..600 {
                let mut failed = Vec::new();
                for c in left {
                    if store.release_shard(&c, &owner).await.is_err() {
                        failed.push(c);
                    }
                }
                if failed.is_empty() {
                    return;
                }
                left = failed;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            tracing::warn!(
                owner,
                shards = left.len(),
                "claims of an unanswered commit were not given back; their leases expire if no heartbeat extends them"
            );
        });
    }
}

/// Locks the executions of the `picked` shards (in id order) and keeps the shards of those
/// pending or running, with that state; shards of ended executions are cancelled (as ending
/// them would have), those of paused ones left pending.
async fn runnable_of(
    tx: &mut Tx,
    picked: &[(String, i64)],
    now: Millis,
) -> Result<Vec<(String, i64, ExecutionState)>> {
    let ids: Vec<&str> = {
        let mut ids: Vec<&str> = picked.iter().map(|(e, _)| e.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let states: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, state FROM executions WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    let mut state_of = BTreeMap::new();
    for (id, s) in states {
        state_of.insert(id, s.parse::<ExecutionState>().map_err(corrupt_exec)?);
    }
    let mut runnable = Vec::new();
    let (mut ended_e, mut ended_i) = (Vec::new(), Vec::new());
    for (exec, idx) in picked {
        match state_of.get(exec) {
            Some(s @ (ExecutionState::Pending | ExecutionState::Running)) => {
                runnable.push((exec.clone(), *idx, *s));
            }
            Some(ExecutionState::Paused) => {}
            Some(_) => {
                ended_e.push(exec.as_str());
                ended_i.push(*idx);
            }
            None => {
                return Err(corrupt_exec(format!(
                    "shard {idx} of a missing execution {exec}"
                )));
            }
        }
    }
    if !ended_e.is_empty() {
        sqlx::query(
            "UPDATE shards s SET state = 'cancelled', finished_at = $1 \
             FROM unnest($2::text[], $3::bigint[]) AS u(e, i) WHERE s.execution_id = u.e AND s.idx = u.i",
        )
        .bind(now)
        .bind(&ended_e)
        .bind(&ended_i)
        .execute(&mut **tx)
        .await?;
    }
    Ok(runnable)
}

/// A leased shard as the lease statement returns it: execution, index, attempt, claim number,
/// payload (JSON), crashes.
type Leased = (String, i64, i64, i64, String, i64);

/// Leases the locked `runnable` shards to `owner`, starts their executions that were pending,
/// and appends each claim's events (`execution-started` first when it starts one, then
/// `shard-started`): one statement for the shards, one for the executions, one for the events.
async fn lease_many(
    tx: &mut Tx,
    runnable: &[(String, i64, ExecutionState)],
    owner: &str,
    now: Millis,
    until: Millis,
) -> Result<Vec<(ClaimedShard, Vec<EventRecord>)>> {
    let execs: Vec<&str> = runnable.iter().map(|(e, _, _)| e.as_str()).collect();
    let idxs: Vec<i64> = runnable.iter().map(|(_, i, _)| *i).collect();
    let leased: Vec<Leased> = sqlx::query_as(
        "UPDATE shards s SET state = 'running', attempt = s.attempt + 1, claims = s.claims + 1, \
         lease_owner = $1, lease_expires_at = $2, started_at = $3 \
         FROM unnest($4::text[], $5::bigint[]) AS u(e, i) WHERE s.execution_id = u.e AND s.idx = u.i \
         RETURNING s.execution_id, s.idx, s.attempt, s.claims, s.payload, s.crashes",
    )
    .bind(owner)
    .bind(until)
    .bind(now)
    .bind(&execs)
    .bind(&idxs)
    .fetch_all(&mut **tx)
    .await?;
    // Per execution, in the order picked: its shards, and whether this batch starts it.
    let mut plan: BTreeMap<&str, (Vec<i64>, bool)> = BTreeMap::new();
    for (e, i, s) in runnable {
        let p = plan.entry(e.as_str()).or_default();
        p.0.push(*i);
        p.1 = *s == ExecutionState::Pending;
    }
    let ids: Vec<&str> = plan.keys().copied().collect();
    let counts: Vec<i64> = plan.values().map(|(s, _)| s.len() as i64).collect();
    let starts: Vec<bool> = plan.values().map(|(_, starts)| *starts).collect();
    let firsts: Vec<(String, i64)> = sqlx::query_as(
        "UPDATE executions e SET attempts = e.attempts + u.n, next_seq = e.next_seq + u.n + u.starts::int, \
         state = CASE WHEN u.starts THEN 'running' ELSE e.state END, \
         started_at = CASE WHEN u.starts THEN COALESCE(e.started_at, $1) ELSE e.started_at END, \
         claim_at = e.claim_at + u.n * $5 \
         FROM unnest($2::text[], $3::bigint[], $4::bool[]) AS u(id, n, starts) WHERE e.id = u.id \
         RETURNING e.id, e.next_seq - u.n - u.starts::int",
    )
    .bind(now)
    .bind(&ids)
    .bind(&counts)
    .bind(&starts)
    .bind(SHARD_TURN_MS)
    .fetch_all(&mut **tx)
    .await?;
    let mut next: BTreeMap<String, i64> = firsts.into_iter().collect();
    let by_shard: BTreeMap<(&str, i64), &Leased> = leased
        .iter()
        .map(|row| ((row.0.as_str(), row.1), row))
        .collect();
    let mut events = super::steps::EventBatch::default();
    let mut claims = Vec::with_capacity(runnable.len());
    for (exec, idx, state) in runnable {
        let Some(&(_, _, attempt, claim, payload, crashes)) = by_shard.get(&(exec.as_str(), *idx))
        else {
            return Err(corrupt_exec(format!(
                "shard {idx} of {exec} was not leased"
            )));
        };
        let seq = next
            .get_mut(exec.as_str())
            .ok_or_else(|| corrupt_exec(format!("execution {exec} was not counted")))?;
        let id: ExecutionId = exec.parse().map_err(corrupt_exec)?;
        let mut mine = Vec::new();
        let starts = *state == ExecutionState::Pending
            && plan.get(exec.as_str()).is_some_and(|p| p.0[0] == *idx);
        if starts {
            mine.push(events.push(&id, seq, now, Event::ExecutionStarted)?);
        }
        let started = Event::ShardStarted {
            shard: *idx as u32,
            attempt: *attempt as u32,
        };
        mine.push(events.push(&id, seq, now, started)?);
        let shard = ClaimedShard {
            execution: id,
            idx: *idx as u32,
            attempt: *attempt as u32,
            claim: *claim as u64,
            payload: json(payload)?,
            crashes: *crashes as u32,
        };
        claims.push((shard, mine));
    }
    events.insert(tx).await?;
    Ok(claims)
}
