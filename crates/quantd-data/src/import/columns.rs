//! Parquet columns as the importer reads them: a [`Plan`] per file says from the schema how each
//! of quantd's columns is read (text or numbers, dates or timestamps, in which time zone), and
//! [`BatchColumns`] gives each row's value, or what is wrong with it in words a user can act on
//! (`x` is not a number, bytes that are not UTF-8, a time of day).

use super::Layout;
use super::dates::{
    Zone, read_days, read_naive_ticks, read_ticks, show_timestamp, unit_of, zone_of,
};
use crate::error::{DataError, Result};
use crate::text::{echo, echo_bytes};
use crate::time::{self, Read, StampReader, TimeFault};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Schema, TimeUnit};

/// How a ticker column is read.
#[derive(Debug, Clone, Copy)]
enum TickerPlan {
    /// Text (or anything cast to text, like numbers).
    Text,
    /// Binary: each value must be UTF-8.
    Bytes,
}

/// How the time column is read.
#[derive(Debug, Clone, Copy)]
enum DatePlan {
    /// Text, as [`StampReader`] reads it.
    Text,
    /// Days since 1970-01-01 (`date32`, or integers cast to it without `--epoch`).
    Days,
    /// Ticks of a unit since 1970-01-01 UTC (`timestamp` with a zone, `date64`, integers with
    /// `--epoch`), dated in a zone.
    Ticks(TimeUnit, Zone),
    /// Ticks of a unit on the wall clock (`timestamp` without a zone), local to `--tz`.
    Naive(TimeUnit),
}

/// How a price or volume column is read.
#[derive(Debug, Clone, Copy)]
enum NumberPlan {
    /// Numbers (integers, decimals, floats, booleans) as `f64`.
    Numbers,
    /// Text parsed as a number, row by row.
    Text,
}

/// How each of quantd's columns of a Parquet file is read, decided once from its schema.
pub(super) struct Plan {
    ticker: Option<TickerPlan>,
    date: DatePlan,
    base: [NumberPlan; 5],
}

fn is_text(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_text(v),
        _ => false,
    }
}

fn is_binary(dt: &DataType) -> bool {
    match dt {
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => true,
        DataType::Dictionary(_, v) => is_binary(v),
        _ => false,
    }
}

fn is_number(dt: &DataType) -> bool {
    match dt {
        DataType::Boolean | DataType::Null => true,
        DataType::Dictionary(_, v) => is_number(v),
        dt => dt.is_numeric(),
    }
}

/// The value type of a dictionary, or the type itself.
fn values_of(dt: &DataType) -> &DataType {
    match dt {
        DataType::Dictionary(_, v) => values_of(v),
        dt => dt,
    }
}

impl Plan {
    /// The plan for `schema`, or an error naming the column whose type cannot hold what it must.
    /// Integer times are `epoch` units when one is given, else days.
    pub(super) fn new(
        schema: &Schema,
        layout: &Layout,
        source: &str,
        epoch: Option<time::Epoch>,
    ) -> Result<Plan> {
        let field = |i: usize| schema.fields().get(i);
        let name = |i: usize| field(i).map_or(String::new(), |f| echo(f.name()));
        let type_of = |i: usize| field(i).map_or(DataType::Null, |f| f.data_type().clone());
        for (_, i) in &layout.extras {
            let dt = type_of(*i);
            if !is_number(&dt) {
                return Err(DataError::Input {
                    what: format!(
                        "`{source}`: extra column `{}` is of type {dt}, not a number",
                        name(*i)
                    ),
                    fix: format!(
                        "remove column `{}` from the file, or convert it to numbers",
                        name(*i)
                    ),
                });
            }
        }
        let ticker = layout.ticker.map(|i| {
            if is_binary(&type_of(i)) {
                TickerPlan::Bytes
            } else {
                TickerPlan::Text
            }
        });
        let date = date_plan(&type_of(layout.date), &name(layout.date), source, epoch)?;
        let base = layout.base.map(|i| {
            if is_text(&type_of(i)) {
                NumberPlan::Text
            } else {
                NumberPlan::Numbers
            }
        });
        Ok(Plan { ticker, date, base })
    }

    /// The IANA zone of a time column stored with one (pandas' tz-aware `DatetimeIndex`): the
    /// pack's zone unless `--tz` names another.
    pub(super) fn zone(&self) -> Option<time::Zone> {
        match self.date {
            DatePlan::Ticks(_, Zone::Named(zone)) => Some(zone),
            _ => None,
        }
    }
}

fn date_plan(
    dt: &DataType,
    name: &str,
    source: &str,
    epoch: Option<time::Epoch>,
) -> Result<DatePlan> {
    let utc = Zone::UTC;
    Ok(match values_of(dt) {
        dt if is_text(dt) => DatePlan::Text,
        DataType::Date64 => DatePlan::Ticks(TimeUnit::Millisecond, utc),
        dt if dt.is_integer() && epoch.is_some() => {
            DatePlan::Ticks(unit_of(epoch.unwrap_or(time::Epoch::Seconds)), utc)
        }
        DataType::Timestamp(unit, None) => DatePlan::Naive(*unit),
        DataType::Timestamp(unit, Some(tz)) => match zone_of(tz) {
            Some(zone) => DatePlan::Ticks(*unit, zone),
            None => {
                return Err(DataError::Input {
                    what: format!(
                        "`{source}`: column `{name}` holds timestamps in the time zone `{}`, which is not a time zone quantd knows",
                        echo(tz)
                    ),
                    fix: "write the time zone as an IANA name (America/New_York), UTC or an offset (+05:00), or write the dates without a time zone (pandas: `df.index = df.index.tz_localize(None)`)".into(),
                });
            }
        },
        _ => DatePlan::Days,
    })
}

/// The cast a column needs before it is read.
fn cast(
    batch: &RecordBatch,
    i: usize,
    to: &DataType,
    header: &[String],
    source: &str,
) -> Result<ArrayRef> {
    let name = header.get(i).map_or(String::new(), |n| echo(n));
    let col = batch.columns().get(i).ok_or_else(|| DataError::Input {
        what: format!("`{source}`: column `{name}` is missing from a row group"),
        fix: "write the file again with the same columns in every row group".into(),
    })?;
    arrow_cast::cast(col, to).map_err(|e| DataError::Input {
        what: format!(
            "`{source}`: column `{name}` of type {} cannot be read as {to}: {}",
            col.data_type(),
            echo(&e.to_string())
        ),
        fix:
            "store the column as text (ticker), a date/timestamp (date) or numbers (prices, volume)"
                .into(),
    })
}

/// A ticker column of one batch.
enum TickerCol {
    Text(StringArray),
    Bytes(ArrayRef),
}

/// The time column of one batch.
enum DateCol {
    Text(StringArray),
    Days(PrimitiveArray<Date32Type>),
    Ticks(PrimitiveArray<Int64Type>, TimeUnit, Zone),
    Naive(PrimitiveArray<Int64Type>, TimeUnit),
}

/// A price or volume column of one batch.
enum NumberCol {
    Numbers(PrimitiveArray<Float64Type>),
    Text(StringArray),
}

/// One batch's columns, cast as the [`Plan`] says.
pub(super) struct BatchColumns {
    ticker: Option<TickerCol>,
    date: DateCol,
    base: Vec<NumberCol>,
    extras: Vec<PrimitiveArray<Float64Type>>,
}

impl BatchColumns {
    pub(super) fn new(
        batch: &RecordBatch,
        plan: &Plan,
        layout: &Layout,
        header: &[String],
        source: &str,
    ) -> Result<Self> {
        let cast = |i: usize, to: &DataType| cast(batch, i, to, header, source);
        let text = |i: usize| -> Result<StringArray> {
            Ok(cast(i, &DataType::Utf8)?.as_string::<i32>().clone())
        };
        let numbers = |i: usize| -> Result<PrimitiveArray<Float64Type>> {
            Ok(cast(i, &DataType::Float64)?
                .as_primitive::<Float64Type>()
                .clone())
        };
        let ticker = match (layout.ticker, plan.ticker) {
            (Some(i), Some(TickerPlan::Bytes)) => {
                Some(TickerCol::Bytes(cast(i, &DataType::LargeBinary)?))
            }
            (Some(i), _) => Some(TickerCol::Text(text(i)?)),
            (None, _) => None,
        };
        let date = match plan.date {
            DatePlan::Text => DateCol::Text(text(layout.date)?),
            DatePlan::Days => DateCol::Days(
                cast(layout.date, &DataType::Date32)?
                    .as_primitive::<Date32Type>()
                    .clone(),
            ),
            DatePlan::Ticks(unit, zone) => DateCol::Ticks(
                cast(layout.date, &DataType::Int64)?
                    .as_primitive::<Int64Type>()
                    .clone(),
                unit,
                zone,
            ),
            DatePlan::Naive(unit) => DateCol::Naive(
                cast(layout.date, &DataType::Int64)?
                    .as_primitive::<Int64Type>()
                    .clone(),
                unit,
            ),
        };
        let mut base = Vec::with_capacity(5);
        for (&i, how) in layout.base.iter().zip(plan.base) {
            base.push(match how {
                NumberPlan::Numbers => NumberCol::Numbers(numbers(i)?),
                NumberPlan::Text => NumberCol::Text(text(i)?),
            });
        }
        let extras = layout
            .extras
            .iter()
            .map(|(_, i)| numbers(*i))
            .collect::<Result<_>>()?;
        Ok(BatchColumns {
            ticker,
            date,
            base,
            extras,
        })
    }

    /// Row `r`'s ticker: `Ok(None)` when the file has no ticker column, `Err` with the bytes
    /// (as shown) when they are not UTF-8. A null is the empty ticker.
    pub(super) fn ticker(&self, r: usize) -> std::result::Result<Option<&str>, String> {
        match &self.ticker {
            None => Ok(None),
            Some(TickerCol::Text(a)) => Ok(Some(if a.is_valid(r) { a.value(r) } else { "" })),
            Some(TickerCol::Bytes(a)) => {
                if !a.is_valid(r) {
                    return Ok(Some(""));
                }
                let bytes = a.as_binary::<i64>().value(r);
                std::str::from_utf8(bytes)
                    .map(Some)
                    .map_err(|_| echo_bytes(bytes))
            }
        }
    }

    /// Row `r`'s time (text and naive timestamps as `reader` reads them), or what is wrong with
    /// it and the value as shown. A null is the empty text.
    pub(super) fn time(
        &self,
        r: usize,
        reader: &StampReader,
    ) -> std::result::Result<Read, (TimeFault, String)> {
        let null = || (TimeFault::Malformed, String::new());
        match &self.date {
            DateCol::Text(a) if a.is_valid(r) => {
                let s = a.value(r);
                reader.read(s).map_err(|f| (f, s.to_string()))
            }
            DateCol::Days(a) if a.is_valid(r) => {
                let v = a.value(r);
                read_days(i64::from(v)).map_err(|f| (f, format!("{v} days since 1970-01-01")))
            }
            DateCol::Ticks(a, unit, zone) if a.is_valid(r) => {
                let v = a.value(r);
                read_ticks(v, *unit, *zone).map_err(|f| (f, show_timestamp(v, *unit, *zone)))
            }
            DateCol::Naive(a, unit) if a.is_valid(r) => {
                let v = a.value(r);
                read_naive_ticks(v, *unit, reader.zone)
                    .map_err(|f| (f, show_timestamp(v, *unit, Zone::UTC)))
            }
            _ => Err(null()),
        }
    }

    /// Row `r`'s `k`-th base column: a finite number, or the value as shown (empty for a null).
    pub(super) fn base(&self, k: usize, r: usize) -> std::result::Result<f64, String> {
        match self.base.get(k) {
            Some(NumberCol::Numbers(a)) if a.is_valid(r) => {
                let v = a.value(r);
                if v.is_finite() {
                    Ok(v)
                } else {
                    Err(v.to_string())
                }
            }
            Some(NumberCol::Text(a)) if a.is_valid(r) => {
                let s = a.value(r).trim();
                match s.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(v),
                    _ => Err(s.to_string()),
                }
            }
            _ => Err(String::new()),
        }
    }

    /// Row `r`'s extra columns into `out`: NaN for a null; `Err` with the column number and the
    /// value as shown for an infinity (which CSV could not carry back).
    pub(super) fn extras(
        &self,
        r: usize,
        out: &mut [f64],
    ) -> std::result::Result<(), (usize, String)> {
        for (k, (slot, a)) in out.iter_mut().zip(&self.extras).enumerate() {
            *slot = if a.is_valid(r) { a.value(r) } else { f64::NAN };
            if slot.is_infinite() {
                return Err((k, slot.to_string()));
            }
        }
        Ok(())
    }
}
