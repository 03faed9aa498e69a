//! Momentum of one series: [`rsi`], [`macd`], [`roc`] and [`mom`].
//!
//! RSI uses Wilder's smoothing with TA-Lib's defaults (no unstable period, classic rather than
//! Metastock start); MACD reproduces TA-Lib's particular seeding of its two EMAs.

use crate::average::{ema_kernel, per_to_k};
use crate::common::{skip_leading_nan, warm_up};
use crate::error::{Result, check_lengths, check_period};

/// Bars of warm-up before the first [`rsi`] value: `period` (TA-Lib's `TA_RSI_Lookback` with its
/// default unstable period of 0).
pub const fn lookback_rsi(period: usize) -> usize {
    period
}

/// Relative strength index, TA-Lib `RSI` (Wilder's smoothing, TA-Lib defaults: unstable period 0,
/// default compatibility).
///
/// With `d[i] = x[i] - x[i-1]`, the first average gain `G` and loss `L` are the plain means of the
/// gains (`max(d, 0)`) and losses (`max(-d, 0)`) over bars `1..=period`; after that
/// `G = (G*(period-1) + gain) / period`, likewise `L`, and `rsi = 100 * G / (G + L)`, or 0 when
/// `G + L` is exactly 0 (no change at all since the warm-up), as in TA-Lib. (TA-Lib tests the total
/// exactly since its fix for finely quoted instruments, so a long flat stretch keeps the last
/// ratio rather than dropping to 0.)
///
/// The averages are computed as `period` times themselves (which leaves the ratio unchanged) with
/// the smoothing steps regrouped so that they do not form one long chain of dependent operations;
/// values agree with TA-Lib to within a few ulps.
///
/// Warm-up: the first [`lookback_rsi`]`(period) = period` values are `NaN` (after any leading
/// `NaN`s of `x`). `period` must be at least 2, as in TA-Lib.
pub fn rsi(x: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("rsi", "period", period, 2)?;
    check_lengths("rsi", ("x", x.len()), &[("out", out.len())])?;
    let start = skip_leading_nan(&[x], out);
    rsi_kernel(&x[start..], period, &mut out[start..]);
    Ok(())
}

/// Bars per step of [`rsi_kernel`]'s smoothing chain.
const RSI_STEP: usize = 4;
/// Bars whose sums [`rsi_kernel`] keeps before turning them into values, a multiple of `RSI_STEP`.
const RSI_CHUNK: usize = 16 * RSI_STEP;

/// A gain and a loss, smoothed side by side (the compiler keeps the pair in one vector register).
type Pair = [f64; 2];

#[inline(always)]
fn add(a: Pair, b: Pair) -> Pair {
    [a[0] + b[0], a[1] + b[1]]
}

#[inline(always)]
fn mul(a: Pair, b: Pair) -> Pair {
    [a[0] * b[0], a[1] * b[1]]
}

/// The RSI proper; `x` and `out` have the same length.
///
/// Wilder's averages `g = (g*(n-1) + gain) / n` are kept as sums, `G = n*g`, which follow
/// `G = a*G + gain` with `a = (n-1)/n`; the RSI is the same ratio of them, `100 * G / (G + L)`.
/// In a plain loop the chain `G -> a*G + gain` (a multiply, then an add, per bar) sets the pace,
/// so it is taken `RSI_STEP` bars at a time: `G[t+4] = a⁴*G[t] + p4`, where `p1 = gain[t+1]`,
/// `p(k+1) = a*pk + gain[t+k+1]` does not depend on `G`, and the bars in between are
/// `G[t+k] = aᵏ*G[t] + pk`, off the chain. Gains and losses go through this side by side as
/// pairs. A chunk of bars is taken at a time: its gains and losses are worked out first, in a
/// pass that runs two bars per instruction (inside the chain it would run one), then smoothed,
/// and the sums, kept in a small array, are turned into values in one pass, whose divisions are
/// independent of each other. All terms are non-negative, so the regrouping changes results by
/// a few ulps at most, and a sum is exactly 0 only if every gain (or loss) so far was 0.
fn rsi_kernel(x: &[f64], period: usize, out: &mut [f64]) {
    if !warm_up(out, period) {
        return;
    }
    // TA-Lib's branch-free split: `up - d` is exactly the loss for every finite `d`.
    #[inline(always)]
    fn up(d: f64) -> f64 {
        if d > 0.0 { d } else { 0.0 }
    }
    let mut gain = 0.0;
    let mut loss = 0.0;
    let mut prev = x[0];
    for &v in &x[1..=period] {
        let d = v - prev;
        prev = v;
        gain += up(d);
        loss += up(d) - d;
    }
    out[period] = rsi_value(gain, loss);

    let a = (period - 1) as f64 / period as f64;
    let a1 = [a, a];
    let a2 = mul(a1, a1);
    let a3 = mul(a2, a1);
    let a4 = mul(a3, a1);
    let mut sums: Pair = [gain, loss];
    let mut chunk = [[0.0; 2]; RSI_CHUNK];
    let mut gains = [0.0; RSI_CHUNK];
    let mut losses = [0.0; RSI_CHUNK];
    // Bar `period + 1 + i` is `xs[i + 1]`, its change `xs[i + 1] - xs[i]`.
    let xs = &x[period..];
    for (k, out) in out[period + 1..].chunks_mut(RSI_CHUNK).enumerate() {
        let xs = &xs[k * RSI_CHUNK..];
        let n = out.len();
        // The gains and losses of the chunk's bars first, in a loop of their own: it runs two
        // bars per instruction, where inside the chain below it would run one.
        for (((g, l), &now), &before) in gains[..n]
            .iter_mut()
            .zip(&mut losses[..n])
            .zip(&xs[1..=n])
            .zip(&xs[..n])
        {
            let d = now - before;
            *g = up(d);
            *l = up(d) - d;
        }
        // Then the smoothing.
        let steps = n / RSI_STEP;
        for j in 0..steps {
            let i = j * RSI_STEP;
            let u = |k: usize| [gains[i + k], losses[i + k]];
            let [u0, u1, u2, u3] = [u(0), u(1), u(2), u(3)];
            let p1 = add(mul(a1, u0), u1);
            let p2 = add(mul(a1, p1), u2);
            let p3 = add(mul(a1, p2), u3);
            chunk[i] = add(mul(a1, sums), u0);
            chunk[i + 1] = add(mul(a2, sums), p1);
            chunk[i + 2] = add(mul(a3, sums), p2);
            sums = add(mul(a4, sums), p3);
            chunk[i + 3] = sums;
        }
        for i in steps * RSI_STEP..n {
            sums = add(mul(a1, sums), [gains[i], losses[i]]);
            chunk[i] = sums;
        }
        for (o, &[g, l]) in out.iter_mut().zip(&chunk[..n]) {
            *o = rsi_value(g, l);
        }
    }
}

/// `100 * gain / (gain + loss)`, or 0 when the total is exactly 0 (TA-Lib's exact zero test).
/// Written as a select of two computed values, so that a loop of it vectorises.
#[inline(always)]
fn rsi_value(gain: f64, loss: f64) -> f64 {
    let total = gain + loss;
    let value = 100.0 * (gain / total);
    if total > 0.0 { value } else { 0.0 }
}

/// The three output lines of [`macd`], each as long as the input.
#[derive(Debug)]
pub struct MacdOut<'a> {
    /// The MACD line: fast EMA minus slow EMA.
    pub macd: &'a mut [f64],
    /// The signal line: an EMA of the MACD line.
    pub signal: &'a mut [f64],
    /// The histogram: MACD line minus signal line.
    pub hist: &'a mut [f64],
}

/// Bars of warm-up before the first [`macd`] values: `max(fast, slow) - 1 + signal - 1` (TA-Lib's
/// `TA_MACD_Lookback`).
pub const fn lookback_macd(fast: usize, slow: usize, signal: usize) -> usize {
    let slow = if slow < fast { fast } else { slow };
    slow.saturating_sub(1)
        .saturating_add(signal.saturating_sub(1))
}

/// Moving average convergence/divergence, exactly TA-Lib `MACD`.
///
/// `macd = EMA(fast) - EMA(slow)`, `signal = EMA(signal)` of the MACD line, `hist = macd - signal`,
/// with `k = 2 / (period + 1)` for each EMA. TA-Lib's quirks are kept: if `slow < fast` the two are
/// swapped; both EMAs start on the same bar, `slow - 1`, each seeded with the SMA of the `period`
/// bars ending there (so the fast EMA ignores the bars before `slow - fast`); the signal EMA is
/// seeded with the SMA of the first `signal` MACD values.
///
/// Warm-up: the first [`lookback_macd`]`(fast, slow, signal)` values of all three lines are `NaN`
/// (after any leading `NaN`s of `x`), including the MACD line, as in TA-Lib. `fast` and `slow` must
/// be at least 2 and `signal` at least 1, as in TA-Lib.
pub fn macd(x: &[f64], fast: usize, slow: usize, signal: usize, out: MacdOut<'_>) -> Result<()> {
    check_period("macd", "fast", fast, 2)?;
    check_period("macd", "slow", slow, 2)?;
    check_period("macd", "signal", signal, 1)?;
    check_lengths(
        "macd",
        ("x", x.len()),
        &[
            ("out.macd", out.macd.len()),
            ("out.signal", out.signal.len()),
            ("out.hist", out.hist.len()),
        ],
    )?;
    let start = skip_leading_nan(&[x], out.macd);
    out.signal[..start].fill(f64::NAN);
    out.hist[..start].fill(f64::NAN);
    macd_kernel(
        &x[start..],
        fast,
        slow,
        signal,
        &mut out.macd[start..],
        &mut out.signal[start..],
        &mut out.hist[start..],
    );
    Ok(())
}

fn macd_kernel(
    x: &[f64],
    fast: usize,
    slow: usize,
    signal: usize,
    macd: &mut [f64],
    sig: &mut [f64],
    hist: &mut [f64],
) {
    let (fast, slow) = if slow < fast {
        (slow, fast)
    } else {
        (fast, slow)
    };
    let lookback = lookback_macd(fast, slow, signal);
    warm_up(hist, lookback);
    if !warm_up(macd, lookback) {
        sig.fill(f64::NAN);
        return;
    }
    let kf = per_to_k(fast);
    let ks = per_to_k(slow);
    let first = slow - 1;
    let mut sum = 0.0;
    for &v in &x[..slow] {
        sum += v;
    }
    let mut slow_ema = sum / slow as f64;
    sum = 0.0;
    for &v in &x[slow - fast..slow] {
        sum += v;
    }
    let mut fast_ema = sum / fast as f64;
    macd[first] = fast_ema - slow_ema;
    for (o, &v) in macd[slow..].iter_mut().zip(&x[slow..]) {
        slow_ema = (v - slow_ema) * ks + slow_ema;
        fast_ema = (v - fast_ema) * kf + fast_ema;
        *o = fast_ema - slow_ema;
    }
    ema_kernel(&macd[first..], signal, &mut sig[first..]);
    sig[..first].fill(f64::NAN);
    for ((h, &m), &s) in hist[lookback..]
        .iter_mut()
        .zip(&macd[lookback..])
        .zip(&sig[lookback..])
    {
        *h = m - s;
    }
    macd[..lookback].fill(f64::NAN);
}

/// Bars of warm-up before the first [`roc`] value: `period` (TA-Lib's `TA_ROC_Lookback`).
pub const fn lookback_roc(period: usize) -> usize {
    period
}

/// Rate of change in percent, TA-Lib `ROC`: `out[i] = (x[i] / x[i-period] - 1) * 100`, or 0 when
/// `x[i-period]` is exactly 0, as in TA-Lib.
///
/// Warm-up: the first [`lookback_roc`]`(period) = period` values are `NaN` (after any leading
/// `NaN`s of `x`). `period` must be at least 1.
pub fn roc(x: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("roc", "period", period, 1)?;
    check_lengths("roc", ("x", x.len()), &[("out", out.len())])?;
    let start = skip_leading_nan(&[x], out);
    let (x, out) = (&x[start..], &mut out[start..]);
    if warm_up(out, period) {
        for ((o, &now), &then) in out[period..].iter_mut().zip(&x[period..]).zip(x) {
            *o = if then != 0.0 {
                ((now / then) - 1.0) * 100.0
            } else {
                0.0
            };
        }
    }
    Ok(())
}

/// Bars of warm-up before the first [`mom`] value: `period` (TA-Lib's `TA_MOM_Lookback`).
pub const fn lookback_mom(period: usize) -> usize {
    period
}

/// Momentum, TA-Lib `MOM`: `out[i] = x[i] - x[i-period]`.
///
/// Warm-up: the first [`lookback_mom`]`(period) = period` values are `NaN` (after any leading
/// `NaN`s of `x`). `period` must be at least 1.
pub fn mom(x: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("mom", "period", period, 1)?;
    check_lengths("mom", ("x", x.len()), &[("out", out.len())])?;
    let start = skip_leading_nan(&[x], out);
    let (x, out) = (&x[start..], &mut out[start..]);
    if warm_up(out, period) {
        for ((o, &now), &then) in out[period..].iter_mut().zip(&x[period..]).zip(x) {
            *o = now - then;
        }
    }
    Ok(())
}
