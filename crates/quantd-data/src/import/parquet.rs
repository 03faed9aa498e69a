//! The Parquet reader: schema → [`Layout`] and a column [`Plan`], then record batches read as the
//! plan says and fed row by row to the [`Collector`]. The column and row counts are checked
//! against the [`ImportLimits`] from the footer, and every column chunk's byte range against the
//! file, before any data is decoded.
//!
//! The `parquet` crate panics on some damaged files (an assertion on negative offsets, for one);
//! decoding runs behind a panic boundary so such a file is a [`DataError::Parquet`] like any other
//! undecodable file, never a crash. The panics we know of are prevented instead: chunks outside the
//! file are refused from the footer, and pages reach the decoder through [`CheckedRowGroups`].

use super::columns::{BatchColumns, Plan};
use super::csv::parse_number;
use super::pages::{CheckedRowGroups, DAMAGED};
use super::{Collector, ImportLimits, ImportOptions, Layout, RawRow};
use crate::bars::BASE_COLUMNS;
use crate::error::{DataError, Result};
use crate::validate::RowRef;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReader};
use parquet::arrow::{ProjectionMask, parquet_to_arrow_field_levels};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{ChunkReader, FileReader};
use parquet::file::serialized_reader::SerializedFileReader;
use quantd_core::Progress;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Longest decoder message quoted in an error, in characters.
const DECODER_MESSAGE_CHARS: usize = 400;

fn decoder_error(source: &str, e: &dyn std::fmt::Display) -> DataError {
    DataError::Parquet {
        path: source.into(),
        message: crate::text::cut(&e.to_string(), DECODER_MESSAGE_CHARS).into_owned(),
    }
}

/// A decoding error; one from [`super::pages`] shows as its own text, without the wrappers the
/// Arrow reader and the `parquet` crate put around it.
fn batch_error(source: &str, e: arrow_schema::ArrowError) -> DataError {
    let text = e.to_string();
    match text.find(DAMAGED) {
        Some(at) => decoder_error(source, &&text[at..]),
        None => decoder_error(source, &text),
    }
}

/// Reads the rows of a Parquet input.
pub(super) fn read<T: ChunkReader + 'static>(
    source: &str,
    input: T,
    opts: &ImportOptions,
    limits: &ImportLimits,
    progress: &dyn Progress,
) -> Result<Collector> {
    let decode = AssertUnwindSafe(|| read_unguarded(source, input, opts, limits, progress));
    catch_unwind(decode).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown failure".into());
        Err(decoder_error(
            source,
            &format!("the file is damaged (the decoder failed: {what})"),
        ))
    })
}

/// Refuses a footer whose column chunks lie outside the file (which the decoder would assert on).
fn check_chunks(source: &str, meta: &ParquetMetaData, file_len: u64) -> Result<()> {
    for (g, group) in meta.row_groups().iter().enumerate() {
        for (c, col) in group.columns().iter().enumerate() {
            let start = col
                .dictionary_page_offset()
                .unwrap_or(col.data_page_offset());
            let within = u64::try_from(start)
                .ok()
                .zip(u64::try_from(col.compressed_size()).ok())
                .and_then(|(s, len)| s.checked_add(len))
                .is_some_and(|end| end <= file_len);
            if !within {
                let what = format!(
                    "the file is damaged: column chunk {c} of row group {g} lies outside the file"
                );
                return Err(decoder_error(source, &what));
            }
        }
    }
    Ok(())
}

fn read_unguarded<T: ChunkReader + 'static>(
    source: &str,
    input: T,
    opts: &ImportOptions,
    limits: &ImportLimits,
    progress: &dyn Progress,
) -> Result<Collector> {
    let pq_err = |e: &dyn std::fmt::Display| decoder_error(source, e);
    let file_len = input.len();
    let file = SerializedFileReader::new(input).map_err(|e| pq_err(&e))?;
    let meta = Arc::new(file.metadata().clone());
    check_chunks(source, &meta, file_len)?;
    let arrow_meta =
        ArrowReaderMetadata::try_new(meta.clone(), Default::default()).map_err(|e| pq_err(&e))?;
    let schema = arrow_meta.schema().clone();
    limits.check_columns(source, "columns", schema.fields().len())?;
    let parquet_schema = meta.file_metadata().schema_descr();
    limits.check_columns(source, "leaf columns", parquet_schema.num_columns())?;
    let declared_rows = meta.file_metadata().num_rows();
    let total_rows = u64::try_from(declared_rows).unwrap_or(0);
    if total_rows > limits.row_cap() {
        return Err(limits.too_many_rows(source));
    }
    let header: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let layout = Layout::from_header(source, &header, opts.ticker.as_deref())?;
    let plan = Plan::new(&schema, &layout, source, opts.epoch)?;
    let zone = opts.tz.or(plan.zone()).unwrap_or(crate::time::Zone::UTC);
    let levels =
        parquet_to_arrow_field_levels(parquet_schema, ProjectionMask::all(), Some(schema.fields()))
            .map_err(|e| pq_err(&e))?;
    let row_groups = CheckedRowGroups(Arc::new(file));
    let reader =
        ParquetRecordBatchReader::try_new_with_row_groups(&levels, &row_groups, 65_536, None)
            .map_err(|e| pq_err(&e))?;
    let mut c = Collector::new(source.to_string(), opts, zone, layout.extra_names(), limits);
    c.reserve(total_rows);
    progress.phase("read", total_rows);
    let date_column = header.get(layout.date).map_or("date", String::as_str);
    let mut row = 0u64;
    let mut extras = vec![0.0; layout.extras.len()];
    for batch in reader {
        let batch = batch.map_err(|e| batch_error(source, e))?;
        let cols = BatchColumns::new(&batch, &plan, &layout, &header, source)?;
        for r in 0..batch.num_rows() {
            if c.full() {
                return Err(limits.too_many_rows(source));
            }
            row += 1;
            let at = RowRef::Row(row);
            let ticker = match cols.ticker(r) {
                Ok(Some(t)) => Some(t),
                Ok(None) => Some(opts.ticker.as_deref().unwrap_or("")),
                Err(shown) => {
                    c.ticker_not_utf8(at, shown);
                    None
                }
            };
            let reader = c.reader;
            let time = match cols.time(r, &reader) {
                Ok(time) => Some(time),
                Err((fault, shown)) => {
                    c.bad_time(at, date_column, &shown, fault);
                    None
                }
            };
            let mut base = [None; 5];
            for (k, name) in BASE_COLUMNS.iter().enumerate() {
                base[k] = match cols.base(k, r) {
                    Ok(v) => Some(v),
                    // The same message as CSV gives for the same text.
                    Err(shown) => parse_number(&mut c, at, name, &shown, true),
                };
            }
            if let Err((k, shown)) = cols.extras(r, &mut extras) {
                let name = layout.extras.get(k).map_or("", |(n, _)| n.as_str());
                c.unparsable(at, name, &shown, "a number");
                base[0] = None;
            }
            c.push(RawRow {
                at,
                ticker,
                time,
                base,
                extras: &extras,
            });
        }
        progress.advance(batch.num_rows() as u64);
    }
    Ok(c)
}
