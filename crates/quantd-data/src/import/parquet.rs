//! The Parquet reader: schema → [`Layout`], then record batches cast to the types quantd needs
//! (ticker text, Date32, Float64) and fed row by row to the [`Collector`].

use super::{Collector, ImportOptions, Layout, RawRow, parse_day};
use crate::bars::{BASE_COLUMNS, Day};
use crate::error::{DataError, Result};
use crate::validate::RowRef;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use quantd_core::Progress;
use std::path::Path;

pub(super) fn read(
    path: &Path,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Collector> {
    let source = path.display().to_string();
    let pq_err = |e: &dyn std::fmt::Display| DataError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|e| DataError::io("reading", path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| pq_err(&e))?;
    let total_rows = builder.metadata().file_metadata().num_rows() as u64;
    let schema = builder.schema().clone();
    let header: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let layout = Layout::from_header(&source, &header, opts.ticker.as_deref())?;
    for (name, i) in &layout.extras {
        let dt = schema.field(*i).data_type();
        if !(dt.is_numeric() || matches!(dt, DataType::Boolean)) {
            return Err(DataError::Input {
                what: format!(
                    "`{source}`: extra column `{}` is of type {dt}, not a number",
                    header[*i]
                ),
                fix: format!("remove column `{name}` from the file, or convert it to numbers"),
            });
        }
    }
    let reader = builder
        .with_batch_size(65_536)
        .build()
        .map_err(|e| pq_err(&e))?;
    let mut c = Collector::new(source.clone(), opts.lenient, layout.extra_names());
    c.reserve(total_rows as usize);
    progress.phase("read", total_rows);
    let mut row = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| pq_err(&e))?;
        let cols = BatchColumns::new(&batch, &layout, &header, &source)?;
        let mut extras = vec![0.0; layout.extras.len()];
        for r in 0..batch.num_rows() {
            row += 1;
            let at = RowRef::Row(row);
            let ticker = match (&cols.ticker, opts.ticker.as_deref()) {
                (Some(t), _) if t.is_valid(r) => t.as_string::<i32>().value(r),
                (Some(_), _) => "",
                (None, Some(t)) => t,
                (None, None) => unreachable!("layout requires a ticker"),
            };
            let day = cols.day(r);
            if day.is_none() {
                let shown = cols.date_text(r);
                c.unparsable(at, &header[layout.date], &shown, "a date");
            }
            let mut base = [None; 5];
            for (k, name) in BASE_COLUMNS.iter().enumerate() {
                let col = cols.base[k].as_primitive::<Float64Type>();
                let v = col.is_valid(r).then(|| col.value(r));
                base[k] = match v {
                    Some(v) if v.is_finite() => Some(v),
                    other => {
                        let text = other.map_or("null".to_string(), |v| v.to_string());
                        c.unparsable(at, name, &text, "a finite number");
                        None
                    }
                };
            }
            for (slot, col) in extras.iter_mut().zip(&cols.extras) {
                let col = col.as_primitive::<Float64Type>();
                *slot = if col.is_valid(r) {
                    col.value(r)
                } else {
                    f64::NAN
                };
            }
            c.push(RawRow {
                at,
                ticker,
                day,
                base,
                extras: &extras,
            });
        }
        progress.advance(batch.num_rows() as u64);
    }
    Ok(c)
}

/// One batch's columns, cast to the types rows are read with.
struct BatchColumns {
    ticker: Option<ArrayRef>,
    date: ArrayRef,
    date_is_text: bool,
    base: Vec<ArrayRef>,
    extras: Vec<ArrayRef>,
}

impl BatchColumns {
    fn new(batch: &RecordBatch, layout: &Layout, header: &[String], source: &str) -> Result<Self> {
        let cast = |i: usize, to: &DataType| -> Result<ArrayRef> {
            arrow_cast::cast(batch.column(i), to).map_err(|e| DataError::Input {
                what: format!("`{source}`: column `{}` of type {} cannot be read as {to}: {e}", header[i], batch.column(i).data_type()),
                fix: "store the column as text (ticker), a date/timestamp (date) or numbers (prices, volume)".into(),
            })
        };
        let date_type = batch.column(layout.date).data_type();
        let date_is_text = matches!(
            date_type,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        );
        let date = if date_is_text {
            cast(layout.date, &DataType::Utf8)?
        } else {
            cast(layout.date, &DataType::Date32)?
        };
        Ok(BatchColumns {
            ticker: layout
                .ticker
                .map(|i| cast(i, &DataType::Utf8))
                .transpose()?,
            date,
            date_is_text,
            base: layout
                .base
                .iter()
                .map(|&i| cast(i, &DataType::Float64))
                .collect::<Result<_>>()?,
            extras: layout
                .extras
                .iter()
                .map(|(_, i)| cast(*i, &DataType::Float64))
                .collect::<Result<_>>()?,
        })
    }

    fn day(&self, r: usize) -> Option<Day> {
        if !self.date.is_valid(r) {
            return None;
        }
        if self.date_is_text {
            parse_day(self.date.as_string::<i32>().value(r))
        } else {
            Some(self.date.as_primitive::<Date32Type>().value(r))
        }
    }

    fn date_text(&self, r: usize) -> String {
        if !self.date.is_valid(r) {
            "null".into()
        } else if self.date_is_text {
            self.date.as_string::<i32>().value(r).to_string()
        } else {
            self.date.as_primitive::<Date32Type>().value(r).to_string()
        }
    }
}
