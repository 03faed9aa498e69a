//! Events: each execution's are numbered 1, 2, 3, … in commit order with no gap and no repeat,
//! whoever writes them and however many write at once; every method returns exactly the events
//! it committed, and reads page through them by sequence number.

use crate::harness::{
    Harness, LONG, T0, all_events, assert_gapless, committed, complete, create, failure,
};
use quantd_core::{Event, EventRecord, ExecutionState};
use quantd_store::FailureOutcome;
use quantd_store::prelude::*;
use std::collections::BTreeMap;

fn phase(i: u64) -> Event {
    Event::Phase {
        phase: format!("step-{i}"),
        done: i,
        total: 100,
    }
}

/// What the methods returned, put together, is what was stored, in order from 1.
pub async fn returned_events_are_the_stored_events_in_order<H: Harness>(h: &H) {
    let store = h.open().await;
    let e = crate::harness::execution(1, "default", 2);
    let id = e.id.clone();
    let mut returned: Vec<EventRecord> = store.create_execution(&e).await.unwrap().events;
    let (s0, ev) = store
        .claim_shard("w", T0 + 1, LONG, ClaimScope::Any)
        .await
        .unwrap()
        .unwrap();
    returned.extend(ev);
    returned.push(store.record_event(&id, T0 + 2, phase(1)).await.unwrap());
    let body = serde_json::json!({"score": 80});
    returned.push(
        store
            .record_health(&id, T0 + 3, 80, "good", &body)
            .await
            .unwrap(),
    );
    let f = failure("flaky", FailureOutcome::RetryAt(T0 + 4));
    returned.extend(committed(
        store.fail_shard(&s0, "w", T0 + 4, &f).await.unwrap(),
    ));
    returned.extend(
        store
            .change_execution_state(&id, ExecutionState::Paused, T0 + 5)
            .await
            .unwrap(),
    );
    returned.extend(
        store
            .change_execution_state(&id, ExecutionState::Running, T0 + 6)
            .await
            .unwrap(),
    );
    for n in 0..2 {
        let (c, ev) = store
            .claim_shard("w", T0 + 7 + n, LONG, ClaimScope::Any)
            .await
            .unwrap()
            .unwrap();
        returned.extend(ev);
        returned.extend(committed(complete(&store, &c, "w", T0 + 8 + n, b"r").await));
    }
    let stored = all_events(&store, &id).await;
    assert_gapless(&stored);
    assert_eq!(returned, stored);
    assert_eq!(stored[0].event, Event::ExecutionCreated { shards: 2 });
    assert!(stored.last().unwrap().event.is_final());
    assert_eq!(stored[3].event, phase(1));
    assert_eq!(stored[3].at.timestamp_millis(), T0 + 2);

    // Paging by sequence number: `after` is exclusive, `limit` bounds each read.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events_after(&id, after, 3).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = last.seq;
        paged.extend(page);
    }
    assert_eq!(paged, stored);
    let other = create(&store, 2, 1).await;
    assert_eq!(
        all_events(&store, &other).await.len(),
        1,
        "numbered per execution"
    );
}

/// Writers on two handles (as two processes) append to two executions at once, while shards of
/// one of them are claimed and committed: each execution's events stay 1..=n, and every number
/// was returned to exactly one writer.
pub async fn concurrent_writers_keep_events_gapless<H: Harness>(h: &H) {
    let handles = [h.open().await, h.open().await];
    let mut returned: BTreeMap<_, Vec<u64>> = BTreeMap::new();
    let mut ids = Vec::new();
    for (n, shards) in [(1, 10), (2, 0)] {
        let e = crate::harness::execution(n, "default", shards);
        for ev in handles[n as usize % 2]
            .create_execution(&e)
            .await
            .unwrap()
            .events
        {
            returned.entry(ev.execution).or_default().push(ev.seq);
        }
        ids.push(e.id);
    }
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let mut tasks = Vec::new();
    for w in 0..4u64 {
        let store = handles[w as usize % 2].clone();
        let (a, b) = (a.clone(), b.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..20 {
                let id = if i % 2 == 0 { &a } else { &b };
                got.push(
                    store
                        .record_event(id, T0 + 1, phase(w * 100 + i))
                        .await
                        .unwrap(),
                );
            }
            got
        }));
    }
    for (w, store) in handles.iter().cloned().enumerate() {
        tasks.push(tokio::spawn(async move {
            let owner = format!("w{w}");
            let mut got = Vec::new();
            while let Some((c, ev)) = store
                .claim_shard(&owner, T0 + 2, LONG, ClaimScope::Any)
                .await
                .unwrap()
            {
                got.extend(ev);
                got.extend(committed(complete(&store, &c, &owner, T0 + 3, b"x").await));
            }
            got
        }));
    }
    for t in tasks {
        for e in t.await.unwrap() {
            returned.entry(e.execution.clone()).or_default().push(e.seq);
        }
    }
    for id in [&a, &b] {
        let stored = all_events(&handles[0], id).await;
        assert_gapless(&stored);
        assert!(stored.len() > 20, "{id}: {} events", stored.len());
        let mut seqs = returned.remove(id).unwrap();
        seqs.sort_unstable();
        let expected: Vec<u64> = (1..=stored.len() as u64).collect();
        assert_eq!(
            seqs, expected,
            "{id}: every number returned to exactly one writer"
        );
    }
    let rec = handles[1].execution(&a).await.unwrap().unwrap();
    assert_eq!(rec.state, ExecutionState::Completed);
}

/// A sequence number beyond every stored one gives no events, up to `u64::MAX` (beyond the
/// database's integers): a client resuming with a huge `Last-Event-ID` never gets a replay
/// from 1 (review: Last-Event-ID ≥ 2^63 wrapped).
pub async fn events_after_a_number_beyond_any_give_none<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 1).await;
    store.record_event(&id, T0 + 1, phase(1)).await.unwrap();
    assert_eq!(store.events_after(&id, 1, 100).await.unwrap().len(), 1);
    for after in [
        2,
        1 << 40,
        i64::MAX as u64,
        i64::MAX as u64 + 1,
        u64::MAX - 1,
        u64::MAX,
    ] {
        let got = store.events_after(&id, after, 100).await.unwrap();
        assert!(got.is_empty(), "after {after}: {got:?}");
    }
}

/// The tail of a log reads newest first, pages backwards without a gap, and a number beyond any
/// (up to `u64::MAX`) reads from the newest.
pub async fn events_before_read_the_tail_newest_first<H: Harness>(h: &H) {
    let store = h.open().await;
    let id = create(&store, 1, 1).await;
    let other = create(&store, 2, 1).await;
    for i in 1..=5u64 {
        store
            .record_event(&id, T0 + i as i64, phase(i))
            .await
            .unwrap();
        store
            .record_event(&other, T0 + i as i64, phase(i))
            .await
            .unwrap();
    }
    let all = all_events(&store, &id).await;
    let last = all.last().unwrap().seq;
    for before in [last + 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
        let tail = store.events_before(&id, before, 2).await.unwrap();
        let seqs: Vec<u64> = tail.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![last, last - 1], "before {before}");
        assert_eq!(tail[0].event, phase(5));
        assert!(tail.iter().all(|e| e.execution == id));
    }
    let mut back = Vec::new();
    let mut before = u64::MAX;
    loop {
        let page = store.events_before(&id, before, 3).await.unwrap();
        let Some(oldest) = page.last() else { break };
        before = oldest.seq;
        back.extend(page);
    }
    back.reverse();
    assert_eq!(back, all, "paging backwards gives the whole log once");
    assert!(store.events_before(&id, 1, 10).await.unwrap().is_empty());
}
