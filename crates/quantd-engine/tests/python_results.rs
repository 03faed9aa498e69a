//! What Python jobs hand back is untrusted (user code can rewrite `/out/result.arrow` after the
//! harness wrote it, and prints its own metrics): the engine's readers accept what the harness
//! writes and refuse, with the row, column or limit named, anything else — never a panic.

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, LargeStringArray, RecordBatch,
    StringArray, TimestampNanosecondArray,
};
use arrow_schema::{Field, Schema};
use quantd_data::time::{Calendar, NANOS_PER_DAY};
use quantd_engine::python::{BatchInput, PythonOptions, ResultRows, read_result};
use std::sync::Arc;

/// Two tickers of a daily pack: AAA on days 100..=103, BBB on 100, 102 and 104.
fn input() -> BatchInput {
    let days = |d: &[i64]| d.iter().map(|&d| d * NANOS_PER_DAY).collect();
    BatchInput::new(
        vec![
            ("AAA".into(), days(&[100, 101, 102, 103])),
            ("BBB".into(), days(&[100, 102, 104])),
        ],
        Calendar::DAILY,
    )
}

/// An Arrow IPC file of `columns`, in one record batch.
fn file(columns: Vec<(&str, ArrayRef)>) -> Vec<u8> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let mut out = Vec::new();
    let mut w = arrow_ipc::writer::FileWriter::try_new(&mut out, &schema).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    drop(w);
    out
}

fn tickers(t: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(t.to_vec()))
}

fn dates(d: &[i32]) -> ArrayRef {
    Arc::new(Date32Array::from(d.to_vec()))
}

fn flags(n: usize) -> ArrayRef {
    Arc::new(BooleanArray::from(vec![true; n]))
}

/// A scanner's result: `ticker`, `date`, `signal` (all true).
fn scanner(rows: &[(&str, i32)]) -> Vec<u8> {
    let t: Vec<&str> = rows.iter().map(|r| r.0).collect();
    let d: Vec<i32> = rows.iter().map(|r| r.1).collect();
    file(vec![
        ("ticker", tickers(&t)),
        ("date", dates(&d)),
        ("signal", flags(rows.len())),
    ])
}

fn read(bytes: Vec<u8>) -> Result<ResultRows, String> {
    read_result(bytes, &input(), &PythonOptions::default()).map_err(|e| e.to_string())
}

/// The message of a refused result; fails the test when it was accepted.
fn refused(bytes: Vec<u8>) -> String {
    match read(bytes) {
        Ok(rows) => panic!("accepted {} rows", rows.len()),
        Err(e) => {
            assert!(
                e.starts_with("the Python job's result is not what the harness writes: "),
                "{e}"
            );
            e
        }
    }
}

#[test]
fn what_the_harness_writes_is_read_with_each_rows_bar() {
    let bytes = file(vec![
        ("ticker", tickers(&["AAA", "AAA", "BBB"])),
        ("date", dates(&[101, 103, 104])),
        ("signal", flags(3)),
        (
            "sma",
            Arc::new(Float64Array::from(vec![Some(1.5), None, Some(2.0)])),
        ),
    ]);
    let rows = read(bytes).unwrap();
    assert_eq!(rows.ticker, [0, 0, 1]);
    assert_eq!(rows.bar, [1, 3, 2]);
    assert_eq!(
        rows.stamp,
        [
            101 * NANOS_PER_DAY,
            103 * NANOS_PER_DAY,
            104 * NANOS_PER_DAY
        ]
    );
    assert_eq!(rows.flag("signal").unwrap(), [true, true, true]);
    assert_eq!(rows.numbers[0].0, "sma");
    assert!(rows.numbers[0].1[1].is_nan(), "a missing value is NaN");
    // An empty result (no signal anywhere) is fine too.
    assert!(read(scanner(&[])).unwrap().is_empty());
}

#[test]
fn a_date_that_is_not_one_of_the_tickers_bars_is_refused() {
    // S4: date32 = 2^31 - 1 (and its opposite) used to panic the worker in the completion step.
    for day in [i32::MAX, i32::MIN] {
        let e = refused(scanner(&[("AAA", day)]));
        assert!(
            e.contains(&format!("row 1 puts AAA on day {day} (not a date)")),
            "{e}"
        );
        assert!(
            e.contains("its bars run from 1970-04-11 to 1970-04-14"),
            "{e}"
        );
    }
    // A real date, and even another ticker's bar date, is not enough: it must be THIS ticker's.
    let e = refused(scanner(&[("AAA", 104)]));
    assert!(
        e.contains("row 1 puts AAA on 1970-04-15, which is not one of its input bars"),
        "{e}"
    );
    let e = refused(scanner(&[("BBB", 101)]));
    assert!(e.contains("row 1 puts BBB on 1970-04-12"), "{e}");
}

#[test]
fn rows_for_tickers_outside_the_batch_are_refused() {
    let e = refused(scanner(&[("AAA", 100), ("ZZZ", 100)]));
    assert!(
        e.contains("row 2 names ticker `ZZZ`, which is not one of the 2 tickers the job was given"),
        "{e}"
    );
    // Untrusted names are shown escaped and cut.
    let evil = format!("\u{1b}]0;PWNED\u{7}{}", "x".repeat(200));
    let e = refused(scanner(&[(evil.as_str(), 100)]));
    assert!(e.contains("\\u{1b}]0;PWNED\\u{7}"), "{e}");
    assert!(e.contains("more characters)"), "{e}");
    assert!(!e.contains('\u{1b}'), "{e}");
}

#[test]
fn each_ticker_date_appears_once_in_the_inputs_order() {
    let e = refused(scanner(&[("AAA", 101), ("AAA", 101)]));
    assert!(
        e.contains("row 2 is a second row for AAA on 1970-04-12"),
        "{e}"
    );
    let e = refused(scanner(&[("AAA", 102), ("AAA", 100)]));
    assert!(
        e.contains("row 2 is out of date order: AAA on 1970-04-11"),
        "{e}"
    );
    let e = refused(scanner(&[("BBB", 100), ("AAA", 100)]));
    assert!(e.contains("row 2 (AAA) comes after rows of `BBB`"), "{e}");
}

#[test]
fn more_rows_than_bars_are_refused_before_any_row_is_read() {
    // H25: a scanner claimed 15,000,000 rows for a ticker of 300 bars.
    let rows: Vec<(&str, i32)> = vec![("AAA", 100); 8];
    let e = refused(scanner(&rows));
    assert!(
        e.contains("more rows (8 so far) than the 7 bars the job was given"),
        "{e}"
    );
}

#[test]
fn columns_of_another_type_are_refused_by_name() {
    let ns: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![1i64 << 62]));
    let e = refused(file(vec![
        ("ticker", tickers(&["AAA"])),
        ("date", ns),
        ("signal", flags(1)),
    ]));
    assert!(
        e.contains("column `date` is Timestamp(ns); it must be date32"),
        "{e}"
    );
    let e = refused(file(vec![
        ("ticker", tickers(&["AAA"])),
        ("date", dates(&[100])),
        ("signal", flags(1)),
        ("label", tickers(&["up"])),
    ]));
    assert!(
        e.contains("column `label` is Utf8; it must be float64 (indicator columns are numbers)"),
        "{e}"
    );
    let e = refused(file(vec![
        ("ticker", tickers(&["AAA"])),
        ("date", dates(&[100])),
        ("signal", Arc::new(Float64Array::from(vec![1.0]))),
    ]));
    assert!(
        e.contains("column `signal` is Float64; it must be bool"),
        "{e}"
    );
    let e = refused(file(vec![
        ("ticker", tickers(&["AAA"])),
        ("date", dates(&[100])),
        ("signal", flags(1)),
        ("n", Arc::new(Int64Array::from(vec![1]))),
    ]));
    assert!(e.contains("column `n` is Int64"), "{e}");
    let e = refused(file(vec![
        ("ticker", Arc::new(LargeStringArray::from(vec!["AAA"]))),
        ("date", dates(&[100])),
        ("signal", flags(1)),
    ]));
    assert!(
        e.contains("column `ticker` is LargeUtf8; it must be utf8"),
        "{e}"
    );
    let e = refused(file(vec![
        ("ticker", tickers(&["AAA"])),
        ("signal", flags(1)),
    ]));
    assert!(e.contains("it has no `date` column"), "{e}");
}

#[test]
fn indicator_columns_are_bounded_in_number_and_names() {
    let with = |names: Vec<String>| {
        let mut cols: Vec<(&str, ArrayRef)> = vec![
            ("ticker", tickers(&["AAA"])),
            ("date", dates(&[100])),
            ("signal", flags(1)),
        ];
        let one: ArrayRef = Arc::new(Float64Array::from(vec![1.0]));
        cols.extend(names.iter().map(|n| (n.as_str(), one.clone())));
        file(cols)
    };
    let names = |n: usize| (0..n).map(|i| format!("i{i}")).collect::<Vec<_>>();
    assert_eq!(read(with(names(64))).unwrap().numbers.len(), 64);
    // S6: 20,000 columns were stored.
    for n in [65, 20_000] {
        let e = refused(with(names(n)));
        assert!(e.contains("at most 64 indicator columns"), "{e}");
        assert!(e.contains("limit `max_indicator_columns`"), "{e}");
    }
    let small = PythonOptions {
        max_indicator_columns: 2,
        ..PythonOptions::default()
    };
    let e = read_result(with(names(3)), &input(), &small).unwrap_err();
    assert!(e.to_string().contains("at most 2 indicator columns"), "{e}");

    let e = refused(with(vec!["x".repeat(65)]));
    assert!(
        e.contains("is 65 characters long; names have at most 64"),
        "{e}"
    );
    assert!(e.contains("max_column_name_chars"), "{e}");
    for bad in ["a\u{1b}[31mb", "a\nb", "a\u{202E}b", "nul\0"] {
        let e = refused(with(vec![bad.to_string()]));
        assert!(
            e.contains("control or bidirectional-override characters"),
            "{e}"
        );
        assert!(!e.contains(bad), "the name is escaped: {e}");
    }
    let e = refused(with(vec![String::new()]));
    assert!(e.contains("is empty"), "{e}");
    let e = refused(with(vec!["sma".into(), "sma".into()]));
    assert!(e.contains("column `sma` appears twice"), "{e}");
}

#[test]
fn rows_without_ticker_or_date_are_refused() {
    let t: ArrayRef = Arc::new(StringArray::from(vec![Some("AAA"), None]));
    let e = refused(file(vec![
        ("ticker", t),
        ("date", dates(&[100, 101])),
        ("signal", flags(2)),
    ]));
    assert!(e.contains("row 2 has no ticker"), "{e}");
    let d: ArrayRef = Arc::new(Date32Array::from(vec![None, Some(100)]));
    let e = refused(file(vec![
        ("ticker", tickers(&["AAA", "AAA"])),
        ("date", d),
        ("signal", flags(2)),
    ]));
    assert!(e.contains("row 1 has no date"), "{e}");
}

#[test]
fn bytes_that_are_not_an_arrow_file_are_refused() {
    refused(b"not arrow at all".to_vec());
    refused(Vec::new());
    let good = scanner(&[("AAA", 100)]);
    for cut in [8, good.len() / 2, good.len() - 1] {
        refused(good[..cut].to_vec());
    }
    // Flipped bytes anywhere: an error or the rows of a valid file, never a panic.
    for at in (0..good.len()).step_by(7) {
        let mut bytes = good.clone();
        bytes[at] ^= 0xff;
        let _ = read(bytes);
    }
}

mod metrics {
    use quantd_engine::python::{PythonOptions, parse_metrics};
    use serde_json::{Value, json};

    fn parse(stdout: &str) -> quantd_engine::python::RunMetrics {
        parse_metrics(stdout, &PythonOptions::default())
    }

    /// Every number anywhere in `v` is finite and within ±1e12.
    fn all_numbers_sane(v: &Value) -> bool {
        match v {
            Value::Number(n) => n.as_f64().is_some_and(|x| x.is_finite() && x.abs() <= 1e12),
            Value::Array(a) => a.iter().all(all_numbers_sane),
            Value::Object(o) => o.values().all(all_numbers_sane),
            _ => true,
        }
    }

    #[test]
    fn known_metrics_out_of_their_range_are_dropped_with_a_warning() {
        // S19: `# Trades -5.5`, `Win Rate 1000`, `Return 1e308` were stored and poisoned summaries.
        let line = json!({
            "trades": -5.5, "win_rate": 1000, "total_return": 1e308, "max_drawdown": "big",
            "sharpe": 1.2, "exposure": 101, "profit_factor": -1, "note": "ok"
        });
        let m = parse(&format!("QUANTD_RESULT {line}\n"));
        assert_eq!(m.source, "QUANTD_RESULT");
        assert_eq!(
            Value::Object(m.metrics.clone()),
            json!({"Sharpe Ratio": 1.2})
        );
        let result = m.result.clone().unwrap();
        assert_eq!(result, json!({"sharpe": 1.2, "note": "ok"}));
        let w = m.warnings.join("\n");
        for key in [
            "trades",
            "win_rate",
            "total_return",
            "max_drawdown",
            "exposure",
            "profit_factor",
        ] {
            assert!(
                w.contains(&format!("QUANTD_RESULT `{key}` was dropped")),
                "{key}: {w}"
            );
        }
        assert!(
            w.contains("-5.5 is out of range: # Trades is at least 0"),
            "{w}"
        );
        assert!(
            w.contains("1000 is out of range: Win Rate [%] is from 0 to 100"),
            "{w}"
        );
        assert!(w.contains("limit `max_metric_magnitude`"), "{w}");
        assert!(w.contains("Max. Drawdown [%] must be a number"), "{w}");
        let trades = parse("QUANTD_RESULT {\"trades\": 2.5}");
        assert!(trades.metrics.is_empty());
        assert!(
            trades.warnings[0].contains("not a whole number"),
            "{:?}",
            trades.warnings
        );
    }

    #[test]
    fn a_huge_result_object_keeps_a_bounded_number_of_entries() {
        // S20: 300,000 keys (5 MB) were stored whole.
        let mut obj = serde_json::Map::new();
        for i in 0..300_000 {
            obj.insert(format!("k{i:06}"), json!(i));
        }
        obj.insert("total_return".into(), json!(12.5));
        let stdout = format!("QUANTD_RESULT {}\n", Value::Object(obj));
        let m = parse(&stdout);
        let result = m.result.as_ref().unwrap().as_object().unwrap();
        assert_eq!(result.len(), 64);
        assert_eq!(result["total_return"], 12.5, "known metrics come first");
        assert_eq!(m.metrics["Return [%]"], 12.5);
        assert!(
            m.warnings.iter().any(|w| w.contains(
                "QUANTD_RESULT has 300001 entries: 299937 were dropped, 64 kept (limit `max_result_keys`"
            )),
            "{:?}",
            m.warnings
        );
        assert!(serde_json::to_vec(&m).unwrap().len() < 8 << 10);
    }

    #[test]
    fn keys_strings_and_nested_values_are_bounded() {
        let long_key = "k".repeat(65);
        let line = json!({
            long_key.clone(): 1, "esc\u{1b}[2J": 2, "text": "x".repeat(1000),
            "list": [1, 2], "obj": {"a": 1}, "big": 1e13, "flag": true, "none": null
        });
        let m = parse(&format!("QUANTD_RESULT {line}"));
        let result = m.result.as_ref().unwrap();
        assert_eq!(result["flag"], true);
        assert_eq!(result["none"], Value::Null);
        let text = result["text"].as_str().unwrap();
        assert_eq!(text.chars().count(), 257, "cut to 256 characters and `…`");
        for gone in [long_key.as_str(), "esc\u{1b}[2J", "list", "obj", "big"] {
            assert!(result.get(gone).is_none(), "{gone} kept: {result}");
        }
        let w = m.warnings.join("\n");
        assert!(w.contains("max_result_key_chars"), "{w}");
        assert!(w.contains("control or bidirectional-override"), "{w}");
        assert!(w.contains("max_result_string_chars"), "{w}");
        assert!(w.contains("nested values"), "{w}");
        assert!(
            !w.contains('\u{1b}'),
            "warnings escape what they quote: {w}"
        );
    }

    #[test]
    fn plain_lines_follow_the_same_rules_and_warnings_are_bounded() {
        let mut stdout = String::from("Return: 1e308%\nWin Rate: 150%\nTrades: 3\nSharpe: 0.4\n");
        for _ in 0..1000 {
            stdout.push_str("Trades: -1\n");
        }
        let m = parse(&stdout);
        assert_eq!(m.source, "text");
        assert_eq!(
            Value::Object(m.metrics.clone()),
            json!({"# Trades": 3, "Sharpe Ratio": 0.4})
        );
        assert!(
            m.warnings[0].contains("the line `Return: 1e308%` was not used"),
            "{:?}",
            m.warnings
        );
        assert_eq!(m.warnings.len(), 21, "20 warnings and a count");
        assert_eq!(m.warnings[20], "… and 982 more warnings");
    }

    #[test]
    fn no_stored_metric_is_ever_absurd() {
        let cases = [
            "QUANTD_RESULT {\"total_return\": -1e300, \"sharpe\": 1e200, \"x\": -1e15}",
            "QUANTD_RESULT {\"trades\": 1e20, \"sortino\": -2e12}",
            "Return: 99999999999999999999\nSharpe: -1e13\nProfit Factor: 1e12\n",
            "Max Drawdown: -250%\nExposure: -3\n",
        ];
        for stdout in cases {
            let m = parse(stdout);
            assert!(
                all_numbers_sane(&Value::Object(m.metrics.clone())),
                "{stdout}: {m:?}"
            );
            assert!(
                all_numbers_sane(m.result.as_ref().unwrap_or(&Value::Null)),
                "{stdout}: {m:?}"
            );
            assert!(!m.warnings.is_empty(), "{stdout}");
        }
    }
}
