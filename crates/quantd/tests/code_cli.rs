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
