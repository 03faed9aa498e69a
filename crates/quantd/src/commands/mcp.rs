//! `quantd mcp`: the MCP tools over stdio for a desktop agent, with the engine's worker pool in
//! the same process (executions an agent starts run here, and continue in any `serve` or
//! `worker` on the same data directory after it exits). Logs go to stderr; stdout carries only
//! MCP messages.

use super::Ctx;
use clap::Args;
use quantd_engine::exec::pool::{Pool, PoolOptions};
use quantd_mcp::{Ops, QuantdMcp};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// The workspace the agent's code and executions belong to.
    #[arg(long, default_value = quantd_engine::DEFAULT_WORKSPACE)]
    pub workspace: String,
    /// Concurrent shard workers (default: one per core; 0 runs none, leaving the queue to a
    /// `quantd serve` or `quantd worker` on the same data directory).
    #[arg(long)]
    pub workers: Option<usize>,
}

pub async fn run(ctx: &Ctx, a: McpArgs) -> anyhow::Result<ExitCode> {
    quantd_engine::services::check_workspace(&a.workspace)?;
    let engine = Arc::new(ctx.engine().await?);
    let mut options = PoolOptions::default();
    if let Some(w) = a.workers {
        options.workers = w;
    }
    let pool = (options.workers > 0).then(|| Pool::new(engine.clone(), options));
    let running = pool.as_ref().map(|p| p.start());
    tracing::info!(workspace = %a.workspace, data_dir = %ctx.data_dir.display(), "serving MCP on stdio");
    let server = QuantdMcp::new(Ops::new(engine, pool.clone()), Some(a.workspace));
    let served = quantd_mcp::serve_stdio(server).await;
    if let (Some(pool), Some(running)) = (pool, running) {
        pool.drain();
        running.join(Duration::from_secs(10)).await;
    }
    served?;
    Ok(ExitCode::SUCCESS)
}
