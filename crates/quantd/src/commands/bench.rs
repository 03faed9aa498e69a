//! `quantd bench data`: how fast packs are imported and read, beside pyarrow reading the same
//! bars from Parquet in the same run. The figures go to docs/PERFORMANCE.md.

use super::Ctx;
use crate::cli::{BenchCommand, BenchDataArgs, BenchScanArgs};
use crate::output;
use crate::progress::Bars;
use anyhow::Context;
use quantd_core::NoProgress;
use quantd_data::export::{ParquetLayout, export};
use quantd_data::{ImportOptions, PackReader, SynthSpec};
use quantd_engine::{DataDir, Packs};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// The peer: pyarrow reading the same Parquet file, best of N, as JSON on stdout.
const PYARROW_PEER: &str = r#"
import json, sys, time
import pyarrow.parquet as pq
path, repeat = sys.argv[1], int(sys.argv[2])
def best(f):
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    return min(times)
def all_cols():
    t = pq.read_table(path)
    return t.num_rows
def close_volume():
    t = pq.read_table(path, columns=["close", "volume"])
    return t.column("close").combine_chunks(), t.column("volume").combine_chunks()
print(json.dumps({"read_table_all_s": best(all_cols), "read_table_close_volume_s": best(close_volume),
                  "pyarrow": __import__("pyarrow").__version__}))
"#;

pub async fn run(_ctx: &Ctx, cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Data(args) => data(args).await,
        BenchCommand::Scan(args) => scan(args).await,
        BenchCommand::Backtest(args) => super::bench_strategy::backtest(args).await,
        BenchCommand::Sweep(args) => super::bench_strategy::sweep(args).await,
        BenchCommand::History(args) => super::bench_strategy::history(args).await,
        BenchCommand::Sandbox(args) => super::bench_sandbox::run(_ctx, args),
        BenchCommand::Sse(args) => super::bench_sse::run(_ctx, args).await,
    }
}

pub(super) fn best_of<T>(
    repeat: usize,
    mut f: impl FnMut() -> anyhow::Result<T>,
) -> anyhow::Result<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let v = f()?;
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    Ok((best, last.expect("at least one run")))
}

/// Opens the pack (a fresh mapping, so pages fault in again as in a new process), reads the named
/// columns of every ticker and sums them, so every value is really touched.
fn read_sum(dir: &Path, columns: &[&str]) -> anyhow::Result<f64> {
    let reader = PackReader::open(dir)?;
    let proj = reader.projection(columns)?;
    let mut sum = 0.0;
    for i in 0..reader.manifest().tickers.len() {
        let bars = reader.read(i, &proj)?;
        for k in 0..columns.len() {
            sum += bars.column(k).iter().sum::<f64>();
        }
    }
    Ok(sum)
}

/// Reads close+volume of every row group of a Parquet file (the alternative layout we measured).
fn parquet_read_sum(path: &Path) -> anyhow::Result<f64> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path)?)?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), ["close", "volume"]);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(1 << 16)
        .build()?;
    let mut sum = 0.0;
    for batch in reader {
        let batch = batch?;
        for c in batch.columns() {
            sum += c.as_primitive::<Float64Type>().values().iter().sum::<f64>();
        }
    }
    Ok(sum)
}

async fn data(a: BenchDataArgs) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let packs = Packs::open(DataDir::new(tmp.path().join("data"))).await?;
    let bars = (a.tickers * a.days) as f64;
    let spec = SynthSpec {
        tickers: a.tickers,
        days: a.days,
        ..SynthSpec::default()
    };
    eprintln!(
        "bench data: {} tickers × {} days = {:.1} M bars",
        a.tickers,
        a.days,
        bars / 1e6
    );

    let t = Instant::now();
    let synth = packs.synth("bench", spec, Bars::new(false)).await?;
    let synth_s = t.elapsed().as_secs_f64();
    let reader = packs.open_reader(&synth.pack)?;

    let table = reader.to_table()?;
    let csv_path = tmp.path().join("bench.csv");
    export(&table, &csv_path, ParquetLayout::default(), &NoProgress)?;
    let pq_path = tmp.path().join("bench.parquet");
    let pq_ticker_path = tmp.path().join("bench-per-ticker.parquet");
    export(&table, &pq_path, ParquetLayout::default(), &NoProgress)?;
    export(
        &table,
        &pq_ticker_path,
        ParquetLayout {
            row_group_per_ticker: true,
        },
        &NoProgress,
    )?;
    drop(table);

    let import_s = timed_import(&packs, &pq_path, "bench-parquet", &synth.pack.id).await?;
    let import_csv_s = timed_import(&packs, &csv_path, "bench-csv", &synth.pack.id).await?;

    let dir = reader.dir().to_path_buf();
    let (read_cv_s, cv_sum) = best_of(a.repeat, || read_sum(&dir, &["close", "volume"]))?;
    let (read_all_s, _) = best_of(a.repeat, || {
        read_sum(&dir, &["open", "high", "low", "close", "volume"])
    })?;
    let (pq_cv_s, pq_sum) = best_of(a.repeat, || parquet_read_sum(&pq_ticker_path))?;
    anyhow::ensure!(
        (cv_sum - pq_sum).abs() <= 1e-6 * cv_sum.abs(),
        "pack and Parquet reads disagree"
    );

    let peer = match &a.python {
        Some(py) => Some(python_peer(
            py,
            &[
                "-c".as_ref(),
                PYARROW_PEER.as_ref(),
                pq_path.as_os_str(),
                a.repeat.to_string().as_ref(),
            ],
        )?),
        None => None,
    };
    let pyarrow_cv = peer
        .as_ref()
        .and_then(|p| p["read_table_close_volume_s"].as_f64());
    let pyarrow_all = peer.as_ref().and_then(|p| p["read_table_all_s"].as_f64());
    let rows = vec![
        row("synth: generate + hash + write pack", synth_s, bars),
        row(
            "import Parquet (parse, validate, hash, write)",
            import_s,
            bars,
        ),
        row(
            "import CSV (parse, validate, hash, write)",
            import_csv_s,
            bars,
        ),
        row(
            "read close+volume, all tickers (pack, mmap)",
            read_cv_s,
            bars,
        ),
        row("read all OHLCV, all tickers (pack, mmap)", read_all_s, bars),
        row(
            "read close+volume (Parquet, row group per ticker)",
            pq_cv_s,
            bars,
        ),
    ];
    output::table(&["measurement", "seconds", "M bars/s"], &rows);
    if let (Some(cv), Some(all)) = (pyarrow_cv, pyarrow_all) {
        output::table(
            &["peer (same run)", "seconds", "quantd speedup"],
            &[
                vec![
                    "pyarrow read_table(close, volume)".into(),
                    format!("{cv:.3}"),
                    format!("{:.1}×", cv / read_cv_s),
                ],
                vec![
                    "pyarrow read_table(all columns)".into(),
                    format!("{all:.3}"),
                    format!("{:.1}×", all / read_all_s),
                ],
            ],
        );
    } else {
        eprintln!("(no --python given: pyarrow peer not measured; run bench/data.sh)");
    }
    println!(
        "{}",
        serde_json::json!({
            "tickers": a.tickers, "days": a.days, "synth_s": synth_s, "import_parquet_s": import_s, "import_csv_s": import_csv_s,
            "read_close_volume_s": read_cv_s, "read_all_s": read_all_s, "parquet_per_ticker_close_volume_s": pq_cv_s,
            "peer": peer,
        })
    );
    Ok(ExitCode::SUCCESS)
}

/// Imports `path` as pack `name`, checks it got `expected`'s id, and returns the seconds it took.
async fn timed_import(
    packs: &Packs,
    path: &Path,
    name: &str,
    expected: &quantd_core::PackId,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    let report = packs
        .import_file(
            path,
            name,
            ImportOptions::default(),
            Default::default(),
            Arc::new(NoProgress),
        )
        .await?;
    let secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        &report.pack.id == expected,
        "importing {} changed the pack id",
        path.display()
    );
    Ok(secs)
}

fn row(what: &str, secs: f64, bars: f64) -> Vec<String> {
    vec![
        what.to_string(),
        format!("{secs:.3}"),
        format!("{:.0}", bars / secs / 1e6),
    ]
}

/// Runs a peer measurement in Python (`python args…`) and parses the JSON object it prints.
pub(super) fn python_peer<S: AsRef<std::ffi::OsStr>>(
    python: &Path,
    args: &[S],
) -> anyhow::Result<serde_json::Value> {
    let out = std::process::Command::new(python)
        .args(args)
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The reference scanner of the performance targets (issue text, verbatim).
pub const BENCH_SCANNER: &str =
    "close < sma(close, 50) and rsi(close, 14) < 30 and volume > 2 * sma(volume, 20)";

async fn scan(a: BenchScanArgs) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let data_dir = tmp.path().join("data");
    let packs = Packs::open(DataDir::new(&data_dir)).await?;
    let bars = (a.tickers * a.days) as f64;
    eprintln!(
        "bench scan: {} tickers × {} days = {:.1} M bars; {BENCH_SCANNER}",
        a.tickers,
        a.days,
        bars / 1e6
    );
    let spec = SynthSpec {
        tickers: a.tickers,
        days: a.days,
        ..SynthSpec::default()
    };
    let pack = packs.synth("bench", spec, Bars::new(false)).await?.pack;

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

        let request =
            quantd_engine::exec::spec::JobRequest::Scan(quantd_engine::exec::spec::ScanRequest {
                code: quantd_engine::exec::spec::CodeChoice::Inline(BENCH_SCANNER.into()),
                params: Default::default(),
                tickers: None,
                from: None,
                to: None,
            });
        let spec = quantd_engine::exec::spec::SubmitSpec {
            job: request,
            pack: Some("bench".into()),
            options: Default::default(),
            reuse: false,
        };
        let t = Instant::now();
        let sub = engine.start(spec).await?;
        let submitted = t.elapsed().as_secs_f64();
        let rec = engine.run(&sub.execution.id, super::run::workers()).await?;
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
    let exe = std::env::current_exe()?;
    let (command_s, _) = best_of(a.repeat, || {
        let status = std::process::Command::new(&exe)
            .env("QUANTD_DATA", &data_dir)
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
            .status()?;
        anyhow::ensure!(status.success(), "quantd scan failed");
        Ok(())
    })?;

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
                crate::output::count(engine_shards.into(), "shard")
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
        output::table(&["measurement", "seconds", "M bars/s"], &rows);
        println!(
            "compute: {:.1}× the TA-Lib loop; whole command: {:.1}× pandas; signals: quantd {}, TA-Lib {}",
            talib / compute_s,
            pandas / command_s,
            signals.len(),
            p["talib_signals"]
        );
    } else {
        output::table(&["measurement", "seconds", "M bars/s"], &rows);
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
