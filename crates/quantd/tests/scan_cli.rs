//! `quantd scan` end to end, and its signals against an independent pandas + TA-Lib
//! implementation of the same scanner on the same bars.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::process::Command;

const SCANNER: &str = "let r = rsi(close, 14); close < sma(close, 50) and r < $rsi_max and volume > 2 * sma(volume, 20)";

/// The same scanner in pandas + TA-Lib: prints `ticker,date,r` rows.
const REFERENCE: &str = r#"
import sys, pandas as pd, talib
df = pd.read_parquet(sys.argv[1])
rsi_max = float(sys.argv[2])
print("ticker,date,r")
for ticker, g in df.groupby("ticker", sort=True):
    c, v = g["close"].to_numpy(), g["volume"].to_numpy()
    r = talib.RSI(c, 14)
    mask = (c < talib.SMA(c, 50)) & (r < rsi_max) & (v > 2 * talib.SMA(v, 20))
    for d, rv in zip(g["date"].to_numpy()[mask], r[mask]):
        print(f"{ticker},{pd.Timestamp(d).date()},{float(rv)!r}")
"#;

/// `ticker,date` → value of `r`.
fn rows(csv: &str) -> BTreeMap<(String, String), f64> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            ((f[0].to_string(), f[1].to_string()), f[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn the_reference_scanner_finds_exactly_what_pandas_and_talib_find() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "data",
            "synth",
            "--name",
            "ref",
            "--tickers",
            "60",
            "--days",
            "800",
            "--seed",
            "11",
        ],
    );
    let pq = d.join("ref.parquet");
    ok(d, &["data", "export", "ref", "--out", pq.to_str().unwrap()]);
    // Import what pandas reads, so both sides scan the very same bars.
    ok(
        d,
        &["data", "import", pq.to_str().unwrap(), "--name", "imported"],
    );

    let out = d.join("hits.csv");
    ok(
        d,
        &[
            "scan",
            "--pack",
            "imported",
            "--expr",
            SCANNER,
            "--param",
            "rsi_max=35",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let ours = rows(&std::fs::read_to_string(&out).unwrap());

    let py = Command::new(reference_python())
        .arg("-c")
        .arg(REFERENCE)
        .arg(&pq)
        .arg("35")
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let theirs = rows(&String::from_utf8(py.stdout).unwrap());

    assert!(
        theirs.len() >= 20,
        "the fixture should produce signals, got {}",
        theirs.len()
    );
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "signal sets differ"
    );
    for (k, v) in &ours {
        let t = theirs[k];
        assert!(
            (v - t).abs() <= 1e-9 * t.abs(),
            "{k:?}: rsi {v} vs TA-Lib {t}"
        );
    }
}

#[test]
fn windows_tickers_and_formats_select_the_same_rows() {
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
            "20",
            "--days",
            "400",
            "--seed",
            "3",
        ],
    );
    let expr = "let m = sma(close, 10); crosses_above(close, m)";
    let all = ok(d, &["scan", "--expr", expr, "--format", "csv"]);
    let all_rows: Vec<&str> = all.lines().skip(1).collect();
    assert!(all_rows.len() > 100);
    assert!(
        all_rows.windows(2).all(|w| w[0] < w[1]),
        "rows sorted by ticker, date"
    );

    let window = ok(
        d,
        &[
            "scan",
            "--expr",
            expr,
            "--format",
            "csv",
            "--from",
            "2015-06-01",
            "--to",
            "2015-08-31",
            "--tickers",
            "SYN0003,SYN0007",
        ],
    );
    let expected: Vec<&str> = all_rows
        .iter()
        .copied()
        .filter(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0] == "SYN0003" || f[0] == "SYN0007") && f[1] >= "2015-06-01" && f[1] <= "2015-08-31"
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(window.lines().skip(1).collect::<Vec<_>>(), expected);

    let nd = ok(d, &["scan", "--expr", expr, "--format", "ndjson"]);
    assert_eq!(nd.lines().count(), all_rows.len());
    let first: serde_json::Value = serde_json::from_str(nd.lines().next().unwrap()).unwrap();
    assert_eq!(
        format!(
            "{},{}",
            first["ticker"].as_str().unwrap(),
            first["date"].as_str().unwrap()
        ),
        all_rows[0][..18]
    );

    let pq = d.join("hits.parquet");
    let summary: serde_json::Value = serde_json::from_str(&ok(
        d,
        &[
            "--json",
            "scan",
            "--expr",
            expr,
            "--out",
            pq.to_str().unwrap(),
        ],
    ))
    .unwrap();
    assert_eq!(summary["summary"]["signals"], all_rows.len());
    assert_eq!(summary["summary"]["tickers_scanned"], 20);
    assert!(std::fs::metadata(&pq).unwrap().len() > 0);
}

#[test]
fn code_errors_point_at_the_source() {
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
            "2",
            "--days",
            "30",
        ],
    );
    let out = run(
        d,
        &[
            "scan",
            "--expr",
            "close < smaa(close, 50) and rsi(close, 14) < $rsi_max",
        ],
    );
    assert!(!out.status.success());
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stderr));
    let out = run(
        d,
        &["scan", "--expr", "close > 1", "--tickers", "SYN0001,NOPE"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("ticker NOPE not found"));
}

#[test]
fn ambiguous_or_inverted_requests_are_refused_and_nothing_runs() {
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
            "2",
            "--days",
            "30",
        ],
    );
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "scan",
                "--expr",
                "close > $x",
                "--param",
                "x=1",
                "--param",
                "x=2",
            ],
            "--param x is given twice",
        ),
        (
            &["scan", "--expr", "close > 1", "--param", "=5"],
            "has no name before `=`",
        ),
        (
            &[
                "scan",
                "--expr",
                "close > 1",
                "--from",
                "2099-01-01",
                "--to",
                "1900-01-01",
            ],
            "starts (2099-01-01) after it ends (1900-01-01)",
        ),
    ];
    for (args, expected) in cases {
        let out = run(d, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let history = json(d, &["history"]);
    assert_eq!(
        history.as_array().map(Vec::len),
        Some(0),
        "no execution was created"
    );
}

/// A session scanner in pandas, reading the bars on New York's wall clock: prints
/// `ticker,time,v,pc,n,h,lo` rows, times as RFC 3339 with the local offset.
const SESSION_REFERENCE: &str = r#"
import sys, pandas as pd
df = pd.read_parquet(sys.argv[1])
t = df["time"]
assert str(t.dt.tz) == "America/New_York", t.dt.tz
print("ticker,time,v,pc,n,h,lo")
for ticker, g in df.groupby("ticker", sort=True):
    g = g.sort_values("time")
    day = g["time"].dt.date
    tp = (g["high"] + g["low"] + g["close"]) / 3
    v = (tp * g["volume"]).groupby(day).cumsum() / g["volume"].groupby(day).cumsum()
    last = g.groupby(day)["close"].last()
    pc = day.map(last.shift(1))
    n = g.groupby(day).cumcount()
    h, lo = g.groupby(day)["high"].cummax(), g.groupby(day)["low"].cummin()
    minutes = g["time"].dt.hour * 60 + g["time"].dt.minute
    mask = (minutes >= 10 * 60 + 30) & (minutes < 11 * 60) & (g["close"] > v) & (g["close"] > pc) \
        & (g["time"].dt.day_of_week != 2)
    for i in g.index[mask]:
        values = ",".join(repr(float(x[i])) for x in (v, pc, n, h, lo))
        print(f"{ticker},{g.at[i, 'time'].isoformat()},{values}")
"#;

#[test]
fn session_values_on_minute_bars_match_pandas_across_a_dst_change() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Five-minute US sessions from 2024-03-04 to 2024-03-15: New York moves to EDT on 2024-03-10.
    ok(
        d,
        &[
            "data",
            "synth",
            "--name",
            "m",
            "--tickers",
            "10",
            "--days",
            "10",
            "--interval",
            "5m",
            "--start",
            "2024-03-04",
            "--seed",
            "5",
        ],
    );
    let pq = d.join("m.parquet");
    ok(d, &["data", "export", "m", "--out", pq.to_str().unwrap()]);
    let expr = "let v = vwap; let pc = prev_day_close; let n = bars_since_open; \
        let h = day_high; let lo = day_low; \
        time_of_day >= \"10:30\" and time_of_day < \"11:00\" and close > v and close > pc \
        and day_of_week != 2";
    let ours = ok(
        d,
        &["scan", "--pack", "m", "--expr", expr, "--format", "csv"],
    );
    let py = Command::new(reference_python())
        .arg("-c")
        .arg(SESSION_REFERENCE)
        .arg(&pq)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let theirs = String::from_utf8(py.stdout).unwrap();

    let table = |csv: &str| -> BTreeMap<(String, String), Vec<f64>> {
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let columns: Vec<usize> = ["v", "pc", "n", "h", "lo"].map(at).to_vec();
        lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                let num = |i: usize| f[i].parse::<f64>().unwrap();
                let values = columns.iter().map(|&i| num(i)).collect();
                ((f[0].to_string(), f[1].to_string()), values)
            })
            .collect()
    };
    let (ours, theirs) = (table(&ours), table(&theirs));
    assert!(
        theirs.len() >= 10,
        "the fixture should fire, got {}",
        theirs.len()
    );
    let offsets: std::collections::BTreeSet<&str> =
        theirs.keys().map(|(_, t)| &t[t.len() - 6..]).collect();
    assert_eq!(
        offsets.into_iter().collect::<Vec<_>>(),
        ["-04:00", "-05:00"],
        "hits on both sides of the DST change"
    );
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "signal sets differ"
    );
    for (k, o) in &ours {
        let t = &theirs[k];
        for (a, b) in o.iter().zip(t) {
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "{k:?}: {o:?} vs pandas {t:?}"
            );
        }
    }

    // A window from an exact time (with its offset) to a whole date, in the pack's zone.
    let window = ok(
        d,
        &[
            "scan",
            "--pack",
            "m",
            "--expr",
            expr,
            "--format",
            "csv",
            "--from",
            "2024-03-11T10:40:00-04:00",
            "--to",
            "2024-03-13",
        ],
    );
    let inside: Vec<_> = theirs
        .keys()
        .filter(|(_, t)| t.as_str() >= "2024-03-11T10:40" && t.as_str() < "2024-03-14")
        .collect();
    assert!(!inside.is_empty() && inside.len() < theirs.len());
    assert_eq!(table(&window).keys().collect::<Vec<_>>(), inside);
    let bad = run(
        d,
        &[
            "scan",
            "--pack",
            "m",
            "--expr",
            expr,
            "--from",
            "2024-03-11T10:40",
        ],
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("needs its UTC offset"),
        "{err}"
    );
}
