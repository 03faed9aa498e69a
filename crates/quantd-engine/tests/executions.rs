//! The execution engine driven shard by shard (`Engine::step`) with a manual clock: results,
//! events, retries and backoff, failure policies, pause/resume, cancel, recovery, reuse, the
//! freshness gate. No sleeps decide an outcome here.

mod common;

use common::*;
use quantd_core::{ErrorClass, Event, ExecutionState, NoProgress, ShardState};
use quantd_data::SynthSpec;
use quantd_engine::exec::clock::ManualClock;
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::exec::retry::RetryPolicy;
use quantd_engine::exec::{Engine, EngineOptions, ExecutionOptions, ShardFailurePolicy, Step};
use quantd_engine::scan::Signals;
use quantd_store::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

#[tokio::test]
async fn an_execution_gives_the_bare_scans_rows_and_numbered_events() {
    let (_d, packs) = setup(60).await;
    let clock = ManualClock::new(1_000_000);
    let engine = engine(&packs, clock.clone()).await;
    let mut live = engine.subscribe();
    let sub = engine
        .submit(scan(ExecutionOptions::default()))
        .await
        .unwrap();
    let id = sub.execution.id.clone();
    assert!(
        sub.execution.shards_total >= 2,
        "the plan has several shards: {}",
        sub.execution.shards_total
    );
    let steps = drain(&engine, &id).await;
    assert_eq!(steps.len() as u32, sub.execution.shards_total);
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Completed);
    assert_eq!(rec.shards_done, rec.shards_total);
    let ours = rows(&engine, &id).await;
    assert!(!ours.is_empty());
    assert_eq!(
        ours,
        bare(&packs).await,
        "engine rows = bare scan rows, same order"
    );
    assert_eq!(rec.rows, ours.len() as u64);

    let events = engine.store().events_after(&id, 0, 10_000).await.unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "gapless from 1"
    );
    assert!(matches!(events[0].event, Event::ExecutionCreated { .. }));
    assert!(matches!(events[1].event, Event::ExecutionStarted));
    assert!(matches!(
        events.last().unwrap().event,
        Event::ExecutionCompleted { failed_shards: 0 }
    ));
    let mut broadcast = vec![];
    while let Ok(e) = live.try_recv() {
        broadcast.push(e.seq);
    }
    assert_eq!(
        broadcast, seqs,
        "every committed event was broadcast once, in order"
    );
}

#[tokio::test]
async fn failed_shards_retry_with_backoff_on_the_injected_clock() {
    let (_d, packs) = setup(60).await;
    let clock = ManualClock::new(1_000_000);
    let fails = Arc::new(AtomicU32::new(0));
    let f = fails.clone();
    let retry = RetryPolicy {
        initial_interval: 1_000,
        backoff_coefficient: 2.0,
        jitter: 0.0,
        maximum_attempts: 3,
        ..Default::default()
    };
    let options = EngineOptions {
        retry: retry.clone(),
        ..common::options()
    };
    let engine = Engine::with_clock(packs.clone(), options, clock.clone())
        .await
        .unwrap()
        .with_fault(Arc::new(move |_, shard, attempt| {
            (shard == 0 && attempt <= 2).then(|| {
                f.fetch_add(1, Ordering::SeqCst);
                (
                    ErrorClass::Network,
                    format!("injected failure, attempt {attempt}"),
                )
            })
        }));
    let id = engine
        .submit(scan(ExecutionOptions {
            retry,
            ..Default::default()
        }))
        .await
        .unwrap()
        .execution
        .id;

    assert_eq!(
        engine.step(Some(&id)).await.unwrap(),
        Some(Step::Failed {
            execution: id.clone(),
            shard: 0,
            class: ErrorClass::Network
        })
    );
    let others = drain(&engine, &id).await;
    assert!(
        others
            .iter()
            .all(|s| matches!(s, Step::Done { shard, .. } if *shard > 0)),
        "shard 0 waits: {others:?}"
    );
    clock.advance(999);
    assert_eq!(
        engine.step(Some(&id)).await.unwrap(),
        None,
        "still backing off"
    );
    clock.advance(1);
    assert!(
        matches!(
            engine.step(Some(&id)).await.unwrap(),
            Some(Step::Failed { shard: 0, .. })
        ),
        "attempt 2 fails"
    );
    clock.advance(1_999);
    assert_eq!(
        engine.step(Some(&id)).await.unwrap(),
        None,
        "second delay is 2 s"
    );
    clock.advance(1);
    assert!(matches!(
        engine.step(Some(&id)).await.unwrap(),
        Some(Step::Done { shard: 0, .. })
    ));
    assert_eq!(fails.load(Ordering::SeqCst), 2);
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Completed);
    assert_eq!(
        (rec.attempts, rec.failed_attempts),
        (rec.shards_total + 2, 2)
    );
    let delays: Vec<u64> = engine
        .store()
        .events_after(&id, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event {
            Event::ShardRetrying { delay_ms, .. } => Some(delay_ms),
            _ => None,
        })
        .collect();
    assert_eq!(delays, [1_000, 2_000]);
    assert_eq!(
        rows(&engine, &id).await,
        bare(&packs).await,
        "a retried shard's rows are stored once"
    );
}

#[tokio::test]
async fn non_retryable_errors_fail_fast_or_continue_by_policy() {
    let (_d, packs) = setup(60).await;
    let clock = ManualClock::new(1_000_000);
    let engine = engine(&packs, clock.clone())
        .await
        .with_fault(shard_1_has_bad_data());

    let id = default_scan(&engine, Submit::Queue).await;
    let steps = drain(&engine, &id).await;
    assert_eq!(
        steps[1],
        Step::Failed {
            execution: id.clone(),
            shard: 1,
            class: ErrorClass::Data
        }
    );
    assert_eq!(steps.len(), 2, "fail fast: nothing runs after the failure");
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Failed);
    assert_eq!(rec.error_class, Some(ErrorClass::Data));
    assert_eq!(rec.failed_attempts, 1, "data errors are not retried");
    let shards = engine.store().shards(&id).await.unwrap();
    assert_eq!(
        shards[0].state,
        ShardState::Done,
        "work done before the failure stays"
    );
    assert!(shards[2..].iter().all(|s| s.state == ShardState::Cancelled));

    let opts = ExecutionOptions {
        on_shard_failure: ShardFailurePolicy::Continue,
        ..Default::default()
    };
    let id = engine.submit(scan(opts)).await.unwrap().execution.id;
    drain(&engine, &id).await;
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Completed);
    assert_eq!(
        (rec.shards_failed, rec.shards_done),
        (1, rec.shards_total - 1)
    );
    let last = engine
        .store()
        .events_after(&id, 0, 10_000)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.event, Event::ExecutionCompleted { failed_shards: 1 });
}

#[tokio::test]
async fn pause_stops_new_shards_and_resume_continues() {
    let (_d, packs) = setup(60).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    let id = default_scan(&engine, Submit::Queue).await;
    assert!(engine.step(Some(&id)).await.unwrap().is_some());
    assert_eq!(
        engine.pause(&id).await.unwrap().state,
        ExecutionState::Paused
    );
    assert_eq!(
        engine.step(Some(&id)).await.unwrap(),
        None,
        "paused: nothing is claimed"
    );
    assert!(engine.pause(&id).await.is_err(), "pausing twice is refused");
    assert_eq!(
        engine.resume(&id).await.unwrap().state,
        ExecutionState::Running
    );
    drain(&engine, &id).await;
    assert_eq!(
        engine.execution(&id).await.unwrap().state,
        ExecutionState::Completed
    );
    assert_eq!(rows(&engine, &id).await, bare(&packs).await);
    let err = engine.resume(&id).await.unwrap_err().to_string();
    assert!(err.contains("completed"), "{err}");
}

#[tokio::test]
async fn cancel_stops_a_running_execution_within_a_second_and_keeps_results() {
    let (_d, packs) = setup(400).await;
    let engine = Arc::new(Engine::new(packs.clone(), options()).await.unwrap());
    let id = default_scan(&engine, Submit::Queue).await;
    let mut live = engine.subscribe();
    let runner = {
        let (engine, id) = (engine.clone(), id.clone());
        tokio::spawn(async move { engine.run(&id, 1).await })
    };
    // Wait for the first committed shard, then cancel.
    loop {
        let e = live.recv().await.unwrap();
        if matches!(e.event, Event::ShardCompleted { .. }) {
            break;
        }
    }
    let asked = std::time::Instant::now();
    engine.cancel(&id).await.unwrap();
    let rec = runner.await.unwrap().unwrap();
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(1),
        "cancel took {:?}",
        asked.elapsed()
    );
    assert_eq!(rec.state, ExecutionState::Cancelled);
    assert!(rec.shards_done >= 1 && rec.shards_done < rec.shards_total);
    assert_eq!(
        rows(&engine, &id).await.len() as u64,
        rec.rows,
        "committed rows stay readable"
    );
}

#[tokio::test]
async fn shards_of_a_dead_worker_run_again_without_duplicates() {
    let (_d, packs) = setup(60).await;
    let clock = ManualClock::new(1_000_000);
    let first = engine(&packs, clock.clone()).await;
    let id = default_scan(&first, Submit::Queue).await;
    first.step(Some(&id)).await.unwrap();
    // A worker that claimed shard 1 and died (its lock file does not exist).
    let claimed = claim_as(&first, "worker-dead-0", &clock, &id).await;
    assert_eq!(claimed.idx, 1);
    drop(first);
    let second = engine(&packs, clock.clone()).await; // recovers on start
    let steps = drain(&second, &id).await;
    assert!(
        steps
            .iter()
            .any(|s| matches!(s, Step::Done { shard: 1, .. })),
        "shard 1 ran again: {steps:?}"
    );
    assert_eq!(
        second.execution(&id).await.unwrap().state,
        ExecutionState::Completed
    );
    assert_eq!(rows(&second, &id).await, bare(&packs).await);
    // The dead worker's late commit is refused: its lease is gone.
    let late = second
        .store()
        .complete_shard(
            &claimed,
            "worker-dead-0",
            clock.now(),
            &quantd_store::ShardDone {
                bars: 0,
                rows: 0,
                body: b"",
                max_result_bytes: u64::MAX,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(late, quantd_store::Commit::LeaseLost);
}

#[tokio::test]
async fn a_started_execution_holds_its_first_shard_and_runs_it_first() {
    let (_d, packs) = setup(60).await;
    let clock = ManualClock::new(1_000_000);
    let engine = engine(&packs, clock.clone()).await;
    let sub = engine
        .start(scan(ExecutionOptions::default()))
        .await
        .unwrap();
    let id = sub.execution.id.clone();
    assert_eq!(sub.execution.state, ExecutionState::Running);
    assert_eq!(sub.execution.started_at, Some(clock.now()));
    let shards = engine.store().shards(&id).await.unwrap();
    assert!(shards.len() >= 2, "several shards: {}", shards.len());
    assert_eq!(
        (shards[0].state, shards[0].attempt, shards[0].started_at),
        (ShardState::Running, 1, Some(clock.now()))
    );
    assert!(
        shards[1..]
            .iter()
            .all(|s| s.state == ShardState::Pending && s.attempt == 0)
    );
    // Nobody else can claim it: it is leased to this engine.
    let other = claim_as(&engine, "worker-other-0", &clock, &id).await;
    assert_eq!(other.idx, 1, "the next claim skips the held shard");
    engine
        .store()
        .release_shard(&other, "worker-other-0")
        .await
        .unwrap();

    let steps = drain(&engine, &id).await;
    assert_eq!(
        steps.first(),
        Some(&Step::Done {
            execution: id.clone(),
            shard: 0
        }),
        "the held shard runs first"
    );
    assert_eq!(steps.len(), shards.len());
    assert_eq!(rows(&engine, &id).await, bare(&packs).await);
    let events = engine.store().events_after(&id, 0, 10_000).await.unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    assert!(matches!(events[0].event, Event::ExecutionCreated { .. }));
    assert!(matches!(events[1].event, Event::ExecutionStarted));
    assert!(matches!(
        events[2].event,
        Event::ShardStarted {
            shard: 0,
            attempt: 1
        }
    ));
    let starts_of_0 = events
        .iter()
        .filter(|e| matches!(e.event, Event::ShardStarted { shard: 0, .. }))
        .count();
    assert_eq!(starts_of_0, 1, "shard 0 was claimed once");
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Completed);
    assert_eq!(rec.attempts as usize, shards.len() + 1, "{rec:?}");
}

#[tokio::test]
async fn the_first_shard_of_a_starter_that_died_runs_again() {
    let (_d, packs) = setup(60).await;
    let clock = ManualClock::new(1_000_000);
    let first = engine(&packs, clock.clone()).await;
    let id = default_scan(&first, Submit::RunHere).await;
    drop(first);
    let second = engine(&packs, clock.clone()).await; // recovers on start
    let steps = drain(&second, &id).await;
    assert!(steps.contains(&Step::Done {
        execution: id.clone(),
        shard: 0
    }));
    // Claimed twice; the dead starter's attempt does not count against the retry policy.
    let events = second.store().events_after(&id, 0, 10_000).await.unwrap();
    let starts_of_0: Vec<u32> = events
        .iter()
        .filter_map(|e| match e.event {
            Event::ShardStarted { shard: 0, attempt } => Some(attempt),
            _ => None,
        })
        .collect();
    assert_eq!(starts_of_0, [1, 1]);
    assert_eq!(second.store().shards(&id).await.unwrap()[0].attempt, 1);
    assert_eq!(
        second.execution(&id).await.unwrap().state,
        ExecutionState::Completed
    );
    assert_eq!(rows(&second, &id).await, bare(&packs).await);
}

#[tokio::test]
async fn reuse_returns_a_completed_execution_with_the_same_fingerprint() {
    let (_d, packs) = setup(20).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    let first = engine
        .submit(scan(ExecutionOptions::default()))
        .await
        .unwrap()
        .execution;
    drain(&engine, &first.id).await;
    let again = engine
        .submit(SubmitRequest {
            reuse: true,
            ..scan(ExecutionOptions::default())
        })
        .await
        .unwrap();
    assert!(again.reused);
    assert_eq!(again.execution.id, first.id);
    let fresh = engine
        .submit(scan(ExecutionOptions::default()))
        .await
        .unwrap();
    assert!(!fresh.reused, "without --reuse a new execution is made");
    assert_eq!(fresh.execution.fingerprint, first.fingerprint);
}

#[tokio::test]
async fn the_freshness_gate_refuses_error_packs_and_warns_on_stale_ones() {
    let (_d, packs) = setup(10).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    packs
        .synth(
            "u",
            SynthSpec {
                tickers: 5,
                days: 100,
                ..Default::default()
            },
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
    let stale_id = packs
        .list(&quantd_store::Page::all())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|p| p.state == quantd_core::PackState::Stale)
        .unwrap()
        .id;
    let sub = engine
        .submit(SubmitRequest {
            pack: Some(stale_id.to_string()),
            ..scan(ExecutionOptions::default())
        })
        .await
        .unwrap();
    assert!(sub.warnings[0].contains("stale"), "{:?}", sub.warnings);
}

#[tokio::test]
async fn a_warming_pack_is_refused_with_its_ready_time() {
    let (_d, packs) = setup(10).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    let live = packs.find(Some("u")).await.unwrap();
    let ready = chrono::Utc::now() + chrono::Duration::seconds(30);
    let warming = quantd_store::NewPack {
        name: "w".into(),
        id: quantd_core::PackId::from_digest([7; 32]),
        import_token: "import-held-elsewhere".into(),
        estimated_ready: ready,
        tickers: 1,
        bars: 1,
        first_date: live.first_date,
        last_date: live.last_date,
        timing: Default::default(),
        columns: live.columns.clone(),
        rows_dropped: 0,
        origin: "test".into(),
        rights: Default::default(),
    };
    packs.store().begin_import(&warming).await.unwrap();
    let err = engine
        .submit(SubmitRequest {
            pack: Some("w".into()),
            ..scan(ExecutionOptions::default())
        })
        .await
        .unwrap_err();
    match err {
        quantd_engine::EngineError::PackNotReady {
            message,
            estimated_ready,
        } => {
            assert!(message.contains("warming"), "{message}");
            assert_eq!(estimated_ready.unwrap().timestamp(), ready.timestamp());
        }
        other => panic!("expected PackNotReady, got {other:?}"),
    }
    packs
        .store()
        .fail_import("w", &quantd_core::PackId::from_digest([7; 32]), "disk full")
        .await
        .unwrap();
    let err = engine
        .submit(SubmitRequest {
            pack: Some("w".into()),
            ..scan(ExecutionOptions::default())
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unusable: disk full"), "{err}");
    assert!(
        engine
            .store()
            .list_executions(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "refusals create nothing"
    );
}

#[tokio::test]
async fn a_cancel_from_another_process_reaches_this_engines_shards() {
    let (_dir, packs) = setup(20).await;
    let clock = ManualClock::new(1_000_000);
    let here = engine(&packs, clock.clone()).await;
    let elsewhere = engine(&packs, clock.clone()).await;
    let id = default_scan(&here, Submit::Queue).await;
    assert!(matches!(
        here.step(Some(&id)).await.unwrap(),
        Some(Step::Done { .. })
    ));
    assert_eq!(here.observe_cancellations().await.unwrap(), 0);
    assert!(!here.cancel_requested(&id));

    elsewhere.cancel(&id).await.unwrap();
    assert!(!here.cancel_requested(&id), "not seen until observed");
    assert_eq!(here.observe_cancellations().await.unwrap(), 1);
    assert!(here.cancel_requested(&id), "its running shards stop");
    assert_eq!(
        here.observe_cancellations().await.unwrap(),
        0,
        "counted once"
    );
    assert!(
        !here.cancel_requested(&id),
        "then forgotten: it is finished"
    );
    assert!(
        here.step(Some(&id)).await.unwrap().is_none(),
        "no shard starts"
    );
    assert_eq!(
        here.execution(&id).await.unwrap().state,
        ExecutionState::Cancelled
    );
}

#[tokio::test]
async fn run_commits_the_summary_and_final_health_with_the_last_shard() {
    let (_d, packs) = setup(300).await;
    let engine = Engine::new(packs.clone(), options()).await.unwrap();
    let sub = engine
        .submit(scan(ExecutionOptions::default()))
        .await
        .unwrap();
    let id = sub.execution.id.clone();
    assert!(
        sub.execution.shards_total >= 3,
        "several shards to pipeline"
    );
    let rec = engine.run(&id, 2).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Completed);
    assert_eq!(
        rec,
        engine.execution(&id).await.unwrap(),
        "the record as stored"
    );
    assert_eq!(rows(&engine, &id).await, bare(&packs).await);

    // The summary stored with the last shard = the one counted from the stored rows.
    let stored = rec
        .summary
        .clone()
        .expect("summary stored with the last shard");
    let mut all = Signals::default();
    engine
        .scan_results(&id, |s: &Signals| {
            if all.tickers.is_empty() {
                all = s.clone();
            } else {
                all.ticker.extend_from_slice(&s.ticker);
                all.stamp.extend_from_slice(&s.stamp);
                all.values.extend_from_slice(&s.values);
            }
            Ok(())
        })
        .await
        .unwrap();
    let counted = quantd_engine::scan::summarize(&all, 300, rec.bars);
    assert_eq!(stored, serde_json::to_value(&counted).unwrap());

    // Events: gapless, one health snapshot, committed just before the end.
    let events = engine.store().events_after(&id, 0, 10_000).await.unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    let n = events.len();
    assert!(matches!(
        events[n - 2].event,
        Event::Health { score: 100, .. }
    ));
    assert!(matches!(
        events[n - 1].event,
        Event::ExecutionCompleted { failed_shards: 0 }
    ));
    let healths = events
        .iter()
        .filter(|e| matches!(e.event, Event::Health { .. }))
        .count();
    assert_eq!(healths, 1);
    let started = events
        .iter()
        .filter(|e| matches!(e.event, Event::ShardStarted { .. }))
        .count();
    assert_eq!(started as u32, rec.shards_total, "each shard claimed once");
}

#[tokio::test]
async fn run_stops_the_shard_claimed_ahead_when_a_failure_ends_the_execution() {
    let (_d, packs) = setup(300).await;
    let engine = Engine::new(packs.clone(), options())
        .await
        .unwrap()
        .with_fault(shard_1_has_bad_data());
    let id = default_scan(&engine, Submit::Queue).await;
    let rec = engine.run(&id, 2).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Failed);
    let shards = engine.store().shards(&id).await.unwrap();
    assert_eq!(shards[0].state, ShardState::Done);
    assert_eq!(shards[1].state, ShardState::Failed);
    assert!(
        shards[2..].iter().all(|s| s.state == ShardState::Cancelled),
        "{:?}",
        shards.iter().map(|s| s.state).collect::<Vec<_>>()
    );
    assert_eq!(
        engine.store().queue_stats().await.unwrap().running_shards,
        0
    );
}

/// `summary` reads a workspace's executions a page at a time (bounded memory) and still counts
/// every one of them, beyond its first page of 1,000, and none of another workspace's.
#[tokio::test]
async fn the_summary_counts_every_execution_page_by_page() {
    let dir = tempfile::tempdir().unwrap();
    let packs = quantd_engine::Packs::open(quantd_engine::DataDir::new(dir.path()))
        .await
        .unwrap();
    let store = packs.store();
    let new = |i: usize, workspace: &str| quantd_store::NewExecution {
        id: quantd_core::ExecutionId::from_parts(1_000 + i as u64, i as u128),
        workspace: workspace.into(),
        kind: quantd_core::ExecutionKind::Scan,
        name: Some("dip".into()),
        spec: serde_json::json!({ "kind": "scan" }),
        fingerprint: format!("{i:064x}"),
        pack_id: "0".repeat(64),
        code_version: None,
        options: serde_json::json!({}),
        shards: vec![serde_json::json!({})],
        now: 1_000 + i as i64,
        first_claim: None,
        parent: None,
        orchestrated: false,
        priority: 0,
    };
    let ours: Vec<_> = (0..2_345).map(|i| new(i, "w")).collect();
    let theirs: Vec<_> = (2_345..2_400).map(|i| new(i, "other")).collect();
    store.create_executions(&ours).await.unwrap();
    store.create_executions(&theirs).await.unwrap();
    for e in ours.iter().step_by(7) {
        store
            .change_execution_state(&e.id, ExecutionState::Cancelled, 5_000)
            .await
            .unwrap();
    }
    let s = quantd_engine::history::summarize(store, "w", Some("dip"))
        .await
        .unwrap();
    assert_eq!(s.runs, 2_345);
    assert_eq!(s.finished, 2_345_usize.div_ceil(7));
    assert_eq!(s.completed, 0);
    assert_eq!(s.success_rate, Some(0.0));
    assert_eq!(s.best_run, None);
}

/// Per-class retries from the request: `network` gets 5 attempts, `execution` 1, and `timeout`
/// (not retried by default) 3; the backoff is the engine's, on the manual clock.
#[tokio::test]
async fn each_error_class_has_the_attempts_its_request_gives_it() {
    use quantd_core::state::StateMachine;
    use quantd_engine::exec::retry::ClassRetry;
    let (_d, packs) = setup(60).await;
    let clock = ManualClock::new(1_000_000);
    let options = EngineOptions {
        retry: RetryPolicy {
            initial_interval: 1_000,
            backoff_coefficient: 1.0,
            jitter: 0.0,
            ..Default::default()
        },
        ..common::options()
    };
    // Shard 0 fails with the class its execution's name... by execution: the first network,
    // the second execution, the third timeout, every attempt.
    let classes = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let c = classes.clone();
    let engine = Engine::with_clock(packs.clone(), options, clock.clone())
        .await
        .unwrap()
        .with_fault(Arc::new(move |id, shard, _attempt| {
            let class = *c.lock().unwrap().get(id)?;
            (shard == 0).then(|| (class, "injected".to_string()))
        }));
    let mut request = scan(ExecutionOptions {
        on_shard_failure: ShardFailurePolicy::Continue,
        ..Default::default()
    });
    request.options.max_attempts = None;
    request.options.retry = [
        (
            ErrorClass::Network,
            ClassRetry {
                maximum_attempts: Some(5),
                ..Default::default()
            },
        ),
        (
            ErrorClass::Execution,
            ClassRetry {
                maximum_attempts: Some(1),
                ..Default::default()
            },
        ),
        (
            ErrorClass::Timeout,
            ClassRetry {
                maximum_attempts: Some(3),
                timeout_multiplier: Some(2.0),
            },
        ),
    ]
    .into_iter()
    .collect();
    for (class, attempts) in [
        (ErrorClass::Network, 5),
        (ErrorClass::Execution, 1),
        (ErrorClass::Timeout, 3),
        (ErrorClass::Internal, 3),
    ] {
        let id = engine.submit(request.clone()).await.unwrap().execution.id;
        classes.lock().unwrap().insert(id.clone(), class);
        let mut failures = 0;
        loop {
            let steps = drain(&engine, &id).await;
            failures += steps
                .iter()
                .filter(|s| matches!(s, Step::Failed { shard: 0, .. }))
                .count();
            if engine.execution(&id).await.unwrap().state.is_terminal() {
                break;
            }
            clock.advance(1_000);
        }
        assert_eq!(failures, attempts, "{class}: attempts in all");
        let shard0 = &engine.store().shards(&id).await.unwrap()[0];
        assert_eq!(
            (shard0.state, shard0.attempt),
            (ShardState::Failed, attempts as u32),
            "{class}"
        );
    }
}

#[tokio::test]
async fn bad_per_class_retries_are_refused_naming_the_field() {
    let (_d, packs) = setup(10).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    for (retry, needle) in [
        (
            serde_json::json!({"network": {"maximum_attempts": 0}}),
            "`options.retry.network.maximum_attempts` is 0: give 1 to 10",
        ),
        (
            serde_json::json!({"network": {"timeout_multiplier": 2.0}}),
            "only the `timeout` class takes a timeout multiplier",
        ),
        (
            serde_json::json!({"timeout": {"timeout_multiplier": 50.0}}),
            "`options.retry.timeout.timeout_multiplier` is 50: give 1 to 10",
        ),
    ] {
        let mut r = serde_json::to_value(scan(ExecutionOptions::default())).unwrap();
        r["options"]["retry"] = retry;
        let r: SubmitRequest = serde_json::from_value(r).unwrap();
        let e = engine.submit(r).await.unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
    let mut r = serde_json::to_value(scan(ExecutionOptions::default())).unwrap();
    r["options"]["retry"] = serde_json::json!({"netwerk": {"maximum_attempts": 2}});
    let e = serde_json::from_value::<SubmitRequest>(r)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown variant `netwerk`"), "{e}");
    let mut r = scan(ExecutionOptions::default());
    r.priority = Some(11);
    let e = engine.submit(r).await.unwrap_err().to_string();
    assert!(e.contains("`priority` is 11: give -10 to 10"), "{e}");
    assert!(
        engine.records().unfinished().await.unwrap().is_empty(),
        "nothing was stored"
    );
}

/// A workspace's per-class retries are the defaults of its executions; a request's own win class
/// by class; a bad policy is refused naming the field and stores nothing.
#[tokio::test]
async fn workspace_retry_defaults_apply_under_the_requests_own() {
    use quantd_engine::exec::retry::ClassRetry;
    use quantd_engine::policy::WorkspacePolicy;
    let (_d, packs) = setup(10).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    let attempts = |n| ClassRetry {
        maximum_attempts: Some(n),
        ..Default::default()
    };
    let policy = WorkspacePolicy {
        retry: [
            (ErrorClass::Network, attempts(5)),
            (ErrorClass::Execution, attempts(1)),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    engine
        .set_workspace_policy("default", &policy, false)
        .await
        .unwrap();
    assert_eq!(engine.workspace_policy("default").await.unwrap(), policy);
    assert_eq!(
        engine.workspace_policy("other").await.unwrap(),
        WorkspacePolicy::default()
    );

    let mut request = scan(ExecutionOptions::default());
    request.options.retry = [(ErrorClass::Network, attempts(2))].into_iter().collect();
    let rec = engine.submit(request).await.unwrap().execution;
    let stored: ExecutionOptions = serde_json::from_value(rec.options).unwrap();
    assert_eq!(
        stored.retry.per_class[&ErrorClass::Network].maximum_attempts,
        Some(2),
        "the request's own"
    );
    assert_eq!(
        stored.retry.per_class[&ErrorClass::Execution].maximum_attempts,
        Some(1),
        "the workspace's"
    );

    let bad = WorkspacePolicy {
        retry: [(ErrorClass::Network, attempts(99))].into_iter().collect(),
        ..Default::default()
    };
    let e = engine
        .set_workspace_policy("default", &bad, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`retry.network.maximum_attempts` is 99: give 1 to 10"),
        "{e}"
    );
    assert_eq!(
        engine.workspace_policy("default").await.unwrap(),
        policy,
        "unchanged"
    );
}
