//! Patterns from the CLI: `code add --pattern`, `pattern run` with its steps and report, and
//! `kill -9` at several points of a run followed by `quantd resume`, which must give the report of
//! an uninterrupted run with each step's child created once.

mod common;

use common::{json, kill_at, ok, quantd, synth_u};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const PATTERN: &str = r#"{
  "inputs": {"min": {"type": "number", "default": 0}},
  "steps": [
    {"id": "a", "kind": "scan", "pack": "u", "expr": "close > sma(close, 10)", "cache": false},
    {"id": "b", "kind": "scan", "pack": "u", "expr": "close > sma(close, 20)", "needs": ["a"], "cache": false},
    {"id": "top", "select": {"from": "{{ state.b.outputs.by_ticker }}", "sort_by": "signals", "limit": 2, "field": "ticker"}},
    {"id": "bt", "kind": "backtest", "pack": "u", "tickers": "{{ state.top.outputs.values }}", "cache": false,
     "strategy": {"entry": "close > sma(close, 10)", "exit": "close < sma(close, 10)"},
     "if": "state.a.outputs.signals > inputs.min"}
  ]
}"#;

fn setup(d: &Path) {
    synth_u(d, 4, 300);
    let file = d.join("routine.json");
    std::fs::write(&file, PATTERN).unwrap();
    ok(
        d,
        &[
            "code",
            "add",
            "routine",
            "--pattern",
            file.to_str().unwrap(),
        ],
    );
}

/// Each step's status and outputs in a report.
fn steps(report: &Value) -> BTreeMap<String, (String, Value)> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                (
                    s["status"].as_str().unwrap().to_string(),
                    s["outputs"].clone(),
                ),
            )
        })
        .collect()
}

/// How many child executions each step of pattern `id` has.
fn children(d: &Path, id: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in json(d, &["history", "--steps", "--limit", "100"])
        .as_array()
        .unwrap()
    {
        if e["parent_id"].as_str() == Some(id) {
            let step = e["parent_step"].as_str().unwrap().to_string();
            *out.entry(step).or_insert(0) += 1;
        }
    }
    out
}

#[test]
fn a_pattern_runs_from_the_cli_and_resumes_after_kill_9_at_any_point() {
    let reference = tempfile::tempdir().unwrap();
    let d = reference.path();
    setup(d);
    let out = quantd(d)
        .args(["pattern", "run", "routine", "--input", "min=0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in [
        "✓ a completed",
        "✓ b completed",
        "✓ top completed",
        "✓ bt completed",
    ] {
        assert!(stderr.contains(line), "no `{line}` in:\n{stderr}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("| bt | backtest | completed |"), "{stdout}");
    let id = json(d, &["history", "--kind", "pattern"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let want = steps(&json(d, &["results", &id]));
    assert_eq!(want["bt"].0, "completed");
    let shown = ok(d, &["show", &id]);
    assert!(
        shown.contains("level 0") && shown.contains("✓ bt (backtest) completed"),
        "{shown}"
    );
    // Children are hidden from history unless asked.
    let top = json(d, &["history"]);
    assert_eq!(top.as_array().unwrap().len(), 1, "{top}");

    for point in [
        "pattern-child-created",
        "pattern-steps-recorded",
        "shard-before-commit",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        setup(d);
        let mut run = quantd(d);
        run.args(["pattern", "run", "routine", "--input", "min=0"]);
        // The first steps start while the pattern is submitted, before its id is printed.
        let _ = kill_at(run, point);
        let id = json(d, &["history", "--kind", "pattern"])[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        ok(d, &["resume", &id]);
        let got = steps(&json(d, &["results", &id]));
        assert_eq!(got, want, "after kill -9 at {point}");
        let each = children(d, &id);
        assert_eq!(
            each.keys().cloned().collect::<Vec<_>>(),
            vec!["a@1", "b@1", "bt@1"],
            "{point}: {each:?}"
        );
        assert!(
            each.values().all(|n| *n == 1),
            "{point}: a step's child was made twice: {each:?}"
        );
    }
}

#[test]
fn retry_runs_a_pattern_again_from_a_step() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    ok(d, &["pattern", "run", "routine"]);
    let id = json(d, &["history", "--kind", "pattern"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = quantd(d)
        .args(["retry", &id, "--from", "top"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = json(d, &["history", "--kind", "pattern"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(again, id);
    let report = json(d, &["results", &again]);
    assert_eq!(report["retry_of"], Value::String(id.clone()));
    let by_id: BTreeMap<String, Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_string(), s.clone()))
        .collect();
    assert_eq!(by_id["a"]["reused_from"], Value::String(id.clone()));
    assert_eq!(by_id["top"]["attempt"], 2);
    assert_eq!(by_id["bt"]["attempt"], 2);
    let out = quantd(d)
        .args(["retry", &id, "--from", "tpo"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no step `tpo`") && err.contains("top"),
        "{err}"
    );
}
