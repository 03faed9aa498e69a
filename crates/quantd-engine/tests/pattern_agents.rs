//! Pattern `call` steps against a local agent (axum on 127.0.0.1): the answer becomes the step's
//! outputs; a failing agent opens its breaker, and the next calls fail at once with the
//! retryable class `circuit_open` without reaching it; after the wait (a manual clock) a
//! half-open probe reaches the recovered agent and closes the breaker.

mod common;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{engine, setup};
use quantd_core::{ErrorClass, ExecutionKind, ExecutionState};
use quantd_engine::agents::AgentSpec;
use quantd_engine::code::CodeSource;
use quantd_engine::exec::Engine;
use quantd_engine::exec::clock::ManualClock;
use quantd_engine::exec::pattern::StepStatus;
use quantd_engine::exec::request::SubmitRequest;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The variable holding the agent's secret: one every process has, so the test need not set
/// one (setting the environment is unsafe while other threads run).
const SECRET_ENV: &str = "PATH";

fn secret() -> String {
    std::env::var(SECRET_ENV).unwrap()
}

#[derive(Default)]
struct Agent {
    failing: AtomicBool,
    requests: AtomicUsize,
}

async fn handle(
    State(a): State<Arc<Agent>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    a.requests.fetch_add(1, Ordering::SeqCst);
    let ts = headers
        .get("x-quantd-timestamp")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let sig = headers
        .get("x-quantd-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !quantd_agents::verify_signature(secret().as_bytes(), ts, &body, sig) {
        return (StatusCode::UNAUTHORIZED, "bad signature".into());
    }
    if a.failing.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down".into());
    }
    let task: Value = serde_json::from_slice(&body).unwrap();
    let tickers = task["input"]["tickers"].as_array().map_or(0, Vec::len);
    (
        StatusCode::OK,
        json!({"reviewed": tickers, "task": task["task_id"], "verdict": "keep"}).to_string(),
    )
}

async fn serve(agent: Arc<Agent>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/", post(handle)).with_state(agent);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

async fn run(engine: &Engine) -> (ExecutionState, StepStatus, Value, Option<ErrorClass>) {
    let mut r = SubmitRequest::new(ExecutionKind::Pattern);
    r.code = Some("review".into());
    let id = engine.submit(r).await.unwrap().execution.id;
    while engine.step(None).await.unwrap().is_some() {}
    let rec = engine.execution(&id).await.unwrap();
    let report = engine.pattern_report(&id).await.unwrap();
    let step = report
        .steps
        .iter()
        .find(|s| s.id == "review")
        .unwrap()
        .clone();
    (
        rec.state,
        step.status,
        step.outputs,
        step.error.map(|e| e.class),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_step_reaches_a_healthy_agent_and_fails_fast_when_its_breaker_is_open() {
    let (_d, packs) = setup(3).await;
    let clock = ManualClock::new(1_000_000);
    let engine = engine(&packs, clock.clone()).await;
    let agent = Arc::new(Agent::default());
    let url = serve(agent.clone()).await;
    let spec = AgentSpec {
        url,
        capabilities: vec!["review".into()],
        secret_env: Some(SECRET_ENV.into()),
        breaker: Some(
            json!({"sliding_window_size": 2, "minimum_number_of_calls": 2,
            "wait_duration_in_open_state_ms": 30_000, "permitted_number_of_calls_in_half_open_state": 1}),
        ),
    };
    assert!(
        engine
            .add_agent("default", "reviewer", &spec)
            .await
            .unwrap()
    );
    let doc = json!({"steps": [
        {"id": "scan", "kind": "scan", "pack": "u", "expr": "close > sma(close, 10)"},
        {"id": "review", "call": {"capability": "review", "timeout": 10,
            "input": {"tickers": "{{ state.scan.outputs.top_tickers }}"}}}
    ]});
    engine
        .code("default")
        .add("review", &CodeSource::Pattern(doc.to_string()))
        .await
        .unwrap();

    let (state, status, outputs, _) = run(&engine).await;
    assert_eq!(
        (state, status),
        (ExecutionState::Completed, StepStatus::Completed)
    );
    assert_eq!(outputs["verdict"], "keep");
    assert_eq!(outputs["reviewed"], 3, "the agent got the scan's tickers");
    assert!(
        outputs["task"].as_str().unwrap().ends_with(":review@1"),
        "{outputs}"
    );

    // The agent goes down: with the success before it, one failure is half the window of two,
    // the failure rate threshold (50 %): the breaker opens.
    agent.failing.store(true, Ordering::SeqCst);
    let (state, status, _, class) = run(&engine).await;
    assert_eq!(
        (state, status, class),
        (
            ExecutionState::Failed,
            StepStatus::Failed,
            Some(ErrorClass::Network)
        )
    );
    let reached = agent.requests.load(Ordering::SeqCst);
    let (_, status, _, class) = run(&engine).await;
    assert_eq!(
        (status, class),
        (StepStatus::Failed, Some(ErrorClass::CircuitOpen))
    );
    assert_eq!(
        agent.requests.load(Ordering::SeqCst),
        reached,
        "an open breaker fails fast"
    );
    let views = engine.agent_views("default").await.unwrap();
    assert_eq!(views[0].state, "open");
    assert_eq!(views[0].reopens_at_ms, Some(1_000_000 + 30_000));

    // It recovers; after the wait a half-open probe reaches it and closes the breaker.
    agent.failing.store(false, Ordering::SeqCst);
    clock.advance(30_001);
    let (state, status, _, _) = run(&engine).await;
    assert_eq!(
        (state, status),
        (ExecutionState::Completed, StepStatus::Completed)
    );
    assert_eq!(
        engine.agent_views("default").await.unwrap()[0].state,
        "closed"
    );
    assert_eq!(engine.breaker_states().len(), 1);
}

#[tokio::test]
async fn a_call_without_an_agent_or_with_a_wrong_key_fails_with_its_reason() {
    let (_d, packs) = setup(2).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    let doc = json!({"steps": [{"id": "review", "call": {"capability": "review", "timout": 5}}]});
    engine
        .code("default")
        .add("review", &CodeSource::Pattern(doc.to_string()))
        .await
        .unwrap();
    let (state, status, _, class) = run(&engine).await;
    assert_eq!(
        (state, status, class),
        (
            ExecutionState::Failed,
            StepStatus::Failed,
            Some(ErrorClass::Validation)
        )
    );
    let doc = json!({"steps": [{"id": "review", "call": {"capability": "review"}}]});
    engine
        .code("default")
        .add("review", &CodeSource::Pattern(doc.to_string()))
        .await
        .unwrap();
    let (_, status, _, class) = run(&engine).await;
    assert_eq!(
        (status, class),
        (StepStatus::Failed, Some(ErrorClass::Validation)),
        "no agent has it"
    );
    let bad = AgentSpec {
        url: "ftp://x".into(),
        capabilities: vec!["review".into()],
        secret_env: None,
        breaker: None,
    };
    let e = engine
        .add_agent("default", "x", &bad)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("url"), "{e}");
}
