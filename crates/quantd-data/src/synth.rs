//! Deterministic synthetic universes: geometric Brownian motion per ticker with its own drift,
//! volatility and volume level, consistent OHLC, business days only: daily bars, or intraday bars
//! (`1m` … `1h`) of a US trading session (09:30–16:00 America/New_York, daylight saving
//! included) with the U-shaped intraday volume of an exchange (heavy at the open and the close,
//! light at midday).
//!
//! Same arguments ⇒ same bars ⇒ same pack id on every machine: the generator uses its own PRNG
//! (SplitMix64 seeding xoshiro256**), `libm`'s portable `log`/`exp`/`cos` instead of the
//! platform's, and prices rounded to cents.

use crate::bars::{BASE_COLUMNS, BarTable, Column, Day, MAX_DATE, MIN_DATE, day_from_date};
use crate::error::{DataError, Result};
use crate::import::ImportLimits;
use crate::time::{Calendar, Interval, NANOS_PER_DAY, NANOS_PER_SECOND, Stamp, Zone};
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
    /// The bar interval: `1d`, or `1m`, `5m`, `15m`, `30m`, `1h` bars of a US session.
    pub interval: Interval,
}

/// The session intraday universes trade: 09:30–16:00 in New York.
const SESSION_ZONE: &str = "America/New_York";
/// The session's open, in minutes after midnight.
const SESSION_OPEN: i64 = 9 * 60 + 30;
/// The session's length in minutes.
const SESSION_MINUTES: i64 = 390;

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            tickers: 500,
            days: 1260,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2015, 1, 2).expect("valid date"),
            interval: Interval::Day1,
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
        let Some(per_day) = self.bars_per_day() else {
            return invalid(
                format!(
                    "synthetic universes have daily bars or intraday bars of 1m, 5m, 15m, 30m or 1h, not {}",
                    self.interval
                ),
                "pass --interval 1d, 1m, 5m, 15m, 30m or 1h",
            );
        };
        let bars = (self.tickers as u64)
            .saturating_mul(self.days as u64)
            .saturating_mul(per_day);
        if bars > limits.row_cap() {
            return Err(DataError::Limit {
                what: format!(
                    "{} tickers × {} days × {per_day} bars a day is {bars} bars",
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

impl SynthSpec {
    /// Bars per business day: 1 for daily bars, the session's bars of an intraday interval
    /// (390 of a minute, 7 of an hour: 09:30, 10:30, … 15:30); `None` for other intervals.
    pub fn bars_per_day(&self) -> Option<u64> {
        match self.interval {
            Interval::Day1 => Some(1),
            Interval::Minute1
            | Interval::Minute5
            | Interval::Minute15
            | Interval::Minute30
            | Interval::Hour1 => {
                let minutes = self.interval.nanos()? / 60_000_000_000;
                Some((SESSION_MINUTES + minutes - 1).div_euclid(minutes) as u64)
            }
            _ => None,
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

/// The business days (Monday to Friday) from `start`: `n` of them, or fewer if the pack range
/// ([`MAX_DATE`]) ends first.
pub fn business_days(start: NaiveDate, n: usize) -> Vec<Day> {
    let mut out = Vec::new();
    let mut d = Some(start);
    while let Some(date) = d.filter(|&d| out.len() < n && d <= MAX_DATE) {
        if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            out.push(day_from_date(date));
        }
        d = date.succ_opt();
    }
    out
}

/// One ticker's intraday bars, `per_day` a session: `[open, high, low, close, volume]`. The
/// ticker's daily drift and volatility are spread over the session's bars; each bar's volume is
/// the day's share of its place in the session (U-shaped).
fn intraday_bars(seed: u64, index: usize, days: usize, per_day: usize) -> [Vec<f64>; 5] {
    let mut rng = Rng::new(seed, index as u64 + 1);
    let drift = rng.between(-0.05, 0.25);
    let vol = rng.between(0.15, 0.60);
    let mut price = libm::exp(rng.between(libm::log(5.0), libm::log(500.0)));
    let volume_level = libm::exp(rng.between(libm::log(1e5), libm::log(5e6)));
    let dt = 1.0 / (252.0 * per_day as f64);
    let step_vol = vol * libm::sqrt(dt);
    let mu = (drift - 0.5 * vol * vol) * dt;
    // U shape: 3.4× the midday rate at the open and the close; shares sum to 1 over a session.
    let shape: Vec<f64> = (0..per_day)
        .map(|k| {
            let x = (k as f64 + 0.5) / per_day as f64 * 2.0 - 1.0;
            0.6 + 2.4 * x * x
        })
        .collect();
    let total: f64 = shape.iter().sum();
    let n = days * per_day;
    let mut cols: [Vec<f64>; 5] = Default::default();
    for c in cols.iter_mut() {
        c.reserve_exact(n);
    }
    for _ in 0..days {
        let day_volume = volume_level * libm::exp(0.45 * rng.normal());
        // The overnight gap: a quarter of a day's volatility.
        price *= libm::exp(0.25 * vol * libm::sqrt(1.0 / 252.0) * rng.normal());
        for share in &shape {
            let [open, high, low, close] = candle(&mut rng, price, mu, step_vol);
            let volume = (day_volume * share / total * libm::exp(0.3 * rng.normal())).round();
            push_bar(&mut cols, [open, high, low, close], volume);
            price = close;
        }
    }
    cols
}

/// The instants of a session's `per_day` bars of `interval` on each of `days`: from 09:30 New
/// York time, daylight saving included.
fn session_stamps(days: &[Day], interval: Interval, per_day: usize) -> Vec<Stamp> {
    let zone: Zone = SESSION_ZONE.parse().expect("a zone chrono-tz knows");
    let step = interval.nanos().unwrap_or(NANOS_PER_DAY);
    let open = SESSION_OPEN * 60 * NANOS_PER_SECOND;
    let mut out = Vec::with_capacity(days.len() * per_day);
    for &d in days {
        let midnight = crate::bars::date_from_day(d).and_time(chrono::NaiveTime::MIN);
        let local_open = midnight + chrono::Duration::nanoseconds(open);
        // 09:30 is never skipped nor repeated in New York (clocks change at 02:00).
        let first = zone.instant(local_open).unwrap_or_default();
        out.extend((0..per_day as i64).map(|k| first + k * step));
    }
    out
}

/// A bar opening at `open`: its close one log-normal step away (drift `mu`, volatility
/// `step_vol`), its high above and its low below both; `[open, high, low, close]`, unrounded.
/// Draws three normals, in this order (pack ids depend on it).
fn candle(rng: &mut Rng, open: f64, mu: f64, step_vol: f64) -> [f64; 4] {
    let close = open * libm::exp(mu + step_vol * rng.normal());
    let high = open.max(close) * libm::exp(0.5 * step_vol * rng.normal().abs());
    let low = open.min(close) * libm::exp(-0.5 * step_vol * rng.normal().abs());
    [open, high, low, close]
}

/// Appends a bar: prices rounded to cents, then the volume.
fn push_bar(cols: &mut [Vec<f64>; 5], prices: [f64; 4], volume: f64) {
    for (col, p) in cols.iter_mut().zip(prices) {
        col.push(cents(p));
    }
    cols[4].push(volume);
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
        let [open, high, low, close] = candle(&mut rng, open, mu, step_vol);
        let volume = (volume_level * libm::exp(0.45 * rng.normal())).round();
        push_bar(&mut cols, [open, high, low, close], volume);
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
    let per_day = spec.bars_per_day().unwrap_or(1) as usize;
    let intraday = spec.interval.is_intraday();
    let days = dates_one.len() * per_day;
    let per_ticker: Vec<[Vec<f64>; 5]> = (0..spec.tickers)
        .into_par_iter()
        .map(|i| {
            let bars = if intraday {
                intraday_bars(spec.seed, i, dates_one.len(), per_day)
            } else {
                ticker_bars(spec.seed, i, days)
            };
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
    let mut table = BarTable {
        tickers: (0..spec.tickers)
            .map(|i| ticker_name(i, spec.tickers))
            .collect(),
        offsets: (0..=spec.tickers).map(|i| i * days).collect(),
        calendar: Calendar::DAILY,
        stamps: Vec::new(),
        columns,
    };
    let one: Vec<Stamp> = if intraday {
        session_stamps(&dates_one, spec.interval, per_day)
    } else {
        dates_one
            .iter()
            .map(|&d| i64::from(d) * NANOS_PER_DAY)
            .collect()
    };
    table.stamps = Vec::with_capacity(n);
    for _ in 0..spec.tickers {
        table.stamps.extend_from_slice(&one);
    }
    if intraday {
        table.calendar = Calendar {
            interval: spec.interval,
            zone: SESSION_ZONE.parse().expect("a zone chrono-tz knows"),
            daily: false,
        };
    } else {
        // The interval an import of the same bars infers, so both give the same pack id.
        table.calendar.interval = crate::hash::implied_interval(&table);
    }
    table
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
        assert!(spec("2015-01-02", 40_000).check(&limits).is_ok());
        assert!(spec("2015-01-02", 400_000).check(&limits).is_err());
        let e = spec("2262-03-01", 60)
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

    #[test]
    fn intraday_universes_trade_a_new_york_session_with_a_u_shaped_volume() {
        let spec = SynthSpec {
            tickers: 2,
            days: 10,
            start: "2024-03-04".parse().unwrap(),
            interval: Interval::Minute1,
            ..Default::default()
        };
        spec.check(&ImportLimits::default()).unwrap();
        assert_eq!(spec.bars_per_day(), Some(390));
        let t = generate(&spec, &NoProgress);
        t.check_invariants().unwrap();
        assert_eq!(t.len(), 2 * 10 * 390);
        assert!(!t.calendar.daily);
        assert_eq!(t.calendar.zone.name(), "America/New_York");
        let show = |i: usize| t.calendar.format(t.stamps[i]);
        assert_eq!(show(0), "2024-03-04T09:30:00-05:00");
        assert_eq!(show(389), "2024-03-04T15:59:00-05:00");
        // 2024-03-11, after the clocks went forward: still 09:30 local.
        assert_eq!(show(5 * 390), "2024-03-11T09:30:00-04:00");
        assert_eq!(crate::hash::implied_interval(&t), Interval::Minute1);
        let volume = t.column("volume").unwrap();
        let mean = |bars: std::ops::Range<usize>| {
            let days = 0..20;
            let n = (bars.len() * days.len()) as f64;
            days.flat_map(|d| bars.clone().map(move |b| volume[d * 390 + b]))
                .sum::<f64>()
                / n
        };
        assert!(
            mean(0..30) > 2.0 * mean(180..210),
            "the open is busier than midday"
        );
        assert!(mean(360..390) > 2.0 * mean(180..210), "so is the close");
        // Same arguments, same bars.
        assert_eq!(generate(&spec, &NoProgress), t);
        let hourly = SynthSpec {
            interval: Interval::Hour1,
            ..spec.clone()
        };
        assert_eq!(hourly.bars_per_day(), Some(7));
        let bad = SynthSpec {
            interval: Interval::Hour4,
            ..spec
        };
        assert!(bad.check(&ImportLimits::default()).is_err());
    }
}
