//! `quantd-bench backtest|sweep|history`: strategy and execution-store benchmarks, with
//! backtesting.py and vectorbt measured in the same run (bench/strategy.sh). `sweep` and
//! `history` time the whole `quantd` command too (the product binary, see `--quantd`).

use crate::cli::{BacktestArgs, HistoryArgs, SweepArgs, env};
use crate::measure::{best_of, python_peer, table, workers};
use anyhow::Context;
use quantd_core::{ExecutionId, ExecutionKind, NoProgress};
use quantd_data::{ImportOptions, SynthSpec};
use quantd_engine::code::StrategyExprs;
use quantd_engine::exec::kinds::backtest::ResolvedBacktest;
use quantd_engine::exec::strategy::BacktestJob;
use quantd_engine::{DataDir, Packs};
use quantd_store::prelude::*;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

pub(crate) const UP: &str = "crosses_above(sma(close, $fast), sma(close, $slow))";
pub(crate) const DOWN: &str = "crosses_below(sma(close, $fast), sma(close, $slow))";

fn peer(python: &Path, script: &Path, args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let mut all: Vec<&std::ffi::OsStr> = vec![script.as_os_str()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    python_peer(python, &all)
}

/// One backtest of the README Quick Start on GOOG: compile once, then signals + simulation +
/// statistics + trades table + equity curve per run.
pub async fn backtest(a: BacktestArgs) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let packs = Packs::open(DataDir::new(tmp.path())).await?;
    let opts = ImportOptions {
        ticker: Some("GOOG".into()),
        lenient: false,
        ..Default::default()
    };
    let pack = packs
        .import_file(
            &a.goog,
            "goog",
            opts,
            Default::default(),
            Arc::new(NoProgress),
        )
        .await?
        .pack;
    let spec = ResolvedBacktest {
        strategy: StrategyExprs {
            entry: UP.into(),
            exit: DOWN.into(),
            short_entry: Some(DOWN.into()),
            short_exit: Some(UP.into()),
        },
        python: None,
        code: None,
        pack_id: pack.id.to_string(),
        params: [("fast".to_string(), 10.0), ("slow".to_string(), 20.0)].into(),
        tickers: None,
        from: None,
        to: None,
        config: quantd_backtest::Config {
            commission: quantd_backtest::Commission {
                fixed: 0.0,
                relative: 0.002,
            },
            exclusive_orders: true,
            ..Default::default()
        },
    };
    let limits = quantd_engine::exec::limits::Limits::default();
    let job = BacktestJob::new(&spec, packs.open_reader(&pack)?, &limits.expr)?;
    let projection = job.projection()?;
    let t = job.ticker_index("GOOG").context("GOOG in the pack")?;
    let mut ws = quantd_expr::Workspace::new();
    let mut buffers = quantd_backtest::SignalBuffers::default();
    let runs = 100 * a.repeat.max(1);
    let (total, (result, _)) = best_of(1, || {
        let mut last = None;
        for _ in 0..runs {
            last = Some(job.run_ticker(t, &projection, &mut ws, &mut buffers)?);
        }
        Ok(last.expect("ran"))
    })?;
    let per = total / runs as f64;
    let stats = result.stats.context("GOOG backtest ran")?;
    let ret = stats.get(quantd_backtest::Metric::Return);
    println!(
        "quantd: one GOOG backtest in {:.1} µs (mean of {runs}); Return {ret:.5} %, {} trades",
        per * 1e6,
        stats.trades
    );
    let peer = match &a.python {
        Some(py) => Some(peer(
            py,
            &a.peers,
            &[
                "backtest",
                a.goog.to_str().unwrap_or_default(),
                &a.repeat.to_string(),
            ],
        )?),
        None => None,
    };
    if let Some(p) = &peer {
        let bt = p["backtesting_py_s"].as_f64().unwrap_or(f64::NAN);
        println!(
            "backtesting.py: {:.1} ms (best of {}); Return {} %, {} trades → quantd {:.0}× faster",
            bt * 1e3,
            a.repeat,
            p["return_pct"],
            p["trades"],
            bt / per
        );
    }
    println!(
        "{}",
        serde_json::json!({ "quantd_backtest_s": per, "return_pct": ret, "peer": peer })
    );
    Ok(ExitCode::SUCCESS)
}

/// The sweep of the issue: 500 tickers × 90 (fast, slow) sets × 2,520 bars, long only, through
/// the whole `quantd sweep` command (its own process, so its peak memory is the command's).
pub async fn sweep(a: SweepArgs) -> anyhow::Result<ExitCode> {
    let quantd = a.product.resolve()?;
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    let packs = Packs::open(DataDir::new(&data)).await?;
    let spec = SynthSpec {
        tickers: a.tickers,
        days: a.days,
        interval: a.interval,
        ..SynthSpec::default()
    };
    let pack = packs.synth("bench", spec, Arc::new(NoProgress)).await?.pack;
    eprintln!(
        "bench sweep: {} tickers × {} days of {} bars ({} bars); fast=5..50:5 × slow=20..200:20, fast < slow",
        a.tickers, a.days, a.interval, pack.bars
    );
    let t = Instant::now();
    let out = std::process::Command::new(&quantd)
        .env(env::QUANTD_DATA, &data)
        .env(env::QUANTD_REPORT_PEAK_RSS, "1")
        .arg("--json")
        .args(SWEEP)
        .output()?;
    let wall = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.success(),
        "quantd sweep failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak_kib: f64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_kib ")?.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let backtests = result["backtests"].as_f64().unwrap_or(0.0);
    let rate = backtests / wall;
    let mut rows = vec![vec![
        format!("`quantd sweep` whole command, {} threads", workers()),
        format!("{wall:.2}"),
        format!("{rate:.0}"),
        format!("{:.0}", peak_kib / 1024.0),
    ]];
    let peer = match &a.python {
        Some(py) => {
            let pq = tmp.path().join("bench.parquet");
            let table = packs.open_reader(&pack)?.to_table()?;
            quantd_data::export::export(&table, &pq, Default::default(), &NoProgress)?;
            drop(table);
            let n = a.peer_tickers.unwrap_or(a.tickers).min(a.tickers);
            let p = peer(
                py,
                &a.peers,
                &["sweep", pq.to_str().unwrap_or_default(), &n.to_string()],
            )?;
            rows.push(vec![
                format!("vectorbt (numba, warmed up), 1 core, {n} tickers"),
                format!("{:.2}", p["vectorbt_s"].as_f64().unwrap_or(f64::NAN)),
                format!("{:.0}", p["backtests_per_s"].as_f64().unwrap_or(f64::NAN)),
                format!("{:.0}", p["peak_rss_mib"].as_f64().unwrap_or(f64::NAN)),
            ]);
            Some(p)
        }
        None => None,
    };
    let spread = match &a.postgres {
        Some(url) => {
            let (s, ran) =
                crate::distributed::sweep(&quantd, &data, url, a.worker_processes).await?;
            anyhow::ensure!(
                ran as f64 == backtests,
                "the workers ran {ran} backtests, the single process {backtests}"
            );
            rows.push(vec![
                format!(
                    "the same split across {} `quantd worker` processes on Postgres",
                    a.worker_processes
                ),
                format!("{s:.2}"),
                format!("{:.0}", backtests / s),
                "—".into(),
            ]);
            Some(s)
        }
        None => None,
    };
    table(&["sweep", "seconds", "backtests/s", "peak MiB"], &rows);
    if let Some(s) = spread {
        println!(
            "{} worker processes on Postgres: {:.2}× the single process on SQLite",
            a.worker_processes,
            wall / s
        );
    }
    if let Some(p) = &peer {
        println!(
            "quantd: {:.1}× vectorbt's backtests per second",
            rate / p["backtests_per_s"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "{}",
        serde_json::json!({ "backtests": backtests, "seconds": wall, "backtests_per_s": rate, "peak_rss_mib": peak_kib / 1024.0, "peer": peer })
    );
    Ok(ExitCode::SUCCESS)
}

/// The reference sweep's `quantd` arguments (pack `bench`): fast=5..50:5 × slow=20..200:20 with
/// fast < slow, 90 parameter sets.
pub(crate) const SWEEP: [&str; 17] = [
    "sweep",
    "--pack",
    "bench",
    "--entry",
    UP,
    "--exit",
    DOWN,
    "--commission",
    "0.002",
    "--param",
    "fast=5..50:5",
    "--param",
    "slow=20..200:20",
    "--constraint",
    "fast < slow",
    "--top",
    "3",
];

/// `quantd history` with `executions` stored executions: the query in process and the command.
pub async fn history(a: HistoryArgs) -> anyhow::Result<ExitCode> {
    let quantd = a.product.resolve()?;
    let tmp = tempfile::tempdir()?;
    let packs = Packs::open(DataDir::new(tmp.path())).await?;
    let store = packs.store();
    eprintln!("bench history: storing {} executions", a.executions);
    let t = Instant::now();
    let base = chrono::Utc::now().timestamp_millis() - a.executions as i64 * 1000;
    for i in 0..a.executions {
        let now = base + i as i64 * 1000;
        let e = quantd_store::NewExecution {
            id: ExecutionId::from_parts(now as u64, i as u128),
            workspace: "default".into(),
            kind: if i % 3 == 0 {
                ExecutionKind::Backtest
            } else {
                ExecutionKind::Scan
            },
            name: Some(format!("strategy-{}", i % 50)),
            spec: serde_json::json!({ "kind": "scan" }),
            fingerprint: format!("{i:064x}"),
            pack_id: "0".repeat(64),
            code_version: None,
            options: serde_json::json!({}),
            shards: vec![],
            now,
            first_claim: None,
            parent: None,
            orchestrated: false,
            priority: 0,
        };
        store.create_execution(&e).await?;
    }
    let fill = t.elapsed().as_secs_f64();
    let filter = quantd_store::ExecutionFilter {
        workspace: Some("default".into()),
        limit: 20,
        ..Default::default()
    };
    let (query_s, rows) = best_of(5, || {
        Ok(futures_block(store.list_executions(&filter))?.items)
    })?;
    anyhow::ensure!(rows.len() == 20);
    let by_name = quantd_store::ExecutionFilter {
        name: Some("strategy-7".into()),
        ..filter.clone()
    };
    let (name_s, _) = best_of(5, || {
        Ok(futures_block(store.list_executions(&by_name))?.items)
    })?;
    let (command_s, _) = best_of(5, || {
        let s = std::process::Command::new(&quantd)
            .env(env::QUANTD_DATA, tmp.path())
            .args(["history", "--limit", "20"])
            .stdout(std::process::Stdio::null())
            .status()?;
        anyhow::ensure!(s.success());
        Ok(())
    })?;
    table(
        &["measurement", "milliseconds"],
        &[
            vec![
                "history query (newest 20)".into(),
                format!("{:.2}", query_s * 1e3),
            ],
            vec![
                "history query --name (newest 20)".into(),
                format!("{:.2}", name_s * 1e3),
            ],
            vec![
                "`quantd history` whole command".into(),
                format!("{:.1}", command_s * 1e3),
            ],
        ],
    );
    println!(
        "{}",
        serde_json::json!({ "executions": a.executions, "fill_s": fill, "query_ms": query_s * 1e3, "name_query_ms": name_s * 1e3, "command_ms": command_s * 1e3 })
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs a future to completion on the current runtime from synchronous code.
fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}
