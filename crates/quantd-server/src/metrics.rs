//! `GET /metrics` in the Prometheus text exposition format (version 0.0.4).
//!
//! Hand-written rather than the `prometheus` or `metrics` crates: the set is small and fixed,
//! histograms need explicit buckets either way, and a registry owned by [`AppState`] (not a
//! process-global recorder) keeps servers started side by side in one test process apart.
//! Counters and histograms are atomics behind a map per label set; executions by kind and
//! state and the queue depth are read from the store at scrape time, so they stay right across
//! restarts and other processes.
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
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Buckets of request latency, in seconds.
const REQUEST_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of shard durations, in seconds.
const SHARD_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// A histogram with fixed buckets.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            if s <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let n = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {n}");
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(
            out,
            "{name}_sum{braces} {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{braces} {n}");
    }
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    shards: Histogram,
    shard_outcomes: Mutex<BTreeMap<&'static str, u64>>,
    retries: Mutex<BTreeMap<String, u64>>,
    sse: AtomicI64,
    ws: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Mutex::default(),
            latency: Mutex::default(),
            shards: Histogram::new(SHARD_BUCKETS),
            shard_outcomes: Mutex::default(),
            retries: Mutex::default(),
            sse: AtomicI64::new(0),
            ws: AtomicI64::new(0),
        }
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

/// Counts one open stream while it lives.
#[derive(Debug)]
pub struct Subscriber {
    state: AppState,
    kind: StreamKind,
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.state
            .metrics()
            .gauge(self.kind)
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn gauge(&self, kind: StreamKind) -> &AtomicI64 {
        match kind {
            StreamKind::Sse => &self.sse,
            StreamKind::Ws => &self.ws,
        }
    }

    /// Counts an open stream until the returned guard drops.
    pub fn subscriber(state: &AppState, kind: StreamKind) -> Subscriber {
        state.metrics().gauge(kind).fetch_add(1, Ordering::Relaxed);
        Subscriber {
            state: state.clone(),
            kind,
        }
    }

    /// Records one request.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((route.to_string(), method.to_string(), status))
            .or_default() += 1;
        self.latency
            .lock()
            .expect("metrics lock")
            .entry(route.to_string())
            .or_insert_with(|| Histogram::new(REQUEST_BUCKETS))
            .observe(took);
    }

    /// Records one shard attempt that ran (`done`, `failed`, `stopped`, `lease_lost`).
    pub fn observe_shard(&self, outcome: &'static str, took: Duration) {
        *self
            .shard_outcomes
            .lock()
            .expect("metrics lock")
            .entry(outcome)
            .or_default() += 1;
        self.shards.observe(took);
    }

    /// Records a retry scheduled for a shard, by error class.
    pub fn observe_retry(&self, class: &str) {
        *self
            .retries
            .lock()
            .expect("metrics lock")
            .entry(class.to_string())
            .or_default() += 1;
    }

    /// The exposition text; `stats` come from the store.
    pub fn render(&self, stats: Option<&quantd_engine::records::QueueStats>) -> String {
        let mut out = String::new();
        out += "# HELP quantd_http_requests_total HTTP requests by route, method and status.\n";
        out += "# TYPE quantd_http_requests_total counter\n";
        for ((route, method, status), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "quantd_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out += "# HELP quantd_http_request_duration_seconds HTTP request latency by route.\n";
        out += "# TYPE quantd_http_request_duration_seconds histogram\n";
        for (route, h) in self.latency.lock().expect("metrics lock").iter() {
            h.write(
                &mut out,
                "quantd_http_request_duration_seconds",
                &format!("route=\"{}\"", escape(route)),
            );
        }
        out += "# HELP quantd_shard_duration_seconds Time to run and commit one shard attempt.\n";
        out += "# TYPE quantd_shard_duration_seconds histogram\n";
        self.shards
            .write(&mut out, "quantd_shard_duration_seconds", "");
        out += "# HELP quantd_shards_total Shard attempts run by this server, by outcome.\n";
        out += "# TYPE quantd_shards_total counter\n";
        for (outcome, n) in self.shard_outcomes.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "quantd_shards_total{{outcome=\"{outcome}\"}} {n}");
        }
        out += "# HELP quantd_shard_retries_total Shard retries scheduled, by error class.\n";
        out += "# TYPE quantd_shard_retries_total counter\n";
        for class in quantd_core::ErrorClass::ALL {
            let n = self
                .retries
                .lock()
                .expect("metrics lock")
                .get(class.as_str())
                .copied()
                .unwrap_or(0);
            let _ = writeln!(out, "quantd_shard_retries_total{{class=\"{class}\"}} {n}");
        }
        out += "# HELP quantd_sse_subscribers Open SSE streams.\n# TYPE quantd_sse_subscribers gauge\n";
        let _ = writeln!(
            out,
            "quantd_sse_subscribers {}",
            self.sse.load(Ordering::Relaxed)
        );
        out += "# HELP quantd_ws_subscribers Open WebSocket streams.\n# TYPE quantd_ws_subscribers gauge\n";
        let _ = writeln!(
            out,
            "quantd_ws_subscribers {}",
            self.ws.load(Ordering::Relaxed)
        );
        if let Some(s) = stats {
            out += "# HELP quantd_executions Executions in the store by kind and state.\n";
            out += "# TYPE quantd_executions gauge\n";
            for (kind, state, n) in &s.executions {
                let _ = writeln!(
                    out,
                    "quantd_executions{{kind=\"{kind}\",state=\"{state}\"}} {n}"
                );
            }
            out += "# HELP quantd_queue_depth Shards waiting to be claimed.\n# TYPE quantd_queue_depth gauge\n";
            let _ = writeln!(out, "quantd_queue_depth {}", s.pending_shards);
            out += "# HELP quantd_shards_running Shards running under a lease.\n# TYPE quantd_shards_running gauge\n";
            let _ = writeln!(out, "quantd_shards_running {}", s.running_shards);
        }
        out
    }
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
        state.metrics().render(stats.as_ref().ok()) + &breakers(&state),
    )
}

/// The circuit breakers of the agents this server called: `quantd_agent_breaker_state`, one
/// series per agent with its state as a label (1 for the state it is in).
fn breakers(state: &AppState) -> String {
    let mut out = String::from(
        "# HELP quantd_agent_breaker_state Circuit breaker of each agent (1 = its current state).\n# TYPE quantd_agent_breaker_state gauge\n",
    );
    for (ws, s) in state.engine().breaker_states() {
        for st in ["closed", "open", "half_open"] {
            let _ = writeln!(
                out,
                "quantd_agent_breaker_state{{workspace=\"{}\",agent=\"{}\",state=\"{st}\"}} {}",
                escape(&ws),
                escape(&s.name),
                u8::from(s.state.as_str() == st)
            );
        }
    }
    out
}
