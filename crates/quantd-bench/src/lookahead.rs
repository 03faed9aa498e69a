//! `quantd-bench lookahead`: the look-ahead check of the reference pandas scanner
//! ([`crate::sandbox::BENCH_SCANNER_PY`]) over a synthetic universe (default 50 tickers × 2,520
//! days, 200 cut points per ticker), through the engine as `quantd check lookahead` runs it: one
//! sandbox job per shard of 5 tickers, on `--workers` workers. The peer, measured in the same
//! run: one Python scan execution of one whole ticker per cut — what checking prefix invariance
//! costs when each cut is a job of its own (freqtrade's lookahead-analysis runs a whole backtest
//! per cut, which costs more still) — timed on a sample of cuts and multiplied out.

use anyhow::Context;
use clap::Args;
use quantd_core::{ExecutionKind, ExecutionState, NoProgress};
use quantd_data::SynthSpec;
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::exec::{Engine, EngineOptions};
use quantd_engine::{DataDir, Packs};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// Arguments of `lookahead`.
#[derive(Debug, Args)]
pub struct LookaheadArgs {
    /// Tickers checked.
    #[arg(long, default_value_t = 50)]
    pub tickers: usize,
    /// Business days per ticker.
    #[arg(long, default_value_t = 2520)]
    pub days: usize,
    /// Cut points per ticker.
    #[arg(long, default_value_t = 200)]
    pub cuts: u32,
    /// Workers (each runs one sandbox job at a time).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// One-ticker scans timed for the peer (one job per cut).
    #[arg(long, default_value_t = 20)]
    pub peer_jobs: usize,
}

/// Runs `quantd-bench lookahead` with its engine (its pack, store and Python runtime, unless
/// `QUANTD_PYTHON` names one) in `bench-lookahead` under `data_dir`.
pub async fn run(data_dir: &Path, json_out: bool, a: LookaheadArgs) -> anyhow::Result<ExitCode> {
    let data_dir = &data_dir.join("bench-lookahead");
    std::fs::create_dir_all(data_dir)?;
    let packs = Packs::open(DataDir::new(data_dir)).await?;
    let spec = SynthSpec {
        tickers: a.tickers,
        days: a.days,
        seed: 11,
        start: "2015-01-02".parse()?,
        interval: Default::default(),
    };
    let pack = format!("lookahead-{}x{}", a.tickers, a.days);
    packs.synth(&pack, spec, Arc::new(NoProgress)).await?;
    let engine = Engine::new(packs, EngineOptions::default()).await?;
    // Start the zygote (and the runtime) outside the timings: one tiny scan.
    let warm = scan_one(&engine, &pack, "SYN0001").await;
    warm.context("warming the sandbox")?;

    let mut req = SubmitRequest::new(ExecutionKind::Check);
    req.pack = Some(pack.clone());
    req.python = Some(crate::sandbox::BENCH_SCANNER_PY.to_string());
    req.cuts = Some(a.cuts);
    let t = Instant::now();
    let id = engine.start(req).await?.execution.id;
    let rec = engine.run(&id, a.workers).await?;
    let check_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        rec.state == ExecutionState::Completed,
        "the check ended {}",
        rec.state
    );
    let report = engine.check_report(&id).await?;
    anyhow::ensure!(
        report.verdict == quantd_engine::lookahead::CheckVerdict::Clean,
        "the reference scanner is clean, but the check says {:?}: {:?}",
        report.verdict,
        report.reasons
    );

    let mut per_job = f64::INFINITY;
    let mut times = Vec::new();
    for i in 0..a.peer_jobs.max(1) {
        let ticker = format!("SYN{:04}", 1 + i % a.tickers);
        let t = Instant::now();
        scan_one(&engine, &pack, &ticker).await?;
        let s = t.elapsed().as_secs_f64();
        per_job = per_job.min(s);
        times.push(s);
    }
    times.sort_by(f64::total_cmp);
    let median_job = times[times.len() / 2];
    // The peer runs its jobs on every worker too.
    let peer_s = median_job * report.cuts as f64 / a.workers.max(1) as f64;
    let out = serde_json::json!({
        "tickers": a.tickers, "days": a.days, "cuts_per_ticker": a.cuts, "workers": a.workers,
        "check_s": check_s, "cut_points": report.cuts, "runs": report.runs,
        "perturbations": report.perturbations, "signal_bars": report.signal_bars,
        "runs_per_s": report.runs as f64 / check_s,
        "peer_job_median_s": median_job, "peer_job_best_s": per_job,
        "peer_one_job_per_cut_s": peer_s, "speedup": peer_s / check_s,
    });
    eprintln!(
        "look-ahead check of the reference pandas scanner: {} tickers x {} days, {} cut points ({} runs of the code) in {:.2} s on {} workers ({:.0} runs/s)",
        a.tickers,
        a.days,
        report.cuts,
        report.runs,
        check_s,
        a.workers,
        report.runs as f64 / check_s
    );
    eprintln!(
        "peer, one job per cut: {:.1} ms per one-ticker scan (median of {}), x {} cuts / {} workers = {:.0} s ({:.0}x the check)",
        median_job * 1e3,
        times.len(),
        report.cuts,
        a.workers,
        peer_s,
        peer_s / check_s
    );
    if json_out {
        println!("{out}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A Python scan of the reference scanner over one ticker, run to its end.
async fn scan_one(engine: &Engine, pack: &str, ticker: &str) -> anyhow::Result<()> {
    let mut req = SubmitRequest::new(ExecutionKind::Scan);
    req.pack = Some(pack.to_string());
    req.python = Some(crate::sandbox::BENCH_SCANNER_PY.to_string());
    req.tickers = Some(vec![ticker.to_string()]);
    let id = engine.start(req).await?.execution.id;
    let rec = engine.run(&id, 1).await?;
    anyhow::ensure!(
        rec.state == ExecutionState::Completed,
        "a one-ticker scan ended {}: {:?}",
        rec.state,
        rec.error_message
    );
    Ok(())
}
