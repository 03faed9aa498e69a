//! Moving averages: simple ([`sma`]), exponential ([`ema`]) and linearly weighted ([`wma`]).
//!
//! Each follows TA-Lib's algorithm operation for operation (running sums, the same order of
//! additions and subtractions), so results agree with TA-Lib to the last bit or nearly so.

use crate::common::{skip_leading_nan, warm_up};
use crate::error::{Result, check_lengths, check_period};

/// Bars of warm-up before the first [`sma`] value: `period - 1` (TA-Lib's `TA_SMA_Lookback`).
pub const fn lookback_sma(period: usize) -> usize {
    period.saturating_sub(1)
}

/// Bars of warm-up before the first [`ema`] value: `period - 1` (TA-Lib's `TA_EMA_Lookback`).
pub const fn lookback_ema(period: usize) -> usize {
    period.saturating_sub(1)
}

/// Bars of warm-up before the first [`wma`] value: `period - 1` (TA-Lib's `TA_WMA_Lookback`).
pub const fn lookback_wma(period: usize) -> usize {
    period.saturating_sub(1)
}

/// Simple moving average, TA-Lib `SMA`: `out[i] = (x[i-period+1] + ... + x[i]) / period`.
///
/// Computed with one running sum (add the new bar, divide, subtract the bar that leaves), as TA-Lib
/// does. Warm-up: the first [`lookback_sma`]`(period) = period - 1` values are `NaN` (after any
/// leading `NaN`s of `x`, which are skipped; see the crate docs). `period` must be at least 1.
pub fn sma(x: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("sma", "period", period, 1)?;
    check_lengths("sma", ("x", x.len()), &[("out", out.len())])?;
    let start = skip_leading_nan(&[x], out);
    sma_kernel(&x[start..], period, &mut out[start..]);
    Ok(())
}

/// The SMA proper on `NaN`-free-at-the-front input; `x` and `out` have the same length.
pub(crate) fn sma_kernel(x: &[f64], period: usize, out: &mut [f64]) {
    let lookback = period - 1;
    if !warm_up(out, lookback) {
        return;
    }
    let p = period as f64;
    let mut total = 0.0;
    for &v in &x[..lookback] {
        total += v;
    }
    for ((o, &new), &old) in out[lookback..].iter_mut().zip(&x[lookback..]).zip(x) {
        total += new;
        let sum = total;
        total -= old;
        *o = sum / p;
    }
}

/// Exponential moving average, TA-Lib `EMA` (default compatibility):
/// `k = 2 / (period + 1)`, the first value is the SMA of the first `period` bars, then
/// `ema[i] = (x[i] - ema[i-1]) * k + ema[i-1]`.
///
/// Warm-up: the first [`lookback_ema`]`(period) = period - 1` values are `NaN` (after any leading
/// `NaN`s of `x`). `period` must be at least 1.
pub fn ema(x: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("ema", "period", period, 1)?;
    check_lengths("ema", ("x", x.len()), &[("out", out.len())])?;
    let start = skip_leading_nan(&[x], out);
    ema_kernel(&x[start..], period, &mut out[start..]);
    Ok(())
}

/// TA-Lib's smoothing factor for a period: `2 / (period + 1)` (its `PER_TO_K`).
#[inline]
pub(crate) fn per_to_k(period: usize) -> f64 {
    2.0 / ((period + 1) as f64)
}

/// The EMA proper; `x` and `out` have the same length.
pub(crate) fn ema_kernel(x: &[f64], period: usize, out: &mut [f64]) {
    let lookback = period - 1;
    if !warm_up(out, lookback) {
        return;
    }
    let k = per_to_k(period);
    let mut sum = 0.0;
    for &v in &x[..period] {
        sum += v;
    }
    let mut prev = sum / period as f64;
    out[lookback] = prev;
    for (o, &v) in out[period..].iter_mut().zip(&x[period..]) {
        prev = (v - prev) * k + prev;
        *o = prev;
    }
}

/// Linearly weighted moving average, TA-Lib `WMA`: weights `1..=period`, the newest bar weighs most,
/// `out[i] = (1*x[i-period+1] + 2*x[i-period+2] + ... + period*x[i]) / (period*(period+1)/2)`.
///
/// Computed in O(1) per bar with TA-Lib's two running sums. Warm-up: the first
/// [`lookback_wma`]`(period) = period - 1` values are `NaN` (after any leading `NaN`s of `x`).
/// `period` must be at least 1.
pub fn wma(x: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("wma", "period", period, 1)?;
    check_lengths("wma", ("x", x.len()), &[("out", out.len())])?;
    let start = skip_leading_nan(&[x], out);
    wma_kernel(&x[start..], period, &mut out[start..]);
    Ok(())
}

fn wma_kernel(x: &[f64], period: usize, out: &mut [f64]) {
    let lookback = period - 1;
    if !warm_up(out, lookback) {
        return;
    }
    if period == 1 {
        out.copy_from_slice(x);
        return;
    }
    let divider = (period * (period + 1) / 2) as f64;
    let p = period as f64;
    let mut sub = 0.0;
    let mut sum = 0.0;
    for (i, &v) in x[..lookback].iter().enumerate() {
        sub += v;
        sum += v * (i + 1) as f64;
    }
    // `trailing` lags one bar behind the window start, as in TA-Lib (it is 0 on the first bar).
    let mut trailing = 0.0;
    for ((o, &new), &old) in out[lookback..].iter_mut().zip(&x[lookback..]).zip(x) {
        sub += new;
        sub -= trailing;
        sum += new * p;
        trailing = old;
        *o = sum / divider;
        sum -= sub;
    }
}
