//! Crash recovery end to end: a scan in a child process is killed with SIGKILL at several points
//! (after a shard computed but before its commit, right after a commit), resumed, killed again,
//! and finally finished; its rows must equal an uninterrupted run's, with no row stored twice.

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

const EXPR: &str = "let r = rsi(close, 14); r < 45 and close < sma(close, 20)";

/// `quantd` with small scan shards, so a few hundred tickers make many checkpoints.
fn small_shards(data: &Path, args: &[&str]) -> Command {
    let mut c = quantd(data);
    c.env("QUANTD_SHARD_BARS", "20000").args(args);
    c
}

/// Runs with small shards and asserts success.
fn ok_small(data: &Path, args: &[&str]) -> Vec<u8> {
    let out = small_shards(data, args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn execution(data: &Path, id: &str) -> serde_json::Value {
    json(data, &["show", id])
}

#[test]
fn a_scan_killed_at_several_points_finishes_with_the_uninterrupted_rows() {
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
            "300",
            "--days",
            "700",
            "--seed",
            "9",
        ],
    );

    // Reference: uninterrupted.
    let reference = ok_small(d, &["scan", "--expr", EXPR, "--format", "csv"]);
    assert!(reference.len() > 1000);

    // Killed after the first shard computed, before it committed.
    let id = kill_at(
        small_shards(d, &["scan", "--expr", EXPR, "--format", "csv"]),
        "shard-before-commit",
    );
    assert!(id.starts_with("ex_"), "{id}");
    let rec = execution(d, &id);
    assert_eq!(rec["execution"]["state"], "running");
    // Its process is gone: `show` and `history` say interrupted, with the command that resumes.
    assert_eq!(rec["interrupted"], true, "{rec}");
    let shown = ok(d, &["show", &id]);
    assert!(
        shown.contains(&format!("interrupted: it says running, but the process running it is gone; `quantd resume {id}` continues it")),
        "{shown}"
    );
    let history = ok(d, &["history"]);
    let row = history.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(row.contains("interrupted"), "{history}");
    let total = rec["execution"]["shards_total"].as_u64().unwrap();
    assert!(total >= 8, "enough shards to interrupt: {total}");
    assert_eq!(
        rec["execution"]["shards_done"], 0,
        "nothing committed before the kill"
    );

    // Resumed, killed right after its first commit.
    kill_at(small_shards(d, &["resume", &id]), "shard-after-commit");
    let rec = execution(d, &id);
    let done = rec["execution"]["shards_done"].as_u64().unwrap();
    assert!(
        done >= 1 && done < total,
        "some shards committed: {done}/{total}"
    );

    // Resumed again, to the end.
    ok_small(d, &["resume", &id]);
    let rec = execution(d, &id);
    assert_eq!(rec["execution"]["state"], "completed");
    assert_eq!(rec["execution"]["shards_done"].as_u64().unwrap(), total);
    let rows = ok_small(d, &["results", &id, "--format", "csv"]);
    assert_eq!(
        String::from_utf8(rows.clone()).unwrap(),
        String::from_utf8(reference).unwrap(),
        "same rows, same order"
    );
    let lines: Vec<&[u8]> = rows
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .skip(1)
        .collect();
    let unique: std::collections::BTreeSet<&[u8]> = lines.iter().copied().collect();
    assert_eq!(unique.len(), lines.len(), "no row stored twice");
    assert_eq!(
        rec["execution"]["rows"].as_u64().unwrap(),
        lines.len() as u64
    );
}

#[test]
fn pause_from_another_process_and_resume() {
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
            "100",
            "--days",
            "400",
        ],
    );
    // Start detached, pause at once, then resume in the foreground.
    let id = String::from_utf8(ok_small(d, &["scan", "--expr", EXPR, "--detach"]))
        .unwrap()
        .trim()
        .to_string();
    let paused = run(d, &["pause", &id]);
    // The background run may already have finished on a fast machine; both outcomes are legal,
    // but a pause that was accepted must be resumable to completion.
    if paused.status.success() {
        // Shards already running when the pause arrived finish; if they were the last ones the
        // execution completes, and there is nothing left to resume.
        let resumed = small_shards(d, &["resume", &id]).output().unwrap();
        let err = String::from_utf8_lossy(&resumed.stderr);
        assert!(
            resumed.status.success() || err.contains("is completed"),
            "{err}"
        );
    } else {
        assert!(String::from_utf8_lossy(&paused.stderr).contains("completed"));
    }
    for _ in 0..200 {
        if execution(d, &id)["execution"]["state"] == "completed" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(execution(d, &id)["execution"]["state"], "completed");
    let history: serde_json::Value = json(d, &["history", "--kind", "scan"]);
    assert_eq!(history.as_array().unwrap().len(), 1);
}
