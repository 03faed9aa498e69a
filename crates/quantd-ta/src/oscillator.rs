//! Range oscillators over high, low and close: the stochastic ([`stoch`]), Williams' %R
//! ([`willr`]) and the commodity channel index ([`cci`]).
//!
//! The highest high and lowest low of a window come from [`crate::rolling`]'s O(n) walk. CCI's mean
//! deviation needs the whole window: up to [`CCI_DIRECT_MAX_PERIOD`] it is summed window by
//! window as in TA-Lib (O(period) per bar, with the typical prices kept in the output slice so
//! that nothing is allocated); beyond, order statistics make it O(log n) per bar
//! (`deviation.rs`), in a caller's [`Scratch`].

use crate::average::sma_kernel;
use crate::common::{is_zero_scaled, skip_leading_nan, warm_up};
use crate::deviation::cci_sorted;
use crate::error::{Result, check_lengths, check_period};
use crate::rolling::rolling_hl_map;
use crate::scratch::Scratch;

/// The two output lines of [`stoch`], each as long as the input.
#[derive(Debug)]
pub struct StochOut<'a> {
    /// Slow %K: the SMA over `slowk` bars of fast %K.
    pub k: &'a mut [f64],
    /// Slow %D: the SMA over `slowd` bars of slow %K.
    pub d: &'a mut [f64],
}

/// Bars of warm-up before the first [`stoch`] values: `(fastk - 1) + (slowk - 1) + (slowd - 1)`
/// (TA-Lib's `TA_STOCH_Lookback` with SMA smoothing).
pub const fn lookback_stoch(fastk: usize, slowk: usize, slowd: usize) -> usize {
    fastk
        .saturating_sub(1)
        .saturating_add(slowk.saturating_sub(1))
        .saturating_add(slowd.saturating_sub(1))
}

/// Slow stochastic, TA-Lib `STOCH` with SMA smoothing for both lines (`slowk_matype = slowd_matype
/// = 0`).
///
/// `fastk[i] = (close[i] - LL) / (HH - LL) * 100` where `HH`/`LL` are the highest high and lowest
/// low of the last `fastk` bars; `k = SMA(fastk, slowk)`, `d = SMA(k, slowd)`. A flat window gives
/// a fast %K of 0, as in TA-Lib, which calls a window flat when `|HH - LL| <= 1e-14 * (|HH| + |LL|)`
/// (a range of a few ulps is rounding residue, not a range).
///
/// Warm-up: the first [`lookback_stoch`]`(fastk, slowk, slowd)` values of both lines are `NaN` (after
/// any leading bar where an input is `NaN`), %K included, as in TA-Lib. Each period must be at least
/// 1. Allocation-free: `out.d` serves as scratch for fast %K.
pub fn stoch(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    fastk: usize,
    slowk: usize,
    slowd: usize,
    out: StochOut<'_>,
) -> Result<()> {
    check_period("stoch", "fastk", fastk, 1)?;
    check_period("stoch", "slowk", slowk, 1)?;
    check_period("stoch", "slowd", slowd, 1)?;
    check_lengths(
        "stoch",
        ("high", high.len()),
        &[
            ("low", low.len()),
            ("close", close.len()),
            ("out.k", out.k.len()),
            ("out.d", out.d.len()),
        ],
    )?;
    let start = skip_leading_nan(&[high, low, close], out.k);
    out.d[..start].fill(f64::NAN);
    let (high, low, close) = (&high[start..], &low[start..], &close[start..]);
    let (k, d) = (&mut out.k[start..], &mut out.d[start..]);

    let lookback = lookback_stoch(fastk, slowk, slowd);
    if !warm_up(k, lookback) {
        d.fill(f64::NAN);
        return Ok(());
    }
    // Fast %K into d, slow %K into k, slow %D into d.
    rolling_hl_map(high, low, fastk, d, |i, hh, ll| {
        if is_zero_scaled(hh - ll, hh.abs() + ll.abs()) {
            0.0
        } else {
            ((close[i] - ll) / (hh - ll)) * 100.0
        }
    });
    let fast_first = fastk - 1;
    sma_kernel(&d[fast_first..], slowk, &mut k[fast_first..]);
    let slow_first = fast_first + slowk - 1;
    sma_kernel(&k[slow_first..], slowd, &mut d[slow_first..]);
    k[..lookback].fill(f64::NAN);
    d[..lookback].fill(f64::NAN);
    Ok(())
}

/// Bars of warm-up before the first [`willr`] value: `period - 1` (TA-Lib's `TA_WILLR_Lookback`).
pub const fn lookback_willr(period: usize) -> usize {
    period.saturating_sub(1)
}

/// Williams' %R, TA-Lib `WILLR`: `out[i] = (HH - close[i]) / (HH - LL) * -100`, in `[-100, 0]`,
/// where `HH`/`LL` are the highest high and lowest low of the last `period` bars; 0 on a flat window
/// (`|HH - LL| <= 1e-14 * (|HH| + |LL|)`), as in TA-Lib.
///
/// O(n) for any period, allocation-free. Warm-up: the first [`lookback_willr`]`(period) =
/// period - 1` values are `NaN` (after any leading bar where an input is `NaN`). `period` must be at
/// least 2, as in TA-Lib.
pub fn willr(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    out: &mut [f64],
) -> Result<()> {
    check_period("willr", "period", period, 2)?;
    check_lengths(
        "willr",
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
    if warm_up(out, period - 1) {
        rolling_hl_map(high, low, period, out, |i, hh, ll| {
            if is_zero_scaled(hh - ll, hh.abs() + ll.abs()) {
                0.0
            } else {
                ((hh - close[i]) / (hh - ll)) * -100.0
            }
        });
        out[..period - 1].fill(f64::NAN);
    }
    Ok(())
}

/// Bars of warm-up before the first [`cci`] value: `period - 1` (TA-Lib's `TA_CCI_Lookback`).
pub const fn lookback_cci(period: usize) -> usize {
    period.saturating_sub(1)
}

/// The longest period for which [`cci`] sums each window as TA-Lib does (O(period) per bar, bit
/// for bit TA-Lib's values); longer periods use order statistics (O(log n) per bar).
pub const CCI_DIRECT_MAX_PERIOD: usize = 128;

/// Whether [`cci`] with this period sums each window (O(period) per bar, no scratch) rather than
/// using order statistics (O(log n) per bar, [`crate::CCI_SCRATCH_BYTES_PER_BAR`] of scratch).
pub const fn cci_is_direct(period: usize) -> bool {
    period <= CCI_DIRECT_MAX_PERIOD
}

/// Commodity channel index, TA-Lib `CCI`.
///
/// With the typical price `tp = (high + low + close) / 3`, its mean `m` over the last `period` bars
/// and the mean absolute deviation `md = mean(|tp - m|)` over the same bars:
/// `out[i] = (tp[i] - m) / (0.015 * md)`, or 0 when `tp[i] - m` or `md` is within `1e-14 * |m|` of
/// zero (a flat window, up to rounding), as in TA-Lib.
///
/// Up to [`CCI_DIRECT_MAX_PERIOD`] the sums are taken window by window in TA-Lib's
/// circular-buffer order, so results match it bit for bit (O(period) per bar, allocation-free).
/// Longer periods use order statistics, O(log n) per bar whatever the period, agreeing with
/// TA-Lib to about 1e-13 relative; they need scratch memory, which this function allocates for
/// the call: pass a reused [`Scratch`] to [`cci_with`] to avoid that.
///
/// Warm-up: the first [`lookback_cci`]`(period) = period - 1` values are `NaN` (after any leading
/// bar where an input is `NaN`). `period` must be at least 2, as in TA-Lib.
pub fn cci(high: &[f64], low: &[f64], close: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    cci_with(high, low, close, period, out, &mut Scratch::new())
}

/// [`cci`] with the scratch memory of a long period kept in `scratch` (which grows to the
/// longest series and is reused; a short period does not touch it).
pub fn cci_with(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    out: &mut [f64],
    scratch: &mut Scratch,
) -> Result<()> {
    check_period("cci", "period", period, 2)?;
    check_lengths(
        "cci",
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
    let lookback = period - 1;
    if out.len() <= lookback {
        out.fill(f64::NAN);
        return Ok(());
    }
    if cci_is_direct(period) || out.len() >= u32::MAX as usize {
        cci_direct(high, low, close, period, out);
    } else {
        cci_sorted(high, low, close, period, out, scratch);
    }
    out[..lookback].fill(f64::NAN);
    Ok(())
}

/// TA-Lib's CCI: each window summed in its circular-buffer order. `out.len() > period - 1`.
pub(crate) fn cci_direct(high: &[f64], low: &[f64], close: &[f64], period: usize, out: &mut [f64]) {
    let lookback = period - 1;
    // Typical prices first; then each window is read before its last slot is overwritten, walking
    // backwards so that no later window still needs a slot already turned into a CCI value.
    for (((o, &h), &l), &c) in out.iter_mut().zip(high).zip(low).zip(close) {
        *o = (h + l + c) / 3.0;
    }
    let p = period as f64;
    for i in (lookback..out.len()).rev() {
        let window = &out[i - lookback..=i];
        // TA-Lib keeps the window in a circular buffer whose slot 0 holds the bars at indices
        // multiple of `period`, and sums slot 0 first: the window rotated to start at such a bar.
        let split = (period - (i + 1) % period) % period;
        let (older, newer) = window.split_at(split);
        let mut average = 0.0;
        for &v in newer {
            average += v;
        }
        for &v in older {
            average += v;
        }
        average /= p;
        let mut deviation = 0.0;
        for &v in newer {
            deviation += (v - average).abs();
        }
        for &v in older {
            deviation += (v - average).abs();
        }
        deviation /= p;
        let diff = window[lookback] - average;
        let scale = average.abs();
        out[i] = if is_zero_scaled(diff, scale) || is_zero_scaled(deviation, scale) {
            0.0
        } else {
            diff / (0.015 * deviation)
        };
    }
}
