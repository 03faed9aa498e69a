//! Python jobs whose code rewrites its own result file after the harness wrote it (the review's
//! method: an `atexit` hook on `/out/result.arrow`): every kind (scan, test, backtest, sweep)
//! fails its shard with a clear `execution` error naming what is wrong; nothing panics, nothing
//! made up is stored. And a sandbox that cannot start is the server's problem (`internal`).

mod common;
use common::python::*;
use common::*;
use std::path::Path;

/// Python code whose result is rewritten by `forge` (a function of the `pyarrow` table `t`
/// returning the table to write) when the job exits; `entry` is the entry point's source.
fn forged(forge: &str, entry: &str) -> String {
    format!(
        r#"import atexit
import quantd as qd

def _forge():
    import pyarrow as pa
    t = pa.ipc.open_file(pa.BufferReader(open('/out/result.arrow', 'rb').read())).read_all()
    t = ({forge})(t)
    with pa.OSFile('/out/result.arrow', 'wb') as f, pa.ipc.new_file(f, t.schema) as w:
        w.write_table(t)

atexit.register(_forge)

{entry}
"#
    )
}

const SCANNER: &str = "@qd.scanner(params={})\ndef s(bars):\n    return bars.close > 0\n";

const STRATEGY: &str = "@qd.strategy(params={\"k\": 1})\ndef s(bars, k):\n    up = bars.close > bars.close.shift(1)\n    return qd.Signals(entries=up, exits=~up)\n";

/// Dates rewritten to date32 = 2^31 - 1 (review S4: it panicked the worker).
const FAR_DATES: &str =
    "lambda t: t.set_column(1, 'date', pa.array([2**31 - 1] * t.num_rows, pa.date32()))";

/// Runs `args` and checks it failed cleanly: no panic, the newest execution of `kind` failed
/// with class `execution`, its message containing `expect`, and it was not retried.
fn fails_with(d: &Path, python: &str, kind: &str, args: &[&str], expect: &str) {
    let out = py(d, python, args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert_ne!(out.status.code(), Some(101), "{args:?} panicked:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let hist = py_json(d, python, &["history", "--kind", kind]);
    let rec = &hist
        .as_array()
        .or_else(|| hist["items"].as_array())
        .unwrap()[0];
    assert_eq!(rec["state"], "failed", "{rec}");
    assert_eq!(rec["error_class"], "execution", "{rec}");
    let msg = rec["error_message"].as_str().unwrap();
    assert!(
        msg.starts_with("the Python job's result is not what the harness writes: "),
        "{msg}"
    );
    assert!(msg.contains(expect), "{expect:?} not in: {msg}");
    let show = py_json(d, python, &["show", rec["id"].as_str().unwrap()]);
    assert_eq!(show["shards"][0]["attempt"], 1, "not retried: {show}");
}

#[test]
fn forged_dates_fail_every_python_kind_cleanly() {
    let (dir, python) = setup();
    let d = dir.path();
    let scanner = write(d, "scanner.py", &forged(FAR_DATES, SCANNER));
    let strategy = write(d, "strategy.py", &forged(FAR_DATES, STRATEGY));
    let examples = write(d, "examples.csv", "ticker,date\nSYN0001,2020-01-10\n");
    let far = "puts SYN0001 on day 2147483647 (not a date), which is not one of its input bars";
    fn with<'a>(head: &[&'a str]) -> Vec<&'a str> {
        [head, &["--tickers", "SYN0001"][..]].concat()
    }
    fails_with(
        d,
        &python,
        "scan",
        &with(&["scan", "--file", &scanner]),
        far,
    );
    fails_with(
        d,
        &python,
        "test",
        &["test", "--file", &scanner, "--examples", &examples],
        far,
    );
    fails_with(
        d,
        &python,
        "backtest",
        &with(&["backtest", "--file", &strategy]),
        far,
    );
    fails_with(
        d,
        &python,
        "sweep",
        &with(&["sweep", "--file", &strategy, "--param", "k=1,2"]),
        far,
    );
}

#[test]
fn forged_rows_types_and_columns_are_refused_with_what_is_wrong() {
    let (dir, python) = setup();
    let d = dir.path();
    let cases = [
        // H25: more rows than the ticker has bars.
        (
            "lambda t: pa.concat_tables([t, t, t])",
            "than the 260 bars the job was given",
        ),
        // S6: timestamp[ns] dates of 2^62 were stored as 2116-02-20.
        (
            "lambda t: t.set_column(1, 'date', pa.array([2**62] * t.num_rows, pa.timestamp('ns')))",
            "column `date` is Timestamp(ns); it must be date32",
        ),
        // S6: a string indicator became NaN.
        (
            "lambda t: t.append_column('label', pa.array(['x'] * t.num_rows))",
            "column `label` is Utf8; it must be float64",
        ),
        // S6: 20,000 columns were stored.
        (
            "lambda t: pa.table({**{c: t.column(c) for c in t.column_names}, **{f'c{i}': pa.array([1.0] * t.num_rows) for i in range(100)}})",
            "at most 64 indicator columns",
        ),
        (
            "lambda t: t.set_column(0, 'ticker', pa.array(['NOPE'] * t.num_rows))",
            "row 1 names ticker `NOPE`, which is not one of the 1 tickers the job was given",
        ),
    ];
    for (i, (forge, expect)) in cases.iter().enumerate() {
        let file = write(d, &format!("f{i}.py"), &forged(forge, SCANNER));
        let args = ["scan", "--file", &file, "--tickers", "SYN0001"];
        fails_with(d, &python, "scan", &args, expect);
    }
}

#[test]
fn a_sandbox_that_cannot_start_fails_as_internal_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pack = [
        "data",
        "synth",
        "--name",
        "u",
        "--tickers",
        "2",
        "--days",
        "30",
    ];
    ok(d, &pack);
    let file = d.join("s.py");
    std::fs::write(&file, format!("import quantd as qd\n{SCANNER}")).unwrap();
    // An interpreter that is not one: the runtime cannot start, whatever the code.
    let missing = d.join("no-such-python");
    let out = quantd(d)
        .env("QUANTD_PYTHON", &missing)
        .args(["scan", "--file", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let hist = json(d, &["history", "--kind", "scan"]);
    let rec = &hist
        .as_array()
        .or_else(|| hist["items"].as_array())
        .unwrap()[0];
    assert_eq!(rec["state"], "failed", "{rec}");
    assert_eq!(rec["error_class"], "internal", "{rec}");
    let show = json(d, &["show", rec["id"].as_str().unwrap()]);
    assert_eq!(
        show["shards"][0]["attempt"], 3,
        "internal failures are retried (3 attempts by default): {show}"
    );
}

#[test]
fn a_runs_made_up_metrics_and_long_output_are_bounded_in_what_is_stored() {
    let (dir, python) = setup();
    let d = dir.path();
    // S19 and S20: absurd metrics and a result of many keys were stored whole.
    let script = write(
        d,
        "fake.py",
        r#"import json
print("x" * 2_000_000)
r = {"trades": -5.5, "win_rate": 1000, "total_return": 1e308, "sharpe": 1.25}
r.update({f"k{i:04}": i for i in range(500)})
print("QUANTD_RESULT " + json.dumps(r))
"#,
    );
    py_ok(d, &python, &["run", &script, "--name", "fake"], &[]);
    let hist = py_json(d, &python, &["history", "--name", "fake"]);
    let rec = &hist
        .as_array()
        .or_else(|| hist["items"].as_array())
        .unwrap()[0];
    let summary = rec["summary"].as_object().unwrap();
    assert_eq!(summary["Sharpe Ratio"], 1.25, "{rec}");
    for gone in ["# Trades", "Win Rate [%]", "Return [%]"] {
        assert!(summary.get(gone).is_none(), "{gone}: {rec}");
    }
    assert_eq!(summary["result"].as_object().unwrap().len(), 64, "{rec}");
    let warnings = summary["metrics_warnings"].to_string();
    assert!(
        warnings.contains("QUANTD_RESULT `trades` was dropped"),
        "{warnings}"
    );
    assert!(warnings.contains("limit `max_result_keys`"), "{warnings}");

    let id = rec["id"].as_str().unwrap();
    let log = py_json(d, &python, &["results", id]);
    let stdout = log["log"]["stdout"].as_str().unwrap();
    assert!(
        stdout.len() <= (1 << 20) + 200,
        "{} bytes kept",
        stdout.len()
    );
    assert!(
        stdout.contains("bytes of stdout left out here (limit `max_log_bytes`"),
        "says what was left out"
    );
    assert!(
        stdout.trim_end().ends_with('}'),
        "the end (the result line) is kept"
    );
    let sum = py_json(d, &python, &["summary", "--name", "fake"]);
    assert_eq!(sum["runs"], 1);
    assert!(sum["average_return_pct"].is_null(), "{sum}");
}
