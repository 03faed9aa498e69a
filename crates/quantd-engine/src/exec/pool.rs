//! The worker pool: the engine's scheduler for processes that serve every execution
//! (`quantd serve`, and any process that runs the queue).
//!
//! `workers` tasks each loop on [`Engine::step`]: claim the next runnable shard of any
//! execution (in claim order: docs/architecture.md), run it, commit. All but
//! [`PoolOptions::long_workers`] of them take only bounded work, so bot scripts and trading
//! sessions, whose one shard may hold a worker for hours, never hold every worker. Idle
//! workers wait until [`Pool::wake`] (a submission, a resume) or a short poll passes (shards
//! backing off, work submitted by other processes). Because claiming starts from whatever is
//! pending, executions interrupted by a crash continue when the pool starts (the engine first
//! returned dead workers' shards to the queue, quarantining those that crashed too often). A
//! companion task extends this process's leases, records health snapshots of running
//! executions and stops shards of executions cancelled by other processes.
//!
//! Nothing a job does can lose a worker: the engine turns a panic in a shard into that shard's
//! failure ([`Engine::step`] is behind a panic boundary), and a supervisor replaces any worker
//! task that still ends, so [`Pool::alive`] is the number of workers really looking for work.
//!
//! A third task sends webhook deliveries ([`crate::webhooks`]), apart from the workers, so a
//! slow receiver never holds up a shard.
//!
//! Time comes from the engine's [`Clock`](super::clock::Clock), so tests step the pool with a
//! manual clock. Shutdown: [`Pool::drain`] stops claiming; running shards get a grace period to
//! commit; those still running are given back to the queue (not counted as crashes).

use super::scheduler::{Lane, Scope, Timing};
use super::{Engine, Settled, Step};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;

/// The pool's settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Concurrent shard workers (default: one per core; 0: none, the API only).
    pub workers: usize,
    /// How long an idle worker waits before looking for work again, in ms (default 250).
    pub idle_poll_ms: u64,
    /// How often leases are extended, in ms (default 5,000; well under the engine's lease).
    pub heartbeat_every_ms: i64,
    /// How often running executions record a health snapshot, in ms (default 5,000).
    pub health_every_ms: i64,
    /// How often executions cancelled by other processes are looked for, in ms (default 250).
    pub cancel_poll_ms: u64,
    /// Workers that may take long work (`run`, `paper`, `live`: one shard may hold its worker
    /// for hours or days, [`quantd_core::ExecutionKind::is_long`]); the others take only bounded
    /// work, so long work never holds every worker. `None` (the default): all but one when
    /// there are two or more.
    pub long_workers: Option<usize>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            idle_poll_ms: 250,
            heartbeat_every_ms: 5_000,
            health_every_ms: 5_000,
            cancel_poll_ms: 250,
            long_workers: None,
        }
    }
}

/// The worker pool of one process.
pub struct Pool {
    engine: Arc<Engine>,
    options: PoolOptions,
    lane: Lane,
    alive: AtomicUsize,
    replaced: AtomicU64,
    /// Wakes the delivery loop: an execution ended here, its webhooks may have deliveries.
    delivered: tokio::sync::Notify,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.options.workers)
            .field("alive", &self.alive())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool over `engine` (not started). A pool of 0 workers runs no shard (a process that
    /// only serves the API while `quantd worker`s run the queue) but still watches: it extends
    /// nothing, and recovers shards of stopped workers.
    pub fn new(engine: Arc<Engine>, options: PoolOptions) -> Arc<Pool> {
        Arc::new(Pool {
            engine,
            options,
            lane: Lane::default(),
            alive: AtomicUsize::new(0),
            replaced: AtomicU64::new(0),
            delivered: tokio::sync::Notify::new(),
        })
    }

    /// The engine the pool runs.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Workers configured.
    pub fn size(&self) -> usize {
        self.options.workers
    }

    /// Workers that may take long work ([`PoolOptions::long_workers`]): worker `n` may when
    /// `n` is below it.
    pub fn long_workers(&self) -> usize {
        let workers = self.options.workers;
        self.options
            .long_workers
            .unwrap_or(workers.saturating_sub(1).max(1))
            .min(workers)
    }

    /// Workers running now (a worker being replaced is not counted).
    pub fn alive(&self) -> usize {
        self.alive.load(Ordering::SeqCst)
    }

    /// Workers replaced since the pool started (each one ended unexpectedly).
    pub fn replaced(&self) -> u64 {
        self.replaced.load(Ordering::SeqCst)
    }

    /// Whether the pool stopped claiming.
    pub fn is_draining(&self) -> bool {
        self.lane.stopped()
    }

    /// Wakes idle workers: there is new work.
    pub fn wake(&self) {
        self.lane.moved.notify_waiters();
    }

    /// Stops claiming new shards.
    pub fn drain(&self) {
        self.lane.stop();
    }

    fn timing(&self) -> Timing {
        Timing {
            idle_ms: self.options.idle_poll_ms,
            watch_ms: self.options.cancel_poll_ms,
            // Several heartbeats per lease, however short the engine's lease is.
            heartbeat_ms: self
                .options
                .heartbeat_every_ms
                .min(self.engine.options().lease_ms / 6)
                .max(1),
            health_ms: self.options.health_every_ms,
        }
    }

    /// Starts the workers under a supervisor, and the companion task.
    pub fn start(self: &Arc<Pool>) -> Running {
        let mut tasks = JoinSet::new();
        let pool = self.clone();
        tasks.spawn(async move { pool.supervise().await });
        let pool = self.clone();
        tasks.spawn(async move { pool.companion().await });
        let pool = self.clone();
        tasks.spawn(async move { pool.deliver().await });
        let pool = self.clone();
        tasks.spawn(async move { pool.listen().await });
        Running {
            tasks,
            pool: self.clone(),
        }
    }

    /// Wakes idle workers when any process writes events (a new execution, a resumed one, a
    /// shard given back), on a store that announces writes (Postgres `NOTIFY`): workers on other
    /// hosts claim new work at once instead of at their next poll. Without announcements, or
    /// after the listening connection is lost for good, workers poll as before.
    async fn listen(self: Arc<Pool>) {
        if self.options.workers == 0 {
            return;
        }
        use quantd_store::ExecutionQueue;
        let mut wakeups = match self.engine.store().event_wakeups().await {
            Ok(Some(rx)) => rx,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for new work; idle workers poll");
                return;
            }
        };
        loop {
            // Registered before the check, so a drain that comes in between still ends the loop.
            let moved = self.lane.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            if self.is_draining() {
                return;
            }
            tokio::select! {
                got = wakeups.recv() => match got {
                    Some(_) => self.wake(),
                    None => return,
                },
                _ = moved => {}
            }
        }
    }

    /// Keeps `workers` worker tasks running until the pool drains: a worker task that ends
    /// while the pool is not draining (it cannot panic through the engine's boundary, but a bug
    /// outside it could) is logged and replaced.
    async fn supervise(self: Arc<Pool>) {
        let mut workers = JoinSet::new();
        let mut numbers = std::collections::HashMap::new();
        for n in 0..self.options.workers {
            self.spawn_worker(&mut workers, &mut numbers, n);
        }
        while let Some(ended) = workers.join_next_with_id().await {
            if self.is_draining() {
                continue;
            }
            // The replacement keeps the worker's number, and so whether it may take long work.
            let n = match ended {
                Ok((id, n)) => {
                    numbers.remove(&id);
                    tracing::error!(worker = n, "a worker stopped; starting another");
                    n
                }
                Err(e) => {
                    let n = numbers.remove(&e.id()).unwrap_or(self.options.workers);
                    tracing::error!(worker = n, error = %e, "a worker task died; starting another");
                    n
                }
            };
            self.replaced.fetch_add(1, Ordering::SeqCst);
            self.spawn_worker(&mut workers, &mut numbers, n);
        }
    }

    /// Starts worker `n`, noting its task's number in `numbers`.
    fn spawn_worker(
        self: &Arc<Pool>,
        set: &mut JoinSet<usize>,
        numbers: &mut std::collections::HashMap<tokio::task::Id, usize>,
        n: usize,
    ) {
        let pool = self.clone();
        let handle = set.spawn(async move {
            let _alive = Alive::count(&pool.alive);
            pool.work(n >= pool.long_workers()).await;
            n
        });
        numbers.insert(handle.id(), n);
    }

    /// One worker: the engine's worker loop over the whole queue (bounded work only when
    /// `bounded`), until the pool drains.
    async fn work(&self, bounded: bool) {
        // The engine counts shards and their durations itself (`trace`).
        let after = |settled: &Settled, _took_ms: i64| {
            if settled.ended {
                self.completed(&settled.step);
            }
        };
        // Serving the queue, the loop logs errors and goes on: it only returns once drained.
        let _ = self
            .engine
            .work(Scope::Queue { bounded }, &self.lane, &self.timing(), &after)
            .await;
    }

    /// An execution ended: if it completed without a summary (its commit could not make one),
    /// store it now, off the worker.
    fn completed(&self, step: &Step) {
        self.delivered.notify_one();
        let Some(id) = step.execution().cloned() else {
            return;
        };
        let engine = self.engine.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.finalize_if_completed(&id).await {
                tracing::warn!(execution = %id, error = %e, "storing the summary failed");
            }
        });
    }

    /// Webhook deliveries (crate::webhooks), in their own task so that no receiver, however
    /// slow, holds up a shard: up to `concurrency` attempts in flight; woken when an execution
    /// ends here, else every `poll_ms` (an execution another process ended is delivered by that
    /// process, or found at the next poll); stops claiming when the pool drains (attempts in
    /// flight finish, or are given up with the process and sent again after their hold). It does
    /// not wake with new work (a commit here, another process's events): on a shared store that
    /// was one more query per event and process.
    async fn deliver(self: Arc<Pool>) {
        let engine = &self.engine;
        let max = engine.options().webhooks.concurrency.max(1) as usize;
        let poll = engine.options().webhooks.poll_ms;
        let mut flight: JoinSet<()> = JoinSet::new();
        loop {
            // Registered before the check, so a drain that comes in between still wakes it.
            let stopping = self.lane.stopping();
            tokio::pin!(stopping);
            stopping.as_mut().enable();
            if self.is_draining() {
                break;
            }
            let room = max - flight.len();
            if room > 0 {
                match engine.claim_deliveries(room as u32).await {
                    Ok(due) => {
                        for d in due {
                            let engine = engine.clone();
                            flight.spawn(async move {
                                if let Err(e) = engine.send_delivery(&d).await {
                                    tracing::warn!(delivery = %d.id, error = %e, "recording a webhook attempt failed");
                                }
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
                }
            }
            let clock = engine.clock().clone();
            tokio::select! {
                Some(_) = flight.join_next(), if !flight.is_empty() => {}
                _ = clock.sleep(poll) => {}
                _ = self.delivered.notified() => {}
                _ = stopping => {}
            }
        }
        while flight.join_next().await.is_some() {}
    }

    /// Heartbeats, health snapshots, and cancellations made by other processes.
    async fn companion(self: Arc<Pool>) {
        self.engine
            .watch(Scope::Queue { bounded: false }, &self.lane, &self.timing())
            .await;
    }
}

/// Counts a running worker for as long as it lives (also when its task unwinds).
struct Alive<'a>(&'a AtomicUsize);

impl<'a> Alive<'a> {
    fn count(n: &'a AtomicUsize) -> Alive<'a> {
        n.fetch_add(1, Ordering::SeqCst);
        Alive(n)
    }
}

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The running pool's tasks.
pub struct Running {
    tasks: JoinSet<()>,
    pool: Arc<Pool>,
}

impl Running {
    /// Drains the pool and waits up to `grace` for running shards to commit; the shards still
    /// running then are given back to the queue.
    pub async fn join(mut self, grace: Duration) {
        self.pool.drain();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(
                "shards still running after the shutdown grace period; they return to the queue"
            );
            self.tasks.abort_all();
            match self.pool.engine.release_held().await {
                Ok(n) if n > 0 => {
                    tracing::info!(shards = n, "returned running shards to the queue")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "returning running shards failed; the next start recovers them")
                }
            }
        }
    }
}
