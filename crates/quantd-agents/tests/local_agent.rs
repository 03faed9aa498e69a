//! Agents on 127.0.0.1: a fake agent (axum) that checks the request's signature (401 when it is
//! wrong), answers JSON, and can be switched to failing (500), slow, oversized or not-JSON,
//! counting the requests that reach it. The breakers run on a [`ManualClock`]: nothing here
//! sleeps, except the slow agent's handler.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use quantd_agents::{
    AgentConfig, AgentError, Agents, BreakerState, CircuitBreakerConfig, Clock, ManualClock,
    SIGNATURE_HEADER, TASK_ID_HEADER, TIMESTAMP_HEADER, TaskRequest, verify_signature,
};
use serde_json::{Value, json};

/// What the fake agent answers with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// `{"agent", "task_id", "capability", "echo": input, "sum": a + b}`.
    Answer,
    /// Sleeps past any test's timeout first.
    Slow,
    /// A JSON string one byte over 1 MiB, with a content-length.
    Big,
    /// The same, streamed in chunks without a content-length.
    BigStreamed,
    /// `200 OK` with a body that is not JSON.
    NotJson,
}

/// One fake agent.
struct Fake {
    name: String,
    url: String,
    secret: Option<String>,
    mode: Mode,
    /// When set, every request (with a good signature) gets a 500.
    failing: AtomicBool,
    /// Requests that reached the handler.
    requests: AtomicUsize,
}

impl Fake {
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

async fn handle(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: Bytes) -> Response {
    fake.requests.fetch_add(1, Ordering::SeqCst);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    if let Some(secret) = &fake.secret {
        let (timestamp, signature) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER));
        if !verify_signature(secret.as_bytes(), &timestamp, &body, &signature) {
            return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
        }
    }
    if fake.failing.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "agent failing").into_response();
    }
    let task: TaskRequest = match serde_json::from_slice(&body) {
        Ok(task) => task,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    if header(TASK_ID_HEADER) != task.task_id
        || header("content-type") != "application/json"
        || task.deadline_ms <= 0
    {
        return (StatusCode::BAD_REQUEST, "headers do not match the body").into_response();
    }
    if task.input.get("reject").is_some() {
        return (StatusCode::UNPROCESSABLE_ENTITY, "input refused").into_response();
    }
    let big = || format!("\"{}\"", "x".repeat((1 << 20) - 1));
    match fake.mode {
        Mode::Slow => tokio::time::sleep(Duration::from_secs(5)).await,
        Mode::Big => return big().into_response(),
        Mode::BigStreamed => {
            let text = big();
            let chunks: Vec<Result<Bytes, Infallible>> = text
                .as_bytes()
                .chunks(64 * 1024)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            return Body::from_stream(futures::stream::iter(chunks)).into_response();
        }
        Mode::NotJson => return "<html>hello</html>".into_response(),
        Mode::Answer => {}
    }
    let sum = task.input["a"].as_i64().unwrap_or(0) + task.input["b"].as_i64().unwrap_or(0);
    axum::Json(json!({
        "agent": fake.name,
        "task_id": task.task_id,
        "capability": task.capability,
        "echo": task.input,
        "sum": sum,
    }))
    .into_response()
}

/// Starts a fake agent on a free port of 127.0.0.1, checking signatures with `secret`.
async fn spawn(name: &str, secret: Option<&str>, mode: Mode) -> Arc<Fake> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = Arc::new(Fake {
        name: name.to_owned(),
        url: format!("http://{addr}/task"),
        secret: secret.map(str::to_owned),
        mode,
        failing: AtomicBool::new(false),
        requests: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/task", post(handle))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    fake
}

/// Window 4, judged from 4, 50 % failures, open for 10 s, 2 probes.
fn breaker() -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        failure_rate_threshold: 50.0,
        sliding_window_size: 4,
        minimum_number_of_calls: 4,
        wait_duration_in_open_state_ms: 10_000,
        permitted_number_of_calls_in_half_open_state: 2,
        ..CircuitBreakerConfig::default()
    }
}

/// The fake agent as registered, with the secret quantd signs with.
fn config(fake: &Fake, capability: &str, secret: Option<&str>) -> AgentConfig {
    AgentConfig {
        name: fake.name.clone(),
        url: fake.url.clone(),
        capabilities: vec![capability.to_owned()],
        secret: secret.map(str::to_owned),
        breaker: breaker(),
    }
}

/// Long enough for a loaded debug build; only the slow agent's test waits for a timeout.
const TIMEOUT: Duration = Duration::from_secs(10);

const T0: i64 = 1_700_000_000_000;

async fn call(
    agents: &Agents,
    clock: &ManualClock,
    capability: &str,
    input: Value,
) -> Result<quantd_agents::CallOutcome, AgentError> {
    agents
        .call(capability, "task-1", &input, TIMEOUT, clock)
        .await
}

fn state(agents: &Agents, clock: &ManualClock, name: &str) -> (BreakerState, Option<i64>) {
    let s = agents
        .states(clock.now_ms())
        .into_iter()
        .find(|s| s.name == name)
        .unwrap();
    (s.state, s.reopens_at_ms)
}

#[tokio::test]
async fn a_signed_call_gets_the_agents_answer() {
    let fake = spawn("adder", Some("k3y"), Mode::Answer).await;
    let agents = Agents::new(vec![config(&fake, "add", Some("k3y"))]).unwrap();
    let clock = ManualClock::new(T0);
    let out = call(&agents, &clock, "add", json!({"a": 2, "b": 40}))
        .await
        .unwrap();
    assert_eq!(out.agent, "adder");
    assert_eq!(out.duration_ms, 0, "timed by the manual clock");
    assert_eq!(
        out.output,
        json!({
            "agent": "adder", "task_id": "task-1", "capability": "add",
            "echo": {"a": 2, "b": 40}, "sum": 42,
        })
    );
}

#[tokio::test]
async fn a_failing_agent_opens_its_breaker_and_probes_close_it() {
    let fake = spawn("a", Some("s"), Mode::Answer).await;
    let agents = Agents::new(vec![config(&fake, "echo", Some("s"))]).unwrap();
    let clock = ManualClock::new(T0);
    for _ in 0..2 {
        call(&agents, &clock, "echo", json!({})).await.unwrap();
    }

    // Failing: the window [ok, ok, 500] is under the minimum of 4; the next 500 makes it 2 of 4.
    fake.fail(true);
    let e = call(&agents, &clock, "echo", json!({})).await.unwrap_err();
    assert!(matches!(e, AgentError::Status { status: 500, .. }), "{e}");
    assert!(e.retryable() && e.counts_against_agent());
    assert_eq!(state(&agents, &clock, "a").0, BreakerState::Closed);
    call(&agents, &clock, "echo", json!({})).await.unwrap_err();
    let reopens = T0 + 10_000;
    assert_eq!(
        state(&agents, &clock, "a"),
        (BreakerState::Open, Some(reopens))
    );
    assert_eq!(fake.requests(), 4);

    // Open: calls fail fast, without reaching the agent.
    clock.advance(9_999);
    for _ in 0..3 {
        let e = call(&agents, &clock, "echo", json!({})).await.unwrap_err();
        assert_eq!(
            e,
            AgentError::CircuitOpen {
                capability: "echo".into(),
                agents: vec!["a".into()],
                reopens_at_ms: Some(reopens),
            }
        );
        assert!(e.retryable());
    }
    assert_eq!(fake.requests(), 4);
    assert_eq!(
        agents.states(clock.now_ms())[0]
            .metrics
            .number_of_not_permitted_calls,
        3
    );

    // Past the wait: two probes reach the agent; still failing, it opens again.
    clock.advance(1);
    call(&agents, &clock, "echo", json!({})).await.unwrap_err();
    assert_eq!(state(&agents, &clock, "a").0, BreakerState::HalfOpen);
    call(&agents, &clock, "echo", json!({})).await.unwrap_err();
    assert_eq!(fake.requests(), 6);
    assert_eq!(
        state(&agents, &clock, "a"),
        (BreakerState::Open, Some(reopens + 10_000))
    );

    // Healthy again: after the wait the probes succeed and the breaker closes.
    fake.fail(false);
    clock.advance(10_000);
    for _ in 0..2 {
        call(&agents, &clock, "echo", json!({})).await.unwrap();
    }
    assert_eq!(fake.requests(), 8);
    assert_eq!(state(&agents, &clock, "a"), (BreakerState::Closed, None));
    call(&agents, &clock, "echo", json!({})).await.unwrap();
}

#[tokio::test]
async fn two_agents_share_a_capability_round_robin_until_one_opens() {
    let a = spawn("a", None, Mode::Answer).await;
    let b = spawn("b", None, Mode::Answer).await;
    let agents = Agents::new(vec![config(&a, "echo", None), config(&b, "echo", None)]).unwrap();
    let clock = ManualClock::new(T0);
    let mut order = Vec::new();
    for _ in 0..4 {
        order.push(
            call(&agents, &clock, "echo", json!({}))
                .await
                .unwrap()
                .agent,
        );
    }
    assert_eq!(order, ["a", "b", "a", "b"]);

    // a fails on its turns; after two failures (2 of 4) it opens.
    a.fail(true);
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let r = call(&agents, &clock, "echo", json!({})).await;
        outcomes.push(r.map(|o| o.agent).map_err(|e| e.agent().map(str::to_owned)));
    }
    assert_eq!(
        outcomes,
        [
            Err(Some("a".to_owned())),
            Ok("b".to_owned()),
            Err(Some("a".to_owned())),
            Ok("b".to_owned()),
        ]
    );
    assert_eq!(state(&agents, &clock, "a").0, BreakerState::Open);

    // b takes every call while a is open.
    let before = a.requests();
    for _ in 0..5 {
        let out = call(&agents, &clock, "echo", json!({})).await.unwrap();
        assert_eq!(out.agent, "b");
    }
    assert_eq!(a.requests(), before);
    assert_eq!(b.requests(), 9);
}

#[tokio::test]
async fn the_calls_future_can_be_spawned() {
    let fake = spawn("a", None, Mode::Answer).await;
    let agents = Arc::new(Agents::new(vec![config(&fake, "echo", None)]).unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let task = tokio::spawn(async move {
        agents
            .call("echo", "t", &json!({"a": 1}), TIMEOUT, clock.as_ref())
            .await
    });
    assert_eq!(task.await.unwrap().unwrap().output["sum"], 1);
}

#[tokio::test]
async fn a_wrong_secret_is_a_401_that_does_not_open_the_breaker() {
    let fake = spawn("a", Some("right"), Mode::Answer).await;
    let wrong = config(&fake, "echo", Some("wrong"));
    let unsigned = AgentConfig {
        name: "unsigned".into(),
        capabilities: vec!["plain".into()],
        ..config(&fake, "echo", None)
    };
    let agents = Agents::new(vec![wrong, unsigned]).unwrap();
    let clock = ManualClock::new(T0);
    for capability in ["echo", "plain"] {
        for _ in 0..6 {
            let e = call(&agents, &clock, capability, json!({}))
                .await
                .unwrap_err();
            match &e {
                AgentError::Status {
                    status, body_head, ..
                } => assert_eq!((*status, body_head.as_str()), (401, "bad signature")),
                other => panic!("{other:?}"),
            }
            assert!(!e.retryable() && !e.counts_against_agent());
            assert_eq!(e.class(), "status");
        }
    }
    assert_eq!(fake.requests(), 12);
    for s in agents.states(T0) {
        assert_eq!(s.state, BreakerState::Closed);
        assert_eq!(s.metrics.number_of_buffered_calls, 0);
    }
}

#[tokio::test]
async fn a_task_the_agent_refuses_is_not_retryable_and_not_held_against_it() {
    let fake = spawn("a", None, Mode::Answer).await;
    let agents = Agents::new(vec![config(&fake, "echo", None)]).unwrap();
    let clock = ManualClock::new(T0);
    for _ in 0..5 {
        let e = call(&agents, &clock, "echo", json!({"reject": true}))
            .await
            .unwrap_err();
        assert!(matches!(e, AgentError::Status { status: 422, .. }), "{e}");
        assert!(!e.retryable());
    }
    assert_eq!(state(&agents, &clock, "a").0, BreakerState::Closed);
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_a_bad_response() {
    for mode in [Mode::Big, Mode::BigStreamed] {
        let fake = spawn("big", None, mode).await;
        let agents = Agents::new(vec![config(&fake, "echo", None)]).unwrap();
        let clock = ManualClock::new(T0);
        let e = call(&agents, &clock, "echo", json!({})).await.unwrap_err();
        assert_eq!(
            e,
            AgentError::BadResponse {
                agent: "big".into(),
                message: "the body is larger than the limit of 1048576 bytes".into(),
            },
            "{mode:?}"
        );
        assert!(!e.retryable() && e.counts_against_agent());
        assert_eq!(e.class(), "bad_response");
        let metrics = &agents.states(T0)[0].metrics;
        assert_eq!(metrics.number_of_failed_calls, 1);
    }
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_a_bad_response() {
    let fake = spawn("html", None, Mode::NotJson).await;
    let agents = Agents::new(vec![config(&fake, "echo", None)]).unwrap();
    let e = call(&agents, &ManualClock::new(T0), "echo", json!({}))
        .await
        .unwrap_err();
    match e {
        AgentError::BadResponse { message, .. } => {
            assert!(message.starts_with("the body is not JSON"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_slow_agent_times_out() {
    let fake = spawn("slow", None, Mode::Slow).await;
    let agents = Agents::new(vec![config(&fake, "echo", None)]).unwrap();
    let clock = ManualClock::new(T0);
    let started = Instant::now();
    let e = agents
        .call("echo", "t", &json!({}), Duration::from_millis(200), &clock)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        e,
        AgentError::Timeout {
            agent: "slow".into(),
            timeout_ms: 200,
        }
    );
    assert!(e.retryable() && e.counts_against_agent());
    let metrics = &agents.states(T0)[0].metrics;
    assert_eq!(metrics.number_of_failed_calls, 1);
}

#[tokio::test]
async fn an_agent_that_is_not_listening_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/task", listener.local_addr().unwrap());
    drop(listener);
    let agents = Agents::new(vec![AgentConfig {
        name: "gone".into(),
        url,
        capabilities: vec!["echo".into()],
        secret: None,
        breaker: breaker(),
    }])
    .unwrap();
    let e = call(&agents, &ManualClock::new(T0), "echo", json!({}))
        .await
        .unwrap_err();
    match &e {
        AgentError::Transport { agent, message } => {
            assert_eq!(agent, "gone");
            assert!(message.to_lowercase().contains("connect"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.retryable() && e.counts_against_agent());
}

#[tokio::test]
async fn an_unknown_capability_is_no_agent() {
    let fake = spawn("a", None, Mode::Answer).await;
    let agents = Agents::new(vec![config(&fake, "echo", None)]).unwrap();
    let e = call(&agents, &ManualClock::new(T0), "summarize", json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "no agent has capability `summarize`; the registered agents have: echo"
    );
    assert!(!e.retryable());
    assert_eq!(fake.requests(), 0);
}
