//! The engine's worker pool inside the server process.
//!
//! `workers` tasks each loop on [`Engine::step`]: claim the oldest runnable shard of any
//! execution, run it, commit. Idle workers sleep until a submission or a resume wakes them (or
//! a short poll passes, for shards backing off and work submitted by other processes). Because
//! claiming starts from whatever is pending, executions interrupted by a crash simply continue
//! when the server starts (the engine first returns dead workers' shards to the queue). A
//! companion task extends this process's leases, records health snapshots of running
//! executions and counts retries for `/metrics`.
//!
//! Shutdown: [`Pool::drain`] stops claiming; running shards get a grace period to commit; any
//! still running are abandoned and return to the queue when the next process recovers them.

use crate::AppState;
use quantd_core::{Event, ExecutionId, ExecutionState};
use quantd_engine::exec::Step;
use quantd_store::ExecutionFilter;
use quantd_store::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// How long an idle worker sleeps before looking for work again.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// How often the companion looks for executions cancelled by another process.
const CANCEL_POLL: Duration = Duration::from_millis(250);

/// The pool's shared flags.
#[derive(Debug)]
pub struct Pool {
    size: usize,
    wake: Notify,
    draining: AtomicBool,
    alive: AtomicUsize,
}

impl Pool {
    /// A pool of `size` workers (not started).
    pub fn new(size: usize) -> Pool {
        Pool {
            size: size.max(1),
            wake: Notify::new(),
            draining: AtomicBool::new(false),
            alive: AtomicUsize::new(0),
        }
    }

    /// Wakes idle workers: there is new work.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// Stops claiming new shards.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
    }

    /// Workers running now.
    pub fn alive(&self) -> usize {
        self.alive.load(Ordering::SeqCst)
    }
}

/// The running pool's tasks.
pub struct Running {
    tasks: JoinSet<()>,
}

impl Running {
    /// Waits up to `grace` for running shards to commit, then abandons the rest.
    pub async fn join(mut self, grace: Duration) {
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(
                "shards still running after the shutdown grace period; they return to the queue at the next start"
            );
            self.tasks.abort_all();
        }
    }
}

/// Starts the workers and their companion task.
pub fn start(state: AppState) -> Running {
    let mut tasks = JoinSet::new();
    for n in 0..state.workers().size {
        let st = state.clone();
        tasks.spawn(async move {
            st.workers().alive.fetch_add(1, Ordering::SeqCst);
            worker(&st, n).await;
            st.workers().alive.fetch_sub(1, Ordering::SeqCst);
        });
    }
    let st = state.clone();
    tasks.spawn(async move { companion(&st).await });
    Running { tasks }
}

async fn worker(state: &AppState, n: usize) {
    let pool = state.workers();
    while !pool.draining.load(Ordering::SeqCst) {
        let notified = pool.wake.notified();
        let started = Instant::now();
        match state.engine().step(None).await {
            Ok(Some(step)) => after_step(state, step, started.elapsed()).await,
            Ok(None) => {
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
            Err(e) => {
                tracing::error!(worker = n, error = %e, "worker step failed");
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }
}

async fn after_step(state: &AppState, step: Step, took: Duration) {
    let (outcome, execution): (&'static str, Option<&ExecutionId>) = match &step {
        Step::Done { execution, .. } => ("done", Some(execution)),
        Step::Failed { execution, .. } => ("failed", Some(execution)),
        Step::Stopped { execution, .. } => ("stopped", Some(execution)),
        Step::LeaseLost => ("lease_lost", None),
    };
    state.metrics().observe_shard(outcome, took);
    let Some(id) = execution else { return };
    // Another shard may have become runnable (a retry, the next execution): wake the others.
    state.workers().wake();
    match state.engine().store().execution(id).await {
        Ok(Some(rec)) if rec.state == ExecutionState::Completed && rec.summary.is_none() => {
            if let Err(e) = state.engine().finalize(&rec).await {
                tracing::warn!(execution = %id, error = %e, "storing the summary failed");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(execution = %id, error = %e, "reading the execution failed"),
    }
}

/// Heartbeats, health snapshots, retry counts, and cancellations made by other processes.
async fn companion(state: &AppState) {
    let mut events = state.engine().subscribe();
    let beat = Duration::from_secs(5);
    let mut last_beat = Instant::now();
    let mut last_health = Instant::now();
    while !state.workers().draining.load(Ordering::SeqCst) {
        tokio::select! {
            e = events.recv() => {
                if let Ok(rec) = e
                    && let Event::ShardRetrying { class, .. } = rec.event
                {
                    state.metrics().observe_retry(class.as_str());
                }
            }
            _ = tokio::time::sleep(CANCEL_POLL) => {}
            _ = state.workers().wake.notified() => {}
        }
        if let Err(e) = state.engine().observe_cancellations().await {
            tracing::warn!(error = %e, "looking for cancelled executions failed");
        }
        if last_beat.elapsed() >= beat {
            last_beat = Instant::now();
            if let Err(e) = state.engine().heartbeat().await {
                tracing::warn!(error = %e, "extending shard leases failed");
            }
        }
        if last_health.elapsed() >= state.options().health_every {
            last_health = Instant::now();
            let running = ExecutionFilter {
                state: Some(ExecutionState::Running),
                limit: 100,
                ..Default::default()
            };
            if let Ok(page) = state.engine().store().list_executions(&running).await {
                for rec in page.items {
                    let _ = state.engine().snapshot_health(&rec.id).await;
                }
            }
        }
    }
}
