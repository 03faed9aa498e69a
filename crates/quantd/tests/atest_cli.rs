//! `quantd test`: the A+ example test, checked against the scan's own signals.

mod common;
use common::*;

const EXPR: &str = "crosses_above(close, sma(close, 20))";

#[test]
fn examples_taken_from_the_scan_are_all_matched_and_shifted_ones_within_tolerance() {
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
            "8",
            "--days",
            "300",
            "--seed",
            "4",
        ],
    );
    let hits = ok(
        d,
        &[
            "scan",
            "--expr",
            EXPR,
            "--format",
            "csv",
            "--tickers",
            "SYN0002,SYN0005",
        ],
    );
    let rows: Vec<(String, String)> = hits
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect();
    assert!(rows.len() >= 4);
    // Every signal of SYN0002 is an expected hit; SYN0005's first signal is declared a negative.
    let mut csv = String::from("ticker,date,expected\n");
    let mut positives = 0;
    for (i, (t, day)) in rows.iter().enumerate() {
        let negative = t == "SYN0005" && rows.iter().position(|r| r.0 == "SYN0005") == Some(i);
        csv.push_str(&format!("{t},{day},{}\n", !negative));
        positives += usize::from(!negative);
    }
    let file = d.join("examples.csv");
    std::fs::write(&file, csv).unwrap();
    let json: serde_json::Value = serde_json::from_str(&ok(
        d,
        &[
            "test",
            "--expr",
            EXPR,
            "--examples",
            file.to_str().unwrap(),
            "--format",
            "json",
        ],
    ))
    .unwrap();
    let r = &json["report"];
    assert_eq!(r["matched"], positives);
    assert_eq!(r["missed"], 0);
    assert_eq!(r["false_alarms"], 1, "the declared negative fires");
    assert_eq!(r["recall"], 1.0);

    let md = ok(
        d,
        &[
            "test",
            "--expr",
            EXPR,
            "--examples",
            file.to_str().unwrap(),
            "--tolerance",
            "0",
        ],
    );
    assert!(md.starts_with("# A+ test"), "{md}");
    assert!(md.contains("| SYN0002 |"));

    // Bad examples are refused with the line.
    std::fs::write(&file, "ticker,date\nSYN0002,2015-02-30\n").unwrap();
    let out = run(
        d,
        &["test", "--expr", EXPR, "--examples", file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("examples line 2: `2015-02-30` is not a date")
    );
    std::fs::write(&file, "ticker,date\nNOPE,2015-02-03\n").unwrap();
    let out = run(
        d,
        &["test", "--expr", EXPR, "--examples", file.to_str().unwrap()],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("ticker NOPE not found"));
    let history: serde_json::Value =
        serde_json::from_str(&ok(d, &["--json", "history", "--kind", "test"])).unwrap();
    assert_eq!(
        history.as_array().unwrap().len(),
        2,
        "refused tests leave no execution"
    );
}
