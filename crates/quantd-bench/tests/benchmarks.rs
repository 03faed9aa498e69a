//! Every benchmark of `quantd-bench`, run end to end on a tiny input: the lines the figures of
//! docs/PERFORMANCE.md are copied from are printed, the peers (pyarrow, TA-Lib, pandas,
//! backtesting.py, plain Python; not vectorbt, whose venv is the benchmarks' own) agree with
//! quantd, the whole-command measurements find the product binary next to this one, and the
//! sandbox benchmark's jobs start with this binary as the shim.
//!
//! The product binary is `target/<profile>/quantd`: `cargo test --workspace` builds it; after
//! `cargo test -p quantd-bench` alone, build it first (`cargo build -p quantd`). Python comes from
//! `scripts/pyenv` (the reference venv): these tests fail, never skip, without it.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BENCH: &str = env!("CARGO_BIN_EXE_quantd-bench");

/// `quantd-bench args…`, from the repository root (where the peers' default paths point).
fn bench(args: &[&str]) -> Output {
    Command::new(BENCH)
        .current_dir(repo())
        .env_remove("QUANTD_BIN")
        .args(args)
        .output()
        .expect("run quantd-bench")
}

/// Runs `quantd-bench args…`, asserts success, returns stdout.
fn ok(args: &[&str]) -> String {
    let out = bench(args);
    assert!(
        out.status.success(),
        "quantd-bench {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// The last line of `stdout` that is a JSON object.
fn last_json(stdout: &str) -> Value {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in:\n{stdout}"));
    serde_json::from_str(line).expect("a JSON line")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The reference venv's interpreter; fails, never skips, when it cannot be created.
fn reference_python() -> String {
    let out = Command::new("bash")
        .arg(repo().join("scripts/pyenv"))
        .output()
        .expect("run scripts/pyenv");
    assert!(
        out.status.success(),
        "scripts/pyenv failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

fn assert_lines(stdout: &str, lines: &[&str]) {
    for l in lines {
        assert!(stdout.contains(l), "no line with {l:?} in:\n{stdout}");
    }
}

#[test]
fn every_benchmark_is_a_subcommand() {
    let help = ok(&["--help"]);
    for cmd in [
        "sse", "data", "scan", "backtest", "sweep", "history", "sandbox",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{cmd} "))),
            "`{cmd}` missing from:\n{help}"
        );
    }
}

#[test]
fn data_measures_import_and_reads_beside_pyarrow() {
    let python = reference_python();
    let out = ok(&[
        "data",
        "--tickers",
        "20",
        "--days",
        "120",
        "--repeat",
        "1",
        "--python",
        &python,
    ]);
    assert_lines(
        &out,
        &[
            "synth: generate + hash + write pack",
            "import Parquet (parse, validate, hash, write)",
            "import CSV (parse, validate, hash, write)",
            "read close+volume, all tickers (pack, mmap)",
            "read all OHLCV, all tickers (pack, mmap)",
            "read close+volume (Parquet, row group per ticker)",
            "pyarrow read_table(close, volume)",
            "pyarrow read_table(all columns)",
        ],
    );
    let json = last_json(&out);
    assert_eq!(json["tickers"], 20);
    assert!(
        json["read_close_volume_s"]
            .as_f64()
            .is_some_and(|s| s > 0.0)
    );
    assert!(json["peer"]["read_table_all_s"].as_f64().is_some());
}

#[test]
fn scan_times_the_product_binary_and_agrees_with_talib() {
    let python = reference_python();
    let out = ok(&[
        "scan",
        "--tickers",
        "20",
        "--days",
        "400",
        "--repeat",
        "2",
        "--python",
        &python,
    ]);
    assert_lines(
        &out,
        &[
            "quantd scan compute, 1 thread",
            "through the engine (1 shard, commits, events)",
            "`quantd scan … --format parquet --out` (whole process)",
            "engine overhead over the bare scan:",
            "peer: TA-Lib per ticker from Python (compute only, 1 core)",
            "peer: pandas read + scan + write Parquet",
        ],
    );
    let json = last_json(&out);
    assert!(json["command_s"].as_f64().is_some_and(|s| s > 0.0));
    assert!(json["signals"].as_u64().is_some_and(|n| n > 0), "{json}");
    assert_eq!(json["signals"], json["peer"]["talib_signals"]);
}

#[test]
fn a_missing_product_binary_is_named_with_the_fix_before_any_work() {
    let out = bench(&["scan", "--quantd", "/nonexistent/quantd", "--tickers", "5"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--quantd /nonexistent/quantd: no such file"),
        "{err}"
    );
    assert!(!err.contains("bench scan:"), "work started: {err}");

    // Without --quantd, the `quantd` next to quantd-bench is used: alone, it says how to build it.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let alone = dir.path().join("quantd-bench");
    std::fs::hard_link(BENCH, &alone)
        .or_else(|_| std::fs::copy(BENCH, &alone).map(drop))
        .expect("a copy of quantd-bench");
    for args in [
        ["sweep", "--tickers", "2"],
        ["history", "--executions", "2"],
    ] {
        let out = Command::new(&alone)
            .env_remove("QUANTD_BIN")
            .args(args)
            .output()
            .expect("run");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("is not next to quantd-bench")
                && err.contains("cargo build --release -p quantd")
                && err.contains("--quantd PATH"),
            "{err}"
        );
        assert!(
            !err.contains("bench sweep:") && !err.contains("storing"),
            "{err}"
        );
    }
}

#[test]
fn backtest_matches_backtesting_py_on_goog() {
    let python = reference_python();
    let goog = Command::new(&python)
        .args([
            "-c",
            "import backtesting, os; print(os.path.join(os.path.dirname(backtesting.__file__), 'test', 'GOOG.csv'))",
        ])
        .output()
        .expect("find GOOG.csv");
    assert!(goog.status.success());
    let goog = String::from_utf8(goog.stdout).expect("utf-8");
    let out = ok(&[
        "backtest",
        "--goog",
        goog.trim(),
        "--repeat",
        "1",
        "--python",
        &python,
    ]);
    assert_lines(&out, &["quantd: one GOOG backtest in", "backtesting.py: "]);
    let json = last_json(&out);
    let ret = json["return_pct"].as_f64().expect("return");
    assert!((ret - 462.63519).abs() < 1e-4, "{json}");
    let peer = json["peer"]["return_pct"].as_f64().expect("peer return");
    assert!((ret - peer).abs() < 1e-6, "{json}");
    assert!(
        out.contains(&format!("Return {ret:.5} %, 93 trades")),
        "{out}"
    );
}

#[test]
fn sweep_runs_the_whole_product_command_and_reports_its_memory() {
    let out = ok(&["sweep", "--tickers", "3", "--days", "300"]);
    assert_lines(&out, &["`quantd sweep` whole command"]);
    let json = last_json(&out);
    assert_eq!(json["backtests"], 3.0 * 90.0);
    // The product binary understood QUANTD_REPORT_PEAK_RSS (else the figure is null).
    assert!(
        json["peak_rss_mib"].as_f64().is_some_and(|m| m > 0.0),
        "{json}"
    );
}

#[test]
fn history_times_the_query_and_the_product_command() {
    let out = ok(&["history", "--executions", "60"]);
    assert_lines(
        &out,
        &[
            "history query (newest 20)",
            "history query --name (newest 20)",
            "`quantd history` whole command",
        ],
    );
    let json = last_json(&out);
    assert_eq!(json["executions"], 60);
    assert!(json["command_ms"].as_f64().is_some_and(|m| m > 0.0));
}

#[test]
fn sse_measures_delivery_to_every_subscriber_and_reads() {
    let out = ok(&[
        "sse",
        "--subscribers",
        "4",
        "--shards",
        "3",
        "--shard-ms",
        "1",
        "--readers",
        "2",
        "--seconds",
        "1",
    ]);
    let json: Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(json["subscribers"], 4);
    assert_eq!(json["shards"], 3);
    assert!(
        json["live_samples"].as_u64().is_some_and(|n| n > 0),
        "{json}"
    );
    assert!(
        json["get_execution"]["requests_per_s"]
            .as_f64()
            .is_some_and(|r| r > 0.0),
        "{json}"
    );
}

#[test]
fn sandbox_jobs_start_with_quantd_bench_as_the_shim() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BENCH)
        .env("QUANTD_PYTHON", reference_python())
        .args(["--json", "--data-dir"])
        .arg(data.path())
        .args([
            "sandbox",
            "--jobs",
            "3",
            "--tickers",
            "6",
            "--days",
            "300",
            "--workers",
            "2",
        ])
        .output()
        .expect("run quantd-bench sandbox");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_lines(
        &stdout,
        &[
            "sandboxed job start, pandas ready (3 warm jobs):",
            "quantd zygote",
            "quantd cold sandbox",
            "quantd sandbox, 2 workers",
            "peer: plain python, 1 process",
        ],
    );
    let json = last_json(&stdout);
    assert_eq!(json["jobs"], 3);
    assert_eq!(json["scan"]["tickers"], 6);
}
