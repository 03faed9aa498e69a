//! Patterns: an orchestrated execution runs from its creation with no shard and ends only when
//! told; its children name their parent and step — once per step attempt — and their shards
//! are claimed by a runner of the family; finished steps are rows replaced by step, written with
//! their events and progress, never after the pattern ended.

use crate::harness::{Harness, LONG, T0, all_events, assert_gapless, claim, execution};
use quantd_core::{ErrorClass, Event, ExecutionState};
use quantd_store::prelude::*;
use quantd_store::{ExecutionFilter, ParentLink, StepRow, StoreError};
use serde_json::json;

fn step(key: &str, state: &str, n: u64) -> StepRow {
    StepRow {
        step: key.into(),
        state: state.into(),
        body: json!({"n": n}),
    }
}

/// A pattern is running from its creation and stays so without shards; its children are linked,
/// unique per step attempt, listed under it, hidden from top-level lists, and claimed by its
/// family's runner.
pub async fn children_belong_to_their_pattern_once_per_step<H: Harness>(h: &H) {
    let store = h.open().await;
    let mut p = execution(1, "default", 0);
    p.orchestrated = true;
    let created = store.create_execution(&p).await.unwrap();
    assert_eq!(created.record.state, ExecutionState::Running);
    let kinds: Vec<Event> = created.events.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            Event::ExecutionCreated { shards: 0 },
            Event::ExecutionStarted
        ]
    );
    let link = |step: &str| ParentLink {
        parent: p.id.clone(),
        step: step.into(),
        root: p.id.clone(),
    };
    let mut a = execution(2, "default", 2);
    a.parent = Some(link("scan@1"));
    store.create_execution(&a).await.unwrap();
    let mut again = execution(3, "default", 1);
    again.parent = Some(link("scan@1"));
    let err = store.create_execution(&again).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        store.execution(&again.id).await.unwrap().is_none(),
        "nothing of it stored"
    );
    let mut b = execution(4, "default", 1);
    b.parent = Some(link("scan@2"));
    store.create_execution(&b).await.unwrap();
    let other = execution(5, "default", 1);
    store.create_execution(&other).await.unwrap();

    let children = store.children(&p.id).await.unwrap();
    let steps: Vec<Option<String>> = children.iter().map(|c| c.parent_step.clone()).collect();
    assert_eq!(steps, vec![Some("scan@1".into()), Some("scan@2".into())]);
    assert!(children.iter().all(|c| c.parent_id.as_ref() == Some(&p.id)));
    let top = store
        .list_executions(&ExecutionFilter {
            top_level: true,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let ids: Vec<_> = top.items.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, vec![other.id.clone(), p.id.clone()]);
    let under = store
        .list_executions(&ExecutionFilter {
            parent: Some(p.id.clone()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(under.items.len(), 2);
    // The pattern's runner claims its children's shards, and nobody else's.
    for _ in 0..3 {
        let s = claim(&store, "w", T0 + 10, LONG, Some(&p.id))
            .await
            .unwrap();
        assert!(s.execution == a.id || s.execution == b.id, "{s:?}");
    }
    assert!(
        claim(&store, "w", T0 + 10, LONG, Some(&p.id))
            .await
            .is_none()
    );
    assert_eq!(
        store.execution(&p.id).await.unwrap().unwrap().state,
        ExecutionState::Running,
        "no shard ends a pattern"
    );
}

/// A batch of children is stored in one transaction: every one with its shards and events, and
/// a child of a step that already has one is skipped, not an error, so a batch retried after a
/// crash adds only what is missing.
pub async fn children_created_in_one_batch<H: Harness>(h: &H) {
    let store = h.open().await;
    let mut p = execution(1, "default", 0);
    p.orchestrated = true;
    store.create_execution(&p).await.unwrap();
    let child = |n: u64, step: &str| {
        let mut c = execution(n, "default", 2);
        c.parent = Some(ParentLink {
            parent: p.id.clone(),
            step: step.into(),
            root: p.id.clone(),
        });
        c
    };
    let first = child(2, "each[1]@1");
    store.create_execution(&first).await.unwrap();
    let batch = vec![
        child(3, "each[0]@1"),
        child(4, "each[1]@1"),
        child(5, "each[2]@1"),
    ];
    let created = store.create_executions(&batch).await.unwrap();
    let made: Vec<bool> = created.iter().map(Option::is_some).collect();
    assert_eq!(made, vec![true, false, true], "the taken step is skipped");
    for (c, e) in created.iter().flatten().zip([&batch[0], &batch[2]]) {
        assert_eq!(c.record.id, e.id);
        assert_eq!(c.record.state, ExecutionState::Pending);
        let kinds: Vec<Event> = c.events.iter().map(|e| e.event.clone()).collect();
        assert_eq!(kinds, vec![Event::ExecutionCreated { shards: 2 }]);
        assert_gapless(&all_events(&store, &e.id).await);
    }
    assert!(store.execution(&batch[1].id).await.unwrap().is_none());
    let mut steps: Vec<String> = store
        .children(&p.id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|c| c.parent_step)
        .collect();
    steps.sort();
    assert_eq!(steps, vec!["each[0]@1", "each[1]@1", "each[2]@1"]);
    let mut shards = 0;
    while claim(&store, "w", T0 + 10, LONG, Some(&p.id))
        .await
        .is_some()
    {
        shards += 1;
    }
    assert_eq!(shards, 6, "every child's shards are queued");
    assert!(store.create_executions(&[]).await.unwrap().is_empty());
}

/// Step rows are replaced by step and written with their events and progress; a pattern ends
/// once, completed with its summary or failed with its error, and takes no rows after.
pub async fn steps_and_the_end_of_a_pattern<H: Harness>(h: &H) {
    let store = h.open().await;
    let mut p = execution(1, "default", 0);
    p.orchestrated = true;
    store.create_execution(&p).await.unwrap();
    let ev = store
        .record_steps(
            &p.id,
            &[step("a", "completed", 1), step("b", "failed", 1)],
            vec![Event::StepSkipped {
                step: "c".into(),
                reason: "why".into(),
            }],
            (1, 1, 3),
            T0 + 5,
        )
        .await
        .unwrap();
    assert_eq!(ev.len(), 1);
    store
        .record_steps(
            &p.id,
            &[step("b", "completed", 2)],
            vec![],
            (2, 0, 3),
            T0 + 6,
        )
        .await
        .unwrap();
    let rows = store.pattern_steps(&p.id).await.unwrap();
    let mut got: Vec<(String, String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r.step.clone(),
                r.state.clone(),
                r.body["n"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a".into(), "completed".into(), 1),
            ("b".into(), "completed".into(), 2)
        ]
    );
    let rec = store.execution(&p.id).await.unwrap().unwrap();
    assert_eq!(
        (rec.shards_done, rec.shards_failed, rec.shards_total),
        (2, 0, 3)
    );

    let ev = store
        .end_orchestrated(&p.id, &json!({"report": 1}), None, T0 + 7)
        .await
        .unwrap();
    assert_eq!(ev.len(), 1);
    assert!(matches!(ev[0].event, Event::ExecutionCompleted { .. }));
    let rec = store.execution(&p.id).await.unwrap().unwrap();
    assert_eq!(rec.state, ExecutionState::Completed);
    assert_eq!(rec.summary, Some(json!({"report": 1})));
    assert!(
        store
            .end_orchestrated(
                &p.id,
                &json!({}),
                Some((ErrorClass::Execution, "late")),
                T0 + 8
            )
            .await
            .unwrap()
            .is_empty(),
        "it ends once"
    );
    assert!(
        store
            .record_steps(
                &p.id,
                &[step("c", "completed", 1)],
                vec![],
                (3, 0, 3),
                T0 + 9
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.pattern_steps(&p.id).await.unwrap().len(),
        2,
        "no row after the end"
    );

    let mut q = execution(2, "default", 0);
    q.orchestrated = true;
    store.create_execution(&q).await.unwrap();
    store
        .end_orchestrated(
            &q.id,
            &json!({}),
            Some((ErrorClass::Timeout, "step `x` failed")),
            T0 + 9,
        )
        .await
        .unwrap();
    let rec = store.execution(&q.id).await.unwrap().unwrap();
    assert_eq!(rec.state, ExecutionState::Failed);
    assert_eq!(rec.error_class, Some(ErrorClass::Timeout));
    assert_gapless(&all_events(&store, &q.id).await);
}

/// Two processes advancing one pattern both see its step `a` end and record it: the second
/// record of the same state and attempt writes neither the row nor its events again, while a
/// step it records for the first time goes in; a later attempt of `a` is new again.
pub async fn a_step_end_recorded_twice_is_recorded_once<H: Harness>(h: &H) {
    let (one, other) = (h.open().await, h.open().await);
    let mut p = execution(1, "default", 0);
    p.orchestrated = true;
    one.create_execution(&p).await.unwrap();
    let attempt = |key: &str, state: &str, attempt: u64| StepRow {
        step: key.into(),
        state: state.into(),
        body: json!({"status": state, "attempt": attempt}),
    };
    let ended = |key: &str, attempt: u32| Event::StepCompleted {
        step: key.into(),
        child: None,
        attempt,
        duration_ms: 1,
        cached: false,
    };
    let first = one
        .record_steps(
            &p.id,
            &[attempt("a", "completed", 1)],
            vec![ended("a", 1)],
            (1, 0, 3),
            T0 + 1,
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let second = other
        .record_steps(
            &p.id,
            &[attempt("a", "completed", 1), attempt("b", "completed", 1)],
            vec![ended("a", 1), ended("b", 1)],
            (2, 0, 3),
            T0 + 2,
        )
        .await
        .unwrap();
    let steps: Vec<&str> = second.iter().filter_map(|e| e.event.step()).collect();
    assert_eq!(steps, ["b"], "only b is new");
    let again = one
        .record_steps(
            &p.id,
            &[attempt("a", "failed", 2)],
            vec![ended("a", 2)],
            (2, 1, 3),
            T0 + 3,
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "a later attempt is recorded");
    let events = all_events(&one, &p.id).await;
    assert_gapless(&events);
    let ends: Vec<(String, u32)> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::StepCompleted { step, attempt, .. } => Some((step.clone(), *attempt)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ends,
        [
            ("a".to_string(), 1),
            ("b".to_string(), 1),
            ("a".to_string(), 2)
        ]
    );
    let rows = one.pattern_steps(&p.id).await.unwrap();
    let a = rows.iter().find(|r| r.step == "a").unwrap();
    assert_eq!((a.state.as_str(), a.attempt()), ("failed", Some(2)));
}
