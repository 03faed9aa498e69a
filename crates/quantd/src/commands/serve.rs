//! `quantd serve`: the HTTP API and the engine's worker pool in one process, until Ctrl-C or
//! SIGTERM. Executions interrupted by a crash continue at startup.
//!
//! Binding rules: `--no-auth` serves loopback addresses only (127.0.0.1, [::1]); anything else
//! is refused before the port is opened. `--metrics-addr` adds a listener that serves only
//! `/metrics`, without a token (on the API listener `/metrics` needs an admin token).

use super::Ctx;
use anyhow::Context;
use clap::Args;
use quantd_server::{AppState, ServerOptions};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// No tokens: every caller is the `default` workspace (local single-user use only: the
    /// address must be a loopback one, and requests from other web sites are refused).
    #[arg(long)]
    pub no_auth: bool,
    /// Concurrent shard workers (default: one per core; 0 serves the API only, while
    /// `quantd worker` processes on the same data directory run the queue).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Workers that may run long work: bot scripts (`run`) and trading sessions (`paper`,
    /// `live`), whose one shard may hold its worker for hours; the others run only bounded work,
    /// so long work never holds every worker (default: all but one when there are two or more).
    #[arg(long)]
    pub long_workers: Option<usize>,
    /// Largest JSON request body, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub body_limit: usize,
    /// Largest pack upload, in bytes.
    #[arg(long, default_value_t = 256 << 20)]
    pub upload_limit: usize,
    /// Bytes all uploads in flight may hold at once, until their imports end (default: twice
    /// --upload-limit); over it an upload is answered 503 with Retry-After.
    #[arg(long)]
    pub upload_budget: Option<usize>,
    /// Also serve `/metrics` without a token on this address (e.g. a private interface for
    /// Prometheus).
    #[arg(long)]
    pub metrics_addr: Option<SocketAddr>,
    /// A `Host` the MCP endpoint (`/mcp`) accepts besides localhost, 127.0.0.1 and ::1
    /// (DNS-rebinding protection): the name remote agents use to reach this server, e.g.
    /// `quantd.internal` or `quantd.internal:8000`. Repeat for more.
    #[arg(long = "mcp-allowed-host", value_name = "HOST")]
    pub mcp_allowed_hosts: Vec<String>,
    /// An `Origin` the MCP endpoint accepts from browsers (`https://app.example.com`); without
    /// any, every origin is accepted (tokens are what protect it). Repeat for more.
    #[arg(long = "mcp-allowed-origin", value_name = "ORIGIN")]
    pub mcp_allowed_origins: Vec<String>,
}

/// Resolves `Ctrl-C` or `SIGTERM`.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

pub async fn run(ctx: &Ctx, a: ServeArgs) -> anyhow::Result<ExitCode> {
    let engine = Arc::new(ctx.engine().await?);
    // Engine::new already returned dead workers' shards to the queue; the pool claims them.
    let unfinished = engine.records().unfinished().await?.len();
    let mut options = ServerOptions {
        auth: !a.no_auth,
        body_limit: a.body_limit,
        upload_limit: a.upload_limit,
        upload_budget: a
            .upload_budget
            .unwrap_or_else(|| a.upload_limit.saturating_mul(2)),
        metrics_addr: a.metrics_addr,
        ..ServerOptions::default()
    };
    options.mcp.allowed_hosts.extend(a.mcp_allowed_hosts);
    options.mcp.allowed_origins = a.mcp_allowed_origins;
    quantd_server::check_bind(a.addr, &options)?;
    if let Some(w) = a.workers {
        options.workers = w;
    }
    options.long_workers = a.long_workers;
    if a.no_auth {
        tracing::warn!(
            "AUTHENTICATION IS OFF (--no-auth): anyone who can reach {} acts as workspace `default`",
            a.addr
        );
        eprintln!(
            "warning: authentication is off (--no-auth): anyone who can reach {} acts as workspace `default`",
            a.addr
        );
    }
    let listener = tokio::net::TcpListener::bind(a.addr)
        .await
        .with_context(|| format!("listening on {}", a.addr))?;
    let addr = listener.local_addr()?;
    eprintln!(
        "quantd API on http://{addr} ({} workers; {unfinished} unfinished execution(s) continue; OpenAPI at /v1/openapi.json; MCP at /mcp)",
        options.workers
    );
    if let Some(m) = a.metrics_addr {
        eprintln!("metrics without a token on http://{m}/metrics");
    }
    let state = AppState::new(engine, options);
    quantd_server::run(listener, state, shutdown_signal()).await?;
    eprintln!("quantd API stopped");
    Ok(ExitCode::SUCCESS)
}
