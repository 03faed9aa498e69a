//! The storage contract the engine is written against.
//!
//! [`Store`] is the union of one trait per area: the pack catalog ([`PackCatalog`]), the
//! code registry ([`CodeRegistry`]), the execution queue's write side ([`ExecutionQueue`]: create,
//! claim, heartbeat, complete, fail, stop, release, recover, state changes), its read side
//! ([`ExecutionLog`]: executions, shards, events, results, stats, and the annotations that move no
//! shard: summaries, health snapshots, phase events), the access tokens of workspaces
//! ([`AccessTokens`]), agents ([`AgentRegistry`]), the rights registry with the audit trail
//! ([`RightsRegistry`]), webhooks with their deliveries ([`crate::WebhookStore`]), and workspace
//! policies ([`crate::WorkspacePolicies`]). The implementations are [`crate::SqliteStore`] (embedded)
//! and [`crate::PgStore`] (Postgres);
//! [`crate::AnyStore`] is the one chosen at run time. Every implementation passes `tests/contract.rs` and keeps:
//!
//! - each method that changes state is one transaction, and the events it appends commit with it
//!   and are returned, so callers broadcast exactly what was committed;
//! - an execution's events are numbered 1, 2, 3, … with no gap and no repeat, whoever writes;
//! - a shard is claimed by exactly one worker, under a lease (owner, expiry) that heartbeats
//!   extend: `BEGIN IMMEDIATE` + `UPDATE … RETURNING` on SQLite, `SELECT … FOR UPDATE SKIP
//!   LOCKED` on Postgres;
//! - every outcome of a claim (complete, fail, stop, release) is fenced by (owner,
//!   [`ClaimedShard::claim`]): a claim that was lost, or whose shard was claimed again (even by
//!   the same owner), writes nothing ([`Commit::LeaseLost`] or `false`);
//! - a shard's results, its `done` state and its events commit together, so a crash can never
//!   store a result twice or lose one that was acknowledged;
//! - every list is read in pages through an opaque cursor ([`Page`], [`Paged`]); a cursor the
//!   store did not hand out for that list is refused.

use crate::error::Result;
use crate::policies::WorkspacePolicies;
use crate::records::{
    Added, AttemptFailure, AuditEntry, AuditFilter, ClaimScope, ClaimedShard, CodeName,
    CodeVersion, Commit, Created, ExecutionFilter, ExecutionRecord, IdempotencyRecord, Millis,
    NewAuditEntry, NewExecution, NewPack, NewToken, OnComplete, PackRecord, Page, Paged,
    QueueStats, Recovered, ShardDone, ShardRecord, StepRow, TokenRecord,
};
use crate::webhooks::WebhookStore;
use quantd_core::{
    CodeVersionId, ErrorClass, Event, EventRecord, ExecutionId, ExecutionState, PackId, Rights,
};
use serde_json::Value;
use std::collections::HashSet;
use std::future::Future;

/// Which packs exist under which name and in which state.
pub trait PackCatalog {
    /// Registers a `warming` row for an import that has started.
    fn begin_import(&self, p: &NewPack) -> impl Future<Output = Result<()>> + Send;

    /// Marks `(name, id)` fresh and the name's previous fresh row stale, in one transaction.
    fn make_fresh(
        &self,
        name: &str,
        id: &PackId,
        rights: Option<&Rights>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Marks a warming row `error` with the reason.
    fn fail_import(
        &self,
        name: &str,
        id: &PackId,
        message: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Marks `error` every warming row whose importer (by lock token) is no longer alive.
    fn fail_orphaned_imports(
        &self,
        importer_alive: impl Fn(&str) -> bool + Send,
    ) -> impl Future<Output = Result<Vec<PackRecord>>> + Send;

    /// Catalog rows, newest first, one page.
    fn list_packs(&self, page: &Page) -> impl Future<Output = Result<Paged<PackRecord>>> + Send;

    /// Rows whose name is `key`, whose id is `key`, or whose id starts with `key` (at least 8
    /// hex characters), newest first.
    fn find_packs(&self, key: &str) -> impl Future<Output = Result<Vec<PackRecord>>> + Send;

    /// The newest fresh pack of any name.
    fn newest_fresh_pack(&self) -> impl Future<Output = Result<Option<PackRecord>>> + Send;
}

/// Immutable code versions under names; names belong to a workspace.
pub trait CodeRegistry {
    /// Adds a version of `name` (or returns the existing one with the same content id).
    fn add_code(
        &self,
        workspace: &str,
        name: &str,
        id: &CodeVersionId,
        language: &str,
        source: &str,
        params: &[String],
    ) -> impl Future<Output = Result<Added>> + Send;

    /// Version `version` of `name`, or its current version when `None`.
    fn code_version(
        &self,
        workspace: &str,
        name: &str,
        version: Option<u32>,
    ) -> impl Future<Output = Result<Option<CodeVersion>>> + Send;

    /// The version with this content id.
    fn code_by_id(
        &self,
        id: &CodeVersionId,
    ) -> impl Future<Output = Result<Option<CodeVersion>>> + Send;

    /// The versions of `name`, oldest first, one page.
    fn code_versions(
        &self,
        workspace: &str,
        name: &str,
        page: &Page,
    ) -> impl Future<Output = Result<Paged<CodeVersion>>> + Send;

    /// Names that are not removed, by name, one page.
    fn code_names(
        &self,
        workspace: &str,
        page: &Page,
    ) -> impl Future<Output = Result<Paged<CodeName>>> + Send;

    /// Points `name` at `version`; false when the name is unknown or removed.
    fn set_current_code(
        &self,
        workspace: &str,
        name: &str,
        version: u32,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Removes `name` (its versions stay for the executions that used them).
    fn remove_code(&self, workspace: &str, name: &str)
    -> impl Future<Output = Result<bool>> + Send;
}

/// The execution queue's write side: executions are created, their shards claimed under
/// leases, completed, failed, stopped, released and recovered, and executions paused, resumed
/// and cancelled. Every method is one transaction and returns the events it appended.
pub trait ExecutionQueue {
    /// Whether processes on other hosts may share this store (a database server): a lease
    /// owner's liveness then cannot be seen from here (its lock file is on its own host), so
    /// only an expired lease frees its shards. Default `false` (an embedded file, one host).
    fn shared_across_hosts(&self) -> bool {
        false
    }

    /// Wake-ups for events other processes write: the id of each execution that got events, as
    /// the database announces them (Postgres `LISTEN`), for as long as the receiver lives; a
    /// full channel drops wake-ups (readers also poll). `None` when the backend announces
    /// nothing (an embedded file).
    fn event_wakeups(
        &self,
    ) -> impl Future<Output = Result<Option<tokio::sync::mpsc::Receiver<ExecutionId>>>> + Send {
        async { Ok(None) }
    }

    /// Inserts an execution, its shards and its `execution-created` event (with
    /// [`NewExecution::first_claim`], also claims the first shard as [`ExecutionQueue::claim_shard`]
    /// would, in the same transaction); returns what it stored.
    fn create_execution(&self, e: &NewExecution) -> impl Future<Output = Result<Created>> + Send;

    /// Inserts many executions as [`ExecutionQueue::create_execution`] would, in one
    /// transaction (a pattern's `for_each` items): all are stored or none. An execution whose
    /// [`NewExecution::parent`] step already has a child is skipped (`None` in its place), so a
    /// batch retried after a crash creates only what is missing.
    fn create_executions(
        &self,
        batch: &[NewExecution],
    ) -> impl Future<Output = Result<Vec<Option<Created>>>> + Send;

    /// Claims the next pending shard of `scope` whose backoff has passed, under `owner`'s lease
    /// until `lease_until`; exactly one caller gets a given shard.
    fn claim_shard(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        scope: ClaimScope<'_>,
    ) -> impl Future<Output = Result<Option<(ClaimedShard, Vec<EventRecord>)>>> + Send;

    /// Extends the leases of `owner`'s running shards; returns how many.
    fn heartbeat(
        &self,
        owner: &str,
        lease_until: Millis,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Stores a shard's results, marks it done and appends its events, in one transaction. When
    /// that completes the execution, the same transaction stores what `on_complete` gives
    /// (summary, final health snapshot and its event). Results that would take the execution's
    /// stored bytes over `done.max_result_bytes` are not stored: [`Commit::OverLimit`].
    fn complete_shard(
        &self,
        shard: &ClaimedShard,
        owner: &str,
        now: Millis,
        done: &ShardDone<'_>,
        on_complete: Option<OnComplete>,
    ) -> impl Future<Output = Result<Commit>> + Send;

    /// Records a failed attempt: retry later, fail the shard, or fail (or quarantine) the
    /// execution. A second shard failing an execution that already ended is recorded on the shard
    /// only.
    fn fail_shard(
        &self,
        shard: &ClaimedShard,
        owner: &str,
        now: Millis,
        failure: &AttemptFailure<'_>,
    ) -> impl Future<Output = Result<Commit>> + Send;

    /// Marks a shard stopped by a cancellation; `false` (nothing written) when the claim is no
    /// longer the shard's.
    fn stop_shard(
        &self,
        shard: &ClaimedShard,
        owner: &str,
        now: Millis,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Returns a claimed shard to `pending` without counting an attempt (pause, shutdown);
    /// `false` (nothing written) when the claim is no longer the shard's.
    fn release_shard(
        &self,
        shard: &ClaimedShard,
        owner: &str,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// [`ExecutionQueue::release_shard`], claimable again only from `not_before` (a paper
    /// session waiting for its next bar gives its worker back until the bar is due), and then
    /// in its turn: its execution's `claim_at` moves to `not_before` if it was earlier, behind
    /// the work that waited before it.
    fn release_shard_until(
        &self,
        shard: &ClaimedShard,
        owner: &str,
        not_before: Millis,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Returns every shard `owner` holds to `pending` without counting an attempt or a crash
    /// (a graceful shutdown whose grace period ended). Returns how many.
    fn release_owned(&self, owner: &str) -> impl Future<Output = Result<u64>> + Send;

    /// Pauses, resumes or cancels an execution (checked against the state machine).
    fn change_execution_state(
        &self,
        exec: &ExecutionId,
        to: ExecutionState,
        now: Millis,
    ) -> impl Future<Output = Result<Vec<EventRecord>>> + Send;

    /// Returns to `pending` every running shard whose lease expired or whose owner is dead,
    /// counting a crash on it; a shard that reaches `quarantine_after` crashes (0: never) fails
    /// instead, and its execution fails as quarantined.
    fn recover_shards(
        &self,
        now: Millis,
        owner_alive: impl Fn(&str) -> bool + Send,
        quarantine_after: u32,
    ) -> impl Future<Output = Result<Recovered>> + Send;

    /// Runs a quarantined execution again (`quantd resume --force`): its failed and cancelled
    /// shards return to `pending` with their crash counts cleared, and it is running (or pending,
    /// if no shard ever started) again. A conflict if the execution is not quarantined.
    fn requeue_quarantined(
        &self,
        exec: &ExecutionId,
        now: Millis,
    ) -> impl Future<Output = Result<Vec<EventRecord>>> + Send;

    /// Records finished steps of a pattern execution (a row per step, replacing an earlier row of
    /// the same step), appends `events` and sets its progress (`done` and `failed` of `total`
    /// steps), in one transaction. Nothing is written to an execution that ended.
    fn record_steps(
        &self,
        exec: &ExecutionId,
        rows: &[StepRow],
        events: Vec<Event>,
        progress: (u32, u32, u32),
        now: Millis,
    ) -> impl Future<Output = Result<Vec<EventRecord>>> + Send;

    /// Ends an orchestrated execution (a pattern): `completed` with its summary, or `failed`
    /// with the error, with its final event. Nothing is written (no events) when it already
    /// ended.
    fn end_orchestrated(
        &self,
        exec: &ExecutionId,
        summary: &Value,
        error: Option<(ErrorClass, &str)>,
        now: Millis,
    ) -> impl Future<Output = Result<Vec<EventRecord>>> + Send;
}

/// The execution queue's read side: executions, shards, events, results and counts, plus the
/// annotations that change no claim or shard state (a summary, a health snapshot, a phase
/// event), which workers and monitors append while shards run.
pub trait ExecutionLog {
    /// One execution.
    fn execution(
        &self,
        id: &ExecutionId,
    ) -> impl Future<Output = Result<Option<ExecutionRecord>>> + Send;

    /// Executions newest first, filtered, one page.
    fn list_executions(
        &self,
        f: &ExecutionFilter,
    ) -> impl Future<Output = Result<Paged<ExecutionRecord>>> + Send;

    /// The child executions of a pattern execution (its steps' runs), oldest first.
    fn children(
        &self,
        parent: &ExecutionId,
    ) -> impl Future<Output = Result<Vec<ExecutionRecord>>> + Send;

    /// The finished steps of a pattern execution, by step.
    fn pattern_steps(
        &self,
        exec: &ExecutionId,
    ) -> impl Future<Output = Result<Vec<StepRow>>> + Send;

    /// Executions that are not finished, oldest first.
    fn unfinished_executions(&self) -> impl Future<Output = Result<Vec<ExecutionRecord>>> + Send;

    /// The newest completed execution with this fingerprint and no failed shard.
    fn completed_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> impl Future<Output = Result<Option<ExecutionRecord>>> + Send;

    /// The shards of an execution, in plan order.
    fn shards(&self, id: &ExecutionId) -> impl Future<Output = Result<Vec<ShardRecord>>> + Send;

    /// Up to `limit` events of an execution with a sequence number above `after`, in order;
    /// none when `after` is beyond every stored number (up to `u64::MAX`).
    fn events_after(
        &self,
        id: &ExecutionId,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<EventRecord>>> + Send;

    /// Up to `limit` events of an execution with a sequence number below `before`, newest first
    /// (the tail of its log with `before = u64::MAX`).
    fn events_before(
        &self,
        id: &ExecutionId,
        before: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<EventRecord>>> + Send;

    /// The indexes of the shards that stored results, in plan order.
    fn result_shards(&self, id: &ExecutionId) -> impl Future<Output = Result<Vec<u32>>> + Send;

    /// The stored results of one shard.
    fn shard_result(
        &self,
        id: &ExecutionId,
        idx: u32,
    ) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;

    /// Stores the execution's summary.
    fn set_summary(
        &self,
        id: &ExecutionId,
        summary: &Value,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Counts for monitoring: executions by kind and state, shards waiting and running.
    fn queue_stats(&self) -> impl Future<Output = Result<QueueStats>> + Send;

    /// Stores a health snapshot and appends its `health` event.
    fn record_health(
        &self,
        id: &ExecutionId,
        now: Millis,
        score: u8,
        band: &str,
        body: &Value,
    ) -> impl Future<Output = Result<EventRecord>> + Send;

    /// Appends one event that changes no state (in-shard progress: [`Event::Phase`]).
    fn record_event(
        &self,
        id: &ExecutionId,
        now: Millis,
        event: Event,
    ) -> impl Future<Output = Result<EventRecord>> + Send;
}

/// The agents of each workspace (for pattern `call` steps): bodies the engine defines, by name.
pub trait AgentRegistry {
    /// Stores (or replaces) agent `name` of `workspace`; true when it is new.
    fn put_agent(
        &self,
        workspace: &str,
        name: &str,
        body: &Value,
        now: Millis,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Removes agent `name` of `workspace`; false when there was none.
    fn remove_agent(
        &self,
        workspace: &str,
        name: &str,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The agents of `workspace` by name.
    fn agents(&self, workspace: &str) -> impl Future<Output = Result<Vec<(String, Value)>>> + Send;
}

/// The rights registry (providers, shared by every workspace like packs) and the audit trail.
pub trait RightsRegistry {
    /// Stores (or replaces) provider `name`, a body the engine defines; true when it is new.
    fn put_provider(
        &self,
        name: &str,
        body: &Value,
        now: Millis,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Removes provider `name`; false when there was none. Refused with
    /// [`crate::StoreError::Conflict`] while a pack names it.
    fn remove_provider(&self, name: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Every provider by name, in name order.
    fn providers(&self) -> impl Future<Output = Result<Vec<(String, Value)>>> + Send;

    /// Makes every row of pack `name` name `provider` (or none); the number of rows changed.
    fn set_pack_provider(
        &self,
        name: &str,
        provider: Option<&str>,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Every catalog row whose content id is `id` (a pack imported under several names has
    /// several, each with its rights).
    fn packs_by_id(&self, id: &PackId) -> impl Future<Output = Result<Vec<PackRecord>>> + Send;

    /// Appends an entry to the audit trail.
    fn append_audit(&self, e: &NewAuditEntry) -> impl Future<Output = Result<()>> + Send;

    /// Entries of the audit trail, newest first, one page.
    fn audit(
        &self,
        filter: &AuditFilter,
        page: &Page,
    ) -> impl Future<Output = Result<Paged<AuditEntry>>> + Send;
}

/// Bearer tokens of workspaces and the idempotency keys of their requests.
pub trait AccessTokens {
    /// Stores a new token (its secret only as a hash).
    fn create_token(&self, t: &NewToken) -> impl Future<Output = Result<()>> + Send;

    /// The token with this public id, if it exists and is not revoked.
    fn token(&self, id: &str) -> impl Future<Output = Result<Option<TokenRecord>>> + Send;

    /// The live (not revoked) tokens, of `workspace` or of all, oldest first.
    fn list_tokens(
        &self,
        workspace: Option<&str>,
    ) -> impl Future<Output = Result<Vec<TokenRecord>>> + Send;

    /// Which of `ids` are live tokens (stored and not revoked), in one query however many: the
    /// server asks a few times a second for the tokens of its open streams.
    fn live_tokens(&self, ids: &[String]) -> impl Future<Output = Result<HashSet<String>>> + Send;

    /// Revokes a token by id; `false` when no live token has that id.
    fn revoke_token(&self, id: &str) -> impl Future<Output = Result<bool>> + Send;

    /// The execution an idempotency key of `workspace` created, if any.
    fn idempotency_key(
        &self,
        workspace: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>>> + Send;

    /// Remembers that `key` created `execution`; false when the key was already taken (the
    /// stored record wins).
    fn save_idempotency_key(
        &self,
        workspace: &str,
        key: &str,
        request_hash: &str,
        execution: &ExecutionId,
        now: Millis,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// Everything the engine needs from storage. Implemented for every type that implements the
/// areas; cloning a store gives another handle to the same database.
pub trait Store:
    PackCatalog
    + CodeRegistry
    + ExecutionQueue
    + ExecutionLog
    + AccessTokens
    + AgentRegistry
    + RightsRegistry
    + WebhookStore
    + WorkspacePolicies
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: PackCatalog
        + CodeRegistry
        + ExecutionQueue
        + ExecutionLog
        + AccessTokens
        + AgentRegistry
        + RightsRegistry
        + WebhookStore
        + WorkspacePolicies
        + Clone
        + Send
        + Sync
        + 'static
{
}
