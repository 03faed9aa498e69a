//! Paper sessions end to end (`quantd paper`): the example class strategies replayed bar by bar
//! give the same fills and trades as their backtests on the same bars; the session's record
//! (`quantd orders`, `GET /v1/executions/{id}/orders`, the SSE stream) holds each order event
//! once; a session killed with SIGKILL, or paused, goes on from its record with the same orders
//! and positions.

mod common;
use common::python::{of_type, py, py_json, py_ok, record, setup};
use common::*;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/strategies")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The SmaCross example on one ticker, with backtesting.py's README settings.
fn sma_args(file: &str) -> Vec<String> {
    [
        "--file",
        file,
        "--tickers",
        "SYN0003",
        "--commission",
        "0.002",
        "--exclusive",
    ]
    .map(String::from)
    .to_vec()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `quantd --json CMD args…` as JSON.
fn run_json(d: &Path, python: &str, cmd: &str, args: &[String]) -> Value {
    let mut all = vec![cmd];
    all.extend(strs(args));
    py_json(d, python, &all)
}

/// The trades of a one-ticker backtest's JSON.
fn trades(v: &Value) -> Vec<Value> {
    v["tickers"][0]["trades"]
        .as_array()
        .expect("trades")
        .clone()
}

fn fills(record: &[Value]) -> Vec<(String, f64, f64)> {
    of_type(record, "order")
        .into_iter()
        .filter(|e| e["status"] == "filled")
        .map(|e| {
            (
                e["time"].as_str().unwrap().to_string(),
                e["size"].as_f64().unwrap(),
                e["price"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The fills a one-ticker backtest made: each closed trade's entry and exit, and the entry of
/// the trade still open at the end.
fn backtest_fills(backtest: &Value) -> Vec<(String, f64, f64)> {
    let day = |t: &Value, k: &str| t[k].as_str().unwrap()[..10].to_string();
    let mut out = Vec::new();
    for t in trades(backtest) {
        let size = t["Size"].as_f64().unwrap();
        out.push((
            day(&t, "EntryTime"),
            size,
            t["EntryPrice"].as_f64().unwrap(),
        ));
        out.push((day(&t, "ExitTime"), -size, t["ExitPrice"].as_f64().unwrap()));
    }
    if let Some(t) = backtest["tickers"][0]["open_trade"].as_object() {
        let t = Value::Object(t.clone());
        out.push((
            day(&t, "EntryTime"),
            t["Size"].as_f64().unwrap(),
            t["EntryPrice"].as_f64().unwrap(),
        ));
    }
    out
}

/// Every event of ended execution `id`, as its SSE stream gives them (a server on `d` for it).
fn stored_events(d: &Path, id: &str) -> String {
    let (_server, addr) = serve(quantd(d), &["--no-auth"]);
    let (status, body) = http(&addr, "GET", &format!("/v1/executions/{id}/events"), None);
    assert_eq!(status, 200, "{body}");
    body
}

/// Puts pack `u` under provider `acme`, whose rights deny derived data.
fn deny_u(d: &Path, python: &str) {
    let add = [
        "rights",
        "add",
        "acme",
        "--export",
        "deny",
        "--license",
        "vendor EULA",
    ];
    py_ok(d, python, &add, &[]);
    py_ok(
        d,
        python,
        &["rights", "assign", "u", "--provider", "acme"],
        &[],
    );
}

/// Each trading day's positions are the fills so far added up, by ticker.
fn assert_positions_follow_fills(record: &[Value]) {
    let mut held: std::collections::BTreeMap<String, f64> = Default::default();
    let mut days = 0;
    for e in record {
        if e["type"] == "order" && e["status"] == "filled" {
            *held
                .entry(e["ticker"].as_str().unwrap().to_string())
                .or_default() += e["size"].as_f64().unwrap();
            held.retain(|_, units| *units != 0.0);
        }
        if e["type"] == "session-day" {
            let positions: std::collections::BTreeMap<String, f64> =
                serde_json::from_value(e["positions"].clone()).unwrap();
            assert_eq!(positions, held, "positions at {e}");
            days += 1;
        }
    }
    assert!(days > 0);
}

/// Each order event once: no (order, status) pair but a partial fill is recorded twice.
fn assert_each_event_once(record: &[Value]) {
    let mut seen = std::collections::HashSet::new();
    for e in of_type(record, "order") {
        if e["partial"] == true {
            continue;
        }
        let key = (e["order"].to_string(), e["status"].to_string());
        assert!(seen.insert(key), "recorded twice: {e}");
    }
    let days: Vec<&str> = of_type(record, "session-day")
        .iter()
        .map(|e| e["date"].as_str().unwrap())
        .collect();
    let mut unique = days.clone();
    unique.dedup();
    assert_eq!(days, unique, "each day once");
}

fn id_of(v: &Value) -> String {
    v["execution"]["id"]
        .as_str()
        .or(v["execution"].as_str())
        .expect("the execution's id")
        .to_string()
}

#[test]
fn a_paper_session_on_a_replayed_pack_fills_as_the_backtest_does() {
    let (dir, python) = setup();
    let d = dir.path();
    for (file, extra) in [
        ("sma_cross.py", &[][..]),
        ("bracket.py", &["--param", "sl_pct=0.03"][..]),
    ] {
        let mut args = sma_args(&example(file));
        args.extend(extra.iter().map(|s| s.to_string()));
        let backtest = run_json(d, &python, "backtest", &args);
        let mut paper_args = args.clone();
        paper_args.extend(["--speed", "max"].map(String::from));
        let paper = run_json(d, &python, "paper", &paper_args);
        let (want, got) = (trades(&backtest), trades(&paper));
        assert!(
            want.len() >= 3,
            "{file}: enough trades to compare: {want:?}"
        );
        assert_eq!(
            got, want,
            "{file}: the paper session's trades are the backtest's"
        );
        assert_eq!(
            paper["tickers"][0]["stats"], backtest["tickers"][0]["stats"],
            "{file}: same statistics"
        );

        // The record: each trade's entry and exit is one recorded fill at its bar and price.
        let rec = record(d, &python, &id_of(&paper));
        assert_each_event_once(&rec);
        assert_positions_follow_fills(&rec);
        let mut from_trades = backtest_fills(&backtest);
        let mut recorded = fills(&rec);
        recorded.sort_by(|a, b| a.partial_cmp(b).unwrap());
        from_trades.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(
            recorded, from_trades,
            "{file}: fills are the trades' entries and exits"
        );

        // One trading day per bar traded, its equity the backtest's equity curve.
        let days = of_type(&rec, "session-day");
        let curve = backtest["tickers"][0]["equity"].as_array().expect("equity");
        assert!(days.len() > 200, "{file}: {} days", days.len());
        // The last day ends on the last bar: its equity is the curve's last point.
        let last = days.last().unwrap();
        let (ours, theirs) = (
            last["equity"].as_f64().unwrap(),
            curve.last().unwrap()[1].as_f64().unwrap(),
        );
        assert!(
            (ours - theirs).abs() <= 1e-9 * theirs.abs(),
            "{file}: last day's equity {ours} vs the backtest's {theirs}"
        );
    }
}

/// Starts `quantd paper` (fills printed to stderr) and returns the process, its execution id
/// and its stderr lines after the announcement.
fn start_paper(
    d: &Path,
    python: &str,
    args: &[String],
    env: &[(&str, &str)],
) -> (
    KillOnDrop,
    String,
    std::io::Lines<BufReader<std::process::ChildStderr>>,
) {
    let mut c = quantd(d);
    c.env("QUANTD_PYTHON", python)
        .arg("paper")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = KillOnDrop(c.spawn().expect("spawn quantd paper"));
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let line = until_line_ref(&mut lines, "execution ex_");
    let id = line
        .trim_start_matches("execution ")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    (child, id, lines)
}

/// Reads lines until one contains `needle`; keeps the rest readable.
fn until_line_ref(
    lines: &mut std::io::Lines<BufReader<std::process::ChildStderr>>,
    needle: &str,
) -> String {
    for line in lines.by_ref() {
        let line = line.expect("read stderr");
        if line.contains(needle) {
            return line;
        }
    }
    panic!("stderr ended before a line with `{needle}`");
}

#[test]
fn a_session_killed_with_sigkill_goes_on_with_its_orders_and_positions() {
    let (dir, python) = setup();
    let d = dir.path();
    let mut args = sma_args(&example("sma_cross.py"));
    args.extend(["--speed", "max"].map(String::from));
    let reference = run_json(d, &python, "paper", &args);
    let uninterrupted = record(d, &python, &id_of(&reference));
    let total_fills = fills(&uninterrupted).len();
    assert!(total_fills >= 6, "{total_fills} fills");

    // Killed right after its third fill was recorded.
    let (mut child, id, mut lines) = start_paper(
        d,
        &python,
        &args,
        &[("QUANTD_FAILPOINT", "paper-fill-3:pause")],
    );
    until_line_ref(&mut lines, "failpoint paper-fill-3 reached");
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let before = record(d, &python, &id);
    assert_eq!(
        fills(&before).len(),
        3,
        "three fills recorded before the kill"
    );
    assert_eq!(
        py_json(d, &python, &["show", &id])["interrupted"],
        true,
        "the session shows as interrupted"
    );

    // Resumed: the record goes on from where it stopped, each event once, and the session ends
    // with the uninterrupted one's orders, positions and trades.
    py_ok(d, &python, &["resume", &id], &[]);
    let after = record(d, &python, &id);
    assert_each_event_once(&after);
    let strip = |r: &[Value]| -> Vec<Value> {
        r.iter()
            .map(|e| {
                let mut e = e.clone();
                let o = e.as_object_mut().unwrap();
                o.remove("seq");
                o.remove("at");
                o.remove("execution");
                e
            })
            .collect()
    };
    assert_eq!(
        strip(&after[..before.len()]),
        strip(&before),
        "what was recorded before the kill stays as it was"
    );
    assert_eq!(
        strip(&after),
        strip(&uninterrupted),
        "the resumed session recorded what an uninterrupted one does"
    );
    let uninterrupted_table = py_ok(d, &python, &["results", &id_of(&reference)], &[]);
    let resumed_table = py_ok(d, &python, &["results", &id], &[]);
    assert_eq!(resumed_table, uninterrupted_table, "same statistics");
}

#[test]
fn a_paused_session_resumes_from_its_record_and_streams_its_orders() {
    let (dir, python) = setup();
    let d = dir.path();
    let mut args = sma_args(&example("sma_cross.py"));
    // A weekday's bar every 0.1 s: about 25 s for the year.
    args.extend(["--speed", "864000x"].map(String::from));
    let (mut child, id, mut lines) = start_paper(d, &python, &args, &[]);
    until_line_ref(&mut lines, "day ended");
    let paused = py(d, &python, &["pause", &id], &[]);
    assert!(
        paused.status.success(),
        "{}",
        String::from_utf8_lossy(&paused.stderr)
    );
    let status = child.0.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(3),
        "the foreground session stops as paused"
    );
    let before = record(d, &python, &id);
    let days_before = of_type(&before, "session-day").len();
    assert!(
        (1..200).contains(&days_before),
        "{days_before} days before the pause"
    );

    // Resumed behind a server: the SSE stream carries the order events the record has.
    let mut c = quantd(d);
    c.env("QUANTD_PYTHON", &python);
    let (_server, addr) = serve(c, &["--no-auth"]);
    let (status, body) = http(&addr, "POST", &format!("/v1/executions/{id}/resume"), None);
    assert_eq!(status, 200, "{body}");
    let sse = sse_until_final(&addr, &id);
    let (status, body) = http(&addr, "GET", &format!("/v1/executions/{id}/orders"), None);
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    let events = page["events"].as_array().unwrap();
    assert_eq!(page["next"], Value::Null);
    assert_each_event_once(events);
    assert_eq!(
        &events[..before.len()],
        &before[..],
        "the record before the pause stays"
    );
    let filled_in_stream = sse.matches(r#""status":"filled""#).count();
    assert_eq!(
        filled_in_stream,
        fills(events).len(),
        "every fill streamed once"
    );
    assert!(sse.contains(r#""type":"session-day""#));

    // Same trades as the backtest.
    let backtest = run_json(d, &python, "backtest", &sma_args(&example("sma_cross.py")));
    let (status, body) = http(&addr, "GET", &format!("/v1/executions/{id}/trades"), None);
    assert_eq!(status, 200, "{body}");
    let ours: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ours[0]["trades"], Value::Array(trades(&backtest)));
    // A backtest has no record of orders: the route says so.
    let path = format!("/v1/executions/{}/orders", id_of(&backtest));
    let (status, body) = http(&addr, "GET", &path, None);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("is a backtest, not a paper"), "{body}");
    // Pages: `limit` events each, `next` the `after` of the next, until it is null.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let path = format!("/v1/executions/{id}/orders?limit=100&after={after}");
        let (status, body) = http(&addr, "GET", &path, None);
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        let got = page["events"].as_array().unwrap();
        assert!(got.len() <= 100);
        paged.extend(got.iter().cloned());
        match page["next"].as_u64() {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(&paged, events, "the pages add up to the record");
}

/// The SSE stream of execution `id` from its first event to its final one.
fn sse_until_final(addr: &str, id: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET /v1/executions/{id}/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = s.read(&mut buf).expect("read the stream");
        if n == 0 {
            return out;
        }
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
        if out.contains(r#""type":"execution-completed""#) {
            return out;
        }
        assert!(
            !out.contains(r#""type":"execution-failed""#),
            "the session failed: {out}"
        );
    }
}

#[test]
fn paper_requests_that_cannot_trade_say_why_and_create_nothing() {
    let (dir, python) = setup();
    let d = dir.path();
    let file = example("sma_cross.py");
    for (args, says) in [
        (
            vec!["--file", &file, "--speed", "fast"],
            "`speed`: \"fast\" is not a speed",
        ),
        (
            vec!["--file", &file, "--tickers", "SYN0001,SYN0002"],
            "a paper session trades one ticker, or a portfolio",
        ),
        (
            vec!["--file", &file],
            "the pack has 10 tickers; a paper session trades one",
        ),
        (
            vec![
                "--entry",
                "close > 0",
                "--exit",
                "close < 0",
                "--tickers",
                "SYN0001",
            ],
            "`strategy` is not for kind `paper`",
        ),
    ] {
        let mut all = vec!["paper"];
        all.extend(args.iter().copied());
        let out = py(d, &python, &all, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // A pack whose rights deny derived data: a session would stream its fills.
    deny_u(d, &python);
    let out = py(
        d,
        &python,
        &["paper", "--file", &file, "--tickers", "SYN0001"],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("its data rights (acme) deny exporting derived data"),
        "{err}"
    );
    let history = py_json(d, &python, &["history"]);
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] != "paper"),
        "no paper execution was created: {history}"
    );
}

#[test]
fn a_session_longer_than_its_jobs_wall_limit_goes_on_job_after_job() {
    let (dir, python) = setup();
    let d = dir.path();
    let mut args = sma_args(&example("sma_cross.py"));
    let backtest = run_json(d, &python, "backtest", &args);
    // A weekday's bar every 20 ms: about 6 s in jobs of at most 2 s (handing over at 1.8 s).
    args.extend(["--speed", "4320000x", "--wall-secs", "2"].map(String::from));
    let paper = run_json(d, &python, "paper", &args);
    assert_eq!(
        trades(&paper),
        trades(&backtest),
        "same trades as the backtest"
    );
    let id = id_of(&paper);
    let rec = record(d, &python, &id);
    assert_each_event_once(&rec);
    let shown = py_json(d, &python, &["show", &id]);
    assert_eq!(shown["execution"]["state"], "completed", "{shown}");
    // Each job was a hand-over, not a failed attempt.
    let shard = &shown["shards"][0];
    assert_eq!(shard["attempt"], 1, "{shown}");
    let body = stored_events(d, &id);
    let jobs = body.matches(r#""type":"shard-started""#).count();
    assert!(jobs >= 3, "{jobs} jobs ran the session: {body:.2000}");
}

#[test]
fn a_portfolio_trades_on_paper_as_its_backtest_does() {
    let (dir, python) = setup();
    let d = dir.path();
    let args: Vec<String> = [
        "--file",
        &example("momentum_rotation.py"),
        "--portfolio",
        "--param",
        "lookback=20",
        "--param",
        "top=3",
    ]
    .map(String::from)
    .to_vec();
    let backtest = run_json(d, &python, "backtest", &args);
    let mut paper_args = args.clone();
    paper_args.extend(["--speed", "max"].map(String::from));
    let paper = run_json(d, &python, "paper", &paper_args);
    assert_eq!(
        paper["tickers"], backtest["tickers"],
        "the book and each ticker"
    );
    let rec = record(d, &python, &id_of(&paper));
    assert_each_event_once(&rec);
    assert_positions_follow_fills(&rec);
    let filled: std::collections::BTreeSet<&str> = of_type(&rec, "order")
        .iter()
        .filter(|e| e["status"] == "filled")
        .map(|e| e["ticker"].as_str().unwrap())
        .collect();
    assert!(filled.len() >= 4, "fills name their tickers: {filled:?}");
}

#[test]
fn a_following_session_trades_the_bars_each_new_version_of_its_pack_brings() {
    let (dir, python) = setup();
    let d = dir.path();
    let mut args = sma_args(&example("sma_cross.py"));
    args.extend(["--pack", "u", "--speed", "max", "--follow"].map(String::from));
    let (mut child, id, mut lines) = start_paper(d, &python, &args, &[]);
    until_line_ref(&mut lines, "waiting for new bars of pack `u`");
    let first = record(d, &python, &id);
    let days_first = of_type(&first, "session-day").len();
    assert!(days_first > 200, "{days_first} days on the first version");

    // The daily import: the same name, 40 more days (the synthetic series keeps its past).
    synth_u_seeded(d, 10, 300, 7);
    until_line_ref(&mut lines, "waiting for new bars of pack `u`");
    let second = record(d, &python, &id);
    assert_each_event_once(&second);
    assert_positions_follow_fills(&second);
    let days_second = of_type(&second, "session-day").len();
    assert_eq!(days_second, days_first + 40, "one day per new bar");
    assert_eq!(
        &second[..first.len()],
        &first[..],
        "the record before stays as it was"
    );

    // What the session did over both versions is what a backtest on the longer one does.
    let backtest = run_json(d, &python, "backtest", &sma_args(&example("sma_cross.py")));
    let mut want = backtest_fills(&backtest);
    let mut got = fills(&second);
    want.sort_by(|a, b| a.partial_cmp(b).unwrap());
    got.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(got, want, "the fills of a backtest over the longer pack");
    assert!(
        got.iter().any(|(day, _, _)| day.as_str() > "2015-12-31"),
        "it traded new bars: {got:?}"
    );

    // A following session runs until cancelled.
    py_ok(d, &python, &["cancel", &id], &[]);
    child.0.wait().unwrap();
    assert_eq!(
        py_json(d, &python, &["show", &id])["execution"]["state"],
        "cancelled"
    );
}

#[test]
fn a_session_waiting_longer_than_its_idle_limit_gives_its_worker_back_until_the_bar() {
    let (dir, python) = setup();
    let d = dir.path();
    let mut args = sma_args(&example("sma_cross.py"));
    args.extend(["--from", "2015-10-15"].map(String::from));
    let backtest = run_json(d, &python, "backtest", &args);
    // A weekday's bar every 0.22 s, a weekend's 0.65 s: each weekend is a wait over the 0.3 s
    // a session may hold its worker, so the job hands over and the next starts at the bar.
    args.extend(["--speed", "400000x"].map(String::from));
    let mut all = vec!["--json", "paper"];
    all.extend(strs(&args));
    let started = std::time::Instant::now();
    let out = py(d, &python, &all, &[("QUANTD_PAPER_IDLE_MS", "300")]);
    let took = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paper: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        trades(&paper),
        trades(&backtest),
        "same trades as the backtest"
    );
    let id = id_of(&paper);
    let rec = record(d, &python, &id);
    assert_each_event_once(&rec);
    // The weekends were waited for, not skipped: the session took at least its bars' time
    // span at 400,000x (a lower bound: a slow machine only adds to it).
    let days = of_type(&rec, "session-day");
    let date = |e: &Value| {
        chrono::NaiveDate::parse_from_str(e["date"].as_str().unwrap(), "%Y-%m-%d").unwrap()
    };
    let span = (date(days.last().unwrap()) - date(days[0])).num_days() as f64;
    let paced = span * 86_400.0 / 400_000.0;
    assert!(
        took >= 0.9 * paced,
        "{took:.1} s for {span} days: {paced:.1} s paced"
    );
    let shown = py_json(d, &python, &["show", &id]);
    assert_eq!(
        shown["shards"][0]["attempt"], 1,
        "hand-overs are not attempts"
    );
    let body = stored_events(d, &id);
    let jobs = body.matches(r#""type":"shard-started""#).count();
    // About seven weekends in the window after the warm-up.
    assert!(
        jobs >= 5,
        "{jobs} jobs: each weekend was waited for without a worker"
    );
    // Each job after a Friday started when Monday's bar was due (0.65 s later at this speed),
    // not when the previous one handed over.
    let events: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|l| serde_json::from_str(l.trim()).ok())
        .collect();
    let at = |e: &Value| chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap();
    let mut friday: Option<&Value> = None;
    let mut checked = 0;
    for e in &events {
        match e["type"].as_str() {
            Some("session-day") => friday = Some(e),
            Some("shard-started") => {
                if let Some(f) = friday.take() {
                    let waited = (at(e) - at(f)).num_milliseconds();
                    assert!(waited >= 500, "a job started {waited} ms after {f}");
                    checked += 1;
                }
            }
            _ => {}
        }
    }
    assert!(checked >= 4, "{checked} hand-overs checked");
}

#[test]
fn a_session_whose_pack_comes_under_deny_no_longer_shows_its_fills_anywhere() {
    let (dir, python) = setup();
    let d = dir.path();
    let mut args = sma_args(&example("sma_cross.py"));
    args.extend(["--speed", "max"].map(String::from));
    let id = id_of(&run_json(d, &python, "paper", &args));
    assert!(stored_events(d, &id).contains(r#""status":"filled""#));
    deny_u(d, &python);
    // The stream keeps the execution's own events and leaves out its fills and days.
    let body = stored_events(d, &id);
    assert!(
        body.contains(r#""type":"execution-completed""#),
        "{body:.2000}"
    );
    assert!(
        !body.contains(r#""type":"order""#),
        "fills withheld: {body:.2000}"
    );
    assert!(!body.contains(r#""type":"session-day""#), "days withheld");
    // The record's own doors refuse, naming the provider.
    let (_server, addr) = serve(quantd(d), &["--no-auth"]);
    let (status, body) = http(&addr, "GET", &format!("/v1/executions/{id}/orders"), None);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("acme"), "{body}");
    let out = py(d, &python, &["orders", &id], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("acme"));
}
