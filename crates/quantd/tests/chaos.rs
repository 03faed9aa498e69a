//! Chaos: a server with 2 workers receives, from workspace B, one of each poison — a job that
//! panics, an absurd run timeout, an absurd sweep grid, thousands of `let`s, results far over the
//! limit — while workspace A runs scans. A's scans all complete, the server never exits,
//! `/health/ready` stays truthful (ready, 2 live workers) the whole time, and after a restart
//! nothing crash-loops: the poisons stay failed and nothing is left in the queue.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// Creates a token of `workspace` and returns it.
fn token(data: &Path, workspace: &str) -> String {
    let out = ok(data, &["tokens", "create", "--workspace", workspace]);
    out.lines()
        .next()
        .expect("the token line")
        .trim()
        .to_string()
}

/// The server under test: 2 workers, a panic armed for ticker PANIC, results bounded at 200 KB.
fn start(data: &Path) -> (KillOnDrop, String) {
    let mut command = quantd(data);
    command
        .env("QUANTD_FAILPOINT", "scan-ticker=PANIC:panic")
        .env("QUANTD_MAX_RESULT_BYTES", "200000");
    serve(command, &["--workers", "2"])
}

/// `v` as text, cut to a few hundred characters (bodies echo requests of many kilobytes).
fn short(v: &Value) -> String {
    let s = v.to_string();
    s.chars().take(400).collect()
}

fn submit(addr: &str, token: &str, body: Value) -> (u16, Value) {
    let (status, text) = http_as(addr, Some(token), "POST", "/v1/executions", Some(&body));
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn state(addr: &str, token: &str, id: &str) -> Value {
    let (_, body) = http_as(
        addr,
        Some(token),
        "GET",
        &format!("/v1/executions/{id}"),
        None,
    );
    serde_json::from_str(&body).expect("an execution")
}

/// `/health/ready` must say ready with 2 live workers.
fn assert_ready(addr: &str) {
    let (status, body) = http(addr, "GET", "/health/ready", None);
    let v: Value = serde_json::from_str(&body).expect("a readiness body");
    assert_eq!(status, 200, "{}", &body);
    assert_eq!(v["workers"], 2, "{}", &body);
}

/// Polls until every execution in `ids` has ended (bounded: 120 s), checking readiness on the way.
fn wait_ended(addr: &str, token: &str, ids: &[String]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert_ready(addr);
        let all: Vec<Value> = ids.iter().map(|id| state(addr, token, id)).collect();
        if all.iter().all(|r| {
            matches!(
                r["state"].as_str(),
                Some("completed" | "failed" | "cancelled")
            )
        }) {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "executions did not end: {}",
            short(&Value::Array(all.clone()))
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn poison_from_one_workspace_does_not_stop_the_server_or_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "data",
            "synth",
            "--name",
            "u",
            "--tickers",
            "40",
            "--days",
            "300",
            "--seed",
            "7",
        ],
    );
    let csv = d.join("poison.csv");
    let mut rows = String::from("ticker,date,open,high,low,close,volume\n");
    for day in 1..=28 {
        rows += &format!("PANIC,2024-02-{day:02},10,11,9,10.5,1000\n");
    }
    std::fs::write(&csv, rows).unwrap();
    ok(
        d,
        &["data", "import", csv.to_str().unwrap(), "--name", "poison"],
    );
    let (a, b) = (token(d, "a"), token(d, "b"));
    let (mut server, addr) = start(d);
    assert_ready(&addr);

    // Workspace B's poisons.
    let (status, body) = submit(
        &addr,
        &b,
        json!({"kind": "scan", "expr": "close > 0", "pack": "poison"}),
    );
    assert_eq!(
        status,
        202,
        "the panicking job is accepted: it fails alone ({})",
        short(&body)
    );
    let panicking = body["execution"]["id"].as_str().unwrap().to_string();
    let (status, body) = submit(
        &addr,
        &b,
        json!({"kind": "run", "script": "print(1)", "timeout": 9223372036854775807u64, "pack": "u"}),
    );
    assert_eq!(status, 422, "{}", short(&body));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("max_run_timeout_secs"),
        "{body}"
    );
    let (status, body) = submit(
        &addr,
        &b,
        json!({"kind": "sweep", "pack": "u", "tickers": ["SYN0001"],
               "strategy": {"entry": "close > sma(close, $fast)", "exit": "close < sma(close, $slow)"},
               "grid": ["fast=1..100000:1", "slow=1..100000:1"]}),
    );
    assert_eq!(status, 422, "{}", short(&body));
    assert!(
        body["detail"].as_str().unwrap().contains("max_param_sets"),
        "{body}"
    );
    let lets: String = (0..10_000)
        .map(|i| format!("let v{i} = close + {i};\n"))
        .collect();
    let (status, body) = submit(
        &addr,
        &b,
        json!({"kind": "scan", "expr": lets + "v9999 > 0", "pack": "u"}),
    );
    assert_eq!(
        status,
        422,
        "thousands of lets are refused at the door: {}",
        short(&body)
    );
    let many: String = (0..50)
        .map(|i| format!("let v{i} = close + {i};\n"))
        .collect();
    let (status, body) = submit(
        &addr,
        &b,
        json!({"kind": "scan", "expr": many + "close > 0", "pack": "u"}),
    );
    assert_eq!(status, 202, "{}", short(&body));
    let giant = body["execution"]["id"].as_str().unwrap().to_string();

    // Workspace A's scans, meanwhile.
    let mut scans = vec![];
    for threshold in [0.5, 1.0, 2.0, 5.0, 10.0] {
        let (status, body) = submit(
            &addr,
            &a,
            json!({"kind": "scan", "expr": format!("close > sma(close, 20) * (1 + {threshold} / 100)"), "pack": "u"}),
        );
        assert_eq!(status, 202, "{}", short(&body));
        scans.push(body["execution"]["id"].as_str().unwrap().to_string());
    }
    for rec in wait_ended(&addr, &a, &scans) {
        assert_eq!(rec["state"], "completed", "{}", short(&rec));
    }
    let ended = wait_ended(&addr, &b, &[panicking.clone(), giant.clone()]);
    assert_eq!(ended[0]["state"], "failed", "{}", short(&ended[0]));
    assert!(
        ended[0]["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("quarantined")
            || ended[0].to_string().contains("quarantined"),
        "{}",
        short(&ended[0])
    );
    assert_eq!(ended[1]["state"], "failed", "{}", short(&ended[1]));
    assert!(
        ended[1].to_string().contains("max_result_bytes"),
        "{}",
        short(&ended[1])
    );
    assert!(
        server.0.try_wait().unwrap().is_none(),
        "the server is still running"
    );

    // Killed and started again: nothing is resumed into a crash loop.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let (_server, addr) = start(d);
    assert_ready(&addr);
    std::thread::sleep(Duration::from_millis(600)); // a few idle polls of the pool
    assert_ready(&addr);
    assert_eq!(state(&addr, &b, &panicking)["state"], "failed");
    let admin = ok(d, &["tokens", "create", "--workspace", "ops", "--admin"]);
    let admin = admin.lines().next().unwrap().trim();
    let (status, metrics) = http_as(&addr, Some(admin), "GET", "/metrics", None);
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metrics.contains("quantd_queue_depth 0\n"),
        "nothing left to run: {metrics}"
    );
}
