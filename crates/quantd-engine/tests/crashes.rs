//! A job that panics, or a worker that dies, costs its shard and never the worker, the process or
//! other executions: the panic boundary records the shard as crashed (class `internal`), a shard
//! that crashed `quarantine_after` times quarantines its execution (also across restarts, when
//! the process itself died), `resume --force` runs it again, and the worker pool keeps all its
//! workers. Driven with a manual clock; no sleep decides an outcome.

mod common;

use common::*;
use quantd_core::{ErrorClass, Event, ExecutionState, ShardState};
use quantd_engine::exec::clock::ManualClock;
use quantd_engine::exec::pool::{Pool, PoolOptions};
use quantd_engine::exec::retry::RetryPolicy;
use quantd_engine::exec::{Engine, ExecutionOptions, FaultHook, ShardFailurePolicy, Step};
use quantd_store::AttemptFailure;
use quantd_store::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Retries internal errors at once, up to 5 attempts.
fn retrying() -> ExecutionOptions {
    ExecutionOptions {
        retry: RetryPolicy {
            initial_interval: 0,
            maximum_attempts: 5,
            jitter: 0.0,
            ..RetryPolicy::default()
        },
        on_shard_failure: ShardFailurePolicy::Fail,
        priority: 0,
        sandbox: Default::default(),
    }
}

/// A fault: shard 0 panics the first `n` times it runs.
fn shard_0_panics(n: u32) -> Arc<FaultHook> {
    let runs = AtomicU32::new(0);
    Arc::new(move |_, shard, attempt| {
        if shard == 0 && runs.fetch_add(1, Ordering::SeqCst) < n {
            panic!("index out of bounds in a job (attempt {attempt})");
        }
        None
    })
}

/// An engine whose retry policy is [`retrying`]'s (a request sets only its attempts).
async fn engine_retrying(packs: &quantd_engine::Packs, clock: Arc<ManualClock>) -> Engine {
    let options = quantd_engine::exec::EngineOptions {
        retry: retrying().retry,
        ..common::options()
    };
    Engine::with_clock(packs.clone(), options, clock)
        .await
        .unwrap()
}

async fn drain(engine: &Engine, id: &quantd_core::ExecutionId) -> Vec<Step> {
    let mut steps = vec![];
    while let Some(s) = engine.step(Some(id)).await.unwrap() {
        steps.push(s);
    }
    steps
}

#[tokio::test]
async fn a_panicking_shard_fails_as_internal_and_the_step_goes_on() {
    let (_d, packs) = setup(30).await;
    let clock = ManualClock::new(1_000_000);
    let engine = engine_retrying(&packs, clock.clone())
        .await
        .with_fault(shard_0_panics(1));
    let id = engine.submit(scan(retrying())).await.unwrap().execution.id;
    let steps = drain(&engine, &id).await;
    assert!(
        matches!(
            steps[0],
            Step::Failed {
                shard: 0,
                class: ErrorClass::Internal,
                ..
            }
        ),
        "{steps:?}"
    );
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Completed, "the retry ran");
    assert!(!rec.quarantined);
    let events = engine.store().events_after(&id, 0, 1_000).await.unwrap();
    assert!(events.iter().any(|e| matches!(
        e.event,
        Event::ShardRetrying {
            shard: 0,
            class: ErrorClass::Internal,
            ..
        }
    )));
    assert_eq!(
        rows(&engine, &id).await,
        bare(&packs).await,
        "no row lost or doubled"
    );
}

#[tokio::test]
async fn a_shard_that_keeps_crashing_is_quarantined_and_resume_force_runs_it_again() {
    let (_d, packs) = setup(30).await;
    let clock = ManualClock::new(1_000_000);
    let engine = engine_retrying(&packs, clock.clone())
        .await
        .with_fault(shard_0_panics(2));
    let id = engine.submit(scan(retrying())).await.unwrap().execution.id;
    drain(&engine, &id).await;
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Failed);
    assert!(
        rec.quarantined,
        "two crashes quarantine (the retry policy allowed 5)"
    );
    assert_eq!(rec.error_class, Some(ErrorClass::Internal));
    let message = rec.error_message.clone().unwrap();
    assert!(
        message.starts_with("quarantined after 2 crashes"),
        "{message}"
    );
    assert!(
        message.contains("index out of bounds in a job"),
        "{message}"
    );
    assert!(message.contains("resume --force"), "{message}");
    // A plain resume is refused; the forced one runs the crashed shard again (the fault only
    // panicked twice) and completes with every row.
    assert!(engine.resume(&id).await.is_err());
    let back = engine.resume_quarantined(&id).await.unwrap();
    assert_eq!(back.state, ExecutionState::Running);
    assert!(!back.quarantined);
    drain(&engine, &id).await;
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(
        rec.state,
        ExecutionState::Completed,
        "{:?}",
        rec.error_message
    );
    assert_eq!(rows(&engine, &id).await, bare(&packs).await);
    // --force is only for quarantined executions.
    assert!(engine.resume_quarantined(&id).await.is_err());
}

#[tokio::test]
async fn a_shard_whose_process_died_twice_is_quarantined_at_the_next_start() {
    let (_d, packs) = setup(30).await;
    let clock = ManualClock::new(1_000_000);
    let engine = engine(&packs, clock.clone()).await;
    let id = engine
        .submit(scan(ExecutionOptions::default()))
        .await
        .unwrap()
        .execution
        .id;
    // Two workers in turn claim shard 0 and die holding it (their lock files were never held:
    // recovery sees them dead).
    for dead in ["worker-dead-1", "worker-dead-2"] {
        let shard = claim_as(&engine, dead, &clock, &id).await;
        assert_eq!(shard.idx, 0);
        engine.recover().await.unwrap();
    }
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(
        rec.state,
        ExecutionState::Failed,
        "no third run of the poison"
    );
    assert!(rec.quarantined);
    assert!(
        rec.error_message
            .as_deref()
            .unwrap()
            .starts_with("quarantined after 2 crashes"),
        "{:?}",
        rec.error_message
    );
    let shards = engine.store().shards(&id).await.unwrap();
    assert_eq!(shards[0].state, ShardState::Failed);
    assert!(shards[1..].iter().all(|s| s.state == ShardState::Cancelled));
    // Nothing of it is claimable any more.
    assert!(engine.step(Some(&id)).await.unwrap().is_none());
}

#[tokio::test]
async fn the_second_of_two_failing_shards_is_recorded_without_a_second_end() {
    let (_d, packs) = setup(30).await;
    let clock = ManualClock::new(1_000_000);
    let engine = engine(&packs, clock.clone()).await;
    let id = engine
        .submit(scan(ExecutionOptions::default()))
        .await
        .unwrap()
        .execution
        .id;
    let a = claim_as(&engine, "worker-a", &clock, &id).await;
    let b = claim_as(&engine, "worker-b", &clock, &id).await;
    for (shard, owner) in [(&a, "worker-a"), (&b, "worker-b")] {
        let failure = AttemptFailure {
            class: ErrorClass::Execution,
            message: "boom",
            crash: false,
            outcome: quantd_store::FailureOutcome::FailExecution,
        };
        let commit = engine
            .store()
            .fail_shard(shard, owner, clock.now(), &failure)
            .await
            .expect("the second failure commits too");
        assert!(matches!(commit, quantd_store::Commit::Committed(_)));
    }
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Failed);
    assert_eq!(rec.shards_failed, 2);
    let events = engine.store().events_after(&id, 0, 1_000).await.unwrap();
    let ends = events
        .iter()
        .filter(|e| matches!(e.event, Event::ExecutionFailed { .. }))
        .count();
    assert_eq!(ends, 1, "one end of the execution");
}

#[tokio::test]
async fn a_pool_keeps_its_workers_through_panicking_jobs_and_serves_other_executions() {
    let (_d, packs) = setup(30).await;
    let clock = ManualClock::new(1_000_000);
    // Every shard of the poisoned execution panics, every attempt; the other runs cleanly.
    let poisoned = Arc::new(std::sync::Mutex::new(None));
    let p = poisoned.clone();
    let hook: Arc<FaultHook> = Arc::new(move |id, _, _| {
        if p.lock().unwrap().as_ref() == Some(id) {
            panic!("poison");
        }
        None
    });
    let engine = Arc::new(
        engine_retrying(&packs, clock.clone())
            .await
            .with_fault(hook),
    );
    let poison = engine.submit(scan(retrying())).await.unwrap().execution.id;
    *poisoned.lock().unwrap() = Some(poison.clone());
    let clean = engine
        .submit(scan(ExecutionOptions::default()))
        .await
        .unwrap()
        .execution
        .id;
    let pool = Pool::new(
        engine.clone(),
        PoolOptions {
            workers: 2,
            ..PoolOptions::default()
        },
    );
    let mut events = engine.subscribe();
    let running = pool.start();
    // Wait (on events, not time) until both executions ended.
    let mut ended = std::collections::HashSet::new();
    while ended.len() < 2 {
        let e = events.recv().await.unwrap();
        if matches!(
            e.event,
            Event::ExecutionCompleted { .. } | Event::ExecutionFailed { .. }
        ) {
            ended.insert(e.execution);
        }
    }
    assert_eq!(pool.alive(), 2, "no worker lost");
    assert_eq!(pool.replaced(), 0, "no worker even needed replacing");
    let rec = engine.execution(&poison).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Failed);
    assert!(rec.quarantined, "{:?}", rec.error_message);
    let rec = engine.execution(&clean).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Completed);
    assert_eq!(rows(&engine, &clean).await, bare(&packs).await);
    running.join(std::time::Duration::from_secs(5)).await;
    assert_eq!(pool.alive(), 0);
}

#[tokio::test]
async fn shards_of_an_ended_execution_held_by_a_dead_worker_leave_the_queue() {
    let (_d, packs) = setup(30).await;
    let clock = ManualClock::new(1_000_000);
    let engine = engine(&packs, clock.clone()).await;
    let id = engine
        .submit(scan(ExecutionOptions::default()))
        .await
        .unwrap()
        .execution
        .id;
    let shard = claim_as(&engine, "worker-dead", &clock, &id).await;
    engine.cancel(&id).await.unwrap();
    let stats = engine.store().queue_stats().await.unwrap();
    assert_eq!(
        stats.pending_shards, 0,
        "a cancelled execution's shards wait for nothing"
    );
    engine.recover().await.unwrap();
    let shards = engine.store().shards(&id).await.unwrap();
    assert_eq!(shards[shard.idx as usize].state, ShardState::Cancelled);
    let stats = engine.store().queue_stats().await.unwrap();
    assert_eq!((stats.pending_shards, stats.running_shards), (0, 0));
}

#[tokio::test]
async fn crashes_count_in_a_row_a_commit_between_them_starts_again() {
    let (_d, packs) = setup(30).await;
    let clock = ManualClock::new(1_000_000);
    let engine = engine(&packs, clock.clone()).await;
    let id = engine
        .submit(scan(ExecutionOptions::default()))
        .await
        .unwrap()
        .execution
        .id;
    // A dead worker held two shards at once: one crash of the execution.
    claim_as(&engine, "worker-dead-1", &clock, &id).await;
    claim_as(&engine, "worker-dead-1", &clock, &id).await;
    engine.recover().await.unwrap();
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.crash_streak, 1);
    assert_eq!(
        rec.state,
        ExecutionState::Running,
        "started, not quarantined"
    );
    // A shard commits: the streak starts again.
    assert!(matches!(
        engine.step(Some(&id)).await.unwrap(),
        Some(Step::Done { .. })
    ));
    assert_eq!(engine.execution(&id).await.unwrap().crash_streak, 0);
    // Another death, after progress: not quarantined.
    claim_as(&engine, "worker-dead-2", &clock, &id).await;
    engine.recover().await.unwrap();
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.crash_streak, 1);
    assert!(!rec.quarantined);
    while engine.step(Some(&id)).await.unwrap().is_some() {}
    let rec = engine.execution(&id).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Completed);
    assert_eq!(rows(&engine, &id).await, bare(&packs).await);
}
