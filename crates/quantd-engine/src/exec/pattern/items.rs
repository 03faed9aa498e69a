//! `for_each` steps: the list rendered, items started under their keys (`step[j]`) with at most
//! `max_parallel` running, their children watched, and the step's own record folded from its
//! items' once every one finished (completed when at most `tolerated_failures` failed).
//!
//! Items of an execution kind start in batches: their children are prepared together (packs
//! looked up once) and created in one store transaction, so a fan-out over thousands of items
//! plans in one round trip rather than one per item.

use super::advance::{Round, Running, Seen};
use super::steps::{child_fields, record, validation};
use super::{StepError, StepRecord, StepStatus, item_key};
use crate::error::Result;
use crate::exec::Engine;
use crate::exec::submit::Prepared;
use quantd_core::state::StateMachine;
use quantd_core::{ErrorClass, Event};
use quantd_pattern::{Action, Step};
use quantd_store::{ExecutionRecord, ParentLink, Store};
use serde_json::{Value, json};

/// Items of one `for_each` step at most.
pub const MAX_ITEMS: usize = 10_000;

/// A `for_each` step's items as rendered, and their keys (`step[j]`).
pub(crate) struct Fanned {
    items: Vec<Value>,
    keys: Vec<String>,
}

impl<S: Store> Engine<S> {
    /// A `for_each` step: its items started (at most `max_parallel` running), their children
    /// watched, and the step recorded once every item finished.
    pub(crate) async fn visit_items(
        &self,
        run: &Running,
        rec: &ExecutionRecord,
        seen: &mut Seen,
        i: usize,
        round: &mut Round,
    ) -> Result<()> {
        let step = &run.pattern.steps[i];
        let scope = if seen.begun.contains(&step.id) {
            seen.scope()
        } else {
            match self.open_gate(run, seen, i, round) {
                Some(scope) => scope,
                None => return Ok(()),
            }
        };
        // A step's list depends only on finished steps: rendered once, kept with its keys.
        let fanned = match seen.fanned.get(&i) {
            Some(f) => f.clone(),
            None => match items(run, step, i, &scope) {
                Ok(items) => {
                    let keys = (0..items.len()).map(|j| item_key(&step.id, j)).collect();
                    let f = std::sync::Arc::new(Fanned { items, keys });
                    seen.fanned.insert(i, f.clone());
                    f
                }
                Err(message) => {
                    let e = validation(message);
                    self.fail_early(run, &step.id, e, seen, round);
                    return Ok(());
                }
            },
        };
        let (items, keys) = (&fanned.items, &fanned.keys);
        let max_parallel = step.max_parallel.map_or(usize::MAX, |m| m.max(1) as usize);
        let mut running = 0usize;
        let mut waiting = Vec::new();
        let mut to_watch = Vec::new();
        for (j, key) in keys.iter().enumerate() {
            if seen.rows.contains_key(key) {
                continue;
            }
            match seen.children.get(key) {
                // Only an ended child, or one that may run over its timeout, needs a look.
                Some((_, child)) if child.state.is_terminal() || step.timeout.is_some() => {
                    to_watch.push(key.clone())
                }
                Some(_) => running += 1,
                None => waiting.push(j),
            }
        }
        for key in to_watch {
            let (attempt, child) = seen.children[&key].clone();
            self.watch_child(step, &key, attempt, &child, seen, round)
                .await?;
            if !seen.rows.contains_key(&key) {
                running += 1;
            }
        }
        let free = max_parallel.saturating_sub(running);
        let starting: Vec<(String, quantd_pattern::minijinja::Value)> = waiting
            .into_iter()
            .take(free)
            .map(|j| {
                let item = quantd_pattern::minijinja::Value::from_serialize(&items[j]);
                let scope = quantd_pattern::minijinja::context! { item => item, ..scope.clone() };
                (keys[j].clone(), scope)
            })
            .collect();
        if matches!(step.action, Action::Execute { .. }) {
            self.start_items(run, rec, seen, i, starting, round).await?;
        } else {
            for (key, scope) in starting {
                self.start_step(run, rec, seen, i, key, scope, round)
                    .await?;
            }
        }
        if keys.iter().all(|k| seen.rows.contains_key(k)) {
            let row = fold_items(step, keys, seen, self.clock.now_ms());
            match &row.error {
                Some(e) => round.events.push(Event::StepFailed {
                    step: step.id.clone(),
                    child: None,
                    attempt: row.attempt,
                    duration_ms: row.duration_ms(),
                    class: e.class,
                    message: e.message.clone(),
                }),
                None => round.events.push(Event::StepCompleted {
                    step: step.id.clone(),
                    child: None,
                    attempt: row.attempt,
                    duration_ms: row.duration_ms(),
                    cached: false,
                }),
            }
            seen.finish(step.id.clone(), row, round);
        }
        Ok(())
    }

    /// Starts items of step `i` (an execution kind) under their keys with their scopes: every
    /// child prepared (a request that fails to render or to check fails its item), then the
    /// new ones created in one transaction. A store error ends the advance with nothing of the
    /// batch created; the next advance starts it again.
    async fn start_items(
        &self,
        run: &Running,
        rec: &ExecutionRecord,
        seen: &mut Seen,
        i: usize,
        starting: Vec<(String, quantd_pattern::minijinja::Value)>,
        round: &mut Round,
    ) -> Result<()> {
        let fields = child_fields(&run.pattern.steps[i]);
        let mut keys = Vec::with_capacity(starting.len());
        let mut requests = Vec::with_capacity(starting.len());
        for (key, scope) in starting {
            match self.child_request(run, rec, i, &key, fields.clone(), &scope) {
                Ok(r) => {
                    keys.push(key);
                    requests.push(r);
                }
                Err(e) => self.fail_early(run, &key, e, seen, round),
            }
        }
        let links: Vec<ParentLink> = requests.iter().map(|(_, c)| c.link.clone()).collect();
        let started = self.clock.now_ms();
        let prepared = self.prepare_children(&rec.workspace, requests).await;
        let mut new = Vec::new();
        for ((key, link), p) in keys.into_iter().zip(links).zip(prepared) {
            match p {
                Ok(Prepared::New(planned)) => new.push((key, *planned, link)),
                Ok(Prepared::Reused(done)) => {
                    self.started_child(run, i, key, started, Ok(*done), seen, round)
                        .await
                }
                Err(e) => {
                    self.started_child(run, i, key, started, Err(e), seen, round)
                        .await
                }
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        let (keys, batch): (Vec<String>, Vec<_>) =
            new.into_iter().map(|(k, p, l)| (k, (p, l))).unzip();
        let created = self.create_children(&rec.workspace, batch).await?;
        for (key, c) in keys.into_iter().zip(created) {
            // `None`: another advance created this item's child a moment ago; the next round sees it.
            if let Some(s) = c {
                self.started_child(run, i, key, started, Ok(s), seen, round)
                    .await;
            }
        }
        Ok(())
    }
}

/// The items of a `for_each` step: its list, or the list its template makes.
fn items(
    run: &Running,
    step: &Step,
    i: usize,
    scope: &quantd_pattern::minijinja::Value,
) -> std::result::Result<Vec<Value>, String> {
    let list = step.for_each.as_ref().expect("a for_each step");
    let value = quantd_pattern::template::render(&run.env, list, scope)
        .map_err(|e| format!("steps[{i}].for_each: {e}"))?;
    let Value::Array(items) = value else {
        return Err(format!(
            "steps[{i}].for_each: expected a list, found {}",
            quantd_data::text::cut(&value.to_string(), 60)
        ));
    };
    if items.len() > MAX_ITEMS {
        return Err(format!(
            "steps[{i}].for_each: {} items, more than the limit of {MAX_ITEMS}; split the list",
            items.len()
        ));
    }
    Ok(items)
}

/// A `for_each` step's record from its items': completed when at most `tolerated_failures`
/// items failed; its outputs list every item's.
fn fold_items(step: &Step, keys: &[String], seen: &Seen, now: i64) -> StepRecord {
    let rows: Vec<&StepRecord> = keys.iter().filter_map(|k| seen.rows.get(k)).collect();
    let count = |s: StepStatus| rows.iter().filter(|r| r.status == s).count();
    let (completed, failed, skipped) = (
        count(StepStatus::Completed),
        count(StepStatus::Failed),
        count(StepStatus::Skipped),
    );
    let tolerated = step.tolerated_failures.unwrap_or(0) as usize;
    let mut row = record(
        if failed > tolerated {
            StepStatus::Failed
        } else {
            StepStatus::Completed
        },
        rows.first().map_or(1, |r| r.attempt),
        now,
    );
    row.started_at = rows.iter().filter_map(|r| r.started_at).min().or(Some(now));
    row.outputs = json!({
        "items": rows.iter().map(|r| r.outputs.clone()).collect::<Vec<_>>(),
        "completed": completed,
        "failed": failed,
        "skipped": skipped,
    });
    if failed > tolerated {
        let first = keys
            .iter()
            .zip(&rows)
            .find(|(_, r)| r.status == StepStatus::Failed)
            .map(|(k, r)| {
                format!(
                    "{k}: {}",
                    r.error.as_ref().map_or("failed", |e| e.message.as_str())
                )
            })
            .unwrap_or_default();
        row.error = Some(StepError {
            class: rows
                .iter()
                .find_map(|r| r.error.as_ref().map(|e| e.class))
                .unwrap_or(ErrorClass::Execution),
            message: format!(
                "{failed} of {} items failed ({tolerated} tolerated); first {first}",
                rows.len()
            ),
        });
    }
    row
}
