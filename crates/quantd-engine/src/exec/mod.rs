//! Durable executions: submit (validate, gate on pack freshness, fingerprint, plan shards), run
//! (claim shards under a lease, run them, commit results with their `done` state and events in
//! one transaction), and the lifecycle around it: pause, resume, cancel, retries by error class,
//! recovery of shards whose worker died.
//!
//! As in meilisearch's index-scheduler, results are committed only after the work, and a
//! process that starts (`quantd resume`, `quantd serve`) first returns the shards of dead
//! workers to the queue, so interrupted work simply runs again. Tests drive the engine shard by
//! shard with [`Engine::step`] and a [`clock::ManualClock`].
//!
//! Executions, shard attempts and their compute and commit are traced (`tracing` spans) and
//! counted (the `metrics` facade) at these boundaries, never per bar ([`trace`]).

pub mod clock;
mod commit;
mod guard;
pub mod health;
pub(crate) mod jobs;
pub mod kinds;
pub use kinds::import;
mod lifecycle;
pub mod pattern;
pub use lifecycle::{Control, interrupted};
pub mod limits;
pub mod pool;
mod relay;
pub mod request;
pub mod retry;
pub mod sandbox;
mod scheduler;
pub(crate) use scheduler::futures_join_all as join_all;
pub mod spec;
pub mod strategy;
pub(crate) mod submit;
pub mod trace;
mod wait;

use crate::error::{EngineError, Result};
use crate::locks::{HeldLock, is_held, new_token};
use crate::packs::Packs;
use clock::{Clock, SystemClock};
use jobs::{Job, ShardFailure};
use kinds::{Kind, with_kind};
use quantd_core::state::StateMachine;
use quantd_core::{ErrorClass, EventRecord, ExecutionId, ExecutionState, PackState};
use quantd_store::{
    AnyStore, ClaimedShard, Commit, Completion, ExecutionRecord, FailureOutcome, HealthSnapshot,
    Lease, NewExecution, OnComplete, ShardRecord, Store,
};
use request::SubmitRequest;
use retry::RetryPolicy;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The prefix of the lock files queue schedulers hold while they run.
const QUEUE_LOCK_PREFIX: &str = "queue";

/// The engine version that goes into every fingerprint: results may differ across versions.
pub const ENGINE_VERSION: &str = concat!("quantd-engine/", env!("CARGO_PKG_VERSION"));

/// What happens to an execution when one of its shards fails for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Its priority, -10 to 10: higher is claimed first; waiting work ages (see
    /// [`quantd_store::PRIORITY_STEP_MS`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub priority: i8,
    /// The limits of its sandboxed jobs, as the request asked (checked when it was submitted).
    #[serde(skip_serializing_if = "sandbox::SandboxRequest::is_empty")]
    pub sandbox: sandbox::SandboxRequest,
}

fn is_zero(n: &i8) -> bool {
    *n == 0
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
    /// How failed shards are retried: intervals, backoff, jitter and the attempts a request gets
    /// when it does not ask (`max_attempts`).
    pub retry: RetryPolicy,
    /// What a Python job's output may hold (result columns, run metrics, logs).
    pub python: crate::python::PythonOptions,
    /// What webhooks may be and how their deliveries are sent and retried.
    pub webhooks: crate::webhooks::WebhookOptions,
    /// A paper session whose next bar is due later than this gives its worker back and goes on
    /// in a new job when the bar is due (and a following session with no new version re-checks
    /// after this long without a worker). Default one minute.
    pub paper_idle_ms: u64,
    /// The broker account `live` sessions trade (read by the binary from `APCA_API_KEY_ID`,
    /// `APCA_API_SECRET_KEY` and `APCA_API_BASE_URL`); without one, live sessions are refused.
    pub broker: Option<quantd_alpaca::AlpacaConfig>,
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
            retry: RetryPolicy::default(),
            python: crate::python::PythonOptions::default(),
            webhooks: crate::webhooks::WebhookOptions::default(),
            paper_idle_ms: 60_000,
            broker: None,
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

impl Step {
    /// The step's outcome as a word: `done`, `failed`, `stopped` or `lease_lost`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Step::Done { .. } => "done",
            Step::Failed { .. } => "failed",
            Step::Stopped { .. } => "stopped",
            Step::LeaseLost => "lease_lost",
        }
    }

    /// The execution of the shard, if the step got that far.
    pub fn execution(&self) -> Option<&ExecutionId> {
        match self {
            Step::Done { execution, .. }
            | Step::Failed { execution, .. }
            | Step::Stopped { execution, .. } => Some(execution),
            Step::LeaseLost => None,
        }
    }
}

/// What settling a shard's outcome committed, beyond its [`Step`].
pub(crate) struct Settled {
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

/// The engine over one data directory, on the store chosen at run time unless told otherwise.
pub struct Engine<S = AnyStore> {
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
    /// The shards running in this process, by execution and index: their progress.
    live: Mutex<HashMap<(ExecutionId, u32), Arc<jobs::ShardControl>>>,
    /// The in-flight bars last reported per execution.
    progress_sent: Mutex<HashMap<ExecutionId, u64>>,
    /// First shards claimed when [`Engine::start`] created their executions, not run yet: the
    /// next claim of this engine takes them before asking the store.
    claimed_at_start: Mutex<Vec<ClaimedShard>>,
    /// Those first shards' work, started while the creating transaction committed (jobs that
    /// [`Job::may_run_ahead`]), by execution; running the shard awaits it.
    running_ahead: Mutex<HashMap<ExecutionId, tokio::task::JoinHandle<ShardResult>>>,
    fault: Option<Arc<FaultHook>>,
    /// The open spans of executions and shard attempts run here ([`trace`]).
    traces: trace::Traces,
    /// Runs Python code: one zygote, started by the first Python shard.
    python: Arc<crate::python::Python>,
    /// The patterns this engine advances.
    patterns: pattern::advance::Patterns,
    /// The agents pattern `call` steps reach, with their breakers, by workspace.
    pub(crate) agents: crate::agents::AgentCache,
    /// The HTTP client webhook deliveries are sent with.
    pub(crate) webhooks: crate::webhooks::WebhookState,
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
        let python = Arc::new(crate::python::Python::with_options(
            packs.dir().root(),
            options.unsafe_no_sandbox,
            options.python.clone(),
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
            live: Mutex::new(HashMap::new()),
            progress_sent: Mutex::new(HashMap::new()),
            claimed_at_start: Mutex::new(Vec::new()),
            running_ahead: Mutex::new(HashMap::new()),
            traces: trace::Traces::default(),
            fault: None,
            patterns: Default::default(),
            agents: Default::default(),
            webhooks: Default::default(),
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

    /// The store. Surfaces never reach it (they use the engine's services); tests and the
    /// benchmark harness may, with the `test-support` feature.
    #[cfg(feature = "test-support")]
    pub fn store(&self) -> &S {
        self.packs.store()
    }

    /// The store.
    #[cfg(not(feature = "test-support"))]
    pub(crate) fn store(&self) -> &S {
        self.packs.store()
    }

    /// The pack service.
    pub fn packs(&self) -> &Packs<S> {
        &self.packs
    }

    /// Stored code of `workspace` (see [`crate::services::Code`]).
    pub fn code<'a>(&'a self, workspace: &'a str) -> crate::services::Code<'a, S> {
        self.packs.code(workspace)
    }

    /// Access tokens and idempotency keys.
    pub fn tokens(&self) -> crate::services::Tokens<'_, S> {
        self.packs.tokens()
    }

    /// The records of executions.
    pub fn records(&self) -> crate::services::Records<'_, S> {
        self.packs.records()
    }

    /// The engine's settings.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The Python runner with the shard limits `sandbox` asks for (an execution's).
    pub(crate) fn sandboxed(&self, sandbox: &sandbox::SandboxRequest) -> crate::python::Sandboxed {
        crate::python::Sandboxed::new(
            self.python.clone(),
            sandbox.shard_limits(&self.options.limits),
        )
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
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
        let job = with_kind!(rec.kind, |K| self.build_stored::<K>(&rec).await?);
        if !self.traces.has(id) {
            // Created by another process or before a restart: a trace of its own here.
            self.traces.open(
                &trace::ExecutionAttrs {
                    id,
                    kind: rec.kind,
                    workspace: &rec.workspace,
                    pack_id: &rec.pack_id,
                    code_version: rec.code_version.as_deref(),
                    step: rec.parent_step.as_deref(),
                },
                trace::Parent::Root,
            );
        }
        self.jobs
            .lock()
            .expect("jobs lock")
            .insert(id.clone(), job.clone());
        Ok(job)
    }

    /// Builds the job of `rec`, an execution of kind `K`, from its stored spec.
    async fn build_stored<K: Kind>(&self, rec: &ExecutionRecord) -> Result<Arc<dyn Job>> {
        let spec = kinds::spec_of::<K>(rec)?;
        let reader = if K::READS_PACK {
            // By the recorded content id, never by name: a resumed execution reads exactly the
            // bars it started on (the reader checks the pack's own id too).
            let pack = self.packs.by_id(&rec.pack_id).await?;
            Some(self.packs.reader(&pack).await?)
        } else {
            None
        };
        // Old records and unreadable options run with the defaults, as they did.
        let options: ExecutionOptions =
            serde_json::from_value(rec.options.clone()).unwrap_or_default();
        K::build(self, &rec.id, &spec, reader, &options.sandbox)
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
}
