//! Lifecycle: pause, resume (also of quarantined executions), cancel (also by other processes),
//! health snapshots, and the summary stored when an execution completes.

use super::*;

/// What a caller may do to an execution it owns (the API's pause/resume/cancel routes, the
/// WebSocket's commands, MCP's `control_execution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Control {
    /// No new shard starts; running ones stop within a second and go back to the queue.
    Pause,
    /// A paused execution runs on.
    Resume,
    /// Pending shards are cancelled; running ones stop between tickers.
    Cancel,
}

impl Control {
    /// The state the execution is asked to enter.
    pub fn target(self) -> ExecutionState {
        match self {
            Control::Pause => ExecutionState::Paused,
            Control::Resume => ExecutionState::Running,
            Control::Cancel => ExecutionState::Cancelled,
        }
    }
}

impl std::str::FromStr for Control {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Control> {
        match s {
            "pause" => Ok(Control::Pause),
            "resume" => Ok(Control::Resume),
            "cancel" => Ok(Control::Cancel),
            other => Err(EngineError::Invalid(format!(
                "action `{}`: use pause, resume or cancel",
                quantd_data::text::cut(other, 40)
            ))),
        }
    }
}

impl<S: Store> Engine<S> {
    /// Applies `action` to `rec` when its state allows it: pause a pending or running
    /// execution, resume a paused one, cancel any unfinished one. Anything else is
    /// [`EngineError::Invalid`] saying why (the API answers 409, MCP a tool error).
    pub async fn control(&self, rec: &ExecutionRecord, action: Control) -> Result<ExecutionRecord> {
        let allowed = match action {
            Control::Pause => {
                matches!(rec.state, ExecutionState::Pending | ExecutionState::Running)
            }
            Control::Resume => rec.state == ExecutionState::Paused,
            Control::Cancel => !rec.state.is_terminal(),
        };
        if !allowed {
            return Err(EngineError::Invalid(format!(
                "execution {} is {}; it cannot become {}",
                rec.id,
                rec.state,
                match action {
                    Control::Resume => "running again (only a paused execution resumes)",
                    Control::Pause => "paused",
                    Control::Cancel => "cancelled",
                }
            )));
        }
        match action {
            Control::Pause => self.pause(&rec.id).await,
            Control::Resume => self.resume(&rec.id).await,
            Control::Cancel => self.cancel(&rec.id).await,
        }
    }

    /// `rec` as it is once its summary is stored: a completed execution whose summary is
    /// still being written beside its completion (the pool does it off the worker) gets it
    /// written now, so a reader right after the end sees it too.
    pub async fn with_summary(&self, rec: ExecutionRecord) -> Result<ExecutionRecord> {
        if rec.state == ExecutionState::Completed && rec.summary.is_none() {
            self.finalize(&rec).await?;
            return self.execution(&rec.id).await;
        }
        Ok(rec)
    }

    /// Stores the summary of `id` if it completed without one (its completing commit could not
    /// make it, e.g. after a restart).
    pub async fn finalize_if_completed(&self, id: &ExecutionId) -> Result<()> {
        self.with_summary(self.execution(id).await?).await.map(drop)
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

    /// Stores the summary of a completed execution (signals, A+ scores, backtest means), which
    /// `history`, `summary` and the API read without decoding results.
    pub async fn finalize(&self, rec: &ExecutionRecord) -> Result<()> {
        with_kind!(rec.kind, |K| K::finalize(self, rec).await)
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

    /// Pauses: no new shard starts, and running ones stop and go back to the queue.
    #[tracing::instrument(level = "debug", skip(self), fields(execution = %id))]
    pub async fn pause(&self, id: &ExecutionId) -> Result<ExecutionRecord> {
        let rec = self.change(id, ExecutionState::Paused).await?;
        // Running shards stop at their next check (between tickers, parameter sets, or in a
        // Python job) and go back to the queue without counting an attempt.
        self.cancel_flag(id).store(true, Ordering::SeqCst);
        self.reach_children(&rec, pattern::control::Reach::Pause)
            .await;
        Ok(rec)
    }

    /// Resumes a paused execution (run it again with [`Engine::run`]).
    #[tracing::instrument(level = "debug", skip(self), fields(execution = %id))]
    pub async fn resume(&self, id: &ExecutionId) -> Result<ExecutionRecord> {
        let rec = self.change(id, ExecutionState::Running).await?;
        // Shards stopped by the pause hold the old stop flag; new claims get a fresh one.
        self.cancels.lock().expect("cancel lock").remove(id);
        if rec.kind == quantd_core::ExecutionKind::Pattern {
            self.reach_children(&rec, pattern::control::Reach::Resume)
                .await;
            self.advance_pattern(id).await?;
            return self.execution(id).await;
        }
        Ok(rec)
    }

    /// Cancels: pending shards are cancelled, running ones stop between tickers.
    #[tracing::instrument(level = "debug", skip(self), fields(execution = %id))]
    pub async fn cancel(&self, id: &ExecutionId) -> Result<ExecutionRecord> {
        let rec = self.change(id, ExecutionState::Cancelled).await?;
        self.cancel_flag(id).store(true, Ordering::SeqCst);
        self.reach_children(&rec, pattern::control::Reach::Cancel)
            .await;
        if rec.parent_id.is_some() {
            // A step's child cancelled on its own: its pattern records the step.
            self.after_end(&rec).await;
        }
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

    /// Notices executions cancelled or paused by another process (`quantd cancel` next to a
    /// server) and stops their shards running here within a tick: for every execution this
    /// engine holds a job for, reads its state; a cancelled or paused one gets its stop flag set
    /// (cleared again once it runs), and finished ones are
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
            } else if rec.state == ExecutionState::Paused {
                if !self.cancel_flag(&id).swap(true, Ordering::SeqCst) {
                    tracing::info!(execution = %id, "paused by another process; its shards here go back to the queue");
                }
            } else if !rec.state.is_terminal() && self.cancel_requested(&id) {
                // Paused and resumed since: shards claimed from now on run.
                self.cancels.lock().expect("cancel lock").remove(&id);
            } else if rec.state.is_terminal() {
                // Flagged at an earlier tick (or finished): shards still running hold their own
                // handle on the flag.
                self.jobs.lock().expect("jobs lock").remove(&id);
                // Its span closes (ended by a pattern's advance, or elsewhere).
                self.traces.ended(&id, &rec.state.to_string());
                self.cancels.lock().expect("cancel lock").remove(&id);
                self.running_ahead.lock().expect("ahead lock").remove(&id);
            }
        }
        Ok(cancelled)
    }

    pub(super) async fn change(
        &self,
        id: &ExecutionId,
        to: ExecutionState,
    ) -> Result<ExecutionRecord> {
        let rec = self.execution(id).await?;
        if rec.state.is_terminal() {
            let verb = match to {
                ExecutionState::Cancelled => "cancel",
                ExecutionState::Paused => "pause",
                _ => "resume",
            };
            let hint = if rec.quarantined && to == ExecutionState::Running {
                format!("; it is quarantined: `quantd resume --force {id}` runs it again")
            } else {
                String::new()
            };
            return Err(EngineError::Invalid(format!(
                "{id} is already {}; nothing to {verb}{hint}",
                rec.state
            )));
        }
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
}

/// See [`crate::services::Records::interrupted`].
pub fn interrupted(tmp: &std::path::Path, rec: &ExecutionRecord, shards: &[ShardRecord]) -> bool {
    if rec.state != ExecutionState::Running {
        return false;
    }
    let held = shards.iter().any(|s| {
        s.state == quantd_core::ShardState::Running
            && s.lease_owner.as_deref().is_some_and(|o| is_held(tmp, o))
    });
    let unfinished = shards
        .iter()
        .any(|s| !quantd_core::state::StateMachine::is_terminal(s.state));
    unfinished && !held && !queue_worker_alive(tmp)
}

/// Whether a queue scheduler (`serve` with workers, `worker`) holds its lock in `tmp`.
fn queue_worker_alive(tmp: &std::path::Path) -> bool {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        name.starts_with(QUEUE_LOCK_PREFIX)
            && name
                .strip_suffix(".lock")
                .is_some_and(|token| is_held(tmp, token))
    })
}
