//! Arrow IPC between the engine and the harness: a batch of tickers' bars in (`ticker`, `date`,
//! then every value column of the pack, each ticker's rows contiguous), result rows out. The
//! `date` column is `date32` for a daily pack (user code sees dates, as before packs kept
//! instants) and `timestamp[ns, tz=<the pack's zone>]` for an intraday pack (user code sees a
//! tz-aware `DatetimeIndex`).
//!
//! A result file is untrusted: the job's code can rewrite `/out/result.arrow` after the harness
//! wrote it. [`read_result`] believes nothing it has not checked against the [`BatchInput`] the
//! job was given, before any row reaches a scan, a test or the backtester:
//!
//! - columns: one `ticker` (utf8) and one `date` (date32, or timestamp in nanoseconds);
//!   `signal`, `entries`, `exits` are bool;
//!   every other column is a float64 indicator; names are unique, non-empty, at most
//!   [`PythonOptions::max_column_name_chars`] characters, without control or bidi characters;
//!   at most [`PythonOptions::max_indicator_columns`] indicators;
//! - rows: no more than the batch's bars; every row's ticker is one of the batch's tickers and
//!   its date one of **that ticker's** input bar dates, in the input's order (ticker by ticker,
//!   dates ascending, as the harness writes them), each (ticker, date) once. So a row count per
//!   ticker never exceeds its bars and every date is a real bar's date: nothing downstream ever
//!   converts a date the job made up.
//!
//! A violation fails the shard with class `execution` (the user's code produced it: not
//! retried) and a message naming the row, column or limit. Checking costs O(columns + rows).

use super::PythonOptions;
use super::options::{forbidden_in_name, shown};
use crate::exec::jobs::ShardFailure;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, TimestampNanosecondType};
use arrow_array::{
    Array, ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use quantd_core::ErrorClass;
use quantd_data::PackReader;
use quantd_data::time::{Calendar, NANOS_PER_DAY, Stamp, day_of_stamp};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

fn internal(what: &str, e: impl std::fmt::Display) -> ShardFailure {
    ShardFailure::Error(ErrorClass::Internal, format!("{what}: {e}"))
}

/// The bars a batch job was given, to check its result against: each ticker's name and the
/// instants of its input bars (ascending and unique, as a pack holds them), in batch order.
#[derive(Debug, Clone)]
pub struct BatchInput {
    names: Vec<String>,
    /// Ticker `i`'s instants are `stamps[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    stamps: Vec<Stamp>,
    calendar: Calendar,
}

impl BatchInput {
    /// The input of a batch of `tickers` of a pack with `calendar`: name and input bar instants
    /// (ascending, unique), in batch order.
    pub fn new(tickers: Vec<(String, Vec<Stamp>)>, calendar: Calendar) -> BatchInput {
        let mut names = Vec::with_capacity(tickers.len());
        let mut offsets = vec![0];
        let mut stamps = Vec::new();
        for (name, d) in tickers {
            names.push(name);
            stamps.extend_from_slice(&d);
            offsets.push(stamps.len());
        }
        BatchInput {
            names,
            offsets,
            stamps,
            calendar,
        }
    }

    /// The `date` column the harness is given: dates for a daily pack, zoned instants otherwise.
    fn key_array(&self) -> ArrayRef {
        if self.calendar.daily {
            Arc::new(Date32Array::from_iter_values(
                self.stamps.iter().map(|&s| day_of_stamp(s)),
            ))
        } else {
            Arc::new(
                TimestampNanosecondArray::from(self.stamps.clone())
                    .with_timezone(self.calendar.zone.name()),
            )
        }
    }

    /// The type of [`BatchInput::key_array`].
    fn key_type(&self) -> DataType {
        if self.calendar.daily {
            DataType::Date32
        } else {
            DataType::Timestamp(TimeUnit::Nanosecond, Some(self.calendar.zone.name().into()))
        }
    }

    /// Tickers in the batch.
    pub fn tickers(&self) -> usize {
        self.names.len()
    }

    /// Bars in the batch.
    pub fn bars(&self) -> usize {
        self.stamps.len()
    }

    /// The name of the batch's ticker number `slot`.
    pub fn name(&self, slot: usize) -> &str {
        &self.names[slot]
    }

    /// The input bar instants of the batch's ticker number `slot`.
    pub fn stamps(&self, slot: usize) -> &[Stamp] {
        &self.stamps[self.offsets[slot]..self.offsets[slot + 1]]
    }

    /// How the batch's instants read (the pack's calendar).
    pub fn calendar(&self) -> Calendar {
        self.calendar
    }
}

/// Writes the bars of `tickers` (pack position and the row range to include) as one Arrow IPC
/// file. Returns the file's bytes and what it holds, to check the job's result against.
pub fn bars_ipc(
    reader: &PackReader,
    tickers: &[(usize, Range<usize>)],
) -> Result<(Vec<u8>, BatchInput), ShardFailure> {
    let columns = &reader.manifest().columns;
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let projection = reader.projection(&names)?;
    let mut ticker_col: Vec<&str> = Vec::new();
    let mut batch_names = Vec::with_capacity(tickers.len());
    let mut offsets = vec![0];
    let mut stamps: Vec<Stamp> = Vec::new();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); columns.len()];
    for (t, range) in tickers {
        let data = reader.read(*t, &projection)?;
        let name = reader.manifest().tickers[*t].ticker.as_str();
        ticker_col.extend(std::iter::repeat_n(name, range.len()));
        batch_names.push(name.to_string());
        stamps.extend_from_slice(&data.stamps()[range.clone()]);
        offsets.push(stamps.len());
        for (k, v) in values.iter_mut().enumerate() {
            v.extend_from_slice(&data.column(k)[range.clone()]);
        }
    }
    let input = BatchInput {
        names: batch_names,
        offsets,
        stamps,
        calendar: reader.manifest().calendar,
    };
    let mut fields = vec![
        Field::new("ticker", DataType::Utf8, false),
        Field::new("date", input.key_type(), false),
    ];
    fields.extend(
        columns
            .iter()
            .map(|c| Field::new(c, DataType::Float64, true)),
    );
    let mut arrays: Vec<ArrayRef> =
        vec![Arc::new(StringArray::from(ticker_col)), input.key_array()];
    arrays.extend(
        values
            .into_iter()
            .map(|v| Arc::new(Float64Array::from(v)) as ArrayRef),
    );
    let schema = Arc::new(Schema::new(fields));
    let batch =
        RecordBatch::try_new(schema.clone(), arrays).map_err(|e| internal("bars batch", e))?;
    let mut out = Vec::new();
    {
        let mut w = arrow_ipc::writer::FileWriter::try_new(&mut out, &schema)
            .map_err(|e| internal("bars IPC", e))?;
        w.write(&batch).map_err(|e| internal("bars IPC", e))?;
        w.finish().map_err(|e| internal("bars IPC", e))?;
    }
    Ok((out, input))
}

/// The checked result rows of a batch job, columnar, in the input's order.
#[derive(Debug, Default)]
pub struct ResultRows {
    /// Each row's ticker: its number in the batch ([`BatchInput::name`]).
    pub ticker: Vec<u32>,
    /// Each row's bar: its index among its ticker's input bars ([`BatchInput::stamps`]).
    pub bar: Vec<u32>,
    /// Each row's instant (that bar's).
    pub stamp: Vec<Stamp>,
    /// Boolean columns by name (`signal`, `entries`, `exits`).
    pub flags: Vec<(String, Vec<bool>)>,
    /// Numeric (indicator) columns by name, in the result's order.
    pub numbers: Vec<(String, Vec<f64>)>,
}

impl ResultRows {
    /// The boolean column `name`.
    pub fn flag(&self, name: &str) -> Option<&[bool]> {
        self.flags
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ticker.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ticker.is_empty()
    }
}

/// The boolean columns the harness writes.
const FLAG_COLUMNS: [&str; 3] = ["signal", "entries", "exits"];

/// A result file that is not what the harness writes: what is wrong, where (row, column) and,
/// for a limit, its name. As a shard failure its class is `execution`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Python job's result is not what the harness writes: {0}")]
pub struct BadResult(pub String);

impl From<BadResult> for ShardFailure {
    fn from(e: BadResult) -> Self {
        ShardFailure::Error(ErrorClass::Execution, e.to_string())
    }
}

fn bad_result(e: impl std::fmt::Display) -> BadResult {
    BadResult(e.to_string())
}

/// Reads a harness result file and checks it against the batch's `input` (see the module docs).
pub fn read_result(
    bytes: Vec<u8>,
    input: &BatchInput,
    limits: &PythonOptions,
) -> Result<ResultRows, BadResult> {
    // The bytes may be crafted by user code: should the Arrow decoder itself panic on them, that
    // is a bad result of this job, not a reason to unwind through the worker.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_checked(bytes, input, limits)
    }))
    .unwrap_or_else(|_| Err(bad_result("its Arrow data could not be decoded")))
}

fn read_checked(
    bytes: Vec<u8>,
    input: &BatchInput,
    limits: &PythonOptions,
) -> Result<ResultRows, BadResult> {
    super::ipc_check::check_file(&bytes).map_err(bad_result)?;
    let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None)
        .map_err(bad_result)?;
    let layout = Layout::of(&reader.schema(), input.calendar.daily, limits)?;
    let mut rows = ResultRows {
        flags: layout
            .flags
            .iter()
            .map(|(n, _)| (n.clone(), vec![]))
            .collect(),
        numbers: layout
            .numbers
            .iter()
            .map(|(n, _)| (n.clone(), vec![]))
            .collect(),
        ..ResultRows::default()
    };
    let mut places = Places::new(input);
    for batch in reader {
        let batch = batch.map_err(bad_result)?;
        let total = rows.len().saturating_add(batch.num_rows());
        if total > input.bars() {
            return Err(bad_result(format!(
                "it has more rows ({total} so far) than the {} bars the job was given; a result has at most one row per input bar",
                input.bars()
            )));
        }
        read_batch(&batch, &layout, &mut places, &mut rows)?;
    }
    Ok(rows)
}

/// Where each column of a result file is, once its schema is checked.
struct Layout {
    ticker: usize,
    date: usize,
    flags: Vec<(String, usize)>,
    numbers: Vec<(String, usize)>,
}

impl Layout {
    /// `daily`: the job's bars are dates, so the `date` column is `date32`; otherwise it holds
    /// instants, `timestamp[ns]`.
    fn of(schema: &Schema, daily: bool, limits: &PythonOptions) -> Result<Layout, BadResult> {
        let fields = schema.fields();
        let most = 2 + FLAG_COLUMNS.len() + limits.max_indicator_columns;
        if fields.len() > most {
            return Err(too_many_indicators(fields.len(), limits));
        }
        let (mut ticker, mut date) = (None, None);
        let (mut flags, mut numbers) = (Vec::new(), Vec::new());
        let mut seen = HashSet::new();
        for (i, field) in fields.iter().enumerate() {
            let name = field.name().as_str();
            check_column_name(name, limits)?;
            if !seen.insert(name) {
                return Err(bad_result(format!(
                    "column `{}` appears twice; each column once",
                    shown(name, 64)
                )));
            }
            match (name, field.data_type()) {
                ("ticker", DataType::Utf8) => ticker = Some(i),
                ("date", DataType::Date32) if daily => date = Some(i),
                ("date", DataType::Timestamp(TimeUnit::Nanosecond, _)) if !daily => date = Some(i),
                ("ticker", t) => return Err(wrong_type(name, t, "utf8 (the ticker's name)")),
                ("date", t) if daily => {
                    return Err(wrong_type(name, t, "date32 (the bar's date, as given)"));
                }
                ("date", t) => {
                    return Err(wrong_type(
                        name,
                        t,
                        "timestamp[ns] (the bar's instant, as given)",
                    ));
                }
                (_, DataType::Boolean) if FLAG_COLUMNS.contains(&name) => {
                    flags.push((name.to_string(), i));
                }
                (_, t) if FLAG_COLUMNS.contains(&name) => return Err(wrong_type(name, t, "bool")),
                (_, DataType::Float64) => numbers.push((name.to_string(), i)),
                (_, t) => {
                    return Err(wrong_type(
                        name,
                        t,
                        "float64 (indicator columns are numbers)",
                    ));
                }
            }
        }
        if numbers.len() > limits.max_indicator_columns {
            return Err(too_many_indicators(numbers.len(), limits));
        }
        let missing = |what: &str| bad_result(format!("it has no `{what}` column"));
        Ok(Layout {
            ticker: ticker.ok_or_else(|| missing("ticker"))?,
            date: date.ok_or_else(|| missing("date"))?,
            flags,
            numbers,
        })
    }
}

fn wrong_type(name: &str, have: &DataType, want: &str) -> BadResult {
    bad_result(format!(
        "column `{}` is {have}; it must be {want}",
        shown(name, 64)
    ))
}

fn too_many_indicators(columns: usize, limits: &PythonOptions) -> BadResult {
    bad_result(format!(
        "it has {columns} columns; a result may have at most {} indicator columns besides `ticker`, `date` and `signal` (limit `max_indicator_columns` of the engine's Python options): return fewer columns",
        limits.max_indicator_columns
    ))
}

fn check_column_name(name: &str, limits: &PythonOptions) -> Result<(), BadResult> {
    let chars = name.chars().count();
    let why = if chars == 0 {
        "is empty".to_string()
    } else if chars > limits.max_column_name_chars {
        format!(
            "is {chars} characters long; names have at most {} (limit `max_column_name_chars` of the engine's Python options)",
            limits.max_column_name_chars
        )
    } else if name.chars().any(forbidden_in_name) {
        "contains control or bidirectional-override characters".to_string()
    } else {
        return Ok(());
    };
    Err(bad_result(format!(
        "the name of column `{}` {why}; rename the column",
        shown(name, 64)
    )))
}

/// Reads one record batch's rows into `rows`, checking each row's place.
/// The instant of bar `bar` of input ticker `slot`.
fn input_stamp(input: &BatchInput, slot: u32, bar: u32) -> Stamp {
    input.stamps(slot as usize)[bar as usize]
}

fn read_batch(
    batch: &RecordBatch,
    layout: &Layout,
    places: &mut Places<'_>,
    rows: &mut ResultRows,
) -> Result<(), BadResult> {
    let typed = || bad_result("a record batch does not match the file's schema");
    let tickers = batch
        .column(layout.ticker)
        .as_string_opt::<i32>()
        .ok_or_else(typed)?;
    let keys = batch.column(layout.date);
    // `None` when the key is missing; `Err(day)` for a date beyond the instants a pack can hold.
    let stamp_at: Box<dyn Fn(usize) -> Option<Result<Stamp, i32>>> =
        if let Some(days) = keys.as_primitive_opt::<Date32Type>() {
            Box::new(move |i| {
                let day = days.value(i);
                days.is_valid(i)
                    .then(|| i64::from(day).checked_mul(NANOS_PER_DAY).ok_or(day))
            })
        } else {
            let ns = keys
                .as_primitive_opt::<TimestampNanosecondType>()
                .ok_or_else(typed)?;
            Box::new(move |i| ns.is_valid(i).then(|| Ok(ns.value(i))))
        };
    for i in 0..batch.num_rows() {
        let row = rows.len() + 1;
        let stamp = stamp_at(i);
        let (false, Some(stamp)) = (tickers.is_null(i), stamp) else {
            return Err(bad_result(format!(
                "row {row} has no {}",
                if tickers.is_null(i) { "ticker" } else { "date" }
            )));
        };
        let (slot, bar) = places.place(row, tickers.value(i), stamp)?;
        rows.ticker.push(slot);
        rows.bar.push(bar);
        rows.stamp.push(input_stamp(places.input, slot, bar));
    }
    for ((_, column), (_, out)) in layout.flags.iter().zip(rows.flags.iter_mut()) {
        let a = batch.column(*column).as_boolean_opt().ok_or_else(typed)?;
        out.extend((0..a.len()).map(|i| a.is_valid(i) && a.value(i)));
    }
    for ((_, column), (_, out)) in layout.numbers.iter().zip(rows.numbers.iter_mut()) {
        let a = batch
            .column(*column)
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(typed)?;
        out.extend((0..a.len()).map(|i| if a.is_valid(i) { a.value(i) } else { f64::NAN }));
    }
    Ok(())
}

/// Finds each result row's input bar, walking the input in order.
struct Places<'a> {
    input: &'a BatchInput,
    by_name: HashMap<&'a str, usize>,
    /// The ticker of the previous row.
    slot: usize,
    /// The first bar of `slot` the next row may be on.
    next: usize,
}

impl<'a> Places<'a> {
    fn new(input: &'a BatchInput) -> Self {
        Places {
            input,
            by_name: input
                .names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.as_str(), i))
                .collect(),
            slot: 0,
            next: 0,
        }
    }

    /// The (ticker number, bar index) of row `row`, or why it has no place. `date` is the row's
    /// instant, or (`Err`) the day number of a date no pack can hold.
    fn place(
        &mut self,
        row: usize,
        ticker: &str,
        date: Result<Stamp, i32>,
    ) -> Result<(u32, u32), BadResult> {
        let input = self.input;
        let slot = if input.names.get(self.slot).is_some_and(|n| n == ticker) {
            self.slot
        } else {
            *self.by_name.get(ticker).ok_or_else(|| {
                bad_result(format!(
                    "row {row} names ticker `{}`, which is not one of the {} tickers the job was given",
                    shown(ticker, 64),
                    input.tickers()
                ))
            })?
        };
        let name = shown(ticker, 64);
        if slot < self.slot {
            return Err(bad_result(format!(
                "row {row} ({name}) comes after rows of `{}`; rows must follow the input's order (ticker by ticker, dates ascending)",
                shown(input.name(self.slot), 64)
            )));
        }
        if slot > self.slot {
            self.slot = slot;
            self.next = 0;
        }
        let dates = input.stamps(slot);
        let day = |s: Stamp| input.calendar.format(s);
        let at = |d: Result<Stamp, i32>| match d {
            Ok(s) => day(s),
            Err(n) => format!("day {n} (not a date)"),
        };
        let Some(bar) = date.ok().and_then(|d| dates.binary_search(&d).ok()) else {
            let span = match (dates.first(), dates.last()) {
                (Some(&a), Some(&b)) => format!("its bars run from {} to {}", day(a), day(b)),
                _ => "it has no bars".to_string(),
            };
            return Err(bad_result(format!(
                "row {row} puts {name} on {}, which is not one of its input bars ({span}); every row must be one of its ticker's bars",
                at(date)
            )));
        };
        if bar < self.next {
            let what = if bar + 1 == self.next {
                "a second row for"
            } else {
                "out of date order:"
            };
            return Err(bad_result(format!(
                "row {row} is {what} {name} on {}; each (ticker, date) appears once, in the input's order",
                at(date)
            )));
        }
        self.next = bar + 1;
        Ok((slot as u32, bar as u32))
    }
}
