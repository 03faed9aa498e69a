//! `GET /metrics` in the Prometheus text exposition format (version 0.0.4).
//!
//! Every crate emits through the `metrics` facade (`metrics::counter!`, `histogram!`, `gauge!`)
//! without depending on the server: the engine counts shards, their durations per kind,
//! execution durations and retries per error class; the sandbox counts verdicts; this crate
//! counts requests with their latency per route and open SSE and WebSocket streams. The server
//! installs one process-wide recorder, `metrics-exporter-prometheus` without its HTTP listener
//! ([`install`]), and renders its handle in our own routes. Histograms have explicit buckets.
//!
//! Facts of the store (executions by kind and state, queue depth, running shards) and the
//! agents' circuit breakers are set as gauges at scrape time, so they stay right across
//! restarts and other processes. The recorder is global, so servers started side by side in
//! one test process share the counters: a scrape sets and renders the gauges of its own
//! server under one lock (the series it does not see any more are set to 0), and tests assert
//! on their own labels or on deltas.
//!
//! The numbers cover every workspace, so they are an operator's: on the API listener `/metrics`
//! needs an admin token; a separate listener ([`crate::ServerOptions::metrics_addr`], meant for
//! a private interface) serves them without one.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// HTTP requests by route, method and status (counter).
pub const REQUESTS: &str = "quantd_http_requests_total";
/// HTTP request latency by route (histogram, seconds).
pub const REQUEST_DURATION: &str = "quantd_http_request_duration_seconds";
/// Open SSE streams (gauge).
pub const SSE_SUBSCRIBERS: &str = "quantd_sse_subscribers";
/// Open WebSocket streams (gauge).
pub const WS_SUBSCRIBERS: &str = "quantd_ws_subscribers";
/// Executions in the store by kind and state (gauge, set at scrape).
pub const EXECUTIONS: &str = "quantd_executions";
/// Shards waiting to be claimed (gauge, set at scrape).
pub const QUEUE_DEPTH: &str = "quantd_queue_depth";
/// Shards running under a lease (gauge, set at scrape).
pub const SHARDS_RUNNING: &str = "quantd_shards_running";
/// Each agent's circuit breaker, 1 for the state it is in (gauge, set at scrape).
pub const BREAKER_STATE: &str = "quantd_agent_breaker_state";

/// Buckets of request latency, in seconds.
const REQUEST_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of shard and execution durations, in seconds.
const WORK_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

/// The process's recorder handle.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// A gauge's name and labels.
type Series = (&'static str, Vec<(&'static str, String)>);

/// The series of scrape-time gauges that the last scrape set (to zero those that went away).
static SCRAPED: Mutex<BTreeSet<Series>> = Mutex::new(BTreeSet::new());

/// Installs the Prometheus recorder as the process's `metrics` recorder, once, and returns its
/// handle. If another recorder was installed first (a test harness's), this one still renders
/// the metrics of this crate's scrape-time gauges, and the rest go to the other recorder.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), REQUEST_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), WORK_BUCKETS))
            .expect("bucket lists are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed before the server's; /metrics shows only what reaches this one");
        }
        describe();
        // Histograms keep recent samples until upkeep folds them in.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("quantd-metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

/// HELP lines of every metric (the engine's and the sandbox's too).
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(REQUESTS, "HTTP requests by route, method and status.");
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "HTTP request latency by route."
    );
    describe_gauge!(SSE_SUBSCRIBERS, "Open SSE streams.");
    describe_gauge!(WS_SUBSCRIBERS, "Open WebSocket streams.");
    describe_gauge!(EXECUTIONS, "Executions in the store by kind and state.");
    describe_gauge!(QUEUE_DEPTH, "Shards waiting to be claimed.");
    describe_gauge!(SHARDS_RUNNING, "Shards running under a lease.");
    describe_gauge!(
        BREAKER_STATE,
        "Circuit breaker of each agent (1 = its current state)."
    );
    quantd_engine::exec::trace::describe_metrics();
    // Present from the first scrape, so a dashboard sees 0 rather than nothing.
    metrics::gauge!(SSE_SUBSCRIBERS).increment(0.0);
    metrics::gauge!(WS_SUBSCRIBERS).increment(0.0);
    for class in quantd_core::ErrorClass::ALL {
        metrics::counter!(quantd_engine::exec::trace::RETRIES, "class" => class.as_str())
            .absolute(0);
    }
}

/// Which stream gauge a [`Subscriber`] counts in.
#[derive(Debug, Clone, Copy)]
pub enum StreamKind {
    /// Server-sent events.
    Sse,
    /// WebSocket.
    Ws,
}

impl StreamKind {
    fn gauge(self) -> metrics::Gauge {
        match self {
            StreamKind::Sse => metrics::gauge!(SSE_SUBSCRIBERS),
            StreamKind::Ws => metrics::gauge!(WS_SUBSCRIBERS),
        }
    }
}

/// Counts one open stream while it lives.
#[derive(Debug)]
pub struct Subscriber {
    kind: StreamKind,
}

impl Subscriber {
    /// Counts an open stream until the returned guard drops.
    pub fn open(kind: StreamKind) -> Subscriber {
        kind.gauge().increment(1.0);
        Subscriber { kind }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.kind.gauge().decrement(1.0);
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// Records one request.
pub fn observe_request(route: &str, method: &str, status: u16, took: Duration) {
    metrics::counter!(REQUESTS, "route" => route.to_string(), "method" => method.to_string(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(REQUEST_DURATION, "route" => route.to_string()).record(took.as_secs_f64());
}

/// The exposition text: this server's scrape-time gauges set from `stats` and its breakers,
/// then everything the recorder holds.
pub fn render(state: &AppState, stats: Option<&quantd_engine::records::QueueStats>) -> String {
    let handle = install();
    let mut now: Vec<(Series, f64)> = Vec::new();
    if let Some(s) = stats {
        for (kind, st, n) in &s.executions {
            now.push((
                (
                    EXECUTIONS,
                    vec![("kind", kind.to_string()), ("state", st.to_string())],
                ),
                *n as f64,
            ));
        }
        now.push(((QUEUE_DEPTH, vec![]), s.pending_shards as f64));
        now.push(((SHARDS_RUNNING, vec![]), s.running_shards as f64));
    }
    for (ws, b) in state.engine().breaker_states() {
        for st in ["closed", "open", "half_open"] {
            now.push((
                (
                    BREAKER_STATE,
                    vec![
                        ("workspace", ws.clone()),
                        ("agent", b.name.clone()),
                        ("state", st.to_string()),
                    ],
                ),
                f64::from(u8::from(b.state.as_str() == st)),
            ));
        }
    }
    let mut scraped = SCRAPED.lock().expect("scrape lock");
    let seen: BTreeSet<Series> = now.iter().map(|(series, _)| series.clone()).collect();
    for (name, labels) in scraped.difference(&seen) {
        gauge(name, labels).set(0.0);
    }
    for ((name, labels), v) in &now {
        gauge(name, labels).set(*v);
    }
    *scraped = seen;
    handle.render()
}

fn gauge(name: &'static str, labels: &[(&'static str, String)]) -> metrics::Gauge {
    let labels: Vec<metrics::Label> = labels
        .iter()
        .map(|(k, v)| metrics::Label::new(*k, v.clone()))
        .collect();
    metrics::gauge!(name, labels)
}

/// The Prometheus scrape endpoint, for admin (operator) tokens: it counts every workspace's
/// executions. `quantd serve --metrics-addr` serves it without a token on a separate listener.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "health",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"),
        (status = 401, description = "No or a wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn serve(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, AppError> {
    if !caller.admin {
        return Err(AppError::Forbidden(
            "metrics count every workspace's executions: they need an admin token (`quantd tokens create --admin`), or scrape the listener of `quantd serve --metrics-addr`".into(),
        ));
    }
    Ok(serve_open(State(state)).await)
}

/// `/metrics` on the metrics listener: no token (the listener is the operator's).
pub async fn serve_open(State(state): State<AppState>) -> impl IntoResponse {
    let stats = state.engine().records().queue_stats().await;
    if let Err(e) = &stats {
        tracing::warn!(error = %e, "metrics: reading queue stats failed");
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&state, stats.as_ref().ok()),
    )
}
