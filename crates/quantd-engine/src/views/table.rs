//! A result table: typed columns and rows, written in every [`Format`] by one writer.
//!
//! Every kind's result view (backtest statistics, sweep ranking and heatmap, A+ report rows,
//! run log, import outcome) becomes a [`Table`], so each surface offers each kind in CSV,
//! JSON, NDJSON, Parquet, Markdown and a terminal table without code of its own. Scan rows
//! stream through [`crate::results::ResultWriter`] instead (they can be larger than memory).

use crate::error::{EngineError, Result};
use crate::results::{Format, write_table};
use crate::rights::Watermark;
use arrow_array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use quantd_data::bars::date_from_day;
use quantd_data::time::{Calendar, Stamp, day_of_stamp};
use serde_json::Value;
use std::io::Write;
use std::sync::Arc;

/// What a column holds (its Parquet type; text formats print it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text.
    Text,
    /// A calendar day (days since 1970-01-01).
    Date,
    /// A bar's instant in a pack with this calendar: a date (Parquet `date32`) for daily bars,
    /// a time with its offset (Parquet `timestamp[ns]` in the pack's zone) for intraday ones.
    Time(Calendar),
    /// A 64-bit float; `NaN` is empty in CSV, `null` in JSON.
    Float,
    /// A 64-bit integer.
    Int,
}

/// One column: its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The header.
    pub name: String,
    /// What its cells hold.
    pub kind: ColumnType,
}

impl Column {
    /// A column named `name` of `kind`.
    pub fn new(name: impl Into<String>, kind: ColumnType) -> Column {
        Column {
            name: name.into(),
            kind,
        }
    }
}

/// One cell; `Null` fits every column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A day (days since 1970-01-01).
    Date(i32),
    /// A bar's instant, read by its pack's calendar.
    Time(Stamp, Calendar),
    /// A float.
    Float(f64),
    /// An integer.
    Int(i64),
    /// No value.
    Null,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}
impl From<Option<String>> for Cell {
    fn from(s: Option<String>) -> Cell {
        s.map_or(Cell::Null, Cell::Text)
    }
}
impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        Cell::Float(v)
    }
}
impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Cell {
        v.map_or(Cell::Null, Cell::Float)
    }
}
impl From<u64> for Cell {
    fn from(v: u64) -> Cell {
        Cell::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<i64> for Cell {
    fn from(v: i64) -> Cell {
        Cell::Int(v)
    }
}
impl From<chrono::NaiveDate> for Cell {
    fn from(d: chrono::NaiveDate) -> Cell {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        Cell::Date(i32::try_from((d - epoch).num_days()).unwrap_or(i32::MAX))
    }
}

impl Cell {
    /// The cell as CSV and table text (`precision` decimals for floats in tables).
    fn text(&self, precision: Option<usize>) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Date(d) => date_from_day(*d).to_string(),
            Cell::Time(t, c) => c.format(*t),
            Cell::Float(v) if v.is_nan() => String::new(),
            Cell::Float(v) => match precision {
                Some(p) => format!("{v:.p$}"),
                None => v.to_string(),
            },
            Cell::Int(v) => v.to_string(),
            Cell::Null => String::new(),
        }
    }

    pub(crate) fn json(&self) -> Value {
        match self {
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Date(d) => Value::String(date_from_day(*d).to_string()),
            Cell::Time(t, c) => Value::String(c.format(*t)),
            Cell::Float(v) => serde_json::Number::from_f64(*v).map_or(Value::Null, Value::Number),
            Cell::Int(v) => Value::from(*v),
            Cell::Null => Value::Null,
        }
    }
}

/// Typed columns and their rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The rows; each has one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row (padded with `Null` or cut to the columns).
    pub fn push(&mut self, mut row: Vec<Cell>) {
        row.resize(self.columns.len(), Cell::Null);
        self.rows.push(row);
    }

    /// The rows as JSON objects keyed by column name.
    pub fn json_rows(&self) -> Vec<Value> {
        self.rows
            .iter()
            .map(|r| {
                let m: serde_json::Map<String, Value> = self
                    .columns
                    .iter()
                    .zip(r)
                    .map(|(c, v)| (c.name.clone(), v.json()))
                    .collect();
                Value::Object(m)
            })
            .collect()
    }

    /// Writes the table in `format`; floats in terminal tables and Markdown get `precision`
    /// decimals (every other format keeps full precision).
    pub fn write<W: Write + Send>(&self, format: Format, precision: usize, w: W) -> Result<()> {
        self.write_marked(format, precision, w, None)
    }

    /// [`Table::write`] with a watermark (see [`crate::rights::mark`]).
    pub fn write_marked<W: Write + Send>(
        &self,
        format: Format,
        precision: usize,
        mut w: W,
        mark: Option<&Watermark>,
    ) -> Result<()> {
        if let Some(text) = mark.and_then(|m| m.preamble(format)) {
            w.write_all(text.as_bytes()).map_err(io)?;
        }
        match format {
            Format::Csv => self.write_csv(&mut w).map_err(io)?,
            Format::Json => {
                serde_json::to_writer(&mut w, &self.json_rows()).map_err(|e| io(e.into()))?;
                if let Some(end) = mark.and_then(|m| m.epilogue(format)) {
                    write!(w, "{end}").map_err(io)?;
                }
                writeln!(w).map_err(io)?;
            }
            Format::Ndjson => {
                for row in self.json_rows() {
                    serde_json::to_writer(&mut w, &row).map_err(|e| io(e.into()))?;
                    writeln!(w).map_err(io)?;
                }
            }
            Format::Parquet => return self.write_parquet(w, mark),
            Format::Md | Format::Table => {
                let header: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
                let rows: Vec<Vec<String>> = self
                    .rows
                    .iter()
                    .map(|r| r.iter().map(|c| c.text(Some(precision))).collect())
                    .collect();
                write_table(&mut w, &header, &rows, format == Format::Md, true).map_err(io)?;
            }
        }
        w.flush().map_err(io)
    }

    fn write_csv<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        let header: Vec<String> = self.columns.iter().map(|c| csv_field(&c.name)).collect();
        writeln!(w, "{}", header.join(","))?;
        for r in &self.rows {
            let cells: Vec<String> = r.iter().map(|c| csv_field(&c.text(None))).collect();
            writeln!(w, "{}", cells.join(","))?;
        }
        Ok(())
    }

    fn write_parquet<W: Write + Send>(&self, w: W, mark: Option<&Watermark>) -> Result<()> {
        let pq = |e: &dyn std::fmt::Display| EngineError::Internal(format!("writing Parquet: {e}"));
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(c.kind), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let arrays: Vec<ArrayRef> = (0..self.columns.len()).map(|k| self.array(k)).collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| pq(&e))?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .set_key_value_metadata(mark.map(Watermark::parquet_metadata))
            .build();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(w, schema, Some(props)).map_err(|e| pq(&e))?;
        writer.write(&batch).map_err(|e| pq(&e))?;
        writer.close().map_err(|e| pq(&e))?;
        Ok(())
    }

    /// Column `k` as an Arrow array of its type (cells of another type are null).
    fn array(&self, k: usize) -> ArrayRef {
        let cells = self.rows.iter().map(|r| &r[k]);
        match self.columns[k].kind {
            ColumnType::Text => Arc::new(StringArray::from_iter(cells.map(|c| match c {
                Cell::Null => None,
                other => Some(other.text(None)),
            }))),
            ColumnType::Date => Arc::new(Date32Array::from_iter(cells.map(|c| match c {
                Cell::Date(d) => Some(*d),
                _ => None,
            }))),
            ColumnType::Time(calendar) if calendar.daily => {
                Arc::new(Date32Array::from_iter(cells.map(|c| match c {
                    Cell::Time(t, _) => Some(day_of_stamp(*t)),
                    _ => None,
                })))
            }
            ColumnType::Time(calendar) => Arc::new(
                TimestampNanosecondArray::from_iter(cells.map(|c| match c {
                    Cell::Time(t, _) => Some(*t),
                    _ => None,
                }))
                .with_timezone(calendar.zone.name()),
            ),
            ColumnType::Float => Arc::new(Float64Array::from_iter(cells.map(|c| match c {
                Cell::Float(v) => Some(*v),
                Cell::Int(v) => Some(*v as f64),
                _ => None,
            }))),
            ColumnType::Int => Arc::new(Int64Array::from_iter(cells.map(|c| match c {
                Cell::Int(v) => Some(*v),
                _ => None,
            }))),
        }
    }
}

fn arrow_type(kind: ColumnType) -> DataType {
    match kind {
        ColumnType::Text => DataType::Utf8,
        ColumnType::Date => DataType::Date32,
        ColumnType::Time(c) if c.daily => DataType::Date32,
        ColumnType::Time(c) => {
            DataType::Timestamp(TimeUnit::Nanosecond, Some(c.zone.name().into()))
        }
        ColumnType::Float => DataType::Float64,
        ColumnType::Int => DataType::Int64,
    }
}

/// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn io(e: std::io::Error) -> EngineError {
    EngineError::Io {
        action: "writing results to",
        path: "output".into(),
        source: e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(vec![
            Column::new("ticker", ColumnType::Text),
            Column::new("date", ColumnType::Date),
            Column::new("Return [%]", ColumnType::Float),
            Column::new("trades", ColumnType::Int),
        ]);
        t.push(vec![
            "A,B".into(),
            Cell::Date(19_000),
            1.5.into(),
            3u64.into(),
        ]);
        t.push(vec!["C".into(), Cell::Null, f64::NAN.into()]);
        t
    }

    fn text(format: Format) -> String {
        let mut out = Vec::new();
        sample().write(format, 2, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_formats_show_the_same_cells() {
        assert_eq!(
            text(Format::Csv),
            "ticker,date,Return [%],trades\n\"A,B\",2022-01-08,1.5,3\nC,,,\n"
        );
        assert_eq!(
            text(Format::Ndjson),
            "{\"Return [%]\":1.5,\"date\":\"2022-01-08\",\"ticker\":\"A,B\",\"trades\":3}\n\
             {\"Return [%]\":null,\"date\":null,\"ticker\":\"C\",\"trades\":null}\n"
        );
        let json: Value = serde_json::from_str(&text(Format::Json)).unwrap();
        assert_eq!(json[0]["trades"], 3);
        let md = text(Format::Md);
        assert!(md.contains("| A,B    | 2022-01-08 | 1.50"), "{md}");
    }

    #[test]
    fn parquet_keeps_types_and_nulls() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let file = tempfile::tempfile().unwrap();
        sample()
            .write(Format::Parquet, 2, file.try_clone().unwrap())
            .unwrap();
        let reader = SerializedFileReader::new(file).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
        let schema = reader.metadata().file_metadata().schema_descr();
        let names: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
        assert_eq!(names, ["ticker", "date", "Return [%]", "trades"]);
    }
}
