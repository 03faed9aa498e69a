//! Conformance with TA-Lib: every kernel, several parameter sets, on generated series that cover
//! the ordinary case (GBM bars, with and without tick rounding), the edges (a constant series, a
//! flat stretch with zero ranges, ranges of a few ulps, leading `NaN`s, tiny (down to 1e-12) and
//! huge prices, long flat stretches at one cent (where the standard deviation leaves TA-Lib's
//! re-anchoring for its O(1) fallback), small integers with zeros
//! and ties, a series shorter than most warm-ups) and the parameters TA-Lib refuses.
//!
//! The series are generated here, written to a temporary directory, and handed to
//! `tests/talib_reference.py`, which runs TA-Lib (Python `TA-Lib` 0.8.2 from the reference venv that
//! `scripts/pyenv` provides). Every value is compared: the same `NaN` positions (the same warm-up),
//! `|ours - talib| <= 1e-9 * max(1, |talib|)` elsewhere, the same refusals, and `lookback_*` equal
//! to TA-Lib's lookback. The test fails, loudly, if the reference cannot be run.
//!
//! The session kernels (`quantd_ta::session`), which TA-Lib does not have, are compared with
//! pandas group-by computations on the same interpreter.

mod common;

use common::{Ohlcv, run_kernel};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const TOLERANCE: f64 = 1e-9;

fn series() -> Vec<(&'static str, Ohlcv)> {
    vec![
        ("gbm", common::gbm(1, 600, 100.0, 0.02, None)),
        ("gbm_cents", common::gbm(2, 600, 50.0, 0.015, Some(0.01))),
        ("constant", common::constant(120, 42.42)),
        ("flat_stretch", common::with_flat_stretch(3, 420, 150, 300)),
        ("leading_nan", common::with_leading_nan(4, 300, 9)),
        ("tiny", common::gbm(5, 300, 1e-5, 0.02, None)),
        ("micro", common::gbm(9, 300, 1e-12, 0.02, None)),
        ("ulp_noise", common::ulp_noise(10, 200)),
        ("huge", common::gbm(6, 300, 2.5e5, 0.01, Some(1.0))),
        ("integers", common::integers(7, 250)),
        ("cent_floor", common::cent_floor(11, 600)),
        ("short", common::gbm(8, 8, 20.0, 0.02, Some(0.01))),
    ]
}

/// (indicator, parameters) computed on every series.
fn cases() -> Vec<(&'static str, Vec<f64>)> {
    let mut cases: Vec<(&'static str, Vec<f64>)> = Vec::new();
    let mut add = |name: &'static str, sets: &[&[f64]]| {
        for set in sets {
            cases.push((name, set.to_vec()));
        }
    };
    add("sma", &[&[1.0], &[2.0], &[5.0], &[50.0], &[200.0]]);
    add("ema", &[&[1.0], &[2.0], &[10.0], &[30.0]]);
    add("wma", &[&[1.0], &[2.0], &[10.0], &[30.0]]);
    add("rsi", &[&[2.0], &[14.0], &[30.0]]);
    add("atr", &[&[1.0], &[5.0], &[14.0]]);
    add("natr", &[&[1.0], &[5.0], &[14.0]]);
    add(
        "macd",
        &[
            &[12.0, 26.0, 9.0],
            &[5.0, 35.0, 5.0],
            &[26.0, 12.0, 9.0],
            &[12.0, 12.0, 1.0],
            &[2.0, 3.0, 1.0],
        ],
    );
    add(
        "bbands",
        &[
            &[20.0, 2.0, 2.0],
            &[10.0, 1.5, 2.5],
            &[5.0, 1.0, 1.0],
            &[2.0, 0.0, -1.0],
        ],
    );
    add(
        "stddev",
        &[
            &[2.0, 1.0],
            &[5.0, 1.0],
            &[20.0, 2.0],
            &[50.0, 0.5],
            &[180.0, 1.0],
        ],
    );
    add("roc", &[&[1.0], &[10.0]]);
    add("mom", &[&[1.0], &[10.0]]);
    add("max", &[&[2.0], &[5.0], &[30.0]]);
    add("min", &[&[2.0], &[5.0], &[30.0]]);
    add("obv", &[&[]]);
    add(
        "stoch",
        &[
            &[5.0, 3.0, 3.0],
            &[14.0, 3.0, 3.0],
            &[1.0, 1.0, 1.0],
            &[3.0, 1.0, 4.0],
            &[14.0, 1.0, 3.0],
        ],
    );
    add("adx", &[&[2.0], &[5.0], &[14.0]]);
    // Up to 128: window sums, as TA-Lib; beyond: order statistics (O(log n) per bar).
    add(
        "cci",
        &[
            &[2.0],
            &[14.0],
            &[20.0],
            &[128.0],
            &[129.0],
            &[150.0],
            &[290.0],
        ],
    );
    add("willr", &[&[2.0], &[14.0]]);
    cases
}

/// Parameters TA-Lib refuses: computed on one series; both sides must refuse.
fn refused_cases() -> Vec<(&'static str, Vec<f64>)> {
    [
        ("sma", vec![0.0]),
        ("ema", vec![0.0]),
        ("wma", vec![0.0]),
        ("rsi", vec![0.0]),
        ("rsi", vec![1.0]),
        ("atr", vec![0.0]),
        ("natr", vec![0.0]),
        ("macd", vec![1.0, 26.0, 9.0]),
        ("macd", vec![12.0, 1.0, 9.0]),
        ("macd", vec![12.0, 26.0, 0.0]),
        ("bbands", vec![1.0, 2.0, 2.0]),
        ("stddev", vec![1.0, 1.0]),
        ("roc", vec![0.0]),
        ("mom", vec![0.0]),
        ("max", vec![1.0]),
        ("min", vec![1.0]),
        ("stoch", vec![0.0, 3.0, 3.0]),
        ("stoch", vec![5.0, 0.0, 3.0]),
        ("stoch", vec![5.0, 3.0, 0.0]),
        ("adx", vec![1.0]),
        ("cci", vec![1.0]),
        ("willr", vec![1.0]),
    ]
    .into_iter()
    .collect()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The reference venv's Python, from `scripts/pyenv` (which creates the venv on first use).
fn reference_python() -> PathBuf {
    let script = workspace_root().join("scripts/pyenv");
    let output = Command::new(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "{} failed ({}); TA-Lib conformance cannot be checked without it.\nstderr:\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let path = String::from_utf8(output.stdout).expect("scripts/pyenv printed non-UTF-8");
    PathBuf::from(path.trim())
}

fn write_f64s(path: &Path, values: &[f64]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f64s(path: &Path) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

struct Case {
    series: usize,
    indicator: &'static str,
    params: Vec<f64>,
}

/// What one comparison of two arrays found.
#[derive(Clone, Copy, Default)]
struct Stats {
    /// Values where both sides are numbers.
    numbers: usize,
    /// Of those, the bit-identical ones.
    exact: usize,
    /// Values where both sides are `NaN`.
    nan: usize,
    /// The largest `|ours - talib| / max(1, |talib|)`.
    max_error: f64,
}

impl Stats {
    fn add(&mut self, other: Stats) {
        self.numbers += other.numbers;
        self.exact += other.exact;
        self.nan += other.nan;
        self.max_error = self.max_error.max(other.max_error);
    }
}

#[derive(Default)]
struct Tally {
    total: Stats,
    max_error_at: String,
    per_indicator: std::collections::BTreeMap<&'static str, Stats>,
    failures: Vec<String>,
}

impl Tally {
    fn fail(&mut self, message: String) {
        if self.failures.len() < 40 {
            self.failures.push(message);
        } else if self.failures.len() == 40 {
            self.failures
                .push("... (further failures not shown)".into());
        }
    }
}

#[test]
fn kernels_match_talib() {
    let series = series();
    let mut all_cases = Vec::new();
    for s in 0..series.len() {
        for (indicator, params) in cases() {
            all_cases.push(Case {
                series: s,
                indicator,
                params,
            });
        }
    }
    for (indicator, params) in refused_cases() {
        all_cases.push(Case {
            series: 0,
            indicator,
            params,
        });
    }

    // Inputs: every series' five columns, back to back.
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    let mut series_json = Vec::new();
    for (name, s) in &series {
        series_json.push(json!({"name": name, "len": s.len(), "offset": data.len()}));
        for column in s.columns() {
            data.extend_from_slice(column);
        }
    }
    write_f64s(&dir.path().join("input.bin"), &data);
    let cases_json: Vec<Value> = all_cases
        .iter()
        .enumerate()
        .map(|(id, c)| {
            json!({"id": id, "series": series[c.series].0, "indicator": c.indicator,
                   "params": c.params})
        })
        .collect();
    let manifest = json!({"series": series_json, "cases": cases_json});
    std::fs::write(dir.path().join("cases.json"), manifest.to_string()).unwrap();

    let python = reference_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/talib_reference.py");
    let run = Command::new(&python)
        .arg(&script)
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        run.status.success(),
        "{} {} failed ({}).\nstdout:\n{}\nstderr:\n{}",
        python.display(),
        script.display(),
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let reference = read_f64s(&dir.path().join("output.bin"));
    let results = results["results"].as_array().unwrap();
    assert_eq!(results.len(), all_cases.len(), "one result per case");

    let mut tally = Tally::default();
    let mut refused = 0;
    for (id, (case, result)) in all_cases.iter().zip(results).enumerate() {
        assert_eq!(result["id"].as_u64(), Some(id as u64));
        let (series_name, s) = &series[case.series];
        let label = format!("{}({:?}) on {series_name}", case.indicator, case.params);
        let talib_error = result["error"].as_str();
        match (run_kernel(case.indicator, &case.params, s), talib_error) {
            (Err(e), Some(_)) => {
                refused += 1;
                let message = e.to_string();
                assert!(
                    message.starts_with(case.indicator),
                    "{label}: error should name the indicator: {message}"
                );
            }
            (Err(e), None) => tally.fail(format!("{label}: TA-Lib computes it, we refuse: {e}")),
            (Ok(_), Some(t)) => tally.fail(format!("{label}: TA-Lib refuses ({t}), we compute")),
            (Ok((outputs, lookback)), None) => {
                let talib_lookback = result["lookback"].as_u64().unwrap() as usize;
                if lookback != talib_lookback {
                    tally.fail(format!(
                        "{label}: lookback {lookback}, TA-Lib's is {talib_lookback}"
                    ));
                }
                let refs = result["outputs"].as_array().unwrap();
                assert_eq!(refs.len(), outputs.len(), "{label}: number of outputs");
                for (k, (ours, r)) in outputs.iter().zip(refs).enumerate() {
                    let offset = r[0].as_u64().unwrap() as usize;
                    let len = r[1].as_u64().unwrap() as usize;
                    let theirs = &reference[offset..offset + len];
                    assert_eq!(ours.len(), theirs.len(), "{label}: output {k} length");
                    let stats = compare(&label, k, ours, theirs, &mut tally);
                    if stats.max_error > tally.total.max_error {
                        tally.max_error_at = format!("{label} output {k}");
                    }
                    tally.total.add(stats);
                    tally
                        .per_indicator
                        .entry(case.indicator)
                        .or_default()
                        .add(stats);
                    if std::env::var_os("TALIB_DEBUG").is_some() && stats.exact < stats.numbers {
                        eprintln!(
                            "{label} output {k}: {}/{} bit-identical",
                            stats.exact, stats.numbers
                        );
                    }
                }
            }
        }
    }

    let total = tally.total;
    eprintln!(
        "TA-Lib conformance: {} cases ({refused} refused by both), {} values compared: {} NaN in \
         both, {} numbers ({} bit-identical), max relative error {:e} at {}",
        all_cases.len(),
        total.numbers + total.nan,
        total.nan,
        total.numbers,
        total.exact,
        total.max_error,
        tally.max_error_at,
    );
    for (indicator, s) in &tally.per_indicator {
        eprintln!(
            "  {indicator:>7}: {:>6} numbers, {:>6} bit-identical, max relative error {:e}",
            s.numbers, s.exact, s.max_error
        );
    }
    assert!(
        tally.failures.is_empty(),
        "{} mismatch(es) against TA-Lib:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    assert!(total.numbers > 100_000, "too few values compared");
}

/// Compares one output array; reports the first few mismatches and how many there were.
fn compare(label: &str, output: usize, ours: &[f64], theirs: &[f64], tally: &mut Tally) -> Stats {
    let mut stats = Stats::default();
    let mut mismatches = 0;
    for (i, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        let problem = match (a.is_nan(), b.is_nan()) {
            (true, true) => {
                stats.nan += 1;
                None
            }
            (false, false) => {
                stats.numbers += 1;
                if a.to_bits() == b.to_bits() || a == b {
                    stats.exact += 1;
                    continue;
                }
                let error = (a - b).abs() / b.abs().max(1.0);
                stats.max_error = stats.max_error.max(error);
                // Written so that a NaN error (an infinity on one side) fails too.
                let within = error <= TOLERANCE;
                (!within).then(|| format!("relative error {error:e}"))
            }
            _ => Some("NaN in one only".to_string()),
        };
        if let Some(problem) = problem {
            mismatches += 1;
            if mismatches <= 3 {
                tally.fail(format!(
                    "{label} output {output} index {i}: ours {a:e}, TA-Lib {b:e} ({problem})"
                ));
            }
        }
    }
    if mismatches > 3 {
        tally.fail(format!(
            "{label} output {output}: {mismatches} mismatching values in all"
        ));
    }
    stats
}

/// Session-anchored values of minute bars (sessions of uneven length, a session of one bar, a
/// session with no volume at its open) against pandas: `groupby(session)` with `cumcount`,
/// `cummax`, `cummin`, `first`, the previous session's last close, and VWAP anchored at each
/// session as pandas-ta computes it (`(hlc3 * volume).cumsum() / volume.cumsum()` per session).
#[test]
fn session_kernels_match_pandas_groupby() {
    const SCRIPT: &str = r#"
import json, numpy as np, pandas as pd
rng = np.random.default_rng(11)
lengths = [390, 1, 17, 390, 200, 5]
session = np.repeat(np.arange(20240101, 20240101 + len(lengths)), lengths)
n = len(session)
close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.001, n))), 4)
high, low = close + rng.random(n), close - rng.random(n)
open_ = np.round(close * (1 + rng.normal(0, 0.0005, n)), 4)
volume = rng.integers(0, 1000, n).astype(float)
volume[391] = 0.0  # the third session opens with no volume
df = pd.DataFrame({"s": session, "o": open_, "h": high, "l": low, "c": close, "v": volume})
g = df.groupby("s")
last = g["c"].last()
tp = (df.h + df.l + df.c) / 3
out = {
    "bars_since_open": g.cumcount().astype(float).tolist(),
    "first_bar_of_day": (g.cumcount() == 0).astype(float).tolist(),
    "day_open": g["o"].transform("first").tolist(),
    "day_high": g["h"].cummax().tolist(),
    "day_low": g["l"].cummin().tolist(),
    "prev_day_close": df.s.map(last.shift(1)).tolist(),
    "vwap": ((tp * df.v).groupby(df.s).cumsum() / df.v.groupby(df.s).cumsum()).tolist(),
}
out = {k: [None if x != x else x for x in vals] for k, vals in out.items()}  # NaN is not JSON
print(json.dumps({"input": df.to_dict(orient="list"), "want": out}))
"#;
    use quantd_ta::session::*;
    let out = Command::new(reference_python())
        .arg("-c")
        .arg(SCRIPT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pandas script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let col = |k: &str| -> Vec<f64> {
        v["input"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let session: Vec<i64> = v["input"]["s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    let (o, h, l, c, vol) = (col("o"), col("h"), col("l"), col("c"), col("v"));
    let n = session.len();
    let mut got = vec![0.0; n];
    let check = |name: &str, got: &[f64]| {
        let want: Vec<f64> = v["want"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap_or(f64::NAN))
            .collect();
        assert_eq!(want.len(), n, "{name}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let same = (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-12 * w.abs().max(1.0);
            assert!(same, "{name} at bar {i}: ours {g}, pandas {w}");
        }
    };
    bars_since_open(&session, &mut got).unwrap();
    check("bars_since_open", &got);
    first_bar_of_day(&session, &mut got).unwrap();
    check("first_bar_of_day", &got);
    day_open(&session, &o, &mut got).unwrap();
    check("day_open", &got);
    day_high(&session, &h, &mut got).unwrap();
    check("day_high", &got);
    day_low(&session, &l, &mut got).unwrap();
    check("day_low", &got);
    prev_day_close(&session, &c, &mut got).unwrap();
    check("prev_day_close", &got);
    vwap(&session, &h, &l, &c, &vol, &mut got).unwrap();
    check("vwap", &got);
    assert!(
        got[391].is_nan(),
        "a session's VWAP is undefined until it has volume"
    );
}
