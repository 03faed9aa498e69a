//! The command line of `quantd-bench`, as clap types: one subcommand per benchmark, with the flags
//! `quantd bench …` had, so the figures of docs/PERFORMANCE.md stay comparable.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Environment variables `quantd-bench` reads or sets.
pub mod env {
    /// The data directory (where the managed Python runtime lives), as for `quantd`.
    pub const QUANTD_DATA: &str = "QUANTD_DATA";
    /// Log filter (`tracing` syntax), as for `quantd`.
    pub const QUANTD_LOG: &str = "QUANTD_LOG";
    /// The product binary the whole-command measurements run (as `--quantd`).
    pub const QUANTD_BIN: &str = "QUANTD_BIN";
    /// Set on a timed `quantd` process so it prints `peak_rss_kib N` at exit (read by the
    /// product binary; the same name as its `cli::env::QUANTD_REPORT_PEAK_RSS`).
    pub const QUANTD_REPORT_PEAK_RSS: &str = "QUANTD_REPORT_PEAK_RSS";
}

/// quantd-bench: the benchmarks behind docs/PERFORMANCE.md, each beside its peer in the same run.
#[derive(Debug, Parser)]
#[command(name = "quantd-bench", version, about, long_about = None)]
pub struct Cli {
    /// Data directory whose managed Python runtime `sandbox` uses (other benchmarks work in a
    /// temporary directory). Default: the platform data dir, as for `quantd`.
    #[arg(long, global = true, env = env::QUANTD_DATA, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sandbox`: also print the figures as one JSON object on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// The benchmark.
    #[command(subcommand)]
    pub command: Command,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// HTTP API: shard commit → SSE client latency with many subscribers, and GET throughput.
    Sse(crate::sse::SseArgs),
    /// Pack import and read speed on a synthetic universe, beside pyarrow reading the same data.
    Data(DataArgs),
    /// The reference full-market scan, beside TA-Lib (per ticker) and pandas on the same bars.
    Scan(ScanArgs),
    /// One backtest of backtesting.py's Quick Start on GOOG, beside backtesting.py.
    Backtest(BacktestArgs),
    /// A (fast, slow) SMA-cross sweep over a synthetic universe, beside vectorbt.
    Sweep(SweepArgs),
    /// `quantd history` over many stored executions.
    History(HistoryArgs),
    /// MCP: a tool call's cost over the engine call it wraps.
    Mcp(crate::mcp::McpArgs),
    /// The dashboard: the executions page over many stored executions, and its live rows.
    Dashboard(crate::dashboard::DashboardArgs),
    /// The SQLite queue: one claim's cost while a backlog of pending shards waits.
    Queue(crate::queue::QueueArgs),
    /// The queue's throughput: claim → complete of empty shards by worker processes, on SQLite
    /// and on Postgres.
    Throughput(crate::throughput::ThroughputArgs),
    /// One worker process of `throughput` (started by it).
    #[command(hide = true)]
    ThroughputWorker(crate::throughput::WorkerArgs),
    /// Pattern overhead per step (a chain of tiny scans) and a for_each's planning time.
    Pattern(crate::pattern::PatternArgs),
    /// Sandboxed Python: warm job start, and a pandas scanner inside the sandbox vs plain Python.
    Sandbox(crate::sandbox::SandboxArgs),
    /// The look-ahead check of the reference pandas scanner, beside one job per cut.
    Lookahead(crate::lookahead::LookaheadArgs),
    /// Class strategies: SmaCross on GOOG beside backtesting.py, a 500-ticker portfolio, a sweep.
    Classes(crate::classes::ClassesArgs),
}

/// The product binary, for the benchmarks that time a whole `quantd` command.
#[derive(Debug, Args)]
pub struct ProductArg {
    /// The `quantd` binary whose whole commands are timed. Default: the `quantd` next to this
    /// binary, as `cargo build --release -p quantd` makes it.
    #[arg(long, env = env::QUANTD_BIN, value_name = "PATH")]
    pub quantd: Option<PathBuf>,
}

/// Arguments of `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Tickers.
    #[arg(long, default_value_t = 5000)]
    pub tickers: usize,
    /// Business days.
    #[arg(long, default_value_t = 2520)]
    pub days: usize,
    /// Bar interval: daily bars, or intraday bars of a US session (the minute universe of the
    /// intraday issue: `--tickers 500 --days 252 --interval 1m`, 49 M bars).
    #[arg(long, default_value = "1d")]
    pub interval: quantd_data::time::Interval,
    /// Python interpreter with pandas and TA-Lib for the peers (e.g. from scripts/pyenv).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// The peers script (bench/scan_peers.py).
    #[arg(long, default_value = "bench/scan_peers.py")]
    pub peers: PathBuf,
    /// Repetitions of each quantd measurement (the best is reported).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    #[command(flatten)]
    pub product: ProductArg,
}

/// Arguments of `backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// backtesting.py's GOOG.csv (bench/strategy.sh finds it in the venv).
    #[arg(long)]
    pub goog: PathBuf,
    /// Python with backtesting.py for the peer.
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// The peers script.
    #[arg(long, default_value = "bench/strategy_peers.py")]
    pub peers: PathBuf,
    /// Repetitions (quantd: ×100 of this).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
}

/// Arguments of `sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Tickers.
    #[arg(long, default_value_t = 500)]
    pub tickers: usize,
    /// Business days.
    #[arg(long, default_value_t = 2520)]
    pub days: usize,
    /// Bar interval: daily bars, or intraday bars of a US session (the minute sweep of the
    /// intraday issue: `--tickers 100 --days 252 --interval 1m`).
    #[arg(long, default_value = "1d")]
    pub interval: quantd_data::time::Interval,
    /// Give vectorbt only the first N tickers (it compares by backtests per second; on the
    /// minute universe vectorbt takes about 2 s per ticker): default all.
    #[arg(long)]
    pub peer_tickers: Option<usize>,
    /// Python with vectorbt for the peer.
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// The peers script.
    #[arg(long, default_value = "bench/strategy_peers.py")]
    pub peers: PathBuf,
    /// Also run the sweep split across `quantd worker` processes on a fresh database of this
    /// Postgres server (e.g. `postgres://postgres@127.0.0.1:5432/test`).
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Worker processes of the `--postgres` run.
    #[arg(long, default_value_t = 2)]
    pub worker_processes: usize,
    #[command(flatten)]
    pub product: ProductArg,
}

/// Arguments of `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Executions to store first.
    #[arg(long, default_value_t = 100_000)]
    pub executions: usize,
    #[command(flatten)]
    pub product: ProductArg,
}

/// Arguments of `data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Tickers.
    #[arg(long, default_value_t = 5000)]
    pub tickers: usize,
    /// Business days.
    #[arg(long, default_value_t = 2520)]
    pub days: usize,
    /// Bar interval: daily bars, or intraday bars of a US session (the minute universe of the
    /// intraday issue: `--tickers 500 --days 252 --interval 1m`, 49 M bars).
    #[arg(long, default_value = "1d")]
    pub interval: quantd_data::time::Interval,
    /// Skip the CSV export and import (a minute universe's CSV file is several GB).
    #[arg(long)]
    pub skip_csv: bool,
    /// Python interpreter with pyarrow for the peer measurement (e.g. from scripts/pyenv); skipped when absent.
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Repetitions of each read measurement (the best is reported).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
}
