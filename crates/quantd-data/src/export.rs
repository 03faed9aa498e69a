//! Export of bars to CSV or Parquet in the long format import reads
//! (`ticker,date|time,open,high,low,close,volume[,extras]`), so export → import gives the same pack
//! id. Numbers are written in the shortest form that parses back to the same value.
//!
//! A daily pack's bars are dates (`date`: `YYYY-MM-DD`, Parquet `date32`); an intraday pack's are
//! instants (`time`: RFC 3339 local time with its offset in the pack's zone, Parquet
//! `timestamp[ns, tz=<zone>]`, which pandas reads as a tz-aware `DatetimeIndex`). Parquet carries
//! the zone back on import; a CSV file needs `--tz` for it.

use crate::bars::BarTable;
use crate::error::{DataError, Result};
use crate::import::FileFormat;
use crate::time::day_of_stamp;
use arrow_array::{
    ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use quantd_core::Progress;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Options for Parquet output, and the watermark of the export.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParquetLayout {
    /// One row group per ticker (otherwise row groups of about a million rows).
    pub row_group_per_ticker: bool,
    /// A watermark line: CSV starts with `# <line>`; Parquet keeps it as metadata.
    pub watermark: Option<String>,
    /// More key-value metadata for Parquet (the watermark as JSON, the attribution).
    pub metadata: Vec<(String, String)>,
}

/// Writes `table` to `path`, as CSV or Parquet by its extension.
pub fn export(
    table: &BarTable,
    path: &Path,
    layout: ParquetLayout,
    progress: &dyn Progress,
) -> Result<()> {
    let format = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => FileFormat::Csv,
        Some("parquet") | Some("pq") => FileFormat::Parquet,
        _ => {
            return Err(DataError::Input {
                what: format!("cannot tell the export format of `{}`", path.display()),
                fix: "name the output *.csv or *.parquet".into(),
            });
        }
    };
    let tmp = path.with_extension("partial");
    let written = match format {
        FileFormat::Csv => write_csv(table, &tmp, layout.watermark.as_deref(), progress),
        FileFormat::Parquet => write_parquet(table, &tmp, &layout, progress),
    };
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| DataError::io("renaming", path, e))
}

fn write_csv(
    table: &BarTable,
    path: &Path,
    watermark: Option<&str>,
    progress: &dyn Progress,
) -> Result<()> {
    let io = |e: std::io::Error| DataError::io("writing", path, e);
    let file = std::fs::File::create(path).map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    if let Some(line) = watermark {
        writeln!(w, "# {line}").map_err(io)?;
    }
    let header: Vec<&str> = ["ticker", table.calendar.key_name()]
        .into_iter()
        .chain(table.column_names())
        .collect();
    w.write_all(&csv_record(&header).map_err(io)?).map_err(io)?;
    progress.phase("write", table.tickers.len() as u64);
    let mut line = String::with_capacity(128);
    for (i, ticker) in table.tickers.iter().enumerate() {
        // Dates and numbers never need quotes; a ticker may (a comma, a quote): the csv writer
        // quotes it once, and the rows reuse that text.
        let quoted = csv_record(&[ticker]).map_err(io)?;
        let quoted = std::str::from_utf8(&quoted)
            .unwrap_or(ticker)
            .trim_end_matches('\n');
        for r in table.range(i) {
            use std::fmt::Write as _;
            line.clear();
            let _ = write!(line, "{quoted},{}", table.calendar.format(table.stamps[r]));
            for c in &table.columns {
                let v = c.values[r];
                if v.is_nan() {
                    line.push(',');
                } else {
                    let _ = write!(line, ",{v}");
                }
            }
            line.push('\n');
            w.write_all(line.as_bytes()).map_err(io)?;
        }
        progress.advance(1);
    }
    w.flush().map_err(io)
}

/// One CSV record as the csv writer writes it (fields quoted where needed), with its `\n`.
fn csv_record(fields: &[&str]) -> std::io::Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(fields)?;
    w.into_inner().map_err(|e| e.into_error())
}

fn write_parquet(
    table: &BarTable,
    path: &Path,
    layout: &ParquetLayout,
    progress: &dyn Progress,
) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| DataError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let calendar = table.calendar;
    let key_type = if calendar.daily {
        DataType::Date32
    } else {
        DataType::Timestamp(TimeUnit::Nanosecond, Some(calendar.zone.name().into()))
    };
    let mut fields = vec![
        Field::new("ticker", DataType::Utf8, false),
        Field::new(calendar.key_name(), key_type, false),
    ];
    fields.extend(
        table
            .columns
            .iter()
            .map(|c| Field::new(&c.name, DataType::Float64, true)),
    );
    let schema = Arc::new(Schema::new(fields));
    let file = std::fs::File::create(path).map_err(|e| DataError::io("writing", path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(if layout.row_group_per_ticker {
            usize::MAX
        } else {
            1 << 20
        }))
        .set_key_value_metadata((!layout.metadata.is_empty()).then(|| {
            layout
                .metadata
                .iter()
                .map(|(k, v)| parquet::file::metadata::KeyValue::new(k.clone(), v.clone()))
                .collect()
        }))
        .build();
    let mut writer =
        ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| err(&e))?;
    progress.phase("write", table.tickers.len() as u64);
    // Batches of whole tickers, about 64K rows each (one ticker each when row groups are per ticker).
    let mut start = 0;
    while start < table.tickers.len() {
        let mut end = start + 1;
        while !layout.row_group_per_ticker
            && end < table.tickers.len()
            && table.offsets[end] - table.offsets[start] < 65_536
        {
            end += 1;
        }
        let rows = table.offsets[start]..table.offsets[end];
        let tickers: StringArray = (start..end)
            .flat_map(|i| std::iter::repeat_n(table.tickers[i].as_str(), table.range(i).len()))
            .map(Some)
            .collect();
        let stamps = &table.stamps[rows.clone()];
        let keys: ArrayRef = if calendar.daily {
            Arc::new(Date32Array::from_iter_values(
                stamps.iter().map(|&s| day_of_stamp(s)),
            ))
        } else {
            Arc::new(
                TimestampNanosecondArray::from(stamps.to_vec()).with_timezone(calendar.zone.name()),
            )
        };
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(tickers), keys];
        arrays.extend(
            table
                .columns
                .iter()
                .map(|c| Arc::new(Float64Array::from(c.values[rows.clone()].to_vec())) as ArrayRef),
        );
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| err(&e))?;
        writer.write(&batch).map_err(|e| err(&e))?;
        if layout.row_group_per_ticker {
            writer.flush().map_err(|e| err(&e))?;
        }
        progress.advance((end - start) as u64);
        start = end;
    }
    writer.close().map_err(|e| err(&e))?;
    Ok(())
}
