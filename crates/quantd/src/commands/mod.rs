//! One module per command family. Each command resolves its options, calls the engine, and
//! prints the outcome; none holds logic the API or MCP would need too.

mod agents;
pub(crate) mod bot;
mod check;
mod code;
mod data;
mod db;
mod demo;
mod executions;
pub(crate) mod mcp;
mod pattern;
pub(crate) mod rights;
mod run;
pub(crate) mod runtime;
mod scan;
pub(crate) mod serve;
mod strategy;
mod test;
pub(crate) mod tokens;
mod webhooks;
pub(crate) mod worker;

use crate::cli::{Cli, Command};
use anyhow::Context;
use quantd_engine::{Packs, StoreConfig};
use std::path::PathBuf;
use std::process::ExitCode;

/// Shared context of a command: where the data lives and how to print.
pub struct Ctx {
    /// The data directory.
    pub data_dir: PathBuf,
    /// `--json`.
    pub json: bool,
    /// `--unsafe-no-sandbox`.
    pub unsafe_no_sandbox: bool,
    /// `--database-url`: where the store is, if not in the data directory.
    pub database_url: Option<String>,
    /// `--pack-store`: where packs are shared, if anywhere.
    pub pack_store: Option<String>,
    /// `--pack-cache-mib`.
    pub pack_cache_mib: u64,
    /// `--db-pool-size`.
    pub db_pool_size: u32,
}

impl Ctx {
    /// Opens the engine on the data directory (running crash recovery for packs and shards).
    pub async fn engine(&self) -> anyhow::Result<quantd_engine::exec::Engine> {
        let packs = self.packs().await?;
        let mut options = quantd_engine::exec::EngineOptions {
            unsafe_no_sandbox: self.unsafe_no_sandbox,
            limits: quantd_engine::exec::limits::Limits::from_env(|v| std::env::var(v).ok())?,
            ..Default::default()
        };
        if let Ok(v) = std::env::var(crate::cli::env::QUANTD_SHARD_BARS) {
            options.scan_shard_bars = v.parse().with_context(|| {
                format!(
                    "{}=`{v}` is not a whole number",
                    crate::cli::env::QUANTD_SHARD_BARS
                )
            })?;
        }
        if let Ok(v) = std::env::var(crate::cli::env::QUANTD_LEASE_SECS) {
            let secs: i64 = v
                .parse()
                .ok()
                .filter(|s| (2..=3600).contains(s))
                .with_context(|| {
                    format!(
                        "{}=`{v}` is not a number of seconds from 2 to 3600",
                        crate::cli::env::QUANTD_LEASE_SECS
                    )
                })?;
            options.lease_ms = secs * 1000;
        }
        if let Ok(v) = std::env::var(crate::cli::env::QUANTD_PAPER_IDLE_MS) {
            options.paper_idle_ms = v
                .parse()
                .ok()
                .filter(|ms| (1..=86_400_000).contains(ms))
                .with_context(|| {
                    format!(
                        "{}=`{v}` is not a number of milliseconds from 1 to 86400000",
                        crate::cli::env::QUANTD_PAPER_IDLE_MS
                    )
                })?;
        }
        options.broker = broker_account()?;
        Ok(quantd_engine::exec::Engine::new(packs, options).await?)
    }

    /// Opens the pack service on the data directory and the configured store (running crash
    /// recovery).
    pub async fn packs(&self) -> anyhow::Result<Packs> {
        Packs::open_with(&self.store_config())
            .await
            .with_context(|| format!("opening data directory {}", self.data_dir.display()))
    }
}

impl Ctx {
    /// Where the store is: `--database-url`, or the data directory's file.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            data_dir: self.data_dir.clone(),
            url: self.database_url.clone(),
            pack_store: self.pack_store.clone(),
            pack_cache_mib: Some(self.pack_cache_mib),
            pool_size: Some(self.db_pool_size),
        }
    }
}

/// The data directory: `--data-dir` / `QUANTD_DATA`, else the platform's data dir.
fn resolve_data_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    directories::ProjectDirs::from("", "", "quantd")
        .map(|p| p.data_dir().to_path_buf())
        .context(
            "no home directory to put the data directory in; pass --data-dir or set QUANTD_DATA",
        )
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Ctx {
        data_dir: resolve_data_dir(cli.data_dir)?,
        json: cli.json,
        unsafe_no_sandbox: cli.unsafe_no_sandbox,
        database_url: cli.database_url,
        pack_store: cli.pack_store,
        pack_cache_mib: cli.pack_cache_mib,
        db_pool_size: cli.db_pool_size,
    };
    match cli.command {
        Command::Data(cmd) => data::run(&ctx, cmd).await,
        Command::Code(cmd) => code::run(&ctx, cmd).await,
        Command::Scan(args) => scan::run(&ctx, args).await,
        Command::Backtest(a) => strategy::backtest(&ctx, a).await,
        Command::Paper(a) => strategy::paper(&ctx, a).await,
        Command::Orders(a) => strategy::orders(&ctx, &a.execution).await,
        Command::Sweep(a) => strategy::sweep(&ctx, a).await,
        Command::Test(a) => test::run(&ctx, a).await,
        Command::Check(crate::cli::CheckCommand::Lookahead(a)) => check::run(&ctx, a).await,
        Command::Evaluate(a) => check::evaluate(&ctx, a).await,
        Command::Run(a) => bot::run(&ctx, a).await,
        Command::Pattern(crate::cli::PatternCommand::Run(a)) => pattern::run(&ctx, a).await,
        Command::Retry(a) => pattern::retry(&ctx, a).await,
        Command::Agents(cmd) => agents::run(&ctx, cmd).await,
        Command::Webhooks(cmd) => webhooks::run(&ctx, cmd).await,
        Command::Policy(cmd) => {
            let engine = ctx.engine().await?;
            let policy = match cmd {
                crate::cli::PolicyCommand::Show { workspace } => {
                    engine.workspace_policy(&workspace).await?
                }
                crate::cli::PolicyCommand::Set {
                    workspace,
                    retry,
                    require_evaluation,
                    live_trading,
                } => {
                    let mut p = engine.workspace_policy(&workspace).await?;
                    if let Some(retry) = retry {
                        p.retry = retry;
                    }
                    if let Some(required) = require_evaluation {
                        p.require_evaluation = required;
                    }
                    if let Some(live) = live_trading {
                        p.live_trading = live;
                    }
                    // The machine's operator: the CLI opens the store itself.
                    engine.set_workspace_policy(&workspace, &p, true).await?
                }
            };
            crate::output::json(&policy)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Show(a) => executions::show(&ctx, &a.execution).await,
        Command::Results(a) => executions::results(&ctx, a).await,
        Command::Pause(a) => executions::pause(&ctx, &a.execution).await,
        Command::Resume(a) => executions::resume(&ctx, &a.execution, a.force).await,
        Command::Cancel(a) => executions::cancel(&ctx, &a.execution).await,
        Command::History(a) => executions::history(&ctx, a).await,
        Command::Summary(a) => executions::summary(&ctx, a).await,
        Command::Demo(args) => demo::run(&ctx, args).await,
        Command::Serve(a) => serve::run(&ctx, a).await,
        Command::Worker(a) => worker::run(&ctx, a).await,
        Command::Mcp(a) => mcp::run(&ctx, a).await,
        Command::Rights(cmd) => rights::run(&ctx, cmd).await,
        Command::Tokens(cmd) => tokens::run(&ctx, cmd).await,
        Command::Runtime(cmd) => runtime::run(&ctx, cmd),
        Command::Db(cmd) => db::run(&ctx, cmd).await,
    }
}

/// The broker account `live` sessions trade: Alpaca's, from `APCA_API_KEY_ID`,
/// `APCA_API_SECRET_KEY` and `APCA_API_BASE_URL` (paper endpoint by default); `None` when no key
/// is set. The live (real money) endpoint needs `QUANTD_BROKER_REAL_MONEY=yes` as well.
fn broker_account() -> anyhow::Result<Option<quantd_alpaca::AlpacaConfig>> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    if !set(quantd_alpaca::config::ENV_KEY_ID) && !set(quantd_alpaca::config::ENV_SECRET_KEY) {
        return Ok(None);
    }
    let mut config = quantd_alpaca::AlpacaConfig::from_env()
        .context("reading the broker account for live sessions")?;
    config.allow_live =
        std::env::var(crate::cli::env::QUANTD_BROKER_REAL_MONEY).is_ok_and(|v| v == "yes");
    config.validate().with_context(|| {
        format!(
            "the broker account for live sessions (set {}=yes to allow the real-money endpoint)",
            crate::cli::env::QUANTD_BROKER_REAL_MONEY
        )
    })?;
    Ok(Some(config))
}
