//! Native scans: a compiled expression over every ticker of a pack, in parallel, reading only
//! the columns the expression needs.
//!
//! Each ticker is evaluated over its whole history (so indicators are warm at `from`), then the
//! signal rows inside the time window are kept, with the value of every `let` at that row.
//! Rows come out sorted by (ticker, instant) whatever the thread count.

use crate::error::{EngineError, Result};
use quantd_core::Progress;
use quantd_data::PackReader;
use quantd_data::bars::{Day, date_from_day};
use quantd_data::time::{Calendar, NANOS_PER_DAY, Stamp};
use quantd_expr::{Params, Program, Schema, Workspace};
use rayon::prelude::*;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

/// What to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// The scanner expression.
    pub expr: String,
    /// `$name` values.
    pub params: Params,
    /// Only these tickers (all when `None`).
    pub tickers: Option<Vec<String>>,
    /// First signal date kept (inclusive).
    pub from: Option<quantd_data::when::When>,
    /// Last signal date kept (inclusive).
    pub to: Option<quantd_data::when::When>,
}

/// Signal rows, columnar: row `i` is ticker `tickers[ticker[i]]` at `stamp[i]`, with indicator
/// values `values[i * indicators.len()..][..indicators.len()]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    /// Ticker symbols the rows index into (the pack's, in pack order; shared, not copied).
    pub tickers: std::sync::Arc<[String]>,
    /// Indicator (`let`) names, in source order.
    pub indicators: Vec<String>,
    /// Ticker index of each row.
    pub ticker: Vec<u32>,
    /// The bar's instant of each row.
    pub stamp: Vec<Stamp>,
    /// Indicator values, row-major.
    pub values: Vec<f64>,
    /// How the instants read: the pack's calendar.
    pub calendar: Calendar,
}

impl Signals {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.stamp.len()
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.stamp.is_empty()
    }
    /// The first `n` rows (all of them when there are fewer).
    pub fn head(&self, n: usize) -> Signals {
        let n = n.min(self.len());
        let k = self.indicators.len();
        Signals {
            ticker: self.ticker[..n].to_vec(),
            stamp: self.stamp[..n].to_vec(),
            values: self.values[..n * k].to_vec(),
            ..self.clone()
        }
    }
    /// The rows without their indicator columns: the signals (ticker and bar) alone.
    pub fn signals_only(&self) -> Signals {
        Signals {
            indicators: Vec::new(),
            values: Vec::new(),
            ..self.clone()
        }
    }
    /// Row `i`'s bar as people read it: a date, or a time with its offset.
    pub fn time_of(&self, i: usize) -> String {
        self.calendar.format(self.stamp[i])
    }
    /// The symbol of row `i`.
    pub fn ticker_of(&self, i: usize) -> &str {
        &self.tickers[self.ticker[i] as usize]
    }
    /// The indicator values of row `i`.
    pub fn values_of(&self, i: usize) -> &[f64] {
        let n = self.indicators.len();
        &self.values[i * n..(i + 1) * n]
    }
    /// Encodes the rows (not the ticker list or names, which the execution's pack and program
    /// give) as little-endian binary: `QSS1`, indicator count (u32), row count (u64), then per row
    /// ticker index (u32), instant (i64 nanoseconds) and the indicator values (f64). Rows stored
    /// before bars had instants (`QSG1`, `QSG2`: dates as i32 days) still decode.
    pub fn encode_rows(&self) -> Vec<u8> {
        let n = self.indicators.len();
        let mut out = Vec::with_capacity(16 + self.len() * (12 + 8 * n));
        out.extend_from_slice(PLAIN);
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(&(self.len() as u64).to_le_bytes());
        for i in 0..self.len() {
            out.extend_from_slice(&self.ticker[i].to_le_bytes());
            out.extend_from_slice(&self.stamp[i].to_le_bytes());
            for v in self.values_of(i) {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Encodes the rows with the indicator names (for scanners whose indicators are only known
    /// from their output, such as Python scanners): `QSS2`, indicator count (u32), each name as
    /// its byte length (u32) and UTF-8 bytes, then the rest as [`Signals::encode_rows`] after its
    /// magic and count.
    pub fn encode_rows_named(&self) -> Vec<u8> {
        let plain = self.encode_rows();
        let mut out = Vec::with_capacity(plain.len() + 16 * self.indicators.len());
        out.extend_from_slice(NAMED);
        out.extend_from_slice(&(self.indicators.len() as u32).to_le_bytes());
        for name in &self.indicators {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
        }
        out.extend_from_slice(&plain[8..]);
        out
    }

    /// The indicator names an encoded body carries (`QSS2`, `QSG2`), `None` for plain bodies
    /// (whose names come from the program).
    pub fn encoded_names(bytes: &[u8]) -> Result<Option<Vec<String>>> {
        if !matches!(bytes.get(..4), Some(NAMED | DATED_NAMED)) {
            return Ok(None);
        }
        named_header(bytes).map(|(names, _)| Some(names))
    }

    /// Decodes rows written by [`Signals::encode_rows`] or [`Signals::encode_rows_named`] and
    /// appends them. Named rows are matched to `self.indicators` by name: names this set lacks
    /// are added (earlier rows get NaN), indicators the body lacks are NaN.
    pub fn append_encoded(&mut self, bytes: &[u8]) -> Result<()> {
        if matches!(bytes.get(..4), Some(NAMED | DATED_NAMED)) {
            return self.append_named(bytes);
        }
        let bad = || EngineError::Internal("stored signal rows are malformed".into());
        let (head, mut rest) = bytes.split_at_checked(16).ok_or_else(bad)?;
        let key = match &head[..4] {
            PLAIN => 8,
            DATED => 4,
            _ => return Err(bad()),
        };
        let n = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes")) as usize;
        let rows = u64::from_le_bytes(head[8..16].try_into().expect("8 bytes")) as usize;
        let row_len = 4 + key + 8 * n;
        if n != self.indicators.len() || Some(rest.len()) != rows.checked_mul(row_len) {
            return Err(bad());
        }
        while !rest.is_empty() {
            let (row, tail) = rest.split_at(row_len);
            self.ticker
                .push(u32::from_le_bytes(row[0..4].try_into().expect("4 bytes")));
            self.stamp.push(if key == 8 {
                i64::from_le_bytes(row[4..12].try_into().expect("8 bytes"))
            } else {
                i64::from(i32::from_le_bytes(row[4..8].try_into().expect("4 bytes")))
                    * NANOS_PER_DAY
            });
            self.values.extend(
                row[4 + key..]
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))),
            );
            rest = tail;
        }
        Ok(())
    }

    fn append_named(&mut self, bytes: &[u8]) -> Result<()> {
        let (names, offset) = named_header(bytes)?;
        let mut plain = Vec::with_capacity(bytes.len() - offset + 8);
        plain.extend_from_slice(if &bytes[..4] == NAMED { PLAIN } else { DATED });
        plain.extend_from_slice(&(names.len() as u32).to_le_bytes());
        plain.extend_from_slice(&bytes[offset..]);
        let mut part = Signals {
            indicators: names,
            ..Signals::default()
        };
        part.append_encoded(&plain)?;
        for name in &part.indicators {
            if !self.indicators.contains(name) {
                self.add_indicator(name);
            }
        }
        let slots: Vec<Option<usize>> = self
            .indicators
            .iter()
            .map(|n| part.indicators.iter().position(|p| p == n))
            .collect();
        for i in 0..part.len() {
            self.ticker.push(part.ticker[i]);
            self.stamp.push(part.stamp[i]);
            let row = part.values_of(i);
            self.values
                .extend(slots.iter().map(|s| s.map_or(f64::NAN, |k| row[k])));
        }
        Ok(())
    }

    /// Adds an indicator column (NaN for the rows already held).
    fn add_indicator(&mut self, name: &str) {
        let n = self.indicators.len();
        if !self.is_empty() {
            let mut values = Vec::with_capacity(self.len() * (n + 1));
            for i in 0..self.len() {
                values.extend_from_slice(self.values_of(i));
                values.push(f64::NAN);
            }
            self.values = values;
        }
        self.indicators.push(name.to_string());
    }

    fn append(&mut self, other: Signals) {
        self.ticker.extend(other.ticker);
        self.stamp.extend(other.stamp);
        self.values.extend(other.values);
    }
}

/// Magic of plain signal rows (instants as i64 nanoseconds).
const PLAIN: &[u8] = b"QSS1";
/// Magic of signal rows with their indicator names.
const NAMED: &[u8] = b"QSS2";
/// Magic of plain rows stored before bars had instants (dates as i32 days).
const DATED: &[u8] = b"QSG1";
/// Magic of named rows stored before bars had instants.
const DATED_NAMED: &[u8] = b"QSG2";

/// The names of a named body and the offset of its row count.
fn named_header(bytes: &[u8]) -> Result<(Vec<String>, usize)> {
    let bad = || EngineError::Internal("stored signal rows are malformed".into());
    let u32_at = |at: usize| -> Result<usize> {
        let b = bytes.get(at..at + 4).ok_or_else(bad)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
    };
    let n = u32_at(4)?;
    let mut at = 8;
    let mut names = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let len = u32_at(at)?;
        let raw = bytes.get(at + 4..at + 4 + len).ok_or_else(bad)?;
        names.push(String::from_utf8(raw.to_vec()).map_err(|_| bad())?);
        at += 4 + len;
    }
    Ok((names, at))
}

/// A count by key, for the summary's top-10 lists.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Count {
    /// The date or ticker.
    pub key: String,
    /// How many signals.
    pub signals: u64,
}

/// What a scan found, in numbers.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ScanSummary {
    /// Tickers scanned.
    pub tickers_scanned: u64,
    /// Bars evaluated.
    pub bars_scanned: u64,
    /// Signal rows.
    pub signals: u64,
    /// Tickers with at least one signal.
    pub unique_tickers: u64,
    /// Dates with the most signals (top 10).
    pub top_dates: Vec<Count>,
    /// Tickers with the most signals (top 10).
    pub top_tickers: Vec<Count>,
}

/// Compiles `expr` against the columns of a pack: the error, if any, is rendered with the source.
pub fn compile(reader: &PackReader, expr: &str, params: &Params) -> Result<Program> {
    compile_with(reader, expr, params, &quantd_expr::Limits::default())
}

/// [`compile`] under the given expression limits.
pub fn compile_with(
    reader: &PackReader,
    expr: &str,
    params: &Params,
    limits: &quantd_expr::Limits,
) -> Result<Program> {
    let schema = Schema::new(reader.manifest().columns.iter().cloned());
    quantd_expr::compile_with(expr, &schema, params, limits).map_err(|e| EngineError::Expression {
        rendered: e.render(expr),
        message: e.to_string(),
        diagnostics: e.diagnostics,
    })
}

/// The pack positions of the requested tickers, or when `None` of at most `most` tickers evenly
/// spaced over the pack (the sample checks and evaluations run on).
pub fn sample_tickers(
    reader: &PackReader,
    tickers: Option<&[String]>,
    most: usize,
) -> Result<Vec<usize>> {
    if tickers.is_some() {
        return select_tickers(reader, tickers);
    }
    let n = reader.manifest().tickers.len();
    let k = n.min(most);
    Ok((0..k).map(|i| i * n / k.max(1)).collect())
}

/// The pack positions of the requested tickers (all when `None`); unknown ones are an error
/// that names them.
pub fn select_tickers(reader: &PackReader, tickers: Option<&[String]>) -> Result<Vec<usize>> {
    let Some(list) = tickers else {
        return Ok((0..reader.manifest().tickers.len()).collect());
    };
    let mut found = Vec::with_capacity(list.len());
    let mut missing = Vec::new();
    for t in list {
        match reader.ticker_index(t) {
            Some(i) => found.push(i),
            None => missing.push(t.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(EngineError::NotFound {
            what: format!(
                "ticker{} {}",
                if missing.len() == 1 { "" } else { "s" },
                quantd_data::text::cut(&missing.join(", "), 200)
            ),
            hint: format!(
                " in pack {} ({}); name the pack that holds {} with `--pack` (`pack` in the API), \
                 or list the packs with `quantd data list`",
                reader.manifest().id.short(),
                crate::count(reader.manifest().tickers.len() as u64, "ticker"),
                if missing.len() == 1 { "it" } else { "them" }
            ),
        });
    }
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

/// Tickers per parallel task: big enough to amortize scheduling, small enough to balance 2+ cores.
const CHUNK: usize = 32;

/// Runs a compiled scanner over the selected tickers of a pack, in parallel. `cancel` is checked
/// between tickers; when it is set the scan stops with [`EngineError::Cancelled`].
#[allow(clippy::too_many_arguments)]
pub fn run(
    reader: &PackReader,
    program: &Program,
    tickers: &[usize],
    from: Option<quantd_data::when::When>,
    to: Option<quantd_data::when::When>,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Signals> {
    run_bounded(
        reader,
        program,
        tickers,
        from,
        to,
        cancel,
        progress,
        u64::MAX,
    )
}

/// Memory a signal row takes while a scan collects it: ticker (4 bytes) and instant (8), and
/// each indicator (8).
pub fn row_bytes(indicators: usize) -> u64 {
    12 + 8 * indicators as u64
}

/// [`run`], failing with the `max_shard_memory` limit as soon as the rows collected take more
/// than `max_bytes` (checked after each ticker), instead of growing until allocation fails.
#[allow(clippy::too_many_arguments)]
pub fn run_bounded(
    reader: &PackReader,
    program: &Program,
    tickers: &[usize],
    from: Option<quantd_data::when::When>,
    to: Option<quantd_data::when::When>,
    cancel: &AtomicBool,
    progress: &dyn Progress,
    max_bytes: u64,
) -> Result<Signals> {
    let collected = std::sync::atomic::AtomicU64::new(0);
    let per_row = row_bytes(program.indicators().len());
    let calendar = reader.manifest().calendar;
    let plan = crate::inputs::InputPlan::new(&[], program.columns(), calendar);
    let projection = plan.projection(reader)?;
    let (from, to) = calendar.bounds(from, to);
    let n_ind = program.indicators().len();
    progress.phase("scan", tickers.len() as u64);
    let parts: Vec<Result<Signals>> = tickers
        .par_chunks(CHUNK)
        .map_init(
            || (Workspace::new(), crate::inputs::ClockBuffers::default()),
            |(ws, clock), chunk| {
            let mut part = Signals::default();
            for &t in chunk {
                if cancel.load(Ordering::Relaxed) {
                    return Err(EngineError::Cancelled);
                }
                let bars = reader.read(t, &projection)?;
                let inputs = plan.inputs(&bars, 0..bars.len(), clock);
                let eval = program
                    .evaluate(&inputs, ws)
                    ?;
                let stamps = bars.stamps();
                let before = part.len();
                for row in eval.hits(0, bars.window(from, to)) {
                    part.ticker.push(t as u32);
                    part.stamp.push(stamps[row]);
                    part.values
                        .extend((0..n_ind).map(|k| eval.indicator(k)[row]));
                }
                let added = (part.len() - before) as u64 * per_row;
                let total = collected.fetch_add(added, Ordering::Relaxed) + added;
                if total > max_bytes {
                    return Err(EngineError::Limit {
                        limit: "max_shard_memory",
                        message: format!(
                            "the scan's hits take more than {max_bytes} bytes in one shard \
                             (max_shard_memory, set by QUANTD_MAX_SHARD_MEMORY); make the condition \
                             more selective, or use fewer `let` columns, tickers or dates"
                        ),
                    });
                }
            }
            progress.advance(chunk.len() as u64);
            Ok(part)
        },
        )
        .collect();
    let mut all = Signals {
        tickers: reader.ticker_names(),
        indicators: program.indicators().to_vec(),
        calendar,
        ..Signals::default()
    };
    for part in parts {
        all.append(part?);
    }
    progress.finish();
    Ok(all)
}

/// The first 10 of `items` in `order` (highest count first), sorted. Only the items whose count
/// reaches the 10th highest count can be among them, so only those are sorted.
fn top_10<K: Copy>(
    mut items: Vec<(K, u64)>,
    order: impl Fn(&(K, u64), &(K, u64)) -> std::cmp::Ordering,
) -> Vec<(K, u64)> {
    if items.len() > 10 {
        let mut counts: Vec<u64> = items.iter().map(|i| i.1).collect();
        let (_, &mut tenth, _) = counts.select_nth_unstable_by(9, |a, b| b.cmp(a));
        items.retain(|i| i.1 >= tenth);
    }
    items.sort_unstable_by(order);
    items.truncate(10);
    items
}

/// Summarizes signals: totals and the top 10 dates and tickers (ties broken by key).
pub fn summarize(signals: &Signals, tickers_scanned: u64, bars_scanned: u64) -> ScanSummary {
    let mut b = SummaryBuilder::default();
    b.add(signals);
    b.finish(tickers_scanned, bars_scanned)
}

/// Accumulates a summary over chunks of signal rows (one shard at a time). Counts are dense
/// vectors (by day offset and by ticker index), so adding a shard, merging shards and finishing
/// cost microseconds.
#[derive(Debug, Default, Clone)]
pub struct SummaryBuilder {
    /// The day `by_date[0]` counts.
    first_day: Day,
    /// Signals by day, from `first_day` on.
    by_date: Vec<u64>,
    /// Signals by ticker index (names are looked up once, at the end).
    by_ticker: Vec<u64>,
    tickers: std::sync::Arc<[String]>,
    signals: u64,
}

impl SummaryBuilder {
    /// Counts a chunk.
    pub fn add(&mut self, s: &Signals) {
        self.signals += s.len() as u64;
        if self.tickers.is_empty() {
            self.tickers = s.tickers.clone();
        }
        let days: Vec<Day> = s.stamp.iter().map(|&t| s.calendar.day_of(t)).collect();
        if let (Some(&lo), Some(&hi)) = (days.iter().min(), days.iter().max()) {
            self.cover_days(lo, hi);
            for &d in &days {
                self.by_date[(d - self.first_day) as usize] += 1;
            }
        }
        if let Some(&top) = s.ticker.iter().max() {
            self.cover_tickers(top as usize);
            for &t in &s.ticker {
                self.by_ticker[t as usize] += 1;
            }
        }
    }

    /// Grows the day counts to cover `lo..=hi`.
    fn cover_days(&mut self, lo: Day, hi: Day) {
        if self.by_date.is_empty() {
            self.first_day = lo;
        }
        if lo < self.first_day {
            let shift = (self.first_day - lo) as usize;
            self.by_date.splice(0..0, std::iter::repeat_n(0, shift));
            self.first_day = lo;
        }
        let end = (hi - self.first_day) as usize + 1;
        if end > self.by_date.len() {
            self.by_date.resize(end, 0);
        }
    }

    /// Grows the ticker counts to cover index `top`.
    fn cover_tickers(&mut self, top: usize) {
        if top >= self.by_ticker.len() {
            self.by_ticker.resize(top + 1, 0);
        }
    }

    /// Adds the counts of another builder (of other rows of the same scan).
    pub fn merge(&mut self, other: SummaryBuilder) {
        if self.tickers.is_empty() {
            self.tickers = other.tickers;
        }
        self.signals += other.signals;
        if !other.by_date.is_empty() {
            let last = other.first_day + other.by_date.len() as Day - 1;
            self.cover_days(other.first_day, last);
            let at = (other.first_day - self.first_day) as usize;
            for (mine, n) in self.by_date[at..].iter_mut().zip(&other.by_date) {
                *mine += n;
            }
        }
        if !other.by_ticker.is_empty() {
            self.cover_tickers(other.by_ticker.len() - 1);
            for (mine, n) in self.by_ticker.iter_mut().zip(&other.by_ticker) {
                *mine += n;
            }
        }
    }

    /// The summary. Only the top entries are turned into strings.
    pub fn finish(self, tickers_scanned: u64, bars_scanned: u64) -> ScanSummary {
        let first_day = self.first_day;
        let dates = top_10(
            self.by_date
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, &n)| (first_day + i as Day, n))
                .collect(),
            |a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)),
        );
        let names = &self.tickers;
        let unique_tickers = self.by_ticker.iter().filter(|n| **n > 0).count() as u64;
        let tickers = top_10(
            self.by_ticker
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(t, &n)| (t as u32, n))
                .collect(),
            |a, b| {
                b.1.cmp(&a.1)
                    .then_with(|| names[a.0 as usize].cmp(&names[b.0 as usize]))
            },
        );
        ScanSummary {
            tickers_scanned,
            bars_scanned,
            signals: self.signals,
            unique_tickers,
            top_dates: dates
                .into_iter()
                .map(|(d, n)| Count {
                    key: date_from_day(d).to_string(),
                    signals: n,
                })
                .collect(),
            top_tickers: tickers
                .into_iter()
                .map(|(t, n)| Count {
                    key: names[t as usize].clone(),
                    signals: n,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary counted the plain way: every key counted, everything sorted.
    fn reference_summary(s: &Signals, tickers_scanned: u64, bars_scanned: u64) -> ScanSummary {
        let mut dates = std::collections::BTreeMap::<Day, u64>::new();
        let mut tickers = std::collections::BTreeMap::<u32, u64>::new();
        for (&d, &t) in s.stamp.iter().zip(&s.ticker) {
            *dates.entry(s.calendar.day_of(d)).or_default() += 1;
            *tickers.entry(t).or_default() += 1;
        }
        let mut dates: Vec<(Day, u64)> = dates.into_iter().collect();
        dates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let unique_tickers = tickers.len() as u64;
        let mut tickers: Vec<(u32, u64)> = tickers.into_iter().collect();
        tickers.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| s.tickers[a.0 as usize].cmp(&s.tickers[b.0 as usize]))
        });
        ScanSummary {
            tickers_scanned,
            bars_scanned,
            signals: s.len() as u64,
            unique_tickers,
            top_dates: dates
                .iter()
                .take(10)
                .map(|&(d, n)| Count {
                    key: date_from_day(d).to_string(),
                    signals: n,
                })
                .collect(),
            top_tickers: tickers
                .iter()
                .take(10)
                .map(|&(t, n)| Count {
                    key: s.tickers[t as usize].clone(),
                    signals: n,
                })
                .collect(),
        }
    }

    #[test]
    fn summaries_merged_in_any_order_equal_the_plain_count() {
        // Many ties on counts (so names and dates decide), tickers named against their order.
        let names: Vec<String> = (0..300)
            .map(|i| format!("T{:03}", (i * 7919) % 300))
            .collect();
        let mut all = Signals {
            tickers: names.into(),
            ..Signals::default()
        };
        let mut x: u64 = 12345;
        for t in 0..300u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for k in 0..(x >> 60) {
                all.ticker.push(t);
                let day = 18_000 + ((x >> 20) % 40) as Day + 3 * k as Day;
                all.stamp.push(i64::from(day) * NANOS_PER_DAY);
            }
        }
        let expected = reference_summary(&all, 300, 1_000);
        // One builder over everything.
        let mut one = SummaryBuilder::default();
        one.add(&all);
        assert_eq!(one.finish(300, 1_000), expected);
        // Shards of rows counted apart, merged in reverse order.
        let mut parts: Vec<SummaryBuilder> = Vec::new();
        for rows in [0..100usize, 100..101, 101..400, 400..all.len()] {
            let rows = rows.start.min(all.len())..rows.end.min(all.len());
            let part = Signals {
                tickers: all.tickers.clone(),
                ticker: all.ticker[rows.clone()].to_vec(),
                stamp: all.stamp[rows].to_vec(),
                ..Signals::default()
            };
            let mut b = SummaryBuilder::default();
            b.add(&part);
            parts.push(b);
        }
        let mut merged = SummaryBuilder::default();
        for p in parts.into_iter().rev() {
            merged.merge(p);
        }
        assert_eq!(merged.finish(300, 1_000), expected);
    }

    fn rows(names: &[&str], data: &[(u32, Stamp, &[f64])]) -> Signals {
        let mut s = Signals {
            indicators: names.iter().map(|n| n.to_string()).collect(),
            ..Signals::default()
        };
        for (t, d, v) in data {
            s.ticker.push(*t);
            s.stamp.push(*d);
            s.values.extend_from_slice(v);
        }
        s
    }

    #[test]
    fn named_rows_round_trip_and_merge_by_name() {
        let a = rows(
            &["sma", "rsi"],
            &[(0, 10, &[1.0, 2.0]), (1, 11, &[3.0, 4.0])],
        );
        let b = rows(&["rsi", "atr"], &[(2, 12, &[5.0, 6.0])]);
        let c = rows(&[], &[(3, 13, &[])]);
        assert_eq!(
            Signals::encoded_names(&a.encode_rows_named()).unwrap(),
            Some(vec!["sma".to_string(), "rsi".to_string()])
        );
        assert_eq!(Signals::encoded_names(&a.encode_rows()).unwrap(), None);
        let mut all = Signals::default();
        for body in [
            a.encode_rows_named(),
            b.encode_rows_named(),
            c.encode_rows_named(),
        ] {
            all.append_encoded(&body).unwrap();
        }
        assert_eq!(all.indicators, ["sma", "rsi", "atr"]);
        assert_eq!(all.ticker, [0, 1, 2, 3]);
        assert_eq!(all.stamp, [10, 11, 12, 13]);
        let v: Vec<String> = all.values.iter().map(|x| format!("{x}")).collect();
        assert_eq!(
            v,
            [
                "1", "2", "NaN", "3", "4", "NaN", "NaN", "5", "6", "NaN", "NaN", "NaN"
            ]
        );
        let mut again = Signals {
            indicators: a.indicators.clone(),
            ..Signals::default()
        };
        again.append_encoded(&a.encode_rows()).unwrap();
        assert_eq!(again, a);
        // Rows stored before bars had instants (dates as i32 days) decode to 00:00 UTC.
        let mut dated = b"QSG2".to_vec();
        dated.extend_from_slice(&1u32.to_le_bytes());
        dated.extend_from_slice(&3u32.to_le_bytes());
        dated.extend_from_slice(b"rsi");
        dated.extend_from_slice(&1u64.to_le_bytes());
        dated.extend_from_slice(&7u32.to_le_bytes());
        dated.extend_from_slice(&19_724i32.to_le_bytes());
        dated.extend_from_slice(&42f64.to_le_bytes());
        let mut old = Signals::default();
        old.append_encoded(&dated).unwrap();
        assert_eq!(old.indicators, ["rsi"]);
        assert_eq!((old.ticker[0], old.stamp[0]), (7, 19_724 * NANOS_PER_DAY));
        assert_eq!(old.time_of(0), "2024-01-02");
        assert_eq!(old.values, [42.0]);
    }
}
