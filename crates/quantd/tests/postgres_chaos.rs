//! Chaos on Postgres: one API node and three workers on hosts of their own (data directories
//! sharing one Postgres database and one pack store), running a sweep while things go wrong:
//! - worker 1 freezes (SIGSTOP) holding a shard, just before committing it, until its lease
//!   expires and another worker has run that shard; continued (SIGCONT), its late commit is
//!   refused (fenced by owner and claim) and nothing is written twice;
//! - worker 2 is killed (SIGKILL) holding a shard;
//! - the Postgres server restarts while worker 3 runs the rest: every process reconnects and the
//!   sweep completes;
//!
//! and the results equal, byte for byte, those of the same sweep run in one process on SQLite.
//! The server is the test's own (initdb in a temporary directory), so restarting it disturbs no
//! other test.

mod common;
use common::pg::PrivatePg;
use common::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ENTRY: &str = "crosses_above(sma(close, $fast), sma(close, $slow))";
const EXIT: &str = "crosses_below(sma(close, $fast), sma(close, $slow))";
const TICKERS: u64 = 600;
const SETS: u64 = 9;
const SYNTH: [&str; 10] = [
    "data",
    "synth",
    "--name",
    "u",
    "--tickers",
    "600",
    "--days",
    "300",
    "--seed",
    "8",
];

/// `quantd` on host `data`, on the shared database and pack store, with 3-second leases.
fn host(data: &Path, url: &str, store: &Path) -> Command {
    let mut c = quantd(data);
    c.env("QUANTD_DATABASE_URL", url)
        .env("QUANTD_PACK_STORE", format!("file://{}", store.display()))
        .env("QUANTD_LEASE_SECS", "3");
    c
}

/// Starts a worker; its stderr lines arrive on the returned channel.
fn worker(mut c: Command, failpoint: Option<&str>) -> (KillOnDrop, mpsc::Receiver<String>) {
    if let Some(f) = failpoint {
        c.env("QUANTD_FAILPOINT", f);
    }
    let mut child = KillOnDrop(
        c.args(["worker", "--workers", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a worker"),
    );
    let (tx, rx) = mpsc::channel();
    let err = child.0.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a line containing `text` from `lines`.
fn expect_line(lines: &mpsc::Receiver<String>, text: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(text) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with `{text}` within {within:?}: {e}"),
        }
    }
}

fn signal(child: &KillOnDrop, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.0.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} failed");
}

/// The execution as the API node shows it, or `None` while the node cannot answer (the
/// database restarting).
fn progress(addr: &str, id: &str) -> Option<Value> {
    let (status, body) = http(addr, "GET", &format!("/v1/executions/{id}"), None);
    (status == 200).then(|| serde_json::from_str(&body).expect("JSON"))
}

fn wait_for(addr: &str, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(v) = progress(addr, id)
            && done(&v)
        {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {:?}",
            progress(addr, id)
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn workers_frozen_killed_and_cut_off_by_a_restart_still_give_the_single_process_results() {
    let root = tempfile::tempdir().unwrap();
    let dir = |name: &str| root.path().join(name);

    // The reference: the same sweep in one process on SQLite.
    let reference = dir("reference");
    ok(&reference, &SYNTH);
    let sweep_args = [
        "sweep",
        "--entry",
        ENTRY,
        "--exit",
        EXIT,
        "--param",
        "fast=5..15:5",
        "--param",
        "slow=20..40:10",
    ];
    let mut args = vec!["--json"];
    args.extend(sweep_args);
    let ran: Value = serde_json::from_str(&ok(&reference, &args)).unwrap();
    let ref_id = ran["execution"].as_str().unwrap().to_string();
    let want_csv = ok(&reference, &["results", &ref_id, "--format", "csv"]);

    let mut pg = PrivatePg::start();
    let url = pg.url();
    let store = dir("store");
    let (api_dir, w1_dir, w2_dir, w3_dir) = (dir("api"), dir("w1"), dir("w2"), dir("w3"));
    let out = host(&api_dir, &url, &store).args(SYNTH).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_api, addr) = serve(
        host(&api_dir, &url, &store),
        &["--workers", "0", "--no-auth"],
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

    // Worker 1 freezes itself (SIGSTOP) with its first shard run and not committed.
    let (frozen, frozen_log) = worker(
        host(&w1_dir, &url, &store),
        Some("shard-before-commit:stop"),
    );
    expect_line(
        &frozen_log,
        "failpoint shard-before-commit reached",
        Duration::from_secs(120),
    );
    // Worker 2 stops at the same point, and is killed there.
    let (mut killed, killed_log) = worker(
        host(&w2_dir, &url, &store),
        Some("shard-before-commit:pause"),
    );
    expect_line(
        &killed_log,
        "failpoint shard-before-commit reached",
        Duration::from_secs(120),
    );
    killed.0.kill().unwrap();
    killed.0.wait().unwrap();
    let total = progress(&addr, &id).unwrap()["progress"]["total"]
        .as_u64()
        .unwrap();
    assert!(
        total >= 20,
        "enough shards to restart the database mid-run: {total}"
    );

    // Worker 3 runs the rest; the database restarts under it once it has committed a shard.
    let (_third, third_log) = worker(host(&w3_dir, &url, &store), None);
    std::thread::spawn(move || third_log.iter().for_each(|l| eprintln!("w3: {l}")));
    let at_restart = wait_for(&addr, &id, "worker 3 commits a shard", |v| {
        v["progress"]["done"].as_u64().unwrap_or(0) >= 1
    });
    pg.stop();
    // While the database is away the API node says so, and when to try again.
    let (status, body) = http(&addr, "GET", &format!("/v1/executions/{id}"), None);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("store-unavailable"), "{body}");
    pg.resume();
    eprintln!(
        "restarted Postgres with {}/{total} shards done",
        at_restart["progress"]["done"]
    );
    assert_ne!(
        at_restart["state"], "completed",
        "the sweep ended before the restart; make it longer"
    );
    let done = wait_for(&addr, &id, "the sweep completes", |v| {
        v["state"] == "completed" || v["state"] == "failed"
    });
    assert_eq!(done["state"], "completed", "{done}");

    // Worker 1 comes back: its commit of a shard another worker has since committed is refused.
    signal(&frozen, "-CONT");
    expect_line(&frozen_log, "lease lost", Duration::from_secs(60));

    let got_csv = String::from_utf8(
        host(&api_dir, &url, &store)
            .args(["results", &id, "--format", "csv"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        got_csv == want_csv,
        "the results differ from the single-process run:\n{got_csv}\n{want_csv}"
    );
    let got = host(&api_dir, &url, &store)
        .args(["--json", "results", &id])
        .output()
        .unwrap();
    let got: Value = serde_json::from_slice(&got.stdout).expect("JSON results");
    assert_eq!(
        got["backtests"],
        TICKERS * SETS,
        "every (ticker, set) once: {got}"
    );
    // Each worker fetched the pack into its own empty cache from the store, checked.
    for w in [&w1_dir, &w3_dir] {
        assert_eq!(std::fs::read_dir(w.join("packs")).unwrap().count(), 1);
    }
}
