//! `quantd code …`: immutable versions, NAME / NAME@N resolution, rollback, removal, validation.

mod common;
use common::*;

#[test]
fn versions_are_immutable_and_names_resolve_and_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v1 = json(
        d,
        &["code", "add", "dip", "--expr", "rsi(close, 14) < $rsi_max"],
    );
    assert_eq!(v1["version"]["version"], 1);
    assert_eq!(v1["version"]["params"], serde_json::json!(["rsi_max"]));
    let again = json(
        d,
        &["code", "add", "dip", "--expr", "rsi(close, 14) < $rsi_max"],
    );
    assert_eq!(again["unchanged"], true, "same content adds no version");
    let v2 = json(d, &["code", "add", "dip", "--expr", "rsi(close, 14) < 25"]);
    assert_eq!(v2["version"]["version"], 2);
    assert_ne!(v2["version"]["id"], v1["version"]["id"]);

    assert_eq!(json(d, &["code", "show", "dip"])["version"], 2);
    assert_eq!(
        json(d, &["code", "show", "dip@1"])["source"],
        "rsi(close, 14) < $rsi_max"
    );
    assert_eq!(json(d, &["code", "rollback", "dip"])["version"], 1);
    assert_eq!(
        json(d, &["code", "show", "dip"])["version"],
        1,
        "NAME follows the rollback"
    );
    assert_eq!(
        json(d, &["code", "rollback", "dip", "--to", "2"])["version"],
        2
    );

    let out = run(d, &["code", "rm", "dip"]);
    assert!(out.status.success());
    let gone = run(d, &["code", "show", "dip"]);
    assert!(!gone.status.success());
    assert!(
        String::from_utf8_lossy(&gone.stderr)
            .contains("was removed; its versions are still `dip@1` to `dip@2`")
    );
    assert_eq!(
        json(d, &["code", "show", "dip@2"])["version"],
        2,
        "old versions stay readable"
    );
    assert_eq!(json(d, &["code", "list"]), serde_json::json!([]));
}

#[test]
fn invalid_code_is_refused_before_it_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run(
        d,
        &["code", "add", "bad", "--expr", "close > smaa(close, 5)"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `sma`?"));
    let out = run(
        d,
        &[
            "code",
            "add",
            "strat",
            "--entry",
            "close > 1",
            "--exit",
            "close + 1",
        ],
    );
    assert!(
        !out.status.success(),
        "a numeric exit condition is a type error"
    );
    assert_eq!(json(d, &["code", "list"]), serde_json::json!([]));
    let ok = json(
        d,
        &[
            "code",
            "add",
            "strat",
            "--entry",
            "crosses_above(close, sma(close, $n))",
            "--exit",
            "close < sma(close, $n)",
        ],
    );
    assert_eq!(ok["version"]["language"], "strategy");
}

#[test]
fn scans_run_stored_code_by_name_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    json(
        d,
        &[
            "data",
            "synth",
            "--name",
            "u",
            "--tickers",
            "10",
            "--days",
            "300",
        ],
    );
    json(d, &["code", "add", "up", "--expr", "close > sma(close, 5)"]);
    json(
        d,
        &["code", "add", "up", "--expr", "close > sma(close, 50)"],
    );
    let latest = json(d, &["scan", "--code", "up"]);
    let first = json(d, &["scan", "--code", "up@1"]);
    let inline = json(d, &["scan", "--expr", "close > sma(close, 5)"]);
    assert_eq!(first["summary"]["signals"], inline["summary"]["signals"]);
    assert_ne!(first["summary"]["signals"], latest["summary"]["signals"]);
}

/// `quantd code add NAME --file F.py` with the reference Python.
fn add_python(d: &std::path::Path, name: &str, code: &str) -> std::process::Output {
    let file = d.join(format!("{name}.py"));
    std::fs::write(&file, code).unwrap();
    quantd(d)
        .env("QUANTD_PYTHON", reference_python())
        .args(["--json", "code", "add", name, "--file"])
        .arg(&file)
        .output()
        .unwrap()
}

#[test]
fn python_code_is_validated_in_the_sandbox_before_it_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scanner = "import quantd as qd\n\n@qd.scanner(params={\"n\": 20})\ndef up(bars, n):\n    return bars.close > bars.close.rolling(n).mean()\n";
    let cases = [
        ("syntax", "def (\n".to_string(), ["syntax error", "--> 1:5"]),
        (
            "imports_os",
            format!("import os\n{scanner}"),
            ["import of 'os' is not allowed", "--> 1:1"],
        ),
        (
            "imports_ctypes",
            scanner.replace(
                "import quantd as qd\n",
                "import quantd as qd\nfrom ctypes import CDLL\n",
            ),
            ["import of 'ctypes' is not allowed", "--> 2:1"],
        ),
        (
            "no_entry",
            "import quantd as qd\n\ndef up(bars):\n    return bars.close > 0\n".to_string(),
            ["no entry point", "@qd.scanner(params="],
        ),
    ];
    for (name, code, expect) in &cases {
        let out = add_python(d, name, code);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} was stored");
        for e in expect {
            assert!(stderr.contains(e), "{name}: {e:?} not in:\n{stderr}");
        }
    }
    assert_eq!(
        json(d, &["code", "list"]),
        serde_json::json!([]),
        "nothing stored"
    );

    let out = add_python(d, "up", scanner);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added["version"]["language"], "python");
    assert_eq!(added["version"]["params"], serde_json::json!(["n"]));
}

#[test]
fn python_code_is_refused_when_the_sandbox_cannot_validate_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("s.py");
    std::fs::write(
        &file,
        "import quantd as qd\n@qd.scanner()\ndef s(bars):\n    return bars.close > 0\n",
    )
    .unwrap();
    let out = quantd(d)
        .env("QUANTD_PYTHON", d.join("no-such-python"))
        .args(["code", "add", "s", "--file"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "stored without validation");
    assert!(
        stderr.contains("Python code is validated in the sandbox, which could not run"),
        "{stderr}"
    );
    assert!(stderr.contains("no-such-python"), "says why: {stderr}");
    assert_eq!(json(d, &["code", "list"]), serde_json::json!([]));
}

#[test]
fn names_that_could_shadow_ids_or_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["..", ".", ".x", "deadbeef", "0123456789abcdef"] {
        let out = run(d, &["code", "add", name, "--expr", "close > 1"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} was accepted");
        assert!(stderr.contains("is not allowed"), "{name}: {stderr}");
    }
    assert_eq!(json(d, &["code", "list"]), serde_json::json!([]));
    json(d, &["code", "add", "s-deadbeef", "--expr", "close > 1"]);
}

#[test]
fn patterns_are_added_from_a_file_and_shown_with_their_levels() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("routine.json");
    std::fs::write(
        &file,
        r#"{"steps": [
            {"id": "scan", "kind": "scan", "expr": "close > 1"},
            {"id": "test", "kind": "test", "expr": "close > 1", "examples": []},
            {"id": "bt", "kind": "backtest", "strategy": {"entry": "close > 1", "exit": "close < 1"},
             "tickers": "{{ state.scan.outputs.tickers }}", "needs": ["test"]}
        ]}"#,
    )
    .unwrap();
    let out = ok(
        d.path(),
        &[
            "code",
            "add",
            "routine",
            "--pattern",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.contains("routine@1"), "{out}");
    let shown = ok(d.path(), &["code", "show", "routine"]);
    assert!(
        shown.contains("level 0: scan, test\nlevel 1: bt"),
        "{shown}"
    );
    std::fs::write(
        &file,
        r#"{"steps": [{"id": "a", "kind": "scan", "needs": ["b"]}]}"#,
    )
    .unwrap();
    let bad = run(
        d.path(),
        &["code", "add", "other", "--pattern", file.to_str().unwrap()],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("steps[0].needs[0]: no step `b`"), "{err}");
}
