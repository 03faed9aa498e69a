//! Webhooks against a local receiver (axum on 127.0.0.1:0): deliveries are signed, retried with
//! backoff on the engine's manual clock after the receiver fails and then recovers, logged per
//! attempt, sent by the worker pool in its own task, and never hold up an execution while a
//! receiver hangs. No sleep decides an outcome: the receiver reports each request on a channel.

mod common;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::*;
use quantd_core::ExecutionState;
use quantd_engine::exec::clock::ManualClock;
use quantd_engine::exec::pool::{Pool, PoolOptions};
use quantd_engine::exec::{Engine, EngineOptions, ExecutionOptions};
use quantd_engine::webhooks::{WebhookOptions, WebhookPayload, WebhookSpec, verify_signature};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

const SECRET: &str = "test-secret-0123456789";

/// One request as the receiver saw it.
#[derive(Debug)]
struct Seen {
    headers: HeaderMap,
    body: Bytes,
}

/// A receiver that answers 500 to its first `fail_first` requests, then 204; or, with `hang`,
/// never answers.
struct Receiver {
    fail_first: u32,
    hang: bool,
    count: AtomicU32,
    seen: mpsc::UnboundedSender<Seen>,
}

async fn handle(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let n = r.count.fetch_add(1, Ordering::SeqCst) + 1;
    let _ = r.seen.send(Seen { headers, body });
    if r.hang {
        std::future::pending::<()>().await;
    }
    if n <= r.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

async fn receiver(fail_first: u32, hang: bool) -> (String, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let r = Arc::new(Receiver {
        fail_first,
        hang,
        count: AtomicU32::new(0),
        seen: tx,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/hook", post(handle)).with_state(r);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), rx)
}

fn options(timeout_ms: u64) -> EngineOptions {
    EngineOptions {
        webhooks: WebhookOptions {
            initial_backoff_ms: 1_000,
            backoff_coefficient: 2.0,
            max_attempts: 5,
            timeout_ms,
            ..WebhookOptions::default()
        },
        ..common::options()
    }
}

fn hook(url: &str) -> WebhookSpec {
    WebhookSpec {
        url: url.into(),
        events: None,
        secret: Some(SECRET.into()),
    }
}

async fn completed_scan(engine: &Engine) -> quantd_core::ExecutionId {
    let id = engine
        .submit(scan(ExecutionOptions::default()))
        .await
        .unwrap()
        .execution
        .id;
    drain(engine, &id).await;
    assert_eq!(
        engine.execution(&id).await.unwrap().state,
        ExecutionState::Completed
    );
    id
}

fn header<'a>(s: &'a Seen, name: &str) -> &'a str {
    s.headers.get(name).unwrap().to_str().unwrap()
}

#[tokio::test]
async fn deliveries_are_signed_and_retried_until_the_receiver_recovers() {
    let (_d, packs) = setup(20).await;
    let clock = ManualClock::new(1_000_000);
    let engine = Engine::with_clock(packs.clone(), options(5_000), clock.clone())
        .await
        .unwrap();
    let (url, mut seen) = receiver(2, false).await;
    let wh = engine.add_webhook("default", &hook(&url)).await.unwrap();
    assert_eq!(wh.secret.as_deref(), Some(SECRET), "shown at creation");
    assert!(
        engine.webhooks("default").await.unwrap()[0]
            .secret
            .is_none(),
        "never listed again"
    );
    let id = completed_scan(&engine).await;

    assert_eq!(
        engine.deliver_due().await.unwrap(),
        1,
        "attempt 1: HTTP 500"
    );
    assert_eq!(engine.deliver_due().await.unwrap(), 0, "backing off");
    clock.advance(999);
    assert_eq!(engine.deliver_due().await.unwrap(), 0, "still backing off");
    clock.advance(1);
    assert_eq!(
        engine.deliver_due().await.unwrap(),
        1,
        "attempt 2: HTTP 500"
    );
    clock.advance(1_999);
    assert_eq!(engine.deliver_due().await.unwrap(), 0, "the wait doubled");
    clock.advance(1);
    assert_eq!(
        engine.deliver_due().await.unwrap(),
        1,
        "attempt 3: accepted"
    );
    clock.advance(1_000_000);
    assert_eq!(engine.deliver_due().await.unwrap(), 0, "delivered once");

    let log = engine
        .webhook_deliveries("default", &wh.id, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    let d = &log[0];
    assert_eq!(
        (d.state.as_str(), d.attempts, d.event.as_str()),
        ("delivered", 3, "completed")
    );
    assert_eq!(d.execution_id, id.as_str());
    let statuses: Vec<_> = d.log.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(204)]);
    assert!(d.log[0].error.as_deref().unwrap().contains("HTTP 500"));
    assert!(d.log[2].error.is_none());
    assert_eq!(d.log.iter().map(|a| a.n).collect::<Vec<_>>(), [1, 2, 3]);

    let mut bodies = vec![];
    for _ in 0..3 {
        let s = seen.recv().await.unwrap();
        let ts = header(&s, "x-quantd-timestamp");
        let sig = header(&s, "x-quantd-signature");
        assert!(sig.starts_with("sha256="), "{sig}");
        assert!(
            verify_signature(SECRET.as_bytes(), ts, &s.body, sig),
            "the signature verifies with the secret"
        );
        assert!(!verify_signature(
            b"another-secret-000000",
            ts,
            &s.body,
            sig
        ));
        assert_eq!(header(&s, "x-quantd-event"), "completed");
        assert_eq!(
            header(&s, "x-quantd-delivery"),
            d.id,
            "the same id on every attempt"
        );
        assert_eq!(header(&s, "content-type"), "application/json");
        let p: WebhookPayload = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(
            (p.id.as_str(), p.event.as_str()),
            (d.id.as_str(), "completed")
        );
        assert_eq!(p.execution["id"], id.as_str());
        assert_eq!(p.execution["state"], "completed");
        assert_eq!(p.execution["kind"], "scan");
        bodies.push(s.body);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every attempt sends the same body"
    );
}

#[tokio::test]
async fn a_delivery_fails_after_its_last_attempt() {
    let (_d, packs) = setup(10).await;
    let clock = ManualClock::new(1_000_000);
    let mut o = options(5_000);
    o.webhooks.max_attempts = 2;
    let engine = Engine::with_clock(packs.clone(), o, clock.clone())
        .await
        .unwrap();
    let (url, _seen) = receiver(u32::MAX, false).await;
    let wh = engine.add_webhook("default", &hook(&url)).await.unwrap();
    completed_scan(&engine).await;
    assert_eq!(engine.deliver_due().await.unwrap(), 1);
    clock.advance(1_000);
    assert_eq!(engine.deliver_due().await.unwrap(), 1);
    clock.advance(1_000_000);
    assert_eq!(engine.deliver_due().await.unwrap(), 0, "no attempt is left");
    let d = &engine
        .webhook_deliveries("default", &wh.id, 10)
        .await
        .unwrap()[0];
    assert_eq!(
        (d.state.as_str(), d.attempts, d.log.len()),
        ("failed", 2, 2)
    );
    assert!(d.next_attempt_at.is_none());
}

#[tokio::test]
async fn an_execution_completes_while_the_receiver_hangs() {
    let (_d, packs) = setup(20).await;
    let clock = ManualClock::new(1_000_000);
    let engine = Arc::new(
        Engine::with_clock(packs.clone(), options(600_000), clock.clone())
            .await
            .unwrap(),
    );
    let (url, mut seen) = receiver(0, true).await;
    let wh = engine.add_webhook("default", &hook(&url)).await.unwrap();
    let first = completed_scan(&engine).await;
    let sender = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.deliver_due().await })
    };
    // The receiver holds the first delivery's request and never answers.
    let s = seen.recv().await.unwrap();
    assert_eq!(
        serde_json::from_slice::<WebhookPayload>(&s.body)
            .unwrap()
            .execution["id"],
        first.as_str()
    );
    // Meanwhile another execution runs from start to end.
    let second = completed_scan(&engine).await;
    let log = engine
        .webhook_deliveries("default", &wh.id, 10)
        .await
        .unwrap();
    let of =
        |id: &quantd_core::ExecutionId| log.iter().find(|d| d.execution_id == id.as_str()).unwrap();
    assert_eq!(
        (of(&second).state.as_str(), of(&second).attempts),
        ("pending", 0),
        "its delivery waits in the outbox"
    );
    assert_eq!(
        (of(&first).state.as_str(), of(&first).attempts),
        ("pending", 1),
        "the hanging attempt is in flight"
    );
    assert!(!sender.is_finished());
    sender.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_pool_sends_deliveries() {
    let (_d, packs) = setup(10).await;
    let clock = ManualClock::new(1_000_000);
    let engine = Arc::new(
        Engine::with_clock(packs.clone(), options(5_000), clock.clone())
            .await
            .unwrap(),
    );
    let (url, mut seen) = receiver(0, false).await;
    let wh = engine.add_webhook("default", &hook(&url)).await.unwrap();
    let pool = Pool::new(
        engine.clone(),
        PoolOptions {
            workers: 1,
            ..PoolOptions::default()
        },
    );
    let running = pool.start();
    let id = engine
        .submit(scan(ExecutionOptions::default()))
        .await
        .unwrap()
        .execution
        .id;
    pool.wake();
    let s = tokio::time::timeout(Duration::from_secs(60), seen.recv())
        .await
        .expect("a delivery within a minute")
        .unwrap();
    let p: WebhookPayload = serde_json::from_slice(&s.body).unwrap();
    assert_eq!(p.execution["id"], id.as_str());
    assert_eq!(p.event, "completed");
    running.join(Duration::from_secs(30)).await;
    let d = &engine
        .webhook_deliveries("default", &wh.id, 10)
        .await
        .unwrap()[0];
    assert_eq!(d.state, "delivered");
}
