//! quantd's operations as Model Context Protocol tools for LLM agents, on the official Rust SDK
//! (`rmcp`): `validate_code`, `deploy_code`, `list_code`, `start_execution`, `get_execution`,
//! `list_executions`, `control_execution`, `get_results` and `list_packs` ([`tools`]), the
//! documents an agent reads before writing code as resources ([`resources`]), progress
//! notifications while a call waits for its execution, and the tasks extension for clients that
//! declare it.
//!
//! Like the HTTP API, this crate is a thin layer over the engine: tool arguments are the
//! engine's request types (`start_execution` takes the `SubmitRequest` of `POST
//! /v1/executions`), results are the engine's views, and their schemas come from the same
//! definitions as the API's OpenAPI document ([`schema`]). Served over stdio ([`serve_stdio`],
//! `quantd mcp`) or streamable HTTP ([`http_service`], mounted at `/mcp` by `quantd serve`
//! behind the API's bearer tokens). Nothing an agent sends can stop the server: a bad argument,
//! a missing execution or invalid code is a tool error (`isError: true`) that says what to fix.

pub mod args;
pub mod error;
pub mod ops;
pub mod resources;
pub mod schema;
pub mod server;
pub mod tools;

pub use error::ToolError;
pub use ops::Ops;
pub use server::{Actor, QuantdMcp, Workspace};

use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;

/// Errors of serving MCP.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The session could not start or ended with an error.
    #[error("MCP over stdio: {0}")]
    Stdio(String),
}

/// Serves `server` on this process's stdin and stdout until the client closes them.
pub async fn serve_stdio(server: QuantdMcp) -> Result<(), McpError> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpError::Stdio(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| McpError::Stdio(e.to_string()))?;
    Ok(())
}

/// Settings of the HTTP transport.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// `Host` values accepted (DNS-rebinding protection; an entry without a port matches any
    /// port). Empty: any host.
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted when a request has one (`scheme://host:port`). Empty: any.
    pub allowed_origins: Vec<String>,
    /// Largest request body, in bytes (413 above).
    pub body_limit: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: Vec::new(),
            body_limit: 1 << 20,
        }
    }
}

/// The streamable HTTP service (sessions with `Mcp-Session-Id`) over `server`. Each request's
/// workspace is read from its [`Workspace`] extension, which the caller's authentication layer
/// must insert. Its open streams end when `shutdown` resolves (so a graceful shutdown is not
/// held up by an idle client).
pub fn http_service(
    server: QuantdMcp,
    options: &HttpOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> StreamableHttpService<QuantdMcp, LocalSessionManager> {
    let stop = tokio_util::sync::CancellationToken::new();
    let trigger = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_origins(options.allowed_origins.clone())
        .with_max_request_body_bytes(options.body_limit)
        .with_cancellation_token(stop);
    config = if options.allowed_hosts.is_empty() {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(options.allowed_hosts.clone())
    };
    StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}
