//! `quantd check lookahead` on the corpus in examples/lookahead/: every planted bias is flagged,
//! at the first offending bar a brute-force reference finds (every cut, plain pandas:
//! `lookahead_reference.py`), with far fewer cut points than bars; no clean scanner or strategy
//! is flagged; code that is not deterministic, or raises on short histories, is inconclusive.

mod common;
use common::python::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Cut points per ticker: far fewer than the 209 possible cuts of 260 bars, so the sampling and
/// the search for the first differing cut are what find the bar.
const CUTS: &str = "40";

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/lookahead")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "{kind} corpus: {files:?}");
    files
}

fn check(d: &Path, python: &str, args: &[&str]) -> (Output, Value) {
    let mut all = vec!["check", "lookahead", "--format", "json"];
    all.extend_from_slice(args);
    let out = py(d, python, &all, &[]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "quantd {all:?}: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report)
}

/// The first offending bar of each ticker, as `results` lists them.
fn first_bars(d: &Path, python: &str, execution: &str) -> BTreeMap<String, Option<String>> {
    let rows: Value = serde_json::from_str(&py_ok(
        d,
        python,
        &["results", execution, "--format", "json"],
        &[],
    ))
    .unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ticker"].as_str().unwrap().to_string(),
                r["first_bar"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// The reference's first offending bar of each ticker, per file.
fn reference(
    d: &Path,
    python: &str,
    files: &[PathBuf],
) -> BTreeMap<String, BTreeMap<String, Option<String>>> {
    let bars = d.join("bars.csv");
    py_ok(
        d,
        python,
        &["data", "export", "u", "--out", bars.to_str().unwrap()],
        &[],
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lookahead_reference.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&bars)
        .arg("50")
        .args(files)
        .env(
            "PYTHONPATH",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python"),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn planted_biases_are_flagged_each_at_the_first_bar_of_a_brute_force_reference() {
    let (dir, python) = setup();
    let d = dir.path();
    let files = corpus("biased");
    let expected = reference(d, &python, &files);
    for file in &files {
        let name = file.to_string_lossy().into_owned();
        let (out, body) = check(d, &python, &[&name, "--cuts", CUTS]);
        let report = &body["report"];
        assert_eq!(out.status.code(), Some(4), "{name}: {report:#}");
        assert_eq!(report["verdict"], "biased", "{name}");
        let want = &expected[&name];
        assert!(
            want.values().any(Option::is_some),
            "{name}: the reference finds it"
        );
        let got = first_bars(d, &python, body["execution"].as_str().unwrap());
        assert_eq!(&got, want, "{name}: first offending bar per ticker");
        let first = &report["first"];
        assert_eq!(
            first["date"],
            want[first["ticker"].as_str().unwrap()].clone().unwrap()
        );
        assert!(
            report["reasons"][0]
                .as_str()
                .unwrap()
                .contains("could not have known")
        );
    }
}

#[test]
fn how_far_ahead_is_measured() {
    let (dir, python) = setup();
    let d = dir.path();
    for (file, ahead) in [
        ("shift_minus_1.py", 1),
        ("shift_minus_5_rare.py", 5),
        ("rolling_center.py", 5),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/lookahead/biased")
            .join(file);
        let (_, body) = check(d, &python, &[path.to_str().unwrap()]);
        assert_eq!(body["report"]["first"]["ahead"], ahead, "{file}: {body:#}");
        assert_eq!(body["report"]["first"]["found_by"], "prefix");
    }
}

#[test]
fn clean_scanners_and_strategies_are_not_flagged() {
    let (dir, python) = setup();
    let d = dir.path();
    for file in corpus("clean") {
        let name = file.to_string_lossy().into_owned();
        let (out, body) = check(d, &python, &[&name, "--cuts", CUTS]);
        let report = &body["report"];
        assert_eq!(out.status.code(), Some(0), "{name}: {report:#}");
        assert_eq!(report["verdict"], "clean", "{name}");
        assert_eq!(report["tickers_checked"], 10, "{name}");
        assert_eq!(report["biased_tickers"], Value::Array(vec![]), "{name}");
        assert!(
            report["perturbations"].as_u64().unwrap() >= 10,
            "{name}: {report:#}"
        );
    }
    // Expression code: proved by the language, and confirmed.
    let (out, body) = check(
        d,
        &python,
        &[
            "--expr",
            "let s = sma(close, 20); close > s and shift(close, 1) < s",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(body["report"]["language"], "expression");
    assert!(
        body["report"]["static_proof"]
            .as_str()
            .unwrap()
            .contains("no negative offsets")
    );
    assert!(body["report"]["cuts"].as_u64().unwrap() > 1000);
    let strategy = write(
        d,
        "s.json",
        r#"{"entry": "crosses_above(ema(close, 10), sma(close, 30))", "exit": "rsi(close, 14) > 70"}"#,
    );
    let (out, body) = check(d, &python, &[&strategy]);
    assert_eq!(out.status.code(), Some(0), "{body:#}");
    assert_eq!(body["report"]["verdict"], "clean");
}

#[test]
fn nondeterministic_code_and_code_that_fails_on_short_histories_are_inconclusive() {
    let (dir, python) = setup();
    let d = dir.path();
    let random = write(
        d,
        "random.py",
        "import numpy as np\nimport quantd as qd\n\n@qd.scanner\ndef coin(bars):\n    return bars.close * np.random.random(len(bars)) > bars.close * 0.5\n",
    );
    let (out, body) = check(d, &python, &[&random]);
    assert_eq!(out.status.code(), Some(5), "{body:#}");
    assert!(
        body["report"]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("not deterministic")
    );
    let picky = write(
        d,
        "picky.py",
        "import quantd as qd\n\n@qd.scanner\ndef picky(bars):\n    if len(bars) < 200:\n        raise ValueError('need 200 bars')\n    return bars.close > bars.close.rolling(50).mean()\n",
    );
    let (out, body) = check(d, &python, &[&picky]);
    assert_eq!(out.status.code(), Some(5), "{body:#}");
    let reason = body["report"]["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("raised") && reason.contains("need 200 bars"),
        "{reason}"
    );
}

#[test]
fn bad_requests_are_refused_at_the_door() {
    let (dir, python) = setup();
    let d = dir.path();
    let out = py(
        d,
        &python,
        &["check", "lookahead", "--expr", "close > 1", "--cuts", "1"],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`cuts` is 1; give 2 to 2000"), "{err}");
    let out = py(
        d,
        &python,
        &["check", "lookahead", "--expr", "close >", "--cuts", "10"],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("1:"), "{err}");
    let out = py(d, &python, &["check", "lookahead", "no_such_code"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_code"));
    let hist = py_json(d, &python, &["history", "--kind", "check"]);
    let items = hist
        .as_array()
        .or_else(|| hist["items"].as_array())
        .unwrap();
    assert!(items.is_empty(), "nothing was started: {hist:#}");
}
