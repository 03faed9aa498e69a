//! Helpers shared by the kernels: TA-Lib's zero tests and the leading-`NaN` rule.
//!
//! Every public kernel follows the same shape: check the arguments, find the first bar where all
//! inputs are numbers (`start`), fill `out[..start]` with `NaN`, and run the kernel proper on the
//! sub-slices from `start`. That is what TA-Lib's Python wrapper does (its `begidx`), and it is what
//! lets kernels be chained: the `NaN` warm-up of one kernel's output is skipped by the next one.

/// TA-Lib's `TA_EPSILON`: the half-width of the band its `TA_IS_ZERO` treats as zero.
pub(crate) const EPSILON: f64 = 1e-14;

/// TA-Lib's `TA_IS_ZERO(v)`: `v` lies strictly inside `(-EPSILON, EPSILON)`.
#[inline(always)]
pub(crate) fn is_zero(v: f64) -> bool {
    -EPSILON < v && v < EPSILON
}

/// TA-Lib's `TA_IS_ZERO_SCALED(v, scale)`: `|v| <= EPSILON * scale`, a zero test relative to the
/// magnitude of the operands `v` is the difference of (about 90 ulps), so that it means the same
/// for an instrument quoted at 0.0001 as at 10,000.
#[inline(always)]
pub(crate) fn is_zero_scaled(v: f64, scale: f64) -> bool {
    v.abs() <= EPSILON * scale
}

/// `a` if it is greater than `b`, else `b` (one `maxsd`; a `NaN` in `b` is kept, one in `a` is not).
#[inline(always)]
pub(crate) fn fmax(a: f64, b: f64) -> f64 {
    if a > b { a } else { b }
}

/// `a` if it is less than `b`, else `b` (one `minsd`).
#[inline(always)]
pub(crate) fn fmin(a: f64, b: f64) -> f64 {
    if a < b { a } else { b }
}

/// The index of the first bar at which no input is `NaN`, or the common length if there is none.
/// The inputs must have the same length.
#[inline]
pub(crate) fn first_valid(inputs: &[&[f64]]) -> usize {
    let n = inputs.first().map_or(0, |x| x.len());
    (0..n)
        .find(|&i| inputs.iter().all(|x| !x[i].is_nan()))
        .unwrap_or(n)
}

/// Fills `out[..start]` with `NaN` and returns `start`, the first bar the kernel proper sees.
#[inline]
pub(crate) fn skip_leading_nan(inputs: &[&[f64]], out: &mut [f64]) -> usize {
    let start = first_valid(inputs);
    out[..start].fill(f64::NAN);
    start
}

/// Writes `NaN` to the first `lookback` slots of `out` (all of it if it is shorter) and returns
/// whether anything is left to compute.
#[inline]
pub(crate) fn warm_up(out: &mut [f64], lookback: usize) -> bool {
    let n = out.len();
    if n <= lookback {
        out.fill(f64::NAN);
        return false;
    }
    out[..lookback].fill(f64::NAN);
    true
}
