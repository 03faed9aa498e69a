//! Many processes on one data directory: `quantd serve` (the API only) and two `quantd worker`s
//! share the queue. One worker is killed with SIGKILL in the middle of a sweep while it holds a
//! shard; the other gives that shard back to the queue and runs it, and the sweep ends with the
//! results of an uninterrupted run: every (ticker, parameter set) once.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

const ENTRY: &str = "crosses_above(sma(close, $fast), sma(close, $slow))";
const EXIT: &str = "crosses_below(sma(close, $fast), sma(close, $slow))";

#[test]
fn a_worker_killed_mid_sweep_loses_nothing_and_doubles_nothing() {
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
            "150",
            "--days",
            "300",
            "--seed",
            "8",
        ],
    );
    // The uninterrupted reference, run here in the foreground.
    let reference: Value = serde_json::from_str(&ok(
        d,
        &[
            "--json",
            "sweep",
            "--entry",
            ENTRY,
            "--exit",
            EXIT,
            "--param",
            "fast=5..15:5",
            "--param",
            "slow=20..40:10",
            "--maximize",
            "Return [%]",
            "--top",
            "20",
        ],
    ))
    .unwrap();
    let ref_id = reference["execution"].as_str().unwrap().to_string();

    let (_server, addr) = serve(quantd(d), &["--workers", "0", "--no-auth"]);
    // The first worker stops before committing its first shard: it holds that shard's lease.
    let mut doomed = KillOnDrop(
        quantd(d)
            .args(["worker", "--workers", "1"])
            .env("QUANTD_FAILPOINT", "shard-before-commit:pause")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (status, body) = http(
        &addr,
        "POST",
        "/v1/executions",
        Some(&json!({"kind": "sweep", "pack": "u",
            "strategy": {"entry": ENTRY, "exit": EXIT},
            "grid": ["fast=5..15:5", "slow=20..40:10"]})),
    );
    assert_eq!(status, 202, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let id = v["execution"]["id"].as_str().unwrap().to_string();
    let mut err = BufReader::new(doomed.0.stderr.take().unwrap()).lines();
    loop {
        let line = err
            .next()
            .expect("the worker reaches its failure point")
            .unwrap();
        if line.contains("failpoint shard-before-commit reached") {
            break;
        }
    }
    std::thread::spawn(move || for _ in err {});
    // The second worker runs the other shards; then the first one dies holding its shard.
    let _worker = KillOnDrop(
        quantd(d)
            .args(["worker", "--workers", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = http(&addr, "GET", &format!("/v1/executions/{id}"), None);
        let rec: Value = serde_json::from_str(&body).unwrap();
        let total = rec["progress"]["total"].as_u64().unwrap();
        if rec["progress"]["done"].as_u64().unwrap() + 1 == total {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second worker did not run the rest: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A live worker holds the last shard: the execution is running, not interrupted.
    let shown = json(d, &["show", &id]);
    assert_eq!(shown["interrupted"], false, "{shown}");
    doomed.0.kill().unwrap();
    doomed.0.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = http(&addr, "GET", &format!("/v1/executions/{id}"), None);
        let rec: Value = serde_json::from_str(&body).unwrap();
        if rec["state"] == "completed" {
            break;
        }
        assert!(rec["state"] == "running", "{body}");
        assert!(
            Instant::now() < deadline,
            "the killed worker's shard never ran again: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut got: Value = serde_json::from_str(&ok(d, &["--json", "results", &id])).unwrap();
    let mut expected: Value =
        serde_json::from_str(&ok(d, &["--json", "results", &ref_id])).unwrap();
    assert_eq!(got["backtests"], 150 * 9, "every (ticker, set) once");
    got["execution"] = Value::Null;
    expected["execution"] = Value::Null;
    assert_eq!(got, expected, "the uninterrupted sweep's results");
}
