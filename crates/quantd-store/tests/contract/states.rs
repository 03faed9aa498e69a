//! State transitions and queue stats: pause, resume and cancel follow the execution state
//! machine and refuse, changing nothing, what it does not allow; the queue's counts show what
//! will run.

use crate::harness::{Harness, LONG, T0, all_events, assert_gapless, claim, complete, create};
use quantd_core::{Event, ExecutionKind, ExecutionState, ShardState};
use quantd_store::StoreError;
use quantd_store::prelude::*;

async fn refused(store: &impl Store, id: &quantd_core::ExecutionId, to: ExecutionState) -> String {
    let before = all_events(store, id).await.len();
    let err = store
        .change_execution_state(id, to, T0 + 99)
        .await
        .expect_err("refused");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        all_events(store, id).await.len(),
        before,
        "a refusal appends nothing"
    );
    err.to_string()
}

/// Pause and resume go back to where the execution was (pending if no shard ever started,
/// running otherwise); paused executions give no shards; illegal changes are refused.
pub async fn pause_resume_and_cancel_follow_the_state_machine<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 3).await;
    let ev = store
        .change_execution_state(&id, ExecutionState::Paused, T0 + 1)
        .await
        .unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].event, Event::ExecutionPaused);
    let msg = refused(&store, &id, ExecutionState::Paused).await;
    assert!(msg.contains("paused"), "{msg}");
    store
        .change_execution_state(&id, ExecutionState::Running, T0 + 2)
        .await
        .unwrap();
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!(rec.state, ExecutionState::Pending, "no shard ever started");
    let msg = refused(&store, &id, ExecutionState::Running).await;
    assert!(msg.contains("not paused"), "{msg}");

    let c = claim(&store, "w", T0 + 3, LONG, None).await.unwrap();
    store
        .change_execution_state(&id, ExecutionState::Paused, T0 + 4)
        .await
        .unwrap();
    assert!(claim(&store, "w", T0 + 5, LONG, None).await.is_none());
    // A shard that was running when the execution paused still commits.
    assert!(matches!(
        complete(&store, &c, "w", T0 + 6, b"r").await,
        quantd_store::Commit::Committed(_)
    ));
    let ev = store
        .change_execution_state(&id, ExecutionState::Running, T0 + 7)
        .await
        .unwrap();
    assert_eq!(ev[0].event, Event::ExecutionResumed);
    assert_eq!(
        store.execution(&id).await.unwrap().unwrap().state,
        ExecutionState::Running
    );

    let ev = store
        .change_execution_state(&id, ExecutionState::Cancelled, T0 + 8)
        .await
        .unwrap();
    assert_eq!(ev.last().unwrap().event, Event::ExecutionCancelled);
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.finished_at),
        (ExecutionState::Cancelled, Some(T0 + 8))
    );
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
            ShardState::Done,
            ShardState::Cancelled,
            ShardState::Cancelled
        ]
    );
    for to in [
        ExecutionState::Cancelled,
        ExecutionState::Paused,
        ExecutionState::Running,
        ExecutionState::Completed,
    ] {
        refused(&store, &id, to).await;
    }
    let unknown = quantd_core::ExecutionId::from_parts(1, 2);
    let err = store
        .change_execution_state(&unknown, ExecutionState::Cancelled, T0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    assert_gapless(&all_events(&store, &id).await);
}

/// A finished execution cannot be paused, resumed or cancelled; none can be completed or
/// failed by request.
pub async fn finished_executions_refuse_every_change<H: Harness>(h: &H) {
    let store = h.open().await;
    let done = create(&store, 1, 0).await;
    let rec = store.execution(&done).await.unwrap().unwrap();
    assert_eq!(
        rec.state,
        ExecutionState::Completed,
        "no shards: done at once"
    );
    let msg = refused(&store, &done, ExecutionState::Cancelled).await;
    assert!(msg.contains("completed"), "{msg}");
    refused(&store, &done, ExecutionState::Paused).await;
    let live = create(&store, 2, 1).await;
    for to in [
        ExecutionState::Completed,
        ExecutionState::Failed,
        ExecutionState::Pending,
    ] {
        let msg = refused(&store, &live, to).await;
        assert!(msg.contains("by request"), "{to}: {msg}");
    }
}

/// Counts by kind and state; pending and running shards only of executions that will run
/// (a paused one's wait for a person; an ended one's never run).
pub async fn queue_stats_count_what_will_run<H: Harness>(h: &H) {
    let store = h.open().await;
    let a = create(&store, 1, 3).await;
    let b = create(&store, 2, 2).await;
    create(&store, 3, 0).await;
    claim(&store, "w", T0 + 1, LONG, Some(&a)).await.unwrap();
    let stats = store.queue_stats().await.unwrap();
    assert_eq!((stats.pending_shards, stats.running_shards), (4, 1));
    let mut by_state = stats.executions.clone();
    by_state.sort_by_key(|(k, s, _)| (k.as_str(), s.to_string()));
    assert_eq!(
        by_state,
        vec![
            (ExecutionKind::Scan, ExecutionState::Completed, 1),
            (ExecutionKind::Scan, ExecutionState::Pending, 1),
            (ExecutionKind::Scan, ExecutionState::Running, 1),
        ]
    );
    store
        .change_execution_state(&b, ExecutionState::Paused, T0 + 2)
        .await
        .unwrap();
    let stats = store.queue_stats().await.unwrap();
    assert_eq!((stats.pending_shards, stats.running_shards), (2, 1));
    store
        .change_execution_state(&a, ExecutionState::Cancelled, T0 + 3)
        .await
        .unwrap();
    let stats = store.queue_stats().await.unwrap();
    assert_eq!((stats.pending_shards, stats.running_shards), (0, 0));
}
