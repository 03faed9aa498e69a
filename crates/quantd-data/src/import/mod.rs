//! Import of long-format bar files (CSV and Parquet) into a validated, sorted [`BarTable`].
//!
//! Both readers map their header through [`Layout`] (case-insensitive names, a pandas-style date
//! index accepted, a ticker column or `--ticker`), then feed rows to one [`Collector`] that parses,
//! validates, sorts by (ticker, date) and finds duplicates. Nothing is written here: the caller
//! decides what to do with the table.

mod csv;
mod layout;
mod parquet;

pub use layout::Layout;

use crate::bars::{BASE_COLUMNS, BarTable, Column, Day, date_from_day};
use crate::error::{DataError, Result};
use crate::validate::{Problem, ProblemKind, RowRef, ValidationReport, check_bar};
use quantd_core::Progress;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

/// How to import a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// The ticker for a file without a `ticker` column.
    pub ticker: Option<String>,
    /// Drop bad rows (and count them) instead of refusing the import.
    pub lenient: bool,
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
    /// The format of `path`, from its extension, or from its first bytes when the extension is
    /// unknown (Parquet files start with `PAR1`).
    pub fn detect(path: &Path) -> Result<FileFormat> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("csv") | Some("txt") => return Ok(FileFormat::Csv),
            Some("parquet") | Some("pq") => return Ok(FileFormat::Parquet),
            _ => {}
        }
        let mut magic = [0u8; 4];
        let n = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut magic))
            .map_err(|e| DataError::io("reading", path, e))?;
        if n == 4 && &magic == b"PAR1" {
            Ok(FileFormat::Parquet)
        } else {
            Err(DataError::Input {
                what: format!("cannot tell the format of `{}`", path.display()),
                fix: "name the file *.csv or *.parquet".into(),
            })
        }
    }
}

/// Reads, validates and sorts the bars of a CSV or Parquet file.
pub fn import_file(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    let collector = match FileFormat::detect(path)? {
        FileFormat::Csv => csv::read(path, opts, progress)?,
        FileFormat::Parquet => parquet::read(path, opts, progress)?,
    };
    progress.phase("validate", 0);
    collector.finish()
}

/// Most problems kept in memory; later ones are only counted. Rows arrive in file order, so the
/// kept ones are always the first.
const KEPT_PROBLEMS: usize = 1_000;

/// Accumulates parsed rows column by column, with their source positions and problems.
pub(crate) struct Collector {
    source: String,
    lenient: bool,
    extra_names: Vec<String>,
    ticker_ids: HashMap<String, u32>,
    ticker_names: Vec<String>,
    tick: Vec<u32>,
    date: Vec<Day>,
    base: [Vec<f64>; 5],
    extras: Vec<Vec<f64>>,
    at: Vec<RowRef>,
    problems: Vec<Problem>,
    problem_count: usize,
    bad_rows: usize,
    rows_read: u64,
}

/// One row as a reader parsed it: `None` marks a field that failed to parse (its problem is
/// already recorded).
pub(crate) struct RawRow<'a> {
    pub at: RowRef,
    pub ticker: &'a str,
    pub day: Option<Day>,
    pub base: [Option<f64>; 5],
    pub extras: &'a [f64],
}

impl Collector {
    pub(crate) fn new(source: String, lenient: bool, extra_names: Vec<String>) -> Self {
        let n = extra_names.len();
        Collector {
            source,
            lenient,
            extra_names,
            ticker_ids: HashMap::new(),
            ticker_names: Vec::new(),
            tick: Vec::new(),
            date: Vec::new(),
            base: Default::default(),
            extras: vec![Vec::new(); n],
            at: Vec::new(),
            problems: Vec::new(),
            problem_count: 0,
            bad_rows: 0,
            rows_read: 0,
        }
    }

    pub(crate) fn reserve(&mut self, rows: usize) {
        self.tick.reserve(rows);
        self.date.reserve(rows);
        self.at.reserve(rows);
        for c in self.base.iter_mut().chain(self.extras.iter_mut()) {
            c.reserve(rows);
        }
    }

    /// Records a problem (kept if within the first [`KEPT_PROBLEMS`], always counted).
    pub(crate) fn problem(&mut self, at: RowRef, kind: ProblemKind) {
        self.problem_count += 1;
        if self.problems.len() < KEPT_PROBLEMS {
            self.problems.push(Problem { at, kind });
        }
    }

    /// Records an unparsable field.
    pub(crate) fn unparsable(
        &mut self,
        at: RowRef,
        column: &str,
        value: &str,
        expected: &'static str,
    ) {
        self.problem(
            at,
            ProblemKind::Unparsable {
                column: column.to_string(),
                value: value.to_string(),
                expected,
            },
        );
    }

    /// Validates and keeps one row (or counts it as bad).
    pub(crate) fn push(&mut self, row: RawRow<'_>) {
        self.rows_read += 1;
        let ticker = row.ticker.trim();
        let mut ok = true;
        if ticker.is_empty() {
            self.unparsable(row.at, "ticker", row.ticker, "a ticker symbol");
            ok = false;
        }
        let (Some(day), [Some(o), Some(h), Some(l), Some(c), Some(v)]) = (row.day, row.base) else {
            self.bad_rows += 1;
            return;
        };
        let mut found = Vec::new();
        ok &= check_bar(row.at, [o, h, l, c, v], &mut found);
        for p in found {
            self.problem(p.at, p.kind);
        }
        if !ok {
            self.bad_rows += 1;
            return;
        }
        let id = match self.ticker_ids.get(ticker) {
            Some(&id) => id,
            None => {
                let id = self.ticker_names.len() as u32;
                self.ticker_ids.insert(ticker.to_string(), id);
                self.ticker_names.push(ticker.to_string());
                id
            }
        };
        self.tick.push(id);
        self.date.push(day);
        for (col, v) in self.base.iter_mut().zip([o, h, l, c, v]) {
            col.push(v);
        }
        for (col, &v) in self.extras.iter_mut().zip(row.extras) {
            col.push(v);
        }
        self.at.push(row.at);
    }

    /// Sorts by (ticker, date), finds duplicates, and either refuses (strict) or drops (lenient).
    pub(crate) fn finish(mut self) -> Result<Imported> {
        let order = self.sorted_order();
        let keep = self.drop_duplicates(&order);
        if self.problem_count > 0 && !self.lenient {
            return Err(DataError::Invalid(Box::new(
                ValidationReport::from_problems(self.source, self.problems, self.bad_rows),
            )));
        }
        if keep.is_empty() {
            return Err(DataError::Input {
                what: format!("`{}` has no valid bars", self.source),
                fix: "check that the file has data rows below its header".into(),
            });
        }
        let table = self.gather(&keep);
        let rows_dropped = self.rows_read - table.len() as u64;
        Ok(Imported {
            table,
            rows_read: self.rows_read,
            rows_dropped,
            problems: self.problem_count,
        })
    }

    /// Row indices in (ticker name, date, file position) order.
    fn sorted_order(&self) -> Vec<u32> {
        let mut rank = vec![0u32; self.ticker_names.len()];
        let mut by_name: Vec<u32> = (0..self.ticker_names.len() as u32).collect();
        by_name.sort_unstable_by(|&a, &b| {
            self.ticker_names[a as usize].cmp(&self.ticker_names[b as usize])
        });
        for (r, &id) in by_name.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        let key = |i: usize| {
            ((rank[self.tick[i] as usize] as u64) << 32)
                | ((self.date[i] as u32) ^ 0x8000_0000) as u64
        };
        let mut order: Vec<u32> = (0..self.tick.len() as u32).collect();
        let sorted = order
            .windows(2)
            .all(|w| key(w[0] as usize) <= key(w[1] as usize));
        if !sorted {
            order.par_sort_unstable_by_key(|&i| (key(i as usize), i));
        }
        order
    }

    /// Reports each repeated (ticker, date) at its later rows, and returns the rows to keep.
    fn drop_duplicates(&mut self, order: &[u32]) -> Vec<u32> {
        let mut keep = Vec::with_capacity(order.len());
        let mut first: Option<u32> = None;
        for &i in order {
            let iu = i as usize;
            if let Some(f) = first
                && self.tick[f as usize] == self.tick[iu]
                && self.date[f as usize] == self.date[iu]
            {
                let kind = ProblemKind::Duplicate {
                    ticker: self.ticker_names[self.tick[iu] as usize].clone(),
                    date: date_from_day(self.date[iu]).to_string(),
                    first: self.at[f as usize],
                };
                self.problem_count += 1;
                self.bad_rows += 1;
                // Duplicates are found after the file was read, so they may fall before kept
                // parse problems: keep them all (bounded by the rows).
                self.problems.push(Problem {
                    at: self.at[iu],
                    kind,
                });
                continue;
            }
            first = Some(i);
            keep.push(i);
        }
        keep
    }

    /// Builds the sorted table from the kept rows.
    fn gather(&self, keep: &[u32]) -> BarTable {
        let mut tickers = Vec::new();
        let mut offsets = vec![0usize];
        let mut last: Option<u32> = None;
        for (row, &i) in keep.iter().enumerate() {
            let t = self.tick[i as usize];
            if last != Some(t) {
                if last.is_some() {
                    offsets.push(row);
                }
                tickers.push(self.ticker_names[t as usize].clone());
                last = Some(t);
            }
        }
        offsets.push(keep.len());
        let pick = |src: &Vec<f64>| -> Vec<f64> { keep.iter().map(|&i| src[i as usize]).collect() };
        let names: Vec<String> = BASE_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .chain(self.extra_names.iter().cloned())
            .collect();
        let sources: Vec<&Vec<f64>> = self.base.iter().chain(self.extras.iter()).collect();
        let mut columns: Vec<Column> = names
            .into_par_iter()
            .zip(sources.into_par_iter())
            .map(|(name, src)| Column {
                name,
                values: pick(src),
            })
            .collect();
        // Extras in canonical (sorted) order after the base columns.
        columns[BASE_COLUMNS.len()..].sort_by(|a, b| a.name.cmp(&b.name));
        BarTable {
            tickers,
            offsets,
            dates: keep.iter().map(|&i| self.date[i as usize]).collect(),
            columns,
        }
    }
}

/// Parses a date: `YYYY-MM-DD`, optionally followed by a time (`T…` or ` …`) as pandas writes
/// datetime indexes; the time is ignored (daily bars).
pub(crate) fn parse_day(s: &str) -> Option<Day> {
    let b = s.trim().as_bytes();
    if b.len() < 10
        || b[4] != b'-'
        || b[7] != b'-'
        || (b.len() > 10 && b[10] != b'T' && b[10] != b' ')
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    Some(crate::bars::day_from_date(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_with_or_without_a_time() {
        let d = parse_day("2004-08-19").unwrap();
        assert_eq!(parse_day("2004-08-19 00:00:00"), Some(d));
        assert_eq!(parse_day("2004-08-19T00:00:00+00:00"), Some(d));
        assert_eq!(parse_day(" 2004-08-19 "), Some(d));
        for bad in [
            "2004-8-19",
            "2004-02-30",
            "19/08/2004",
            "2004-08-19x",
            "",
            "abcd-ef-gh",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }
}
