//! `quantd-bench`: the benchmarks behind docs/PERFORMANCE.md, in a binary of their own so the
//! product binary (`quantd`) carries none of their code or dependencies.
//!
//! One subcommand per benchmark (`data`, `scan`, `backtest`, `sweep`, `history`, `sandbox`,
//! `sse`, `queue`, `throughput`, …), each measuring quantd beside its peer (pyarrow, TA-Lib, pandas, backtesting.py,
//! vectorbt, plain Python) in the same run, and printing the lines the figures are copied from.
//! The measurements of a whole `quantd` command (`scan`, `sweep`, `history`) run the product
//! binary next to this one (or `--quantd PATH`); `sandbox` runs its jobs with this binary as the
//! sandbox shim. The scripts in `bench/` build both and pass the peers' interpreter.

mod classes;
mod cli;
mod dashboard;
mod data;
mod distributed;
mod lookahead;
mod mcp;
mod measure;
mod pattern;
mod queue;
mod sandbox;
mod scan;
mod sse;
mod strategy;
mod throughput;

use clap::Parser;
use cli::{Cli, Command};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `sandbox` re-executes this binary as the sandbox shim, which must not start threads or parse
    // our command line: it runs and exits here.
    quantd_sandbox::run_shim_if_requested();
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the benchmark the command line names.
async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Data(a) => data::run(a).await,
        Command::Scan(a) => scan::run(a).await,
        Command::Backtest(a) => strategy::backtest(a).await,
        Command::Sweep(a) => strategy::sweep(a).await,
        Command::History(a) => strategy::history(a).await,
        Command::Sandbox(a) => sandbox::run(&data_dir(cli.data_dir)?, cli.json, a),
        Command::Lookahead(a) => lookahead::run(&data_dir(cli.data_dir)?, cli.json, a).await,
        Command::Classes(a) => classes::run(&data_dir(cli.data_dir)?, cli.json, a).await,
        Command::Sse(a) => sse::run(a).await,
        Command::Mcp(a) => mcp::run(a).await,
        Command::Pattern(a) => pattern::run(a).await,
        Command::Dashboard(a) => dashboard::run(a).await,
        Command::Queue(a) => queue::run(a).await,
        Command::Throughput(a) => throughput::run(a).await,
        Command::ThroughputWorker(a) => throughput::worker(a).await,
    }
}

/// The data directory, found as `quantd` finds it: `--data-dir` / `QUANTD_DATA`, else the
/// platform's data dir.
fn data_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    directories::ProjectDirs::from("", "", "quantd")
        .map(|p| p.data_dir().to_path_buf())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no home directory to find the data directory in; pass --data-dir or set {}",
                cli::env::QUANTD_DATA
            )
        })
}

/// Logs go to stderr; `QUANTD_LOG` (or `RUST_LOG`) sets the filter, default `warn`.
fn init_logging() {
    let filter = std::env::var(cli::env::QUANTD_LOG)
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
