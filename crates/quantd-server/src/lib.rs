//! quantd's HTTP API: the engine's operations over REST (`/v1`), live progress over SSE and
//! WebSocket, bearer-token auth that maps every caller to a workspace, health and Prometheus
//! metrics, and an OpenAPI 3.1 document generated from the code (`/v1/openapi.json`).
//!
//! Operations ([`telemetry`]): logs, OpenTelemetry traces over OTLP from each request's span
//! (continuing the caller's `traceparent`) down to its execution's shards, Prometheus metrics
//! that every crate emits through the `metrics` facade ([`metrics`]), and optional
//! Sentry-compatible error reports scrubbed of secrets ([`reporting`]).
//!
//! [`app`] builds the router (tests call it directly); [`run`] serves it on a listener until a
//! shutdown future resolves, runs the engine's worker pool in the same process, and shuts down
//! gracefully: streams end with a final event, running shards commit (or go back to the queue).
//!
//! This crate never runs user code or touches SQL: every operation is one call into
//! quantd-engine (the same call the CLI makes), scoped to the caller's workspace. Another
//! workspace's ids answer 404, never 403, so ids do not leak across workspaces.
//!
//! The same listener serves the dashboard for people at `/` ([`dashboard`]): HTML pages over
//! the same engine calls, signed in with a workspace token exchanged for a session cookie.
//!
//! Safe to share: a token is checked on every request and, for open streams, again whenever the
//! store says it was revoked ([`authority`]); no request can be forged by another web site
//! (`guard`: CORS-safelisted bodies are refused everywhere, and `--no-auth` also checks `Host`
//! and `Origin` and binds loopback only, see [`check_bind`]); uploads are bounded on disk and
//! never left behind (`uploads`).

pub mod auth;
pub mod authority;
pub mod dashboard;
pub mod error;
mod extract;
mod guard;
pub mod mcp;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod reporting;
mod routes;
mod stream;
pub mod telemetry;
mod uploads;
mod workers;
mod ws;

pub use error::{AppError, Problem};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use quantd_core::ExecutionId;
use quantd_engine::exec::Engine;
use quantd_engine::exec::pool::{Pool, PoolOptions};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Settings of the server. Every field has a default suitable for `quantd serve`; the limits
/// are listed in docs/limits.md ("HTTP API").
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Require bearer tokens (`false` = `--no-auth`: every caller is the `default` workspace,
    /// the server binds loopback addresses only and refuses requests whose `Host` is not this
    /// server's loopback address or whose `Origin` is another site). Default `true`.
    pub auth: bool,
    /// Largest JSON body accepted, in bytes (413 above).
    pub body_limit: usize,
    /// Largest pack upload accepted, in bytes (413 above).
    pub upload_limit: usize,
    /// How often idle SSE streams send a keep-alive comment.
    pub keep_alive: Duration,
    /// Concurrent shard workers of the pool (default: one per core).
    pub workers: usize,
    /// Workers that may take long work (`run`, `paper`, `live`); `None`: all but one when
    /// there are two or more ([`quantd_engine::exec::pool::PoolOptions::long_workers`]).
    pub long_workers: Option<usize>,
    /// How often running executions record a health snapshot.
    pub health_every: Duration,
    /// How long shutdown waits for running shards to commit before leaving them to recovery.
    pub shutdown_grace: Duration,
    /// How long `POST /v1/packs` waits for its import execution before answering 202.
    pub upload_wait: Duration,
    /// Bytes that uploads may hold at once, from the first byte received until their import
    /// ends and the file is removed (`--upload-budget`). An upload that would go over it is
    /// answered 503 with `Retry-After` before anything is written. Default: 2 × `upload_limit`
    /// (512 MiB).
    pub upload_budget: usize,
    /// How often open SSE streams and WebSockets learn that their token was revoked (one store
    /// query per period for all of them, none when no stream is open). Default 250 ms, so a
    /// revoked token's streams close within a second.
    pub revocation_poll: Duration,
    /// A second listener that serves only `GET /metrics`, without a token, for Prometheus
    /// (`--metrics-addr`; bind it to a private interface). Default `None`: `/metrics` is served
    /// on the API listener only, to admin tokens.
    pub metrics_addr: Option<SocketAddr>,
    /// The MCP endpoint's `Host` and `Origin` allow-lists (`--mcp-allowed-host`,
    /// `--mcp-allowed-origin`); its body limit is [`ServerOptions::body_limit`]. Default: loopback
    /// host names, any origin.
    pub mcp: quantd_mcp::HttpOptions,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            auth: true,
            body_limit: 1 << 20,
            upload_limit: 256 << 20,
            keep_alive: Duration::from_secs(15),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            long_workers: None,
            health_every: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(10),
            upload_wait: Duration::from_secs(2),
            upload_budget: 512 << 20,
            revocation_poll: Duration::from_millis(250),
            metrics_addr: None,
            mcp: quantd_mcp::HttpOptions::default(),
        }
    }
}

/// Errors of [`run`].
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listener failed.
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
    /// `--no-auth` on an address other machines can reach.
    #[error(
        "--no-auth serves only this machine, but {0} is not a loopback address; bind 127.0.0.1 or [::1] (e.g. --addr 127.0.0.1:{port}), or serve with tokens (drop --no-auth)",
        port = .0.port()
    )]
    NoAuthNotLoopback(SocketAddr),
}

/// Refuses to serve without tokens on a non-loopback address: anyone who can reach it would act
/// as the `default` workspace.
pub fn check_bind(addr: SocketAddr, options: &ServerOptions) -> Result<(), ServerError> {
    if options.auth || addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(ServerError::NoAuthNotLoopback(addr))
    }
}

/// What every route shares: the engine, the options, the worker pool and the shutdown signal.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    options: ServerOptions,
    workers: Arc<Pool>,
    /// `true` once shutdown began: streams close with a final event.
    shutdown: watch::Sender<bool>,
    /// Which workspace owns an execution, for filtering the broadcast of all events.
    owners: Mutex<HashMap<ExecutionId, String>>,
    /// Serializes submissions that carry an `Idempotency-Key`.
    idempotency: tokio::sync::Mutex<()>,
    /// The tokens of open streams, polled for revocation.
    revocations: authority::Revocations,
    /// Bytes held by uploads (received or waiting for their import).
    uploads: uploads::Budget,
    /// The address the API listens on, once [`run`] bound it (the `--no-auth` Host check).
    local_addr: OnceLock<SocketAddr>,
    /// The dashboard's sessions.
    sessions: dashboard::session::Sessions,
    /// The rows the dashboard's live lists share.
    live_rows: dashboard::live::Rows,
}

impl AppState {
    /// State over an engine (the server's only way to do anything).
    pub fn new(engine: Arc<Engine>, options: ServerOptions) -> AppState {
        let (shutdown, _) = watch::channel(false);
        metrics::install();
        let pool_options = PoolOptions {
            workers: options.workers,
            long_workers: options.long_workers,
            health_every_ms: options.health_every.as_millis() as i64,
            ..PoolOptions::default()
        };
        let workers = Pool::new(engine.clone(), pool_options);
        AppState {
            inner: Arc::new(Inner {
                engine,
                workers,
                options,
                shutdown,
                owners: Mutex::new(HashMap::new()),
                idempotency: tokio::sync::Mutex::new(()),
                revocations: authority::Revocations::default(),
                uploads: uploads::Budget::default(),
                local_addr: OnceLock::new(),
                sessions: dashboard::session::Sessions::default(),
                live_rows: dashboard::live::Rows::default(),
            }),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The options.
    pub fn options(&self) -> &ServerOptions {
        &self.inner.options
    }

    /// The engine's worker pool serving this process.
    pub fn workers(&self) -> &Arc<Pool> {
        &self.inner.workers
    }

    /// Tells streams to close with a final event and the worker pool to stop claiming shards.
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        self.inner.workers.drain();
    }

    /// The dashboard's sessions.
    pub fn sessions(&self) -> &dashboard::session::Sessions {
        &self.inner.sessions
    }

    /// The rows the dashboard's live lists share.
    pub fn live_rows(&self) -> &dashboard::live::Rows {
        &self.inner.live_rows
    }

    fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }
}

/// Every route of the API as (method, path template): the router below and the OpenAPI
/// document must both have exactly these (a test checks it).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/health/ready"),
    ("get", "/health/pack/{name}"),
    ("get", "/metrics"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/code"),
    ("post", "/v1/code/{name}"),
    ("get", "/v1/code/{name}"),
    ("delete", "/v1/code/{name}"),
    ("get", "/v1/code/{name}/versions/{version}"),
    ("post", "/v1/code/{name}/rollback"),
    ("post", "/v1/validate"),
    ("get", "/v1/schemas/pattern.json"),
    ("post", "/v1/executions"),
    ("get", "/v1/executions"),
    ("post", "/v1/checks/lookahead"),
    ("get", "/v1/executions/{id}"),
    ("post", "/v1/executions/{id}/pause"),
    ("post", "/v1/executions/{id}/resume"),
    ("post", "/v1/executions/{id}/cancel"),
    ("post", "/v1/executions/{id}/retry"),
    ("post", "/v1/execute"),
    ("get", "/v1/agents"),
    ("post", "/v1/agents/{name}"),
    ("delete", "/v1/agents/{name}"),
    ("get", "/v1/rights"),
    ("get", "/v1/rights/log"),
    ("post", "/v1/rights/{name}"),
    ("delete", "/v1/rights/{name}"),
    ("put", "/v1/packs/{name}/provider"),
    ("get", "/v1/policy"),
    ("put", "/v1/policy"),
    ("get", "/v1/webhooks"),
    ("post", "/v1/webhooks"),
    ("delete", "/v1/webhooks/{id}"),
    ("get", "/v1/webhooks/{id}/deliveries"),
    ("get", "/v1/executions/{id}/results"),
    ("get", "/v1/executions/{id}/summary"),
    ("get", "/v1/executions/{id}/report"),
    ("get", "/v1/executions/{id}/trades"),
    ("get", "/v1/executions/{id}/equity"),
    ("get", "/v1/executions/{id}/orders"),
    ("get", "/v1/executions/{id}/events"),
    ("get", "/v1/executions/{id}/ws"),
    ("get", "/v1/events"),
    ("get", "/v1/packs"),
    ("post", "/v1/packs"),
    ("get", "/v1/packs/{name}"),
    ("get", "/v1/history"),
    ("get", "/v1/summary"),
];

/// The MCP endpoint (streamable HTTP: `POST` calls, `GET` the server's stream, `DELETE` ends a
/// session). Not in the OpenAPI document: MCP clients describe it, not REST clients.
pub const MCP_PATH: &str = "/mcp";

/// The router of the whole API over `state`.
pub fn app(state: AppState) -> Router {
    use routes::{
        agents, code, executions as ex, health, packs, patterns, policy, rights, webhooks,
    };
    let upload_limit = state.options().upload_limit;
    let v1 = Router::new()
        .route("/code", get(code::list))
        .route(
            "/code/{name}",
            post(code::add).get(code::show).delete(code::remove),
        )
        .route("/code/{name}/versions/{version}", get(code::version))
        .route("/code/{name}/rollback", post(code::rollback))
        .route("/validate", post(code::validate))
        .route("/schemas/pattern.json", get(code::pattern_schema))
        .route("/executions", post(ex::submit).get(ex::list))
        .route("/checks/lookahead", post(ex::check_lookahead))
        .route("/executions/{id}", get(ex::show))
        .route("/executions/{id}/pause", post(ex::pause))
        .route("/executions/{id}/resume", post(ex::resume))
        .route("/executions/{id}/cancel", post(ex::cancel))
        .route("/executions/{id}/retry", post(patterns::retry))
        .route("/execute", post(patterns::execute))
        .route("/agents", get(agents::list))
        .route("/agents/{name}", post(agents::add).delete(agents::remove))
        .route("/rights", get(rights::list))
        .route("/rights/log", get(rights::log))
        .route("/rights/{name}", post(rights::add).delete(rights::remove))
        .route("/packs/{name}/provider", put(rights::set_pack_provider))
        .route("/policy", get(policy::show).put(policy::set))
        .route("/webhooks", get(webhooks::list).post(webhooks::add))
        .route("/webhooks/{id}", delete(webhooks::remove))
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/executions/{id}/results", get(ex::results))
        .route("/executions/{id}/summary", get(ex::summary))
        .route("/executions/{id}/report", get(ex::report))
        .route("/executions/{id}/trades", get(ex::trades))
        .route("/executions/{id}/equity", get(ex::equity))
        .route("/executions/{id}/orders", get(ex::orders))
        .route("/executions/{id}/events", get(stream::execution_sse))
        .route("/executions/{id}/ws", get(ws::execution_ws))
        .route("/events", get(stream::workspace_sse))
        .route(
            "/packs",
            get(packs::list)
                .post(packs::upload)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/packs/{name}", get(packs::show))
        .route("/history", get(ex::history))
        .route("/summary", get(ex::run_summary))
        .route("/openapi.json", get(openapi::serve));
    let api = Router::new()
        .merge(mcp::router(&state))
        .route("/health", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/health/pack/{name}", get(health::pack))
        .route("/metrics", get(metrics::serve))
        .nest("/v1", v1)
        .layer(DefaultBodyLimit::max(state.options().body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check,
        ));
    let web = dashboard::router(&state)
        .layer(DefaultBodyLimit::max(state.options().body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check_local,
        ));
    Router::new()
        .merge(api)
        .merge(web)
        .fallback(routes::no_route)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            routes::observe,
        ))
        .with_state(state)
}

/// The router of the separate metrics listener ([`ServerOptions::metrics_addr`]): only
/// `GET /metrics`, without a token.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::serve_open))
        .fallback(routes::no_route)
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves, with the engine's worker pool
/// running in this process (it first continues executions interrupted by a crash). On
/// shutdown: no new connections, streams end with a final `shutdown` event, workers stop
/// claiming shards and running ones get [`ServerOptions::shutdown_grace`] to commit; any still
/// running then return to the queue when the next process starts.
///
/// With [`ServerOptions::metrics_addr`] set, `/metrics` is also served there without a token.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let metrics = match state.options().metrics_addr {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    run_with_metrics(listener, metrics, state, shutdown).await
}

/// [`run`] with the metrics listener given (tests bind it on port 0).
pub async fn run_with_metrics(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = listener.local_addr()?;
    check_bind(addr, state.options())?;
    let _ = state.inner.local_addr.set(addr);
    uploads::adopt(&state).await;
    // Events that workers of other processes write reach this node's streams at once; without
    // the relay (SQLite, or a failed LISTEN) streams still poll the store every second.
    match state.inner.engine.relay_events().await {
        Ok(true) => tracing::info!("relaying events written by other processes (LISTEN)"),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for other processes' events; streams poll")
        }
    }
    let pool = workers::start(state.clone());
    let router = app(state.clone());
    let st = state.clone();
    tracing::info!(%addr, auth = state.options().auth, "serving the quantd API");
    let metrics_server = metrics.map(|l| {
        let mut stop = state.shutdown_signal();
        tracing::info!(addr = ?l.local_addr().ok(), "serving /metrics without a token");
        tokio::spawn(
            axum::serve(l, metrics_app(state.clone()))
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .into_future(),
        )
    });
    // Without TCP_NODELAY the last segment of a streamed response waits for the client's
    // delayed ACK (~40 ms on Linux) on a kept-alive connection.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: closing streams, draining workers");
            st.begin_shutdown();
        })
        .await;
    state.begin_shutdown();
    if let Some(m) = metrics_server {
        let _ = m.await;
    }
    pool.join(state.options().shutdown_grace).await;
    served?;
    Ok(())
}
