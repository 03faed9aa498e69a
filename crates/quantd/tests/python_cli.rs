//! Python code through the real binary: scanners (`scan`, `test`), strategies (`backtest`) and
//! bot scripts (`run`) in the sandbox, with `QUANTD_PYTHON` set to the reference venv. Python
//! results are checked against the equivalent expression jobs.

mod common;
use common::python::*;

const SCANNER: &str = r#"import quantd as qd

@qd.scanner(params={"n": 20})
def above_sma(bars, n):
    sma = bars.close.rolling(n).mean()
    return bars.assign(signal=bars.close > sma, sma=sma)[["signal", "sma"]]
"#;

const EXPR_SCANNER: &str = "let sma = sma(close, 20); close > sma";

const STRATEGY: &str = r#"import quantd as qd

@qd.strategy(params={"fast": 10, "slow": 20})
def sma_cross(bars, fast, slow):
    f = bars.close.rolling(fast).mean()
    s = bars.close.rolling(slow).mean()
    up = (f > s) & (f.shift(1) < s.shift(1))
    down = (f < s) & (f.shift(1) > s.shift(1))
    return qd.Signals(entries=up, exits=down)
"#;

/// CSV rows split into (ticker, date) and the remaining cells.
fn rows(csv: &str) -> Vec<(String, String, Vec<f64>)> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let v = f[2..].iter().map(|x| x.parse().unwrap()).collect();
            (f[0].to_string(), f[1].to_string(), v)
        })
        .collect()
}

#[test]
fn a_pandas_scanner_finds_the_rows_of_the_expression_scanner() {
    let (dir, python) = setup();
    let d = dir.path();
    let file = write(d, "above.py", SCANNER);
    // Small shards: several sandbox jobs, merged in order.
    let py_csv = py_ok(
        d,
        &python,
        &[
            "scan", "--file", &file, "--param", "n=20", "--format", "csv",
        ],
        &[("QUANTD_SHARD_BARS", "600")],
    );
    let ex_csv = py_ok(
        d,
        &python,
        &["scan", "--expr", EXPR_SCANNER, "--format", "csv"],
        &[],
    );
    assert_eq!(py_csv.lines().next(), Some("ticker,date,sma"));
    assert_eq!(ex_csv.lines().next(), Some("ticker,date,sma"));
    let (p, e) = (rows(&py_csv), rows(&ex_csv));
    assert!(e.len() > 100, "{} rows", e.len());
    let keys = |r: &[(String, String, Vec<f64>)]| -> Vec<(String, String)> {
        r.iter().map(|x| (x.0.clone(), x.1.clone())).collect()
    };
    assert_eq!(keys(&p), keys(&e), "the same (ticker, date) rows");
    for (a, b) in p.iter().zip(&e) {
        assert!(
            (a.2[0] - b.2[0]).abs() < 1e-9 * b.2[0].abs(),
            "{a:?} vs {b:?}"
        );
    }
    // The summary and `results` work unchanged.
    let hist = py_json(d, &python, &["history", "--kind", "scan"]);
    let items = hist
        .as_array()
        .or_else(|| hist["items"].as_array())
        .unwrap();
    let py_exec = items
        .iter()
        .find(|r| r["spec"]["python"] == true)
        .expect("the Python scan");
    assert!(py_exec["shards_total"].as_u64().unwrap() > 1);
    let id = py_exec["id"].as_str().unwrap();
    let again = py_ok(d, &python, &["results", id, "--format", "csv"], &[]);
    assert_eq!(again, py_csv);
    assert_eq!(
        py_exec["summary"]["signals"].as_u64().unwrap() as usize,
        e.len()
    );
}

#[test]
fn a_stored_python_scanner_runs_in_test_and_scan() {
    let (dir, python) = setup();
    let d = dir.path();
    let file = write(d, "above.py", SCANNER);
    py_ok(d, &python, &["code", "add", "above", "--file", &file], &[]);
    let csv = py_ok(
        d,
        &python,
        &[
            "scan",
            "--code",
            "above",
            "--tickers",
            "SYN0003",
            "--format",
            "csv",
        ],
        &[],
    );
    let hits = rows(&csv);
    assert!(hits.len() > 5);
    let mut examples = String::from("ticker,date\n");
    for h in hits.iter().take(5) {
        examples.push_str(&format!("{},{}\n", h.0, h.1));
    }
    let ex = write(d, "examples.csv", &examples);
    let report = py_json(
        d,
        &python,
        &[
            "test",
            "--code",
            "above",
            "--examples",
            &ex,
            "--format",
            "json",
        ],
    );
    let text = report.to_string();
    assert!(text.contains("\"matched\":5"), "{text}");
}

#[test]
fn a_failing_scanner_fails_its_shard_with_the_traceback_and_is_not_retried() {
    let (dir, python) = setup();
    let d = dir.path();
    let file = write(
        d,
        "bad.py",
        "import quantd as qd\n\n@qd.scanner()\ndef boom(bars):\n    return bars.close > undefined_name\n",
    );
    let out = py(d, &python, &["scan", "--file", &file], &[]);
    assert!(!out.status.success());
    let hist = py_json(d, &python, &["history", "--kind", "scan"]);
    let rec = &hist
        .as_array()
        .or_else(|| hist["items"].as_array())
        .unwrap()[0];
    assert_eq!(rec["state"], "failed");
    assert_eq!(rec["error_class"], "execution");
    let msg = rec["error_message"].as_str().unwrap();
    assert!(
        msg.starts_with("Traceback (most recent call last):"),
        "{msg}"
    );
    assert!(
        msg.contains("NameError: name 'undefined_name' is not defined"),
        "{msg}"
    );
    assert!(msg.contains("/job/main.py\", line 5"), "{msg}");
    let show = py_json(d, &python, &["show", rec["id"].as_str().unwrap()]);
    let shards = show["shards"].as_array().unwrap();
    assert_eq!(shards[0]["attempt"], 1, "execution errors are not retried");
}

#[test]
fn a_python_strategy_backtest_matches_the_expression_strategy() {
    let (dir, python) = setup();
    let d = dir.path();
    let file = write(d, "cross.py", STRATEGY);
    let stats = |args: &[&str]| -> Vec<serde_json::Value> {
        let mut all = vec!["backtest"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&py_ok(d, &python, &all, &[])).unwrap();
        v["tickers"].as_array().expect("per-ticker results").clone()
    };
    let p = stats(&["--file", &file, "--param", "fast=10", "--param", "slow=20"]);
    let e = stats(&[
        "--entry",
        "crosses_above(sma(close, 10), sma(close, 20))",
        "--exit",
        "crosses_below(sma(close, 10), sma(close, 20))",
    ]);
    assert_eq!(p.len(), 10);
    assert_eq!(p.len(), e.len());
    let mut trades = 0;
    for (a, b) in p.iter().zip(&e) {
        assert_eq!(a["ticker"], b["ticker"]);
        // Buy & Hold differs by design: Python strategies have no indicator warm-up.
        for k in [
            "Return [%]",
            "Sharpe Ratio",
            "Max. Drawdown [%]",
            "# Trades",
            "Win Rate [%]",
            "Equity Final [$]",
        ] {
            assert_eq!(a["stats"][k], b["stats"][k], "{k} of {}", a["ticker"]);
        }
        trades += a["stats"]["# Trades"].as_u64().unwrap();
        assert_eq!(a["trades"], b["trades"]);
    }
    assert!(trades > 10, "{trades} trades");
}

#[test]
fn bot_runs_report_metrics_to_history_and_summary() {
    let (dir, python) = setup();
    let d = dir.path();
    let json_bot = write(
        d,
        "json_bot.py",
        r#"import json, os, sys
import pyarrow as pa
import quantd as qd
with pa.memory_map(os.environ["QUANTD_PACK"], "r") as f:
    bars = pa.ipc.open_file(f).read_all()
print("bars", bars.num_rows, "args", sys.argv[1:])
qd.result(total_return=15.42, sharpe=1.45, trades=23, win_rate=56.5, max_drawdown=-8.23)
"#,
    );
    let text_bot = write(
        d,
        "text_bot.py",
        "print('Return: 5.0%')\nprint('Sharpe Ratio: 0.55')\nprint('Trades: 3')\nprint('Win Rate: 66.7%')\nprint('Max Drawdown: -2.5%')\n",
    );
    let out = py_ok(
        d,
        &python,
        &[
            "run", &json_bot, "--name", "bot", "--arg", "--fast", "--arg", "5",
        ],
        &[],
    );
    assert!(out.contains("bars 2600 args ['--fast', '5']"), "{out}");
    assert!(out.contains("Return [%]"), "{out}");
    py_ok(d, &python, &["run", &text_bot, "--name", "bot"], &[]);

    let hist = py_json(d, &python, &["history", "--name", "bot"]);
    let items = hist
        .as_array()
        .or_else(|| hist["items"].as_array())
        .unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|r| r["kind"] == "run" && r["state"] == "completed")
    );
    let text = items
        .iter()
        .find(|r| r["summary"]["metrics_source"] == "text")
        .unwrap();
    assert_eq!(text["summary"]["Return [%]"], 5.0);
    assert_eq!(text["summary"]["# Trades"], 3);
    assert_eq!(text["summary"]["Win Rate [%]"], 66.7);
    let js = items
        .iter()
        .find(|r| r["summary"]["metrics_source"] == "QUANTD_RESULT")
        .unwrap();
    assert_eq!(js["summary"]["Sharpe Ratio"], 1.45);
    assert_eq!(js["summary"]["Max. Drawdown [%]"], -8.23);

    let sum = py_json(d, &python, &["summary", "--name", "bot"]);
    assert_eq!(sum["runs"], 2);
    assert!((sum["average_return_pct"].as_f64().unwrap() - 10.21).abs() < 1e-9);
    assert!((sum["average_sharpe"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(sum["best_run"]["execution"], js["id"]);

    // `results` and `show` print the log and metrics.
    let id = js["id"].as_str().unwrap();
    let log = py_ok(d, &python, &["results", id], &[]);
    assert!(log.contains("QUANTD_RESULT {"), "{log}");
    assert!(log.contains("metrics from QUANTD_RESULT"), "{log}");
    let show = py_ok(d, &python, &["show", id], &[]);
    assert!(
        show.contains("Sharpe Ratio") && show.contains("1.45"),
        "{show}"
    );
}

#[test]
fn a_script_past_its_timeout_ends_wall_timeout_and_is_not_retried() {
    let (dir, python) = setup();
    let d = dir.path();
    let slow = write(
        d,
        "slow.py",
        "import time\nprint('waiting', flush=True)\ntime.sleep(600)\n",
    );
    let started = std::time::Instant::now();
    let out = py(d, &python, &["run", &slow, "--timeout", "1"], &[]);
    assert!(!out.status.success());
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let hist = py_json(d, &python, &["history", "--name", "slow"]);
    let rec = &hist
        .as_array()
        .or_else(|| hist["items"].as_array())
        .unwrap()[0];
    assert_eq!(rec["state"], "failed");
    assert_eq!(rec["error_class"], "timeout");
    let msg = rec["error_message"].as_str().unwrap();
    assert!(msg.starts_with("wall_timeout"), "{msg}");
    assert!(msg.contains("waiting"), "{msg}");
    let show = py_json(d, &python, &["show", rec["id"].as_str().unwrap()]);
    assert_eq!(show["shards"][0]["attempt"], 1, "timeouts are not retried");
}

#[test]
fn a_python_strategy_sweep_ranks_like_the_expression_sweep() {
    let (dir, python) = setup();
    let d = dir.path();
    let file = write(d, "cross.py", STRATEGY);
    let grid = ["--param", "fast=5,10", "--param", "slow=20,30"];
    let table = |strategy: &[&str]| -> Vec<String> {
        let mut all = vec!["sweep"];
        all.extend_from_slice(strategy);
        all.extend_from_slice(&grid);
        let out = py_ok(d, &python, &all, &[]);
        // The first line has the timing; the ranking follows.
        out.lines().skip(1).map(str::to_string).collect()
    };
    let p = table(&["--file", &file]);
    let e = table(&[
        "--entry",
        "crosses_above(sma(close, $fast), sma(close, $slow))",
        "--exit",
        "crosses_below(sma(close, $fast), sma(close, $slow))",
    ]);
    assert!(p.len() >= 5, "{p:?}");
    assert_eq!(p, e);
}

#[test]
fn unsafe_no_sandbox_runs_python_and_warns_on_every_job() {
    let (dir, python) = setup();
    let d = dir.path();
    let file = write(d, "above.py", SCANNER);
    let safe = py_ok(
        d,
        &python,
        &["scan", "--file", &file, "--format", "csv"],
        &[],
    );
    let out = py(
        d,
        &python,
        &[
            "--unsafe-no-sandbox",
            "scan",
            "--file",
            &file,
            "--format",
            "csv",
        ],
        &[("QUANTD_SHARD_BARS", "600")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), safe);
    let err = String::from_utf8_lossy(&out.stderr);
    let warnings = err
        .matches("this Python job runs WITHOUT the sandbox")
        .count();
    assert!(warnings >= 4, "one warning per shard job:\n{err}");
}

#[test]
fn a_bot_script_runs_through_the_http_api() {
    let (dir, python) = setup();
    let (_server, addr) = serve_python(dir.path(), &python);

    let script = "import sys\nimport quantd as qd\nprint('args', sys.argv[1:])\nqd.result(total_return=3.5, trades=4)\n";
    let (status, body) = http(
        &addr,
        "POST",
        "/v1/executions",
        Some(
            &serde_json::json!({"kind": "run", "script": script, "name": "api-bot", "args": ["--x", "1"], "timeout": 60}),
        ),
    );
    assert_eq!(status, 202, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["execution"]["id"].as_str().unwrap().to_owned();
    let rec = wait_for(&addr, &id, |s| s == "completed" || s == "failed");
    assert_eq!(rec["state"], "completed", "{rec}");
    assert_eq!(rec["kind"], "run");
    let (status, body) = http(&addr, "GET", &format!("/v1/executions/{id}/results"), None);
    assert_eq!(status, 200, "{body}");
    // The log as rows of the one result vocabulary: {stream, line, text}.
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|row| row["stream"] == "stdout"
                && row["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("args ['--x', '1']"))),
        "{v}"
    );
    let (_, body) = http(&addr, "GET", &format!("/v1/executions/{id}/summary"), None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["summary"]["Return [%]"], 3.5, "{v}");

    // A run without its script is refused before anything is created.
    let (status, body) = http(
        &addr,
        "POST",
        "/v1/executions",
        Some(&serde_json::json!({"kind": "run", "name": "empty"})),
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("needs `script`"), "{body}");
}

#[test]
fn python_code_is_validated_through_the_http_api() {
    let (dir, python) = setup();
    let (_server, addr) = serve_python(dir.path(), &python);
    let body = |code: &str| serde_json::json!({ "python": code });

    // H24: `def (` and forbidden imports answered `valid: true` and were stored.
    let (status, text) = http(&addr, "POST", "/v1/validate", Some(&body("def (\n")));
    assert_eq!(status, 422, "{text}");
    let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(problem["errors"][0]["line"], 1, "{problem}");
    assert_eq!(problem["errors"][0]["column"], 5, "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("syntax error"),
        "{problem}"
    );
    let imports = format!("import os\nimport ctypes\n{SCANNER}");
    let (status, text) = http(&addr, "POST", "/v1/code/bad", Some(&body(&imports)));
    assert_eq!(status, 422, "{text}");
    let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{problem}");
    assert_eq!(errors[1]["line"], 2, "{problem}");
    assert_eq!(errors[1]["message"], "import of 'ctypes' is not allowed");
    assert!(
        errors[1]["help"].as_str().unwrap().contains("numpy"),
        "{problem}"
    );
    let (_, list) = http(&addr, "GET", "/v1/code", None);
    assert!(!list.contains("\"bad\""), "nothing stored: {list}");

    let (status, text) = http(&addr, "POST", "/v1/validate", Some(&body(SCANNER)));
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["params"], serde_json::json!(["n"]), "{v}");

    // H10: `%2e%2e` stored a code named `..`.
    let expr = serde_json::json!({ "expr": "close > 1" });
    let (status, text) = http(&addr, "POST", "/v1/code/%2e%2e", Some(&expr));
    assert_eq!(status, 422, "{text}");
}

#[test]
fn a_python_scanner_sees_minute_bars_on_the_packs_wall_clock() {
    let (dir, python) = setup();
    let d = dir.path();
    py_ok(
        d,
        &python,
        &[
            "data",
            "synth",
            "--name",
            "m",
            "--tickers",
            "3",
            "--days",
            "6",
            "--interval",
            "5m",
            "--start",
            "2024-03-07",
        ],
        &[],
    );
    // `bars.index` is a tz-aware DatetimeIndex in the pack's zone: 10:00 is 10:00 in New York on
    // both sides of the DST change of 2024-03-10.
    let file = write(
        d,
        "ten.py",
        r#"import quantd as qd

@qd.scanner
def ten(bars):
    t = bars.index
    if str(t.tz) != "America/New_York":
        raise ValueError(f"index zone {t.tz}")
    return (bars.close > 0) & (t.hour == 10) & (t.minute == 0)
"#,
    );
    let csv = py_ok(
        d,
        &python,
        &["scan", "--pack", "m", "--file", &file, "--format", "csv"],
        &[],
    );
    let times: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    let days = [
        "2024-03-07T10:00:00-05:00",
        "2024-03-08T10:00:00-05:00",
        "2024-03-11T10:00:00-04:00",
        "2024-03-12T10:00:00-04:00",
        "2024-03-13T10:00:00-04:00",
        "2024-03-14T10:00:00-04:00",
    ];
    assert_eq!(csv.lines().next(), Some("ticker,time"), "{csv}");
    assert_eq!(times, [days, days, days].concat(), "{csv}");
}

/// Polls execution `id` until its state satisfies `done` (at most 60 s); returns its record.
fn wait_for(addr: &str, id: &str, done: impl Fn(&str) -> bool) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, body) = http(addr, "GET", &format!("/v1/executions/{id}"), None);
        let rec: serde_json::Value = serde_json::from_str(&body).unwrap();
        if rec["state"].as_str().is_some_and(&done) || std::time::Instant::now() > deadline {
            return rec;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn long_work_never_holds_every_worker() {
    // Two bot scripts that would hold a worker for minutes on a server of two workers: one
    // runs, the other waits, and a scan submitted after them still gets a worker and ends.
    let (dir, python) = setup();
    let mut command = common::quantd(dir.path());
    command.env("QUANTD_PYTHON", &python);
    let (_server, addr) = serve(command, &["--no-auth", "--workers", "2"]);
    let submit = |body: serde_json::Value| {
        let (status, text) = http(&addr, "POST", "/v1/executions", Some(&body));
        assert_eq!(status, 202, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["execution"]["id"].as_str().unwrap().to_owned()
    };
    let hold = "import time\ntime.sleep(600)\n";
    let runs: Vec<String> = (0..2)
        .map(|i| submit(serde_json::json!({"kind": "run", "script": hold, "name": format!("hold-{i}"), "timeout": 900})))
        .collect();
    let first = wait_for(&addr, &runs[0], |s| s != "pending");
    assert_eq!(first["state"], "running", "{first}");

    let scan =
        submit(serde_json::json!({"kind": "scan", "pack": "u", "expr": "close > sma(close, 5)"}));
    let done = wait_for(&addr, &scan, |s| s == "completed" || s == "failed");
    assert_eq!(done["state"], "completed", "the scan got a worker: {done}");
    let second = wait_for(&addr, &runs[1], |_| true);
    assert_eq!(
        second["state"], "pending",
        "long work holds at most one of the two workers: {second}"
    );

    for id in &runs {
        let (status, text) = http(&addr, "POST", &format!("/v1/executions/{id}/cancel"), None);
        assert_eq!(status, 200, "{text}");
        let rec = wait_for(&addr, id, |s| s == "cancelled");
        assert_eq!(rec["state"], "cancelled", "{rec}");
    }
}
