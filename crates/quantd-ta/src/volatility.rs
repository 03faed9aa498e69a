//! Volatility: Wilder's average true range ([`atr`], [`natr`]), the population standard deviation
//! ([`stddev`]) and Bollinger bands ([`bbands`]).
//!
//! The standard deviation is TA-Lib's current one: running sums of deviations from a shift that
//! is re-anchored when precision would be lost, so a flat window gives exactly 0 and a finely
//! quoted instrument keeps its real (tiny) deviation. A re-anchoring sums the window again
//! (O(period)); where the data would make it happen on many bars, the total spent on it is
//! bounded (`RESEED_WORK_PER_BAR`) and the kernel finishes with `stable_variance` instead,
//! O(1) per bar on any data.

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
        let budget = RESEED_WORK_PER_BAR.saturating_mul(x.len());
        let done = reseeding_variance(x, period, budget, |i, variance| {
            out[i] = variance.sqrt() * nbdev;
        });
        if done.is_none() {
            stable_variance(x, period, out);
            for v in &mut out[period - 1..] {
                *v = v.sqrt() * nbdev;
            }
            out[..period - 1].fill(f64::NAN);
        }
    }
    Ok(())
}

/// How many window values, per bar of the series, [`reseeding_variance`] may re-sum for
/// re-anchorings that precision asks for (the periodic ones, one per `32 * period` bars, are not
/// counted). Past it, the kernel switches to [`stable_variance`]: so no series makes `stddev` or
/// `bbands` cost more than O(1) per bar (amortized).
pub(crate) const RESEED_WORK_PER_BAR: usize = 2;

/// TA-Lib's cancellation-free rolling population variance (its `VAR`), handed to `emit(i, var)` for
/// every `i >= period - 1`; `x.len() >= period >= 2`. Returns how many values the re-anchorings
/// that precision asked for re-summed, or `None` (having stopped part way) when that would pass
/// `budget`.
///
/// Running sums of the deviations from a shift near the data (not of the raw values), so
/// `E[d²] - E[d]²` never subtracts two quantities of the size of the squared price. The shift is
/// re-anchored to the window mean with a fresh two-pass sum (O(period)) when the variance falls
/// below 1e-6 of `E[d²]`, when a removed deviation dwarfs the remaining sum, or every
/// `32 * period` bars; after such a reseed a variance below 1e-12 of `E[d²]` (a window of equal
/// values, up to the rounding of its mean) is exactly 0. The result is never negative.
pub(crate) fn reseeding_variance(
    x: &[f64],
    period: usize,
    budget: usize,
    mut emit: impl FnMut(usize, f64),
) -> Option<usize> {
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
    // What is left of the budget (one counter: the loop keeps few values in registers).
    let mut allowance = budget;
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
        let imprecise = variance < 0.000001 * (sum_sq * inv) || removed > 1000000.0 * sum_sq;
        if imprecise || until_reseed == 0 {
            if until_reseed != 0 {
                allowance = allowance.checked_sub(period)?;
            }
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
    Some(budget - allowance)
}

/// The rolling population variance of every window of `x` (`x.len() >= period >= 2`) into
/// `out[period - 1..]`, in O(1) per bar on any data, without cancellation; `out` (as long as
/// `x`) is also its scratch, and `out[..period - 1]` is left undefined.
///
/// Blocks of `period` bars: a window ending in block `b` is a suffix of block `b - 1` and a
/// prefix of block `b`. Each is summarised as (count, mean, sum of squared deviations) by
/// Welford's updates, prefixes walking forwards and suffixes backwards, and the two are merged
/// with Chan's formula, `M2 = M2a + M2b + δ²·na·nb / period`: every term is non-negative, so
/// there is nothing to cancel, and a window of equal values is exactly 0. Prefix means are kept
/// in `out[i]` and prefix sums of squares in `out[i - period]` (block `b - 1`, which is finished
/// later: blocks are done from the last to the first).
pub(crate) fn stable_variance(x: &[f64], period: usize, out: &mut [f64]) {
    let n = x.len();
    let inv = 1.0 / period as f64;
    for b in (1..=(n - 1) / period).rev() {
        let start = b * period;
        let end = (start + period).min(n);
        let mut prefix = Welford::default();
        for i in start..end {
            prefix.add(x[i]);
            out[i] = prefix.mean;
            out[i - period] = prefix.m2;
        }
        // The windows ending in this block, from the last: the suffix of block `b - 1` they
        // take grows by one bar at each step.
        let mut suffix = Welford::default();
        for &v in x[end - period..start].iter().rev() {
            suffix.add(v);
        }
        for i in (start..end).rev() {
            if i + 1 < end {
                suffix.add(x[i + 1 - period]);
            }
            let count = (i - start + 1) as f64;
            let (mean, m2) = (out[i], out[i - period]);
            let delta = mean - suffix.mean;
            out[i] = (m2 + suffix.m2 + delta * delta * (count * suffix.count * inv)) * inv;
        }
    }
    // Block 0's only window is itself (done last: the block served as scratch for block 1).
    let mut first = Welford::default();
    for &v in &x[..period] {
        first.add(v);
    }
    out[period - 1] = first.m2 * inv;
}

/// Welford's running count, mean and sum of squared deviations from the mean.
#[derive(Clone, Copy, Default)]
struct Welford {
    count: f64,
    mean: f64,
    m2: f64,
}

impl Welford {
    #[inline(always)]
    fn add(&mut self, v: f64) {
        self.count += 1.0;
        // The reciprocal depends on the count only, so it is worked out off the chain of means
        // (a multiplication on the chain instead of a division: twice as fast).
        let inv = 1.0 / self.count;
        let d = v - self.mean;
        self.mean += d * inv;
        self.m2 += d * (v - self.mean);
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
    // `lower` is the variance's scratch if it needs one: each bar's variance is read there
    // before the band is written over it, and `lower[..lookback]` is filled again below.
    /// The standard deviation of a variance; exactly 0 for 0, as TA-Lib tests it.
    #[inline(always)]
    fn sd(variance: f64) -> f64 {
        if variance != 0.0 {
            variance.sqrt()
        } else {
            0.0
        }
    }
    let budget = RESEED_WORK_PER_BAR.saturating_mul(x.len());
    let done = reseeding_variance(x, period, budget, |i, variance| {
        let sd = sd(variance);
        upper[i] = middle[i] + sd * nbdev_up;
        lower[i] = middle[i] - sd * nbdev_dn;
    });
    if done.is_none() {
        stable_variance(x, period, lower);
        for i in lookback..x.len() {
            let sd = sd(lower[i]);
            upper[i] = middle[i] + sd * nbdev_up;
            lower[i] = middle[i] - sd * nbdev_dn;
        }
        lower[..lookback].fill(f64::NAN);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The population variance of every window, by two passes over it.
    fn two_pass(x: &[f64], period: usize) -> Vec<f64> {
        (period - 1..x.len())
            .map(|i| {
                let w = &x[i + 1 - period..=i];
                let mean = w.iter().sum::<f64>() / period as f64;
                w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / period as f64
            })
            .collect()
    }

    /// Series that make TA-Lib's algorithm re-anchor on many bars, and ordinary ones.
    fn series() -> Vec<(&'static str, Vec<f64>)> {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let n = 3_000;
        let mut walk = Vec::with_capacity(n);
        let mut price = 100.0;
        for _ in 0..n {
            price *= 1.0 + 0.02 * (uniform() - 0.5);
            walk.push(price);
        }
        // A price that falls to its floor of one cent and stays there, with rare cents more
        // (what `data synth` makes of a long decline).
        // Once flat at a level the window mean does not give back exactly, TA-Lib's algorithm
        // re-sums the window on every bar.
        let floor: Vec<f64> = (0..n)
            .map(|i| {
                if i < 200 {
                    5.0 - i as f64 * 0.025
                } else if i % 1_000 == 0 {
                    0.02
                } else {
                    0.01
                }
            })
            .map(|v: f64| ((v * 100.0).round() / 100.0).max(0.01))
            .collect();
        // Spikes far above a level that drifts by less than a rounding step.
        let spikes: Vec<f64> = (0..n)
            .map(|i| {
                if i % 37 == 0 {
                    1e6
                } else {
                    1.0 + i as f64 * 1e-12
                }
            })
            .collect();
        let flat_then_walk: Vec<f64> = (0..n)
            .map(|i| if i < 1_000 { 7.25 } else { walk[i] })
            .collect();
        vec![
            ("walk", walk),
            ("floor", floor),
            ("spikes", spikes),
            ("flat_then_walk", flat_then_walk),
        ]
    }

    #[test]
    fn stable_variance_matches_two_passes() {
        for (name, x) in series() {
            for period in [2, 3, 20, 100, 999, 3_000] {
                let mut out = vec![f64::NAN; x.len()];
                stable_variance(&x, period, &mut out);
                let want = two_pass(&x, period);
                for (i, (&a, &b)) in out[period - 1..].iter().zip(&want).enumerate() {
                    let scale = x[i..i + period].iter().fold(1.0f64, |m, v| m.max(v.abs()));
                    assert!(
                        (a - b).abs() <= 1e-12 * scale * scale && a >= 0.0,
                        "{name} period {period} window {i}: {a} vs {b}"
                    );
                }
            }
        }
        // A window of equal values is exactly 0.
        let x: Vec<f64> = (0..50)
            .map(|i| if (10..40).contains(&i) { 0.1 } else { i as f64 })
            .collect();
        let mut out = vec![0.0; x.len()];
        stable_variance(&x, 7, &mut out);
        assert!(out[16..40].iter().all(|&v| v == 0.0), "{out:?}");
    }

    #[test]
    fn reanchoring_is_bounded_whatever_the_data() {
        for (name, x) in series() {
            for period in [20, 500] {
                // Unbounded, TA-Lib's algorithm re-sums windows on many bars for some series.
                let work = reseeding_variance(&x, period, usize::MAX, |_, _| ()).unwrap();
                if name == "floor" {
                    assert!(work > 10 * x.len(), "{name}: {work}");
                }
                // The kernel never spends more than its budget on it, and its values are the
                // variance either way.
                let mut out = vec![0.0; x.len()];
                stddev(&x, period, 1.0, &mut out).unwrap();
                let want = two_pass(&x, period);
                for (i, (&a, &b)) in out[period - 1..].iter().zip(&want).enumerate() {
                    let scale = x[i..i + period].iter().fold(1.0f64, |m, v| m.max(v.abs()));
                    assert!(
                        (a - b.sqrt()).abs() <= 1e-6 * scale,
                        "{name} period {period} window {i}: {a} vs {}",
                        b.sqrt()
                    );
                }
            }
        }
    }
}
