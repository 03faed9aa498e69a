//! What a backtest reads: one ticker's bars ([`Bars`], validated column slices) and the
//! strategy's entry/exit signals ([`Signals`], or the reusable [`SignalBuffers`] a generator
//! writes into), plus two helpers strategies need: [`crossover`] and [`warmup_of`].

use crate::error::{BacktestError, Result};

/// One ticker's bars as borrowed columns: `time` as instants (nanoseconds since 1970-01-01
/// 00:00 UTC; a daily bar's is its date at 00:00), strictly increasing, and finite positive
/// open/high/low/close prices, all of the same length (≥ 1).
///
/// Only [`Bars::new`] makes one, so every `Bars` has been checked.
#[derive(Clone, Copy, Debug)]
pub struct Bars<'a> {
    time: &'a [i64],
    open: &'a [f64],
    high: &'a [f64],
    low: &'a [f64],
    close: &'a [f64],
}

impl<'a> Bars<'a> {
    /// Checks the columns and wraps them: same lengths, at least one bar, times strictly
    /// increasing, prices finite and positive (backtesting.py also refuses missing prices).
    pub fn new(
        time: &'a [i64],
        open: &'a [f64],
        high: &'a [f64],
        low: &'a [f64],
        close: &'a [f64],
    ) -> Result<Self> {
        let n = time.len();
        if n == 0 {
            return Err(BacktestError::NoBars);
        }
        for (column, col) in [
            ("open", open),
            ("high", high),
            ("low", low),
            ("close", close),
        ] {
            if col.len() != n {
                return Err(BacktestError::LengthMismatch {
                    what: "bars",
                    column,
                    len: col.len(),
                    expected: n,
                });
            }
            if let Some(row) = col.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(BacktestError::BadPrice {
                    column,
                    row,
                    value: col[row],
                });
            }
        }
        if let Some(row) = time.windows(2).position(|w| w[1] <= w[0]) {
            return Err(BacktestError::UnsortedTime {
                row: row + 1,
                time: time[row + 1],
                previous: time[row],
            });
        }
        Ok(Bars {
            time,
            open,
            high,
            low,
            close,
        })
    }

    /// The number of bars (at least 1).
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// Always `false`: [`Bars::new`] refuses empty columns.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Bar instants, nanoseconds since 1970-01-01 00:00 UTC.
    pub fn time(&self) -> &'a [i64] {
        self.time
    }

    /// Opening prices.
    pub fn open(&self) -> &'a [f64] {
        self.open
    }

    /// Highest prices.
    pub fn high(&self) -> &'a [f64] {
        self.high
    }

    /// Lowest prices.
    pub fn low(&self) -> &'a [f64] {
        self.low
    }

    /// Closing prices.
    pub fn close(&self) -> &'a [f64] {
        self.close
    }
}

/// A strategy's signals for one ticker, one value per bar, as borrowed slices.
///
/// Signals at bar `i` are decided on bar `i`'s close; the orders they place fill on bar `i + 1`
/// (see [`crate::Fill`]). Signals before bar `warmup + 1` are ignored, as backtesting.py does
/// not call `Strategy.next` before its indicators' warm-up plus one bar.
#[derive(Clone, Copy, Debug)]
pub struct Signals<'a> {
    /// Open a long position (or reverse a short one, with `exclusive_orders`).
    pub long_entry: &'a [bool],
    /// Close a long position.
    pub long_exit: &'a [bool],
    /// Open a short position (or reverse a long one, with `exclusive_orders`); empty: none.
    pub short_entry: &'a [bool],
    /// Close a short position; empty: none.
    pub short_exit: &'a [bool],
    /// The first bar at which every indicator the signals use has a value ([`warmup_of`]):
    /// signals act from bar `warmup + 1` on, and Buy & Hold Return is measured from this bar's
    /// close, both as in backtesting.py.
    pub warmup: usize,
}

impl<'a> Signals<'a> {
    /// Long-only signals with no warm-up.
    pub fn long_only(long_entry: &'a [bool], long_exit: &'a [bool]) -> Self {
        Signals {
            long_entry,
            long_exit,
            short_entry: &[],
            short_exit: &[],
            warmup: 0,
        }
    }

    /// These signals with short entries and exits as well.
    pub fn with_short(mut self, short_entry: &'a [bool], short_exit: &'a [bool]) -> Self {
        self.short_entry = short_entry;
        self.short_exit = short_exit;
        self
    }

    /// These signals with a warm-up (see [`Signals::warmup`]).
    pub fn with_warmup(mut self, warmup: usize) -> Self {
        self.warmup = warmup;
        self
    }

    /// Fails unless the long columns have one row per bar and the short ones too (or are empty).
    pub(crate) fn check(&self, bars: usize) -> Result<()> {
        let columns = [
            ("long_entry", self.long_entry, false),
            ("long_exit", self.long_exit, false),
            ("short_entry", self.short_entry, true),
            ("short_exit", self.short_exit, true),
        ];
        for (column, col, optional) in columns {
            if col.len() != bars && !(optional && col.is_empty()) {
                return Err(BacktestError::LengthMismatch {
                    what: "signals",
                    column,
                    len: col.len(),
                    expected: bars,
                });
            }
        }
        Ok(())
    }
}

/// Owned, reusable signal columns that a signal generator fills for one parameter set; the
/// sweep driver keeps one per worker thread, so generating signals allocates nothing once warm.
#[derive(Clone, Debug, Default)]
pub struct SignalBuffers {
    /// See [`Signals::long_entry`].
    pub long_entry: Vec<bool>,
    /// See [`Signals::long_exit`].
    pub long_exit: Vec<bool>,
    /// See [`Signals::short_entry`].
    pub short_entry: Vec<bool>,
    /// See [`Signals::short_exit`].
    pub short_exit: Vec<bool>,
    /// See [`Signals::warmup`].
    pub warmup: usize,
}

impl SignalBuffers {
    /// Empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every column `len` long and all `false`, and the warm-up 0 (what the sweep driver
    /// does before each call of the generator).
    pub fn reset(&mut self, len: usize) {
        for col in [
            &mut self.long_entry,
            &mut self.long_exit,
            &mut self.short_entry,
            &mut self.short_exit,
        ] {
            col.clear();
            col.resize(len, false);
        }
        self.warmup = 0;
    }

    /// The buffers as [`Signals`].
    pub fn as_signals(&self) -> Signals<'_> {
        Signals {
            long_entry: &self.long_entry,
            long_exit: &self.long_exit,
            short_entry: &self.short_entry,
            short_exit: &self.short_exit,
            warmup: self.warmup,
        }
    }
}

/// Writes `out[i] = a[i-1] < b[i-1] && a[i] > b[i]`: `a` has just crossed over (above) `b`, as
/// backtesting.py's `lib.crossover` defines it (`NaN` compares false, so no cross during a
/// warm-up); `out[0]` is `false`.
///
/// # Panics
/// If the three slices do not have the same length.
pub fn crossover(a: &[f64], b: &[f64], out: &mut [bool]) {
    assert!(
        a.len() == b.len() && a.len() == out.len(),
        "crossover: slices of lengths {}, {} and {}",
        a.len(),
        b.len(),
        out.len()
    );
    if out.is_empty() {
        return;
    }
    out[0] = false;
    let mut below = a[0] < b[0];
    for i in 1..out.len() {
        let (x, y) = (a[i], b[i]);
        out[i] = below && x > y;
        below = x < y;
    }
}

/// The warm-up of a set of indicator series as backtesting.py measures it: the largest index of
/// a series' first non-`NaN` value (a series that is all `NaN` counts as 0, as in
/// backtesting.py), 0 for no series.
pub fn warmup_of(series: &[&[f64]]) -> usize {
    series
        .iter()
        .map(|s| s.iter().position(|v| !v.is_nan()).unwrap_or(0))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_checked() {
        let t = [1, 2, 3];
        let p = [1.0, 2.0, 3.0];
        assert!(Bars::new(&t, &p, &p, &p, &p).is_ok());
        assert_eq!(
            Bars::new(&[], &[], &[], &[], &[]).unwrap_err(),
            BacktestError::NoBars
        );
        assert!(matches!(
            Bars::new(&t, &p, &p[..2], &p, &p),
            Err(BacktestError::LengthMismatch { column: "high", .. })
        ));
        assert!(matches!(
            Bars::new(&t, &p, &p, &[1.0, f64::NAN, 1.0], &p),
            Err(BacktestError::BadPrice {
                column: "low",
                row: 1,
                ..
            })
        ));
        assert!(matches!(
            Bars::new(&[1, 3, 3], &p, &p, &p, &p),
            Err(BacktestError::UnsortedTime { row: 2, .. })
        ));
    }

    #[test]
    fn crossover_matches_backtesting_py() {
        let a = [f64::NAN, 1.0, 3.0, 3.0, 2.0, 4.0];
        let b = [f64::NAN, 2.0, 2.0, 3.0, 3.0, 3.0];
        let mut out = [true; 6];
        crossover(&a, &b, &mut out);
        // 1→3 over 2: cross at 2. Equal at 3 then above at 5 from below at 4: cross at 5.
        assert_eq!(out, [false, false, true, false, false, true]);
    }

    #[test]
    fn warmup_is_the_latest_first_value() {
        let a = [f64::NAN, 1.0, 2.0];
        let b = [f64::NAN, f64::NAN, 2.0];
        assert_eq!(warmup_of(&[&a, &b]), 2);
        assert_eq!(warmup_of(&[&[f64::NAN; 3]]), 0);
        assert_eq!(warmup_of(&[]), 0);
    }
}
