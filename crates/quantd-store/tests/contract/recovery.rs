//! Lease expiry and recovery: claims whose lease expired or whose owner died return to the
//! queue with a crash counted; a shard that keeps crashing quarantines its execution, and only
//! an explicit requeue runs it again; releases return claims without counting anything.

use crate::harness::{Harness, LONG, T0, all_events, assert_gapless, claim, create, failed_events};
use quantd_core::{ErrorClass, Event, ExecutionState, ShardState};
use quantd_store::StoreError;
use quantd_store::prelude::*;

/// A lease that expired returns its shard to `pending`: the next claim is attempt 1 again,
/// with one crash counted.
pub async fn expired_leases_return_to_pending_with_a_crash<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 1).await;
    claim(&store, "w1", T0, T0 + 1_000, None).await.unwrap();
    let early = store.recover_shards(T0 + 999, |_| true, 0).await.unwrap();
    assert_eq!(early.requeued, 0, "the lease still holds");
    let due = store.recover_shards(T0 + 1_000, |_| true, 0).await.unwrap();
    assert_eq!(due.requeued, 1);
    assert!(due.quarantined.is_empty() && due.events.is_empty());
    assert_eq!(
        store.shards(&id).await.unwrap()[0].state,
        ShardState::Pending
    );
    let again = claim(&store, "w2", T0 + 2_000, LONG, None).await.unwrap();
    assert_eq!((again.attempt, again.crashes), (1, 1));
}

/// Shards of owners that are dead return at once, whatever their lease; live owners keep theirs.
pub async fn dead_owners_shards_are_recovered_and_live_ones_kept<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 2).await;
    claim(&store, "dead", T0, LONG, None).await.unwrap();
    claim(&store, "alive", T0, LONG, None).await.unwrap();
    let r = store
        .recover_shards(T0 + 1, |owner| owner == "alive", 0)
        .await
        .unwrap();
    assert_eq!(r.requeued, 1);
    let states: Vec<_> = store
        .shards(&id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(states, [ShardState::Pending, ShardState::Running]);
}

/// A shard whose claims die `quarantine_after` times fails its execution as quarantined (class
/// internal, the command that resumes it in the message), cancelling its other shards; a
/// requeue runs it again with the crash counts cleared, and only a quarantined execution can
/// be requeued.
pub async fn a_shard_that_keeps_crashing_quarantines_its_execution<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 2).await;
    claim(&store, "w", T0, T0 + 10, Some(&id)).await.unwrap();
    assert_eq!(
        store
            .recover_shards(T0 + 10, |_| true, 2)
            .await
            .unwrap()
            .requeued,
        1
    );
    let second = claim(&store, "w", T0 + 20, T0 + 30, Some(&id))
        .await
        .unwrap();
    assert_eq!((second.idx, second.crashes), (0, 1));
    let r = store.recover_shards(T0 + 30, |_| true, 2).await.unwrap();
    assert_eq!((r.requeued, r.quarantined.clone()), (0, vec![id.clone()]));
    assert_eq!(failed_events(&r.events), 1);

    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!(rec.state, ExecutionState::Failed);
    assert!(rec.quarantined);
    assert_eq!(rec.error_class, Some(ErrorClass::Internal));
    let message = rec.error_message.unwrap();
    assert!(message.contains("quarantined after 2 crashes"), "{message}");
    assert!(
        message.contains(&format!("resume --force {id}")),
        "{message}"
    );
    let states: Vec<_> = store
        .shards(&id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(states, [ShardState::Failed, ShardState::Cancelled]);
    assert!(claim(&store, "w", T0 + 40, LONG, None).await.is_none());

    let events = store.requeue_quarantined(&id, T0 + 50).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, Event::ExecutionResumed);
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.quarantined),
        (ExecutionState::Running, false)
    );
    assert_eq!((rec.error_class, rec.shards_failed), (None, 0));
    let fresh = claim(&store, "w", T0 + 60, LONG, Some(&id)).await.unwrap();
    assert_eq!((fresh.attempt, fresh.crashes), (1, 0));
    let refused = store.requeue_quarantined(&id, T0 + 70).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
    assert!(refused.to_string().contains("not quarantined"), "{refused}");
    assert_gapless(&all_events(&store, &id).await);
}

/// With `quarantine_after` 0 nothing is ever quarantined.
pub async fn quarantine_after_zero_never_quarantines<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 1).await;
    for round in 0..5 {
        let now = T0 + round * 100;
        let c = claim(&store, "w", now, now + 10, None).await.unwrap();
        assert_eq!(c.crashes, round as u32);
        let r = store.recover_shards(now + 10, |_| true, 0).await.unwrap();
        assert_eq!((r.requeued, r.quarantined.len()), (1, 0));
    }
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert_eq!(rec.state, ExecutionState::Running);
}

/// A dead claim of an execution that already ended is cancelled, never returned to the queue,
/// and counted nowhere.
pub async fn recovery_cancels_dead_claims_of_ended_executions<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 2).await;
    claim(&store, "gone", T0, LONG, None).await.unwrap();
    store
        .change_execution_state(&id, ExecutionState::Cancelled, T0 + 1)
        .await
        .unwrap();
    let r = store.recover_shards(T0 + 2, |_| false, 1).await.unwrap();
    assert_eq!((r.requeued, r.quarantined.len()), (0, 0));
    let states: Vec<_> = store
        .shards(&id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(states, [ShardState::Cancelled, ShardState::Cancelled]);
    let stats = store.queue_stats().await.unwrap();
    assert_eq!((stats.pending_shards, stats.running_shards), (0, 0));
    let rec = store.execution(&id).await.unwrap().unwrap();
    assert!(!rec.quarantined);
}

/// Releasing returns a claim to the queue without counting an attempt or a crash; releasing
/// everything an owner holds returns only that owner's claims.
pub async fn releases_return_claims_without_counting<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 3).await;
    let mine = claim(&store, "w1", T0, LONG, None).await.unwrap();
    assert!(store.release_shard(&mine, "w1").await.unwrap());
    assert!(
        !store.release_shard(&mine, "w1").await.unwrap(),
        "a released claim is not ours any more"
    );
    let again = claim(&store, "w1", T0 + 1, LONG, None).await.unwrap();
    assert_eq!((again.idx, again.attempt, again.crashes), (0, 1, 0));
    claim(&store, "w1", T0 + 2, LONG, None).await.unwrap();
    claim(&store, "w2", T0 + 3, LONG, None).await.unwrap();
    assert_eq!(store.release_owned("w1").await.unwrap(), 2);
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
            ShardState::Pending,
            ShardState::Pending,
            ShardState::Running
        ]
    );
    let next = claim(&store, "w3", T0 + 4, LONG, None).await.unwrap();
    assert_eq!((next.idx, next.attempt, next.crashes), (0, 1, 0));
}

/// A claim released until a time is claimable again from that time, not before, and then in
/// its turn, behind work that waited before that time; the release counts no attempt.
pub async fn a_release_until_later_waits_for_its_time<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 1).await;
    let waiting = crate::harness::execution(300, "b", 1);
    store.create_execution(&waiting).await.unwrap();
    let mine = claim(&store, "w1", T0, LONG, None).await.unwrap();
    assert_eq!(mine.execution, id, "the older execution goes first");
    assert!(
        store
            .release_shard_until(&mine, "w1", T0 + 500)
            .await
            .unwrap()
    );
    assert!(
        claim(&store, "w2", T0 + 499, LONG, Some(&id))
            .await
            .is_none(),
        "not claimable before its time"
    );
    let next = claim(&store, "w2", T0 + 600, LONG, None).await.unwrap();
    assert_eq!(
        next.execution, waiting.id,
        "what waited since before the release's time goes first"
    );
    let again = claim(&store, "w2", T0 + 600, LONG, None).await.unwrap();
    assert_eq!(again.execution, id);
    assert_eq!((again.idx, again.attempt, again.crashes), (0, 1, 0));
}
