//! Scheduling: claim a runnable shard under a lease, run it behind the panic boundary, commit
//! its outcome (results with their `done` state, or a failed attempt) in one transaction; run an
//! execution here until it ends; return dead workers' shards to the queue.

use super::*;

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

    /// Claims one runnable shard (of `only`, when given), runs it and commits the outcome.
    /// `None` when nothing is runnable now.
    pub async fn step(&self, only: Option<&ExecutionId>) -> Result<Option<Step>> {
        Ok(self.step_settled(only).await?.map(|s| s.step))
    }

    pub(super) async fn step_settled(&self, only: Option<&ExecutionId>) -> Result<Option<Settled>> {
        let Some(shard) = self.claim(only).await? else {
            return Ok(None);
        };
        let outcome = self.run_guarded(&shard).await;
        self.settle_guarded(shard, outcome).await.map(Some)
    }

    /// Runs a claimed shard behind the panic boundary: a panic is the shard's
    /// [`ShardFailure::Crash`].
    pub(super) async fn run_guarded(&self, shard: &ClaimedShard) -> ShardResult {
        guard::catch_panic(self.run_claimed(shard))
            .await
            .unwrap_or_else(|panic| Err(ShardFailure::Crash(panic)))
    }

    /// Commits a shard's outcome behind the panic boundary: if committing a success panics (in
    /// the summary or the health of a completing commit), the shard is recorded as crashed
    /// instead, so no shard stays `running` under a worker that goes on.
    pub(super) async fn settle_guarded(
        &self,
        shard: ClaimedShard,
        outcome: ShardResult,
    ) -> Result<Settled> {
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
    pub(super) async fn claim(&self, only: Option<&ExecutionId>) -> Result<Option<ClaimedShard>> {
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

    pub(super) fn take_claimed_at_start(&self, only: Option<&ExecutionId>) -> Option<ClaimedShard> {
        let mut held = self.claimed_at_start.lock().expect("claims lock");
        let at = held
            .iter()
            .position(|s| only.is_none_or(|id| *id == s.execution))?;
        Some(held.swap_remove(at))
    }

    /// Commits the outcome of a claimed shard: its results with its `done` state (and, when that
    /// completes the execution, the summary and final health in the same transaction), a failed
    /// attempt, or a stop.
    pub(super) async fn settle(
        &self,
        shard: ClaimedShard,
        outcome: ShardResult,
    ) -> Result<Settled> {
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
    pub(super) fn settled(
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
    pub(super) async fn commit_failure(
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
    pub(super) fn on_complete(
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

    pub(super) async fn run_claimed(&self, shard: &ClaimedShard) -> ShardResult {
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
    pub(super) async fn pipeline(
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
