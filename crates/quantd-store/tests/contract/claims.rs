//! Claims and leases: a pending shard goes to exactly one claimant, oldest execution first,
//! only from executions that may run; heartbeats extend only their owner's leases.

use crate::harness::{Harness, LONG, T0, all_events, assert_gapless, claim, create};
use quantd_core::{Event, ExecutionId, ExecutionState, ShardState};
use quantd_store::prelude::*;
use std::collections::HashSet;

/// A claim takes the first pending shard under the claimant's lease, starts the execution, and
/// says so in events committed with it.
pub async fn a_claim_leases_one_pending_shard<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 3).await;
    let (shard, events) = store
        .claim_shard("w1", T0 + 10, LONG, ClaimScope::Any)
        .await
        .unwrap()
        .expect("a pending shard");
    assert_eq!((shard.execution.clone(), shard.idx), (id.clone(), 0));
    assert_eq!((shard.attempt, shard.crashes), (1, 0));
    assert_eq!(shard.payload, serde_json::json!({"shard": 0}));
    let kinds: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            Event::ExecutionStarted,
            Event::ShardStarted {
                shard: 0,
                attempt: 1
            }
        ]
    );
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!(rec.state, ExecutionState::Running);
    assert_eq!((rec.attempts, rec.started_at), (1, Some(T0 + 10)));
    let shards = store.shards(&id).await.unwrap();
    assert_eq!(shards[0].state, ShardState::Running);
    assert_eq!(shards[1].state, ShardState::Pending);

    // The next claims take the next shards, then there is nothing left.
    assert_eq!(
        claim(&store, "w2", T0 + 11, LONG, None).await.unwrap().idx,
        1
    );
    assert_eq!(
        claim(&store, "w1", T0 + 12, LONG, None).await.unwrap().idx,
        2
    );
    assert!(claim(&store, "w3", T0 + 13, LONG, None).await.is_none());
    assert_gapless(&all_events(&store, &id).await);
}

/// `only` restricts a claim to one execution; executions are served oldest first (of two
/// workspaces: within one, in the order they were stored).
pub async fn claims_serve_the_oldest_execution_first_or_only_the_one_asked<H: Harness>(h: &H) {
    let store = h.open().await;
    let newer = create(&store, 5, 1).await;
    let older = crate::harness::execution(2, "other", 1);
    store.create_execution(&older).await.unwrap();
    let older = older.id;
    let first = claim(&store, "w", T0 + 10, LONG, Some(&newer))
        .await
        .unwrap();
    assert_eq!(first.execution, newer);
    assert!(
        claim(&store, "w", T0 + 10, LONG, Some(&newer))
            .await
            .is_none(),
        "the only shard of `newer` is taken"
    );
    let unknown = ExecutionId::from_parts(1, 1);
    assert!(
        claim(&store, "w", T0 + 10, LONG, Some(&unknown))
            .await
            .is_none()
    );
    assert_eq!(
        claim(&store, "w", T0 + 10, LONG, None)
            .await
            .unwrap()
            .execution,
        older
    );
}

/// Paused, cancelled and finished executions give no shards.
pub async fn only_pending_and_running_executions_give_shards<H: Harness>(h: &H) {
    let store = h.open().await;
    let paused = create(&store, 1, 2).await;
    let cancelled = create(&store, 2, 2).await;
    store
        .change_execution_state(&paused, ExecutionState::Paused, T0 + 5)
        .await
        .unwrap();
    store
        .change_execution_state(&cancelled, ExecutionState::Cancelled, T0 + 5)
        .await
        .unwrap();
    assert!(claim(&store, "w", T0 + 10, LONG, None).await.is_none());
    store
        .change_execution_state(&paused, ExecutionState::Running, T0 + 20)
        .await
        .unwrap();
    assert_eq!(
        claim(&store, "w", T0 + 30, LONG, None)
            .await
            .unwrap()
            .execution,
        paused
    );
}

/// Many claimers on two handles (as two processes would) race for the shards of two
/// executions: every shard is claimed exactly once, and the events stay gapless.
pub async fn concurrent_claimers_never_get_the_same_shard<H: Harness>(h: &H) {
    let handles = [h.open().await, h.open().await];
    let a = create(&handles[0], 1, 25).await;
    let b = create(&handles[1], 2, 25).await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = handles[w % 2].clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut mine = Vec::new();
            while let Some(c) = claim(&store, &owner, T0 + 100, LONG, None).await {
                mine.push((c.execution, c.idx, c.attempt));
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for (exec, idx, attempt) in t.await.unwrap() {
            assert_eq!(attempt, 1);
            assert!(
                seen.insert((exec.clone(), idx)),
                "{exec} shard {idx} claimed twice"
            );
        }
    }
    assert_eq!(seen.len(), 50, "every shard claimed once");
    for id in [&a, &b] {
        let events = all_events(&handles[0], id).await;
        assert_gapless(&events);
        let started = events
            .iter()
            .filter(|e| matches!(e.event, Event::ShardStarted { .. }))
            .count();
        assert_eq!(started, 25);
        let rec = handles[1].execution(id).await.unwrap().unwrap();
        assert_eq!(rec.attempts, 25);
    }
}

/// A heartbeat extends the leases of its owner's running shards and no one else's.
pub async fn heartbeats_extend_only_their_owners_leases<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 2).await;
    claim(&store, "w1", T0, T0 + 100, None).await.unwrap();
    claim(&store, "w2", T0, T0 + 100, None).await.unwrap();
    assert_eq!(store.heartbeat("w1", T0 + 10_000).await.unwrap(), 1);
    assert_eq!(store.heartbeat("nobody", T0 + 10_000).await.unwrap(), 0);
    let recovered = store.recover_shards(T0 + 5_000, |_| true, 0).await.unwrap();
    assert_eq!(recovered.requeued, 1, "only w2's lease expired");
    let shards = store.shards(&id).await.unwrap();
    assert_eq!(shards[0].state, ShardState::Running);
    assert_eq!(shards[1].state, ShardState::Pending);
}

/// Higher priority is claimed first, but waiting work ages: a priority-0 execution that waited
/// longer than the priority gap × 5 minutes goes before a newer priority-10 one.
pub async fn priority_goes_first_and_waiting_work_ages<H: Harness>(h: &H) {
    use quantd_store::PRIORITY_STEP_MS;
    let store = h.open().await;
    let mut low = crate::harness::execution(1, "default", 1);
    let mut high = crate::harness::execution(2, "default", 1);
    high.priority = 3;
    let mut newest_high = crate::harness::execution(3, "default", 1);
    newest_high.priority = 10;
    // Created 10 points' worth of waiting (and a bit) after `low`: `low` goes first.
    newest_high.now = low.now + 10 * PRIORITY_STEP_MS + 1;
    low.priority = 0;
    for e in [&low, &high, &newest_high] {
        store.create_execution(e).await.unwrap();
    }
    let mut got = vec![];
    for _ in 0..3 {
        let c = claim(&store, "w", newest_high.now, LONG, None)
            .await
            .unwrap();
        got.push(c.execution);
    }
    assert_eq!(got, [high.id, low.id, newest_high.id]);
}

/// Workspaces take turns: a workspace's backlog (here 3 executions of 4 shards) does not keep a
/// newer execution of another workspace waiting until it is all claimed. Each claim moves its
/// execution one turn later and a workspace's new execution queues after its own unclaimed
/// shards, so the newcomer's shards alternate with the backlog's, while the backlog keeps its
/// own order (execution by execution, shard by shard).
pub async fn workspaces_take_turns<H: Harness>(h: &H) {
    let store = h.open().await;
    let mut backlog = Vec::new();
    for n in 1..=3 {
        let e = crate::harness::execution(n, "b", 4);
        store.create_execution(&e).await.unwrap();
        backlog.push(e.id);
    }
    let newcomer = crate::harness::execution(100, "a", 2);
    store.create_execution(&newcomer).await.unwrap();
    let mut got = Vec::new();
    for i in 0..9 {
        let c = claim(&store, "w", T0 + 200 + i, LONG, None).await.unwrap();
        got.push((c.execution, c.idx));
    }
    let (b1, b2, a) = (&backlog[0], &backlog[1], &newcomer.id);
    let want: Vec<(ExecutionId, u32)> = [
        (b1, 0),
        (a, 0),
        (b1, 1),
        (a, 1),
        (b1, 2),
        (b1, 3),
        (b2, 0),
        (b2, 1),
        (b2, 2),
    ]
    .into_iter()
    .map(|(e, i)| (e.clone(), i))
    .collect();
    assert_eq!(got, want);
}

/// A bounded claim takes no shard of a long kind (a bot script, a trading session): an older
/// `run` waits for a claim of any scope while a newer scan's shard is taken.
pub async fn bounded_claims_leave_long_work_alone<H: Harness>(h: &H) {
    let store = h.open().await;
    let mut run = crate::harness::execution(1, "default", 1);
    run.kind = quantd_core::ExecutionKind::Run;
    store.create_execution(&run).await.unwrap();
    let scan = crate::harness::execution(2, "other", 1);
    store.create_execution(&scan).await.unwrap();
    let bounded = |n| store.claim_shard("w", T0 + n, LONG, ClaimScope::Bounded);
    assert_eq!(bounded(10).await.unwrap().unwrap().0.execution, scan.id);
    assert!(
        bounded(11).await.unwrap().is_none(),
        "only long work is left"
    );
    let any = store
        .claim_shard("w", T0 + 12, LONG, ClaimScope::Any)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(any.0.execution, run.id);
}
