//! Result exports: signal rows as CSV, JSON, NDJSON, Parquet, Markdown or a plain table.
//! Every format has the same columns: `ticker`, the bar (`date` for a daily pack: `YYYY-MM-DD`,
//! Parquet `date32`; `time` for an intraday pack: RFC 3339 with the offset in the pack's zone,
//! Parquet `timestamp[ns]` with the pack's zone), then one column per indicator.

use crate::error::{EngineError, Result};
use crate::rights::Watermark;
use crate::scan::Signals;
use arrow_array::{
    ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use quantd_data::time::{Calendar, day_of_stamp};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// Comma-separated values with a header.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet.
    Parquet,
    /// A Markdown table.
    Md,
}

impl Format {
    /// Parses a format name.
    pub fn parse(name: &str) -> Result<Format> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "table" => Format::Table,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "parquet" | "pq" => Format::Parquet,
            "md" | "markdown" => Format::Md,
            other => {
                return Err(EngineError::Invalid(format!(
                    "unknown format `{other}`; use table, csv, json, ndjson, parquet or md"
                )));
            }
        })
    }

    /// The format's name, as `--format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
            Format::Md => "md",
        }
    }

    /// The format a file name implies, if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?;
        Format::parse(ext).ok().filter(|f| *f != Format::Table)
    }
}

fn io(e: std::io::Error) -> EngineError {
    EngineError::Io {
        action: "writing results to",
        path: "output".into(),
        source: e,
    }
}

fn cell(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        v.to_string()
    }
}

fn json_number(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// One row as a JSON object.
fn json_row(s: &Signals, i: usize) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("ticker".into(), s.ticker_of(i).into());
    m.insert(s.calendar.key_name().into(), s.time_of(i).into());
    for (name, &v) in s.indicators.iter().zip(s.values_of(i)) {
        m.insert(name.clone(), json_number(v));
    }
    serde_json::Value::Object(m)
}

/// How results are written: the format, and what an export may carry.
#[derive(Debug, Clone, Copy)]
pub struct Writing<'a> {
    /// The format.
    pub format: Format,
    /// Scan rows without their `let` columns (ticker and bar only).
    pub signals_only: bool,
    /// At most this many scan rows (a terminal's first rows); `None`: all.
    pub max_rows: Option<usize>,
    /// The watermark the output must carry.
    pub mark: Option<&'a Watermark>,
}

impl Writing<'_> {
    /// Every row in `format`, unmarked.
    pub fn plain(format: Format) -> Writing<'static> {
        Writing {
            format,
            signals_only: false,
            max_rows: None,
            mark: None,
        }
    }
}

/// Writes signal rows in `format`, all at once.
pub fn write_signals<W: Write + Send>(s: &Signals, format: Format, w: W) -> Result<()> {
    let mut writer = ResultWriter::new(format, s.calendar, &s.indicators, w)?;
    writer.write(s)?;
    writer.finish()
}

/// Streams signal rows in `format`: chunk by chunk (one shard at a time), so memory stays bounded
/// by the largest chunk. The header goes out first; JSON arrays and Parquet files are closed by
/// [`ResultWriter::finish`]. Tables and Markdown align columns per chunk.
pub struct ResultWriter<W: Write + Send> {
    format: Format,
    calendar: Calendar,
    indicators: Vec<String>,
    out: Option<W>,
    parquet: Option<parquet::arrow::ArrowWriter<W>>,
    schema: Arc<Schema>,
    rows: u64,
    /// Whether a table's header is out.
    headed: bool,
    /// The watermark: its preamble is out; a JSON export's closing brace is still owed.
    mark: Option<Watermark>,
}

impl<W: Write + Send> ResultWriter<W> {
    /// Starts writing rows of a pack with `calendar`; `indicators` are the `let` columns after
    /// `ticker` and the bar.
    pub fn new(format: Format, calendar: Calendar, indicators: &[String], w: W) -> Result<Self> {
        Self::marked(format, calendar, indicators, w, None)
    }

    /// [`ResultWriter::new`] with a watermark (see [`crate::rights::mark`]).
    pub fn marked(
        format: Format,
        calendar: Calendar,
        indicators: &[String],
        mut w: W,
        mark: Option<&Watermark>,
    ) -> Result<Self> {
        if let Some(text) = mark.and_then(|m| m.preamble(format)) {
            w.write_all(text.as_bytes()).map_err(io)?;
        }
        let mark = mark.cloned();
        let key = calendar.key_name();
        let key_type = if calendar.daily {
            DataType::Date32
        } else {
            DataType::Timestamp(TimeUnit::Nanosecond, Some(calendar.zone.name().into()))
        };
        let mut fields = vec![
            Field::new("ticker", DataType::Utf8, false),
            Field::new(key, key_type, false),
        ];
        fields.extend(
            indicators
                .iter()
                .map(|n| Field::new(n, DataType::Float64, true)),
        );
        let schema = Arc::new(Schema::new(fields));
        let mut parquet = None;
        match format {
            Format::Csv => {
                let header: Vec<&str> = ["ticker", key]
                    .into_iter()
                    .chain(indicators.iter().map(String::as_str))
                    .collect();
                writeln!(w, "{}", header.join(",")).map_err(io)?;
            }
            Format::Json => write!(w, "[").map_err(io)?,
            Format::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::SNAPPY)
                    .set_key_value_metadata(mark.as_ref().map(Watermark::parquet_metadata))
                    .build();
                parquet = Some(
                    parquet::arrow::ArrowWriter::try_new(w, schema.clone(), Some(props))
                        .map_err(|e| EngineError::Internal(format!("writing Parquet: {e}")))?,
                );
                return Ok(ResultWriter {
                    format,
                    calendar,
                    indicators: indicators.to_vec(),
                    out: None,
                    parquet,
                    schema,
                    rows: 0,
                    headed: false,
                    mark,
                });
            }
            _ => {}
        }
        Ok(ResultWriter {
            format,
            calendar,
            indicators: indicators.to_vec(),
            out: Some(w),
            parquet: parquet.take(),
            schema,
            rows: 0,
            headed: false,
            mark,
        })
    }

    /// Writes one chunk of rows.
    pub fn write(&mut self, s: &Signals) -> Result<()> {
        if let Some(p) = &mut self.parquet {
            let batch = parquet_batch(s, self.schema.clone())?;
            p.write(&batch)
                .map_err(|e| EngineError::Internal(format!("writing Parquet: {e}")))?;
            self.rows += s.len() as u64;
            return Ok(());
        }
        let w = self.out.as_mut().expect("text writer");
        match self.format {
            Format::Csv => {
                for i in 0..s.len() {
                    let vals: String = s
                        .values_of(i)
                        .iter()
                        .map(|&v| format!(",{}", cell(v)))
                        .collect();
                    writeln!(w, "{},{}{vals}", s.ticker_of(i), s.time_of(i)).map_err(io)?;
                }
            }
            Format::Json => {
                for i in 0..s.len() {
                    if self.rows + i as u64 > 0 {
                        write!(w, ",").map_err(io)?;
                    }
                    serde_json::to_writer(&mut *w, &json_row(s, i)).map_err(|e| io(e.into()))?;
                }
            }
            Format::Ndjson => {
                for i in 0..s.len() {
                    serde_json::to_writer(&mut *w, &json_row(s, i)).map_err(|e| io(e.into()))?;
                    writeln!(w).map_err(io)?;
                }
            }
            Format::Md | Format::Table => {
                let header = header_of(self.calendar, &self.indicators);
                let rows: Vec<Vec<String>> = (0..s.len())
                    .map(|i| {
                        let mut r = vec![s.ticker_of(i).to_string(), s.time_of(i)];
                        r.extend(s.values_of(i).iter().map(|&v| {
                            if v.is_nan() {
                                "NaN".into()
                            } else {
                                format!("{v:.4}")
                            }
                        }));
                        r
                    })
                    .collect();
                // The header goes out with the first rows (aligned with them), or from `finish`.
                if rows.is_empty() {
                    return Ok(());
                }
                write_table(w, &header, &rows, self.format == Format::Md, !self.headed)
                    .map_err(io)?;
                self.headed = true;
            }
            Format::Parquet => unreachable!("handled above"),
        }
        self.rows += s.len() as u64;
        Ok(())
    }

    /// Closes the output (JSON's `]`, Parquet's footer) and flushes it.
    pub fn finish(mut self) -> Result<()> {
        if let Some(p) = self.parquet.take() {
            p.close()
                .map_err(|e| EngineError::Internal(format!("writing Parquet: {e}")))?;
            return Ok(());
        }
        let w = self.out.as_mut().expect("text writer");
        if self.format == Format::Json {
            write!(w, "]").map_err(io)?;
            if let Some(end) = self.mark.as_ref().and_then(|m| m.epilogue(self.format)) {
                write!(w, "{end}").map_err(io)?;
            }
            writeln!(w).map_err(io)?;
        }
        if matches!(self.format, Format::Md | Format::Table) && !self.headed {
            let header = header_of(self.calendar, &self.indicators);
            let w = self.out.as_mut().expect("text writer");
            write_table(w, &header, &[], self.format == Format::Md, true).map_err(io)?;
        }
        self.out.as_mut().expect("text writer").flush().map_err(io)
    }
}

/// The column names of a table: `ticker`, the bar, the indicators.
fn header_of(calendar: Calendar, indicators: &[String]) -> Vec<String> {
    ["ticker", calendar.key_name()]
        .into_iter()
        .map(String::from)
        .chain(indicators.iter().cloned())
        .collect()
}

/// Columns are padded to align up to this many characters; a longer cell is written whole and
/// the rest of its row shifts (a table never pads every row to one giant cell).
const ALIGN_WIDTH_MAX: usize = 48;

/// Aligned plain or Markdown table; without `with_header`, only the rows (a later chunk).
/// Control characters are escaped; Markdown cells also escape `|` and line breaks, so any text
/// stays one cell.
pub fn write_table<W: Write>(
    w: &mut W,
    header: &[String],
    rows: &[Vec<String>],
    markdown: bool,
    with_header: bool,
) -> std::io::Result<()> {
    // Tables are for terminals and documents: text from data (tickers, names) is escaped so it
    // cannot drive a terminal.
    let cell = |c: &str| -> String {
        let c = quantd_data::text::escape(c);
        if markdown {
            c.replace('|', "\\|").replace(['\n', '\r'], " ")
        } else {
            c.into_owned()
        }
    };
    let mut widths: Vec<usize> = header.iter().map(|h| cell(h).chars().count()).collect();
    for r in rows {
        for (wd, c) in widths.iter_mut().zip(r) {
            *wd = (*wd).max(cell(c).chars().count());
        }
    }
    for wd in &mut widths {
        *wd = (*wd).min(ALIGN_WIDTH_MAX);
    }
    let line = |w: &mut W, cells: &[String]| -> std::io::Result<()> {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, &wd)| {
                let mut c = cell(c);
                let n = c.chars().count();
                c.extend(std::iter::repeat_n(' ', wd.saturating_sub(n)));
                c
            })
            .collect();
        if markdown {
            writeln!(w, "| {} |", parts.join(" | "))
        } else {
            writeln!(w, "{}", parts.join("  ").trim_end())
        }
    };
    if !with_header {
        for r in rows {
            line(w, r)?;
        }
        return Ok(());
    }
    line(w, header)?;
    if markdown {
        let dashes: Vec<String> = widths.iter().map(|&wd| "-".repeat(wd.max(3))).collect();
        writeln!(
            w,
            "|{}|",
            dashes
                .iter()
                .map(|d| format!(" {d} "))
                .collect::<Vec<_>>()
                .join("|")
        )?;
    }
    for r in rows {
        line(w, r)?;
    }
    Ok(())
}

fn parquet_batch(s: &Signals, schema: Arc<Schema>) -> Result<RecordBatch> {
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            (0..s.len()).map(|i| s.ticker_of(i)),
        )),
        if s.calendar.daily {
            Arc::new(Date32Array::from_iter_values(
                s.stamp.iter().map(|&t| day_of_stamp(t)),
            ))
        } else {
            Arc::new(
                TimestampNanosecondArray::from(s.stamp.clone())
                    .with_timezone(s.calendar.zone.name()),
            )
        },
    ];
    let n = s.indicators.len();
    for k in 0..n {
        arrays.push(Arc::new(Float64Array::from_iter_values(
            (0..s.len()).map(|i| s.values[i * n + k]),
        )));
    }
    RecordBatch::try_new(schema, arrays)
        .map_err(|e| EngineError::Internal(format!("writing Parquet: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Signals {
        Signals {
            tickers: vec!["AAA".into(), "BBB".into()].into(),
            indicators: vec!["r".into()],
            ticker: vec![0, 1],
            stamp: vec![19_000 * NANOS_PER_DAY, 19_001 * NANOS_PER_DAY],
            values: vec![25.5, f64::NAN],
            calendar: Calendar::DAILY,
        }
    }

    use quantd_data::time::NANOS_PER_DAY;

    fn text(format: Format) -> String {
        let mut out = Vec::new();
        write_signals(&sample(), format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_empty_result_has_its_header_once_however_many_empty_chunks_came() {
        let empty = Signals {
            ticker: vec![],
            stamp: vec![],
            values: vec![],
            ..sample()
        };
        for format in [Format::Table, Format::Md] {
            let mut out = Vec::new();
            let mut w =
                ResultWriter::new(format, empty.calendar, &empty.indicators, &mut out).unwrap();
            w.write(&empty).unwrap();
            w.write(&empty).unwrap();
            w.finish().unwrap();
            let text = String::from_utf8(out).unwrap();
            assert_eq!(text.matches("ticker").count(), 1, "{text}");
        }
        let mut out = Vec::new();
        let mut w =
            ResultWriter::new(Format::Table, empty.calendar, &empty.indicators, &mut out).unwrap();
        w.write(&empty).unwrap();
        w.write(&sample()).unwrap();
        w.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("ticker").count(), 1, "{text}");
        assert!(text.contains("AAA") && text.contains("BBB"), "{text}");
    }

    #[test]
    fn giant_and_odd_cells_neither_panic_nor_break_a_markdown_row() {
        let long = "x".repeat(1_000_000);
        let header = vec!["ticker".to_string(), long.clone()];
        let rows = vec![vec!["A|B\nC".to_string(), "\u{1b}]0;X\u{7}".to_string()]];
        for markdown in [true, false] {
            let mut out = Vec::new();
            write_table(&mut out, &header, &rows, markdown, true).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains(&long), "the long name is written whole");
            // The short column is not padded to a million characters.
            assert!(text.len() < 1_000_300, "{}", text.len());
            assert!(!text.contains('\u{1b}'), "no raw escape reaches a terminal");
            if markdown {
                assert!(text.contains("A\\|B"), "{}", &text[text.len() - 60..]);
                assert_eq!(text.lines().count(), 3);
            }
        }
    }

    #[test]
    fn every_text_format_has_the_same_rows() {
        assert_eq!(
            text(Format::Csv),
            "ticker,date,r\nAAA,2022-01-08,25.5\nBBB,2022-01-09,\n"
        );
        assert_eq!(
            text(Format::Ndjson),
            "{\"date\":\"2022-01-08\",\"r\":25.5,\"ticker\":\"AAA\"}\n{\"date\":\"2022-01-09\",\"r\":null,\"ticker\":\"BBB\"}\n"
        );
        let md = text(Format::Md);
        assert!(
            md.starts_with("| ticker | date       | r       |\n| ------ |"),
            "{md}"
        );
        assert!(md.contains("| BBB    | 2022-01-09 | NaN     |"), "{md}");
    }

    #[test]
    fn intraday_rows_are_times_with_their_offset_and_zoned_timestamps() {
        let mut s = sample();
        s.calendar = Calendar {
            interval: quantd_data::time::Interval::Minute5,
            zone: "America/New_York".parse().unwrap(),
            daily: false,
        };
        // 2024-01-02 14:35 UTC is 09:35 in New York.
        s.stamp = vec![1_704_206_100_000_000_000, 1_704_206_400_000_000_000];
        let mut out = Vec::new();
        write_signals(&s, Format::Csv, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ticker,time,r\nAAA,2024-01-02T09:35:00-05:00,25.5\nBBB,2024-01-02T09:40:00-05:00,\n"
        );
        let file = tempfile::tempfile().unwrap();
        write_signals(&s, Format::Parquet, &file).unwrap();
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let field = reader.schema().field(1).clone();
        assert_eq!(field.name(), "time");
        assert_eq!(
            field.data_type(),
            &DataType::Timestamp(TimeUnit::Nanosecond, Some("America/New_York".into()))
        );
        let batch = reader.build().unwrap().next().unwrap().unwrap();
        let col = batch.column(1);
        let times = col
            .as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .unwrap();
        assert_eq!(times.values().to_vec(), s.stamp);
    }

    #[test]
    fn formats_parse_and_come_from_extensions() {
        assert_eq!(Format::parse("NDJSON").unwrap(), Format::Ndjson);
        assert!(
            Format::parse("xml")
                .unwrap_err()
                .to_string()
                .contains("use table, csv")
        );
        assert_eq!(
            Format::from_path(Path::new("x.parquet")),
            Some(Format::Parquet)
        );
        assert_eq!(Format::from_path(Path::new("x")), None);
    }
}
