//! Webhooks and their outbox: the transaction that ends an execution (completed, failed or
//! cancelled, by any method) writes one pending delivery per webhook of its workspace that asked
//! for that event, and nothing else does; due deliveries are claimed by one sender per attempt,
//! attempts are fenced by their number, and the log lists every attempt.

use crate::harness::{Harness, LONG, T0, claim, complete, create, execution, failure};
use quantd_core::ExecutionState;
use quantd_store::prelude::*;
use quantd_store::{
    DeliveryAttempt, DeliveryNext, DeliveryRecord, DeliveryState, FailureOutcome, NewWebhook,
};

fn hook(id: &str, workspace: &str, events: &[&str]) -> NewWebhook {
    NewWebhook {
        id: id.into(),
        workspace: workspace.into(),
        url: format!("http://127.0.0.1:9/{id}"),
        events: events.iter().map(|e| e.to_string()).collect(),
        secret: format!("secret-{id}"),
        created_at: T0,
    }
}

async fn deliveries(store: &impl Store, workspace: &str, id: &str) -> Vec<DeliveryRecord> {
    store
        .webhook_deliveries(workspace, id, 100)
        .await
        .unwrap()
        .expect("the webhook exists")
}

fn attempt(n: u32, at: i64, status: Option<u16>, error: Option<&str>) -> DeliveryAttempt {
    DeliveryAttempt {
        n,
        at,
        status,
        error: error.map(str::to_string),
        duration_ms: 7,
    }
}

/// Completing, failing and cancelling each write a delivery to the webhooks that asked for that
/// event in the execution's workspace, with the execution as it ended; pausing writes none.
pub async fn terminal_changes_write_deliveries_in_their_transaction<H: Harness>(h: &H) {
    let store = h.open().await;
    assert!(
        store
            .create_webhook(&hook("wh_a", "default", &["completed", "failed"]), 10)
            .await
            .unwrap()
    );
    assert!(
        store
            .create_webhook(&hook("wh_b", "default", &["cancelled"]), 10)
            .await
            .unwrap()
    );
    assert!(
        store
            .create_webhook(
                &hook("wh_c", "other", &["completed", "failed", "cancelled"]),
                10
            )
            .await
            .unwrap()
    );

    // Completed.
    let done = create(&store, 1, 1).await;
    let c = claim(&store, "w", T0 + 1, LONG, Some(&done)).await.unwrap();
    complete(&store, &c, "w", T0 + 2, b"r").await;
    // Failed.
    let failed = create(&store, 2, 1).await;
    let c = claim(&store, "w", T0 + 3, LONG, Some(&failed))
        .await
        .unwrap();
    let f = failure("boom", FailureOutcome::FailExecution);
    store.fail_shard(&c, "w", T0 + 4, &f).await.unwrap();
    // Paused, then cancelled.
    let cancelled = create(&store, 3, 2).await;
    store
        .change_execution_state(&cancelled, ExecutionState::Paused, T0 + 5)
        .await
        .unwrap();
    assert!(
        deliveries(&store, "default", "wh_b").await.is_empty(),
        "a pause is not an end"
    );
    store
        .change_execution_state(&cancelled, ExecutionState::Cancelled, T0 + 6)
        .await
        .unwrap();

    let a = deliveries(&store, "default", "wh_a").await;
    assert_eq!(a.len(), 2, "{a:?}");
    // Newest first.
    assert_eq!(
        (a[0].execution_id.as_str(), a[0].event.as_str()),
        (failed.as_str(), "failed")
    );
    assert_eq!(
        (a[1].execution_id.as_str(), a[1].event.as_str()),
        (done.as_str(), "completed")
    );
    assert_eq!(a[0].execution["state"], "failed");
    assert_eq!(a[0].execution["error_message"], "boom");
    assert_eq!(a[0].execution["finished_at"], T0 + 4);
    assert_eq!(a[1].execution["shards_done"], 1);
    assert_eq!(a[1].execution["kind"], "scan");
    assert_eq!(
        a[1].created_at,
        T0 + 2,
        "the delivery is stamped with the end"
    );
    for d in &a {
        assert_eq!((d.state, d.attempts), (DeliveryState::Pending, 0));
        assert!(d.log.is_empty());
    }
    let b = deliveries(&store, "default", "wh_b").await;
    assert_eq!(b.len(), 1);
    assert_eq!(
        (b[0].execution_id.as_str(), b[0].event.as_str()),
        (cancelled.as_str(), "cancelled")
    );
    assert!(
        deliveries(&store, "other", "wh_c").await.is_empty(),
        "another workspace hears nothing"
    );

    // An execution of the other workspace reaches only its webhook.
    let e = execution(4, "other", 1);
    store.create_execution(&e).await.unwrap();
    let c = claim(&store, "w", T0 + 7, LONG, Some(&e.id)).await.unwrap();
    complete(&store, &c, "w", T0 + 8, b"r").await;
    assert_eq!(deliveries(&store, "other", "wh_c").await.len(), 1);
    assert_eq!(deliveries(&store, "default", "wh_a").await.len(), 2);
}

/// A due delivery is claimed by one sender per attempt; an attempt's record is fenced by its
/// number; retries wait for their time; the log keeps every attempt; ends are final.
pub async fn deliveries_are_claimed_once_per_attempt_and_logged<H: Harness>(h: &H) {
    let store = h.open().await;
    let other = h.open().await;
    store
        .create_webhook(&hook("wh_a", "default", &["completed"]), 10)
        .await
        .unwrap();
    let id = create(&store, 1, 1).await;
    let c = claim(&store, "w", T0 + 1, LONG, None).await.unwrap();
    complete(&store, &c, "w", T0 + 2, b"r").await;

    assert!(
        store
            .claim_deliveries(T0 + 1, T0 + 100, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due before the end"
    );
    let due = store.claim_deliveries(T0 + 10, T0 + 100, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let d = &due[0];
    assert_eq!(
        (d.attempt, d.event.as_str(), d.url.as_str()),
        (1, "completed", "http://127.0.0.1:9/wh_a")
    );
    assert_eq!(d.secret, "secret-wh_a");
    assert_eq!(d.execution["id"], id.as_str());
    assert!(
        other
            .claim_deliveries(T0 + 50, T0 + 150, 10)
            .await
            .unwrap()
            .is_empty(),
        "held by its claim"
    );

    let first = attempt(1, T0 + 10, Some(500), Some("HTTP 500"));
    assert!(
        store
            .record_delivery_attempt(&d.id, &first, DeliveryNext::RetryAt(T0 + 1_000), T0 + 11)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_delivery_attempt(&d.id, &first, DeliveryNext::Delivered, T0 + 12)
            .await
            .unwrap(),
        "an attempt is recorded once"
    );
    assert!(
        store
            .claim_deliveries(T0 + 999, T0 + 2_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "backing off"
    );
    let again = other
        .claim_deliveries(T0 + 1_000, T0 + 2_000, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id.as_str(), again[0].attempt), (d.id.as_str(), 2));
    // A late record of attempt 1 after attempt 2 was claimed is refused.
    assert!(
        !store
            .record_delivery_attempt(&d.id, &first, DeliveryNext::Failed, T0 + 1_001)
            .await
            .unwrap()
    );
    let second = attempt(2, T0 + 1_000, Some(204), None);
    assert!(
        other
            .record_delivery_attempt(&d.id, &second, DeliveryNext::Delivered, T0 + 1_002)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_deliveries(T0 + 9_999_999, T0 + 10_000_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "delivered is final"
    );

    let log = deliveries(&store, "default", "wh_a").await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].state, log[0].attempts, log[0].finished_at),
        (DeliveryState::Delivered, 2, Some(T0 + 1_002))
    );
    assert_eq!(log[0].log, vec![first, second]);
}

/// A workspace holds at most the webhooks it is allowed; webhooks are listed, seen and removed
/// only in their workspace; removing one removes its deliveries.
pub async fn webhooks_belong_to_a_workspace_within_a_limit<H: Harness>(h: &H) {
    let store = h.open().await;
    assert!(
        store
            .create_webhook(&hook("wh_1", "default", &["completed"]), 2)
            .await
            .unwrap()
    );
    assert!(
        store
            .create_webhook(&hook("wh_2", "default", &["failed"]), 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .create_webhook(&hook("wh_3", "default", &["failed"]), 2)
            .await
            .unwrap(),
        "over the limit"
    );
    assert!(
        store
            .create_webhook(&hook("wh_4", "other", &["failed"]), 2)
            .await
            .unwrap()
    );
    let listed: Vec<_> = store
        .webhooks("default")
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(listed, ["wh_1", "wh_2"]);
    let w = &store.webhooks("other").await.unwrap()[0];
    assert_eq!(
        (w.events.as_slice(), w.secret.as_str()),
        (&["failed".to_string()][..], "secret-wh_4")
    );

    assert!(
        store
            .webhook_deliveries("other", "wh_1", 10)
            .await
            .unwrap()
            .is_none(),
        "not its workspace's"
    );
    assert!(!store.remove_webhook("other", "wh_1").await.unwrap());

    let id = create(&store, 1, 1).await;
    let c = claim(&store, "w", T0 + 1, LONG, None).await.unwrap();
    complete(&store, &c, "w", T0 + 2, b"r").await;
    let due = store.claim_deliveries(T0 + 2, T0 + 100, 10).await.unwrap();
    assert_eq!(due.len(), 1, "{id}");
    assert!(store.remove_webhook("default", "wh_1").await.unwrap());
    assert!(
        store
            .webhook_deliveries("default", "wh_1", 10)
            .await
            .unwrap()
            .is_none()
    );
    let a = attempt(1, T0 + 2, Some(200), None);
    assert!(
        !store
            .record_delivery_attempt(&due[0].id, &a, DeliveryNext::Delivered, T0 + 3)
            .await
            .unwrap(),
        "gone with its webhook"
    );
    assert!(
        store
            .create_webhook(&hook("wh_5", "default", &["completed"]), 2)
            .await
            .unwrap(),
        "room again"
    );
}

/// A workspace's policy is stored whole, replaced whole, and read only for its workspace.
pub async fn workspace_policies_are_replaced_whole<H: Harness>(h: &H) {
    let store = h.open().await;
    assert_eq!(store.workspace_policy("default").await.unwrap(), None);
    let a = serde_json::json!({"retry": {"network": {"maximum_attempts": 5}}});
    store.put_workspace_policy("default", &a, T0).await.unwrap();
    assert_eq!(store.workspace_policy("default").await.unwrap(), Some(a));
    assert_eq!(store.workspace_policy("other").await.unwrap(), None);
    let b = serde_json::json!({"retry": {}});
    h.open()
        .await
        .put_workspace_policy("default", &b, T0 + 1)
        .await
        .unwrap();
    assert_eq!(store.workspace_policy("default").await.unwrap(), Some(b));
}
