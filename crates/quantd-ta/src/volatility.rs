//! Volatility: Wilder's average true range ([`atr`], [`natr`]), the population standard deviation
//! ([`stddev`]) and Bollinger bands ([`bbands`]).
//!
//! The standard deviation is TA-Lib's current one: running sums of deviations from a shift that
//! is re-anchored when precision would be lost, so a flat window gives exactly 0 and a finely
//! quoted instrument keeps its real (tiny) deviation.

use crate::average::sma_kernel;
use crate::common::{skip_leading_nan, warm_up};
use crate::error::{Result, check_lengths, check_period};

/// Bars of warm-up before the first [`atr`] value: `period` (TA-Lib's `TA_ATR_Lookback` with its
/// default unstable period of 0).
pub const fn lookback_atr(period: usize) -> usize {
    period
}

/// Bars of warm-up before the first [`natr`] value: `period` (TA-Lib's `TA_NATR_Lookback`).
pub const fn lookback_natr(period: usize) -> usize {
    period
}

/// The true range of bar `i >= 1`: the largest of `high - low`, `|high - prev_close|` and
/// `|low - prev_close|` (TA-Lib's `TRANGE`).
#[inline(always)]
fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
    let mut greatest = high - low;
    let v = (prev_close - high).abs();
    if v > greatest {
        greatest = v;
    }
    let v = (prev_close - low).abs();
    if v > greatest {
        greatest = v;
    }
    greatest
}

/// Runs Wilder's ATR over the bars and hands `(i, atr)` to `emit` for every `i >= period`.
#[inline(always)]
fn wilder_atr(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    mut emit: impl FnMut(usize, f64),
) {
    // TA-Lib's two-coefficient step: beta = (p-1)/p first, alpha = 1 - beta (so that
    // alpha + beta == 1 exactly); no division on the loop-carried chain.
    let beta = (period - 1) as f64 / period as f64;
    let alpha = 1.0 - beta;
    let mut sum = 0.0;
    for i in 1..=period {
        sum += true_range(high[i], low[i], close[i - 1]);
    }
    let mut atr = sum / period as f64;
    emit(period, atr);
    for i in period + 1..close.len() {
        atr = alpha * true_range(high[i], low[i], close[i - 1]) + beta * atr;
        emit(i, atr);
    }
}

/// Average true range, TA-Lib `ATR` (Wilder's smoothing, unstable period 0): the first value is the
/// mean true range of bars `1..=period`, then `atr = tr/period + atr*(period-1)/period`, where `tr` is
/// the largest of `high - low`, `|high - prev_close|`, `|low - prev_close|`.
///
/// Warm-up: the first [`lookback_atr`]`(period) = period` values are `NaN` (after any leading bar
/// where an input is `NaN`). `period` must be at least 1 (period 1 gives the true range itself).
pub fn atr(high: &[f64], low: &[f64], close: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("atr", "period", period, 1)?;
    check_lengths(
        "atr",
        ("high", high.len()),
        &[
            ("low", low.len()),
            ("close", close.len()),
            ("out", out.len()),
        ],
    )?;
    let start = skip_leading_nan(&[high, low, close], out);
    let (high, low, close) = (&high[start..], &low[start..], &close[start..]);
    let out = &mut out[start..];
    if warm_up(out, period) {
        wilder_atr(high, low, close, period, |i, atr| out[i] = atr);
    }
    Ok(())
}

/// Normalized average true range in percent of the close, TA-Lib `NATR`:
/// `out[i] = atr[i] / close[i] * 100`, or 0 when `close[i]` is exactly 0.
///
/// TA-Lib's quirk is kept: for `period == 1` the output is the raw true range, not normalized
/// (TA-Lib documents it as deliberate, a leftover of its old delegation to `TRANGE`).
///
/// Warm-up: the first [`lookback_natr`]`(period) = period` values are `NaN` (after any leading bar
/// where an input is `NaN`). `period` must be at least 1.
pub fn natr(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    out: &mut [f64],
) -> Result<()> {
    check_period("natr", "period", period, 1)?;
    check_lengths(
        "natr",
        ("high", high.len()),
        &[
            ("low", low.len()),
            ("close", close.len()),
            ("out", out.len()),
        ],
    )?;
    let start = skip_leading_nan(&[high, low, close], out);
    let (high, low, close) = (&high[start..], &low[start..], &close[start..]);
    let out = &mut out[start..];
    if warm_up(out, period) {
        if period == 1 {
            wilder_atr(high, low, close, period, |i, atr| out[i] = atr);
        } else {
            wilder_atr(high, low, close, period, |i, atr| {
                let c = close[i];
                out[i] = if c != 0.0 { (atr / c) * 100.0 } else { 0.0 };
            });
        }
    }
    Ok(())
}

/// Bars of warm-up before the first [`stddev`] value: `period - 1` (TA-Lib's `TA_STDDEV_Lookback`).
pub const fn lookback_stddev(period: usize) -> usize {
    period.saturating_sub(1)
}

/// Rolling population standard deviation times `nbdev`, TA-Lib `STDDEV`:
/// `out[i] = sqrt(mean(x²) - mean(x)²) * nbdev` over the last `period` bars, computed without
/// cancellation as TA-Lib does (see the module docs); exactly 0 on a window of equal values.
///
/// Warm-up: the first [`lookback_stddev`]`(period) = period - 1` values are `NaN` (after any leading
/// `NaN`s of `x`). `period` must be at least 2, as in TA-Lib.
pub fn stddev(x: &[f64], period: usize, nbdev: f64, out: &mut [f64]) -> Result<()> {
    check_period("stddev", "period", period, 2)?;
    check_lengths("stddev", ("x", x.len()), &[("out", out.len())])?;
    let start = skip_leading_nan(&[x], out);
    let (x, out) = (&x[start..], &mut out[start..]);
    if warm_up(out, period - 1) {
        rolling_variance(x, period, |i, variance| out[i] = variance.sqrt() * nbdev);
    }
    Ok(())
}

/// TA-Lib's cancellation-free rolling population variance (its `VAR`), handed to `emit(i, var)` for
/// every `i >= period - 1`; `x.len() >= period >= 2`.
///
/// Running sums of the deviations from a shift near the data (not of the raw values), so
/// `E[d²] - E[d]²` never subtracts two quantities of the size of the squared price. The shift is
/// re-anchored to the window mean with a fresh two-pass sum (O(period)) when the variance falls
/// below 1e-6 of `E[d²]`, when a removed deviation dwarfs the remaining sum, or every
/// `32 * period` bars; after such a reseed a variance below 1e-12 of `E[d²]` (a window of equal
/// values, up to the rounding of its mean) is exactly 0. The result is never negative.
pub(crate) fn rolling_variance(x: &[f64], period: usize, mut emit: impl FnMut(usize, f64)) {
    let lookback = period - 1;
    let inv = 1.0 / period as f64;
    let reseed_every = 32 * period;
    let mut shift = x[0];
    let mut sum = 0.0;
    let mut sum_sq = 0.0;
    for &v in &x[..lookback] {
        let d = v - shift;
        sum += d;
        sum_sq += d * d;
    }
    let mut until_reseed = reseed_every;
    for i in lookback..x.len() {
        let trailing = i - lookback;
        let d = x[i] - shift;
        sum += d;
        sum_sq += d * d;
        let mean = sum * inv;
        let mut variance = sum_sq * inv - mean * mean;
        let d = x[trailing] - shift;
        sum -= d;
        let removed = d * d;
        sum_sq -= removed;
        until_reseed -= 1;
        if variance < 0.000001 * (sum_sq * inv) || removed > 1000000.0 * sum_sq || until_reseed == 0
        {
            until_reseed = reseed_every;
            let window = &x[i - lookback..=i];
            let mut total = 0.0;
            for &v in window {
                total += v;
            }
            shift = total * inv;
            sum = 0.0;
            sum_sq = 0.0;
            for &v in window {
                let d = v - shift;
                sum += d;
                sum_sq += d * d;
            }
            let mean = sum * inv;
            variance = sum_sq * inv - mean * mean;
            if variance < 0.000000000001 * (sum_sq * inv) {
                variance = 0.0;
            }
            let d = window[0] - shift;
            sum -= d;
            sum_sq -= d * d;
        }
        emit(i, variance);
    }
}

/// The three output lines of [`bbands`], each as long as the input.
#[derive(Debug)]
pub struct BandsOut<'a> {
    /// `middle + nbdev_up * stddev`.
    pub upper: &'a mut [f64],
    /// The SMA over `period` bars.
    pub middle: &'a mut [f64],
    /// `middle - nbdev_dn * stddev`.
    pub lower: &'a mut [f64],
}

/// Bars of warm-up before the first [`bbands`] values: `period - 1` (TA-Lib's `TA_BBANDS_Lookback`
/// with SMA as the moving average).
pub const fn lookback_bbands(period: usize) -> usize {
    period.saturating_sub(1)
}

/// Bollinger bands, TA-Lib `BBANDS` with `matype = SMA` (0): `middle = SMA(x, period)`,
/// `upper = middle + nbdev_up * sd`, `lower = middle - nbdev_dn * sd`, with `sd` the population
/// standard deviation of the same window, computed as in [`stddev`].
///
/// Warm-up: the first [`lookback_bbands`]`(period) = period - 1` values of all three lines are `NaN`
/// (after any leading `NaN`s of `x`). `period` must be at least 2, as in TA-Lib.
pub fn bbands(
    x: &[f64],
    period: usize,
    nbdev_up: f64,
    nbdev_dn: f64,
    out: BandsOut<'_>,
) -> Result<()> {
    check_period("bbands", "period", period, 2)?;
    check_lengths(
        "bbands",
        ("x", x.len()),
        &[
            ("out.upper", out.upper.len()),
            ("out.middle", out.middle.len()),
            ("out.lower", out.lower.len()),
        ],
    )?;
    let start = skip_leading_nan(&[x], out.middle);
    out.upper[..start].fill(f64::NAN);
    out.lower[..start].fill(f64::NAN);
    let x = &x[start..];
    let (upper, middle, lower) = (
        &mut out.upper[start..],
        &mut out.middle[start..],
        &mut out.lower[start..],
    );
    let lookback = period - 1;
    warm_up(upper, lookback);
    warm_up(lower, lookback);
    sma_kernel(x, period, middle);
    if x.len() <= lookback {
        return Ok(());
    }
    rolling_variance(x, period, |i, variance| {
        let sd = if variance != 0.0 {
            variance.sqrt()
        } else {
            0.0
        };
        upper[i] = middle[i] + sd * nbdev_up;
        lower[i] = middle[i] - sd * nbdev_dn;
    });
    Ok(())
}
