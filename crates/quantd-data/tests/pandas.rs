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
    for name in [
        "one.parquet",
        "unnamed.csv",
        "unnamed.parquet",
        "ny.parquet",
        "tokyo.parquet",
    ] {
        assert_eq!(id_of(name, &single).0, one, "{name}");
    }
    let (long, t) = id_of("long.csv", &ImportOptions::default());
    assert_eq!(t.tickers, ["AAA", "BBB"]);
    assert_eq!(t.range(1).len(), 60);
    for name in ["long.parquet", "long_cat.parquet"] {
        assert_eq!(id_of(name, &ImportOptions::default()).0, long, "{name}");
    }
}
