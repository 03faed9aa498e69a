//! The input columns of a compiled expression program for one ticker: the pack's columns, read
//! zero-copy from the mapped file, and the clock columns the functions of time read (`hour`,
//! `time_of_day`, `vwap`, `day_open`, …: [`quantd_expr::clock`]), computed from the bars'
//! instants in the pack's calendar — only when the program uses them, so a program without them
//! reads exactly what it did before.

use crate::error::Result;
use quantd_data::time::Calendar;
use quantd_data::{PackReader, Projection, TickerBars};
use std::ops::Range;

/// A clock column a program may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClockColumn {
    /// The session key: the local date, as days since 1970-01-01.
    Session,
    /// Minutes since local midnight.
    MinuteOfDay,
    /// Monday 0 … Sunday 6.
    Weekday,
}

impl ClockColumn {
    fn of(name: &str) -> Option<ClockColumn> {
        match name {
            quantd_expr::clock::SESSION => Some(ClockColumn::Session),
            quantd_expr::clock::MINUTE_OF_DAY => Some(ClockColumn::MinuteOfDay),
            quantd_expr::clock::WEEKDAY => Some(ClockColumn::Weekday),
            _ => None,
        }
    }
}

/// Where each input of a program comes from.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// The projection's column `k`.
    Pack(usize),
    /// A clock column.
    Clock(ClockColumn),
}

/// How to build a program's inputs from a pack: the pack columns to project, in order, and
/// where each program input is.
#[derive(Debug, Clone)]
pub struct InputPlan {
    pack: Vec<String>,
    slots: Vec<Slot>,
    calendar: Calendar,
}

/// The clock columns of one ticker's bars, reused from ticker to ticker.
#[derive(Debug, Default)]
pub struct ClockBuffers {
    session: Vec<f64>,
    minute_of_day: Vec<f64>,
    weekday: Vec<f64>,
}

impl InputPlan {
    /// The plan of a program reading `columns` ([`quantd_expr::Program::columns`]) from a pack
    /// with `calendar`; `leading` pack columns come first in the projection (a strategy reads
    /// open, high, low and close whatever its expressions use).
    pub fn new(leading: &[&str], columns: &[String], calendar: Calendar) -> InputPlan {
        let mut pack: Vec<String> = leading.iter().map(|c| c.to_string()).collect();
        let slots = columns
            .iter()
            .map(|c| match ClockColumn::of(c) {
                Some(clock) => Slot::Clock(clock),
                None => Slot::Pack(match pack.iter().position(|p| p == c) {
                    Some(k) => k,
                    None => {
                        pack.push(c.clone());
                        pack.len() - 1
                    }
                }),
            })
            .collect();
        InputPlan {
            pack,
            slots,
            calendar,
        }
    }

    /// The projection of the pack columns the program reads.
    pub fn projection(&self, reader: &PackReader) -> Result<Projection> {
        let cols: Vec<&str> = self.pack.iter().map(String::as_str).collect();
        Ok(reader.projection(&cols)?)
    }

    /// Whether the program reads a clock column.
    fn needs_clock(&self) -> bool {
        self.slots.iter().any(|s| matches!(s, Slot::Clock(_)))
    }

    /// The program's inputs over `rows` of a ticker's bars (read with [`InputPlan::projection`]).
    pub fn inputs<'a>(
        &self,
        bars: &'a TickerBars,
        rows: Range<usize>,
        clock: &'a mut ClockBuffers,
    ) -> Vec<&'a [f64]> {
        if self.needs_clock() {
            let c = self.calendar.clock(&bars.stamps()[rows.clone()]);
            clock.session.clear();
            clock.session.extend(c.session.iter().map(|&d| d as f64));
            clock.minute_of_day.clear();
            clock
                .minute_of_day
                .extend(c.minute_of_day.iter().map(|&m| f64::from(m)));
            clock.weekday.clear();
            clock
                .weekday
                .extend(c.weekday.iter().map(|&w| f64::from(w)));
        }
        let clock: &'a ClockBuffers = clock;
        self.slots
            .iter()
            .map(|slot| match *slot {
                Slot::Pack(k) => &bars.column(k)[rows.clone()],
                Slot::Clock(ClockColumn::Session) => clock.session.as_slice(),
                Slot::Clock(ClockColumn::MinuteOfDay) => clock.minute_of_day.as_slice(),
                Slot::Clock(ClockColumn::Weekday) => clock.weekday.as_slice(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_columns_are_not_projected_and_pack_columns_are_projected_once() {
        let cols: Vec<String> = ["close", quantd_expr::clock::SESSION, "volume", "close"]
            .map(String::from)
            .to_vec();
        let plan = InputPlan::new(&["open", "close"], &cols, Calendar::DAILY);
        assert_eq!(plan.pack, ["open", "close", "volume"]);
        assert!(matches!(plan.slots[0], Slot::Pack(1)));
        assert!(matches!(plan.slots[1], Slot::Clock(ClockColumn::Session)));
        assert!(matches!(plan.slots[2], Slot::Pack(2)));
        assert!(matches!(plan.slots[3], Slot::Pack(1)));
        assert!(plan.needs_clock());
        let plain = InputPlan::new(&[], &["close".to_string()], Calendar::DAILY);
        assert!(!plain.needs_clock());
    }
}
