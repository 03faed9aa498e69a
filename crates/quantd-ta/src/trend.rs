//! Trend strength: Wilder's average directional index ([`adx`]).

use crate::common::{is_zero, skip_leading_nan, warm_up};
use crate::error::{Result, check_lengths, check_period};

/// Bars of warm-up before the first [`adx`] value: `2 * period - 1` (TA-Lib's `TA_ADX_Lookback`
/// with its default unstable period of 0).
pub const fn lookback_adx(period: usize) -> usize {
    period.saturating_mul(2).saturating_sub(1)
}

/// Average directional index, TA-Lib `ADX` (Wilder, no rounding, unstable period 0).
///
/// Per bar: `+DM = high - prev_high` if it is positive and larger than `-DM = prev_low - low`
/// (else 0), symmetrically for `-DM`, and the true range `TR`. `+DM`, `-DM` and `TR` are summed
/// over the first `period - 1` changes, then smoothed with `S = S - S/period + today`;
/// `+DI = 100 * +DM/TR`, `-DI = 100 * -DM/TR`, `DX = 100 * |+DI - -DI| / (+DI + -DI)`. The first
/// ADX is the mean of the first `period` DX values; then `ADX = ADX - (ADX - DX) / period`.
/// Where TA-Lib skips a bar (the smoothed TR exactly 0, or `+DI + -DI` within `1e-14` of zero: a
/// flat market) the ADX is carried unchanged, as in TA-Lib.
///
/// Warm-up: the first [`lookback_adx`]`(period) = 2 * period - 1` values are `NaN` (after any leading
/// bar where an input is `NaN`). `period` must be at least 2, as in TA-Lib.
pub fn adx(high: &[f64], low: &[f64], close: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("adx", "period", period, 2)?;
    check_lengths(
        "adx",
        ("high", high.len()),
        &[
            ("low", low.len()),
            ("close", close.len()),
            ("out", out.len()),
        ],
    )?;
    let start = skip_leading_nan(&[high, low, close], out);
    adx_kernel(
        &high[start..],
        &low[start..],
        &close[start..],
        period,
        &mut out[start..],
    );
    Ok(())
}

/// Wilder's directional-movement state, advanced one bar at a time in TA-Lib's order of operations.
struct Directional {
    inv_period: f64,
    prev_high: f64,
    prev_low: f64,
    prev_close: f64,
    minus_dm: f64,
    plus_dm: f64,
    tr: f64,
}

impl Directional {
    /// The bar's `(-DM, +DM, TR)` against the previous bar, and the bar becomes the previous one.
    #[inline(always)]
    fn step(&mut self, high: f64, low: f64, close: f64) -> (f64, f64, f64) {
        let diff_p = high - self.prev_high;
        self.prev_high = high;
        let diff_m = self.prev_low - low;
        self.prev_low = low;
        let (mut minus, mut plus) = (0.0, 0.0);
        if diff_m > 0.0 && diff_p < diff_m {
            minus = diff_m;
        } else if diff_p > 0.0 && diff_p > diff_m {
            plus = diff_p;
        }
        let mut tr = high - low;
        let t = (high - self.prev_close).abs();
        if t > tr {
            tr = t;
        }
        let t = (low - self.prev_close).abs();
        if t > tr {
            tr = t;
        }
        self.prev_close = close;
        (minus, plus, tr)
    }

    /// Wilder-smooths the running sums with one more bar.
    #[inline(always)]
    fn smooth(&mut self, high: f64, low: f64, close: f64) {
        let inv = self.inv_period;
        self.minus_dm -= self.minus_dm * inv;
        self.plus_dm -= self.plus_dm * inv;
        let (minus, plus, tr) = self.step(high, low, close);
        // TA-Lib adds only the non-zero one; adding +0.0 to a non-negative sum changes no bit.
        self.minus_dm += minus;
        self.plus_dm += plus;
        self.tr = self.tr - self.tr * inv + tr;
    }

    /// Today's DX, or `None` where TA-Lib leaves the ADX unchanged.
    #[inline(always)]
    fn dx(&self) -> Option<f64> {
        // The true-range sum only ever adds non-negative terms: TA-Lib tests it exactly (and a
        // NaN fails the test, as there).
        let positive = self.tr > 0.0;
        if !positive {
            return None;
        }
        let minus_di = 100.0 * (self.minus_dm / self.tr);
        let plus_di = 100.0 * (self.plus_dm / self.tr);
        let sum = minus_di + plus_di;
        if is_zero(sum) {
            return None;
        }
        Some(100.0 * ((minus_di - plus_di).abs() / sum))
    }
}

fn adx_kernel(high: &[f64], low: &[f64], close: &[f64], period: usize, out: &mut [f64]) {
    let lookback = lookback_adx(period);
    if !warm_up(out, lookback) {
        return;
    }
    let p = period as f64;
    let inv = 1.0 / p;
    let mut s = Directional {
        inv_period: inv,
        prev_high: high[0],
        prev_low: low[0],
        prev_close: close[0],
        minus_dm: 0.0,
        plus_dm: 0.0,
        tr: 0.0,
    };
    // Sum the first period-1 changes.
    for i in 1..period {
        let (minus, plus, tr) = s.step(high[i], low[i], close[i]);
        s.minus_dm += minus;
        s.plus_dm += plus;
        s.tr += tr;
    }
    // The first ADX: the mean of the next `period` DX values.
    let mut sum_dx = 0.0;
    for i in period..=lookback {
        s.smooth(high[i], low[i], close[i]);
        if let Some(dx) = s.dx() {
            sum_dx += dx;
        }
    }
    let mut adx = sum_dx / p;
    out[lookback] = adx;
    let rest = lookback + 1;
    for (((o, &h), &l), &c) in out[rest..]
        .iter_mut()
        .zip(&high[rest..])
        .zip(&low[rest..])
        .zip(&close[rest..])
    {
        s.smooth(h, l, c);
        if let Some(dx) = s.dx() {
            adx -= (adx - dx) * inv;
        }
        *o = adx;
    }
}
