//! Class strategies (`class X(qd.Strategy)`) end to end: the examples in `examples/strategies/`
//! run through `quantd backtest --file` (the strategy in the sandbox, its orders filled by the
//! SimBroker on the job's channel) and, *unchanged*, through backtesting.py 0.6.6
//! (`strategy_reference.py` runs them over a stand-in `quantd` module). Every statistic must
//! agree within 1e-6 relative, every trade be the same trade.

mod common;
use common::*;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const TOLERANCE: f64 = 1e-6;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One example: its file, quantd's options and backtesting.py's.
struct Case {
    name: &'static str,
    file: &'static str,
    quantd: &'static [&'static str],
    backtesting: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "sma_cross",
        file: "sma_cross.py",
        quantd: &["--commission", "0.002", "--exclusive"],
        backtesting: r#"{"commission": 0.002, "exclusive_orders": true}"#,
    },
    Case {
        name: "bracket",
        file: "bracket.py",
        quantd: &["--commission", "0.002"],
        backtesting: r#"{"commission": 0.002}"#,
    },
    Case {
        name: "bracket_on_close_spread",
        file: "bracket.py",
        quantd: &[
            "--commission",
            "0.001",
            "--spread",
            "0.0005",
            "--fill",
            "close",
            "--param",
            "sl_pct=0.03",
        ],
        backtesting: r#"{"commission": 0.001, "spread": 0.0005, "trade_on_close": true, "params": {"sl_pct": 0.03}}"#,
    },
    Case {
        name: "trailing_stop",
        file: "trailing_stop.py",
        quantd: &["--commission", "0.002"],
        backtesting: r#"{"commission": 0.002}"#,
    },
    Case {
        name: "limit_stop",
        file: "limit_stop.py",
        quantd: &["--commission", "0.002"],
        backtesting: r#"{"commission": 0.002}"#,
    },
];

fn reference(d: &Path) -> Value {
    let out = d.join("reference.json");
    let examples = repo().join("examples/strategies");
    let mut args: Vec<String> = vec![
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/strategy_reference.py")
            .display()
            .to_string(),
        out.display().to_string(),
        repo().join("python/quantd/ta.py").display().to_string(),
    ];
    for c in CASES {
        args.push(format!(
            "{}={}:{}",
            c.name,
            examples.join(c.file).display(),
            c.backtesting
        ));
    }
    let run = Command::new(reference_python())
        .args(&args)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "strategy_reference.py failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

/// `quantd ARGS` with the reference Python (ARGS start with `--json`), its stdout as JSON.
fn quantd_json(d: &Path, python: &str, args: &[&str]) -> Value {
    serde_json::from_str(&common::python::py_ok(d, python, args, &[])).expect("JSON on stdout")
}

fn rel_err(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(1e-12)
    }
}

fn differences(case: &str, ours: &Value, theirs: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let (s, t) = (&ours["stats"], &theirs["stats"]);
    for (name, want) in t.as_object().unwrap() {
        let got = &s[name];
        let same = match (got, want) {
            (Value::Number(a), Value::Number(b)) => {
                rel_err(a.as_f64().unwrap(), b.as_f64().unwrap()) <= TOLERANCE
            }
            // quantd leaves undefined statistics out; backtesting.py has NaN (null).
            (Value::Null, Value::Null) => true,
            (a, b) => a == b,
        };
        if !same {
            out.push(format!(
                "{case}: {name}: quantd {got}, backtesting.py {want}"
            ));
        }
    }
    let (ot, tt) = (
        ours["trades"].as_array().unwrap(),
        theirs["trades"].as_array().unwrap(),
    );
    if ot.len() != tt.len() {
        out.push(format!(
            "{case}: {} trades, backtesting.py {}",
            ot.len(),
            tt.len()
        ));
    }
    for (i, (a, b)) in ot.iter().zip(tt).enumerate() {
        for (field, want) in b.as_object().unwrap() {
            let got = &a[field];
            let same = match (got, want) {
                (Value::Number(x), Value::Number(y)) => {
                    rel_err(x.as_f64().unwrap(), y.as_f64().unwrap()) <= 1e-9
                }
                (x, y) => x == y,
            };
            if !same {
                out.push(format!("{case}: trade {i} {field}: {got} vs {want}"));
            }
        }
    }
    out
}

#[test]
fn examples_match_backtesting_py_run_unchanged_and_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "data",
            "import",
            goog_csv().to_str().unwrap(),
            "--name",
            "goog",
            "--ticker",
            "GOOG",
        ],
    );
    let theirs = reference(d);
    let python = reference_python().display().to_string();
    let mut failures = Vec::new();
    for c in CASES {
        let file = repo().join("examples/strategies").join(c.file);
        let mut args = vec![
            "--json",
            "backtest",
            "--file",
            file.to_str().unwrap(),
            "--pack",
            "goog",
            "--cash",
            "10000",
        ];
        args.extend_from_slice(c.quantd);
        let out: Value = quantd_json(d, &python, &args);
        let ours = &out["tickers"][0];
        assert_eq!(ours["error"], Value::Null, "{}: {}", c.name, ours["error"]);
        assert!(
            theirs[c.name]["stats"]["# Trades"].as_u64().unwrap() >= 10,
            "{}: a case with trades to compare",
            c.name
        );
        failures.extend(differences(c.name, ours, &theirs[c.name]));
    }
    assert!(
        failures.is_empty(),
        "{} differences from backtesting.py:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // A sweep of the class strategy: each parameter set is one sandbox job with its broker;
    // the README's (10, 20) ranks first with backtesting.py's Sharpe ratio.
    let file = repo().join("examples/strategies/sma_cross.py");
    let sweep: Value = quantd_json(
        d,
        &python,
        &[
            "--json",
            "sweep",
            "--file",
            file.to_str().unwrap(),
            "--pack",
            "goog",
            "--commission",
            "0.002",
            "--exclusive",
            "--param",
            "fast=5,10",
            "--param",
            "slow=20,30",
        ],
    );
    assert_eq!(sweep["backtests"], 4);
    let top = &sweep["top"][0];
    assert_eq!(
        (top["fast"].as_f64(), top["slow"].as_f64()),
        (Some(10.0), Some(20.0))
    );
    let want = theirs["sma_cross"]["stats"]["Sharpe Ratio"]
        .as_f64()
        .unwrap();
    assert!(rel_err(top["Sharpe Ratio"].as_f64().unwrap(), want) <= TOLERANCE);
}

/// The momentum-rotation example as a portfolio (`--portfolio`): one book with shared cash.
/// What each ticker contributed adds up to the book's profit, to the cent; the book never holds
/// more than `top` tickers at once, and trades
/// only on the first bar of a month (fills on the bar after); its equity stays positive.
#[test]
fn a_momentum_rotation_portfolio_shares_its_cash_and_adds_up() {
    let (dir, python) = common::python::setup();
    let d = dir.path();
    let file = repo().join("examples/strategies/momentum_rotation.py");
    let out: Value = quantd_json(
        d,
        &python,
        &[
            "--json",
            "backtest",
            "--file",
            file.to_str().unwrap(),
            "--pack",
            "u",
            "--portfolio",
            "--param",
            "lookback=20",
            "--param",
            "top=3",
        ],
    );
    let tickers = out["tickers"].as_array().unwrap();
    let book = &tickers[0];
    assert_eq!(book["ticker"], "PORTFOLIO");
    assert_eq!(tickers.len(), 11, "the book and its 10 tickers");
    let stats = &book["stats"];
    let final_equity = stats["Equity Final [$]"].as_f64().unwrap();
    let contributed: f64 = tickers[1..]
        .iter()
        .map(|t| t["stats"]["Equity Final [$]"].as_f64().unwrap() - 10_000.0)
        .sum();
    assert!(
        (final_equity - 10_000.0 - contributed).abs() < 1e-6,
        "book {final_equity} vs contributions {contributed}"
    );
    let traded: u64 = tickers[1..]
        .iter()
        .map(|t| t["stats"]["# Trades"].as_u64().unwrap())
        .sum();
    assert_eq!(stats["# Trades"].as_u64().unwrap(), traded);
    assert!(traded >= 10, "it rotated: {traded} trades");
    // Holdings over time, from every ticker's trades (entry bar .. exit bar).
    let bars = book["equity"].as_array().unwrap().len();
    let mut held = vec![0u32; bars];
    for t in &tickers[1..] {
        // A partial sale closes a piece of a trade that stays open: count tickers, not trades.
        let mut open = vec![false; bars];
        for tr in t["trades"].as_array().unwrap() {
            let (a, b) = (
                tr["EntryBar"].as_u64().unwrap() as usize,
                tr["ExitBar"].as_u64().unwrap() as usize,
            );
            open[a..b].fill(true);
        }
        for (h, o) in held.iter_mut().zip(open) {
            *h += u32::from(o);
        }
    }
    assert!(held.iter().all(|&h| h <= 3), "at most 3 held at once");
    // Entries fill on the bar after a month's first bar.
    let dates: Vec<String> = book["equity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_i64().unwrap() / 86_400_000_000_000)
        .map(|day| {
            chrono::DateTime::from_timestamp(day * 86_400, 0)
                .unwrap()
                .format("%Y-%m")
                .to_string()
        })
        .collect();
    for t in &tickers[1..] {
        for tr in t["trades"].as_array().unwrap() {
            let e = tr["EntryBar"].as_u64().unwrap() as usize;
            assert!(
                e >= 2 && dates[e - 1] != dates[e - 2],
                "entry at bar {e} is not the bar after a month's first bar"
            );
        }
    }
    // One account: the book's equity is positive at every bar.
    assert!(
        book["equity"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p[1].as_f64().unwrap() > 0.0)
    );
}

/// A strategy file that talks to the broker channel (fd 3) itself: `frames` is a Python list of
/// raw frames (bytes, length prefix included) to send, reading each reply.
fn raw_channel(frames: &str) -> String {
    format!(
        r#"import os
import quantd as qd

class Raw(qd.Strategy):
    def next(self):
        pass

def _frame(obj):
    import json
    b = json.dumps(obj).encode()
    return len(b).to_bytes(4, "little") + b

for frame in {frames}:
    while frame:
        frame = frame[os.write(3, frame):]
    n = int.from_bytes(os.read(3, 4), "little")
    if n:
        os.read(3, n)
raise SystemExit(0)
"#
    )
}

/// What the strategy sends on its channel is untrusted: garbage, an oversized frame, steps out
/// of order, too many actions, a ticker that is not the shard's, stopping half-way. Each ends
/// the backtest with an error that says what was wrong, and the worker goes on: a correct
/// backtest runs right after in the same data dir.
#[test]
fn a_strategy_abusing_the_broker_channel_fails_alone() {
    let (dir, python) = common::python::setup();
    let d = dir.path();
    let begin = r#"_frame({"t": "begin", "ticker": "SYN0001", "bars": 260})"#;
    let start = r#"_frame({"t": "start", "start": 5})"#;
    let cases: [(&str, String, &str); 6] = [
        (
            "garbage",
            r#"[b"\x05\x00\x00\x00hello"]"#.into(),
            "does not understand",
        ),
        (
            "oversized",
            r#"[(1 << 30).to_bytes(4, "little")]"#.into(),
            "at most 16777216 are read",
        ),
        (
            "backwards",
            format!(
                r#"[{begin}, {start}, _frame({{"t": "step", "bar": 9, "actions": []}}), _frame({{"t": "step", "bar": 7, "actions": []}})]"#
            ),
            "step to bar 7",
        ),
        (
            "flood",
            format!(
                r#"[{begin}, {start}, _frame({{"t": "step", "bar": 9, "actions": [{{"op": "cancel", "id": 1}}] * 10001}})]"#
            ),
            "at most 10000 are taken",
        ),
        (
            "stranger",
            r#"[_frame({"t": "begin", "ticker": "NOPE", "bars": 260})]"#.into(),
            "not one of this shard's",
        ),
        (
            "half-way",
            format!("[{begin}, {start}]"),
            "did not run to the end",
        ),
    ];
    for (name, frames, want) in cases {
        let file = common::python::write(d, &format!("{name}.py"), &raw_channel(&frames));
        let out = common::python::py(
            d,
            &python,
            &[
                "--json",
                "backtest",
                "--file",
                &file,
                "--pack",
                "u",
                "--tickers",
                "SYN0001",
            ],
            &[],
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(want), "{name}: wanted {want:?} in:\n{text}");
    }
    // The same data dir, the same binary: a correct class strategy still backtests.
    let file = repo().join("examples/strategies/sma_cross.py");
    let ok: Value = quantd_json(
        d,
        &python,
        &[
            "--json",
            "backtest",
            "--file",
            file.to_str().unwrap(),
            "--pack",
            "u",
        ],
    );
    assert!(
        ok["tickers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["error"].is_null() && t["stats"]["# Trades"].as_u64().unwrap() > 0)
    );
}

/// A class strategy is stored like any code (validated in the sandbox: its literal `params`, a
/// `next` method) and backtests by name; one without `next` is refused at its line.
#[test]
fn class_strategies_are_validated_stored_and_run_by_name() {
    let (dir, python) = common::python::setup();
    let d = dir.path();
    let file = repo().join("examples/strategies/bracket.py");
    common::python::py_ok(
        d,
        &python,
        &["code", "add", "bracket", "--file", file.to_str().unwrap()],
        &[],
    );
    let shown = common::python::py_ok(d, &python, &["code", "show", "bracket"], &[]);
    assert!(shown.contains("sl_pct"), "{shown}");
    let out: Value = quantd_json(
        d,
        &python,
        &[
            "--json",
            "backtest",
            "--code",
            "bracket",
            "--pack",
            "u",
            "--tickers",
            "SYN0001,SYN0002",
        ],
    );
    assert_eq!(out["tickers"].as_array().unwrap().len(), 2);
    assert!(
        out["tickers"][0]["error"].is_null(),
        "{}",
        out["tickers"][0]
    );
    let bad = common::python::write(
        d,
        "bad.py",
        "import quantd as qd\n\nclass NoNext(qd.Strategy):\n    params = {\"n\": 3}\n",
    );
    let refused = common::python::py(d, &python, &["code", "add", "bad", "--file", &bad], &[]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("must define next(self)") && err.contains('3'),
        "{err}"
    );
}

/// `qd.ta` has TA-Lib's definitions and warm-up (docs/strategies.md says so): every function
/// against TA-Lib on a random walk, 1-D and row by row on 2-D input.
#[test]
fn qd_ta_matches_talib() {
    let script = r#"
import numpy as np, talib
import quantd as qd
rng = np.random.default_rng(7)
x = 100 + np.cumsum(rng.normal(size=500)); h = x + rng.random(500); l = x - rng.random(500)
pairs = {
    "sma": (qd.ta.sma(x, 20), talib.SMA(x, 20)),
    "ema": (qd.ta.ema(x, 12), talib.EMA(x, 12)),
    "rsi": (qd.ta.rsi(x, 14), talib.RSI(x, 14)),
    "atr": (qd.ta.atr(h, l, x, 14), talib.ATR(h, l, x, 14)),
    "highest": (qd.ta.highest(h, 10), talib.MAX(h, 10)),
    "lowest": (qd.ta.lowest(l, 10), talib.MIN(l, 10)),
    "momentum": (qd.ta.momentum(x, 5), talib.ROC(x, 5) / 100),
}
X = np.stack([x, 2 * x])
pairs["ema_2d"] = (qd.ta.ema(X, 12)[1], talib.EMA(2 * x, 12))
pairs["sma_2d"] = (qd.ta.sma(X, 20)[1], talib.SMA(2 * x, 20))
bad = [k for k, (a, b) in pairs.items() if not np.allclose(a, b, rtol=1e-10, equal_nan=True)]
print("ok" if not bad else "differ: " + ", ".join(bad))
"#;
    let out = Command::new(reference_python())
        .env("PYTHONPATH", repo().join("python"))
        .args(["-c", script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.trim() == "ok",
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
