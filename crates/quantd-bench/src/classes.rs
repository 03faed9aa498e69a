//! `quantd-bench classes`: class strategies (`class X(qd.Strategy)`) through the engine, as
//! `quantd backtest --file` runs them, with backtesting.py measured in the same run:
//!
//! 1. backtesting.py's README SmaCross on its GOOG sample (`examples/strategies/sma_cross.py`):
//!    one backtest execution per run, on a warm sandbox (each run forks a confined job, runs the
//!    strategy, fills its orders over the channel, computes the statistics) vs backtesting.py's
//!    `Backtest(...).run()` (best of the peer's repetitions);
//! 2. a portfolio backtest of `examples/strategies/momentum_rotation.py` (monthly top 10 by
//!    6-month momentum) over a synthetic universe (default 500 tickers × 2,520 days);
//! 3. a sweep of SmaCross over a synthetic universe on every worker: backtests per second;
//! 4. the GOOG SmaCross as a paper session at `--speed max` (every bar stepped, each order
//!    event and trading day appended to the store): bars per second.

use anyhow::Context;
use clap::Args;
use quantd_core::{ExecutionKind, ExecutionState, NoProgress};
use quantd_data::{ImportOptions, SynthSpec};
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::exec::{Engine, EngineOptions};
use quantd_engine::{DataDir, Packs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

const SMA_CROSS: &str = include_str!("../../../examples/strategies/sma_cross.py");
/// Bars in backtesting.py's GOOG sample.
const GOOG_BARS: usize = 2148;
const ROTATION: &str = include_str!("../../../examples/strategies/momentum_rotation.py");

/// Arguments of `classes`.
#[derive(Debug, Args)]
pub struct ClassesArgs {
    /// backtesting.py's GOOG.csv.
    #[arg(long)]
    pub goog: PathBuf,
    /// Python with backtesting.py for the peer.
    #[arg(long)]
    pub python: PathBuf,
    /// The peers script.
    #[arg(long, default_value = "bench/strategy_peers.py")]
    pub peers: PathBuf,
    /// Timed GOOG backtests.
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
    /// Portfolio tickers.
    #[arg(long, default_value_t = 500)]
    pub tickers: usize,
    /// Business days per ticker (portfolio and sweep).
    #[arg(long, default_value_t = 2520)]
    pub days: usize,
    /// Sweep tickers.
    #[arg(long, default_value_t = 50)]
    pub sweep_tickers: usize,
    /// Workers.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
}

/// Runs `quantd-bench classes` in `bench-classes` under `data_dir`.
pub async fn run(data_dir: &Path, json_out: bool, a: ClassesArgs) -> anyhow::Result<ExitCode> {
    let data_dir = &data_dir.join("bench-classes");
    std::fs::create_dir_all(data_dir)?;
    let packs = Packs::open(DataDir::new(data_dir)).await?;
    if packs.find(Some("goog")).await.is_err() {
        let opts = ImportOptions {
            ticker: Some("GOOG".into()),
            lenient: false,
            ..Default::default()
        };
        packs
            .import_file(
                &a.goog,
                "goog",
                opts,
                Default::default(),
                Arc::new(NoProgress),
            )
            .await
            .context("importing GOOG")?;
    }
    let universe = format!("classes-{}x{}", a.tickers, a.days);
    let spec = SynthSpec {
        tickers: a.tickers.max(a.sweep_tickers),
        days: a.days,
        seed: 5,
        start: "2015-01-02".parse()?,
        interval: Default::default(),
    };
    packs.synth(&universe, spec, Arc::new(NoProgress)).await?;
    let engine = Engine::new(packs, EngineOptions::default()).await?;

    // 1. GOOG SmaCross, warm sandbox.
    let goog = || {
        let mut r = SubmitRequest::new(ExecutionKind::Backtest);
        r.pack = Some("goog".into());
        r.python = Some(SMA_CROSS.into());
        r.config = Some(
            serde_json::json!({ "commission": { "relative": 0.002 }, "exclusive_orders": true }),
        );
        r
    };
    run_one(&engine, goog(), 1)
        .await
        .context("warming the sandbox")?;
    let mut times = Vec::new();
    for _ in 0..a.repeat.max(1) {
        let t = Instant::now();
        run_one(&engine, goog(), 1).await?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let (best, median) = (times[0], times[times.len() / 2]);
    // The same execution with the strategy as expressions (no sandbox, no Python): what the
    // execution itself costs (store, shard, statistics, results).
    let mut floor = Vec::new();
    for _ in 0..a.repeat.max(1) {
        let mut r = goog();
        r.python = None;
        r.strategy = Some(quantd_engine::code::StrategyExprs {
            entry: "crosses_above(sma(close, 10), sma(close, 20))".into(),
            exit: "crosses_below(sma(close, 10), sma(close, 20))".into(),
            short_entry: Some("crosses_below(sma(close, 10), sma(close, 20))".into()),
            short_exit: Some("crosses_above(sma(close, 10), sma(close, 20))".into()),
        });
        let t = Instant::now();
        run_one(&engine, r, 1).await?;
        floor.push(t.elapsed().as_secs_f64());
    }
    floor.sort_by(f64::total_cmp);
    let floor_median = floor[floor.len() / 2];
    let peer = crate::measure::python_peer(
        &a.python,
        &[
            a.peers.as_os_str(),
            "backtest".as_ref(),
            a.goog.as_os_str(),
            "5".as_ref(),
        ],
    )?;
    let peer_s = peer["backtesting_py_s"].as_f64().unwrap_or(f64::NAN);

    // 4. The same strategy on paper, as fast as it goes.
    let mut r = goog();
    r.kind = ExecutionKind::Paper;
    r.speed = Some("max".into());
    let t = Instant::now();
    run_one(&engine, r, 1).await?;
    let paper_s = t.elapsed().as_secs_f64();

    // 2. The portfolio.
    let mut r = SubmitRequest::new(ExecutionKind::Backtest);
    r.pack = Some(universe.clone());
    r.python = Some(ROTATION.into());
    r.tickers = Some((1..=a.tickers).map(|i| format!("SYN{i:04}")).collect());
    r.config = Some(serde_json::json!({ "portfolio": true }));
    let t = Instant::now();
    run_one(&engine, r, 1).await?;
    let portfolio_s = t.elapsed().as_secs_f64();

    // 3. A sweep on every worker.
    let mut r = SubmitRequest::new(ExecutionKind::Sweep);
    r.pack = Some(universe.clone());
    r.python = Some(SMA_CROSS.into());
    r.tickers = Some(
        (1..=a.sweep_tickers)
            .map(|i| format!("SYN{i:04}"))
            .collect(),
    );
    r.grid = vec!["fast=5,10,15".into(), "slow=20,30,40".into()];
    let t = Instant::now();
    run_one(&engine, r, a.workers).await?;
    let sweep_s = t.elapsed().as_secs_f64();
    let sweep_backtests = a.sweep_tickers * 9;

    let out = serde_json::json!({
        "goog_best_s": best, "goog_median_s": median, "goog_runs": times.len(),
        "expression_execution_median_s": floor_median,
        "backtesting_py_best_s": peer_s, "ratio_best": peer_s / best, "ratio_median": peer_s / median,
        "portfolio_tickers": a.tickers, "days": a.days, "portfolio_s": portfolio_s,
        "sweep_backtests": sweep_backtests, "sweep_s": sweep_s, "workers": a.workers,
        "sweep_backtests_per_s": sweep_backtests as f64 / sweep_s,
        "paper_s": paper_s, "paper_bars": GOOG_BARS, "paper_bars_per_s": GOOG_BARS as f64 / paper_s,
    });
    eprintln!(
        "GOOG SmaCross as a class strategy (warm sandbox, whole execution): best {:.1} ms, median {:.1} ms of {}; backtesting.py best of 5: {:.1} ms ({:.2}x / {:.2}x)",
        best * 1e3,
        median * 1e3,
        times.len(),
        peer_s * 1e3,
        peer_s / best,
        peer_s / median
    );
    eprintln!(
        "the same backtest as an expression strategy (no sandbox): median {:.1} ms per execution",
        floor_median * 1e3
    );
    eprintln!(
        "portfolio: monthly top-10 momentum rotation over {} tickers x {} days in {:.2} s",
        a.tickers, a.days, portfolio_s
    );
    eprintln!(
        "sweep: SmaCross 3x3 sets over {} tickers = {} backtests in {:.2} s on {} workers ({:.0} backtests/s)",
        a.sweep_tickers,
        sweep_backtests,
        sweep_s,
        a.workers,
        sweep_backtests as f64 / sweep_s
    );
    eprintln!(
        "paper: GOOG SmaCross at --speed max, {GOOG_BARS} bars stepped and recorded in {:.2} s ({:.0} bars/s)",
        paper_s,
        GOOG_BARS as f64 / paper_s
    );
    if json_out {
        println!("{out}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts `req` and runs it to its end on `workers` workers.
async fn run_one(engine: &Engine, req: SubmitRequest, workers: usize) -> anyhow::Result<()> {
    let id = engine.start(req).await?.execution.id;
    let rec = engine.run(&id, workers).await?;
    anyhow::ensure!(
        rec.state == ExecutionState::Completed,
        "the execution ended {}: {:?}",
        rec.state,
        rec.error_message
    );
    Ok(())
}
