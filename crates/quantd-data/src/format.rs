//! The on-disk pack: one directory per pack id, written atomically, read by memory map.
//!
//! ```text
//! <packs>/<id>/bars.arrow      Arrow IPC file, uncompressed, 64-byte aligned, one record batch per
//!                              ticker (in ticker order): date: Date32, open high low close volume
//!                              and extra columns: Float64
//! <packs>/<id>/manifest.json   id, columns, per-ticker row counts and date ranges
//! ```
//! Why this layout (figures in docs/PERFORMANCE.md): a scan maps the file and decodes only the
//! columns it needs of only the tickers it needs, with zero copies; pages of other columns are
//! never touched. One batch per ticker is the ticker → row-range index.
//!
//! Writing goes to a temporary directory that is fsynced and renamed into place, so a pack
//! directory is either complete or absent.

use crate::bars::{BarTable, Day, date_from_day};
use crate::error::{DataError, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type};
use arrow_array::{ArrayRef, Date32Array, Float64Array, RecordBatch};
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

/// The pack format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
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
    /// Value columns in canonical order (the `date` column is implicit).
    pub columns: Vec<String>,
    /// Total bars.
    pub bars: u64,
    /// Earliest date of any ticker.
    pub first_date: NaiveDate,
    /// Latest date of any ticker.
    pub last_date: NaiveDate,
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
    /// First date.
    pub first: NaiveDate,
    /// Last date.
    pub last: NaiveDate,
}

fn schema_for(columns: &[String]) -> SchemaRef {
    let mut fields = vec![Field::new("date", DataType::Date32, false)];
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
            let dates = table.dates.get(table.range(i)).unwrap_or_default();
            let day = |d: Option<&Day>| date_from_day(d.copied().unwrap_or_default());
            TickerEntry {
                ticker: table.tickers[i].clone(),
                rows: dates.len() as u64,
                first: day(dates.first()),
                last: day(dates.last()),
            }
        })
        .collect();
    Manifest {
        format: FORMAT_VERSION,
        id: id.clone(),
        columns: table.column_names().map(str::to_string).collect(),
        bars: table.len() as u64,
        first_date: tickers.iter().map(|t| t.first).min().unwrap_or_default(),
        last_date: tickers.iter().map(|t| t.last).max().unwrap_or_default(),
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
        let mut arrays: Vec<ArrayRef> =
            vec![Arc::new(Date32Array::from(table.dates[r.clone()].to_vec()))];
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
    /// Dates (days since 1970-01-01).
    pub fn dates(&self) -> &[Day] {
        self.batch.column(0).as_primitive::<Date32Type>().values()
    }
    /// The `k`-th projected column.
    pub fn column(&self, k: usize) -> &[f64] {
        self.batch
            .column(k + 1)
            .as_primitive::<Float64Type>()
            .values()
    }
    /// Rows whose date is within `[from, to]` (both optional, inclusive).
    pub fn window(&self, from: Option<Day>, to: Option<Day>) -> std::ops::Range<usize> {
        let d = self.dates();
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
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|e| corrupt(format!("manifest: {e}")))?;
        if manifest.format != FORMAT_VERSION {
            return Err(corrupt(format!(
                "format version {} (this quantd reads {FORMAT_VERSION}); import the data again",
                manifest.format
            )));
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
        check_schema(&schema, &manifest.columns).map_err(corrupt)?;
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

    /// A projection reading `columns` (plus dates); unknown names are errors with a suggestion.
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
            dates: Vec::with_capacity(bars),
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
            table.dates.extend_from_slice(bars.dates());
            for (k, c) in table.columns.iter_mut().enumerate() {
                c.values.extend_from_slice(bars.column(k));
            }
            table.offsets.push(table.dates.len());
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

/// Checks that the bars file's schema is what [`TickerBars`] reads: `date: Date32`, then the
/// manifest's columns as `Float64`.
fn check_schema(schema: &Schema, columns: &[String]) -> std::result::Result<(), String> {
    let fields = schema.fields();
    let date_ok = fields
        .first()
        .is_some_and(|f| f.name() == "date" && f.data_type() == &DataType::Date32);
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
