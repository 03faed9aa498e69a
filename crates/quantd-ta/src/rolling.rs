//! Rolling extremes: the highest ([`max`]) and lowest ([`min`]) value over a window that ends at
//! (and includes) the current bar, in O(n) whatever the period and without allocating.
//!
//! The algorithm is van Herk / Gil-Werman: cut the series into blocks of `period` bars; a window
//! then spans the tail of one block and the head of the next, so its extreme is the extreme of a
//! block suffix and a block prefix. Prefixes are written into `out` and suffixes are carried in a
//! register while the block is walked backwards, so `out` is the only memory used. About three
//! comparisons per bar, no data-dependent branches.
//!
//! The same walk over two series at once (`rolling_hl_map`) gives the highest high and the lowest
//! low that the stochastic and Williams' %R need.

use crate::common::{fmax, fmin, skip_leading_nan, warm_up};
use crate::error::{Result, check_lengths, check_period};

/// Bars of warm-up before the first [`max`] value: `period - 1` (TA-Lib's `TA_MAX_Lookback`).
pub const fn lookback_max(period: usize) -> usize {
    period.saturating_sub(1)
}

/// Bars of warm-up before the first [`min`] value: `period - 1` (TA-Lib's `TA_MIN_Lookback`).
pub const fn lookback_min(period: usize) -> usize {
    period.saturating_sub(1)
}

/// Rolling maximum, TA-Lib `MAX`: `out[i] = max(x[i-period+1..=i])`, the current bar included.
///
/// O(n) for any period (van Herk / Gil-Werman, see the module docs); allocation-free. Warm-up: the
/// first [`lookback_max`]`(period) = period - 1` values are `NaN` (after any leading `NaN`s of `x`).
/// `period` must be at least 2, as in TA-Lib.
pub fn max(x: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("max", "period", period, 2)?;
    check_lengths("max", ("x", x.len()), &[("out", out.len())])?;
    let start = skip_leading_nan(&[x], out);
    rolling_extreme(
        &x[start..],
        period,
        &mut out[start..],
        fmax,
        f64::NEG_INFINITY,
    );
    Ok(())
}

/// Rolling minimum, TA-Lib `MIN`: `out[i] = min(x[i-period+1..=i])`, the current bar included.
///
/// O(n) for any period; allocation-free. Warm-up: the first [`lookback_min`]`(period) = period - 1`
/// values are `NaN` (after any leading `NaN`s of `x`). `period` must be at least 2, as in TA-Lib.
pub fn min(x: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("min", "period", period, 2)?;
    check_lengths("min", ("x", x.len()), &[("out", out.len())])?;
    let start = skip_leading_nan(&[x], out);
    rolling_extreme(&x[start..], period, &mut out[start..], fmin, f64::INFINITY);
    Ok(())
}

/// The rolling extreme proper: `pick` chooses the preferred of two values and `identity` is the
/// value `pick` never prefers. `period >= 1`; `x` and `out` have the same length.
fn rolling_extreme(
    x: &[f64],
    period: usize,
    out: &mut [f64],
    pick: impl Fn(f64, f64) -> f64 + Copy,
    identity: f64,
) {
    let n = x.len();
    let lookback = period - 1;
    if !warm_up(out, lookback) {
        return;
    }
    if period == 1 {
        out.copy_from_slice(x);
        return;
    }
    // Blocks [b*p, b*p+p). The window ending at i (i >= p) starts at j = i+1-p, in block b-1 when i
    // is in block b; the windows ending in block b are done in one backward walk over block b-1.
    for b in (1..=(n - 1) / period).rev() {
        let start = b * period;
        let end = (start + period).min(n);
        // Prefix extremes of block b.
        let mut acc = identity;
        for (o, &v) in out[start..end].iter_mut().zip(&x[start..end]) {
            acc = pick(v, acc);
            *o = acc;
        }
        // A full block's last window is the block itself: its prefix extreme is already the answer.
        let top = if end == start + period { end - 1 } else { end };
        // Suffix extremes of block b-1, from its end down to j = top-p+1 (exclusive of the first j).
        let j0 = top - period;
        let mut suffix = identity;
        for &v in &x[j0 + 1..start] {
            suffix = pick(v, suffix);
        }
        for (o, &v) in out[start..top]
            .iter_mut()
            .rev()
            .zip(x[start + 1 - period..=j0].iter().rev())
        {
            suffix = pick(v, suffix);
            *o = pick(suffix, *o);
        }
    }
    // Block 0's only full window is the block itself.
    out[lookback] = x[..period].iter().fold(identity, |acc, &v| pick(v, acc));
    out[..lookback].fill(f64::NAN);
}

/// Calls `f(i, highest, lowest)` for every bar `i >= period - 1`, where `highest` is the maximum of
/// `high[i-period+1..=i]` and `lowest` the minimum of `low[i-period+1..=i]`, and stores the result
/// in `out[i]`. `out[..period-1]` is left with scratch values: the caller overwrites it. The calls
/// come in no particular order. O(n), allocation-free: the scratch lives in `out`.
///
/// `high`, `low` and `out` have the same length; `period >= 1`.
pub(crate) fn rolling_hl_map(
    high: &[f64],
    low: &[f64],
    period: usize,
    out: &mut [f64],
    mut f: impl FnMut(usize, f64, f64) -> f64,
) {
    let n = out.len();
    if n < period {
        return;
    }
    if period == 1 {
        for (i, o) in out.iter_mut().enumerate() {
            *o = f(i, high[i], low[i]);
        }
        return;
    }
    // As in `rolling_extreme`, walking the blocks from the last to the first. The prefix highs of
    // block b go into out[i]; its prefix lows into out[i - p], which lies in block b-1 and is
    // only written for good when block b-1's turn comes.
    for b in (1..=(n - 1) / period).rev() {
        let start = b * period;
        let end = (start + period).min(n);
        {
            let (head, tail) = out.split_at_mut(start);
            let mut ph = f64::NEG_INFINITY;
            let mut pl = f64::INFINITY;
            for (((oh, ol), &h), &l) in tail[..end - start]
                .iter_mut()
                .zip(&mut head[start - period..end - period])
                .zip(&high[start..end])
                .zip(&low[start..end])
            {
                ph = fmax(h, ph);
                pl = fmin(l, pl);
                *oh = ph;
                *ol = pl;
            }
        }
        let top = if end == start + period {
            let i = end - 1;
            out[i] = f(i, out[i], out[i - period]);
            end - 1
        } else {
            end
        };
        let j0 = top - period;
        let mut sh = f64::NEG_INFINITY;
        let mut sl = f64::INFINITY;
        for j in j0 + 1..start {
            sh = fmax(high[j], sh);
            sl = fmin(low[j], sl);
        }
        for i in (start..top).rev() {
            let j = i + 1 - period;
            sh = fmax(high[j], sh);
            sl = fmin(low[j], sl);
            let hh = fmax(sh, out[i]);
            let ll = fmin(sl, out[i - period]);
            out[i] = f(i, hh, ll);
        }
    }
    let hh = high[..period]
        .iter()
        .fold(f64::NEG_INFINITY, |a, &v| fmax(v, a));
    let ll = low[..period].iter().fold(f64::INFINITY, |a, &v| fmin(v, a));
    out[period - 1] = f(period - 1, hh, ll);
}
