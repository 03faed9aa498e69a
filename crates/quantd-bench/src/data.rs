//! `quantd-bench data`: how fast packs are imported and read, beside pyarrow reading the same
//! bars from Parquet in the same run. The figures go to docs/PERFORMANCE.md.

use crate::cli::DataArgs;
use crate::measure::{self, best_of, python_peer, row};
use quantd_core::NoProgress;
use quantd_data::export::{ParquetLayout, export};
use quantd_data::{ImportOptions, PackReader};
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

/// Runs `quantd-bench data`.
pub async fn run(a: DataArgs) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let packs = Packs::open(DataDir::new(tmp.path().join("data"))).await?;
    let (spec, per_day, bars) = crate::measure::universe(a.tickers, a.days, a.interval)?;
    eprintln!(
        "bench data: {} tickers × {} days × {per_day} bars of {} = {:.1} M bars",
        a.tickers,
        a.days,
        a.interval,
        bars / 1e6
    );

    let t = Instant::now();
    let synth = packs.synth("bench", spec, Arc::new(NoProgress)).await?;
    let synth_s = t.elapsed().as_secs_f64();
    let reader = packs.open_reader(&synth.pack)?;

    let table = reader.to_table()?;
    let calendar = table.calendar;
    let csv_path = tmp.path().join("bench.csv");
    if !a.skip_csv {
        export(&table, &csv_path, ParquetLayout::default(), &NoProgress)?;
    }
    let pq_path = tmp.path().join("bench.parquet");
    let pq_ticker_path = tmp.path().join("bench-per-ticker.parquet");
    export(&table, &pq_path, ParquetLayout::default(), &NoProgress)?;
    export(
        &table,
        &pq_ticker_path,
        ParquetLayout {
            row_group_per_ticker: true,
            ..Default::default()
        },
        &NoProgress,
    )?;
    drop(table);

    let import_s =
        timed_import(&packs, &pq_path, "bench-parquet", &synth.pack.id, calendar).await?;
    let import_csv_s = if a.skip_csv {
        f64::NAN
    } else {
        timed_import(&packs, &csv_path, "bench-csv", &synth.pack.id, calendar).await?
    };

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
    measure::table(&["measurement", "seconds", "M bars/s"], &rows);
    if let (Some(cv), Some(all)) = (pyarrow_cv, pyarrow_all) {
        measure::table(
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

/// Imports `path` as pack `name` (in `calendar`'s zone: a CSV file carries no zone), checks it
/// got `expected`'s id, and returns the seconds it took.
async fn timed_import(
    packs: &Packs,
    path: &Path,
    name: &str,
    expected: &quantd_core::PackId,
    calendar: quantd_data::time::Calendar,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    let report = packs
        .import_file(
            path,
            name,
            ImportOptions {
                tz: Some(calendar.zone),
                ..ImportOptions::default()
            },
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
