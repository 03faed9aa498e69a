//! Deterministic synthetic universes: geometric Brownian motion per ticker with its own drift,
//! volatility and volume level, consistent OHLC, business days only.
//!
//! Same arguments ⇒ same bars ⇒ same pack id on every machine: the generator uses its own PRNG
//! (SplitMix64 seeding xoshiro256**), `libm`'s portable `log`/`exp`/`cos` instead of the
//! platform's, and prices rounded to cents.

use crate::bars::{BASE_COLUMNS, BarTable, Column, Day, MAX_DATE, MIN_DATE, day_from_date};
use crate::error::{DataError, Result};
use crate::import::ImportLimits;
use chrono::{Datelike, NaiveDate, Weekday};
use quantd_core::Progress;
use rayon::prelude::*;

/// Arguments of a synthetic universe.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    /// Number of tickers.
    pub tickers: usize,
    /// Business days per ticker.
    pub days: usize,
    /// PRNG seed.
    pub seed: u64,
    /// First calendar day (moved forward to a business day).
    pub start: NaiveDate,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            tickers: 500,
            days: 1260,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2015, 1, 2).expect("valid date"),
        }
    }
}

impl SynthSpec {
    /// Checks that the universe is a valid pack: at least one ticker and one day, at most
    /// `limits.max_rows` bars, every date within [`MIN_DATE`] ..= [`MAX_DATE`]. Call it before
    /// [`generate`] on arguments from outside.
    pub fn check(&self, limits: &ImportLimits) -> Result<()> {
        let invalid = |what: String, fix: &str| {
            Err(DataError::Input {
                what,
                fix: fix.into(),
            })
        };
        if self.tickers == 0 || self.days == 0 {
            return invalid(
                "a synthetic universe needs at least one ticker and one day".into(),
                "pass --tickers and --days of at least 1",
            );
        }
        let bars = (self.tickers as u64).saturating_mul(self.days as u64);
        if bars > limits.row_cap() {
            return Err(DataError::Limit {
                what: format!(
                    "{} tickers × {} days is {bars} bars",
                    self.tickers, self.days
                ),
                limit: "max_rows",
                max: limits.row_cap(),
                fix: "generate fewer tickers or days, or raise `max_rows` in the import limits"
                    .into(),
            });
        }
        match last_business_day(self.start, self.days) {
            Some(last) if self.start >= MIN_DATE && last <= MAX_DATE => Ok(()),
            _ => invalid(
                format!(
                    "{} business days from {} do not fit in the supported dates {MIN_DATE} ..= {MAX_DATE}",
                    self.days, self.start
                ),
                "use fewer --days or another --start",
            ),
        }
    }
}

/// The `n`-th business day (1-based) from `start`, without walking the calendar; `None` past
/// chrono's last date.
fn last_business_day(start: NaiveDate, n: usize) -> Option<NaiveDate> {
    let monday = start.checked_sub_days(chrono::Days::new(u64::from(
        start.weekday().num_days_from_monday(),
    )))?;
    // Business days before `start` in its week (a weekend start counts as the next Monday).
    let before = u64::from(start.weekday().num_days_from_monday().min(5));
    let index = before.checked_add(u64::try_from(n).ok()?.checked_sub(1)?)?;
    let days = (index / 5).checked_mul(7)?.checked_add(index % 5)?;
    monday.checked_add_days(chrono::Days::new(days))
}

/// SplitMix64: turns a seed into well-mixed 64-bit values.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256**: fast, portable, reproducible.
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut s = seed ^ stream.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        Rng([
            splitmix(&mut s),
            splitmix(&mut s),
            splitmix(&mut s),
            splitmix(&mut s),
        ])
    }
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    /// Standard normal (Box–Muller, one value per call).
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform();
        let u2 = self.uniform();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2)
    }
}

fn cents(x: f64) -> f64 {
    ((x * 100.0).round() / 100.0).max(0.01)
}

/// The business days (Monday to Friday) from `start`: `n` of them, or fewer if chrono's last
/// date comes first.
pub fn business_days(start: NaiveDate, n: usize) -> Vec<Day> {
    let mut out = Vec::new();
    let mut d = Some(start);
    while let Some(date) = d.filter(|_| out.len() < n) {
        if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            out.push(day_from_date(date));
        }
        d = date.succ_opt();
    }
    out
}

/// One ticker's bars: `[open, high, low, close, volume]` columns.
fn ticker_bars(seed: u64, index: usize, days: usize) -> [Vec<f64>; 5] {
    let mut rng = Rng::new(seed, index as u64 + 1);
    let drift = rng.between(-0.05, 0.25);
    let vol = rng.between(0.15, 0.60);
    let mut price = libm::exp(rng.between(libm::log(5.0), libm::log(500.0)));
    let volume_level = libm::exp(rng.between(libm::log(1e5), libm::log(5e6)));
    let dt = 1.0 / 252.0;
    let step_vol = vol * libm::sqrt(dt);
    let mu = (drift - 0.5 * vol * vol) * dt;
    let mut cols: [Vec<f64>; 5] = Default::default();
    for c in cols.iter_mut() {
        c.reserve_exact(days);
    }
    for _ in 0..days {
        let open = price * libm::exp(0.25 * step_vol * rng.normal());
        let close = open * libm::exp(mu + step_vol * rng.normal());
        let high = open.max(close) * libm::exp(0.5 * step_vol * rng.normal().abs());
        let low = open.min(close) * libm::exp(-0.5 * step_vol * rng.normal().abs());
        let volume = (volume_level * libm::exp(0.45 * rng.normal())).round();
        for (col, v) in
            cols.iter_mut()
                .zip([cents(open), cents(high), cents(low), cents(close), volume])
        {
            col.push(v);
        }
        price = close;
    }
    cols
}

/// Ticker symbols `SYN0001`, `SYN0002`, … (zero-padded so they sort in order).
pub fn ticker_name(index: usize, count: usize) -> String {
    let width = count.to_string().len().max(4);
    format!("SYN{:0width$}", index + 1)
}

/// Generates the universe (of fewer days if the calendar ends first; [`SynthSpec::check`]
/// refuses such a spec).
pub fn generate(spec: &SynthSpec, progress: &dyn Progress) -> BarTable {
    progress.phase("generate", spec.tickers as u64);
    let dates_one = business_days(spec.start, spec.days);
    let days = dates_one.len();
    let per_ticker: Vec<[Vec<f64>; 5]> = (0..spec.tickers)
        .into_par_iter()
        .map(|i| {
            let bars = ticker_bars(spec.seed, i, days);
            progress.advance(1);
            bars
        })
        .collect();
    let n = spec.tickers.saturating_mul(days);
    let mut columns: Vec<Column> = BASE_COLUMNS
        .iter()
        .map(|name| Column {
            name: name.to_string(),
            values: Vec::with_capacity(n.min(isize::MAX as usize / 8)),
        })
        .collect();
    for bars in &per_ticker {
        for (c, b) in columns.iter_mut().zip(bars) {
            c.values.extend_from_slice(b);
        }
    }
    BarTable {
        tickers: (0..spec.tickers)
            .map(|i| ticker_name(i, spec.tickers))
            .collect(),
        offsets: (0..=spec.tickers).map(|i| i * days).collect(),
        dates: (0..spec.tickers)
            .flat_map(|_| dates_one.iter().copied())
            .collect(),
        columns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantd_core::NoProgress;

    #[test]
    fn bars_are_consistent_and_deterministic() {
        let spec = SynthSpec {
            tickers: 20,
            days: 300,
            seed: 7,
            ..Default::default()
        };
        let a = generate(&spec, &NoProgress);
        a.check_invariants().unwrap();
        assert_eq!(a, generate(&spec, &NoProgress));
        let [o, h, l, c, v] = [0, 1, 2, 3, 4].map(|k| &a.columns[k].values);
        for i in 0..a.len() {
            assert!(
                l[i] > 0.0 && l[i] <= o[i].min(c[i]) && h[i] >= o[i].max(c[i]),
                "row {i}"
            );
            assert!(v[i] >= 0.0);
        }
        let other = generate(&SynthSpec { seed: 8, ..spec }, &NoProgress);
        assert_ne!(a.columns[3].values, other.columns[3].values);
    }

    #[test]
    fn a_spec_past_the_date_range_is_refused_before_generating() {
        let limits = ImportLimits::default();
        let spec = |start: &str, days| SynthSpec {
            tickers: 1,
            days,
            start: start.parse().unwrap(),
            ..Default::default()
        };
        assert!(spec("2015-01-02", 400_000).check(&limits).is_ok());
        let e = spec("9999-12-01", 30)
            .check(&limits)
            .unwrap_err()
            .to_string();
        assert!(e.contains("do not fit in the supported dates"), "{e}");
        assert!(spec("1799-12-31", 1).check(&limits).is_err());
        assert!(spec("2015-01-02", usize::MAX).check(&limits).is_err());
        let wide = SynthSpec {
            tickers: usize::MAX,
            days: usize::MAX,
            ..Default::default()
        };
        let e = wide.check(&limits).unwrap_err().to_string();
        assert!(e.contains("max_rows"), "{e}");
        // Near the end of the calendar, generation stops instead of panicking.
        let end = SynthSpec {
            start: NaiveDate::from_ymd_opt(262_142, 12, 20).unwrap(),
            ..spec("2015-01-02", 30)
        };
        let t = generate(&end, &NoProgress);
        t.check_invariants().unwrap();
        assert!(t.len() < 30);
    }

    #[test]
    fn the_last_business_day_is_computed_exactly() {
        for start in ["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"] {
            let start: NaiveDate = start.parse().unwrap();
            for n in 1..30 {
                let walked = *business_days(start, n).last().unwrap();
                let last = last_business_day(start, n).unwrap();
                assert_eq!(day_from_date(last), walked, "{start} {n}");
            }
        }
    }

    #[test]
    fn only_business_days() {
        let days = business_days(NaiveDate::from_ymd_opt(2024, 1, 5).unwrap(), 3);
        let dates: Vec<String> = days
            .iter()
            .map(|&d| crate::bars::date_from_day(d).to_string())
            .collect();
        assert_eq!(dates, ["2024-01-05", "2024-01-08", "2024-01-09"]);
    }
}
