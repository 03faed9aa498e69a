//! `quantd-bench sandbox`: (a) how fast a sandboxed job starts with pandas ready (warm zygote),
//! beside `python -c "import pandas"` started cold; (b) the reference pandas scanner over a
//! synthetic universe inside the sandbox (workers each take a share of the tickers) beside the
//! same harness code run in one plain Python process on the same Arrow IPC data. Peers are
//! measured in the same run; the figures go to docs/PERFORMANCE.md ("Sandbox").
//!
//! Jobs start with this binary re-executed as the sandbox shim (`ShimCommand::current_exe`), which
//! is why `main` calls `quantd_sandbox::run_shim_if_requested` before anything else.

use anyhow::Context;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, Date32Array, DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use clap::Args;
use quantd_core::NoProgress;
use quantd_data::{BarTable, SynthSpec};
use quantd_sandbox::{
    Bars, CancelToken, EntryCall, Job, Limits, Runtime, RuntimeStep, ShimCommand, Verdict, Zygote,
};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Warm jobs to time for the start latency.
    #[arg(long, default_value_t = 200)]
    pub jobs: usize,
    /// Tickers of the scanner universe.
    #[arg(long, default_value_t = 5000)]
    pub tickers: usize,
    /// Business days of the scanner universe.
    #[arg(long, default_value_t = 2520)]
    pub days: usize,
    /// Sandboxed workers for the scan (each runs one job over its share of the tickers).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Skip the scanner part (start latency only).
    #[arg(long)]
    pub skip_scan: bool,
}

/// The issue's reference scanner, in pandas.
pub const BENCH_SCANNER_PY: &str = r#"
import quantd as qd

@qd.scanner(params={"rsi_len": 14, "rsi_max": 30})
def oversold_pullback(bars, rsi_len, rsi_max):
    close, volume = bars["close"], bars["volume"]
    delta = close.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / rsi_len, adjust=False).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / rsi_len, adjust=False).mean()
    rsi = 100 - 100 / (1 + gain / loss)
    sma50 = close.rolling(50).mean()
    vol20 = volume.rolling(20).mean()
    signal = (close < sma50) & (rsi < rsi_max) & (volume > 2 * vol20)
    return bars.assign(signal=signal, rsi=rsi, sma50=sma50)[["signal", "rsi", "sma50"]]
"#;

/// The runtime `quantd` would use on `data_dir` (`QUANTD_PYTHON`, or the managed venv, set up
/// here when missing), its steps reported on stderr.
fn runtime(data_dir: &Path) -> anyhow::Result<Runtime> {
    let rt = Runtime::ensure(data_dir, &mut |step| match step {
        RuntimeStep::UsingInterpreter(p) => {
            eprintln!("runtime: using QUANTD_PYTHON={}", p.display())
        }
        RuntimeStep::CreatingVenv { venv, bootstrap } => eprintln!(
            "runtime: creating {} with {}",
            venv.display(),
            bootstrap.display()
        ),
        RuntimeStep::Installing(_) | RuntimeStep::Checking | RuntimeStep::Ready => {}
        RuntimeStep::InstallingSdk => eprintln!("runtime: installing the quantd SDK"),
    });
    rt.with_context(|| format!("the Python runtime of {}", data_dir.display()))
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// Runs `quantd-bench sandbox`; `json` also prints the figures as one JSON object.
pub fn run(data_dir: &Path, json_out: bool, a: SandboxArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime(data_dir)?;
    let mut config = rt.sandbox_config(ShimCommand::current_exe()?);
    config.limits = Limits {
        cpu: Duration::from_secs(900),
        wall: Duration::from_secs(900),
        memory_bytes: 8 << 30,
        ..Limits::default()
    };
    let machine = format!(
        "{} cores, kernel {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        quantd_sandbox::host_support().kernel
    );
    eprintln!("bench sandbox on {machine}; python {}", rt.python.display());

    // (a) Warm start.
    let t = Instant::now();
    let zygote = Zygote::start(&config)?;
    let zygote_start_ms = t.elapsed().as_secs_f64() * 1e3;
    let job = Job::script("import pandas as pd\n");
    let mut times = Vec::with_capacity(a.jobs);
    for _ in 0..a.jobs.max(1) {
        let t = Instant::now();
        let o = zygote.run(&job, &CancelToken::new())?;
        anyhow::ensure!(o.verdict == Verdict::Ok, "warm job: {}", o.verdict);
        times.push(t.elapsed());
    }
    times.sort();
    let (p50, p99) = (pct(&times, 0.5), pct(&times, 0.99));
    let mut cold = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let o = quantd_sandbox::run(&config, &job, &CancelToken::new())?;
        anyhow::ensure!(o.verdict == Verdict::Ok, "cold job: {}", o.verdict);
        cold.push(t.elapsed());
    }
    cold.sort();
    let cold_p50 = pct(&cold, 0.5);
    let mut peer = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let st = Command::new(&rt.python)
            .args(["-c", "import pandas"])
            .status()?;
        anyhow::ensure!(st.success(), "python -c 'import pandas' failed");
        peer.push(t.elapsed());
    }
    peer.sort();
    let peer_ms = pct(&peer, 0.5);
    println!("sandboxed job start, pandas ready ({} warm jobs):", a.jobs);
    println!(
        "  quantd zygote          p50 {p50:>8.1} ms   p99 {p99:>8.1} ms   (zygote start {zygote_start_ms:.0} ms, once)"
    );
    println!(
        "  quantd cold sandbox    p50 {cold_p50:>8.1} ms   (fresh shim + interpreter + imports per job)"
    );
    println!("  peer: python -c 'import pandas'   {peer_ms:>8.1} ms (median of 5)");
    let mut json = serde_json::json!({
        "machine": machine, "jobs": a.jobs, "warm_p50_ms": p50, "warm_p99_ms": p99,
        "zygote_start_ms": zygote_start_ms, "cold_p50_ms": cold_p50, "peer_import_pandas_ms": peer_ms,
    });

    if !a.skip_scan {
        scan(&a, &zygote, &rt, &mut json)?;
    }
    if json_out {
        println!("{json}");
    }
    Ok(ExitCode::SUCCESS)
}

fn scan(
    a: &SandboxArgs,
    zygote: &Zygote,
    rt: &Runtime,
    json: &mut serde_json::Value,
) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("quantd-bench-sandbox-")
        .tempdir()?;
    let t = Instant::now();
    let table = quantd_data::synth::generate(
        &SynthSpec {
            tickers: a.tickers,
            days: a.days,
            ..SynthSpec::default()
        },
        &NoProgress,
    );
    let full = dir.path().join("all.arrow");
    write_ipc(&table, 0..table.tickers.len(), &full)?;
    let workers = a.workers.max(1);
    let per = table.tickers.len().div_ceil(workers);
    let mut shares = Vec::new();
    for w in 0..workers {
        let range = (w * per).min(table.tickers.len())..((w + 1) * per).min(table.tickers.len());
        let path = dir.path().join(format!("share-{w}.arrow"));
        write_ipc(&table, range, &path)?;
        shares.push(path);
    }
    eprintln!(
        "universe: {} tickers × {} days, written as Arrow IPC in {:.1}s",
        a.tickers,
        a.days,
        t.elapsed().as_secs_f64()
    );
    let code = dir.path().join("scanner.py");
    std::fs::write(&code, BENCH_SCANNER_PY)?;

    // Peer: the same harness code in one plain Python process, timed inside (imports excluded).
    let sdk_path = match &rt.sdk_dir {
        Some(d) => d.clone(),
        None => PathBuf::new(),
    };
    let peer_out = dir.path().join("peer.arrow");
    let peer_script = format!(
        "import time, json, sys\nimport pandas, pyarrow, quantd.harness as h\nt = time.perf_counter()\nh.main(['--code', {code:?}, '--bars', {full:?}, '--out', {out:?}, '--batch'])\nprint(json.dumps({{'s': time.perf_counter() - t}}))\n",
        code = code.display().to_string(),
        full = full.display().to_string(),
        out = peer_out.display().to_string(),
    );
    let mut cmd = Command::new(&rt.python);
    cmd.args(["-s", "-c", &peer_script]).env_clear();
    for (k, v) in quantd_sandbox::DEFAULT_ENV {
        cmd.env(k, v);
    }
    if !sdk_path.as_os_str().is_empty() {
        cmd.env("PYTHONPATH", &sdk_path);
    }
    let t = Instant::now();
    let out = cmd.output()?;
    let peer_total = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.success(),
        "plain python peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peer_s: f64 = serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .context("peer output")?["s"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let peer_rows = count_rows(&std::fs::read(&peer_out)?)?;

    // quantd: one sandboxed job per share, at the same time, from the warm zygote.
    let source = BENCH_SCANNER_PY.to_owned();
    let run_shares = |paths: &[PathBuf]| -> anyhow::Result<(f64, usize)> {
        let t = Instant::now();
        let results: Vec<anyhow::Result<usize>> = std::thread::scope(|s| {
            let handles: Vec<_> = paths
                .iter()
                .map(|p| {
                    let call = EntryCall {
                        code: source.clone(),
                        entry: None,
                        params: serde_json::json!({}),
                        bars: Bars::HostFile(p.clone()),
                        batch: true,
                    };
                    s.spawn(move || -> anyhow::Result<usize> {
                        let o = zygote.run(&call.job(), &CancelToken::new())?;
                        anyhow::ensure!(
                            o.verdict == Verdict::Ok,
                            "sandboxed scan: {} {}",
                            o.verdict,
                            String::from_utf8_lossy(&o.stderr)
                        );
                        count_rows(&o.result_ipc(4 << 30)?.expect("ok"))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        let mut rows = 0;
        for r in results {
            rows += r?;
        }
        Ok((t.elapsed().as_secs_f64(), rows))
    };
    let (sandbox_s, sandbox_rows) = run_shares(&shares)?;
    let (sandbox_1_s, sandbox_1_rows) = run_shares(std::slice::from_ref(&full))?;
    anyhow::ensure!(
        sandbox_rows == peer_rows && sandbox_1_rows == peer_rows,
        "signal counts differ: sandbox {sandbox_rows} / {sandbox_1_rows}, plain {peer_rows}"
    );
    let ratio = sandbox_s / peer_s;
    println!(
        "pandas scanner over {} × {} bars (close < sma50 & rsi14 < 30 & volume > 2×sma20(volume)); {peer_rows} signals everywhere:",
        a.tickers, a.days
    );
    println!(
        "  quantd sandbox, {workers} workers  {sandbox_s:>8.2} s   = {ratio:.2}× plain (target ≤ 1.15×)"
    );
    println!(
        "  quantd sandbox, 1 worker   {sandbox_1_s:>8.2} s   = {:.2}× plain (sandbox overhead on one core)",
        sandbox_1_s / peer_s
    );
    println!(
        "  peer: plain python, 1 process {peer_s:>8.2} s   ({peer_total:.2} s with interpreter start and imports)"
    );
    json["scan"] = serde_json::json!({
        "tickers": a.tickers, "days": a.days, "workers": workers, "signals": peer_rows,
        "sandbox_s": sandbox_s, "sandbox_1_worker_s": sandbox_1_s, "plain_s": peer_s,
        "plain_total_s": peer_total, "ratio": ratio,
    });
    Ok(())
}

/// Writes tickers `range` of `table` as one Arrow IPC file: `ticker` (dictionary), `date`
/// (date32), `open high low close volume` (float64).
fn write_ipc(table: &BarTable, range: std::ops::Range<usize>, path: &Path) -> anyhow::Result<()> {
    let rows = table.offsets[range.start]..table.offsets[range.end];
    let keys: Vec<i32> = range
        .clone()
        .flat_map(|i| {
            std::iter::repeat_n(
                (i - range.start) as i32,
                table.offsets[i + 1] - table.offsets[i],
            )
        })
        .collect();
    let names = StringArray::from_iter_values(table.tickers[range.clone()].iter());
    let ticker = DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), Arc::new(names))?;
    let mut fields = vec![
        Field::new(
            "ticker",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
        Field::new("date", DataType::Date32, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(ticker),
        Arc::new(Date32Array::from_iter_values(
            table.stamps[rows.clone()]
                .iter()
                .map(|&s| quantd_data::time::day_of_stamp(s)),
        )),
    ];
    for c in &table.columns {
        fields.push(Field::new(&c.name, DataType::Float64, false));
        columns.push(Arc::new(Float64Array::from(
            c.values[rows.clone()].to_vec(),
        )));
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut w = arrow_ipc::writer::FileWriter::try_new(file, &schema)?;
    w.write(&batch)?;
    w.finish()?;
    Ok(())
}

fn count_rows(ipc: &[u8]) -> anyhow::Result<usize> {
    let r = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(ipc), None)?;
    let mut n = 0;
    for b in r {
        n += b?.num_rows();
    }
    Ok(n)
}
