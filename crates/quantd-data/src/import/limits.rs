//! The bounds of one import ([`ImportLimits`]) and the checks at the door: only regular files are
//! opened (never a FIFO, device or directory, even behind a symlink), at most `max_import_bytes`
//! are read, and no CSV line longer than `max_line_bytes` is ever held whole in memory.

use crate::error::{DataError, Result};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// How much one import may read. Every refusal names the setting (a [`DataError::Limit`]); the
/// defaults fit a whole market of daily bars over decades.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportLimits {
    /// Largest input file, in bytes. Default 8 GiB (8,589,934,592): about 100 M bars of CSV.
    /// Checked on the file's size before reading, and again on the bytes actually read.
    pub max_import_bytes: u64,
    /// Longest CSV line (the header or one row), in bytes. Default 1 MiB (1,048,576). A longer
    /// line is refused after reading at most this many bytes (plus one read buffer) of it.
    pub max_line_bytes: u64,
    /// Most columns in the input: CSV header fields, Parquet top-level fields and Parquet leaf
    /// columns. Default 1,024.
    pub max_columns: usize,
    /// Most data rows read. Default 100,000,000. Values above 4,294,967,295 (row positions are
    /// 32-bit) count as that.
    pub max_rows: u64,
    /// Longest ticker symbol, in bytes of UTF-8. Default 64.
    pub max_ticker_bytes: usize,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            max_import_bytes: 8 << 30,
            max_line_bytes: 1 << 20,
            max_columns: 1_024,
            max_rows: 100_000_000,
            max_ticker_bytes: 64,
        }
    }
}

impl ImportLimits {
    /// `max_rows` as the importer applies it.
    pub(crate) fn row_cap(&self) -> u64 {
        self.max_rows.min(u64::from(u32::MAX))
    }

    pub(crate) fn too_many_rows(&self, source: &str) -> DataError {
        DataError::Limit {
            what: format!("`{source}` has more than {} data rows", self.row_cap()),
            limit: "max_rows",
            max: self.row_cap(),
            fix: "split the input into several packs, or raise `max_rows` in the import limits"
                .into(),
        }
    }

    pub(crate) fn check_columns(&self, source: &str, what: &str, n: usize) -> Result<()> {
        if n <= self.max_columns {
            return Ok(());
        }
        Err(DataError::Limit {
            what: format!("`{source}` has {n} {what}"),
            limit: "max_columns",
            max: self.max_columns as u64,
            fix: "keep the columns quantd needs (ticker, date, open, high, low, close, volume and the extras you use), or raise `max_columns` in the import limits".into(),
        })
    }

    pub(crate) fn too_large(&self, source: &str, what: String) -> DataError {
        DataError::Limit {
            what: format!("`{source}` {what}"),
            limit: "max_import_bytes",
            max: self.max_import_bytes,
            fix: "split the input into smaller files, or raise `max_import_bytes` in the import limits".into(),
        }
    }

    /// The error for a CSV line longer than `max_line_bytes`; `line` is 1-based.
    pub(crate) fn line_too_long(&self, source: &str, line: u64) -> DataError {
        DataError::Limit {
            what: format!(
                "`{source}` line {line} is longer than {} bytes",
                self.max_line_bytes
            ),
            limit: "max_line_bytes",
            max: self.max_line_bytes,
            fix: "check that this is a CSV file with one bar per line (a file without line breaks is not), or raise `max_line_bytes` in the import limits".into(),
        }
    }
}

/// Opens `path` for import: follows symlinks, refuses anything but a regular file before opening
/// it (opening a FIFO would block), and refuses a file larger than `max_import_bytes`. Returns
/// the file and its size.
pub(crate) fn open_input(path: &Path, source: &str, limits: &ImportLimits) -> Result<(File, u64)> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io("reading", path, e))?;
    check_regular(&meta, source)?;
    let file = File::open(path).map_err(|e| DataError::io("reading", path, e))?;
    let opened = file
        .metadata()
        .map_err(|e| DataError::io("reading", path, e))?;
    check_regular(&opened, source)?;
    if opened.len() > limits.max_import_bytes {
        return Err(limits.too_large(source, format!("is {} bytes", opened.len())));
    }
    Ok((file, opened.len()))
}

fn check_regular(meta: &std::fs::Metadata, source: &str) -> Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    let kind = file_kind(meta.file_type());
    let fix = if meta.is_dir() {
        "name a CSV or Parquet file inside it".to_string()
    } else {
        "copy the data into a regular file first (e.g. `cat SOURCE > data.csv`) and import that"
            .to_string()
    };
    Err(DataError::Input {
        what: format!("`{source}` is {kind}, not a regular file; only regular files are imported"),
        fix,
    })
}

#[cfg(unix)]
fn file_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn file_kind(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// Why a [`Bounded`] reader stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Overrun {
    /// More than `max_import_bytes` were read.
    #[error("the input is larger than the import limit")]
    File,
    /// The current line has more than `max_line_bytes`.
    #[error("a line is longer than the import limit")]
    Line,
}

impl Overrun {
    /// The overrun behind an I/O error, if it is one.
    pub(crate) fn of(e: &io::Error) -> Option<Overrun> {
        e.get_ref()?.downcast_ref::<Overrun>().copied()
    }

    /// The user-facing error; `line` is where the reader was.
    pub(crate) fn to_error(self, limits: &ImportLimits, source: &str, line: u64) -> DataError {
        match self {
            Overrun::File => limits.too_large(
                source,
                format!("has more than {} bytes", limits.max_import_bytes),
            ),
            Overrun::Line => limits.line_too_long(source, line),
        }
    }
}

/// A reader that fails with [`Overrun`] once more than `max_import_bytes` were read in all, or
/// once the bytes since the last line break (`\n` or `\r`) exceed `max_line_bytes`. The check
/// looks back from the end of each read, so it costs a few bytes per read, not one per byte.
pub(crate) struct Bounded<R> {
    inner: R,
    read: u64,
    line: u64,
    max_read: u64,
    max_line: u64,
}

impl<R> Bounded<R> {
    pub(crate) fn new(inner: R, limits: &ImportLimits) -> Self {
        Bounded {
            inner,
            read: 0,
            line: 0,
            max_read: limits.max_import_bytes,
            max_line: limits.max_line_bytes,
        }
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = buf.get(..n).unwrap_or_default();
        self.read = self.read.saturating_add(n as u64);
        self.line = match chunk.iter().rposition(|&b| b == b'\n' || b == b'\r') {
            Some(p) => (n - 1 - p) as u64,
            None => self.line.saturating_add(n as u64),
        };
        if self.read > self.max_read {
            return Err(io::Error::other(Overrun::File));
        }
        if self.line > self.max_line {
            return Err(io::Error::other(Overrun::Line));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_import_bytes: u64, max_line_bytes: u64) -> ImportLimits {
        ImportLimits {
            max_import_bytes,
            max_line_bytes,
            ..ImportLimits::default()
        }
    }

    /// Reads `input` in chunks of `chunk` bytes; returns the bytes read before the overrun.
    fn drain(input: &[u8], chunk: usize, l: &ImportLimits) -> (usize, Option<Overrun>) {
        let mut r = Bounded::new(input, l);
        let mut buf = vec![0u8; chunk];
        let mut total = 0;
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (total, None),
                Ok(n) => total += n,
                Err(e) => return (total, Overrun::of(&e)),
            }
        }
    }

    #[test]
    fn a_line_without_end_stops_after_the_limit() {
        let input = vec![0u8; 10_000];
        let (read, why) = drain(&input, 100, &limits(1 << 20, 1_000));
        assert_eq!(why, Some(Overrun::Line));
        assert!(read <= 1_000, "{read}");
    }

    #[test]
    fn short_lines_pass_whatever_the_total() {
        let input = "a,b,c\n".repeat(10_000);
        assert_eq!(
            drain(input.as_bytes(), 4096, &limits(1 << 20, 8)),
            (60_000, None)
        );
        let cr = "a,b,c\r".repeat(100);
        assert_eq!(drain(cr.as_bytes(), 64, &limits(1 << 20, 8)).1, None);
    }

    #[test]
    fn the_total_is_bounded() {
        let input = "a\n".repeat(1000);
        assert_eq!(
            drain(input.as_bytes(), 100, &limits(500, 8)).1,
            Some(Overrun::File)
        );
    }
}
