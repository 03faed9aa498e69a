//! Import of long-format bar files (CSV and Parquet) into a validated, sorted [`BarTable`].
//!
//! Both readers map their header through [`Layout`] (case-insensitive names, a pandas-style date
//! index accepted, a ticker column or `--ticker`), then feed rows to one [`Collector`] that parses,
//! validates, sorts by (ticker, date) and finds duplicates. Nothing is written here: the caller
//! decides what to do with the table.
//!
//! What an import reads is bounded at the door by [`ImportLimits`] (only regular files, file size,
//! line length, columns, rows, ticker length), and a refused import's message quotes at most a
//! few KB of input whatever the file holds. No input makes the importer panic.

mod collect;
mod columns;
mod csv;
mod dates;
mod keys;
mod layout;
mod limits;
mod pages;
mod parquet;

pub use layout::Layout;
pub use limits::ImportLimits;

use crate::bars::BarTable;
use crate::error::{DataError, Result};
use crate::text::{echo, escape};
use crate::validate::{ProblemKind, ticker_fault};
pub(crate) use collect::{Collector, RawRow};
use quantd_core::Progress;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How to import a file. What an import may read is bounded separately, by [`ImportLimits`]
/// ([`import_file_with`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// The ticker for a file without a `ticker` column.
    pub ticker: Option<String>,
    /// Drop bad rows (and count them) instead of refusing the import.
    pub lenient: bool,
    /// The exchange's time zone (`--tz`): naive times are local to it, and the pack records it.
    /// Without it, naive times are UTC and the zone is UTC, or the zone a Parquet time column
    /// is stored with.
    pub tz: Option<crate::time::Zone>,
    /// The unit of integer times (`--epoch s|ms|ns`); without it integers are not times (CSV) or
    /// are days since 1970-01-01 (Parquet).
    pub epoch: Option<crate::time::Epoch>,
    /// The bar interval (`--interval`); without it, the most common gap between bars.
    pub interval: Option<crate::time::Interval>,
}

/// A parsed, validated, sorted import.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The bars.
    pub table: BarTable,
    /// Data rows read from the file.
    pub rows_read: u64,
    /// Rows dropped by `--lenient` (bad or duplicate).
    pub rows_dropped: u64,
    /// Problems found (all dropped rows, when lenient); empty for a clean file.
    pub problems: usize,
}

/// The file formats quantd imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl FileFormat {
    /// The format of `path` by its extension (`csv`, `txt`, `parquet`, `pq`, any case).
    pub fn from_extension(path: &Path) -> Option<FileFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "txt" => Some(FileFormat::Csv),
            "parquet" | "pq" => Some(FileFormat::Parquet),
            _ => None,
        }
    }

    /// The format of `path`, from its extension, or from its first bytes when the extension is
    /// unknown (Parquet files start with `PAR1`). Refuses anything but a regular file.
    pub fn detect(path: &Path) -> Result<FileFormat> {
        if let Some(format) = FileFormat::from_extension(path) {
            return Ok(format);
        }
        let source = escape(&path.display().to_string()).into_owned();
        let (file, _) = limits::open_input(path, &source, &ImportLimits::default())?;
        FileFormat::sniff(&file, &source)
    }

    /// The format of an opened file by its first bytes; the file is left at its start.
    fn sniff(file: &std::fs::File, source: &str) -> Result<FileFormat> {
        let mut f = file;
        let mut magic = [0u8; 4];
        let io = |e| DataError::io("reading", source, e);
        let n = f.read(&mut magic).map_err(io)?;
        f.seek(SeekFrom::Start(0)).map_err(io)?;
        if n == 4 && &magic == b"PAR1" {
            Ok(FileFormat::Parquet)
        } else {
            Err(DataError::Input {
                what: format!("cannot tell the format of `{source}`"),
                fix: "name the file *.csv or *.parquet".into(),
            })
        }
    }
}

/// Reads, validates and sorts the bars of a CSV or Parquet file, within the default
/// [`ImportLimits`].
pub fn import_file(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    import_file_with(path, opts, &ImportLimits::default(), progress)
}

/// [`import_file`] within `limits`: only a regular file (symlinks followed) is opened, and nothing
/// beyond the limits is read or kept.
pub fn import_file_with(
    path: &Path,
    opts: &ImportOptions,
    limits: &ImportLimits,
    progress: &dyn Progress,
) -> Result<Imported> {
    let source = escape(&path.display().to_string()).into_owned();
    check_ticker_flag(opts, limits)?;
    let (file, size) = limits::open_input(path, &source, limits)?;
    let format = match FileFormat::from_extension(path) {
        Some(format) => format,
        None => FileFormat::sniff(&file, &source)?,
    };
    let collector = match format {
        FileFormat::Csv => csv::read(&source, file, size, opts, limits, progress)?,
        FileFormat::Parquet => parquet::read(&source, file, opts, limits, progress)?,
    };
    progress.phase("validate", 0);
    collector.finish()
}

/// [`import_file_with`] of bytes in memory (an upload, a fuzz input); `source` names them in
/// messages.
pub fn import_bytes(
    source: &str,
    bytes: bytes::Bytes,
    format: FileFormat,
    opts: &ImportOptions,
    limits: &ImportLimits,
    progress: &dyn Progress,
) -> Result<Imported> {
    let source = escape(source).into_owned();
    check_ticker_flag(opts, limits)?;
    let size = bytes.len() as u64;
    if size > limits.max_import_bytes {
        return Err(limits.too_large(&source, format!("is {size} bytes")));
    }
    let collector = match format {
        FileFormat::Csv => csv::read(&source, &bytes[..], size, opts, limits, progress)?,
        FileFormat::Parquet => parquet::read(&source, bytes, opts, limits, progress)?,
    };
    progress.phase("validate", 0);
    collector.finish()
}

/// Refuses a `--ticker` that no row could be stored under.
fn check_ticker_flag(opts: &ImportOptions, limits: &ImportLimits) -> Result<()> {
    let Some(ticker) = opts.ticker.as_deref().map(str::trim) else {
        return Ok(());
    };
    let what = if ticker.is_empty() {
        "--ticker is empty".to_string()
    } else if let Some(fault) = ticker_fault(ticker, limits.max_ticker_bytes) {
        let value = echo(ticker);
        format!("--ticker: {}", ProblemKind::BadTicker { value, fault })
    } else {
        return Ok(());
    };
    Err(DataError::Input {
        what,
        fix: "give a plain ticker symbol, e.g. --ticker GOOG".into(),
    })
}
