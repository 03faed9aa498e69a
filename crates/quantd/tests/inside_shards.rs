//! Inside a running shard: progress moves before the shard commits, and a pause stops the
//! shard and gives it back to the queue (as a cancel already stopped it).

mod common;
use common::python::{serve_python, setup};
use common::*;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

/// Reads the SSE stream of execution `id` until `pick` accepts an event (the event object:
/// `{"type": …, …}`); returns it.
fn await_event(addr: &str, id: &str, pick: impl Fn(&Value) -> bool) -> Value {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET /v1/executions/{id}/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    for line in BufReader::new(s).lines() {
        let line = line.expect("the stream goes on until the event comes");
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let Ok(record) = serde_json::from_str::<Value>(data.trim()) else {
            continue;
        };
        let event = if record.get("type").is_some() {
            record
        } else {
            record["event"].clone()
        };
        if pick(&event) {
            return event;
        }
    }
    panic!("the stream ended before the event");
}

#[test]
fn a_long_shard_reports_progress_before_it_commits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_u(d, 6, 500);
    // The one shard of this backtest stops for good before its fourth ticker.
    let mut command = quantd(d);
    command.env("QUANTD_FAILPOINT", "backtest-ticker=SYN0004:pause");
    let (_server, addr) = serve(command, &["--no-auth"]);
    let (status, body) = http(
        &addr,
        "POST",
        "/v1/executions",
        Some(&json!({"kind": "backtest", "pack": "u",
            "strategy": {"entry": "close > sma(close, 10)", "exit": "close < sma(close, 10)"}})),
    );
    assert_eq!(status, 202, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["execution"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let progress = await_event(&addr, &id, |e| {
        e["type"] == "progress" && e["bars"].as_u64().is_some_and(|b| b > 0)
    });
    // Three tickers of 500 bars were backtested; nothing was committed.
    assert_eq!(progress["bars"], 1500, "{progress}");
    assert_eq!(progress["done"], 0, "{progress}");
    assert_eq!(progress["total"], 1, "{progress}");
    // `show` in another process sees the running shard's bars too, not the committed 0.
    let shown = json(d, &["show", &id]);
    assert_eq!(shown["execution"]["bars"], 0, "{shown}");
    assert_eq!(shown["bars_so_far"], 1500, "{shown}");
    let text = ok(d, &["show", &id]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("bars") && l.trim_end().ends_with("1,500")),
        "{text}"
    );
}

#[test]
fn a_pause_stops_a_running_shard_and_gives_it_back() {
    let (dir, python) = setup();
    let d = dir.path();
    synth_u(d, 2, 50);
    let (_server, addr) = serve_python(d, &python);
    let script = "import time\nprint('started', flush=True)\ntime.sleep(120)\n";
    let (status, body) = http(
        &addr,
        "POST",
        "/v1/executions",
        Some(&json!({"kind": "run", "pack": "u", "name": "slow", "script": script})),
    );
    assert_eq!(status, 202, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["execution"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    await_event(&addr, &id, |e| e["type"] == "shard-started");
    let (status, body) = http(&addr, "POST", &format!("/v1/executions/{id}/pause"), None);
    assert_eq!(status, 200, "{body}");
    // The two-minute script is stopped now, not when it ends: its shard is pending again,
    // without a failed attempt.
    let deadline = Instant::now() + Duration::from_secs(30);
    let shown = loop {
        let shown = json(d, &["show", &id]);
        if shown["shards"][0]["state"] == "pending" {
            break shown;
        }
        assert!(
            Instant::now() < deadline,
            "the paused shard still runs: {shown}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(shown["execution"]["state"], "paused", "{shown}");
    assert_eq!(shown["execution"]["failed_attempts"], 0, "{shown}");
    let (status, body) = http(&addr, "POST", &format!("/v1/executions/{id}/cancel"), None);
    assert_eq!(status, 200, "{body}");
}
