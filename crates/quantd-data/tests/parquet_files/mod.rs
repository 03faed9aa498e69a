//! Small Parquet files of odd shapes, written with the `parquet` crate for the hostile-input
//! tests: extreme dates, timestamps with time zones, text prices, binary tickers, many columns.

#![allow(dead_code)] // each test binary uses its own subset
use arrow_array::builder::BinaryBuilder;
use arrow_array::{
    ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    TimestampSecondArray,
};
use parquet::arrow::ArrowWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The values of a `date` column.
pub enum DateValues {
    /// `date32`.
    Date32(Vec<i32>),
    /// `timestamp[s]`, with an optional time zone.
    Seconds(Vec<i64>, Option<&'static str>),
    /// `timestamp[us]`, with an optional time zone.
    Micros(Vec<i64>, Option<&'static str>),
}

/// Named columns of one batch.
pub struct ParquetSpec {
    columns: Vec<(String, ArrayRef)>,
}

fn floats(v: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}

fn text(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

impl ParquetSpec {
    /// Tickers, dates and valid prices for `rows` rows.
    fn base(tickers: ArrayRef, date: ArrayRef, rows: usize) -> ParquetSpec {
        ParquetSpec {
            columns: vec![
                ("ticker".into(), tickers),
                ("date".into(), date),
                ("open".into(), floats(&vec![10.0; rows])),
                ("high".into(), floats(&vec![11.0; rows])),
                ("low".into(), floats(&vec![9.0; rows])),
                ("close".into(), floats(&vec![10.5; rows])),
                ("volume".into(), floats(&vec![1000.0; rows])),
            ],
        }
    }

    /// Three rows (`AAA`, `AAA`, `BBB`) with these dates.
    pub fn dates(values: DateValues) -> ParquetSpec {
        let date: ArrayRef = match values {
            DateValues::Date32(v) => Arc::new(Date32Array::from(v)),
            DateValues::Seconds(v, tz) => {
                Arc::new(TimestampSecondArray::from(v).with_timezone_opt(tz))
            }
            DateValues::Micros(v, tz) => {
                Arc::new(TimestampMicrosecondArray::from(v).with_timezone_opt(tz))
            }
        };
        ParquetSpec::base(text(&["AAA", "AAA", "BBB"]), date, 3)
    }

    /// `n` valid rows of ticker `A` on consecutive days.
    pub fn rows(n: i32) -> ParquetSpec {
        let tickers: Vec<&str> = vec!["A"; n as usize];
        let dates = Date32Array::from((0..n).map(|d| 19_000 + d).collect::<Vec<_>>());
        ParquetSpec::base(text(&tickers), Arc::new(dates), n as usize)
    }

    /// Three valid rows and `extra` more numeric columns.
    pub fn wide(extra: usize) -> ParquetSpec {
        let mut spec = ParquetSpec::rows(3);
        for i in 0..extra {
            spec.columns
                .push((format!("x{i}"), floats(&[1.0, 2.0, 3.0])));
        }
        spec
    }

    /// Three rows of ticker `AAA` whose `open` is text (`valid[i]` false: a null).
    pub fn text_prices(values: &[&str], valid: &[bool]) -> ParquetSpec {
        let mut spec = ParquetSpec::rows(3);
        let open: StringArray = values
            .iter()
            .zip(valid)
            .map(|(v, ok)| ok.then_some(*v))
            .collect();
        spec.columns[2].1 = Arc::new(open);
        spec
    }

    /// `n` valid rows whose `open` is a decimal of precision 20 (Parquet stores it as a
    /// fixed-length byte array, dictionary encoded by default) cycling through 5 values.
    pub fn decimal_open(n: i32) -> (ParquetSpec, Vec<f64>) {
        let cents = [950i128, 1000, 1025, 1050, 1075];
        let values: Vec<i128> = (0..n as usize).map(|i| cents[i % cents.len()]).collect();
        let open = arrow_array::Decimal128Array::from(values.clone())
            .with_precision_and_scale(20, 2)
            .unwrap();
        let mut spec = ParquetSpec::rows(n);
        spec.columns[2].1 = Arc::new(open);
        (spec, values.iter().map(|&c| c as f64 / 100.0).collect())
    }

    /// Three rows whose tickers are these bytes, in a `binary` column.
    pub fn binary_tickers(values: &[&[u8]]) -> ParquetSpec {
        let mut b = BinaryBuilder::new();
        for v in values {
            b.append_value(v);
        }
        let mut spec = ParquetSpec::rows(3);
        spec.columns[0].1 = Arc::new(b.finish());
        spec
    }
}

/// Writes `spec` as `dir/name`.
pub fn write_parquet(dir: &Path, name: &str, spec: &ParquetSpec) -> PathBuf {
    let path = dir.join(name);
    let batch = RecordBatch::try_from_iter(spec.columns.iter().cloned()).unwrap();
    let file = std::fs::File::create(&path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    path
}
