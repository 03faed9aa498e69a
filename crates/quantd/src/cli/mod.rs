//! The command line, as clap types. Flags beat environment variables beat defaults; the
//! environment variable names are the constants in [`env`].

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

mod admin;
mod data;
pub use admin::*;
pub use data::*;

/// Environment variables quantd reads.
pub mod env {
    /// The data directory.
    pub const QUANTD_DATA: &str = "QUANTD_DATA";
    /// Log filter (`tracing` syntax, e.g. `info,quantd_engine=debug`).
    pub const QUANTD_LOG: &str = "QUANTD_LOG";
    /// Bars per scan shard at most (default 16,777,216, about 25 ms of work on 2 cores); smaller
    /// shards checkpoint more often.
    pub const QUANTD_SHARD_BARS: &str = "QUANTD_SHARD_BARS";
    /// When set, print the process's peak resident memory (`peak_rss_kib N`) to stderr at exit.
    pub const QUANTD_REPORT_PEAK_RSS: &str = "QUANTD_REPORT_PEAK_RSS";
    /// `1`/`true`: run Python code without the sandbox (as `--unsafe-no-sandbox`).
    pub const QUANTD_UNSAFE_NO_SANDBOX: &str = "QUANTD_UNSAFE_NO_SANDBOX";
    /// The database (as `--database-url`): `sqlite://PATH` or `postgres://…`; unset, the data
    /// directory's `quantd.db`.
    pub const QUANTD_DATABASE_URL: &str = "QUANTD_DATABASE_URL";
    /// Seconds a worker's claim on a shard holds without a heartbeat (default 30; 2–3,600). A
    /// worker that stops (dies, freezes, loses the network) gives its shards back this long after
    /// its last heartbeat; heartbeats come six times per lease.
    pub const QUANTD_LEASE_SECS: &str = "QUANTD_LEASE_SECS";
    /// Connections one process opens to Postgres at most (as `--db-pool-size`).
    pub const QUANTD_DB_POOL_SIZE: &str = "QUANTD_DB_POOL_SIZE";
    /// Where packs are shared (as `--pack-store`): an object store URL.
    pub const QUANTD_PACK_STORE: &str = "QUANTD_PACK_STORE";
    /// The cap of this host's pack cache in MiB (as `--pack-cache-mib`).
    pub const QUANTD_PACK_CACHE_MIB: &str = "QUANTD_PACK_CACHE_MIB";
    /// Milliseconds a paper session may wait for its next bar holding a worker (default
    /// 60,000); a longer wait gives the worker back until the bar is due.
    pub const QUANTD_PAPER_IDLE_MS: &str = "QUANTD_PAPER_IDLE_MS";
    /// `yes`: `live` sessions may use Alpaca's live (real money) endpoint when
    /// `APCA_API_BASE_URL` names it; unset, only the paper endpoint (or a test server) is used.
    pub const QUANTD_BROKER_REAL_MONEY: &str = "QUANTD_BROKER_REAL_MONEY";
}

/// quantd: run trading code against market data, safely and fast, and keep what happened.
#[derive(Debug, Parser)]
#[command(name = "quantd", version, about, long_about = None)]
pub struct Cli {
    /// Data directory (packs, catalog, results). Default: the platform data dir, e.g. ~/.local/share/quantd.
    #[arg(long, global = true, env = env::QUANTD_DATA, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database for the catalog, queue and results: `sqlite://PATH` (a SQLite file; its
    /// directory must exist) or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (shared by
    /// many workers and hosts). Default: `quantd.db` in the data directory. Packs stay in the
    /// data directory unless --pack-store names a shared store.
    #[arg(long, global = true, env = env::QUANTD_DATABASE_URL, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// With a Postgres database: connections this process opens at most (2–1,000). A worker
    /// needs about its --workers plus 3; the server's max_connections bounds the sum over every
    /// process.
    #[arg(long, global = true, env = env::QUANTD_DB_POOL_SIZE, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub db_pool_size: u32,
    /// Where packs are shared by every host: `file:///DIR`, `s3://BUCKET/PREFIX` (any
    /// S3-compatible server: AWS_ENDPOINT, AWS_ACCESS_KEY_ID, …), `gs://BUCKET/PREFIX` or
    /// `az://CONTAINER/PREFIX`. Imports write there; the data directory keeps a cache. Default:
    /// packs live in the data directory alone.
    #[arg(long, global = true, env = env::QUANTD_PACK_STORE, value_name = "URL")]
    pub pack_store: Option<String>,
    /// With --pack-store: this host's pack cache holds at most this many MiB (least recently
    /// used packs are evicted).
    #[arg(long, global = true, env = env::QUANTD_PACK_CACHE_MIB, value_name = "MIB", default_value_t = 20480)]
    pub pack_cache_mib: u64,
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Run Python code WITHOUT the sandbox (no namespaces: it can read host files and use the
    /// network). Only for machines whose kernel refuses namespaces; every job logs a warning.
    #[arg(long, global = true, env = env::QUANTD_UNSAFE_NO_SANDBOX)]
    pub unsafe_no_sandbox: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Market data packs: synthesize, import, list, show, export.
    #[command(subcommand)]
    Data(DataCommand),
    /// Stored scanners and strategies: add, list, show, rm, rollback.
    #[command(subcommand)]
    Code(CodeCommand),
    /// Scan a pack with a scanner expression: rows where it is true, with each `let` as a column.
    Scan(ScanArgs),
    /// Backtest a strategy (entry/exit expressions or stored strategy code) per ticker.
    Backtest(BacktestArgs),
    /// Backtest a parameter grid over all cores; top results and a heatmap.
    Sweep(SweepArgs),
    /// Trade a class strategy on paper over a pack replayed bar by bar (`--speed`), printing
    /// fills and each day's account; `quantd resume ID` goes on after a stop.
    Paper(PaperArgs),
    /// A paper session's record: every order event and each trading day, as they happened.
    Orders(ExecArg),
    /// A+ test: run a scanner on example names and compare with the expected hits.
    Test(TestArgs),
    /// Run a whole Python bot script in the sandbox; its log and metrics are kept.
    Run(crate::commands::bot::RunScriptArgs),
    /// Checks of code before it is trusted: `check lookahead` (does it read bars it could not
    /// have known?).
    #[command(subcommand)]
    Check(CheckCommand),
    /// Evaluate a scanner or strategy before trusting it: static checks, runs on a sample of
    /// tickers, sanity (signals, trades, returns, look-ahead) and robustness (in- and
    /// out-of-sample, parameter sensitivity, buy-and-hold), with a score 0-100 (docs/evaluation.md).
    /// Exits 0 when passed or with warnings, 4 when failed.
    Evaluate(EvaluateArgs),
    /// Patterns (stored with `code add --pattern`): run one, with progress per step.
    #[command(subcommand)]
    Pattern(PatternCommand),
    /// Agents that pattern `call` steps reach by capability: add, list (with breaker states), rm.
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// Webhooks: URLs told (signed, retried) when the workspace's executions complete, fail or
    /// are cancelled: add, list, remove, deliveries.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// The workspace's policy: defaults its executions start from (retries per error class).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Run a finished pattern again from a step: that step and what depends on it run again; every
    /// step that completed is reused.
    Retry(RetryArgs),
    /// Show one execution: state, progress, health, fingerprint, timings, shards (a pattern's
    /// step graph).
    Show(ExecArg),
    /// Write an execution's results (streamed; any size).
    Results(ResultsArgs),
    /// Pause an execution: no new shard starts; running ones stop and go back to the queue.
    Pause(ExecArg),
    /// Resume a paused or interrupted execution and run it here, in the foreground.
    Resume(ResumeArgs),
    /// Cancel an execution: running shards stop within a second; committed results stay readable.
    Cancel(ExecArg),
    /// Past executions, newest first.
    History(HistoryArgs),
    /// Totals over past executions: runs, success rate, and (for backtests) return, Sharpe, drawdown.
    Summary(SummaryArgs),
    /// Show the product on a synthetic universe: creates the demo pack if absent and summarizes it.
    Demo(DemoArgs),
    /// Serve the HTTP API (REST, SSE, WebSocket) with the engine's workers.
    Serve(crate::commands::serve::ServeArgs),
    /// Run the engine's workers on the data directory without HTTP (beside `serve` or others).
    Worker(crate::commands::worker::WorkerArgs),
    /// Serve the MCP tools over stdio, for a desktop agent (see docs/mcp.md).
    Mcp(crate::commands::mcp::McpArgs),
    /// Data rights: providers with their licence, attribution and export policy, which pack
    /// names which, and the log of refused and watermarked exports (docs/rights.md).
    #[command(subcommand)]
    Rights(RightsCommand),
    /// Bearer tokens of workspaces for the HTTP API.
    #[command(subcommand)]
    Tokens(crate::commands::tokens::TokensCommand),
    /// The Python runtime that runs Python code: set it up, or check it and the sandbox.
    #[command(subcommand)]
    Runtime(crate::commands::runtime::RuntimeCommand),
    /// The database (`--database-url`, or the data directory's): check it, or migrate it.
    #[command(subcommand)]
    Db(DbCommand),
}

/// `quantd code ...`
#[derive(Debug, Subcommand)]
pub enum CodeCommand {
    /// Store a new version of a scanner (--expr, --file) or strategy (--entry/--exit); validated first.
    Add(CodeAddArgs),
    /// List stored code names.
    List,
    /// Show a version's source and metadata (NAME, NAME@N).
    Show(CodeRefArg),
    /// Remove a name (its versions stay readable as NAME@N for old executions).
    Rm(CodeRefArg),
    /// Point a name back at an earlier version (the previous one, or --to N).
    Rollback(RollbackArgs),
}

/// Arguments of `code add`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["expr", "file", "entry", "pattern"]))]
pub struct CodeAddArgs {
    /// The name (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// A scanner expression.
    #[arg(long)]
    pub expr: Option<String>,
    /// A file: `.py` (Python) or anything else (a scanner expression).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Strategy: long entry expression.
    #[arg(long, requires = "exit")]
    pub entry: Option<String>,
    /// Strategy: long exit expression.
    #[arg(long, requires = "entry")]
    pub exit: Option<String>,
    /// Strategy: short entry expression.
    #[arg(long, requires = "entry")]
    pub short_entry: Option<String>,
    /// Strategy: short exit expression.
    #[arg(long, requires = "entry")]
    pub short_exit: Option<String>,
    /// A pattern document (JSON): steps and their inputs (docs/patterns.md).
    #[arg(long, value_name = "FILE")]
    pub pattern: Option<PathBuf>,
}

/// A code reference.
#[derive(Debug, Args)]
pub struct CodeRefArg {
    /// NAME or NAME@N.
    pub code: String,
}

/// Arguments of `code rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The name.
    pub name: String,
    /// The version to point at (default: the one before the current).
    #[arg(long)]
    pub to: Option<u32>,
}

/// A scanner to run: inline or stored, on which pack, with which parameters (`scan` and `test`).
#[derive(Debug, Args, Clone)]
#[command(group = clap::ArgGroup::new("scanner").required(true).args(["expr", "code", "file"]))]
pub struct ScannerArgs {
    /// The scanner expression (see docs/expressions.md), e.g. `close < sma(close, 50) and rsi(close, 14) < 30`.
    #[arg(long)]
    pub expr: Option<String>,
    /// A stored scanner: NAME or NAME@N.
    #[arg(long)]
    pub code: Option<String>,
    /// A scanner file: `.py` (a Python `@qd.scanner`, run in the sandbox) or an expression.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Pack name, id or id prefix; default: the newest fresh pack.
    #[arg(long)]
    pub pack: Option<String>,
    /// A `$name` value, as name=number (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, f64)>,
}

/// Arguments of `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The scanner.
    #[command(flatten)]
    pub scanner: ScannerArgs,
    /// Only these tickers (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tickers: Option<Vec<String>>,
    /// First signal kept: a date (YYYY-MM-DD, the whole day in the pack's zone) or a time with its
    /// offset (2024-03-11T09:45:00-04:00); indicators still warm up on earlier bars.
    #[arg(long)]
    pub from: Option<quantd_engine::data::When>,
    /// Last signal kept: a date (its whole day) or a time with its offset.
    #[arg(long)]
    pub to: Option<quantd_engine::data::When>,
    /// Output format: table, csv, json, ndjson, parquet or md (default: from --out's extension, else table).
    #[arg(long)]
    pub format: Option<String>,
    /// Write the rows to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only the signals (ticker and bar), without `let` columns: readable whatever the data's
    /// rights.
    #[arg(long)]
    pub signals_only: bool,
    /// Engine options.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The strategy and simulation flags `backtest` and `sweep` share.
#[derive(Debug, Args, Clone)]
#[command(group = clap::ArgGroup::new("strategy").required(true).args(["entry", "code", "file"]))]
pub struct StrategyArgs {
    /// Long entry condition.
    #[arg(long, requires = "exit")]
    pub entry: Option<String>,
    /// Long exit condition.
    #[arg(long, requires = "entry")]
    pub exit: Option<String>,
    /// Short entry condition.
    #[arg(long, requires = "entry")]
    pub short_entry: Option<String>,
    /// Short exit condition.
    #[arg(long, requires = "entry")]
    pub short_exit: Option<String>,
    /// A stored strategy: NAME or NAME@N (expressions or Python).
    #[arg(long)]
    pub code: Option<String>,
    /// A Python strategy file (`@qd.strategy`), run in the sandbox.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Pack name, id or id prefix; default: the newest fresh pack.
    #[arg(long)]
    pub pack: Option<String>,
    /// Only these tickers (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tickers: Option<Vec<String>>,
    /// First bar: a date (YYYY-MM-DD, its whole day in the pack's zone) or a time with its offset;
    /// the data is cut to the window before indicators are computed.
    #[arg(long)]
    pub from: Option<quantd_engine::data::When>,
    /// Last bar: a date (its whole day) or a time with its offset.
    #[arg(long)]
    pub to: Option<quantd_engine::data::When>,
    /// Starting cash.
    #[arg(long, default_value_t = 10_000.0)]
    pub cash: f64,
    /// Commission as a fraction of each fill's value (0.002 = 0.2 %), charged on entry and exit.
    #[arg(long, default_value_t = 0.0)]
    pub commission: f64,
    /// Fixed commission per fill, in cash.
    #[arg(long, default_value_t = 0.0)]
    pub commission_fixed: f64,
    /// Spread / slippage as a fraction of the price, paid on entry.
    #[arg(long, default_value_t = 0.0)]
    pub spread: f64,
    /// Fill market orders at the next bar's open (`next-open`, default) or the signal bar's close.
    #[arg(long, default_value = "next-open", value_parser = ["next-open", "close"])]
    pub fill: String,
    /// Stop-loss in percent of the entry price.
    #[arg(long)]
    pub sl: Option<f64>,
    /// Take-profit in percent of the entry price.
    #[arg(long)]
    pub tp: Option<f64>,
    /// A new signal closes the open trade first (backtesting.py exclusive_orders).
    #[arg(long)]
    pub exclusive: bool,
    /// Run a class strategy (`class X(qd.Strategy)`) once over all the tickers with shared cash,
    /// instead of once per ticker.
    #[arg(long)]
    pub portfolio: bool,
    /// Allow fractional units (default: whole units).
    #[arg(long)]
    pub fractional: bool,
    /// Trade a fixed number of units instead of a fraction of equity.
    #[arg(long, conflicts_with = "fraction")]
    pub size: Option<f64>,
    /// Fraction of equity each entry uses (whole units unless --fractional).
    #[arg(long, default_value_t = 1.0)]
    pub fraction: f64,
    /// Close a trade still open on the last bar and count it in the statistics.
    #[arg(long)]
    pub finalize_trades: bool,
}

/// Arguments of `backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Strategy and simulation.
    #[command(flatten)]
    pub strategy: StrategyArgs,
    /// A `$name` value, as name=number (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, f64)>,
    /// Also list every trade.
    #[arg(long)]
    pub trades: bool,
    /// table (default), json, csv (one row of statistics per ticker) or md.
    #[arg(long)]
    pub format: Option<String>,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Engine options.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Arguments of `paper`.
#[derive(Debug, Args)]
pub struct PaperArgs {
    /// Strategy and simulation (a class strategy: `--file` or `--code`).
    #[command(flatten)]
    pub strategy: StrategyArgs,
    /// How fast the pack is replayed: `60x` (bars come 60 times faster than their times are
    /// apart), `1x` (as they happened) or `max`.
    #[arg(long, default_value = "1x")]
    pub speed: String,
    /// After the pack's last bar, wait for newer versions of the pack's name (each
    /// `quantd data import … --name NAME` appends bars) and trade them as they come; the
    /// session then runs until cancelled.
    #[arg(long, conflicts_with = "to")]
    pub follow: bool,
    /// Trade for real: mirror the session's book to the Alpaca account of
    /// `APCA_API_KEY_ID`/`APCA_API_SECRET_KEY` (a `live` execution). Needs `--follow`, and the
    /// workspace listed in `QUANTD_LIVE_WORKSPACES` where the workers run. Bars of the pack
    /// when the session starts are history: only later bars place orders.
    #[arg(long, requires = "follow")]
    pub live: bool,
    /// A parameter value, as name=number (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, f64)>,
    /// Also list every trade at the end.
    #[arg(long)]
    pub trades: bool,
    /// Engine options.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Arguments of `sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Strategy and simulation.
    #[command(flatten)]
    pub strategy: StrategyArgs,
    /// A grid range `name=start..end:step`, a list `name=v1,v2`, or a fixed `name=v` (repeatable).
    #[arg(long = "param", value_name = "NAME=RANGE", required = true)]
    pub grid: Vec<String>,
    /// A condition on the parameters, e.g. `fast < slow`.
    #[arg(long)]
    pub constraint: Option<String>,
    /// The statistic to rank by (backtesting.py's name).
    #[arg(long, default_value = "Sharpe Ratio", conflicts_with = "minimize")]
    pub maximize: String,
    /// Rank by the smallest value of this statistic instead.
    #[arg(long)]
    pub minimize: Option<String>,
    /// How many of the best parameter sets to show.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Write the heatmap (parameter values × mean statistic over tickers) as CSV or Parquet.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Engine options.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Arguments of `test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The scanner.
    #[command(flatten)]
    pub scanner: ScannerArgs,
    /// CSV of examples: `ticker,date` or `ticker,date,expected` (true/false).
    #[arg(long)]
    pub examples: PathBuf,
    /// Bars a signal may be away from an example date and still match it.
    #[arg(long, default_value_t = 2)]
    pub tolerance: usize,
    /// Report format: md (default) or json.
    #[arg(long)]
    pub format: Option<String>,
    /// Write the report to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Engine options.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Options every engine-run command shares.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Start and return at once: the execution runs in a background process (`quantd show`, `quantd results`).
    #[arg(long)]
    pub detach: bool,
    /// Return the results of a completed execution with the same fingerprint instead of recomputing.
    #[arg(long)]
    pub reuse: bool,
    /// What a shard that fails for good does: `fail` the execution, or `continue` and list it.
    #[arg(long, default_value = "fail", value_parser = ["fail", "continue"])]
    pub on_shard_failure: String,
    /// Attempts per shard, the first included (retryable errors only).
    #[arg(long, default_value_t = 3)]
    pub max_attempts: u32,
    /// Retries per error class as JSON, over the workspace's defaults, e.g.
    /// '{"network": {"maximum_attempts": 5}, "timeout": {"maximum_attempts": 3, "timeout_multiplier": 2}}'.
    #[arg(long, value_name = "JSON", value_parser = parse_class_retry)]
    pub retry: Option<quantd_engine::exec::retry::ClassPolicies>,
    /// Priority, -10 to 10: higher is claimed first; waiting work ages one point per 5 minutes.
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(i8).range(-10..=10))]
    pub priority: Option<i8>,
    /// Memory of each sandboxed (Python) job, in MiB (default 4096, within the server's maximum).
    #[arg(
        long,
        value_name = "MIB",
        help_heading = "Sandbox limits (Python code)"
    )]
    pub memory_mib: Option<u64>,
    /// CPU seconds of each sandboxed job.
    #[arg(
        long,
        value_name = "SECS",
        help_heading = "Sandbox limits (Python code)"
    )]
    pub cpu_secs: Option<u64>,
    /// Wall-clock seconds of each scanner or strategy job (default 600; a run's is `--timeout`).
    #[arg(
        long,
        value_name = "SECS",
        help_heading = "Sandbox limits (Python code)"
    )]
    pub wall_secs: Option<u64>,
    /// Processes and threads of each sandboxed job (default 64).
    #[arg(long, value_name = "N", help_heading = "Sandbox limits (Python code)")]
    pub pids: Option<u64>,
    /// Standard output kept of each sandboxed job, in MiB (default 8).
    #[arg(
        long,
        value_name = "MIB",
        help_heading = "Sandbox limits (Python code)"
    )]
    pub output_mib: Option<u64>,
}

impl Default for RunArgs {
    /// The flags' defaults: run here, fail on a shard that fails for good, 3 attempts.
    fn default() -> Self {
        RunArgs {
            detach: false,
            reuse: false,
            on_shard_failure: "fail".into(),
            max_attempts: 3,
            retry: None,
            priority: None,
            memory_mib: None,
            cpu_secs: None,
            wall_secs: None,
            pids: None,
            output_mib: None,
        }
    }
}

impl RunArgs {
    /// The sandbox limits the flags ask for.
    pub fn sandbox(&self) -> quantd_engine::exec::sandbox::SandboxRequest {
        quantd_engine::exec::sandbox::SandboxRequest {
            memory_mib: self.memory_mib,
            cpu_secs: self.cpu_secs,
            wall_secs: self.wall_secs,
            pids: self.pids,
            output_mib: self.output_mib,
        }
    }
}

/// Parses `--retry`: per-class retries as JSON.
pub fn parse_class_retry(s: &str) -> Result<quantd_engine::exec::retry::ClassPolicies, String> {
    serde_json::from_str(s).map_err(|e| {
        format!("expected a JSON object of error classes, e.g. '{{\"network\": {{\"maximum_attempts\": 5}}}}': {e}")
    })
}

/// `quantd check ...`
#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Check a scanner or strategy for look-ahead: its output at each cut point must not change
    /// when the bars after it are removed or changed (docs/lookahead.md). Exits 0 when clean,
    /// 4 when biased, 5 when inconclusive (1 when the check itself failed).
    Lookahead(LookaheadArgs),
}

/// The code a check or an evaluation runs on, and where.
#[derive(Debug, Args)]
pub struct CheckedCodeArgs {
    /// The code: a file (`.py`: a Python scanner or strategy; `.json`: a strategy of expressions
    /// `{"entry": .., "exit": ..}`; else a scanner expression) or stored code, `NAME` or `NAME@N`.
    #[arg(required_unless_present = "expr")]
    pub code: Option<String>,
    /// A scanner expression instead of CODE.
    #[arg(long, conflicts_with = "code")]
    pub expr: Option<String>,
    /// Pack name, id or id prefix; default: the newest fresh pack.
    #[arg(long)]
    pub pack: Option<String>,
    /// Only these tickers (comma-separated); default: a sample spread over the pack (50 for a
    /// check, 20 for an evaluation).
    #[arg(long, value_delimiter = ',')]
    pub tickers: Option<Vec<String>>,
    /// A `$name` (or Python parameter) value, as name=number (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, f64)>,
    /// Report format: md (default) or json.
    #[arg(long)]
    pub format: Option<String>,
    /// Write the report to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Engine options.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Arguments of `check lookahead`.
#[derive(Debug, Args)]
pub struct LookaheadArgs {
    /// The code and where to check it.
    #[command(flatten)]
    pub code: CheckedCodeArgs,
    /// Cut points per ticker (every signal bar first, then sampled bars).
    #[arg(long, default_value_t = 200)]
    pub cuts: u32,
}

/// Arguments of `evaluate`: stored code's evaluation is then shown beside its version.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The code and where to evaluate it.
    #[command(flatten)]
    pub code: CheckedCodeArgs,
}

/// `quantd pattern ...`
#[derive(Debug, Subcommand)]
pub enum PatternCommand {
    /// Run a stored pattern here, printing each step as it starts and ends, then its report.
    Run(PatternRunArgs),
}

/// Arguments of `pattern run`.
#[derive(Debug, Args)]
pub struct PatternRunArgs {
    /// The stored pattern, `NAME` or `NAME@N`.
    pub name: String,
    /// An input, `NAME=VALUE` (VALUE is read as JSON when it parses, else as text); repeatable.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// The pack `ctx.pack_id` names (default: the newest fresh pack).
    #[arg(long)]
    pub pack: Option<String>,
    /// Return a completed run of the same pattern with the same inputs instead of running again.
    #[arg(long)]
    pub reuse: bool,
    /// Start and return at once: the pattern runs in a background process.
    #[arg(long)]
    pub detach: bool,
    /// Write the report here instead of stdout (`.md` or `.json`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Arguments of `retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The pattern execution (`ex_…`), finished.
    pub execution: String,
    /// Run again from this step (and everything depending on it); repeatable. Default: every step
    /// that did not complete.
    #[arg(long = "from", value_name = "STEP")]
    pub from: Vec<String>,
}

/// An execution id.
#[derive(Debug, Args)]
pub struct ExecArg {
    /// The execution id (`ex_…`).
    pub execution: String,
}

/// Arguments of `resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The execution id (`ex_…`).
    pub execution: String,
    /// Run a quarantined execution again (one whose shard crashed its worker too often): its
    /// crashed shards get a fresh start.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `results`.
#[derive(Debug, Args)]
pub struct ResultsArgs {
    /// The execution id.
    pub execution: String,
    /// csv, json, ndjson, parquet, md or table (default: from --out's extension, else csv).
    #[arg(long)]
    pub format: Option<String>,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A scan's signals only (ticker and bar), without `let` columns: readable whatever the
    /// data's rights.
    #[arg(long)]
    pub signals_only: bool,
}

/// Arguments of `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only executions of this code name.
    #[arg(long)]
    pub name: Option<String>,
    /// Only this kind (scan, test, backtest, sweep, run, import, pattern, check, evaluate).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this state (pending, running, paused, completed, failed, cancelled).
    #[arg(long)]
    pub status: Option<String>,
    /// Only executions created since (YYYY-MM-DD, or a duration like 2h, 3d).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Continue after this cursor (printed at the end of the previous page).
    #[arg(long)]
    pub after: Option<String>,
    /// List the executions patterns ran for their steps too (hidden by default).
    #[arg(long)]
    pub steps: bool,
}

/// Arguments of `summary`.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// Only executions of this code name.
    #[arg(long)]
    pub name: Option<String>,
}

/// Parses `name=number`.
pub fn parse_param(s: &str) -> Result<(String, f64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE (e.g. --param rsi_max=30)"))?;
    let name = name.trim().trim_start_matches('$');
    if name.is_empty() {
        return Err(format!(
            "`{s}` has no name before `=` (e.g. --param rsi_max=30)"
        ));
    }
    let value: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` in `{s}` is not a number (e.g. --param {name}=30)"))?;
    Ok((name.to_string(), value))
}

/// `--param` values as a map; a name given twice is an error (which value was meant?).
pub fn param_map(
    params: &[(String, f64)],
) -> anyhow::Result<std::collections::BTreeMap<String, f64>> {
    let mut map = std::collections::BTreeMap::new();
    for (name, value) in params {
        if let Some(first) = map.insert(name.clone(), *value) {
            anyhow::bail!(
                "--param {name} is given twice ({first} and {value}); give each parameter once"
            );
        }
    }
    Ok(map)
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Tickers in the demo universe.
    #[arg(long, default_value_t = 500)]
    pub tickers: usize,
    /// Business days in the demo universe.
    #[arg(long, default_value_t = 1260)]
    pub days: usize,
}
