//! The [`Collector`]: rows as the readers parsed them, checked (ticker, time, prices), kept column
//! by column with their source positions, then sorted by (ticker, instant) with duplicates found.
//! A file whose every time is a date (or midnight where it was written) holds daily bars, keyed by
//! their session dates; any other is intraday, keyed by its instants.
//! What it keeps of problems is bounded, whatever the input: fewer than twice [`KEPT_PROBLEMS`]
//! (the first found while reading, then the first duplicates by position), each quoting at most
//! [`crate::text::ECHO_CHARS`] characters of input.

use super::{ImportLimits, ImportOptions, Imported};
use crate::bars::{BASE_COLUMNS, BarTable, Column, Day};
use crate::error::{DataError, Result};
use crate::text::echo;
use crate::time::{Calendar, Interval, Read, Stamp, StampReader, TimeFault, Zone, stamp_of_day};
use crate::validate::{
    Problem, ProblemKind, RowRef, TickerFault, ValidationReport, check_bar, ticker_fault,
};
use rayon::prelude::*;
use std::collections::HashMap;

/// Most problems kept in memory; later ones are only counted. Rows arrive in file order, so the
/// kept ones are always the first.
pub(crate) const KEPT_PROBLEMS: usize = 1_000;

/// Accumulates parsed rows column by column, with their source positions and problems.
pub(crate) struct Collector {
    source: String,
    lenient: bool,
    extra_names: Vec<String>,
    ticker_ids: HashMap<String, u32>,
    ticker_names: Vec<String>,
    tick: Vec<u32>,
    stamp: Vec<Stamp>,
    day: Vec<Day>,
    /// Whether every time so far was a date or a midnight.
    all_midnight: bool,
    /// How text and naive times are read; its zone is the pack's.
    pub(crate) reader: StampReader,
    interval: Option<Interval>,
    base: [Vec<f64>; 5],
    extras: Vec<Vec<f64>>,
    at: Vec<RowRef>,
    problems: Vec<Problem>,
    problem_count: usize,
    bad_rows: usize,
    pub(crate) rows_read: u64,
    max_ticker_bytes: usize,
    row_cap: u64,
}

/// One row as a reader parsed it: `None` marks a field that failed to parse (its problem is
/// already recorded).
pub(crate) struct RawRow<'a> {
    pub at: RowRef,
    pub ticker: Option<&'a str>,
    pub time: Option<Read>,
    pub base: [Option<f64>; 5],
    pub extras: &'a [f64],
}

impl Collector {
    /// A collector for `source`, reading naive times in `zone` (the pack's zone).
    pub(crate) fn new(
        source: String,
        opts: &ImportOptions,
        zone: Zone,
        extra_names: Vec<String>,
        limits: &ImportLimits,
    ) -> Self {
        let n = extra_names.len();
        Collector {
            source,
            lenient: opts.lenient,
            reader: StampReader {
                zone,
                epoch: opts.epoch,
            },
            interval: opts.interval,
            all_midnight: true,
            max_ticker_bytes: limits.max_ticker_bytes,
            row_cap: limits.row_cap(),
            extra_names,
            ticker_ids: HashMap::new(),
            ticker_names: Vec::new(),
            tick: Vec::new(),
            stamp: Vec::new(),
            day: Vec::new(),
            base: Default::default(),
            extras: vec![Vec::new(); n],
            at: Vec::new(),
            problems: Vec::new(),
            problem_count: 0,
            bad_rows: 0,
            rows_read: 0,
        }
    }

    /// Whether another row would pass the `max_rows` limit.
    pub(crate) fn full(&self) -> bool {
        self.rows_read >= self.row_cap
    }

    /// Reserves room for about `rows` rows (never more than `max_rows`).
    pub(crate) fn reserve(&mut self, rows: u64) {
        let rows = usize::try_from(rows.min(self.row_cap)).unwrap_or(0);
        self.tick.reserve(rows);
        self.stamp.reserve(rows);
        self.day.reserve(rows);
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
                column: echo(column),
                value: echo(value),
                expected,
            },
        );
    }

    /// Records a field that is not a bar's time; `value` is how to show it.
    pub(crate) fn bad_time(&mut self, at: RowRef, column: &str, value: &str, fault: TimeFault) {
        let kind = match fault {
            TimeFault::Malformed => {
                let expected = if self.reader.epoch.is_some() {
                    "a date, a datetime or an epoch integer"
                } else {
                    "a date (YYYY-MM-DD) or a datetime (YYYY-MM-DD HH:MM[:SS], optionally with Z or an offset)"
                };
                return self.unparsable(at, column, value, expected);
            }
            TimeFault::OutOfRange => ProblemKind::DateOutOfRange {
                column: echo(column),
                value: echo(value),
            },
            fault => ProblemKind::LocalTime {
                column: echo(column),
                value: echo(value),
                fault,
            },
        };
        self.problem(at, kind);
    }

    /// Records a ticker whose bytes are not UTF-8 (`shown` as [`crate::text::echo_bytes`] gives).
    pub(crate) fn ticker_not_utf8(&mut self, at: RowRef, shown: String) {
        let fault = TickerFault::NotUtf8;
        self.problem(
            at,
            ProblemKind::BadTicker {
                value: shown,
                fault,
            },
        );
    }

    /// Whether a ticker not seen before can be stored; records the problem if not.
    fn check_new_ticker(&mut self, at: RowRef, raw: &str, ticker: &str) -> bool {
        if ticker.is_empty() {
            self.unparsable(at, "ticker", raw, "a ticker symbol");
            return false;
        }
        match ticker_fault(ticker, self.max_ticker_bytes) {
            None => true,
            Some(fault) => {
                let value = echo(ticker);
                self.problem(at, ProblemKind::BadTicker { value, fault });
                false
            }
        }
    }

    /// Validates and keeps one row (or counts it as bad).
    pub(crate) fn push(&mut self, row: RawRow<'_>) {
        self.rows_read += 1;
        let raw = row.ticker.unwrap_or_default();
        let ticker = raw.trim();
        let known = self.ticker_ids.get(ticker).copied();
        let mut ok = row.ticker.is_some();
        if ok && known.is_none() {
            ok = self.check_new_ticker(row.at, raw, ticker);
        }
        let (Some(time), [Some(o), Some(h), Some(l), Some(c), Some(v)]) = (row.time, row.base)
        else {
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
        let id = match known {
            Some(id) => id,
            None => {
                // At most `row_cap` ≤ u32::MAX rows, so at most that many tickers.
                let id = u32::try_from(self.ticker_names.len()).unwrap_or(u32::MAX);
                self.ticker_ids.insert(ticker.to_string(), id);
                self.ticker_names.push(ticker.to_string());
                id
            }
        };
        self.tick.push(id);
        self.stamp.push(time.stamp);
        self.day.push(time.day);
        self.all_midnight &= time.midnight;
        for (col, v) in self.base.iter_mut().zip([o, h, l, c, v]) {
            col.push(v);
        }
        for (col, &v) in self.extras.iter_mut().zip(row.extras) {
            col.push(v);
        }
        self.at.push(row.at);
    }

    /// Sorts by (ticker, instant), finds duplicates, and either refuses (strict) or drops
    /// (lenient).
    pub(crate) fn finish(mut self) -> Result<Imported> {
        let daily = self.all_midnight && !self.interval.is_some_and(Interval::is_intraday);
        let mut calendar = Calendar {
            interval: self.interval.unwrap_or(Interval::Irregular),
            zone: self.reader.zone,
            daily,
        };
        if daily {
            // A daily bar's instant is its session date at 00:00 UTC: within the pack range,
            // every day has one.
            for (s, &d) in self.stamp.iter_mut().zip(&self.day) {
                *s = stamp_of_day(d).unwrap_or(*s);
            }
        }
        let order = self.sorted_order();
        let keep = self.drop_duplicates(&order, calendar);
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
        let mut table = self.gather(&keep);
        if self.interval.is_none() {
            table.calendar = calendar;
            calendar.interval = crate::hash::implied_interval(&table);
        }
        table.calendar = calendar;
        let rows_dropped = self.rows_read.saturating_sub(table.len() as u64);
        Ok(Imported {
            table,
            rows_read: self.rows_read,
            rows_dropped,
            problems: self.problem_count,
        })
    }

    /// Row indices in (ticker name, instant, file position) order.
    fn sorted_order(&self) -> Vec<u32> {
        let mut rank = vec![0u32; self.ticker_names.len()];
        let tickers = u32::try_from(self.ticker_names.len()).unwrap_or(u32::MAX);
        let mut by_name: Vec<u32> = (0..tickers).collect();
        by_name.sort_unstable_by(|&a, &b| {
            self.ticker_names[a as usize].cmp(&self.ticker_names[b as usize])
        });
        for (r, &id) in by_name.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        let key = |i: usize| {
            (u128::from(rank[self.tick[i] as usize]) << 64)
                | u128::from((self.stamp[i] as u64) ^ (1 << 63))
        };
        let rows = u32::try_from(self.tick.len()).unwrap_or(u32::MAX);
        let mut order: Vec<u32> = (0..rows).collect();
        let sorted = order
            .windows(2)
            .all(|w| key(w[0] as usize) <= key(w[1] as usize));
        if !sorted {
            order.par_sort_unstable_by_key(|&i| (key(i as usize), i));
        }
        order
    }

    /// Reports each repeated (ticker, instant) at its later rows, and returns the rows to keep.
    fn drop_duplicates(&mut self, order: &[u32], calendar: Calendar) -> Vec<u32> {
        let mut keep = Vec::with_capacity(order.len());
        let mut first: Option<u32> = None;
        for &i in order {
            let iu = i as usize;
            if let Some(f) = first
                && self.tick[f as usize] == self.tick[iu]
                && self.stamp[f as usize] == self.stamp[iu]
            {
                let kind = ProblemKind::Duplicate {
                    ticker: echo(&self.ticker_names[self.tick[iu] as usize]),
                    date: calendar.format(self.stamp[iu]),
                    first: self.at[f as usize],
                };
                self.problem_count += 1;
                self.bad_rows += 1;
                // Duplicates are found after the file was read, in (ticker, time) order, so they
                // may fall before kept parse problems: keep the first (by position) of them.
                self.problems.push(Problem {
                    at: self.at[iu],
                    kind,
                });
                if self.problems.len() >= 2 * KEPT_PROBLEMS {
                    self.problems.sort_by_key(|p| p.at);
                    self.problems.truncate(KEPT_PROBLEMS);
                }
                continue;
            }
            first = Some(i);
            keep.push(i);
        }
        keep
    }

    /// Builds the sorted table from the kept rows. When they are all the rows in file order (a
    /// sorted file without duplicates, the usual case) the columns are moved, not copied: for a
    /// minute universe that saves gigabytes of fresh pages.
    fn gather(&mut self, keep: &[u32]) -> BarTable {
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
        let as_is = keep.len() == self.stamp.len()
            && keep.iter().enumerate().all(|(r, &i)| r == i as usize);
        let pick = |src: &mut Vec<f64>| -> Vec<f64> {
            if as_is {
                std::mem::take(src)
            } else {
                keep.iter().map(|&i| src[i as usize]).collect()
            }
        };
        let names: Vec<String> = BASE_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .chain(self.extra_names.iter().cloned())
            .collect();
        let sources: Vec<&mut Vec<f64>> =
            self.base.iter_mut().chain(self.extras.iter_mut()).collect();
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
            stamps: if as_is {
                std::mem::take(&mut self.stamp)
            } else {
                keep.iter().map(|&i| self.stamp[i as usize]).collect()
            },
            calendar: Calendar::DAILY,
            columns,
        }
    }
}
