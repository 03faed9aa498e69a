//! Arrow IPC between the engine and the harness: a batch of tickers' bars in (`ticker`, `date`,
//! then every value column of the pack, each ticker's rows contiguous), result rows out.

use crate::exec::jobs::ShardFailure;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type};
use arrow_array::{ArrayRef, BooleanArray, Date32Array, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use quantd_core::ErrorClass;
use quantd_data::PackReader;
use quantd_data::bars::Day;
use std::ops::Range;
use std::sync::Arc;

fn internal(what: &str, e: impl std::fmt::Display) -> ShardFailure {
    ShardFailure::Error(ErrorClass::Internal, format!("{what}: {e}"))
}

/// Writes the bars of `tickers` (pack position and the row range to include) as one Arrow IPC
/// file. Returns the file's bytes and the number of bars.
pub fn bars_ipc(
    reader: &PackReader,
    tickers: &[(usize, Range<usize>)],
) -> Result<(Vec<u8>, u64), ShardFailure> {
    let columns = &reader.manifest().columns;
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let projection = reader.projection(&names)?;
    let mut ticker_col: Vec<&str> = Vec::new();
    let mut dates: Vec<Day> = Vec::new();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); columns.len()];
    for (t, range) in tickers {
        let data = reader.read(*t, &projection)?;
        let name = reader.manifest().tickers[*t].ticker.as_str();
        ticker_col.extend(std::iter::repeat_n(name, range.len()));
        dates.extend_from_slice(&data.dates()[range.clone()]);
        for (k, v) in values.iter_mut().enumerate() {
            v.extend_from_slice(&data.column(k)[range.clone()]);
        }
    }
    let mut fields = vec![
        Field::new("ticker", DataType::Utf8, false),
        Field::new("date", DataType::Date32, false),
    ];
    fields.extend(
        columns
            .iter()
            .map(|c| Field::new(c, DataType::Float64, true)),
    );
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(ticker_col)),
        Arc::new(Date32Array::from(dates)),
    ];
    arrays.extend(
        values
            .into_iter()
            .map(|v| Arc::new(Float64Array::from(v)) as ArrayRef),
    );
    let schema = Arc::new(Schema::new(fields));
    let batch =
        RecordBatch::try_new(schema.clone(), arrays).map_err(|e| internal("bars batch", e))?;
    let bars = batch.num_rows() as u64;
    let mut out = Vec::new();
    {
        let mut w = arrow_ipc::writer::FileWriter::try_new(&mut out, &schema)
            .map_err(|e| internal("bars IPC", e))?;
        w.write(&batch).map_err(|e| internal("bars IPC", e))?;
        w.finish().map_err(|e| internal("bars IPC", e))?;
    }
    Ok((out, bars))
}

/// The result rows of a batch job, columnar.
#[derive(Debug, Default)]
pub struct ResultRows {
    /// Ticker of each row.
    pub ticker: Vec<String>,
    /// Date of each row.
    pub date: Vec<Day>,
    /// Boolean columns by name (`signal`, `entries`, `exits`).
    pub flags: Vec<(String, Vec<bool>)>,
    /// Numeric (indicator) columns by name, in the result's order.
    pub numbers: Vec<(String, Vec<f64>)>,
}

impl ResultRows {
    /// The boolean column `name`.
    pub fn flag(&self, name: &str) -> Option<&[bool]> {
        self.flags
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

fn bad_result(e: impl std::fmt::Display) -> ShardFailure {
    ShardFailure::Error(
        ErrorClass::Execution,
        format!("the Python job's result is not what the harness writes: {e}"),
    )
}

/// Reads a harness result file (`ticker`, `date`, boolean and float columns).
pub fn read_result(bytes: Vec<u8>) -> Result<ResultRows, ShardFailure> {
    let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None)
        .map_err(bad_result)?;
    let schema = reader.schema();
    let mut rows = ResultRows::default();
    for field in schema.fields().iter().skip(2) {
        match field.data_type() {
            DataType::Boolean => rows.flags.push((field.name().clone(), Vec::new())),
            _ => rows.numbers.push((field.name().clone(), Vec::new())),
        }
    }
    for batch in reader {
        let batch = batch.map_err(bad_result)?;
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| bad_result(format!("no `{name}` column")))
        };
        let tickers = arrow_cast::cast(col("ticker")?, &DataType::Utf8).map_err(bad_result)?;
        rows.ticker.extend(
            tickers
                .as_string::<i32>()
                .iter()
                .map(|t| t.unwrap_or_default().to_string()),
        );
        let dates = arrow_cast::cast(col("date")?, &DataType::Date32).map_err(bad_result)?;
        rows.date.extend(
            dates
                .as_primitive::<Date32Type>()
                .iter()
                .map(|d| d.unwrap_or(0)),
        );
        for (name, v) in rows.flags.iter_mut() {
            let a = arrow_cast::cast(col(name)?, &DataType::Boolean).map_err(bad_result)?;
            let a: &BooleanArray = a.as_boolean();
            v.extend(a.iter().map(|b| b.unwrap_or(false)));
        }
        for (name, v) in rows.numbers.iter_mut() {
            let a = arrow_cast::cast(col(name)?, &DataType::Float64).map_err(bad_result)?;
            v.extend(
                a.as_primitive::<Float64Type>()
                    .iter()
                    .map(|x| x.unwrap_or(f64::NAN)),
            );
        }
    }
    Ok(rows)
}
