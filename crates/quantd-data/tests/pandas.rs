//! Files written by pandas/pyarrow (the way users produce them) import to the same pack as the
//! same bars written by quantd. Uses the reference venv from `scripts/pyenv`.

use quantd_core::NoProgress;
use quantd_data::{ImportOptions, hash, import_file};
use std::path::PathBuf;
use std::process::Command;

/// The reference venv's interpreter; the test fails (never skips) when it cannot be created.
fn reference_python() -> PathBuf {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pyenv");
    let out = Command::new("bash")
        .arg(script)
        .output()
        .expect("run scripts/pyenv");
    assert!(
        out.status.success(),
        "scripts/pyenv failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

const WRITE: &str = r#"
import sys, numpy as np, pandas as pd
out = sys.argv[1]
idx = pd.bdate_range("2021-03-01", periods=60, name="Date")
rng = np.random.default_rng(5)
close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(idx)))), 2)
open_ = np.round(close * (1 + rng.normal(0, 0.002, len(idx))), 2)
high = np.round(np.maximum(open_, close) + 0.5, 2)
low = np.round(np.minimum(open_, close) - 0.5, 2)
vol = rng.integers(1000, 5000, len(idx))
one = pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close, "Volume": vol}, index=idx)
one.to_csv(f"{out}/one.csv")                      # Date index column, pandas style
one.to_parquet(f"{out}/one.parquet")               # DatetimeIndex stored as a timestamp column
unnamed = one.copy(); unnamed.index.name = None
unnamed.to_csv(f"{out}/unnamed.csv")               # unnamed first column
unnamed.to_parquet(f"{out}/unnamed.parquet")       # __index_level_0__
one.tz_localize("America/New_York").to_parquet(f"{out}/ny.parquet")   # an exchange's zone, across 2021-03-14 (DST)
one.tz_localize("Asia/Tokyo").to_parquet(f"{out}/tokyo.parquet")      # midnight there is the day before in UTC
long = pd.concat([one.assign(ticker="AAA"), (one * [1, 1, 1, 1, 2]).assign(ticker="BBB")]).reset_index()
long.to_csv(f"{out}/long.csv", index=False)
long.to_parquet(f"{out}/long.parquet", index=False)
long.astype({"Volume": "int32"}).assign(ticker=lambda d: d.ticker.astype("category")).to_parquet(f"{out}/long_cat.parquet", index=False)
"#;

#[test]
fn pandas_written_csv_and_parquet_import_to_the_same_pack() {
    let py = reference_python();
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(&py)
        .arg("-c")
        .arg(WRITE)
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "pandas fixture script failed");

    let single = ImportOptions {
        ticker: Some("AAA".into()),
        lenient: false,
        ..Default::default()
    };
    let id_of = |name: &str, opts: &ImportOptions| {
        let t = import_file(&dir.path().join(name), opts, &NoProgress)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .table;
        (hash::pack_id(&t), t)
    };
    let (one, table) = id_of("one.csv", &single);
    assert_eq!(table.len(), 60);
    assert_eq!(table.tickers, ["AAA"]);
    for name in ["one.parquet", "unnamed.csv", "unnamed.parquet"] {
        assert_eq!(id_of(name, &single).0, one, "{name}");
    }
    // A tz-aware index names the exchange's zone, which the pack records: the same pack as the
    // dates imported with that `--tz`, not the UTC one.
    for (name, zone) in [
        ("ny.parquet", "America/New_York"),
        ("tokyo.parquet", "Asia/Tokyo"),
    ] {
        let in_zone = ImportOptions {
            tz: Some(zone.parse().unwrap()),
            ..single.clone()
        };
        let (id, t) = id_of(name, &single);
        assert!(t.calendar.daily, "{name}");
        assert_eq!(t.calendar.zone.name(), zone);
        assert_eq!(t.stamps, table.stamps, "{name}: the same session dates");
        assert_eq!(id, id_of("one.csv", &in_zone).0, "{name}");
        assert_ne!(id, one, "{name}");
    }
    let (long, t) = id_of("long.csv", &ImportOptions::default());
    assert_eq!(t.tickers, ["AAA", "BBB"]);
    assert_eq!(t.range(1).len(), 60);
    for name in ["long.parquet", "long_cat.parquet"] {
        assert_eq!(id_of(name, &ImportOptions::default()).0, long, "{name}");
    }
}

/// Minute bars (a New York session over both daylight-saving changes of 2024, and whole days
/// around them) resampled by pandas, as the reference of `quantd_data::resample`.
const RESAMPLE: &str = r#"
import json, numpy as np, pandas as pd
rng = np.random.default_rng(7)
ny = "America/New_York"
days = list(pd.bdate_range("2024-03-04", "2024-03-15")) + list(pd.bdate_range("2024-10-28", "2024-11-08"))
session = pd.DatetimeIndex(np.concatenate([
    pd.date_range(d + pd.Timedelta("09:30:00"), d + pd.Timedelta("15:59:00"), freq="1min").tz_localize(ny).tz_convert("UTC").values
    for d in days]), tz="UTC")
allday = pd.date_range("2024-03-09T12:00Z", "2024-03-11T12:00Z", freq="1min").append(
    pd.date_range("2024-11-02T12:00Z", "2024-11-04T12:00Z", freq="1min"))
def bars(idx):
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.001, len(idx)))), 4)
    open_ = np.round(close * (1 + rng.normal(0, 0.0005, len(idx))), 4)
    return pd.DataFrame({"Open": open_, "High": np.maximum(open_, close) + 0.01,
        "Low": np.minimum(open_, close) - 0.01, "Close": close,
        "Volume": rng.integers(100, 10_000, len(idx)).astype(float)}, index=idx)
agg = {"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": "sum"}
out = {}
for name, idx in [("session", session), ("allday", allday)]:
    df = bars(idx)
    cases = {}
    rules = [("5m", "5min", ny), ("15m", "15min", ny), ("30m", "30min", ny), ("1h", "1h", ny),
             ("1d", "1D", ny), ("1w", "W-MON", ny), ("1mo", "MS", ny), ("4h", "4h", "UTC"), ("1d", "1D", "UTC")]
    for ours, rule, zone in rules:
        r = df.tz_convert(zone).resample(rule, label="left", closed="left").agg(agg).dropna(subset=["Open"])
        daily = ours in ("1d", "1w", "1mo")
        labels = [pd.Timestamp(t.date()).value if daily else t.value for t in r.index]
        cases[f"{ours} {zone}"] = {"stamps": labels, **{k: r[k].tolist() for k in agg}}
    out[name] = {"stamps": [t.value for t in df.index], **{k: df[k].tolist() for k in agg}, "cases": cases}
print(json.dumps(out))
"#;

#[test]
fn resampling_minute_bars_matches_pandas() {
    use quantd_data::resample::{Series, resample};
    use quantd_data::time::{Interval, Zone};
    let py = reference_python();
    let out = Command::new(&py).arg("-c").arg(RESAMPLE).output().unwrap();
    assert!(
        out.status.success(),
        "pandas resample script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ints = |v: &serde_json::Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect()
    };
    let floats = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let mut checked = 0;
    for (name, data) in all.as_object().unwrap() {
        let stamps = ints(&data["stamps"]);
        let cols: Vec<Vec<f64>> = ["Open", "High", "Low", "Close", "Volume"]
            .iter()
            .map(|k| floats(&data[*k]))
            .collect();
        let series = Series {
            stamps: &stamps,
            open: &cols[0],
            high: &cols[1],
            low: &cols[2],
            close: &cols[3],
            volume: &cols[4],
        };
        for (case, want) in data["cases"].as_object().unwrap() {
            let (to, zone) = case.split_once(' ').unwrap();
            let to: Interval = to.parse().unwrap();
            let zone: Zone = zone.parse().unwrap();
            let got = resample(series, to, zone).unwrap();
            let what = format!("{name} {case}");
            assert_eq!(got.stamps, ints(&want["stamps"]), "{what}: bucket labels");
            assert_eq!(got.open, floats(&want["Open"]), "{what}: open");
            assert_eq!(got.high, floats(&want["High"]), "{what}: high");
            assert_eq!(got.low, floats(&want["Low"]), "{what}: low");
            assert_eq!(got.close, floats(&want["Close"]), "{what}: close");
            assert_eq!(got.volume, floats(&want["Volume"]), "{what}: volume");
            assert!(!got.stamps.is_empty(), "{what}: no bars");
            checked += 1;
        }
    }
    assert_eq!(checked, 18);
}
