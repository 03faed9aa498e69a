//! Durable executions: submit (validate, gate on pack freshness, fingerprint, plan shards), run
//! (claim shards under a lease, run them, commit results with their `done` state and events in
//! one transaction), and the lifecycle around it: pause, resume, cancel, retries by error class,
//! recovery of shards whose worker died.
//!
//! As in meilisearch's index-scheduler, results are committed only after the work, and a
//! process that starts (`quantd resume`, `quantd serve`) first returns the shards of dead
//! workers to the queue, so interrupted work simply runs again. Tests drive the engine shard by
//! shard with [`Engine::step`] and a [`clock::ManualClock`].

pub mod clock;
mod guard;
pub mod health;
pub mod import;
pub(crate) mod jobs;
pub mod limits;
pub mod pool;
pub mod retry;
pub mod spec;
pub mod strategy;

use crate::error::{EngineError, Result};
use crate::locks::{HeldLock, is_held, new_token};
use crate::packs::Packs;
use clock::{Clock, SystemClock};
use jobs::{Job, ShardFailure};
use quantd_core::state::StateMachine;
use quantd_core::{ErrorClass, EventRecord, ExecutionId, ExecutionState, PackState};
use quantd_store::{
    ClaimedShard, Commit, Completion, ExecutionRecord, FailureOutcome, HealthSnapshot, Lease,
    NewExecution, OnComplete, SqliteStore, Store,
};
use retry::RetryPolicy;
use serde::{Deserialize, Serialize};
use spec::{ResolvedSpec, SubmitSpec};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The engine version that goes into every fingerprint: results may differ across versions.
pub const ENGINE_VERSION: &str = concat!("quantd-engine/", env!("CARGO_PKG_VERSION"));

/// What happens to an execution when one of its shards fails for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ShardFailurePolicy {
    /// The execution fails at once; pending shards are cancelled.
    #[default]
    Fail,
    /// The execution goes on and completes with the failed shards listed.
    Continue,
}

/// Per-execution policies, stored with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionOptions {
    /// How failed shards are retried.
    pub retry: RetryPolicy,
    /// What a shard that fails for good does to the execution.
    pub on_shard_failure: ShardFailurePolicy,
}

/// The engine's settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The workspace executions are created in.
    pub workspace: String,
    /// How long a claim holds without a heartbeat, in milliseconds.
    pub lease_ms: i64,
    /// How often a running execution polls its stored state (pause/cancel from other processes).
    pub poll_ms: u64,
    /// How often a running execution records a health snapshot.
    pub health_every_ms: i64,
    /// Bars per scan shard at most; shards are balanced to equal bars (the plan is stored with
    /// the execution; results do not depend on it).
    pub scan_shard_bars: u64,
    /// Run Python code without the sandbox (no namespaces: host files and network reachable).
    /// Only for machines that cannot create namespaces, by explicit choice; every job logs a
    /// warning.
    pub unsafe_no_sandbox: bool,
    /// A shard whose attempts crashed this many times (a panic, or its process died while
    /// running it) fails its execution as quarantined instead of running again; 0 never
    /// quarantines. Default 2.
    pub quarantine_after: u32,
    /// Longest error message stored for a shard or an execution, in bytes; longer ones keep
    /// their head and tail around a note of what was cut. Default 16 KiB.
    pub max_error_message_bytes: usize,
    /// What one request may cost, checked when it is submitted.
    pub limits: limits::Limits,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            workspace: "default".into(),
            lease_ms: 30_000,
            poll_ms: 100,
            health_every_ms: 5_000,
            scan_shard_bars: jobs::SCAN_SHARD_BARS,
            unsafe_no_sandbox: false,
            quarantine_after: 2,
            max_error_message_bytes: 16 << 10,
            limits: limits::Limits::default(),
        }
    }
}

/// A test-only failure injected before a shard runs: `(execution, shard, attempt) → error`.
pub type FaultHook = dyn Fn(&ExecutionId, u32, u32) -> Option<(ErrorClass, String)> + Send + Sync;

/// What [`Engine::submit`] did.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The execution (a new one, or the reused one).
    pub execution: ExecutionRecord,
    /// True when a completed execution with the same fingerprint was returned instead.
    pub reused: bool,
    /// Things the user should know (a stale pack).
    pub warnings: Vec<String>,
}

/// What one [`Engine::step`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A shard ran and its results were committed.
    Done {
        /// Its execution.
        execution: ExecutionId,
        /// Its index.
        shard: u32,
    },
    /// A shard failed; it will be retried or has failed for good.
    Failed {
        /// Its execution.
        execution: ExecutionId,
        /// Its index.
        shard: u32,
        /// Why.
        class: ErrorClass,
    },
    /// A shard stopped because its execution was cancelled.
    Stopped {
        /// Its execution.
        execution: ExecutionId,
        /// Its index.
        shard: u32,
    },
    /// The shard's lease was lost while it ran; its results were discarded.
    LeaseLost,
}

/// What settling a shard's outcome committed, beyond its [`Step`].
struct Settled {
    step: Step,
    /// The commit ended the execution (completed, failed or cancelled it).
    ended: bool,
    /// The commit recorded the execution's final health snapshot.
    health: bool,
    /// The execution as the commit that completed it left it.
    completed: Option<ExecutionRecord>,
}

/// What running a shard gives.
type ShardResult = std::result::Result<jobs::ShardOutput, ShardFailure>;

/// Summary counts of committed scan shards, by execution and shard index.
type ScanPartials = Mutex<HashMap<ExecutionId, HashMap<u32, crate::scan::SummaryBuilder>>>;

/// The engine over one data directory.
pub struct Engine<S = SqliteStore> {
    packs: Packs<S>,
    clock: Arc<dyn Clock>,
    owner: String,
    _owner_lock: HeldLock,
    events: broadcast::Sender<EventRecord>,
    jobs: Mutex<HashMap<ExecutionId, Arc<dyn Job>>>,
    /// Summary counts of scan shards committed by this engine, by execution and shard index.
    /// Finishing a scan merges them when they cover every stored shard (else it decodes the
    /// stored rows, e.g. after a crash or when other processes ran some shards).
    /// The commit that completes a scan merges them into the summary it stores.
    scan_partials: Arc<ScanPartials>,
    cancels: Mutex<HashMap<ExecutionId, Arc<AtomicBool>>>,
    /// First shards claimed when [`Engine::start`] created their executions, not run yet: the
    /// next claim of this engine takes them before asking the store.
    claimed_at_start: Mutex<Vec<ClaimedShard>>,
    /// Those first shards' work, started while the creating transaction committed (jobs that
    /// [`Job::may_run_ahead`]), by execution; running the shard awaits it.
    running_ahead: Mutex<HashMap<ExecutionId, tokio::task::JoinHandle<ShardResult>>>,
    fault: Option<Arc<FaultHook>>,
    /// Runs Python code: one zygote, started by the first Python shard.
    python: Arc<crate::python::Python>,
    rng: AtomicU64,
    options: EngineOptions,
}

impl<S> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl<S: Store> Engine<S> {
    /// An engine on `packs`' data directory with the system clock. Returns the shards of dead
    /// workers to the queue first.
    pub async fn new(packs: Packs<S>, options: EngineOptions) -> Result<Engine<S>> {
        Engine::with_clock(packs, options, Arc::new(SystemClock)).await
    }

    /// An engine with a given clock (tests use [`clock::ManualClock`]).
    pub async fn with_clock(
        packs: Packs<S>,
        options: EngineOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Engine<S>> {
        let owner = new_token("worker");
        let lock = HeldLock::acquire(&packs.dir().tmp(), &owner)?;
        let (events, _) = broadcast::channel(4096);
        let seed = clock.now_ms() as u64 ^ (std::process::id() as u64) << 32;
        let python = Arc::new(crate::python::Python::new(
            packs.dir().root(),
            options.unsafe_no_sandbox,
        ));
        if options.unsafe_no_sandbox {
            tracing::warn!(
                "engine started with --unsafe-no-sandbox: Python jobs will run WITHOUT the sandbox"
            );
        }
        let engine = Engine {
            python,
            packs,
            clock,
            owner,
            _owner_lock: lock,
            events,
            jobs: Mutex::new(HashMap::new()),
            scan_partials: Arc::new(Mutex::new(HashMap::new())),
            cancels: Mutex::new(HashMap::new()),
            claimed_at_start: Mutex::new(Vec::new()),
            running_ahead: Mutex::new(HashMap::new()),
            fault: None,
            rng: AtomicU64::new(seed | 1),
            options,
        };
        engine.recover().await?;
        Ok(engine)
    }

    /// Installs a failure injected before shards run (tests).
    pub fn with_fault(mut self, hook: Arc<FaultHook>) -> Self {
        self.fault = Some(hook);
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        self.packs.store()
    }

    /// The pack service.
    pub fn packs(&self) -> &Packs<S> {
        &self.packs
    }

    /// The engine's settings.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Gives back to the queue every shard this engine holds, without counting a crash (a
    /// shutdown whose grace period ended while shards still ran). Returns how many.
    pub async fn release_held(&self) -> Result<u64> {
        self.claimed_at_start.lock().expect("claims lock").clear();
        Ok(self.store().release_owned(&self.owner).await?)
    }

    /// Stores the summary of `id` if it completed without one (its completing commit could not
    /// make it, e.g. after a restart).
    pub async fn finalize_if_completed(&self, id: &ExecutionId) -> Result<()> {
        let rec = self.execution(id).await?;
        if rec.state == ExecutionState::Completed && rec.summary.is_none() {
            self.finalize(&rec).await?;
        }
        Ok(())
    }

    /// Resumes a quarantined execution (`quantd resume --force`): its crashed and cancelled
    /// shards run again with their crash counts cleared.
    pub async fn resume_quarantined(&self, id: &ExecutionId) -> Result<ExecutionRecord> {
        self.execution(id).await?;
        let events = self
            .store()
            .requeue_quarantined(id, self.clock.now_ms())
            .await
            .map_err(|e| match e {
                quantd_store::StoreError::Conflict(m) => EngineError::Invalid(m),
                other => other.into(),
            })?;
        self.cancels.lock().expect("cancel lock").remove(id);
        self.broadcast(events);
        self.execution(id).await
    }

    /// Live events of every execution this engine touches.
    pub fn subscribe(&self) -> broadcast::Receiver<EventRecord> {
        self.events.subscribe()
    }

    fn broadcast(&self, events: Vec<EventRecord>) {
        for e in events {
            let _ = self.events.send(e);
        }
    }

    /// Returns to the queue the shards whose worker is gone (lock free) or whose lease expired,
    /// each with one more crash; an execution whose shard crashed
    /// [`EngineOptions::quarantine_after`] times fails as quarantined instead. Returns how many
    /// shards went back to the queue.
    pub async fn recover(&self) -> Result<u64> {
        let tmp = self.packs.dir().tmp();
        let done = self
            .store()
            .recover_shards(
                self.clock.now_ms(),
                |owner| is_held(&tmp, owner),
                self.options.quarantine_after,
            )
            .await?;
        if done.requeued > 0 {
            tracing::warn!(
                shards = done.requeued,
                "returned shards of stopped workers to the queue"
            );
        }
        for id in &done.quarantined {
            tracing::error!(execution = %id, crashes = self.options.quarantine_after,
                "quarantined: its shard crashed its worker too often; `quantd resume --force` runs it again");
        }
        self.broadcast(done.events);
        Ok(done.requeued)
    }

    /// Extends the leases of the shards this engine is running (for callers that drive
    /// [`Engine::step`] themselves, such as the server's worker pool; [`Engine::run`] does it).
    pub async fn heartbeat(&self) -> Result<u64> {
        let until = self.clock.now_ms() + self.options.lease_ms;
        Ok(self.store().heartbeat(&self.owner, until).await?)
    }

    /// Validates a request, applies the freshness gate, and creates the execution with its
    /// planned shards (or returns a completed one with the same fingerprint, with `reuse`).
    pub async fn submit(&self, request: SubmitSpec) -> Result<Submitted> {
        let workspace = self.options.workspace.clone();
        self.submit_in(&workspace, request).await
    }

    /// [`Engine::submit`] for a caller that runs the execution in this engine right away
    /// ([`Engine::run`], as the CLI does): the first shard is claimed in the transaction that
    /// creates the execution, so work starts one store round trip sooner. The claim is this
    /// engine's like any other: its next claim takes it, heartbeats extend it, and if the process
    /// dies first, recovery returns it to the queue.
    pub async fn start(&self, request: SubmitSpec) -> Result<Submitted> {
        let workspace = self.options.workspace.clone();
        self.submit_with(&workspace, request, true).await
    }

    /// [`Engine::submit`] on behalf of `workspace` (the API serves many): stored code resolves
    /// in that workspace, the execution belongs to it, and `reuse` only returns its own.
    pub async fn submit_in(&self, workspace: &str, request: SubmitSpec) -> Result<Submitted> {
        self.submit_with(workspace, request, false).await
    }

    async fn submit_with(
        &self,
        workspace: &str,
        request: SubmitSpec,
        claim_first: bool,
    ) -> Result<Submitted> {
        self.options.limits.check_request(&request)?;
        if let spec::JobRequest::Import(import) = &request.job {
            return self
                .submit_import(workspace, import, &request.options, claim_first)
                .await;
        }
        let mut warnings = Vec::new();
        let pack = self.packs.find(request.pack.as_deref()).await?;
        match pack.state {
            PackState::Warming | PackState::Error => {
                self.packs.open_reader(&pack)?;
            }
            PackState::Stale => warnings.push(format!(
                "pack `{}` ({}) is stale: a newer pack of that name exists",
                pack.name,
                pack.id.short()
            )),
            PackState::Fresh => {}
        }
        let reader = self.packs.open_reader(&pack)?;
        let resolved = spec::resolve(self.store(), workspace, &request, &pack).await?;
        let job = jobs::build(&resolved, reader, &self.options, &self.python)?;
        let fingerprint = resolved.fingerprint();
        if request.reuse
            && let Some(done) = self.store().completed_by_fingerprint(&fingerprint).await?
            && done.workspace == workspace
        {
            return Ok(Submitted {
                execution: done,
                reused: true,
                warnings,
            });
        }
        let id = self.new_execution_id();
        self.create(
            workspace,
            id,
            &resolved,
            fingerprint,
            pack.id.to_string(),
            &request.options,
            job,
            warnings,
            claim_first,
        )
        .await
    }

    fn new_execution_id(&self) -> ExecutionId {
        ExecutionId::from_parts(
            self.clock.now_ms() as u64,
            self.random() as u128 | ((self.random() as u128) << 64),
        )
    }

    /// Stores a new execution with its planned shards (the first one claimed by this engine, with
    /// `claim_first`) and announces it.
    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        workspace: &str,
        id: ExecutionId,
        resolved: &ResolvedSpec,
        fingerprint: String,
        pack_id: String,
        options: &ExecutionOptions,
        job: Arc<dyn Job>,
        warnings: Vec<String>,
        claim_first: bool,
    ) -> Result<Submitted> {
        let now = self.clock.now_ms();
        let shards = job.plan();
        // The first shard of an execution started here can compute while its claim commits.
        let ahead = match shards.first() {
            Some(first) if claim_first && job.may_run_ahead() && self.fault.is_none() => {
                let (job, payload, cancel) = (job.clone(), first.clone(), self.cancel_flag(&id));
                Some(tokio::task::spawn_blocking(move || {
                    job.run(&payload, &cancel)
                }))
            }
            _ => None,
        };
        let new = NewExecution {
            id: id.clone(),
            workspace: workspace.to_string(),
            kind: resolved.kind(),
            name: resolved.code_name(),
            spec: serde_json::to_value(resolved).expect("specs serialize"),
            fingerprint,
            pack_id,
            code_version: resolved.code_version(),
            options: serde_json::to_value(options).expect("options serialize"),
            shards,
            now,
            first_claim: claim_first.then(|| Lease {
                owner: self.owner.clone(),
                until: now + self.options.lease_ms,
            }),
        };
        let created = match self.store().create_execution(&new).await {
            Ok(c) => c,
            Err(e) => {
                // Nothing was stored: stop the work started ahead and forget it.
                if let Some(flag) = self.cancels.lock().expect("cancel lock").remove(&id) {
                    flag.store(true, Ordering::SeqCst);
                }
                return Err(e.into());
            }
        };
        self.jobs.lock().expect("jobs lock").insert(id.clone(), job);
        if let Some(shard) = created.claimed {
            if let Some(work) = ahead {
                self.running_ahead
                    .lock()
                    .expect("ahead lock")
                    .insert(id.clone(), work);
            }
            self.claimed_at_start
                .lock()
                .expect("claims lock")
                .push(shard);
        }
        self.broadcast(created.events);
        Ok(Submitted {
            execution: created.record,
            reused: false,
            warnings,
        })
    }

    /// An import execution: no input pack and no freshness gate; the fingerprint names the
    /// upload's content and options, but an import is never reused (it is cheap when the content
    /// is unchanged: the pack is found by its hash and nothing is written).
    async fn submit_import(
        &self,
        workspace: &str,
        request: &import::ImportRequest,
        options: &ExecutionOptions,
        claim_first: bool,
    ) -> Result<Submitted> {
        crate::packs::check_name(&request.name)?;
        let resolved = ResolvedSpec::Import(request.into());
        let fingerprint = resolved.fingerprint();
        let id = self.new_execution_id();
        let job = self.import_job(&resolved, &id);
        self.create(
            workspace,
            id,
            &resolved,
            fingerprint,
            String::new(),
            options,
            job,
            Vec::new(),
            claim_first,
        )
        .await
    }

    fn import_job(&self, resolved: &ResolvedSpec, id: &ExecutionId) -> Arc<dyn Job> {
        let ResolvedSpec::Import(spec) = resolved else {
            unreachable!("import_job is called for imports");
        };
        Arc::new(import::ImportJob::new(
            spec.clone(),
            id.clone(),
            self.packs.clone(),
            self.events.clone(),
            self.clock.clone(),
        ))
    }

    /// One execution, or a not-found error.
    pub async fn execution(&self, id: &ExecutionId) -> Result<ExecutionRecord> {
        self.store()
            .execution(id)
            .await?
            .ok_or_else(|| EngineError::NotFound {
                what: format!("execution {id}"),
                hint: "; list executions with `quantd history`".into(),
            })
    }

    /// The job of an execution, built from its stored spec after a restart.
    async fn job(&self, id: &ExecutionId) -> Result<Arc<dyn Job>> {
        if let Some(j) = self.jobs.lock().expect("jobs lock").get(id) {
            return Ok(j.clone());
        }
        let rec = self.execution(id).await?;
        let resolved: ResolvedSpec = serde_json::from_value(rec.spec.clone())
            .map_err(|e| EngineError::Internal(format!("stored spec of {id}: {e}")))?;
        let job = if let ResolvedSpec::Import(_) = &resolved {
            self.import_job(&resolved, id)
        } else {
            // By the recorded content id, never by name: a resumed execution reads exactly the
            // bars it started on (the reader checks the pack's own id too).
            let pack = self.packs.by_id(&rec.pack_id).await?;
            jobs::build(
                &resolved,
                self.packs.open_reader(&pack)?,
                &self.options,
                &self.python,
            )?
        };
        self.jobs
            .lock()
            .expect("jobs lock")
            .insert(id.clone(), job.clone());
        Ok(job)
    }

    fn cancel_flag(&self, id: &ExecutionId) -> Arc<AtomicBool> {
        self.cancels
            .lock()
            .expect("cancel lock")
            .entry(id.clone())
            .or_default()
            .clone()
    }

    fn random(&self) -> u64 {
        // xorshift64*: jitter and ids only need to differ, not to be secret.
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.store(x, Ordering::Relaxed);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Claims one runnable shard (of `only`, when given), runs it and commits the outcome.
    /// `None` when nothing is runnable now.
    pub async fn step(&self, only: Option<&ExecutionId>) -> Result<Option<Step>> {
        Ok(self.step_settled(only).await?.map(|s| s.step))
    }

    async fn step_settled(&self, only: Option<&ExecutionId>) -> Result<Option<Settled>> {
        let Some(shard) = self.claim(only).await? else {
            return Ok(None);
        };
        let outcome = self.run_guarded(&shard).await;
        self.settle_guarded(shard, outcome).await.map(Some)
    }

    /// Runs a claimed shard behind the panic boundary: a panic is the shard's
    /// [`ShardFailure::Crash`].
    async fn run_guarded(&self, shard: &ClaimedShard) -> ShardResult {
        guard::catch_panic(self.run_claimed(shard))
            .await
            .unwrap_or_else(|panic| Err(ShardFailure::Crash(panic)))
    }

    /// Commits a shard's outcome behind the panic boundary: if committing a success panics (in
    /// the summary or the health of a completing commit), the shard is recorded as crashed
    /// instead, so no shard stays `running` under a worker that goes on.
    async fn settle_guarded(&self, shard: ClaimedShard, outcome: ShardResult) -> Result<Settled> {
        match guard::catch_panic(self.settle(shard.clone(), outcome)).await {
            Ok(settled) => settled,
            Err(panic) => {
                tracing::error!(execution = %shard.execution, shard = shard.idx, %panic,
                    "committing the shard panicked; recording it as crashed");
                let crashed = Err(ShardFailure::Crash(format!("while committing: {panic}")));
                self.settle(shard, crashed).await
            }
        }
    }

    /// Claims one runnable shard (of `only`, when given) under this engine's lease: first one
    /// claimed when [`Engine::start`] created its execution, else one from the store.
    async fn claim(&self, only: Option<&ExecutionId>) -> Result<Option<ClaimedShard>> {
        if let Some(shard) = self.take_claimed_at_start(only) {
            return Ok(Some(shard));
        }
        let now = self.clock.now_ms();
        let Some((shard, events)) = self
            .store()
            .claim_shard(&self.owner, now, now + self.options.lease_ms, only)
            .await?
        else {
            return Ok(None);
        };
        self.broadcast(events);
        Ok(Some(shard))
    }

    fn take_claimed_at_start(&self, only: Option<&ExecutionId>) -> Option<ClaimedShard> {
        let mut held = self.claimed_at_start.lock().expect("claims lock");
        let at = held
            .iter()
            .position(|s| only.is_none_or(|id| *id == s.execution))?;
        Some(held.swap_remove(at))
    }

    /// Commits the outcome of a claimed shard: its results with its `done` state (and, when that
    /// completes the execution, the summary and final health in the same transaction), a failed
    /// attempt, or a stop.
    async fn settle(&self, shard: ClaimedShard, outcome: ShardResult) -> Result<Settled> {
        let now = self.clock.now_ms();
        let store = self.store();
        let completed = Arc::new(Mutex::new(None));
        let (commit, step) = match outcome {
            Ok(out) => {
                quantd_data::failpoint::hit("shard-before-commit");
                let mine = out.scan_summary.map(|s| Arc::new(Mutex::new(Some(s))));
                let on_complete =
                    self.on_complete(&shard, mine.clone(), out.summary, completed.clone());
                let max_result_bytes = self.options.limits.max_result_bytes;
                if out.body.len() as u64 > max_result_bytes {
                    let message = limits::results_too_big(out.body.len() as u64, max_result_bytes);
                    return self
                        .commit_failure(&shard, ErrorClass::Resource, &message, false)
                        .await
                        .map(|(c, step)| self.settled(c, step, &completed));
                }
                let done = quantd_store::ShardDone {
                    bars: out.bars,
                    rows: out.rows,
                    body: &out.body,
                    max_result_bytes,
                };
                let c = match store
                    .complete_shard(&shard, &self.owner, now, &done, Some(on_complete))
                    .await
                {
                    Ok(Commit::OverLimit(total)) => {
                        let message = limits::results_too_big(total, max_result_bytes);
                        return self
                            .commit_failure(&shard, ErrorClass::Resource, &message, false)
                            .await
                            .map(|(c, step)| self.settled(c, step, &completed));
                    }
                    Ok(c) => c,
                    // The results could not be stored (too big for the store, disk full): the
                    // attempt fails with that error instead of staying `running`.
                    Err(e) => {
                        let message = format!("storing the shard's results failed: {e}");
                        return self
                            .commit_failure(&shard, e.class(), &message, false)
                            .await
                            .map(|(c, step)| self.settled(c, step, &completed));
                    }
                };
                // Not taken by the completing commit: keep the counts for the one that will be.
                if let (Commit::Committed(_), Some(mine)) = (&c, mine)
                    && let Some(summary) = mine.lock().expect("summary lock").take()
                {
                    self.scan_partials
                        .lock()
                        .expect("partials lock")
                        .entry(shard.execution.clone())
                        .or_default()
                        .insert(shard.idx, summary);
                }
                quantd_data::failpoint::hit("shard-after-commit");
                (
                    c,
                    Step::Done {
                        execution: shard.execution.clone(),
                        shard: shard.idx,
                    },
                )
            }
            Err(ShardFailure::Cancelled) => {
                store.stop_shard(&shard, &self.owner, now).await?;
                return Ok(Settled {
                    step: Step::Stopped {
                        execution: shard.execution.clone(),
                        shard: shard.idx,
                    },
                    ended: false,
                    health: false,
                    completed: None,
                });
            }
            Err(ShardFailure::Error(class, message)) => {
                self.commit_failure(&shard, class, &message, false).await?
            }
            Err(ShardFailure::Crash(message)) => {
                let message = format!("panicked: {message}");
                self.commit_failure(&shard, ErrorClass::Internal, &message, true)
                    .await?
            }
        };
        Ok(self.settled(commit, step, &completed))
    }

    /// What a commit did, with its events announced.
    fn settled(
        &self,
        commit: Commit,
        step: Step,
        completed: &Mutex<Option<ExecutionRecord>>,
    ) -> Settled {
        match commit {
            Commit::Committed(events) => {
                use quantd_core::Event;
                let ended = events.iter().any(|e| {
                    matches!(
                        e.event,
                        Event::ExecutionCompleted { .. }
                            | Event::ExecutionFailed { .. }
                            | Event::ExecutionCancelled
                    )
                });
                let health = events
                    .iter()
                    .any(|e| matches!(e.event, Event::Health { .. }));
                self.broadcast(events);
                Settled {
                    step,
                    ended,
                    health,
                    completed: completed.lock().expect("record lock").take(),
                }
            }
            Commit::LeaseLost | Commit::OverLimit(_) => Settled {
                step: Step::LeaseLost,
                ended: false,
                health: false,
                completed: None,
            },
        }
    }

    /// Records a failed attempt (`crash`: a panic, counted towards quarantine): retried after a
    /// backoff while its class and the policy allow, else failed for good, failing the execution
    /// (or quarantining it) as its policy says. The message is bounded in size.
    async fn commit_failure(
        &self,
        shard: &ClaimedShard,
        class: ErrorClass,
        message: &str,
        crash: bool,
    ) -> Result<(Commit, Step)> {
        let now = self.clock.now_ms();
        let rec = self.execution(&shard.execution).await?;
        let options: ExecutionOptions = serde_json::from_value(rec.options).unwrap_or_default();
        let unit = (self.random() >> 11) as f64 / (1u64 << 53) as f64;
        let quarantine_after = self.options.quarantine_after;
        let crashes = shard.crashes + u32::from(crash);
        let outcome = if crash && quarantine_after > 0 && crashes >= quarantine_after {
            FailureOutcome::Quarantine
        } else {
            match options.retry.next_delay(class, shard.attempt, unit) {
                Some(delay) => FailureOutcome::RetryAt(now + delay as i64),
                None if options.on_shard_failure == ShardFailurePolicy::Fail => {
                    FailureOutcome::FailExecution
                }
                None => FailureOutcome::Continue,
            }
        };
        let bounded = quantd_core::bounded_message(message, self.options.max_error_message_bytes);
        let message = if outcome == FailureOutcome::Quarantine {
            std::borrow::Cow::Owned(format!(
                "quarantined after {crashes} crashes (`quantd resume --force {}` runs it again): {bounded}",
                shard.execution
            ))
        } else {
            bounded
        };
        tracing::warn!(execution = %shard.execution, shard = shard.idx, attempt = shard.attempt,
            %class, crash, message = %message, "shard failed");
        let failure = quantd_store::AttemptFailure {
            class,
            message: &message,
            crash,
            outcome,
        };
        let c = self
            .store()
            .fail_shard(shard, &self.owner, now, &failure)
            .await?;
        let step = Step::Failed {
            execution: shard.execution.clone(),
            shard: shard.idx,
            class,
        };
        Ok((c, step))
    }

    /// What the commit of `shard` stores if it completes the execution: the final health
    /// snapshot, and for scans the summary merged from the counts of every committed shard (when
    /// this engine holds counts for all of them; else `finalize` counts the stored rows).
    fn on_complete(
        &self,
        shard: &ClaimedShard,
        mine: Option<Arc<Mutex<Option<crate::scan::SummaryBuilder>>>>,
        given: Option<serde_json::Value>,
        completed: Arc<Mutex<Option<ExecutionRecord>>>,
    ) -> OnComplete {
        let partials = self.scan_partials.clone();
        let jobs_pack_tickers = mine.as_ref().and_then(|_| {
            self.jobs
                .lock()
                .expect("jobs lock")
                .get(&shard.execution)
                .and_then(|j| j.signals_template())
                .map(|t| t.tickers.len() as u64)
        });
        let (id, idx, now) = (shard.execution.clone(), shard.idx, self.clock.now_ms());
        Box::new(move |rec, shards| {
            let h = health::Health::of(rec, shards, now);
            let health = HealthSnapshot {
                score: h.score,
                band: h.band.to_string(),
                body: serde_json::to_value(&h).expect("health serializes"),
            };
            let summary = (|| {
                let mine = mine?.lock().expect("summary lock").take()?;
                let mut parts = partials
                    .lock()
                    .expect("partials lock")
                    .remove(&id)
                    .unwrap_or_default();
                parts.insert(idx, mine);
                // Counts exist only for committed shards, one per index: equal counts mean
                // equal sets.
                if parts.len() != rec.shards_done as usize {
                    return None;
                }
                let tickers = scan_tickers(rec, jobs_pack_tickers?)?;
                let mut builder = crate::scan::SummaryBuilder::default();
                for part in parts.into_values() {
                    builder.merge(part);
                }
                Some(
                    serde_json::to_value(builder.finish(tickers, rec.bars))
                        .expect("summary serializes"),
                )
            })()
            .or(given);
            // The record as a read after the commit returns it (the summary as stored).
            let mut rec = rec.clone();
            if let Some(s) = &summary {
                rec.summary = serde_json::from_str(&s.to_string()).ok();
            }
            *completed.lock().expect("record lock") = Some(rec);
            Completion { summary, health }
        })
    }

    async fn run_claimed(&self, shard: &ClaimedShard) -> ShardResult {
        let ahead = (shard.idx == 0)
            .then(|| {
                self.running_ahead
                    .lock()
                    .expect("ahead lock")
                    .remove(&shard.execution)
            })
            .flatten();
        if let Some(work) = ahead {
            return work.await.unwrap_or_else(|e| Err(guard::join_failure(e)));
        }
        if let Some(hook) = &self.fault
            && let Some((class, message)) = hook(&shard.execution, shard.idx, shard.attempt)
        {
            return Err(ShardFailure::Error(class, message));
        }
        let job = self
            .job(&shard.execution)
            .await
            .map_err(|e| ShardFailure::Error(e.class(), e.to_string()))?;
        let cancel = self.cancel_flag(&shard.execution);
        let payload = shard.payload.clone();
        tokio::task::spawn_blocking(move || job.run(&payload, &cancel))
            .await
            .unwrap_or_else(|e| Err(guard::join_failure(e)))
    }

    /// Runs an execution's shards on `workers` concurrent workers until it is finished, paused
    /// or cancelled (from this process or another), then returns its record.
    pub async fn run(&self, id: &ExecutionId, workers: usize) -> Result<ExecutionRecord> {
        // An execution this engine just started has nothing to recover (and the engine recovered
        // when it opened).
        let just_started = self
            .claimed_at_start
            .lock()
            .expect("claims lock")
            .iter()
            .any(|s| s.execution == *id);
        if !just_started {
            self.recover().await?;
        }
        let cancel = self.cancel_flag(id);
        let done = AtomicBool::new(false);
        // Wakes the watcher when the workers are done, and idle workers when a shard finished.
        let finished = tokio::sync::Notify::new();
        let moved = tokio::sync::Notify::new();
        let poll = std::time::Duration::from_millis(self.options.poll_ms);
        let watcher = async {
            let mut last_health = self.clock.now_ms();
            while !done.load(Ordering::SeqCst) {
                tokio::select! {
                    _ = finished.notified() => break,
                    _ = tokio::time::sleep(poll) => {}
                }
                let now = self.clock.now_ms();
                let _ = self
                    .store()
                    .heartbeat(&self.owner, now + self.options.lease_ms)
                    .await;
                match self.store().execution(id).await {
                    Ok(Some(rec)) if rec.state == ExecutionState::Cancelled => {
                        cancel.store(true, Ordering::SeqCst);
                        moved.notify_waiters();
                    }
                    Ok(Some(rec)) if rec.state == ExecutionState::Paused => moved.notify_waiters(),
                    Ok(Some(rec)) if rec.state.is_terminal() => break,
                    _ => {}
                }
                if now - last_health >= self.options.health_every_ms {
                    last_health = now;
                    let _ = self.snapshot_health(id).await;
                }
            }
        };
        let final_health = AtomicBool::new(false);
        let final_record: Mutex<Option<ExecutionRecord>> = Mutex::new(None);
        let worker = || async {
            loop {
                if cancel.load(Ordering::SeqCst) {
                    return Ok::<(), EngineError>(());
                }
                if let Some(settled) = self.step_settled(Some(id)).await? {
                    final_health.fetch_or(settled.health, Ordering::SeqCst);
                    moved.notify_waiters();
                    continue;
                }
                let rec = self.execution(id).await?;
                if rec.state.is_terminal() || rec.state == ExecutionState::Paused {
                    return Ok(());
                }
                // Nothing claimable now: shards are backing off or running on other workers.
                // Wait until one of them finishes (or the state changes), at most one poll.
                tokio::select! {
                    _ = moved.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
            }
        };
        // A job whose shards are parallel inside runs them one after another on one worker, with
        // the next shard claimed and the previous one committed while a shard computes.
        let pipelined = self.job(id).await.is_ok_and(|j| j.parallel_inside());
        let lane = || async {
            match self.pipeline(id, &cancel, &moved).await {
                Ok(Some(s)) => {
                    final_health.fetch_or(s.health, Ordering::SeqCst);
                    if s.ended {
                        *final_record.lock().expect("record lock") = s.completed;
                        Ok(())
                    } else {
                        worker().await
                    }
                }
                Ok(None) => worker().await,
                Err(e) => Err(e),
            }
        };
        let workers_fut = async {
            let results = if pipelined {
                vec![lane().await]
            } else {
                futures_join_all((0..workers.max(1)).map(|_| worker())).await
            };
            done.store(true, Ordering::SeqCst);
            finished.notify_one();
            results.into_iter().collect::<Result<Vec<()>>>()
        };
        let (result, ()) = tokio::join!(workers_fut, watcher);
        result?;
        if !final_health.load(Ordering::SeqCst) {
            let _ = self.snapshot_health(id).await;
        }
        let completed = final_record.into_inner().expect("record lock");
        let rec = match completed {
            Some(rec) => rec,
            None => self.execution(id).await?,
        };
        if rec.state == ExecutionState::Completed && rec.summary.is_none() {
            self.finalize(&rec).await?;
            return self.execution(id).await;
        }
        Ok(rec)
    }

    /// Runs the claimable shards of `id` one after another: while a shard computes, the previous
    /// one is committed and the next one claimed. Returns what settling the last shard did
    /// (`None` when none ran); the caller then waits for shards that are not claimable yet.
    async fn pipeline(
        &self,
        id: &ExecutionId,
        cancel: &AtomicBool,
        moved: &tokio::sync::Notify,
    ) -> Result<Option<Settled>> {
        type Settling<'a> =
            std::pin::Pin<Box<dyn std::future::Future<Output = Result<Settled>> + Send + 'a>>;
        let mut next = self.claim(Some(id)).await?;
        let mut settling: Option<Settling<'_>> = None;
        let mut last = None;
        while let Some(shard) = next.take() {
            let previous = settling.take();
            let ahead = async {
                let settled = match previous {
                    Some(p) => {
                        let s = p.await?;
                        moved.notify_waiters();
                        Some(s)
                    }
                    None => None,
                };
                let next =
                    if cancel.load(Ordering::SeqCst) || settled.as_ref().is_some_and(|s| s.ended) {
                        None
                    } else {
                        self.claim(Some(id)).await?
                    };
                Ok::<_, EngineError>((settled, next))
            };
            let (outcome, ahead) = tokio::join!(self.run_claimed(&shard), ahead);
            let (settled, claimed) = match ahead {
                Ok(a) => a,
                Err(e) => {
                    // Commit what ran before reporting the error.
                    let _ = self.settle(shard, outcome).await;
                    return Err(e);
                }
            };
            if let Some(s) = settled {
                last = Some(s);
            }
            if outcome.is_ok() {
                settling = Some(Box::pin(self.settle(shard, outcome)));
                next = claimed;
                continue;
            }
            // A failure or a stop can end or pause the execution: settle it now, and give the
            // shard claimed ahead back unless the execution still runs.
            let s = self.settle(shard, outcome).await?;
            moved.notify_waiters();
            last = Some(s);
            if let Some(ahead) = claimed {
                let state = self.execution(id).await?.state;
                if matches!(state, ExecutionState::Pending | ExecutionState::Running)
                    && !cancel.load(Ordering::SeqCst)
                {
                    next = Some(ahead);
                } else if state == ExecutionState::Paused {
                    self.store().release_shard(&ahead, &self.owner).await?;
                } else {
                    self.store()
                        .stop_shard(&ahead, &self.owner, self.clock.now_ms())
                        .await?;
                }
            }
        }
        if let Some(p) = settling {
            last = Some(p.await?);
            moved.notify_waiters();
        }
        Ok(last)
    }

    /// Stores the summary of a completed execution (signals, A+ scores, backtest means), which
    /// `history`, `summary` and the API read without decoding results.
    pub async fn finalize(&self, rec: &ExecutionRecord) -> Result<()> {
        match rec.kind {
            quantd_core::ExecutionKind::Scan => {
                self.store_scan_summary(rec).await?;
            }
            quantd_core::ExecutionKind::Test => {
                self.test_report(&rec.id).await?;
            }
            quantd_core::ExecutionKind::Backtest => {
                self.backtest_results(&rec.id).await?;
            }
            quantd_core::ExecutionKind::Run => {
                self.run_log(&rec.id).await?;
            }
            quantd_core::ExecutionKind::Import => {
                self.import_outcome(&rec.id).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Records a health snapshot (and its event).
    pub async fn snapshot_health(&self, id: &ExecutionId) -> Result<health::Health> {
        let rec = self.execution(id).await?;
        let shards = self.store().shards(id).await?;
        let h = health::Health::of(&rec, &shards, self.clock.now_ms());
        let body = serde_json::to_value(&h).expect("health serializes");
        let ev = self
            .store()
            .record_health(id, self.clock.now_ms(), h.score, h.band, &body)
            .await?;
        self.broadcast(vec![ev]);
        Ok(h)
    }

    /// Pauses: no new shard starts; running ones finish.
    pub async fn pause(&self, id: &ExecutionId) -> Result<ExecutionRecord> {
        self.change(id, ExecutionState::Paused).await
    }

    /// Resumes a paused execution (run it again with [`Engine::run`]).
    pub async fn resume(&self, id: &ExecutionId) -> Result<ExecutionRecord> {
        self.change(id, ExecutionState::Running).await
    }

    /// Cancels: pending shards are cancelled, running ones stop between tickers.
    pub async fn cancel(&self, id: &ExecutionId) -> Result<ExecutionRecord> {
        let rec = self.change(id, ExecutionState::Cancelled).await?;
        self.cancel_flag(id).store(true, Ordering::SeqCst);
        Ok(rec)
    }

    /// Whether this engine stops `id`'s running shards (it was cancelled here, or
    /// [`Engine::observe_cancellations`] saw it cancelled by another process).
    pub fn cancel_requested(&self, id: &ExecutionId) -> bool {
        self.cancels
            .lock()
            .expect("cancel lock")
            .get(id)
            .is_some_and(|f| f.load(Ordering::SeqCst))
    }

    /// Notices executions cancelled by another process (`quantd cancel` next to a server) and
    /// stops their shards running here within a tick: for every execution this engine holds a job
    /// for, reads its state; a cancelled one gets its cancel flag set, and finished ones are
    /// forgotten (their compiled jobs are rebuilt from the stored spec if ever needed). Returns how
    /// many executions were newly cancelled. Servers call it a few times a second.
    pub async fn observe_cancellations(&self) -> Result<usize> {
        let ids: Vec<ExecutionId> = self
            .jobs
            .lock()
            .expect("jobs lock")
            .keys()
            .cloned()
            .collect();
        let mut cancelled = 0;
        for id in ids {
            let Some(rec) = self.store().execution(&id).await? else {
                continue;
            };
            if rec.state == ExecutionState::Cancelled
                && !self.cancel_flag(&id).swap(true, Ordering::SeqCst)
            {
                cancelled += 1;
                tracing::info!(execution = %id, "cancelled by another process; stopping its shards here");
            } else if rec.state.is_terminal() {
                // Flagged at an earlier tick (or finished): shards still running hold their own
                // handle on the flag.
                self.jobs.lock().expect("jobs lock").remove(&id);
                self.cancels.lock().expect("cancel lock").remove(&id);
                self.running_ahead.lock().expect("ahead lock").remove(&id);
            }
        }
        Ok(cancelled)
    }

    async fn change(&self, id: &ExecutionId, to: ExecutionState) -> Result<ExecutionRecord> {
        self.execution(id).await?;
        let events = self
            .store()
            .change_execution_state(id, to, self.clock.now_ms())
            .await
            .map_err(|e| match e {
                quantd_store::StoreError::Conflict(m) => EngineError::Invalid(m),
                other => other.into(),
            })?;
        self.broadcast(events);
        self.execution(id).await
    }

    /// Streams a scan execution's signal rows to `sink`, one shard's rows at a time in plan
    /// order (so rows come sorted by ticker, then date) — memory is bounded by one shard.
    pub async fn scan_results(
        &self,
        id: &ExecutionId,
        mut sink: impl FnMut(&crate::scan::Signals) -> Result<()>,
    ) -> Result<()> {
        let job = self.job(id).await?;
        let mut template = job.signals_template().ok_or_else(|| {
            EngineError::Invalid(format!(
                "execution {id} is not a scan; it has no signal rows"
            ))
        })?;
        if job.indicators_from_results() {
            // Every chunk gets the same columns: the union of the names the shards carry.
            for idx in self.store().result_shards(id).await? {
                if let Some(body) = self.store().shard_result(id, idx).await?
                    && let Some(names) = crate::scan::Signals::encoded_names(&body)?
                {
                    for n in names {
                        if !template.indicators.contains(&n) {
                            template.indicators.push(n);
                        }
                    }
                }
            }
        }
        for idx in self.store().result_shards(id).await? {
            if let Some(body) = self.store().shard_result(id, idx).await? {
                let mut chunk = template.clone();
                chunk.append_encoded(&body)?;
                sink(&chunk)?;
            }
        }
        Ok(())
    }

    /// The log and metrics of a `run` execution (its one shard's body); stores the metrics as
    /// the summary. `None` when the run has no committed result (it failed or is still running).
    pub async fn run_log(&self, id: &ExecutionId) -> Result<Option<crate::python::bot::RunLog>> {
        let rec = self.execution(id).await?;
        if rec.kind != quantd_core::ExecutionKind::Run {
            return Err(EngineError::Invalid(format!(
                "execution {id} is a {}, not a run",
                rec.kind
            )));
        }
        let Some(idx) = self.store().result_shards(id).await?.into_iter().next() else {
            return Ok(None);
        };
        let Some(body) = self.store().shard_result(id, idx).await? else {
            return Ok(None);
        };
        let log: crate::python::bot::RunLog = serde_json::from_slice(&body)
            .map_err(|e| EngineError::Internal(format!("stored run log: {e}")))?;
        if rec.summary.is_none() {
            self.store().set_summary(id, &log.summary()).await?;
        }
        Ok(Some(log))
    }

    /// What an import execution produced (`None` until its shard is done); stored as its
    /// summary.
    pub async fn import_outcome(&self, id: &ExecutionId) -> Result<Option<import::ImportOutcome>> {
        let rec = self.execution(id).await?;
        if rec.kind != quantd_core::ExecutionKind::Import {
            return Err(EngineError::Invalid(format!(
                "execution {id} is a {}, not an import",
                rec.kind
            )));
        }
        let Some(body) = self.store().shard_result(id, 0).await? else {
            return Ok(None);
        };
        let outcome: import::ImportOutcome = serde_json::from_slice(&body)
            .map_err(|e| EngineError::Internal(format!("stored import outcome: {e}")))?;
        if rec.summary.is_none() {
            let summary = serde_json::to_value(&outcome).expect("outcomes serialize");
            self.store().set_summary(id, &summary).await?;
        }
        Ok(Some(outcome))
    }

    /// The A+ report of a test execution, assembled from its shards; stored as its summary.
    pub async fn test_report(&self, id: &ExecutionId) -> Result<crate::atest::Report> {
        let rec = self.execution(id).await?;
        let ResolvedSpec::Test(spec) = Self::spec_of(&rec)? else {
            return Err(EngineError::Invalid(format!(
                "execution {id} is a {}, not an A+ test",
                rec.kind
            )));
        };
        let mut tickers = Vec::new();
        for idx in self.store().result_shards(id).await? {
            if let Some(body) = self.store().shard_result(id, idx).await? {
                let part: Vec<crate::atest::TickerReport> = serde_json::from_slice(&body)
                    .map_err(|e| EngineError::Internal(format!("stored test results: {e}")))?;
                tickers.extend(part);
            }
        }
        let report = crate::atest::Report::new(spec.tolerance, tickers);
        let summary = serde_json::json!({
            "precision": report.precision, "recall": report.recall, "accuracy": report.accuracy,
            "matched": report.matched, "missed": report.missed, "unexpected": report.unexpected,
        });
        self.store().set_summary(id, &summary).await?;
        Ok(report)
    }

    /// A backtest's per-ticker results, in ticker order; stores the aggregate as the summary.
    pub async fn backtest_results(
        &self,
        id: &ExecutionId,
    ) -> Result<Vec<strategy::TickerBacktest>> {
        let rec = self.execution(id).await?;
        if rec.kind != quantd_core::ExecutionKind::Backtest {
            return Err(EngineError::Invalid(format!(
                "execution {id} is a {}, not a backtest",
                rec.kind
            )));
        }
        let mut out = Vec::new();
        for idx in self.store().result_shards(id).await? {
            if let Some(body) = self.store().shard_result(id, idx).await? {
                let part: Vec<strategy::TickerBacktest> = serde_json::from_slice(&body)
                    .map_err(|e| EngineError::Internal(format!("stored backtest results: {e}")))?;
                out.extend(part);
            }
        }
        let summary = strategy::aggregate(&out);
        self.store()
            .set_summary(
                id,
                &serde_json::to_value(&summary).expect("summary serializes"),
            )
            .await?;
        Ok(out)
    }

    /// A sweep's grid (names and values) and its rows, shard by shard, to `sink`.
    pub async fn sweep_results(
        &self,
        id: &ExecutionId,
        mut sink: impl FnMut(&[strategy::SweepResultRow]) -> Result<()>,
    ) -> Result<quantd_backtest::ParamGrid> {
        let rec = self.execution(id).await?;
        let ResolvedSpec::Sweep(spec) = Self::spec_of(&rec)? else {
            return Err(EngineError::Invalid(format!(
                "execution {id} is a {}, not a sweep",
                rec.kind
            )));
        };
        let grid = quantd_backtest::ParamGrid::parse(&spec.grid)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        for idx in self.store().result_shards(id).await? {
            if let Some(body) = self.store().shard_result(id, idx).await? {
                sink(&strategy::decode_sweep(&body)?)?;
            }
        }
        Ok(grid)
    }

    /// A finished scan's summary (totals, top dates and tickers): the stored one, or counted now
    /// and stored with the execution.
    pub async fn summarize_scan(&self, id: &ExecutionId) -> Result<crate::scan::ScanSummary> {
        let rec = self.execution(id).await?;
        if let Some(stored) = rec.summary.as_ref()
            && let Ok(summary) = serde_json::from_value(stored.clone())
        {
            return Ok(summary);
        }
        self.store_scan_summary(&rec).await
    }

    /// Counts a scan's signals and stores the summary. Merges the counts its shards made while
    /// they ran when this engine committed every done shard; else decodes the stored rows.
    async fn store_scan_summary(&self, rec: &ExecutionRecord) -> Result<crate::scan::ScanSummary> {
        let ResolvedSpec::Scan(spec) = Self::spec_of(rec)? else {
            return Err(EngineError::Invalid(format!(
                "execution {} is a {}, not a scan",
                rec.id, rec.kind
            )));
        };
        let tickers = match &spec.tickers {
            Some(t) => t.len() as u64,
            None => self
                .job(&rec.id)
                .await?
                .signals_template()
                .map_or(0, |t| t.tickers.len() as u64),
        };
        let partials = self
            .scan_partials
            .lock()
            .expect("partials lock")
            .remove(&rec.id)
            .unwrap_or_default();
        let mut builder = crate::scan::SummaryBuilder::default();
        // Partials exist only for committed shards, one per index: equal counts mean equal sets.
        if partials.len() == rec.shards_done as usize {
            for part in partials.into_values() {
                builder.merge(part);
            }
        } else {
            self.scan_results(&rec.id, |chunk| {
                builder.add(chunk);
                Ok(())
            })
            .await?;
        }
        let summary = builder.finish(tickers, rec.bars);
        self.store()
            .set_summary(
                &rec.id,
                &serde_json::to_value(&summary).expect("summary serializes"),
            )
            .await?;
        Ok(summary)
    }

    /// The stored spec of an execution.
    pub fn spec_of(rec: &ExecutionRecord) -> Result<ResolvedSpec> {
        serde_json::from_value(rec.spec.clone())
            .map_err(|e| EngineError::Internal(format!("stored spec: {e}")))
    }
}

/// The `tickers_scanned` of a scan's summary: the tickers it asked for, else every ticker of its
/// pack (`pack_tickers`). `None` for other kinds.
fn scan_tickers(rec: &ExecutionRecord, pack_tickers: u64) -> Option<u64> {
    match Engine::<SqliteStore>::spec_of(rec).ok()? {
        ResolvedSpec::Scan(spec) => Some(
            spec.tickers
                .as_ref()
                .map_or(pack_tickers, |t| t.len() as u64),
        ),
        _ => None,
    }
}

/// Joins futures without pulling in the `futures` crate: polls them all on one task.
async fn futures_join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futs.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("all ready")).collect()
}
