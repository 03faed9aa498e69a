//! `quantd demo`: the product on embedded defaults. Creates the synthetic `demo` pack if absent
//! and summarizes it; later capabilities (scan, backtest, …) add their step here.

use super::Ctx;
use crate::cli::DemoArgs;
use crate::output::{self, thousands};
use crate::progress::Bars;
use quantd_core::ExecutionKind;
use quantd_engine::data::SynthSpec;
use quantd_engine::exec::request::SubmitRequest;
use std::process::ExitCode;
use std::time::Instant;

/// The scanner the demo runs (the reference scanner of docs/PERFORMANCE.md).
pub const REFERENCE_SCANNER: &str =
    "let r = rsi(close, 14); close < sma(close, 50) and r < 30 and volume > 2 * sma(volume, 20)";

/// Tickers the demo's sweep runs on.
const SWEEP_TICKERS: usize = 50;

/// The demo pack's name.
pub const DEMO_PACK: &str = "demo";

pub async fn run(ctx: &Ctx, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let packs = ctx.packs().await?;
    let started = Instant::now();
    let spec = SynthSpec {
        tickers: args.tickers,
        days: args.days,
        ..SynthSpec::default()
    };
    let report = packs.synth(DEMO_PACK, spec, Bars::new(ctx.json)).await?;
    let built = started.elapsed();
    let pack = &report.pack;

    // Read every close through the pack's columnar projection and summarize the universe.
    let reader = packs.reader(pack).await?;
    let read_started = Instant::now();
    let projection = reader.projection(&["close"])?;
    let mut returns: Vec<(String, f64)> = Vec::with_capacity(reader.manifest().tickers.len());
    for (i, t) in reader.manifest().tickers.iter().enumerate() {
        let bars = reader.read(i, &projection)?;
        let close = bars.column(0);
        if let (Some(first), Some(last)) = (close.first(), close.last()) {
            returns.push((t.ticker.clone(), last / first - 1.0));
        }
    }
    let read = read_started.elapsed();
    returns.sort_by(|a, b| b.1.total_cmp(&a.1));
    let up = returns.iter().filter(|r| r.1 > 0.0).count();
    let median = returns.get(returns.len() / 2).map_or(0.0, |r| r.1);

    if ctx.json {
        output::json(&serde_json::json!({
            "pack": pack,
            "created": !report.unchanged,
            "build_ms": built.as_millis() as u64,
            "read_close_ms": read.as_secs_f64() * 1e3,
            "tickers_up": up,
            "median_return": median,
            "best": returns.first(),
            "worst": returns.last(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("quantd demo — data directory {}", ctx.data_dir.display());
    println!();
    println!(
        "pack  {} ({})  {}  {} tickers × {} days = {} bars, {} .. {}",
        pack.name,
        pack.id.short(),
        pack.state,
        thousands(pack.tickers),
        args.days,
        thousands(pack.bars),
        pack.first_date,
        pack.last_date
    );
    println!(
        "      {} in {:.2} s",
        if report.unchanged {
            "already present, verified"
        } else {
            "generated, hashed and written"
        },
        built.as_secs_f64()
    );
    println!(
        "read  close of every ticker in {:.1} ms ({:.0} M bars/s)",
        read.as_secs_f64() * 1e3,
        pack.bars as f64 / read.as_secs_f64() / 1e6
    );
    println!();
    println!(
        "universe: {up} of {} tickers ended higher; median total return {:+.1}%",
        returns.len(),
        median * 100.0
    );
    let fmt = |r: &(String, f64)| format!("{} {:+.1}%", r.0, r.1 * 100.0);
    println!(
        "best:  {}",
        returns
            .iter()
            .take(3)
            .map(fmt)
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "worst: {}",
        returns
            .iter()
            .rev()
            .take(3)
            .map(fmt)
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    let engine = quantd_engine::exec::Engine::new(packs.clone(), Default::default()).await?;
    let mut request = SubmitRequest::new(ExecutionKind::Scan);
    request.expr = Some(REFERENCE_SCANNER.into());
    let run = crate::cli::RunArgs::default();
    let spec = super::run::with_run_flags(request, Some(pack.id.to_string()), &run);
    let sub = engine.start(spec).await?;
    let rec = super::run::run_foreground(ctx, &engine, &sub.execution.id).await?;
    let summary = engine.summarize_scan(&rec.id).await?;
    println!("scan  {REFERENCE_SCANNER}");
    println!(
        "      as execution {} ({}, fingerprint {})",
        rec.id,
        crate::output::count(rec.shards_total.into(), "shard"),
        &rec.fingerprint[..12]
    );
    super::scan::print_summary(&rec, &summary, false);
    println!();
    let names: Vec<String> = reader
        .manifest()
        .tickers
        .iter()
        .map(|t| t.ticker.clone())
        .collect();
    backtest_and_sweep(ctx, &engine, &pack.id.to_string(), &names).await?;
    routine(ctx, &engine, &pack.id.to_string(), &rec.id).await?;
    println!("recent executions:");
    let recent = engine
        .records()
        .list(&quantd_engine::records::ExecutionFilter {
            limit: 5,
            top_level: true,
            ..Default::default()
        })
        .await?
        .items;
    for r in recent {
        println!(
            "  {}  {:<8} {:<9} {} rows",
            r.id,
            r.kind.to_string(),
            r.state.to_string(),
            thousands(r.rows)
        );
    }
    println!();
    println!(
        "next: `quantd scan --expr '<your scanner>' --out hits.parquet`, `quantd data list`, `quantd data show {DEMO_PACK}`"
    );
    println!(
        "      `quantd serve --no-auth` and open http://127.0.0.1:8000/ to see these executions in the dashboard"
    );
    Ok(ExitCode::SUCCESS)
}

/// The research routine of `examples/patterns/routine.json`, stored as code and run as a pattern:
/// its steps print as they run (the scan is the one above, reused), then its step graph.
async fn routine(
    ctx: &Ctx,
    engine: &quantd_engine::exec::Engine,
    pack: &str,
    scan: &quantd_core::ExecutionId,
) -> anyhow::Result<()> {
    let doc = include_str!("../../../../examples/patterns/routine.json");
    let code = quantd_engine::code::CodeSource::Pattern(doc.into());
    engine.code("default").add(DEMO_ROUTINE, &code).await?;
    // The A+ examples: the first signal of each of the scan's first tickers (the pattern's own
    // defaults fit the default demo universe only).
    let mut examples: Vec<serde_json::Value> = Vec::new();
    engine
        .scan_results(scan, |s| {
            for i in 0..s.len() {
                let ticker = s.ticker_of(i);
                if examples.len() < 4 && !examples.iter().any(|e| e["ticker"] == ticker) {
                    examples.push(serde_json::json!({"ticker": ticker, "date": s.time_of(i)}));
                }
            }
            Ok(())
        })
        .await?;
    let mut inputs = serde_json::Map::new();
    inputs.insert("pack".into(), serde_json::json!(pack));
    if !examples.is_empty() {
        inputs.insert("examples".into(), serde_json::Value::Array(examples));
    }
    let mut request = SubmitRequest::new(ExecutionKind::Pattern);
    request.code = Some(DEMO_ROUTINE.into());
    request.inputs = Some(inputs);
    let sub = engine.start(request).await?;
    let rec = super::run::run_foreground(ctx, engine, &sub.execution.id).await?;
    let report = engine.pattern_report(&rec.id).await?;
    println!(
        "pattern   {DEMO_ROUTINE} (examples/patterns/routine.json) as execution {}: {}",
        rec.id, rec.state
    );
    for line in report.graph().lines() {
        println!("      {line}");
    }
    println!(
        "      the report: `quantd results {}`; run it again: `quantd pattern run {DEMO_ROUTINE}`",
        rec.id
    );
    println!();
    Ok(())
}

/// The name the demo stores its pattern under.
const DEMO_ROUTINE: &str = "demo-routine";

/// The SMA-cross strategy of backtesting.py's README, long/short, on the demo universe; then a
/// small (fast, slow) sweep.
async fn backtest_and_sweep(
    ctx: &Ctx,
    engine: &quantd_engine::exec::Engine,
    pack: &str,
    tickers: &[String],
) -> anyhow::Result<()> {
    use quantd_engine::code::StrategyExprs;
    let up = "crosses_above(sma(close, $fast), sma(close, $slow))";
    let down = "crosses_below(sma(close, $fast), sma(close, $slow))";
    let strategy = StrategyExprs {
        entry: up.into(),
        exit: down.into(),
        short_entry: Some(down.into()),
        short_exit: Some(up.into()),
    };
    let config = quantd_engine::backtest::Config {
        commission: quantd_engine::backtest::Commission {
            fixed: 0.0,
            relative: 0.002,
        },
        exclusive_orders: true,
        ..Default::default()
    };
    let run = crate::cli::RunArgs::default();
    let mut backtest = SubmitRequest::new(ExecutionKind::Backtest);
    backtest.strategy = Some(strategy);
    backtest.params = [("fast".to_string(), 10.0), ("slow".to_string(), 20.0)].into();
    backtest.config = Some(serde_json::to_value(config)?);
    let backtest = super::run::with_run_flags(backtest, Some(pack.into()), &run);
    let spec = backtest.clone();
    let sub = engine.start(spec).await?;
    let rec = super::run::run_foreground(ctx, engine, &sub.execution.id).await?;
    let results = engine.backtest_results(&rec.id).await?;
    let agg = quantd_engine::exec::strategy::aggregate(&results);
    let g = |k: &str| agg.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    println!(
        "backtest  SMA 10/20 cross, long/short, 0.2 % commission, on {} tickers ({})",
        results.len(),
        rec.id
    );
    println!(
        "      mean return {:+.1}% (buy & hold {:+.1}%), mean Sharpe {:.2}, mean max drawdown {:.1}%, {} trades",
        g("Return [%]"),
        g("Buy & Hold Return [%]"),
        g("Sharpe Ratio"),
        g("Max. Drawdown [%]"),
        agg.get("# Trades").map_or(0, |v| v.as_u64().unwrap_or(0))
    );
    let spec = SubmitRequest {
        kind: ExecutionKind::Sweep,
        params: Default::default(),
        // The first 50 of the pack's tickers (fewer on a smaller `--tickers`).
        tickers: Some(tickers.iter().take(SWEEP_TICKERS).cloned().collect()),
        grid: vec!["fast=5..20:5".into(), "slow=20..60:20".into()],
        constraint: Some("fast < slow".into()),
        ..backtest
    };
    let sub = engine.start(spec).await?;
    let rec = super::run::run_foreground(ctx, engine, &sub.execution.id).await?;
    println!(
        "sweep     fast=5..20:5 × slow=20..60:20 (fast < slow) on {}:",
        quantd_engine::count(tickers.len().min(SWEEP_TICKERS) as u64, "ticker")
    );
    super::strategy::write_sweep(
        ctx,
        engine,
        &rec,
        quantd_engine::backtest::Metric::SharpeRatio,
        true,
        3,
        None,
    )
    .await?;
    println!();
    Ok(())
}
