//! Moving averages: simple ([`sma`]), exponential ([`ema`]) and linearly weighted ([`wma`]).
//!
//! Each follows TA-Lib's algorithm (running sums, the same seeding, a division by the period), so
//! results agree with TA-Lib to the last bit or nearly so. EMA and WMA keep TA-Lib's order of
//! operations exactly; SMA groups the additions of its running sum differently, for speed (see
//! [`sma`]).

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
/// Computed with a running window sum divided by `period`, as TA-Lib does: the first sum is added
/// up bar by bar in TA-Lib's order, after that the sum moves by `x[new] - x[old]` per bar, the
/// additions grouped in blocks of bars so that they do not form one long chain. Sums of integers
/// (volumes) are exact, so those averages are TA-Lib's to the bit; others agree with it to within
/// the rounding of a running sum.
///
/// Warm-up: the first [`lookback_sma`]`(period) = period - 1` values are `NaN` (after any leading
/// `NaN`s of `x`, which are skipped; see the crate docs). `period` must be at least 1.
pub fn sma(x: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("sma", "period", period, 1)?;
    check_lengths("sma", ("x", x.len()), &[("out", out.len())])?;
    let start = skip_leading_nan(&[x], out);
    sma_kernel(&x[start..], period, &mut out[start..]);
    Ok(())
}

/// The window sums that [`sma`] divides by `period`: `sma(x, period)[i]` is exactly (to the bit)
/// `sma_sums(x, period)[i] / period as f64`, with the same warm-up and the same `NaN`s.
///
/// For callers that need the average only at some bars (a scanner condition already false
/// elsewhere): the running sum has to be carried over every bar, the division does not.
pub fn sma_sums(x: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("sma_sums", "period", period, 1)?;
    check_lengths("sma_sums", ("x", x.len()), &[("out", out.len())])?;
    let start = skip_leading_nan(&[x], out);
    window_sums::<false>(&x[start..], period, &mut out[start..]);
    Ok(())
}

/// Bars per block of [`sma_kernel`]'s running sum.
const SMA_BLOCK: usize = 16;

/// The SMA proper on `NaN`-free-at-the-front input; `x` and `out` have the same length.
///
/// The window sum `t` moves by `d[i] = x[i + period] - x[i]` per bar. Rather than one addition
/// per bar on `t` (a chain of dependent additions, each waiting for the last), the bars are taken
/// `SMA_BLOCK` at a time: the prefix sums of a block's `d` are formed on their own (they do not
/// depend on `t`, so blocks overlap in the CPU), every output of the block is `t` plus its prefix,
/// and `t` advances once per block. Every output is still a window sum divided by `period` (a
/// division, as in TA-Lib, not a multiplication by `1 / period`). A `NaN` (or an infinity that
/// leaves the window) makes `t` `NaN` for good, as TA-Lib's running sum does.
pub(crate) fn sma_kernel(x: &[f64], period: usize, out: &mut [f64]) {
    window_sums::<true>(x, period, out);
}

/// [`sma_kernel`] (`DIVIDE`), or its window sums before the division by `period`.
#[inline(always)]
fn window_sums<const DIVIDE: bool>(x: &[f64], period: usize, out: &mut [f64]) {
    let lookback = period - 1;
    if !warm_up(out, lookback) {
        return;
    }
    if period == 1 {
        // TA-Lib's running sum is `(0 + x) - x = 0` after every bar, so each value is `x` itself,
        // until a non-finite bar leaves `NaN` in the sum for good.
        let end = x
            .iter()
            .position(|v| !v.is_finite())
            .map_or(x.len(), |i| i + 1);
        out[..end].copy_from_slice(&x[..end]);
        out[end..].fill(f64::NAN);
        return;
    }
    let p = period as f64;
    let scale = |sum: f64| if DIVIDE { sum / p } else { sum };
    let mut total = 0.0;
    for &v in &x[..period] {
        total += v;
    }
    out[lookback] = scale(total);
    // out[period + i] = (total after bar period + i) / p, with d[i] = x[period + i] - x[i].
    let news = &x[period..];
    let olds = &x[..news.len()];
    let mut outs = out[period..].chunks_exact_mut(SMA_BLOCK);
    let mut new_blocks = news.chunks_exact(SMA_BLOCK);
    let mut old_blocks = olds.chunks_exact(SMA_BLOCK);
    for ((o, new), old) in (&mut outs).zip(&mut new_blocks).zip(&mut old_blocks) {
        let mut prefix = [0.0; SMA_BLOCK];
        let mut acc = 0.0;
        for ((s, &n), &o) in prefix.iter_mut().zip(new).zip(old) {
            acc += n - o;
            *s = acc;
        }
        for (o, &s) in o.iter_mut().zip(&prefix) {
            *o = scale(total + s);
        }
        total += acc;
    }
    let tail = outs
        .into_remainder()
        .iter_mut()
        .zip(new_blocks.remainder())
        .zip(old_blocks.remainder());
    for ((o, &new), &old) in tail {
        total += new - old;
        *o = scale(total);
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
