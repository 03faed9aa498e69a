//! `quantd worker`: the engine's worker pool on a data directory, without HTTP, until Ctrl-C or
//! SIGTERM. Several workers and a `quantd serve` on one data directory share its queue: each
//! claims shards under its own lease, and shards of a worker that dies return to the queue when
//! another one notices (quarantined after repeated crashes, like any shard).

use super::Ctx;
use clap::Args;
use quantd_engine::exec::pool::{Pool, PoolOptions};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Concurrent shard workers (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Workers that may run long work: bot scripts (`run`) and trading sessions (`paper`,
    /// `live`), whose one shard may hold its worker for hours; the others run only bounded work,
    /// so long work never holds every worker (default: all but one when there are two or more).
    #[arg(long)]
    pub long_workers: Option<usize>,
    /// How long shutdown waits for running shards to commit before giving them back.
    #[arg(long, default_value_t = 10)]
    pub grace_secs: u64,
}

pub async fn run(ctx: &Ctx, a: WorkerArgs) -> anyhow::Result<ExitCode> {
    let engine = Arc::new(ctx.engine().await?);
    let mut options = PoolOptions::default();
    if let Some(w) = a.workers {
        options.workers = w.max(1);
    }
    options.long_workers = a.long_workers;
    let pool = Pool::new(engine, options);
    let running = pool.start();
    eprintln!(
        "quantd worker on {} ({} workers); Ctrl-C or SIGTERM stops it",
        ctx.data_dir.display(),
        pool.size()
    );
    super::serve::shutdown_signal().await;
    eprintln!("stopping: running shards get {} s to commit", a.grace_secs);
    running.join(Duration::from_secs(a.grace_secs)).await;
    eprintln!("quantd worker stopped");
    Ok(ExitCode::SUCCESS)
}
