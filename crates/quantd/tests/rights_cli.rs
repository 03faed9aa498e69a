//! Data rights through the binary (docs/rights.md): a pack under a `deny` provider gives no
//! derived data on any CLI path (the scan bypass of the review, `--out`, `results`, backtest
//! trades, `data export`, a run's output), while signals and statistics stay readable; a
//! `watermark` provider marks every export; both are in `quantd rights log`.

mod common;
use common::python::{py, py_ok, setup, write};
use common::*;

use std::path::Path;

/// The review's bypass: every bar of the pack as `let` columns.
const BYPASS: &str =
    "let o = open; let h = high; let l = low; let c = close; let v = volume; close > 0";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Pack `u` under provider `name` with `policy`.
fn under(d: &Path, name: &str, policy: &str) {
    ok(
        d,
        &[
            "rights",
            "add",
            name,
            "--export",
            policy,
            "--license",
            "vendor EULA",
            "--attribution",
            "Data courtesy of ACME",
        ],
    );
    ok(d, &["rights", "assign", "u", "--provider", name]);
}

fn scan_id(d: &Path, extra: &[&str]) -> String {
    let mut args = vec!["scan", "--pack", "u", "--expr", BYPASS];
    args.extend_from_slice(extra);
    let v = json(d, &args);
    v["execution"]["id"].as_str().unwrap().to_string()
}

fn log(d: &Path) -> Vec<serde_json::Value> {
    json(d, &["rights", "log"]).as_array().unwrap().clone()
}

#[test]
fn a_deny_provider_refuses_derived_data_on_every_cli_path_and_keeps_signals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_u(d, 4, 60);
    under(d, "acme", "deny");

    // The bypass: refused, nothing printed, the refusal names the provider.
    let out = run(
        d,
        &["scan", "--pack", "u", "--expr", BYPASS, "--format", "csv"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("provider acme deny"),
        "{}",
        stderr(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("SYN0001,"), "no row leaves: {stdout}");

    // To a file: refused, and no file (nor a partial one) is left.
    let file = d.join("rows.parquet");
    let out = run(
        d,
        &[
            "scan",
            "--pack",
            "u",
            "--expr",
            BYPASS,
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(!file.exists() && !d.join("rows.partial").exists());

    // The signals stay readable.
    let signals = ok(
        d,
        &[
            "scan",
            "--pack",
            "u",
            "--expr",
            BYPASS,
            "--format",
            "csv",
            "--signals-only",
        ],
    );
    let mut lines = signals.lines();
    assert_eq!(lines.next(), Some("ticker,date"));
    assert_eq!(
        lines.count(),
        4 * 60,
        "every bar is a signal of `close > 0`"
    );

    // The terminal view shows the signals and says why the columns are missing.
    let out = run(d, &["scan", "--pack", "u", "--expr", BYPASS]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("withheld"), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("ticker") && !header.contains(" o "),
        "{header}"
    );

    // `results` of the stored scan, in any format and to a file.
    let id = scan_id(d, &["--signals-only", "--format", "csv"]);
    for format in ["csv", "json", "ndjson", "md", "parquet"] {
        let out = run(d, &["results", &id, "--format", format]);
        assert!(!out.status.success(), "{format} leaked");
        assert!(stderr(&out).contains("acme"), "{}", stderr(&out));
    }
    let csv = d.join("r.csv");
    let out = run(d, &["results", &id, "--out", csv.to_str().unwrap()]);
    assert!(!out.status.success() && !csv.exists());
    let signals = ok(d, &["results", &id, "--signals-only"]);
    assert!(signals.starts_with("ticker,date\n"), "{signals}");

    // Backtest statistics stay; trades and equity are left out.
    let bt = json(
        d,
        &[
            "backtest",
            "--pack",
            "u",
            "--entry",
            "crosses_above(close, sma(close, 5))",
            "--exit",
            "crosses_below(close, sma(close, 5))",
        ],
    );
    let tickers = bt["tickers"].as_array().unwrap();
    assert_eq!(tickers.len(), 4);
    assert!(
        tickers.iter().all(|t| t["stats"]["# Trades"].is_number()),
        "{bt}"
    );
    assert!(
        tickers
            .iter()
            .all(|t| t["trades"] == serde_json::json!([]) && t["equity"].is_null()),
        "{bt}"
    );

    // The bars themselves.
    let out = run(
        d,
        &[
            "data",
            "export",
            "u",
            "--out",
            d.join("x.csv").to_str().unwrap(),
        ],
    );
    assert!(!out.status.success() && !d.join("x.csv").exists());
    assert!(stderr(&out).contains("provider acme"), "{}", stderr(&out));

    // Every refusal is on the log, with who, what and which provider.
    let entries = log(d);
    let refused: Vec<_> = entries
        .iter()
        .filter(|e| e["action"] == "export.refused")
        .collect();
    assert_eq!(refused.len(), 10, "{entries:#?}");
    assert!(
        refused
            .iter()
            .all(|e| e["provider"] == "acme" && e["workspace"] == "default")
    );
    assert!(
        refused
            .iter()
            .all(|e| e["actor"].as_str().unwrap().starts_with("cli "))
    );
    assert!(
        refused.iter().any(|e| e["detail"] == "scan results as csv"),
        "{refused:#?}"
    );
    assert!(
        refused.iter().any(|e| e["execution"].is_null()),
        "the pack export has no execution"
    );

    // `show` tells who created the scan, what was refused, and the data's terms.
    let shown = json(d, &["show", &id]);
    let audit = shown["audit"].as_array().unwrap();
    assert_eq!(audit[0]["action"], "created", "{audit:#?}");
    assert!(audit[0]["actor"].as_str().unwrap().starts_with("cli "));
    assert!(
        audit[1..].iter().all(|e| e["action"] == "export.refused"),
        "{audit:#?}"
    );
    assert_eq!(shown["terms"]["sources"][0]["provider"], "acme");
    let text = ok(d, &["show", &id]);
    assert!(
        text.contains("data rights  export deny (provider acme); Data courtesy of ACME"),
        "{text}"
    );
}

#[test]
fn a_watermark_provider_marks_every_export_and_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_u(d, 3, 30);
    under(d, "wm", "watermark");

    let out = run(
        d,
        &["scan", "--pack", "u", "--expr", BYPASS, "--format", "csv"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = String::from_utf8(out.stdout.clone()).unwrap();
    let mut lines = csv.lines();
    let mark = lines.next().unwrap();
    assert!(
        mark.starts_with("# quantd watermark: provider wm; workspace default; execution ex_"),
        "{mark}"
    );
    assert!(mark.contains("Data courtesy of ACME"), "{mark}");
    assert_eq!(lines.next(), Some("ticker,date,o,h,l,c,v"));
    assert_eq!(lines.count(), 3 * 30);
    assert!(
        stderr(&out).contains("data: Data courtesy of ACME"),
        "{}",
        stderr(&out)
    );

    let id = scan_id(d, &["--format", "csv"]);
    let v: serde_json::Value =
        serde_json::from_str(&ok(d, &["results", &id, "--format", "json"])).unwrap();
    assert_eq!(v["watermark"]["provider"], "wm");
    assert_eq!(v["watermark"]["execution"], id.as_str());
    assert_eq!(v["rows"].as_array().unwrap().len(), 90);
    let nd = ok(d, &["results", &id, "--format", "ndjson"]);
    let first: serde_json::Value = serde_json::from_str(nd.lines().next().unwrap()).unwrap();
    assert_eq!(first["watermark"]["workspace"], "default");
    let md = ok(d, &["results", &id, "--format", "md"]);
    assert!(md.starts_with("> quantd watermark: provider wm;"), "{md}");

    let pq = d.join("r.parquet");
    ok(d, &["results", &id, "--out", pq.to_str().unwrap()]);
    let bytes = std::fs::read(&pq).unwrap();
    let found = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
    assert!(
        found("quantd.watermark") && found("Data courtesy of ACME"),
        "footer metadata"
    );

    let bars = d.join("bars.csv");
    ok(d, &["data", "export", "u", "--out", bars.to_str().unwrap()]);
    let text = std::fs::read_to_string(&bars).unwrap();
    assert!(
        text.starts_with("# quantd watermark: provider wm; workspace default; pack u ("),
        "{}",
        &text[..200]
    );

    let marked = log(d)
        .into_iter()
        .filter(|e| e["action"] == "export.watermarked")
        .count();
    assert_eq!(marked, 6, "one entry per watermarked export");
}

#[test]
fn providers_are_checked_listed_and_kept_while_packs_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_u(d, 2, 10);
    let out = run(d, &["rights", "assign", "u", "--provider", "nobody"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("provider `nobody` not found"),
        "{}",
        stderr(&out)
    );
    let out = run(d, &["rights", "add", "bad name", "--export", "deny"]);
    assert!(
        stderr(&out).contains("provider name `bad name` is not allowed"),
        "{}",
        stderr(&out)
    );
    let out = run(d, &["rights", "add", "x", "--export", "sometimes"]);
    assert!(
        stderr(&out).contains("use allow, watermark or deny"),
        "{}",
        stderr(&out)
    );

    under(d, "acme", "deny");
    let listed = json(d, &["rights", "list"]);
    assert_eq!(listed[0]["name"], "acme");
    assert_eq!(listed[0]["export"], "deny");
    let show = json(d, &["data", "show", "u"]);
    assert_eq!(show["rights"]["provider"], "acme");
    assert_eq!(show["rights"]["export"], "deny");
    assert_eq!(show["rights"]["attribution"], "Data courtesy of ACME");
    assert_eq!(show["rights"]["export_allowed"], false);

    let out = run(d, &["rights", "rm", "acme"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("named by pack u"), "{}", stderr(&out));
    ok(d, &["rights", "assign", "u", "--none"]);
    ok(d, &["rights", "rm", "acme"]);
    assert_eq!(json(d, &["data", "show", "u"])["rights"]["export"], "allow");
}

#[test]
fn a_licence_limited_to_other_environments_refuses_executions_here() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_u(d, 2, 10);
    ok(
        d,
        &[
            "rights",
            "add",
            "research-only",
            "--environment",
            "research",
        ],
    );
    ok(d, &["rights", "assign", "u", "--provider", "research-only"]);
    let out = quantd(d)
        .env("QUANTD_ENVIRONMENT", "production")
        .args(["scan", "--pack", "u", "--expr", "close > 0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("covers the environments research, not `production`"),
        "{}",
        stderr(&out)
    );
    assert!(
        json(d, &["history"]).as_array().unwrap().is_empty(),
        "nothing was created"
    );
    let ran = quantd(d)
        .env("QUANTD_ENVIRONMENT", "research")
        .args(["scan", "--pack", "u", "--expr", "close > 0"])
        .output()
        .unwrap();
    assert!(ran.status.success(), "{}", stderr(&ran));
}

#[test]
fn a_run_script_cannot_print_the_bars_of_a_deny_pack() {
    let (dir, python) = setup();
    let d = dir.path();
    under(d, "acme", "deny");
    let bot = write(
        d,
        "leak.py",
        r#"import os
import pyarrow as pa
import quantd as qd
with pa.memory_map(os.environ["QUANTD_PACK"], "r") as f:
    bars = pa.ipc.open_file(f).read_all()
for c in bars.column("close").to_pylist()[:5]:
    print("LEAK", c)
qd.result(total_return=1.5, trades=2)
"#,
    );
    let out = py(d, &python, &["run", &bot, "--name", "leak"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("LEAK"), "{stdout}");
    assert!(stderr(&out).contains("withheld"), "{}", stderr(&out));
    assert!(stdout.contains("Return [%]"), "metrics stay: {stdout}");

    let hist = py_ok(d, &python, &["--json", "history", "--name", "leak"], &[]);
    let hist: serde_json::Value = serde_json::from_str(&hist).unwrap();
    let id = hist[0]["id"].as_str().unwrap().to_string();
    let out = py(d, &python, &["results", &id, "--format", "csv"], &[]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("LEAK"));
}

#[test]
fn removing_code_agents_webhooks_and_providers_is_in_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_u(d, 2, 30);
    ok(d, &["code", "add", "dip", "--expr", "close < open"]);
    ok(d, &["rights", "add", "acme", "--export", "allow"]);
    ok(
        d,
        &[
            "agents",
            "add",
            "helper",
            "--url",
            "http://127.0.0.1:9/task",
            "--capability",
            "report",
        ],
    );
    let hook = json(d, &["webhooks", "add", "https://example.invalid/hook"]);
    let hook = hook["id"].as_str().unwrap().to_string();
    ok(d, &["code", "rm", "dip"]);
    ok(d, &["rights", "rm", "acme"]);
    ok(d, &["agents", "rm", "helper"]);
    ok(d, &["webhooks", "remove", &hook]);
    // A removal that removed nothing is not recorded.
    assert!(!run(d, &["code", "rm", "dip"]).status.success());
    let actions = json(d, &["rights", "log", "--actions"]);
    let deleted: Vec<String> = actions
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "deleted")
        .map(|e| {
            assert!(e["actor"].as_str().unwrap().starts_with("cli "), "{e}");
            assert!(e["execution"].is_null(), "{e}");
            e["detail"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        deleted,
        [
            format!("webhook {hook}"),
            "agent `helper`".to_string(),
            "provider `acme`".to_string(),
            "code `dip`".to_string(),
        ],
        "newest first: {actions:#}"
    );
}
