//! The on-disk pack: one directory per pack id, written atomically, read by memory map.
//!
//! ```text
//! <packs>/<id>/bars.arrow      Arrow IPC file, uncompressed, 64-byte aligned, one record batch per
//!                              ticker (in ticker order): ts: timestamp[ns, tz=UTC], open high low
//!                              close volume and extra columns: Float64
//! <packs>/<id>/manifest.json   id, calendar (interval, zone, daily), columns, first and last bar,
//!                              per-ticker row counts and session-date ranges
//! ```
//! Packs of format 1 (before packs kept instants) key bars by `date: Date32` and have no calendar
//! in their manifest: they are read as daily UTC packs, their dates turned into instants as each
//! ticker is read.
//! Why this layout (figures in docs/PERFORMANCE.md): a scan maps the file and decodes only the
//! columns it needs of only the tickers it needs, with zero copies; pages of other columns are
//! never touched. One batch per ticker is the ticker → row-range index.
//!
//! Writing goes to a temporary directory that is fsynced and renamed into place, so a pack
//! directory is either complete or absent.

use crate::bars::{BarTable, date_from_day};
use crate::error::{DataError, Result};
use crate::time::{Calendar, NANOS_PER_DAY, Stamp, stamp_of_day};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, TimestampNanosecondType};
use arrow_array::{ArrayRef, Float64Array, RecordBatch, TimestampNanosecondArray};
use arrow_buffer::Buffer;
use arrow_ipc::reader::FileDecoder;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use arrow_ipc::{Block, MetadataVersion};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use quantd_core::{PackId, Progress};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The pack format version this code writes.
pub const FORMAT_VERSION: u32 = 2;
/// The format of packs keyed by `date: Date32`, which this code still reads.
pub const DATED_FORMAT: u32 = 1;
/// The name of the bars file's key column (format 2).
pub const KEY_COLUMN: &str = "ts";
/// The bars file in a pack directory.
pub const BARS_FILE: &str = "bars.arrow";
/// The manifest file in a pack directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// What a pack holds, stored beside its bars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version ([`FORMAT_VERSION`]).
    pub format: u32,
    /// The content hash.
    pub id: PackId,
    /// How the bars' instants read (format 1 packs: daily in UTC).
    #[serde(default)]
    pub calendar: Calendar,
    /// Value columns in canonical order (the key column is implicit).
    pub columns: Vec<String>,
    /// Total bars.
    pub bars: u64,
    /// Earliest session date of any ticker.
    pub first_date: NaiveDate,
    /// Latest session date of any ticker.
    pub last_date: NaiveDate,
    /// The earliest bar's instant (format 1 packs: filled in from `first_date` when read).
    #[serde(default)]
    pub first_bar: Stamp,
    /// The latest bar's instant.
    #[serde(default)]
    pub last_bar: Stamp,
    /// Tickers in order; ticker `i` is record batch `i`.
    pub tickers: Vec<TickerEntry>,
}

/// One ticker of a pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TickerEntry {
    /// The symbol.
    pub ticker: String,
    /// Number of bars.
    pub rows: u64,
    /// First session date.
    pub first: NaiveDate,
    /// Last session date.
    pub last: NaiveDate,
}

/// The key column's type: instants in nanoseconds, in UTC.
fn key_type() -> DataType {
    DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, Some("UTC".into()))
}

fn schema_for(columns: &[String]) -> SchemaRef {
    let mut fields = vec![Field::new(KEY_COLUMN, key_type(), false)];
    fields.extend(
        columns
            .iter()
            .map(|c| Field::new(c, DataType::Float64, true)),
    );
    Arc::new(Schema::new(fields))
}

/// Builds the manifest of a table.
pub fn manifest_for(table: &BarTable, id: &PackId) -> Manifest {
    let tickers: Vec<TickerEntry> = (0..table.tickers.len())
        .map(|i| {
            let stamps = table.stamps.get(table.range(i)).unwrap_or_default();
            let day = |s: Option<&Stamp>| {
                date_from_day(table.calendar.day_of(s.copied().unwrap_or_default()))
            };
            TickerEntry {
                ticker: table.tickers[i].clone(),
                rows: stamps.len() as u64,
                first: day(stamps.first()),
                last: day(stamps.last()),
            }
        })
        .collect();
    let ranges = (0..table.tickers.len()).map(|i| table.range(i));
    let firsts = ranges.clone().filter_map(|r| table.stamps.get(r.start));
    let lasts = ranges.filter_map(|r| r.end.checked_sub(1).and_then(|e| table.stamps.get(e)));
    Manifest {
        format: FORMAT_VERSION,
        id: id.clone(),
        calendar: table.calendar,
        columns: table.column_names().map(str::to_string).collect(),
        bars: table.len() as u64,
        first_date: tickers.iter().map(|t| t.first).min().unwrap_or_default(),
        last_date: tickers.iter().map(|t| t.last).max().unwrap_or_default(),
        first_bar: firsts.copied().min().unwrap_or_default(),
        last_bar: lasts.copied().max().unwrap_or_default(),
        tickers,
    }
}

/// Writes `table` into `tmp_dir` (which the caller created and owns), fsyncs it, and renames it to
/// `packs_dir/<id>`. If that directory already exists (the same content was imported before), the
/// temporary one is removed and the existing one kept. Returns the pack directory.
pub fn write_pack(
    packs_dir: &Path,
    tmp_dir: &Path,
    table: &BarTable,
    id: &PackId,
    progress: &dyn Progress,
) -> Result<PathBuf> {
    let final_dir = packs_dir.join(id.as_str());
    if final_dir.join(MANIFEST_FILE).exists() {
        let _ = std::fs::remove_dir_all(tmp_dir);
        return Ok(final_dir);
    }
    write_bars(&tmp_dir.join(BARS_FILE), table, progress)?;
    let manifest = manifest_for(table, id);
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| DataError::io("writing", tmp_dir.join(MANIFEST_FILE), e.into()))?;
    write_synced(&tmp_dir.join(MANIFEST_FILE), &json)?;
    sync_dir(tmp_dir)?;
    crate::failpoint::hit("pack-before-rename");
    std::fs::create_dir_all(packs_dir).map_err(|e| DataError::io("creating", packs_dir, e))?;
    match std::fs::rename(tmp_dir, &final_dir) {
        Ok(()) => {}
        // Another process committed the same content first: keep theirs.
        Err(_) if final_dir.join(MANIFEST_FILE).exists() => {
            let _ = std::fs::remove_dir_all(tmp_dir);
        }
        Err(e) => return Err(DataError::io("renaming into", &final_dir, e)),
    }
    sync_dir(packs_dir)?;
    Ok(final_dir)
}

fn write_bars(path: &Path, table: &BarTable, progress: &dyn Progress) -> Result<()> {
    let io = |e: std::io::Error| DataError::io("writing", path, e);
    let arrow =
        |e: arrow_schema::ArrowError| DataError::io("writing", path, std::io::Error::other(e));
    let names: Vec<String> = table.column_names().map(str::to_string).collect();
    let schema = schema_for(&names);
    let file = File::create(path).map_err(io)?;
    let options = IpcWriteOptions::try_new(64, false, MetadataVersion::V5).map_err(arrow)?;
    let mut writer =
        FileWriter::try_new_with_options(BufWriter::with_capacity(1 << 20, file), &schema, options)
            .map_err(arrow)?;
    progress.phase("write", table.tickers.len() as u64);
    for i in 0..table.tickers.len() {
        let r = table.range(i);
        let stamps = TimestampNanosecondArray::from(table.stamps[r.clone()].to_vec());
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(stamps.with_timezone("UTC"))];
        arrays.extend(
            table
                .columns
                .iter()
                .map(|c| Arc::new(Float64Array::from(c.values[r.clone()].to_vec())) as ArrayRef),
        );
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(arrow)?;
        writer.write(&batch).map_err(arrow)?;
        progress.advance(1);
    }
    writer.finish().map_err(arrow)?;
    let mut buf = writer.into_inner().map_err(arrow)?;
    buf.flush().map_err(io)?;
    buf.get_ref().sync_all().map_err(io)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e| DataError::io("writing", path, e);
    let mut f = File::create(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Fsyncs a directory so a rename or a new file in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| DataError::io("syncing", dir, e))
}

/// A pack opened for reading: its manifest and its memory-mapped bars.
#[derive(Debug)]
pub struct PackReader {
    dir: PathBuf,
    manifest: Manifest,
    schema: SchemaRef,
    buffer: Buffer,
    /// Each batch's footer block and its byte range in `buffer`, checked at open.
    blocks: Vec<(Block, BlockRange)>,
    /// Ticker symbols in pack order, shared by every result that indexes into them.
    names: std::sync::Arc<[String]>,
    /// Whether the bars are keyed by `date: Date32` (format 1), turned into instants on read.
    dated: bool,
}

/// The columns a reader decodes: built once per scan by [`PackReader::projection`].
#[derive(Debug)]
pub struct Projection {
    decoder: FileDecoder,
    names: Vec<String>,
}

impl Projection {
    /// The projected value columns, in the order given.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// One ticker's projected bars, borrowed zero-copy from the mapped file.
#[derive(Debug, Clone)]
pub struct TickerBars {
    batch: RecordBatch,
}

impl TickerBars {
    /// Number of bars.
    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }
    /// Whether there are no bars.
    pub fn is_empty(&self) -> bool {
        self.batch.num_rows() == 0
    }
    /// The bars' instants.
    pub fn stamps(&self) -> &[Stamp] {
        self.batch
            .column(0)
            .as_primitive::<TimestampNanosecondType>()
            .values()
    }
    /// The `k`-th projected column.
    pub fn column(&self, k: usize) -> &[f64] {
        self.batch
            .column(k + 1)
            .as_primitive::<Float64Type>()
            .values()
    }
    /// Rows whose instant is within `[from, to]` (both optional, inclusive).
    pub fn window(&self, from: Option<Stamp>, to: Option<Stamp>) -> std::ops::Range<usize> {
        let d = self.stamps();
        let start = from.map_or(0, |f| d.partition_point(|&x| x < f));
        let end = to.map_or(d.len(), |t| d.partition_point(|&x| x <= t));
        start..end.max(start)
    }
}

impl PackReader {
    /// Opens the pack in `dir`: reads its manifest and maps its bars file.
    pub fn open(dir: &Path) -> Result<PackReader> {
        let corrupt = |m: String| DataError::Corrupt {
            path: dir.to_path_buf(),
            message: m,
        };
        let mpath = dir.join(MANIFEST_FILE);
        let text = std::fs::read(&mpath).map_err(|e| DataError::io("reading", &mpath, e))?;
        let mut manifest: Manifest =
            serde_json::from_slice(&text).map_err(|e| corrupt(format!("manifest: {e}")))?;
        let dated = match manifest.format {
            FORMAT_VERSION => false,
            DATED_FORMAT => true,
            other => {
                return Err(corrupt(format!(
                    "format version {other} (this quantd reads {DATED_FORMAT} and {FORMAT_VERSION}); import the data again"
                )));
            }
        };
        if dated {
            manifest.calendar = Calendar::DAILY;
            let stamp = |d: NaiveDate| stamp_of_day(crate::bars::day_from_date(d)).unwrap_or(0);
            manifest.first_bar = stamp(manifest.first_date);
            manifest.last_bar = stamp(manifest.last_date);
        }
        let buffer = crate::mmap::map_file(&dir.join(BARS_FILE))?;
        let (schema, blocks) = read_footer(&buffer).map_err(corrupt)?;
        if blocks.len() != manifest.tickers.len() {
            return Err(corrupt(format!(
                "{} batches for {} tickers",
                blocks.len(),
                manifest.tickers.len()
            )));
        }
        check_schema(&schema, &manifest.columns, dated).map_err(corrupt)?;
        let blocks = blocks
            .iter()
            .enumerate()
            .map(|(i, b)| BlockRange::of(b, buffer.len()).map(|r| (*b, r)).ok_or(i))
            .collect::<std::result::Result<Vec<_>, usize>>()
            .map_err(|i| corrupt(format!("batch {i} lies outside the bars file")))?;
        let names = manifest.tickers.iter().map(|t| t.ticker.clone()).collect();
        Ok(PackReader {
            dir: dir.to_path_buf(),
            names,
            manifest,
            schema,
            buffer,
            blocks,
            dated,
        })
    }

    /// The pack's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The ticker symbols in pack order (one shared allocation per opened pack).
    pub fn ticker_names(&self) -> std::sync::Arc<[String]> {
        self.names.clone()
    }

    /// The pack's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Position of a ticker, by binary search.
    pub fn ticker_index(&self, ticker: &str) -> Option<usize> {
        self.manifest
            .tickers
            .binary_search_by(|t| t.ticker.as_str().cmp(ticker))
            .ok()
    }

    /// A projection reading `columns` (plus the instants); unknown names are errors with a
    /// suggestion.
    pub fn projection(&self, columns: &[&str]) -> Result<Projection> {
        let mut indices = vec![0usize];
        for c in columns {
            match self.manifest.columns.iter().position(|m| m == c) {
                Some(i) => indices.push(i + 1),
                None => {
                    let columns = self.manifest.columns.join(", ");
                    return Err(DataError::NotInPack {
                        what: format!("column `{}`", crate::text::echo(c)),
                        hint: format!("; the pack has {}", crate::text::cut(&columns, 400)),
                    });
                }
            }
        }
        Ok(Projection {
            decoder: FileDecoder::new(self.schema.clone(), MetadataVersion::V5)
                .with_projection(indices),
            names: columns.iter().map(|c| c.to_string()).collect(),
        })
    }

    /// Decodes ticker `i`'s projected columns without copying.
    pub fn read(&self, i: usize, projection: &Projection) -> Result<TickerBars> {
        let (block, range) = self.blocks.get(i).ok_or_else(|| DataError::NotInPack {
            what: format!("ticker number {i}"),
            hint: format!("; the pack has {} tickers", self.blocks.len()),
        })?;
        let data = self.buffer.slice_with_length(range.offset, range.len);
        let batch = projection
            .decoder
            .read_record_batch(block, &data)
            .map_err(|e| DataError::Corrupt {
                path: self.dir.clone(),
                message: e.to_string(),
            })?
            .ok_or_else(|| DataError::Corrupt {
                path: self.dir.clone(),
                message: format!("batch {i} is empty"),
            })?;
        if self.dated {
            return Ok(TickerBars {
                batch: stamp_dates(&batch).map_err(|message| DataError::Corrupt {
                    path: self.dir.clone(),
                    message,
                })?,
            });
        }
        Ok(TickerBars { batch })
    }

    /// Reads the whole pack back into a table (for export and verification).
    pub fn to_table(&self) -> Result<BarTable> {
        let names: Vec<&str> = self.manifest.columns.iter().map(String::as_str).collect();
        let proj = self.projection(&names)?;
        // The manifest's count sizes the buffers, but never beyond what the file can hold.
        let bars = usize::try_from(self.manifest.bars)
            .unwrap_or(0)
            .min(self.buffer.len() / 4);
        let mut table = BarTable {
            tickers: self
                .manifest
                .tickers
                .iter()
                .map(|t| t.ticker.clone())
                .collect(),
            offsets: vec![0],
            stamps: Vec::with_capacity(bars),
            calendar: self.manifest.calendar,
            columns: names
                .iter()
                .map(|n| crate::bars::Column {
                    name: n.to_string(),
                    values: Vec::with_capacity(bars),
                })
                .collect(),
        };
        for i in 0..self.blocks.len() {
            let bars = self.read(i, &proj)?;
            table.stamps.extend_from_slice(bars.stamps());
            for (k, c) in table.columns.iter_mut().enumerate() {
                c.values.extend_from_slice(bars.column(k));
            }
            table.offsets.push(table.stamps.len());
        }
        Ok(table)
    }
}

/// Where a batch is in the bars file.
#[derive(Debug, Clone, Copy)]
struct BlockRange {
    offset: usize,
    len: usize,
}

impl BlockRange {
    /// The range of `block` if it lies within a file of `file_len` bytes.
    fn of(block: &Block, file_len: usize) -> Option<BlockRange> {
        let offset = usize::try_from(block.offset()).ok()?;
        let meta = usize::try_from(block.metaDataLength()).ok()?;
        let body = usize::try_from(block.bodyLength()).ok()?;
        let len = meta.checked_add(body)?;
        (offset.checked_add(len)? <= file_len).then_some(BlockRange { offset, len })
    }
}

/// A format 1 batch (`date: Date32` first) with its dates as instants (`ts`, 00:00 UTC).
fn stamp_dates(batch: &RecordBatch) -> std::result::Result<RecordBatch, String> {
    let days = batch
        .column(0)
        .as_primitive_opt::<Date32Type>()
        .ok_or("the key column is not dates")?;
    let stamps: Vec<Stamp> = days
        .values()
        .iter()
        .map(|&d| i64::from(d) * NANOS_PER_DAY)
        .collect();
    let mut columns = batch.columns().to_vec();
    columns[0] = Arc::new(TimestampNanosecondArray::from(stamps).with_timezone("UTC"));
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[0] = Field::new(KEY_COLUMN, key_type(), false);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())
}

/// Checks that the bars file's schema is what [`TickerBars`] reads: the key column
/// (`ts: timestamp[ns, tz=UTC]`, or `date: Date32` in a format 1 pack), then the manifest's
/// columns as `Float64`.
fn check_schema(
    schema: &Schema,
    columns: &[String],
    dated: bool,
) -> std::result::Result<(), String> {
    let fields = schema.fields();
    let date_ok = fields.first().is_some_and(|f| {
        if dated {
            f.name() == "date" && f.data_type() == &DataType::Date32
        } else {
            f.name() == KEY_COLUMN && f.data_type() == &key_type()
        }
    });
    let values_ok = fields.len() == columns.len() + 1
        && fields
            .iter()
            .skip(1)
            .zip(columns)
            .all(|(f, c)| f.name() == c && f.data_type() == &DataType::Float64);
    if date_ok && values_ok {
        Ok(())
    } else {
        Err("the bars file's columns do not match the manifest".into())
    }
}

fn read_footer(buffer: &Buffer) -> std::result::Result<(SchemaRef, Vec<Block>), String> {
    let n = buffer.len();
    if n < 16 {
        return Err("bars file is truncated".into());
    }
    let mut trailer = [0u8; 10];
    trailer.copy_from_slice(&buffer[n - 10..]);
    let footer_len = arrow_ipc::reader::read_footer_length(trailer).map_err(|e| e.to_string())?;
    let start = n
        .checked_sub(10 + footer_len)
        .ok_or("footer length exceeds the file")?;
    let footer = arrow_ipc::root_as_footer(&buffer[start..n - 10]).map_err(|e| e.to_string())?;
    let schema =
        arrow_ipc::convert::try_fb_to_schema(footer.schema().ok_or("footer has no schema")?)
            .map_err(|e| e.to_string())?;
    let blocks = footer
        .recordBatches()
        .map(|b| b.iter().copied().collect())
        .unwrap_or_default();
    Ok((Arc::new(schema), blocks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ranges_outside_the_file_are_refused() {
        let ok = BlockRange::of(&Block::new(8, 16, 100), 124).unwrap();
        assert_eq!((ok.offset, ok.len), (8, 116));
        for b in [
            Block::new(8, 16, 101),
            Block::new(-1, 16, 10),
            Block::new(0, -16, 10),
            Block::new(0, 16, -10),
            Block::new(i64::MAX, i32::MAX, i64::MAX),
        ] {
            assert!(BlockRange::of(&b, 124).is_none(), "{b:?}");
        }
    }
}
