//! `python_result`: bytes as the Arrow IPC result file a Python job leaves in `/out` (which the
//! job's code can rewrite at will: review S4, S6, H25), through the engine's reader
//! (`quantd_engine::python::read_result`, which checks the rows against the shard's input bars)
//! and then through what the engine does with the rows of a Python scan: the summary, the stored
//! encoding, and every export format.
//!
//! Promises checked besides "never panics": the reader's columns all have one value per row (the
//! engine indexes them together), and stored rows decode to what was encoded.

use quantd_engine::python::{BatchInput, PythonOptions, ResultRows, read_result};
use quantd_engine::results::{Format, write_signals};
use quantd_engine::scan::{Signals, SummaryBuilder};
use std::sync::Arc;

/// The shard's tickers: the names the seed files use.
const TICKERS: [&str; 4] = ["AAA", "BBB", "SYN0001", "SYN0002"];

/// Their input bars: every day from 2023-12-08 (day 19,699) for 60 days, around the seeds'
/// 2024-01-02 (day 19,724).
fn input() -> BatchInput {
    let days: Vec<i64> = (19_699..19_759)
        .map(|d| d * quantd_data::time::NANOS_PER_DAY)
        .collect();
    BatchInput::new(
        TICKERS
            .iter()
            .map(|t| (t.to_string(), days.clone()))
            .collect(),
        quantd_data::time::Calendar::DAILY,
    )
}

/// Every result format the API and the CLI export.
const FORMATS: [Format; 6] = [
    Format::Table,
    Format::Csv,
    Format::Json,
    Format::Ndjson,
    Format::Parquet,
    Format::Md,
];

/// The `python_result` target.
pub fn run(data: &[u8]) {
    let rows = match read_result(data.to_vec(), &input(), &PythonOptions::default()) {
        Ok(rows) => rows,
        Err(failure) => {
            let _ = format!("{failure:?}");
            return;
        }
    };
    let n = rows.stamp.len();
    assert_eq!(
        rows.ticker.len(),
        n,
        "tickers and dates of different lengths"
    );
    for (name, v) in &rows.flags {
        assert_eq!(v.len(), n, "flag column `{name}` has another length");
    }
    for (name, v) in &rows.numbers {
        assert_eq!(v.len(), n, "number column `{name}` has another length");
    }
    if let Some(signals) = scan_signals(&rows) {
        use_signals(&signals);
    }
}

/// The rows as a Python scan shard turns them into signals (`PyScanJob::run`), or `None` where
/// the engine fails the shard (no `signal` column, an unknown ticker).
fn scan_signals(rows: &ResultRows) -> Option<Signals> {
    let signal = rows.flag("signal")?;
    let mut out = Signals {
        tickers: TICKERS
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .into(),
        indicators: rows.numbers.iter().map(|(n, _)| n.clone()).collect(),
        ..Signals::default()
    };
    for i in 0..rows.stamp.len() {
        if !signal[i] {
            continue;
        }
        out.ticker.push(rows.ticker[i]);
        out.stamp.push(rows.stamp[i]);
        out.values.extend(rows.numbers.iter().map(|(_, v)| v[i]));
    }
    Some(out)
}

/// What the engine does with a shard's signals: summarize, store, and export them.
fn use_signals(signals: &Signals) {
    let mut summary = SummaryBuilder::default();
    summary.add(signals);
    let _ = summary.finish(TICKERS.len() as u64, signals.len() as u64);

    let stored = signals.encode_rows_named();
    let mut back = Signals {
        tickers: Arc::clone(&signals.tickers),
        indicators: signals.indicators.clone(),
        ..Signals::default()
    };
    if let Err(e) = back.append_encoded(&stored) {
        panic!("stored signal rows do not decode: {e}");
    }
    assert_eq!(back.ticker, signals.ticker, "stored rows changed tickers");
    assert_eq!(back.stamp, signals.stamp, "stored rows changed instants");
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&back.values),
        bits(&signals.values),
        "stored rows changed values"
    );

    for format in FORMATS {
        let _ = write_signals(signals, format, std::io::sink());
    }
}
