//! Scheduling: claim a runnable shard under a lease, run it behind the panic boundary, commit
//! its outcome (results with their `done` state, or a failed attempt) in one transaction; run an
//! execution here until it ends; return dead workers' shards to the queue.

use super::*;
use quantd_store::ClaimScope;

impl<S: Store> Engine<S> {
    /// Gives back to the queue every shard this engine holds, without counting a crash (a
    /// shutdown whose grace period ended while shards still ran). Returns how many.
    pub async fn release_held(&self) -> Result<u64> {
        self.claimed_at_start.lock().expect("claims lock").clear();
        Ok(self.store().release_owned(&self.owner).await?)
    }

    /// Returns to the queue the shards whose worker is gone (lock free) or whose lease expired,
    /// each with one more crash; an execution whose shard crashed
    /// [`EngineOptions::quarantine_after`] times fails as quarantined instead. Returns how many
    /// shards went back to the queue. On a store shared across hosts a worker's lock file is on
    /// its own host, so only expired leases count there.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn recover(&self) -> Result<u64> {
        let tmp = self.packs.dir().tmp();
        let shared = self.store().shared_across_hosts();
        let done = self
            .store()
            .recover_shards(
                self.clock.now_ms(),
                |owner| shared || is_held(&tmp, owner),
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

    /// Claims one runnable shard (of `only`, when given), runs it and commits the outcome.
    /// `None` when nothing is runnable now.
    pub async fn step(&self, only: Option<&ExecutionId>) -> Result<Option<Step>> {
        Ok(self.step_settled(only).await?.map(|s| s.step))
    }

    pub(super) async fn step_settled(&self, only: Option<&ExecutionId>) -> Result<Option<Settled>> {
        let Some(shard) = self.claim(only.into()).await? else {
            return Ok(None);
        };
        let outcome = self.run_guarded(&shard).await;
        self.settle_guarded(shard, outcome).await.map(Some)
    }

    /// Runs a claimed shard behind the panic boundary: a panic is the shard's
    /// [`ShardFailure::Crash`].
    #[tracing::instrument(level = "debug", skip(self, shard), fields(execution = %shard.execution, shard = shard.idx, attempt = shard.attempt))]
    pub(super) async fn run_guarded(&self, shard: &ClaimedShard) -> ShardResult {
        let compute = tracing::info_span!(parent: &self.traces.shard(shard), "compute");
        tracing::Instrument::instrument(guard::catch_panic(self.run_claimed(shard)), compute)
            .await
            .unwrap_or_else(|panic| Err(ShardFailure::Crash(panic)))
    }

    /// Commits a shard's outcome behind the panic boundary: if committing a success panics (in
    /// the summary or the health of a completing commit), the shard is recorded as crashed
    /// instead, so no shard stays `running` under a worker that goes on.
    #[tracing::instrument(level = "debug", skip(self, shard, outcome), fields(execution = %shard.execution, shard = shard.idx, ok = outcome.is_ok()))]
    pub(super) async fn settle_guarded(
        &self,
        shard: ClaimedShard,
        outcome: ShardResult,
    ) -> Result<Settled> {
        let (span, started) = self.traces.take_shard(&shard);
        let execution = shard.execution.clone();
        let commit = tracing::info_span!(parent: &span, "commit");
        let settled =
            tracing::Instrument::instrument(self.settle_guarded_inner(shard, outcome), commit)
                .await;
        if let Ok(s) = &settled {
            span.record("shard.outcome", s.step.outcome());
            self.traces
                .observe_shard(&execution, s.step.outcome(), started.elapsed());
            if s.ended {
                let state = match (&s.completed, &s.step) {
                    (Some(rec), _) => rec.state.to_string(),
                    (None, Step::Failed { .. }) => "failed".into(),
                    (None, Step::Stopped { .. }) => "cancelled".into(),
                    (None, _) => "ended".into(),
                };
                self.traces.ended(&execution, &state);
            }
        }
        settled
    }

    async fn settle_guarded_inner(
        &self,
        shard: ClaimedShard,
        outcome: ShardResult,
    ) -> Result<Settled> {
        match guard::catch_panic(self.settle(shard.clone(), outcome)).await {
            Ok(Ok(settled)) => {
                if settled.ended
                    && let Ok(rec) = self.execution(&shard.execution).await
                    && rec.parent_id.is_some()
                {
                    self.after_end(&rec).await;
                }
                Ok(settled)
            }
            Ok(Err(e)) => {
                self.give_back(&shard).await;
                Err(e)
            }
            Err(panic) => {
                tracing::error!(execution = %shard.execution, shard = shard.idx, %panic,
                    "committing the shard panicked; recording it as crashed");
                let crashed = Err(ShardFailure::Crash(format!("while committing: {panic}")));
                self.settle(shard, crashed).await
            }
        }
    }

    /// Gives a shard whose outcome could not be written (the store unreachable, restarting)
    /// back to the queue once the store answers again, so that this process's heartbeats, which
    /// extend every lease it owns, do not hold a shard nobody runs. Tries for ten minutes; the
    /// release is fenced, so a shard another worker took meanwhile is left alone.
    async fn give_back(&self, shard: &ClaimedShard) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(600);
        loop {
            match self.store().release_shard(shard, &self.owner).await {
                Ok(_) => {
                    tracing::warn!(execution = %shard.execution, shard = shard.idx,
                        "gave the shard back to the queue: its outcome could not be written");
                    return;
                }
                Err(e) if std::time::Instant::now() < until => {
                    tracing::debug!(error = %e, "giving a shard back failed; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                Err(e) => {
                    tracing::error!(execution = %shard.execution, shard = shard.idx, error = %e,
                        "could not give the shard back; it returns when this process stops");
                    return;
                }
            }
        }
    }

    /// Claims one runnable shard of `scope` under this engine's lease: first one claimed when
    /// [`Engine::start`] created its execution (not for bounded work only: its kind may be
    /// long), else one from the store.
    pub(super) async fn claim(&self, scope: ClaimScope<'_>) -> Result<Option<ClaimedShard>> {
        let at_start = match scope {
            ClaimScope::Any => self.take_claimed_at_start(None),
            ClaimScope::Of(id) => self.take_claimed_at_start(Some(id)),
            ClaimScope::Bounded => None,
        };
        if let Some(shard) = at_start {
            return Ok(Some(shard));
        }
        let now = self.clock.now_ms();
        let Some((shard, events)) = self
            .store()
            .claim_shard(&self.owner, now, now + self.options.lease_ms, scope)
            .await?
        else {
            return Ok(None);
        };
        self.broadcast(events);
        Ok(Some(shard))
    }

    pub(super) fn take_claimed_at_start(&self, only: Option<&ExecutionId>) -> Option<ClaimedShard> {
        let mut held = self.claimed_at_start.lock().expect("claims lock");
        let at = held
            .iter()
            .position(|s| only.is_none_or(|id| *id == s.execution))?;
        Some(held.swap_remove(at))
    }

    pub(super) async fn run_claimed(&self, shard: &ClaimedShard) -> ShardResult {
        let ahead = (shard.idx == 0)
            .then(|| {
                self.running_ahead
                    .lock()
                    .expect("ahead lock")
                    .remove(&shard.execution)
            })
            .flatten();
        let key = (shard.execution.clone(), shard.idx);
        if let Some(work) = ahead {
            let result = work.await.unwrap_or_else(|e| Err(guard::join_failure(e)));
            self.live.lock().expect("live lock").remove(&key);
            return result;
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
        let ctl = self.shard_control(&shard.execution, shard.idx, shard.attempt);
        let payload = shard.payload.clone();
        // The job's own spans (a Python sandbox's start) go under `compute`.
        let span = tracing::Span::current();
        let result = tokio::task::spawn_blocking(move || span.in_scope(|| job.run(&payload, &ctl)))
            .await
            .unwrap_or_else(|e| Err(guard::join_failure(e)));
        self.live.lock().expect("live lock").remove(&key);
        result
    }

    /// The control of a shard about to run here: the execution's stop flag, and a bar count
    /// [`Engine::report_progress`] reads while it runs.
    pub(super) fn shard_control(
        &self,
        id: &ExecutionId,
        idx: u32,
        attempt: u32,
    ) -> Arc<jobs::ShardControl> {
        let ctl = Arc::new(jobs::ShardControl::new(self.cancel_flag(id)).at_attempt(attempt));
        self.live
            .lock()
            .expect("live lock")
            .insert((id.clone(), idx), ctl.clone());
        ctl
    }

    /// Records a `progress` event for each execution whose shards running here processed
    /// bars since the last report: committed bars plus the running shards' (so a long shard's
    /// progress moves before it commits).
    async fn report_progress(&self) {
        let mut running: HashMap<ExecutionId, u64> = HashMap::new();
        for ((id, _), ctl) in self.live.lock().expect("live lock").iter() {
            *running.entry(id.clone()).or_default() += ctl.bars();
        }
        let changed: Vec<(ExecutionId, u64)> = {
            let mut sent = self.progress_sent.lock().expect("progress lock");
            sent.retain(|id, _| running.contains_key(id));
            running
                .into_iter()
                .filter(|(id, bars)| *bars > 0 && sent.insert(id.clone(), *bars) != Some(*bars))
                .collect()
        };
        for (id, bars) in changed {
            let Ok(Some(rec)) = self.store().execution(&id).await else {
                continue;
            };
            if rec.state != ExecutionState::Running {
                continue;
            }
            let event = quantd_core::Event::Progress {
                done: rec.shards_done + rec.shards_failed,
                total: rec.shards_total,
                bars: rec.bars + bars,
                rows: rec.rows,
                eta_ms: None,
            };
            match self
                .store()
                .record_event(&id, self.clock.now_ms(), event)
                .await
            {
                Ok(e) => self.broadcast(vec![e]),
                Err(e) => tracing::warn!(execution = %id, error = %e, "recording progress failed"),
            }
        }
    }

    /// Runs an execution's shards here until it is finished, paused or cancelled (from this
    /// process or another), then returns its record: `workers` worker loops scoped to it (one for
    /// a job whose shards keep every core busy, pipelined), and the watcher beside them.
    #[tracing::instrument(level = "debug", skip(self), fields(execution = %id))]
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
        if self.execution(id).await?.kind == quantd_core::ExecutionKind::Pattern {
            // What ended while no one advanced it (a crash between a child's end and the next
            // step) moves on now.
            self.advance_pattern(id).await?;
        }
        let lane = Lane::default();
        let pipelined = self.job(id).await.is_ok_and(|j| j.parallel_inside());
        let workers = if pipelined { 1 } else { workers.max(1) };
        let final_health = AtomicBool::new(false);
        let final_record: Mutex<Option<ExecutionRecord>> = Mutex::new(None);
        let on_settled = |s: &Settled, _took_ms: i64| {
            if s.step.execution() != Some(id) {
                // A shard of a child of this pattern.
                return;
            }
            final_health.fetch_or(s.health, Ordering::SeqCst);
            if s.ended {
                *final_record.lock().expect("record lock") = s.completed.clone();
                lane.stop();
            }
        };
        let timing = Timing {
            idle_ms: self.options.poll_ms,
            watch_ms: self.options.poll_ms,
            heartbeat_ms: self.options.lease_ms / 6,
            health_ms: self.options.health_every_ms,
        };
        let scope = Scope::Execution(id);
        let workers_fut = async {
            let results = futures_join_all(
                (0..workers).map(|_| self.work(scope, &lane, &timing, &on_settled)),
            )
            .await;
            lane.stop();
            results.into_iter().collect::<Result<Vec<()>>>()
        };
        let (result, ()) = tokio::join!(workers_fut, self.watch(scope, &lane, &timing));
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

    /// The worker loop — the one every scheduler runs (a pool serving the queue, an execution run
    /// here): claim a shard of `scope`, run it behind the panic boundary, commit, tell `lane`;
    /// when nothing is claimable, wait for `lane` to move or `timing.idle_ms` to pass. It ends
    /// when `lane` stops, or, scoped to an execution, when that execution ends, pauses or is
    /// cancelled. Serving the queue, an error is logged and the loop goes on; scoped, it is
    /// returned.
    pub(crate) async fn work(
        &self,
        scope: Scope<'_>,
        lane: &Lane,
        timing: &Timing,
        on_settled: &(dyn Fn(&Settled, i64) + Sync),
    ) -> Result<()> {
        loop {
            if lane.stopped() {
                return Ok(());
            }
            if let Scope::Execution(id) = scope
                && self.cancel_requested(id)
            {
                return Ok(());
            }
            let moved = lane.moved.notified();
            match self.work_once(scope, lane, on_settled).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => match scope {
                    Scope::Queue { .. } => tracing::error!(error = %e, "worker step failed"),
                    Scope::Execution(_) => return Err(e),
                },
            }
            if let Scope::Execution(id) = scope {
                let rec = self.execution(id).await?;
                if rec.state.is_terminal() || rec.state == ExecutionState::Paused {
                    return Ok(());
                }
            }
            // Nothing claimable now: shards are backing off or running elsewhere.
            tokio::select! {
                _ = moved => {}
                _ = self.clock.sleep(timing.idle_ms) => {}
            }
        }
    }

    /// Claims one shard of `scope` and runs it (a job whose shards are parallel inside runs its
    /// claimable shards pipelined). `false` when nothing was claimable.
    async fn work_once(
        &self,
        scope: Scope<'_>,
        lane: &Lane,
        on_settled: &(dyn Fn(&Settled, i64) + Sync),
    ) -> Result<bool> {
        let started = self.clock.now_ms();
        let Some(shard) = self.claim(scope.claims()).await? else {
            return Ok(false);
        };
        if self
            .job(&shard.execution)
            .await
            .is_ok_and(|j| j.parallel_inside())
        {
            self.pipeline(shard, lane, on_settled).await?;
            return Ok(true);
        }
        let outcome = self.run_guarded(&shard).await;
        let settled = self.settle_guarded(shard, outcome).await?;
        on_settled(&settled, self.clock.now_ms() - started);
        lane.moved.notify_waiters();
        Ok(true)
    }

    /// Beside the worker loops: extends this engine's leases, records health snapshots, and
    /// stops shards of executions cancelled elsewhere (scoped to an execution: notices it
    /// cancelled, paused or ended, and wakes the workers to stop). Ends when `lane` stops.
    pub(crate) async fn watch(&self, scope: Scope<'_>, lane: &Lane, timing: &Timing) {
        // A queue scheduler says so with a lock file while it runs: others then know that
        // pending shards will be taken (see `Engine::interrupted`).
        let _serving = matches!(scope, Scope::Queue { .. })
            .then(|| HeldLock::acquire(&self.packs.dir().tmp(), &new_token(QUEUE_LOCK_PREFIX)).ok())
            .flatten();
        let mut last_beat = self.clock.now_ms();
        let mut last_health = self.clock.now_ms();
        let mut last_progress = self.clock.now_ms();
        let mut last_advance = self.clock.now_ms();
        while !lane.stopped() {
            tokio::select! {
                _ = lane.stop_signal.notified() => {}
                _ = self.clock.sleep(timing.watch_ms) => {}
            }
            if lane.stopped() {
                return;
            }
            match scope {
                Scope::Queue { .. } => {
                    if let Err(e) = self.observe_cancellations().await {
                        tracing::warn!(error = %e, "looking for cancelled executions failed");
                    }
                }
                Scope::Execution(id) => {
                    // A pattern's children may be cancelled or paused from elsewhere too.
                    if let Err(e) = self.observe_cancellations().await {
                        tracing::warn!(error = %e, "looking for cancelled executions failed");
                    }
                    match self.store().execution(id).await {
                        Ok(Some(rec)) if rec.state == ExecutionState::Cancelled => {
                            self.cancel_flag(id).store(true, Ordering::SeqCst);
                            lane.moved.notify_waiters();
                        }
                        Ok(Some(rec)) if rec.state == ExecutionState::Paused => {
                            // Paused by another process: running shards stop and go back.
                            self.cancel_flag(id).store(true, Ordering::SeqCst);
                            lane.moved.notify_waiters();
                        }
                        Ok(Some(rec)) if rec.state.is_terminal() => {
                            lane.moved.notify_waiters();
                        }
                        _ => {}
                    }
                }
            }
            let now = self.clock.now_ms();
            if now - last_advance >= ADVANCE_EVERY_MS {
                last_advance = now;
                // Steps whose child ended elsewhere, timeouts, patterns a crash interrupted.
                if let Err(e) = self.advance_patterns().await {
                    tracing::warn!(error = %e, "advancing patterns failed");
                }
                lane.moved.notify_waiters();
            }
            if now - last_beat >= timing.heartbeat_ms {
                last_beat = now;
                if let Err(e) = self.heartbeat().await {
                    tracing::warn!(error = %e, "extending shard leases failed");
                }
                // Serving the queue beside other processes: shards of one that died (its lock
                // is free, or its lease ran out) go back to the queue.
                if matches!(scope, Scope::Queue { .. })
                    && let Err(e) = self.recover().await
                {
                    tracing::warn!(error = %e, "recovering shards of stopped workers failed");
                }
            }
            if now - last_progress >= PROGRESS_EVERY_MS {
                last_progress = now;
                self.report_progress().await;
            }
            if now - last_health >= timing.health_ms {
                last_health = now;
                match scope {
                    Scope::Queue { .. } => self.snapshot_running().await,
                    Scope::Execution(id) => {
                        let _ = self.snapshot_health(id).await;
                    }
                }
            }
        }
    }

    /// Records a health snapshot of every running execution (at most 100 a round).
    async fn snapshot_running(&self) {
        let running = quantd_store::ExecutionFilter {
            state: Some(ExecutionState::Running),
            limit: 100,
            ..Default::default()
        };
        if let Ok(page) = self.store().list_executions(&running).await {
            for rec in page.items {
                let _ = self.snapshot_health(&rec.id).await;
            }
        }
    }

    /// Runs `first` and the claimable shards of its execution after it one after another: while
    /// a shard computes, the previous one is committed and the next one claimed (each behind the
    /// panic boundary). Reports every commit to `on_settled`.
    async fn pipeline(
        &self,
        first: ClaimedShard,
        lane: &Lane,
        on_settled: &(dyn Fn(&Settled, i64) + Sync),
    ) -> Result<()> {
        type Settling<'a> =
            std::pin::Pin<Box<dyn std::future::Future<Output = Result<Settled>> + Send + 'a>>;
        let id = first.execution.clone();
        let cancel = self.cancel_flag(&id);
        let mut mark = self.clock.now_ms();
        let report = |s: &Settled, mark: &mut i64| {
            let now = self.clock.now_ms();
            on_settled(s, now - *mark);
            *mark = now;
            lane.moved.notify_waiters();
        };
        let mut next = Some(first);
        let mut settling: Option<Settling<'_>> = None;
        while let Some(shard) = next.take() {
            let previous = settling.take();
            let ahead = async {
                let settled = match previous {
                    Some(p) => Some(p.await?),
                    None => None,
                };
                let next =
                    if cancel.load(Ordering::SeqCst) || settled.as_ref().is_some_and(|s| s.ended) {
                        None
                    } else {
                        self.claim(ClaimScope::Of(&id)).await?
                    };
                Ok::<_, EngineError>((settled, next))
            };
            let (outcome, ahead) = tokio::join!(self.run_guarded(&shard), ahead);
            let (settled, claimed) = match ahead {
                Ok(a) => a,
                Err(e) => {
                    // Commit what ran before reporting the error.
                    let _ = self.settle_guarded(shard, outcome).await;
                    return Err(e);
                }
            };
            if let Some(s) = settled {
                report(&s, &mut mark);
            }
            if outcome.is_ok() {
                settling = Some(Box::pin(self.settle_guarded(shard, outcome)));
                next = claimed;
                continue;
            }
            // A failure or a stop can end or pause the execution: settle it now, and give the
            // shard claimed ahead back unless the execution still runs.
            let s = self.settle_guarded(shard, outcome).await?;
            report(&s, &mut mark);
            if let Some(ahead) = claimed {
                let state = self.execution(&id).await?.state;
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
            report(&p.await?, &mut mark);
        }
        Ok(())
    }
}

/// How often running shards' progress is reported (at most; only when it moved).
const PROGRESS_EVERY_MS: i64 = 1_000;

/// How often a scheduler's watcher advances the running patterns (their children ending here
/// advance them at once; this catches the rest).
const ADVANCE_EVERY_MS: i64 = 500;

/// Which shards a worker loop takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// Any runnable shard of any execution (a pool serving the queue); only bounded work when
    /// `bounded` (a worker kept free of long kinds: [`quantd_core::ExecutionKind::is_long`]).
    Queue { bounded: bool },
    /// Only this execution's, until it ends, pauses or is cancelled (a caller running it here).
    Execution(&'a ExecutionId),
}

impl Scope<'_> {
    /// What its claims may take.
    fn claims(&self) -> ClaimScope<'_> {
        match self {
            Scope::Queue { bounded: false } => ClaimScope::Any,
            Scope::Queue { bounded: true } => ClaimScope::Bounded,
            Scope::Execution(id) => ClaimScope::Of(id),
        }
    }
}

/// What the worker loops and the watcher of one scheduler share: idle workers wait on `moved`
/// (a shard settled, work was submitted, a state changed), and all stop once `stop` is called.
#[derive(Debug, Default)]
pub(crate) struct Lane {
    pub(crate) moved: tokio::sync::Notify,
    stop_signal: tokio::sync::Notify,
    stopped: AtomicBool,
}

impl Lane {
    /// Stops every loop of this lane (each finishes the shard it runs).
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.moved.notify_waiters();
        self.stop_signal.notify_waiters();
    }

    /// Resolves when [`Lane::stop`] is called (after this call; enable it before checking
    /// [`Lane::stopped`]), unlike `moved`, which also wakes on new work.
    pub(crate) fn stopping(&self) -> tokio::sync::futures::Notified<'_> {
        self.stop_signal.notified()
    }

    /// Whether [`Lane::stop`] was called.
    pub(crate) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

/// How often a scheduler's loops wait, watch, beat and snapshot, in milliseconds.
#[derive(Debug, Clone)]
pub(crate) struct Timing {
    /// An idle worker looks for work again after this long (or sooner, when its lane moves).
    pub(crate) idle_ms: u64,
    /// The watcher looks at states (cancellations, pauses) this often.
    pub(crate) watch_ms: u64,
    /// Leases are extended this often.
    pub(crate) heartbeat_ms: i64,
    /// Health snapshots are recorded this often.
    pub(crate) health_ms: i64,
}

/// Joins futures without pulling in the `futures` crate: polls them all on one task.
pub(crate) async fn futures_join_all<F: std::future::Future>(
    futs: impl Iterator<Item = F>,
) -> Vec<F::Output> {
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
