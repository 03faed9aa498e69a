//! `quantd results`: every kind in every format through the engine's one result vocabulary,
//! and a reader that closes stdout early ends the command quietly.

mod common;
use common::*;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;

/// The newest execution of `kind`.
fn newest(d: &Path, kind: &str) -> String {
    let rows = json(d, &["history", "--kind", kind]);
    rows[0]["id"].as_str().expect("an execution id").to_string()
}

#[test]
fn a_closed_stdout_ends_results_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_u(d, 20, 400);
    // Every bar is a hit: ~8,000 rows, far more than a pipe holds.
    ok(d, &["scan", "--expr", "close > 0", "--format", "csv"]);
    let id = newest(d, "scan");
    let mut child = quantd(d)
        .args(["results", &id, "--format", "csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // The reader goes away (as `head -3` does) with most rows unwritten.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert!(String::from_utf8_lossy(&head).starts_with("ticker,date"));
}

#[test]
fn every_kind_has_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_u(d, 4, 300);
    let strategy = [
        "--entry",
        "crosses_above(sma(close, $fast), sma(close, 20))",
        "--exit",
        "crosses_below(sma(close, $fast), sma(close, 20))",
    ];
    let mut backtest = vec!["backtest", "--param", "fast=5"];
    backtest.extend(strategy);
    ok(d, &backtest);
    let mut sweep = vec!["sweep", "--param", "fast=3..9:3"];
    sweep.extend(strategy);
    ok(d, &sweep);
    let hits = ok(
        d,
        &[
            "scan",
            "--expr",
            "crosses_above(close, sma(close, 20))",
            "--format",
            "csv",
            "--tickers",
            "SYN0001",
        ],
    );
    let first = hits.lines().nth(1).expect("a signal");
    let examples = d.join("examples.csv");
    let day = first.split(',').nth(1).unwrap();
    std::fs::write(
        &examples,
        format!("ticker,date,expected\nSYN0001,{day},true\n"),
    )
    .unwrap();
    ok(
        d,
        &[
            "test",
            "--expr",
            "crosses_above(close, sma(close, 20))",
            "--examples",
            examples.to_str().unwrap(),
        ],
    );

    let test = newest(d, "test");
    // Without a format, a test prints its A+ report (it once said "not available yet").
    let report = ok(d, &["results", &test]);
    assert!(report.contains("SYN0001"), "{report}");
    let rows: serde_json::Value =
        serde_json::from_str(&ok(d, &["results", &test, "--format", "json"])).unwrap();
    assert_eq!(rows[0]["ticker"], "SYN0001", "{rows}");
    assert_eq!(rows[0]["date"], day, "{rows}");
    assert_eq!(rows[0]["verdict"], "matched", "{rows}");

    for (kind, first_column) in [
        ("backtest", "ticker"),
        ("sweep", "fast"),
        ("test", "ticker"),
    ] {
        let id = newest(d, kind);
        let csv = ok(d, &["results", &id, "--format", "csv"]);
        assert!(csv.starts_with(first_column), "{kind}: {csv}");
        let nd = ok(d, &["results", &id, "--format", "ndjson"]);
        let csv_rows = csv.lines().count() - 1;
        assert_eq!(
            nd.lines().count(),
            csv_rows,
            "{kind}: same rows in CSV and NDJSON"
        );
        // Markdown is a table; a test's is its A+ report.
        let md = ok(d, &["results", &id, "--format", "md"]);
        let head = if kind == "test" { "# A+ test" } else { "| " };
        assert!(md.starts_with(head), "{kind}: {md}");
        let pq = d.join(format!("{kind}.parquet"));
        ok(d, &["results", &id, "--out", pq.to_str().unwrap()]);
        let bytes = std::fs::read(&pq).unwrap();
        assert_eq!(&bytes[..4], b"PAR1", "{kind}: a Parquet file");
    }
    // A sweep's rows: one per parameter set (3, 6, 9), with the mean of every statistic.
    let sweep = newest(d, "sweep");
    let rows: serde_json::Value =
        serde_json::from_str(&ok(d, &["results", &sweep, "--format", "json"])).unwrap();
    let fast: Vec<f64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["fast"].as_f64().unwrap())
        .collect();
    assert_eq!(fast, [3.0, 6.0, 9.0]);
    assert_eq!(rows[0]["tickers"], 4);
    assert!(rows[0].get("Sharpe Ratio").is_some(), "{}", rows[0]);
}
