//! Live sessions end to end (`quantd paper --live`) against an in-process fake of Alpaca's
//! Trading API (the quantd-alpaca crate's test fake; no network): the bars a session starts on
//! place no order; each later bar's trades reach the account as market orders on top of what it
//! held; a session killed between placing an order and recording it sends nothing twice when
//! resumed; the broker's fills come back as events; the three locks (workspace policy,
//! confirmation, broker account) refuse before anything is created; the secret key shows nowhere.

mod common;
#[path = "../../quantd-alpaca/tests/fake/mod.rs"]
mod fake;

use common::python::{of_type, py, py_json, py_ok, record, setup};
use common::*;
use fake::{Fake, KEY, SECRET};
use quantd_alpaca::AlpacaBroker;
use quantd_backtest::broker::{Broker, OrderRequest};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Buys 3 units on every bar whose count ends in 3 and sells 2 on those ending in 7: whole
/// units, so the account's orders are exactly the strategy's, and no order waits at a count
/// ending in 0 (the packs below end there).
const STEPS: &str = r#"import quantd as qd

class Steps(qd.Strategy):
    def next(self):
        n = len(self.data)
        if n % 10 == 3:
            self.buy(size=3)
        elif n % 10 == 7 and self.position.size >= 2:
            self.sell(size=2)
"#;

const TICKER: &str = "SYN0003";

fn broker_env(fake: &Fake) -> Vec<(&'static str, String)> {
    let base = fake.config().base_url;
    vec![
        ("APCA_API_KEY_ID", KEY.to_string()),
        ("APCA_API_SECRET_KEY", SECRET.to_string()),
        ("APCA_API_BASE_URL", base),
    ]
}

fn write_steps(d: &Path) -> String {
    let file = d.join("steps.py");
    std::fs::write(&file, STEPS).unwrap();
    file.to_string_lossy().into_owned()
}

/// `quantd ARGS…` in the background with the broker's environment (and `extra`), its stderr
/// read line by line.
fn spawn(
    d: &Path,
    python: &str,
    fake: &Fake,
    args: &[&str],
    extra: &[(&str, &str)],
) -> (
    KillOnDrop,
    std::io::Lines<BufReader<std::process::ChildStderr>>,
) {
    let mut c = quantd(d);
    c.env("QUANTD_PYTHON", python)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in broker_env(fake) {
        c.env(k, v);
    }
    for (k, v) in extra {
        c.env(k, v);
    }
    let mut child = KillOnDrop(c.spawn().expect("spawn quantd"));
    let lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    (child, lines)
}

/// Reads lines until one contains `needle`; returns it, and everything read, for the secret
/// check.
fn until(
    lines: &mut std::io::Lines<BufReader<std::process::ChildStderr>>,
    needle: &str,
    seen: &mut String,
) -> String {
    for line in lines.by_ref() {
        let line = line.expect("read stderr");
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(needle) {
            return line;
        }
    }
    panic!("stderr ended before a line with `{needle}`; it said:\n{seen}");
}

/// The strategy's units of [`TICKER`] after the trading day of bar `bar` (its session-day).
fn held_after(record: &[Value], bar: u64) -> f64 {
    let day = of_type(record, "session-day")
        .into_iter()
        .find(|e| e["bar"] == bar)
        .unwrap_or_else(|| panic!("no day for bar {bar}"));
    day["positions"][TICKER].as_f64().unwrap_or(0.0)
}

fn last_bar(record: &[Value]) -> u64 {
    of_type(record, "session-day")
        .last()
        .and_then(|e| e["bar"].as_u64())
        .expect("days")
}

/// Signed units of every order posted to the fake after the first `skip`, with the bar in its
/// client order id.
fn posted(fake: &Fake, skip: usize) -> Vec<(u64, f64)> {
    fake.posted()
        .iter()
        .skip(skip)
        .map(|o| {
            assert_eq!(o["symbol"], TICKER);
            assert_eq!(o["type"], "market", "{o}");
            let qty: f64 = o["qty"].as_str().unwrap().parse().unwrap();
            let sign = if o["side"] == "sell" { -1.0 } else { 1.0 };
            let coid = o["client_order_id"].as_str().unwrap();
            let bar = coid.rsplit_once("-c").unwrap().1.parse().unwrap();
            (bar, sign * qty)
        })
        .collect()
}

/// `quantd paper --live` of the steps strategy on one ticker of `u`, following it.
fn live_args(steps: &str) -> Vec<&str> {
    vec![
        "paper",
        "--file",
        steps,
        "--tickers",
        TICKER,
        "--pack",
        "u",
        "--follow",
        "--live",
    ]
}

fn allow_live(d: &Path, python: &str) {
    py_ok(d, python, &["policy", "set", "--live-trading", "true"], &[]);
}

#[test]
fn a_live_session_mirrors_new_bars_to_the_account_and_never_sends_twice() {
    let (dir, python) = setup();
    let d = dir.path();
    let fake = Fake::start();
    allow_live(d, &python);
    let steps = write_steps(d);

    // The account already holds 5 units of the ticker (someone bought them before).
    let mut account = AlpacaBroker::new(fake.config(), vec![TICKER.into()]).unwrap();
    account
        .submit(OrderRequest {
            ticker: 0,
            size: 5.0,
            limit: None,
            stop: None,
            sl: None,
            tp: None,
            tag: None,
            client_id: None,
        })
        .unwrap();
    fake.fill(&fake.last_order_id(), 5.0, 90.0);
    let before = fake.posted().len();

    let args = live_args(&steps);
    let mut seen = String::new();
    let waiting = "waiting for new bars of pack `u`";
    let pause = [("QUANTD_FAILPOINT", "live-submit-266:pause")];
    let (mut child, mut lines) = spawn(d, &python, &fake, &args, &pause);
    let line = until(&mut lines, "execution ex_", &mut seen);
    let id = line
        .trim_start_matches("execution ")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    until(&mut lines, waiting, &mut seen);

    // History: the strategy traded all 260 bars on paper; the account got nothing.
    let first = record(d, &python, &id);
    assert!(
        of_type(&first, "order")
            .iter()
            .any(|e| e["status"] == "filled"),
        "the strategy traded its history"
    );
    let start = of_type(&first, "live-start");
    assert_eq!(start.len(), 1, "{first:?}");
    assert_eq!(start[0]["bar"], 260, "live from the first new bar");
    assert_eq!(start[0]["held"][TICKER], 5.0, "what the account held");
    let base = start[0]["book"][TICKER].as_f64().unwrap_or(0.0);
    assert_eq!(
        base,
        held_after(&first, 259),
        "no order waited at the start"
    );
    assert!(of_type(&first, "live-order").is_empty());
    assert_eq!(fake.posted().len(), before, "no order for history");

    // Three new bars: on the last (the 263rd) the strategy buys 3, and the account gets the
    // order at once, to fill at the next open as the simulation will.
    synth_u_seeded(d, 10, 263, 7);
    until(&mut lines, waiting, &mut seen);
    assert_eq!(posted(&fake, before), vec![(262, 3.0)]);

    // Four more: on the 267th it sells 2. The job is killed right after placing that order,
    // before recording it.
    synth_u_seeded(d, 10, 267, 7);
    until(&mut lines, "failpoint live-submit-266 reached", &mut seen);
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    assert_eq!(posted(&fake, before), vec![(262, 3.0), (266, -2.0)]);
    let submitted = |rec: &[Value]| -> Vec<f64> {
        of_type(rec, "live-order")
            .iter()
            .filter(|e| e["status"] == "submitted")
            .map(|e| e["size"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(
        submitted(&record(d, &python, &id)),
        vec![3.0],
        "the second order was placed but not recorded"
    );

    // Resumed, it replays its record and checks the account: the order is there, nothing is
    // sent again.
    let (mut resumed, mut lines) = spawn(d, &python, &fake, &["resume", &id], &[]);
    until(&mut lines, waiting, &mut seen);
    assert_eq!(posted(&fake, before).len(), 2, "nothing sent twice");

    // The market fills both orders: the session hears it while it waits, with the broker's
    // price.
    let open = fake.open_orders("qd-");
    assert_eq!(open.len(), 2, "nothing filled them yet: {open:?}");
    for (order, units) in open {
        fake.fill(&order, units, 101.25);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let filled = loop {
        let filled: Vec<Value> = of_type(&record(d, &python, &id), "live-order")
            .into_iter()
            .filter(|e| e["status"] == "filled")
            .cloned()
            .collect();
        if filled.len() >= 2 || Instant::now() > deadline {
            break filled;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut fills: Vec<(f64, f64)> = filled
        .iter()
        .map(|e| {
            assert_eq!(e["ticker"], TICKER);
            (e["size"].as_f64().unwrap(), e["price"].as_f64().unwrap())
        })
        .collect();
    fills.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(fills, vec![(-2.0, 101.25), (3.0, 101.25)]);

    // Six more bars: the 273rd buys 3 again. The account ends at the strategy's book on top of
    // what it held: its position plus the order waiting.
    synth_u_seeded(d, 10, 273, 7);
    until(&mut lines, waiting, &mut seen);
    let rec = record(d, &python, &id);
    assert_eq!(last_bar(&rec), 272);
    let sent = posted(&fake, before);
    assert_eq!(sent, vec![(262, 3.0), (266, -2.0), (272, 3.0)]);
    let net: f64 = sent.iter().map(|(_, units)| units).sum();
    assert_eq!(
        net,
        held_after(&rec, 272) + 3.0 - base,
        "the strategy's book gained this"
    );
    assert_eq!(submitted(&rec), vec![3.0, 3.0]);
    let held: f64 =
        fake.open_orders("qd-").iter().map(|(_, u)| u).sum::<f64>() + fake.position(TICKER);
    assert_eq!(held, 5.0 + net);

    py_ok(d, &python, &["cancel", &id], &[]);
    resumed.0.wait().unwrap();

    // The secret key is nowhere: not in the output, the events or the data directory.
    assert!(!seen.contains(SECRET));
    let (_server, addr) = serve(quantd(d), &["--no-auth"]);
    let (status, events) = http(&addr, "GET", &format!("/v1/executions/{id}/events"), None);
    assert_eq!(status, 200);
    assert!(events.contains("live-order") && !events.contains(SECRET));
    assert_no_secret_under(d);
    drop(account);
}

/// Fails if a file under `dir` holds the fake's secret key.
fn assert_no_secret_under(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_no_secret_under(&path);
        } else if let Ok(bytes) = std::fs::read(&path) {
            let found = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
            assert!(!found, "{} holds the secret", path.display());
        }
    }
}

#[test]
fn live_sessions_need_the_workspace_the_confirmation_and_an_account() {
    let (dir, python) = setup();
    let d = dir.path();
    let fake = Fake::start();
    let steps = write_steps(d);
    let live = live_args(&steps);
    let env: Vec<(&str, String)> = broker_env(&fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let count = |d: &Path| {
        py_json(d, &python, &["history"])
            .as_array()
            .map_or(0, Vec::len)
    };

    // The workspace is not allowed.
    let out = py(d, &python, &live, &env);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("may not trade live") && err.contains("--live-trading true"),
        "{err}"
    );
    // `--live` without `--follow` is refused by the CLI itself.
    let unfollowed = [
        "paper",
        "--file",
        &steps,
        "--tickers",
        TICKER,
        "--pack",
        "u",
        "--live",
    ];
    let out = py(d, &python, &unfollowed, &env);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--follow"));

    allow_live(d, &python);
    // No broker account where it runs.
    let out = py(d, &python, &live, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no broker account") && err.contains("APCA_API_KEY_ID"),
        "{err}"
    );
    assert_eq!(count(d), 0, "nothing was created");

    // Over the API: no confirmation → 422; a workspace token may not allow itself; MCP
    // agents may not start one.
    let mut server = quantd(d);
    for (k, v) in &env {
        server.env(k, v);
    }
    let (_server, addr) = serve(server, &["--no-auth"]);
    let body = serde_json::json!({"kind": "live", "python": STEPS, "tickers": [TICKER],
        "pack": "u", "follow": true});
    let (status, text) = http(&addr, "POST", "/v1/executions", Some(&body));
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("confirm_live"), "{text}");
    let mut with_speed = body.clone();
    with_speed["confirm_live"] = true.into();
    with_speed["speed"] = "60x".into();
    let (status, text) = http(&addr, "POST", "/v1/executions", Some(&with_speed));
    assert!(
        status == 400 || status == 422,
        "a live session has no speed: {status} {text}"
    );
    assert!(text.contains("speed"), "{text}");
    assert_eq!(count(d), 0, "nothing was created");
    assert!(!text.contains(SECRET));
}
