//! Pattern executions driven shard by shard on a manual clock: steps as child executions,
//! conditions, `for_each` with tolerated failures, `select`, the step cache, `retry --from`,
//! and cancellation reaching the children.

mod common;

use common::{engine, setup};
use quantd_core::state::StateMachine;
use quantd_core::{Event, ExecutionId, ExecutionKind, ExecutionState};
use quantd_engine::code::CodeSource;
use quantd_engine::exec::Engine;
use quantd_engine::exec::clock::ManualClock;
use quantd_engine::exec::pattern::StepStatus;
use quantd_engine::exec::pattern::report::Report;
use quantd_engine::exec::request::SubmitRequest;
use quantd_store::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

const WS: &str = "default";

async fn add_pattern(engine: &Engine, name: &str, doc: Value) {
    engine
        .code(WS)
        .add(name, &CodeSource::Pattern(doc.to_string()))
        .await
        .unwrap();
}

fn request(name: &str, inputs: Value) -> SubmitRequest {
    let mut r = SubmitRequest::new(ExecutionKind::Pattern);
    r.code = Some(name.into());
    r.inputs = serde_json::from_value(inputs).unwrap();
    r
}

/// Runs every claimable shard of every execution until none is left.
async fn drain(engine: &Engine) {
    while engine.step(None).await.unwrap().is_some() {}
}

async fn start(engine: &Engine, name: &str, inputs: Value) -> ExecutionId {
    let sub = engine.submit(request(name, inputs)).await.unwrap();
    sub.execution.id
}

async fn report(engine: &Engine, id: &ExecutionId) -> Report {
    engine.pattern_report(id).await.unwrap()
}

fn status(r: &Report, step: &str) -> StepStatus {
    r.steps.iter().find(|s| s.id == step).unwrap().status
}

fn outputs<'a>(r: &'a Report, step: &str) -> &'a Value {
    &r.steps.iter().find(|s| s.id == step).unwrap().outputs
}

fn routine() -> Value {
    json!({
        "inputs": {"min_signals": {"type": "number", "default": 1}},
        "steps": [
            {"id": "scan", "kind": "scan", "expr": "close > sma(close, 20)", "pack": "u"},
            {"id": "check", "kind": "test", "expr": "close > sma(close, 20)", "pack": "u",
             "examples": [{"ticker": "SYN0001", "date": "2020-06-01"}]},
            {"id": "top", "select": {"from": "{{ state.scan.outputs.by_ticker }}", "sort_by": "signals", "limit": 2, "field": "ticker"}},
            {"id": "bt", "kind": "backtest", "pack": "u",
             "strategy": {"entry": "close > sma(close, 10)", "exit": "close < sma(close, 10)"},
             "tickers": "{{ state.top.outputs.values }}",
             "if": "state.scan.outputs.signals >= inputs.min_signals and state.check.status == 'completed'"},
            {"id": "report", "select": {"from": "{{ state.bt.outputs.per_ticker }}", "field": "ticker"}}
        ]
    })
}

#[tokio::test]
async fn a_routine_runs_its_steps_as_children_and_reports_their_outputs() {
    let (_d, packs) = setup(6).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    add_pattern(&engine, "routine", routine()).await;
    let mut events = engine.subscribe();
    let id = start(&engine, "routine", json!({})).await;
    drain(&engine).await;
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(
        rec.state,
        ExecutionState::Completed,
        "{:?}",
        rec.error_message
    );
    let r = report(&engine, &id).await;
    for step in ["scan", "check", "top", "bt", "report"] {
        assert_eq!(status(&r, step), StepStatus::Completed, "{step}: {r:?}");
    }
    let scan = outputs(&r, "scan");
    assert!(scan["signals"].as_u64().unwrap() > 0, "{scan}");
    let top = outputs(&r, "top")["values"].as_array().unwrap().clone();
    assert_eq!(top.len(), 2);
    assert_eq!(
        top[0], scan["tickers"][0],
        "the ticker with most signals first"
    );
    // The backtest ran on exactly the two tickers the select picked.
    let tested: Vec<Value> = outputs(&r, "report")["values"].as_array().unwrap().clone();
    let mut want = top.clone();
    want.sort_by_key(|v| v.to_string());
    let mut got = tested.clone();
    got.sort_by_key(|v| v.to_string());
    assert_eq!(got, want);
    assert!(
        outputs(&r, "bt")["stats"]["sharpe_ratio"].is_number()
            || outputs(&r, "bt")["stats"]["sharpe_ratio"].is_null()
    );
    // Children name their parent and step; they are hidden from top-level lists.
    let children = engine.store().children(&id).await.unwrap();
    let steps: HashSet<String> = children
        .iter()
        .filter_map(|c| c.parent_step.clone())
        .collect();
    assert_eq!(
        steps,
        ["scan@1", "check@1", "bt@1"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let top_level = engine
        .records()
        .list(&quantd_store::ExecutionFilter {
            top_level: true,
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(top_level.items.len(), 1, "only the pattern is top-level");
    // Every step has its started and completed events, in that order, on the pattern's stream.
    let mut seen: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    while let Ok(e) = events.try_recv() {
        if e.execution != id {
            continue;
        }
        match e.event {
            Event::StepStarted { step, .. } => seen.entry(step).or_default().push("started"),
            Event::StepCompleted { step, .. } => seen.entry(step).or_default().push("completed"),
            _ => {}
        }
    }
    for step in ["scan", "check", "top", "bt", "report"] {
        assert_eq!(seen[step], vec!["started", "completed"], "{step}");
    }
    // Progress: every planned step done.
    assert_eq!((rec.shards_done, rec.shards_total), (5, 5));
    assert!(
        r.markdown().contains("| bt | backtest | completed |"),
        "{}",
        r.markdown()
    );
}

#[tokio::test]
async fn a_false_condition_skips_its_branch_and_what_depends_on_it() {
    let (_d, packs) = setup(4).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    add_pattern(&engine, "routine", routine()).await;
    // So many signals are impossible: the backtest and the report after it are skipped.
    let id = start(&engine, "routine", json!({"min_signals": 1e12})).await;
    drain(&engine).await;
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Completed);
    let r = report(&engine, &id).await;
    assert_eq!(status(&r, "bt"), StepStatus::Skipped);
    let bt = r.steps.iter().find(|s| s.id == "bt").unwrap();
    assert!(
        bt.reason.as_ref().unwrap().contains("condition is false"),
        "{bt:?}"
    );
    assert_eq!(status(&r, "report"), StepStatus::Skipped);
    assert!(
        r.steps
            .iter()
            .find(|s| s.id == "report")
            .unwrap()
            .reason
            .as_ref()
            .unwrap()
            .contains("`bt` was skipped")
    );
    let children = engine.store().children(&id).await.unwrap();
    assert!(
        children.iter().all(|c| c.kind != ExecutionKind::Backtest),
        "no backtest ran"
    );
}

#[tokio::test]
async fn for_each_tolerates_the_failures_it_allows_and_no_more() {
    let (_d, packs) = setup(3).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    let doc = |tolerated: u32| {
        json!({"steps": [
            {"id": "each", "kind": "scan", "pack": "u", "expr": "{{ item }}",
             "for_each": ["close > 0", "close >", "volume > 0", "nope(close)"],
             "max_parallel": 2, "tolerated_failures": tolerated},
            {"id": "after", "select": {"from": "{{ state.each.outputs.items }}"}}
        ]})
    };
    add_pattern(&engine, "lenient", doc(2)).await;
    add_pattern(&engine, "strict", doc(1)).await;
    let lenient = start(&engine, "lenient", json!({})).await;
    drain(&engine).await;
    let r = report(&engine, &lenient).await;
    assert_eq!(status(&r, "each"), StepStatus::Completed, "{r:?}");
    let each = outputs(&r, "each");
    assert_eq!(
        (each["completed"].as_u64(), each["failed"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(each["items"].as_array().unwrap().len(), 4);
    assert!(each["items"][0]["signals"].as_u64().unwrap() > 0);
    assert_eq!(status(&r, "after"), StepStatus::Completed);
    assert_eq!(r.steps[0].items.as_ref().unwrap()["failed"], 2);

    let strict = start(&engine, "strict", json!({})).await;
    drain(&engine).await;
    let rec = engine.execution(&strict).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Failed);
    let message = rec.error_message.unwrap();
    assert!(
        message.contains("step `each` failed: 2 of 4 items failed (1 tolerated)"),
        "{message}"
    );
    let r = report(&engine, &strict).await;
    assert_eq!(status(&r, "after"), StepStatus::Skipped);
}

async fn running(engine: &Engine, id: &ExecutionId) -> usize {
    engine
        .store()
        .children(id)
        .await
        .unwrap()
        .iter()
        .filter(|c| !c.state.is_terminal())
        .count()
}

#[tokio::test]
async fn max_parallel_bounds_the_items_running_at_once() {
    let (_d, packs) = setup(3).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    add_pattern(
        &engine,
        "fan",
        json!({"steps": [{"id": "each", "kind": "scan", "pack": "u", "expr": "close > {{ item }}",
            "for_each": [1, 2, 3, 4, 5], "max_parallel": 2}]}),
    )
    .await;
    let id = start(&engine, "fan", json!({})).await;
    assert_eq!(running(&engine, &id).await, 2, "two items at a time");
    while engine.step(None).await.unwrap().is_some() {
        assert!(running(&engine, &id).await <= 2);
    }
    assert_eq!(engine.store().children(&id).await.unwrap().len(), 5);
    assert_eq!(
        engine.execution(&id).await.unwrap().state,
        ExecutionState::Completed
    );
}

#[tokio::test]
async fn a_wide_fan_out_creates_each_items_child_once() {
    let (_d, packs) = setup(2).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    let items: Vec<u32> = (0..300).collect();
    add_pattern(
        &engine,
        "wide",
        json!({"steps": [{"id": "each", "kind": "scan", "pack": "u",
            "expr": "close > {{ item }}", "for_each": items, "max_parallel": 250}]}),
    )
    .await;
    let id = start(&engine, "wide", json!({})).await;
    let steps = |children: Vec<quantd_store::ExecutionRecord>| -> HashSet<String> {
        children.into_iter().filter_map(|c| c.parent_step).collect()
    };
    let first = steps(engine.store().children(&id).await.unwrap());
    assert_eq!(first.len(), 250, "max_parallel items start at once");
    engine.advance_pattern(&id).await.unwrap();
    assert_eq!(
        steps(engine.store().children(&id).await.unwrap()),
        first,
        "advancing again creates nothing"
    );
    drain(&engine).await;
    let children = engine.store().children(&id).await.unwrap();
    assert_eq!(children.len(), 300);
    assert_eq!(steps(children).len(), 300, "one child per item");
    let started = engine
        .store()
        .events_after(&id, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.event, Event::StepStarted { .. }))
        .count();
    assert_eq!(started, 300, "one step-started per item");
    let r = report(&engine, &id).await;
    assert_eq!(r.state, ExecutionState::Completed);
    assert_eq!(outputs(&r, "each")["completed"], 300);
}

#[tokio::test]
async fn cancelling_a_pattern_stops_its_running_child_within_a_second() {
    let (_d, packs) = setup(400).await;
    let engine = Arc::new(Engine::new(packs.clone(), common::options()).await.unwrap());
    add_pattern(
        &engine,
        "long",
        json!({"steps": [
            {"id": "scan", "kind": "scan", "pack": "u", "expr": "close > 0"},
            {"id": "after", "select": {"from": "{{ state.scan.outputs.tickers }}"}}
        ]}),
    )
    .await;
    let mut live = engine.subscribe();
    let id = start(&engine, "long", json!({})).await;
    let runner = {
        let (engine, id) = (engine.clone(), id.clone());
        tokio::spawn(async move { engine.run(&id, 1).await })
    };
    // Wait until the child has committed a shard (it is running), then cancel the pattern.
    let child = loop {
        let e = live.recv().await.unwrap();
        if matches!(e.event, Event::ShardCompleted { .. }) && e.execution != id {
            break e.execution;
        }
    };
    let asked = std::time::Instant::now();
    engine.cancel(&id).await.unwrap();
    let rec = runner.await.unwrap().unwrap();
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(1),
        "cancel took {:?}",
        asked.elapsed()
    );
    assert_eq!(rec.state, ExecutionState::Cancelled);
    let child = engine.execution(&child).await.unwrap();
    assert_eq!(child.state, ExecutionState::Cancelled);
    assert!(
        child.shards_done >= 1 && child.shards_done < child.shards_total,
        "stopped part way: {} of {}",
        child.shards_done,
        child.shards_total
    );
}

#[tokio::test]
async fn an_identical_step_reuses_the_completed_child_unless_its_cache_is_off() {
    let (_d, packs) = setup(3).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    add_pattern(
        &engine,
        "twice",
        json!({"steps": [
            {"id": "a", "kind": "scan", "pack": "u", "expr": "close > sma(close, 5)"},
            {"id": "b", "kind": "scan", "pack": "u", "expr": "close > sma(close, 7)", "cache": false}
        ]}),
    )
    .await;
    let first = start(&engine, "twice", json!({})).await;
    drain(&engine).await;
    let second = start(&engine, "twice", json!({})).await;
    drain(&engine).await;
    let (r1, r2) = (
        report(&engine, &first).await,
        report(&engine, &second).await,
    );
    let a = |r: &Report| r.steps[0].clone();
    let b = |r: &Report| r.steps[1].clone();
    assert!(a(&r2).cached, "{:?}", a(&r2));
    assert_eq!(a(&r2).child, a(&r1).child, "the same child, reused");
    assert_eq!(a(&r2).outputs, a(&r1).outputs);
    assert!(!b(&r2).cached);
    assert_ne!(b(&r2).child, b(&r1).child, "cache off: run again");
    assert_eq!(b(&r2).outputs, b(&r1).outputs, "with the same outputs");
}

#[tokio::test]
async fn retry_from_a_failed_step_runs_it_and_its_dependants_and_reuses_the_rest() {
    let (_d, packs) = setup(3).await;
    let failing: Arc<Mutex<HashSet<ExecutionId>>> = Arc::default();
    let f = failing.clone();
    let engine = engine(&packs, ManualClock::new(1_000_000))
        .await
        .with_fault(Arc::new(move |id, _, _| {
            f.lock()
                .unwrap()
                .contains(id)
                .then(|| (quantd_core::ErrorClass::Validation, "injected".to_string()))
        }));
    add_pattern(
        &engine,
        "chain",
        json!({"steps": [
            {"id": "a", "kind": "scan", "pack": "u", "expr": "close > sma(close, 5)", "cache": false},
            {"id": "b", "kind": "scan", "pack": "u", "expr": "close > sma(close, 9)", "needs": ["a"], "cache": false},
            {"id": "c", "select": {"from": "{{ state.b.outputs.tickers }}"}},
            {"id": "side", "kind": "scan", "pack": "u", "expr": "volume > 0", "needs": ["a"], "cache": false}
        ]}),
    )
    .await;
    let id = start(&engine, "chain", json!({})).await;
    drain(&engine).await; // a ran; b and side are created
    let b_child = engine
        .store()
        .children(&id)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.parent_step.as_deref() == Some("b@1"))
        .unwrap();
    assert!(b_child.state.is_terminal(), "drain ran everything");
    // Run again with b failing: a fresh pattern where b's child fails.
    let id = start(&engine, "chain", json!({})).await;
    loop {
        let children = engine.store().children(&id).await.unwrap();
        if let Some(b) = children
            .iter()
            .find(|c| c.parent_step.as_deref() == Some("b@1"))
        {
            failing.lock().unwrap().insert(b.id.clone());
            break;
        }
        assert!(
            engine.step(None).await.unwrap().is_some(),
            "b starts after a"
        );
    }
    drain(&engine).await;
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Failed);
    let r = report(&engine, &id).await;
    assert_eq!(status(&r, "b"), StepStatus::Failed);
    assert_eq!(status(&r, "c"), StepStatus::Skipped);
    assert_eq!(
        status(&r, "side"),
        StepStatus::Completed,
        "independent steps go on"
    );
    let before: Vec<ExecutionId> = engine
        .store()
        .children(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();

    failing.lock().unwrap().clear();
    let again = engine
        .retry_pattern(&id, &["b".into()])
        .await
        .unwrap()
        .execution
        .id;
    drain(&engine).await;
    let rec = engine.execution(&again).await.unwrap();
    assert_eq!(
        rec.state,
        ExecutionState::Completed,
        "{:?}",
        rec.error_message
    );
    let r2 = report(&engine, &again).await;
    assert_eq!(r2.retry_of.as_ref(), Some(&id));
    let step = |r: &Report, s: &str| r.steps.iter().find(|x| x.id == s).unwrap().clone();
    // a and side are reused as they were: same children, nothing ran again for them.
    for s in ["a", "side"] {
        assert_eq!(step(&r2, s).child, step(&r, s).child, "{s} reused");
        assert_eq!(step(&r2, s).reused_from.as_ref(), Some(&id));
    }
    // b ran again as its second attempt, and c after it.
    assert_eq!(step(&r2, "b").attempt, Some(2));
    assert!(!before.contains(step(&r2, "b").child.as_ref().unwrap()));
    assert_eq!(status(&r2, "c"), StepStatus::Completed);
    let new_children = engine.store().children(&again).await.unwrap();
    assert_eq!(
        new_children
            .iter()
            .filter_map(|c| c.parent_step.clone())
            .collect::<Vec<_>>(),
        vec!["b@2".to_string()],
        "only b ran again"
    );
    // Unknown steps are named with a suggestion.
    let e = engine
        .retry_pattern(&id, &["bb".into()])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no step `bb`") && e.contains("b"), "{e}");
}

#[tokio::test]
async fn cancelling_a_pattern_cancels_its_running_children() {
    let (_d, packs) = setup(3).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    add_pattern(
        &engine,
        "wide",
        json!({"steps": [
            {"id": "a", "kind": "scan", "pack": "u", "expr": "close > 1"},
            {"id": "b", "kind": "scan", "pack": "u", "expr": "close > 2"},
            {"id": "c", "select": {"from": "{{ state.a.outputs.tickers }}"}}
        ]}),
    )
    .await;
    let id = start(&engine, "wide", json!({})).await;
    let children = engine.store().children(&id).await.unwrap();
    assert_eq!(children.len(), 2);
    assert!(children.iter().all(|c| !c.state.is_terminal()));
    engine.cancel(&id).await.unwrap();
    for c in engine.store().children(&id).await.unwrap() {
        assert_eq!(c.state, ExecutionState::Cancelled, "{}", c.id);
    }
    assert!(
        engine.step(None).await.unwrap().is_none(),
        "nothing runs after a cancel"
    );
    let r = report(&engine, &id).await;
    assert_eq!(r.state, ExecutionState::Cancelled);
    assert_eq!(status(&r, "c"), StepStatus::Pending);
}

#[tokio::test]
async fn bad_inputs_and_self_nesting_are_refused_with_their_path() {
    let (_d, packs) = setup(2).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    add_pattern(&engine, "routine", routine()).await;
    let e = engine
        .submit(request("routine", json!({"min_signal": 1})))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("inputs.min_signal") && e.contains("min_signals"),
        "{e}"
    );
    let e = engine
        .submit(request("routine", json!({"min_signals": "high"})))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("inputs.min_signals: expected a number"), "{e}");
    // A pattern that runs itself stops at the nesting limit with an error, not a hang.
    add_pattern(
        &engine,
        "again",
        json!({"steps": [{"id": "me", "pattern": "again"}]}),
    )
    .await;
    let id = start(&engine, "again", json!({})).await;
    drain(&engine).await;
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Failed);
    assert!(
        rec.error_message
            .as_ref()
            .unwrap()
            .contains("patterns deep"),
        "{:?}",
        rec.error_message
    );
    let all = engine.store().unfinished_executions().await.unwrap();
    assert!(all.is_empty(), "every nested pattern ended: {all:?}");
}
