//! Outcomes of claims: results commit exactly once with their `done` state and events; a claim
//! that is no longer the shard's writes nothing; failures retry after their backoff, or fail
//! the shard and (by policy) the execution, once.

use crate::harness::{
    Harness, LONG, T0, all_events, assert_gapless, claim, committed, complete, create,
    failed_events, failure, output,
};
use quantd_core::{ErrorClass, Event, ExecutionState, ShardState};
use quantd_store::prelude::*;
use quantd_store::{
    Commit, Completion, FailureOutcome, HealthSnapshot, Lease, OnComplete, ShardDone,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// The same claim cannot complete twice, nor be completed by another owner.
pub async fn a_second_complete_of_the_same_claim_is_lease_lost<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 2).await;
    let c = claim(&store, "w1", T0, LONG, None).await.unwrap();
    assert_eq!(
        complete(&store, &c, "w2", T0 + 1, b"xx").await,
        Commit::LeaseLost
    );
    committed(complete(&store, &c, "w1", T0 + 2, b"ab").await);
    assert_eq!(
        complete(&store, &c, "w1", T0 + 3, b"cd").await,
        Commit::LeaseLost
    );
    let f = failure("late", FailureOutcome::FailExecution);
    assert_eq!(
        store.fail_shard(&c, "w1", T0 + 4, &f).await.unwrap(),
        Commit::LeaseLost
    );
    assert_eq!(store.result_shards(&id).await.unwrap(), [0]);
    assert_eq!(store.shard_result(&id, 0).await.unwrap().unwrap(), b"ab");
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!((rec.shards_done, rec.rows, rec.bars), (1, 2, 20));
    assert_eq!((rec.state, rec.result_bytes), (ExecutionState::Running, 2));
}

/// After a claim's lease expired and another worker claimed the shard, the first claim can
/// neither commit nor fail it; the second commits once.
pub async fn a_stale_claim_cannot_commit_after_a_reclaim<H: Harness>(h: &H) {
    let (a, b) = (h.open().await, h.open().await);
    let id = create(&a, 1, 1).await;
    let stale = claim(&a, "w1", T0, T0 + 10, None).await.unwrap();
    assert_eq!(
        b.recover_shards(T0 + 10, |_| true, 0)
            .await
            .unwrap()
            .requeued,
        1
    );
    let fresh = claim(&b, "w2", T0 + 11, LONG, None).await.unwrap();
    assert_eq!(
        complete(&a, &stale, "w1", T0 + 12, b"old").await,
        Commit::LeaseLost
    );
    let f = failure("stale", FailureOutcome::FailExecution);
    assert_eq!(
        a.fail_shard(&stale, "w1", T0 + 12, &f).await.unwrap(),
        Commit::LeaseLost
    );
    assert!(!a.stop_shard(&stale, "w1", T0 + 12).await.unwrap());
    assert!(!a.release_shard(&stale, "w1").await.unwrap());
    committed(complete(&b, &fresh, "w2", T0 + 13, b"new").await);
    assert_eq!(a.result_shards(&id).await.unwrap(), [0]);
    assert_eq!(a.shard_result(&id, 0).await.unwrap().unwrap(), b"new");
    let rec = a.execution(&id).await.unwrap().unwrap();
    assert_eq!((rec.state, rec.rows), (ExecutionState::Completed, 3));
}

/// A worker whose lease expired and who claimed the same shard again (the same owner and, as
/// recovery counts no attempt, the same attempt number) holds a new claim: the earlier one,
/// whether it came from a claim or from `create_execution`'s first claim, writes nothing.
pub async fn a_reclaim_by_the_same_owner_fences_the_earlier_claim<H: Harness>(h: &H) {
    let (a, b) = (h.open().await, h.open().await);
    let mut e = crate::harness::execution(1, "default", 2);
    e.first_claim = Some(Lease {
        owner: "w".into(),
        until: T0 + 10,
    });
    let id = e.id.clone();
    let first = a.create_execution(&e).await.unwrap().claimed.unwrap();
    let second = claim(&a, "w", T0 + 1, T0 + 10, None).await.unwrap();
    assert_eq!(
        b.recover_shards(T0 + 10, |_| true, 0)
            .await
            .unwrap()
            .requeued,
        2
    );
    for stale in [first, second] {
        let fresh = claim(&a, "w", T0 + 11, LONG, None).await.unwrap();
        assert_eq!((fresh.idx, fresh.attempt), (stale.idx, stale.attempt));
        assert_eq!(
            complete(&a, &stale, "w", T0 + 12, b"old").await,
            Commit::LeaseLost
        );
        let f = failure("stale", FailureOutcome::FailExecution);
        assert_eq!(
            a.fail_shard(&stale, "w", T0 + 12, &f).await.unwrap(),
            Commit::LeaseLost
        );
        assert!(!a.stop_shard(&stale, "w", T0 + 12).await.unwrap());
        assert!(!a.release_shard(&stale, "w").await.unwrap());
        committed(complete(&a, &fresh, "w", T0 + 13, b"new").await);
    }
    for idx in 0..2 {
        assert_eq!(a.shard_result(&id, idx).await.unwrap().unwrap(), b"new");
    }
    let rec = a.execution(&id).await.unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.failed_attempts),
        (ExecutionState::Completed, 0)
    );
}

/// The commit of the last shard completes the execution in the same transaction, with what
/// `on_complete` computes from the record as completed (called once, for that commit only).
pub async fn the_last_commit_completes_the_execution_with_its_completion<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 2).await;
    let calls = Arc::new(AtomicU32::new(0));
    let on_complete = |calls: Arc<AtomicU32>| -> OnComplete {
        Box::new(move |rec, shards| {
            calls.fetch_add(1, Ordering::SeqCst);
            assert_eq!(rec.state, ExecutionState::Completed);
            assert!(shards.iter().all(|s| s.state == ShardState::Done));
            Completion {
                summary: Some(serde_json::json!({ "rows": rec.rows })),
                health: HealthSnapshot {
                    score: 97,
                    band: "excellent".into(),
                    body: serde_json::json!({}),
                },
            }
        })
    };
    let first = claim(&store, "w", T0, LONG, None).await.unwrap();
    let second = claim(&store, "w", T0, LONG, None).await.unwrap();
    let out = output(b"abc");
    let c1 = store
        .complete_shard(&first, "w", T0 + 1, &out, Some(on_complete(calls.clone())))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0, "not the last shard");
    assert!(committed(c1).iter().all(|e| !e.event.is_final()));
    let out = output(b"de");
    let c2 = committed(
        store
            .complete_shard(&second, "w", T0 + 2, &out, Some(on_complete(calls.clone())))
            .await
            .unwrap(),
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let kinds: Vec<_> = c2.iter().map(|e| e.event.clone()).collect();
    assert!(matches!(
        kinds[0],
        Event::ShardCompleted { shard: 1, rows: 2 }
    ));
    assert!(matches!(
        kinds[1],
        Event::Progress {
            done: 2,
            total: 2,
            rows: 5,
            ..
        }
    ));
    assert_eq!(
        kinds[2],
        Event::Health {
            score: 97,
            band: "excellent".into()
        }
    );
    assert_eq!(kinds[3], Event::ExecutionCompleted { failed_shards: 0 });
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!(rec.state, ExecutionState::Completed);
    assert_eq!(rec.finished_at, Some(T0 + 2));
    assert_eq!(rec.summary, Some(serde_json::json!({"rows": 5})));
    assert_eq!(
        (rec.shards_done, rec.rows, rec.bars, rec.result_bytes),
        (2, 5, 50, 5)
    );
    assert_eq!(store.result_shards(&id).await.unwrap(), [0, 1]);
    assert_eq!(store.shard_result(&id, 1).await.unwrap().unwrap(), b"de");
    assert!(store.shard_result(&id, 2).await.unwrap().is_none());
    assert_gapless(&all_events(&store, &id).await);
}

/// Results that would take the execution's stored bytes over its limit are not stored; the
/// claim stays the worker's, so it can record the failure.
pub async fn results_over_the_limit_are_not_stored<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 2).await;
    let first = claim(&store, "w", T0, LONG, None).await.unwrap();
    let second = claim(&store, "w", T0, LONG, None).await.unwrap();
    let mut out = output(b"123456");
    out.max_result_bytes = 10;
    committed(
        store
            .complete_shard(&first, "w", T0 + 1, &out, None)
            .await
            .unwrap(),
    );
    let big = ShardDone {
        body: b"78901",
        ..out
    };
    let refused = store
        .complete_shard(&second, "w", T0 + 2, &big, None)
        .await
        .unwrap();
    assert_eq!(refused, Commit::OverLimit(11));
    assert_eq!(store.result_shards(&id).await.unwrap(), [0]);
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!((rec.result_bytes, rec.shards_done), (6, 1));
    assert_eq!(
        store.shards(&id).await.unwrap()[1].state,
        ShardState::Running
    );
    let f = failure("results too big", FailureOutcome::FailExecution);
    committed(store.fail_shard(&second, "w", T0 + 3, &f).await.unwrap());
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!(rec.state, ExecutionState::Failed);
}

/// A retried shard waits for its backoff: no claim before `not_before`, attempt 2 after.
pub async fn retries_wait_for_their_backoff<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 1).await;
    let c = claim(&store, "w", T0, LONG, None).await.unwrap();
    let f = failure("flaky", FailureOutcome::RetryAt(T0 + 5_000));
    let events = committed(store.fail_shard(&c, "w", T0 + 100, &f).await.unwrap());
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].event,
        Event::ShardRetrying {
            shard: 0,
            attempt: 2,
            delay_ms: 4_900,
            class: ErrorClass::Internal
        }
    );
    let shard = &store.shards(&id).await.unwrap()[0];
    assert_eq!(shard.state, ShardState::Pending);
    assert_eq!(shard.error_message.as_deref(), Some("flaky"));
    assert!(claim(&store, "w", T0 + 4_999, LONG, None).await.is_none());
    let retry = claim(&store, "w", T0 + 5_000, LONG, None).await.unwrap();
    assert_eq!(retry.attempt, 2);
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!((rec.attempts, rec.failed_attempts), (2, 1));
}

/// A shard failing for good under the `fail` policy fails the execution (its pending shards
/// cancelled); a second shard failing afterwards is recorded on the shard only, without a
/// second execution failure.
pub async fn a_failing_shard_fails_its_execution_once<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 3).await;
    let s0 = claim(&store, "w1", T0, LONG, None).await.unwrap();
    let s1 = claim(&store, "w2", T0, LONG, None).await.unwrap();
    let f = failure("first", FailureOutcome::FailExecution);
    let events = committed(store.fail_shard(&s0, "w1", T0 + 1, &f).await.unwrap());
    assert_eq!(failed_events(&events), 1);
    let f = failure("second", FailureOutcome::FailExecution);
    let events = committed(store.fail_shard(&s1, "w2", T0 + 2, &f).await.unwrap());
    assert_eq!(failed_events(&events), 0, "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.event, Event::ShardFailed { shard: 1, .. }))
    );
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!(rec.state, ExecutionState::Failed);
    assert_eq!(rec.error_message.as_deref(), Some("first"));
    assert_eq!((rec.shards_failed, rec.failed_attempts), (2, 2));
    let states: Vec<_> = store
        .shards(&id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(
        states,
        [
            ShardState::Failed,
            ShardState::Failed,
            ShardState::Cancelled
        ]
    );
    assert_eq!(failed_events(&all_events(&store, &id).await), 1);
}

/// Under the `continue` policy a failed shard is listed and the execution completes.
pub async fn the_continue_policy_completes_with_failed_shards_listed<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 2).await;
    let s0 = claim(&store, "w", T0, LONG, None).await.unwrap();
    let s1 = claim(&store, "w", T0, LONG, None).await.unwrap();
    let f = failure("bad ticker", FailureOutcome::Continue);
    committed(store.fail_shard(&s0, "w", T0 + 1, &f).await.unwrap());
    let events = committed(complete(&store, &s1, "w", T0 + 2, b"ok").await);
    assert_eq!(
        events.last().unwrap().event,
        Event::ExecutionCompleted { failed_shards: 1 }
    );
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.shards_failed),
        (ExecutionState::Completed, 1)
    );
    assert!(
        store
            .completed_by_fingerprint("fp-1")
            .await
            .unwrap()
            .is_none()
    );
}

/// A shard stopped by a cancellation is `cancelled`; its results are never stored.
pub async fn a_stopped_shard_stores_nothing<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 1).await;
    let c = claim(&store, "w", T0, LONG, None).await.unwrap();
    store
        .change_execution_state(&id, ExecutionState::Cancelled, T0 + 1)
        .await
        .unwrap();
    assert!(!store.stop_shard(&c, "other", T0 + 2).await.unwrap());
    assert!(store.stop_shard(&c, "w", T0 + 2).await.unwrap());
    assert_eq!(
        complete(&store, &c, "w", T0 + 3, b"late").await,
        Commit::LeaseLost
    );
    assert!(store.result_shards(&id).await.unwrap().is_empty());
    assert_eq!(
        store.shards(&id).await.unwrap()[0].state,
        ShardState::Cancelled
    );
}

/// The workers of one process (one handle, one owner) claim and commit at the same time, as a
/// process's worker slots do (Postgres takes such claims and commits in batches): every shard
/// commits once, a stale claim in the middle of them writes nothing, each execution completes
/// once with its completion stored, and each stream reads as if the commits had been made one
/// by one (gapless; `progress` counting up to the total; `health` then `execution-completed`
/// last).
pub async fn concurrent_commits_of_one_process_are_each_fenced_and_ordered<H: Harness>(h: &H) {
    let store = h.open().await;
    let wide = create(&store, 1, 24).await;
    let mut single = Vec::new();
    for n in 2..12 {
        single.push(create(&store, n, 1).await);
    }
    let calls = Arc::new(AtomicU32::new(0));
    let on_complete = |calls: Arc<AtomicU32>| -> OnComplete {
        Box::new(move |rec, shards| {
            calls.fetch_add(1, Ordering::SeqCst);
            assert!(shards.iter().all(|s| s.state == ShardState::Done));
            Completion {
                summary: Some(serde_json::json!({ "rows": rec.rows })),
                health: HealthSnapshot {
                    score: 90,
                    band: "excellent".into(),
                    body: serde_json::json!({}),
                },
            }
        })
    };
    let mut tasks = Vec::new();
    for slot in 0..12 {
        let (store, calls) = (store.clone(), calls.clone());
        tasks.push(tokio::spawn(async move {
            let mut stale = 0;
            while let Some(c) = claim(&store, "w", T0 + 1, LONG, None).await {
                if slot == 0 && stale == 0 {
                    // A claim number this shard was never given: fenced out, nothing written.
                    let mut wrong = c.clone();
                    wrong.claim += 1;
                    let out = output(b"x");
                    let lost = store.complete_shard(&wrong, "w", T0 + 2, &out, None).await;
                    assert_eq!(lost.unwrap(), Commit::LeaseLost);
                    stale += 1;
                }
                let out = output(b"ab");
                let c = store
                    .complete_shard(&c, "w", T0 + 2, &out, Some(on_complete(calls.clone())))
                    .await
                    .unwrap();
                committed(c);
            }
            stale
        }));
    }
    let mut stale = 0;
    for t in tasks {
        stale += t.await.unwrap();
    }
    assert_eq!(stale, 1);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        11,
        "one completion per execution"
    );
    for id in std::iter::once(&wide).chain(&single) {
        let rec = store.execution(id).await.unwrap().unwrap();
        assert_eq!(rec.state, ExecutionState::Completed, "{id}");
        assert_eq!(rec.shards_done, rec.shards_total);
        assert_eq!(rec.rows, 2 * rec.shards_total as u64);
        assert_eq!(rec.summary, Some(serde_json::json!({ "rows": rec.rows })));
        let shards = store.shards(id).await.unwrap();
        assert!(shards.iter().all(|s| s.state == ShardState::Done));
        let events = all_events(&store, id).await;
        assert_gapless(&events);
        let done: Vec<u32> = events
            .iter()
            .filter_map(|e| match e.event {
                Event::Progress { done, .. } => Some(done),
                _ => None,
            })
            .collect();
        let expected: Vec<u32> = (1..=rec.shards_total).collect();
        assert_eq!(
            done, expected,
            "{id}: progress counts each commit once, in order"
        );
        let n = events.len();
        assert!(matches!(
            events[n - 2].event,
            Event::Health { score: 90, .. }
        ));
        assert!(matches!(
            events[n - 1].event,
            Event::ExecutionCompleted { failed_shards: 0 }
        ));
        let finals = events.iter().filter(|e| e.event.is_final()).count();
        assert_eq!(finals, 1);
    }
}
