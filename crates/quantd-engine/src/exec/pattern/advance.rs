//! Advancing a pattern: read what is stored (finished steps, children), record the steps whose
//! child ended, start or skip the steps whose dependencies finished, and end the pattern when
//! every step finished.
//!
//! Advances are queued and run one after another by whichever caller finds no one running them
//! (the others return at once): an advance that starts a sub-pattern, or ends a pattern whose
//! parent must move on, queues that one instead of running it inside itself, so nesting never
//! deepens the stack; and an advance asked for while one of the same pattern runs makes that one
//! go round again, so no change is missed.
//!
//! What a round reads (the finished steps, the children) is kept for the next advance of the
//! same pattern in this process: an advance because a child of it ended here updates that
//! child and reads nothing else, so a `for_each` over thousands of items does not read all of
//! them again each time one ends. Any other advance (submit, resume, the watcher's tick, which
//! sees what other processes did) reads everything again.

use super::{StepRecord, StepStatus, split_child_key};
use crate::error::Result;
use crate::exec::Engine;
use crate::exec::kinds::pattern::{ResolvedPattern, pattern_spec};
use quantd_core::state::StateMachine;
use quantd_core::{Event, ExecutionId, ExecutionKind, ExecutionState};
use quantd_pattern::{Pattern, Plan};
use quantd_store::{ExecutionRecord, StepRow, Store};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Rounds one advance goes at most (each round records what it could; a round that records
/// nothing ends the advance).
const MAX_ROUNDS: usize = 1_000;

/// A pattern execution being advanced in this process: its document read once.
pub(crate) struct Running {
    pub(crate) pattern: Pattern,
    pub(crate) plan: Plan,
    pub(crate) spec: ResolvedPattern,
    pub(crate) env: quantd_pattern::minijinja::Environment<'static>,
    busy: AtomicBool,
    again: AtomicBool,
    /// What the last round read and did, for the next advance (see the module docs).
    kept: Mutex<Option<Seen>>,
    /// Children that ended since, to apply to `kept` when a round takes it.
    ended: Mutex<Vec<ExecutionRecord>>,
}

/// The patterns this engine advances, by execution, and the advances waiting to run.
#[derive(Default)]
pub(crate) struct Patterns {
    running: Mutex<HashMap<ExecutionId, Arc<Running>>>,
    queue: Mutex<std::collections::VecDeque<ExecutionId>>,
    draining: AtomicBool,
    /// Patterns whose next advance reads everything again.
    reread: Mutex<HashSet<ExecutionId>>,
}

impl Running {
    /// A pattern read for advancing or reporting.
    pub(crate) fn new(pattern: Pattern, plan: Plan, spec: ResolvedPattern) -> Running {
        Running {
            pattern,
            plan,
            spec,
            env: quantd_pattern::template::environment(),
            busy: AtomicBool::new(false),
            again: AtomicBool::new(false),
            kept: Mutex::new(None),
            ended: Mutex::new(Vec::new()),
        }
    }

    /// The kept state with the children that ended since, taken for a round (`None`: read it
    /// from the store, which holds those ends already: they were committed before they were
    /// noted).
    fn take_kept(&self) -> Option<Seen> {
        let mut kept = self.kept.lock().expect("kept lock");
        let mut ended = self.ended.lock().expect("kept lock");
        let Some(mut seen) = kept.take() else {
            ended.clear();
            return None;
        };
        for rec in ended.drain(..) {
            seen.child_ended(rec);
        }
        Some(seen)
    }

    fn keep(&self, seen: Seen) {
        *self.kept.lock().expect("kept lock") = Some(seen);
    }
}

impl Patterns {
    fn forget(&self, id: &ExecutionId) {
        self.running.lock().expect("patterns lock").remove(id);
        self.reread.lock().expect("patterns lock").remove(id);
    }
}

/// A pattern's stored state, as one round reads it and updates it.
pub(crate) struct Seen {
    /// Finished steps and items, by key.
    pub(crate) rows: HashMap<String, StepRecord>,
    /// The newest child of each step or item key, with its attempt.
    pub(crate) children: HashMap<String, (u32, ExecutionRecord)>,
    /// Steps that began (a child or a finished item exists).
    pub(crate) begun: HashSet<String>,
    /// `inputs`, `ctx` and `state` for templates (`state` holds finished steps).
    scope: Map<String, Value>,
    /// `scope` as minijinja reads it, made again after a step finishes.
    cached: Option<quantd_pattern::minijinja::Value>,
    /// The items of `for_each` steps that began, by step index.
    pub(crate) fanned: HashMap<usize, Arc<super::items::Fanned>>,
}

impl Seen {
    /// The template scope: `inputs`, `ctx`, and `state.<step>.{status, outputs}`.
    pub(crate) fn scope(&mut self) -> quantd_pattern::minijinja::Value {
        self.cached
            .get_or_insert_with(|| quantd_pattern::minijinja::Value::from_serialize(&self.scope))
            .clone()
    }

    /// Child `rec` ended: it replaces the record read before (unless a newer attempt of its
    /// step exists).
    fn child_ended(&mut self, rec: ExecutionRecord) {
        debug_assert!(rec.state.is_terminal(), "only an ended child is noted");
        let Some((key, attempt)) = rec.parent_step.as_deref().and_then(split_child_key) else {
            return;
        };
        if matches!(self.children.get(key), Some((a, _)) if *a > attempt) {
            return;
        }
        let key = key.to_string();
        self.begun.insert(step_of(&key).to_string());
        self.children.insert(key, (attempt, rec));
    }

    /// Records a finished step or item in this round.
    pub(crate) fn finish(&mut self, key: String, row: StepRecord, round: &mut Round) {
        if !key.contains('[')
            && let Some(Value::Object(state)) = self.scope.get_mut("state")
        {
            state.insert(
                key.clone(),
                json!({"status": row.status.name(), "outputs": row.outputs}),
            );
            self.cached = None;
        }
        self.begun.insert(step_of(&key).to_string());
        round.rows.push(StepRow {
            step: key.clone(),
            state: row.status.name().to_string(),
            body: serde_json::to_value(&row).expect("step records serialize"),
        });
        self.rows.insert(key, row);
    }
}

/// Clears its flag when dropped.
struct Cleared<'a>(&'a AtomicBool);

impl Drop for Cleared<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The step a key belongs to (`bt` for `bt[3]`).
fn step_of(key: &str) -> &str {
    key.split_once('[').map_or(key, |(s, _)| s)
}

/// What one round recorded.
#[derive(Default)]
pub(crate) struct Round {
    pub(crate) rows: Vec<StepRow>,
    pub(crate) events: Vec<Event>,
}

impl<S: Store> Engine<S> {
    /// Advances pattern execution `id` (see the module docs); does nothing to one that is paused
    /// or ended. Errors are the store's; a step's own failure is recorded on the step.
    pub async fn advance_pattern(&self, id: &ExecutionId) -> Result<()> {
        self.patterns
            .reread
            .lock()
            .expect("patterns lock")
            .insert(id.clone());
        self.queue_advance(id).await
    }

    async fn queue_advance(&self, id: &ExecutionId) -> Result<()> {
        self.patterns
            .queue
            .lock()
            .expect("patterns lock")
            .push_back(id.clone());
        Box::pin(self.drain_advances(id)).await
    }

    /// Runs the queued advances unless another caller is running them; returns the error of
    /// `own`'s advance, if it ran here and failed (the others' are logged).
    async fn drain_advances(&self, own: &ExecutionId) -> Result<()> {
        let mut result = Ok(());
        loop {
            let p = &self.patterns;
            if p.draining
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return result;
            }
            // Cleared however this ends (a panic of a bug included), so advances never stop.
            let _draining = Cleared(&p.draining);
            loop {
                let next = p.queue.lock().expect("patterns lock").pop_front();
                let Some(id) = next else { break };
                if let Err(e) = self.advance_turns(&id).await {
                    tracing::warn!(execution = %id, error = %e, "advancing the pattern failed");
                    if id == *own {
                        result = Err(e);
                    }
                }
            }
            drop(_draining);
            if p.queue.lock().expect("patterns lock").is_empty() {
                return result;
            }
        }
    }

    async fn advance_turns(&self, id: &ExecutionId) -> Result<()> {
        let run = self.running_pattern(id).await?;
        loop {
            run.again.store(true, Ordering::SeqCst);
            if run
                .busy
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                // The advance under way sees `again` and goes round once more.
                return Ok(());
            }
            let mut result = Ok(());
            while run.again.swap(false, Ordering::SeqCst) && result.is_ok() {
                result = self.advance_rounds(id, &run).await;
            }
            run.busy.store(false, Ordering::SeqCst);
            result?;
            if !run.again.load(Ordering::SeqCst) {
                return Ok(());
            }
        }
    }

    /// Advances every running pattern (a scheduler's watcher calls it: steps whose child ended
    /// in another process, timeouts, patterns interrupted by a crash).
    pub async fn advance_patterns(&self) -> Result<()> {
        let running: Vec<ExecutionRecord> = self
            .store()
            .unfinished_executions()
            .await?
            .into_iter()
            .filter(|r| r.kind == ExecutionKind::Pattern && r.state == ExecutionState::Running)
            .collect();
        for rec in running {
            if let Err(e) = self.advance_pattern(&rec.id).await {
                tracing::warn!(execution = %rec.id, error = %e, "advancing the pattern failed");
            }
        }
        Ok(())
    }

    /// After execution `rec` ended: its parent pattern, if any, advances.
    pub(crate) async fn after_end(&self, rec: &ExecutionRecord) {
        let Some(parent) = &rec.parent_id else {
            return;
        };
        self.note_ended(parent, rec);
        if let Err(e) = self.queue_advance(parent).await {
            tracing::warn!(execution = %parent, error = %e, "advancing the pattern failed");
        }
    }

    /// Child `rec` of `parent` ended: noted for `parent`'s next round, if this process advances
    /// it.
    fn note_ended(&self, parent: &ExecutionId, rec: &ExecutionRecord) {
        let run = self
            .patterns
            .running
            .lock()
            .expect("patterns lock")
            .get(parent)
            .cloned();
        if let Some(run) = run {
            run.ended.lock().expect("kept lock").push(rec.clone());
        }
    }

    async fn running_pattern(&self, id: &ExecutionId) -> Result<Arc<Running>> {
        if let Some(r) = self.patterns.running.lock().expect("patterns lock").get(id) {
            return Ok(r.clone());
        }
        let rec = self.execution(id).await?;
        let spec = pattern_spec(&rec)?;
        let (pattern, plan) = crate::pattern::check(&spec.source)?;
        let run = Arc::new(Running::new(pattern, plan, spec));
        Ok(self
            .patterns
            .running
            .lock()
            .expect("patterns lock")
            .entry(id.clone())
            .or_insert(run)
            .clone())
    }

    async fn advance_rounds(&self, id: &ExecutionId, run: &Running) -> Result<()> {
        if self
            .patterns
            .reread
            .lock()
            .expect("patterns lock")
            .remove(id)
        {
            run.take_kept();
        }
        for _ in 0..MAX_ROUNDS {
            let rec = self.execution(id).await?;
            if rec.state.is_terminal() {
                self.patterns.forget(id);
                return Ok(());
            }
            if rec.state == ExecutionState::Paused {
                return Ok(());
            }
            // Kept only once the round succeeded: an error reads everything again next time.
            let mut seen = match run.take_kept() {
                Some(seen) => seen,
                None => self.seen(run, &rec).await?,
            };
            let mut round = Round::default();
            for &i in &run.plan.order {
                self.visit(run, &rec, &mut seen, i, &mut round).await?;
            }
            let wrote = !round.rows.is_empty();
            if wrote || !round.events.is_empty() {
                let progress = progress(run, &seen);
                let events = self
                    .store()
                    .record_steps(id, &round.rows, round.events, progress, self.clock.now_ms())
                    .await?;
                self.broadcast(events);
                quantd_data::failpoint::hit("pattern-steps-recorded");
            }
            if run
                .pattern
                .steps
                .iter()
                .all(|s| seen.rows.contains_key(&s.id))
            {
                return self.end_pattern(run, &rec, &seen).await;
            }
            run.keep(seen);
            if !wrote {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The stored state of pattern `rec`.
    pub(crate) async fn seen(&self, run: &Running, rec: &ExecutionRecord) -> Result<Seen> {
        let mut rows = HashMap::new();
        let mut begun = HashSet::new();
        let mut state = Map::new();
        for row in self.store().pattern_steps(&rec.id).await? {
            let record: StepRecord = match serde_json::from_value(row.body) {
                Ok(r) => r,
                Err(e) => {
                    return Err(crate::error::EngineError::Internal(format!(
                        "stored step {} of {}: {e}",
                        row.step, rec.id
                    )));
                }
            };
            if !row.step.contains('[') {
                state.insert(
                    row.step.clone(),
                    json!({"status": StepStatus::parse(&row.state).name(), "outputs": record.outputs}),
                );
            }
            begun.insert(step_of(&row.step).to_string());
            rows.insert(row.step, record);
        }
        let mut children: HashMap<String, (u32, ExecutionRecord)> = HashMap::new();
        for child in self.store().children(&rec.id).await? {
            let Some((key, attempt)) = child.parent_step.as_deref().and_then(split_child_key)
            else {
                continue;
            };
            let key = key.to_string();
            begun.insert(step_of(&key).to_string());
            match children.get(&key) {
                Some((a, _)) if *a >= attempt => {}
                _ => {
                    children.insert(key, (attempt, child));
                }
            }
        }
        let started_at = rec
            .started_at
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        let mut scope = Map::new();
        scope.insert("inputs".into(), json!(run.spec.inputs));
        scope.insert(
            "ctx".into(),
            json!({"pack_id": run.spec.pack_id, "execution_id": rec.id, "started_at": started_at}),
        );
        scope.insert("state".into(), Value::Object(state));
        Ok(Seen {
            rows,
            children,
            begun,
            scope,
            cached: None,
            fanned: HashMap::new(),
        })
    }

    /// Ends pattern `rec` now that every step finished: completed, or failed by its first failed
    /// step that may not `continue_on_error`; its report is its summary.
    async fn end_pattern(&self, run: &Running, rec: &ExecutionRecord, seen: &Seen) -> Result<()> {
        let failed = run.pattern.steps.iter().find_map(|s| {
            let row = seen.rows.get(&s.id)?;
            (row.status == StepStatus::Failed && !s.continue_on_error).then_some((s, row))
        });
        let error = failed.map(|(s, row)| {
            let (class, message) = row.error.as_ref().map_or(
                (quantd_core::ErrorClass::Execution, "failed".to_string()),
                |e| (e.class, e.message.clone()),
            );
            (class, format!("step `{}` failed: {message}", s.id))
        });
        let now = self.clock.now_ms();
        let state = if error.is_some() {
            ExecutionState::Failed
        } else {
            ExecutionState::Completed
        };
        let report = super::report::Report::of(run, rec, seen, state, Some(now));
        let summary = serde_json::to_value(&report).expect("reports serialize");
        let events = self
            .store()
            .end_orchestrated(
                &rec.id,
                &summary,
                error.as_ref().map(|(c, m)| (*c, m.as_str())),
                now,
            )
            .await?;
        let ended = !events.is_empty();
        self.broadcast(events);
        self.patterns.forget(&rec.id);
        if ended {
            let rec = self.execution(&rec.id).await?;
            self.after_end(&rec).await;
        }
        Ok(())
    }
}

/// A pattern's progress: steps completed or skipped, failed, and planned.
fn progress(run: &Running, seen: &Seen) -> (u32, u32, u32) {
    let (mut done, mut failed) = (0, 0);
    for s in &run.pattern.steps {
        match seen.rows.get(&s.id).map(|r| r.status) {
            Some(StepStatus::Failed) => failed += 1,
            Some(_) => done += 1,
            None => {}
        }
    }
    (done, failed, run.pattern.steps.len() as u32)
}
