//! `quantd-bench scan`: the reference full-market scan, bare (all cores and one), through the
//! engine (plan, claim, commit results and events), and as the whole `quantd scan` process, beside
//! TA-Lib (per ticker) and pandas on the same bars (bench/scan_peers.py). The figures go to
//! docs/PERFORMANCE.md.

use crate::cli::ScanArgs;
use crate::measure::{best_of, count, python_peer, row, table, workers};
use quantd_core::NoProgress;
use quantd_data::export::{ParquetLayout, export};
use quantd_engine::{DataDir, Packs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// The reference scanner of the performance targets (issue text, verbatim).
pub const BENCH_SCANNER: &str =
    "close < sma(close, 50) and rsi(close, 14) < 30 and volume > 2 * sma(volume, 20)";

/// Runs `quantd-bench scan`.
pub async fn run(a: ScanArgs) -> anyhow::Result<ExitCode> {
    let quantd = a.product.resolve()?;
    let tmp = tempfile::tempdir()?;
    let data_dir = tmp.path().join("data");
    let packs = Packs::open(DataDir::new(&data_dir)).await?;
    let (spec, per_day, bars) = crate::measure::universe(a.tickers, a.days, a.interval)?;
    eprintln!(
        "bench scan: {} tickers × {} days × {per_day} bars of {} = {:.1} M bars; {BENCH_SCANNER}",
        a.tickers,
        a.days,
        a.interval,
        bars / 1e6
    );
    let pack = packs.synth("bench", spec, Arc::new(NoProgress)).await?.pack;

    // In process: read (mmap) + evaluate, all cores.
    let reader = packs.open_reader(&pack)?;
    let program = quantd_engine::scan::compile(&reader, BENCH_SCANNER, &Default::default())?;
    let all = quantd_engine::scan::select_tickers(&reader, None)?;
    let bare = || {
        quantd_engine::scan::run(
            &reader,
            &program,
            &all,
            None,
            None,
            &Default::default(),
            &NoProgress,
        )
    };
    let threads = rayon::current_num_threads();
    let one_core = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let (compute_1_s, _) = one_core.install(|| best_of(a.repeat, || Ok(bare()?)))?;

    // The bare scan and the same scan through the engine (in process: plan, claim, scan, commit
    // results + events), one after the other in each round, so that both meet the same machine
    // (a shared VM's speed drifts over seconds): best of each, and the median of the rounds'
    // ratios.
    let engine = quantd_engine::exec::Engine::new(packs.clone(), Default::default()).await?;
    let (mut compute_s, mut engine_s) = (f64::INFINITY, f64::INFINITY);
    let mut ratios = Vec::with_capacity(a.repeat);
    let mut signals = quantd_engine::scan::Signals::default();
    let mut engine_rows = 0;
    let mut engine_shards = 0;
    for _ in 0..a.repeat.max(1) {
        let t = Instant::now();
        signals = bare()?;
        let bare_s = t.elapsed().as_secs_f64();
        compute_s = compute_s.min(bare_s);

        let mut spec =
            quantd_engine::exec::request::SubmitRequest::new(quantd_core::ExecutionKind::Scan);
        spec.expr = Some(BENCH_SCANNER.into());
        spec.pack = Some("bench".into());
        let t = Instant::now();
        let sub = engine.start(spec).await?;
        let submitted = t.elapsed().as_secs_f64();
        let rec = engine.run(&sub.execution.id, workers()).await?;
        let total = t.elapsed().as_secs_f64();
        engine_s = engine_s.min(total);
        ratios.push(total / bare_s);
        tracing::info!(
            "engine: start {:.2} ms, run {:.2} ms",
            submitted * 1e3,
            (total - submitted) * 1e3
        );
        anyhow::ensure!(
            rec.state == quantd_core::ExecutionState::Completed,
            "engine run ended {}",
            rec.state
        );
        anyhow::ensure!(
            rec.summary.is_some(),
            "the completing commit stores the summary"
        );
        engine_rows = rec.rows;
        engine_shards = rec.shards_total;
    }
    anyhow::ensure!(
        engine_rows == signals.len() as u64,
        "engine found {engine_rows} rows, bare scan {}",
        signals.len()
    );

    // The whole command, as a user runs it: process start, catalog, pack read, scan, Parquet write.
    let out = tmp.path().join("hits.parquet");
    let mut peak_kib = 0.0f64;
    let (command_s, _) = best_of(a.repeat, || {
        let run = std::process::Command::new(&quantd)
            .env(crate::cli::env::QUANTD_DATA, &data_dir)
            .env(crate::cli::env::QUANTD_REPORT_PEAK_RSS, "1")
            .args([
                "scan",
                "--pack",
                "bench",
                "--expr",
                BENCH_SCANNER,
                "--format",
                "parquet",
                "--out",
            ])
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .output()?;
        anyhow::ensure!(run.status.success(), "quantd scan failed");
        let stderr = String::from_utf8_lossy(&run.stderr);
        if let Some(kib) = stderr
            .lines()
            .find_map(|l| l.strip_prefix("peak_rss_kib ")?.trim().parse::<f64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        Ok(())
    })?;
    // The columns the scan maps (instants, close, volume): pages of the pack file, not memory
    // the scan allocates.
    let mapped_mib = bars * 24.0 / (1024.0 * 1024.0);
    println!(
        "`quantd scan` peak RSS {:.0} MiB, of which up to {mapped_mib:.0} MiB are the mapped pack columns it reads: at most {:.0} MiB beyond the mapped pack",
        peak_kib / 1024.0,
        (peak_kib / 1024.0 - mapped_mib).max(0.0)
    );

    let peer = match &a.python {
        Some(py) => {
            let pq = tmp.path().join("bench.parquet");
            export(
                &reader.to_table()?,
                &pq,
                ParquetLayout::default(),
                &NoProgress,
            )?;
            let hits = tmp.path().join("pandas-hits.parquet");
            Some(python_peer(
                py,
                &[a.peers.as_os_str(), pq.as_os_str(), hits.as_os_str()],
            )?)
        }
        None => None,
    };
    let mut rows = vec![
        row(
            &format!("quantd scan compute, {threads} threads (read + evaluate)"),
            compute_s,
            bars,
        ),
        row("quantd scan compute, 1 thread", compute_1_s, bars),
        row(
            &format!(
                "through the engine ({}, commits, events)",
                count(engine_shards.into(), "shard")
            ),
            engine_s,
            bars,
        ),
        row(
            "`quantd scan … --format parquet --out` (whole process)",
            command_s,
            bars,
        ),
    ];
    ratios.sort_by(f64::total_cmp);
    let median_ratio = ratios[ratios.len() / 2];
    println!(
        "engine overhead over the bare scan: {:+.1}% (best of each), {:+.1}% (median of {} rounds)",
        (engine_s / compute_s - 1.0) * 100.0,
        (median_ratio - 1.0) * 100.0,
        ratios.len()
    );
    if let Some(p) = &peer {
        let talib = p["talib_compute_s"].as_f64().unwrap_or(f64::NAN);
        let pandas = p["pandas_read_scan_write_s"].as_f64().unwrap_or(f64::NAN);
        rows.push(row(
            "peer: TA-Lib per ticker from Python (compute only, 1 core)",
            talib,
            bars,
        ));
        rows.push(row(
            "peer: pandas read + scan + write Parquet",
            pandas,
            bars,
        ));
        table(&["measurement", "seconds", "M bars/s"], &rows);
        println!(
            "compute: {:.1}× the TA-Lib loop; whole command: {:.1}× pandas; signals: quantd {}, TA-Lib {}",
            talib / compute_s,
            pandas / command_s,
            signals.len(),
            p["talib_signals"]
        );
    } else {
        table(&["measurement", "seconds", "M bars/s"], &rows);
        eprintln!("(no --python given: peers not measured; run bench/scan.sh)");
    }
    println!(
        "{}",
        serde_json::json!({
            "tickers": a.tickers, "days": a.days, "threads": threads, "compute_s": compute_s,
            "compute_1_thread_s": compute_1_s, "engine_s": engine_s, "engine_median_ratio": median_ratio, "command_s": command_s, "signals": signals.len(), "peer": peer,
        })
    );
    Ok(ExitCode::SUCCESS)
}
