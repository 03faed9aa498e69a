//! The element-wise and bar-shifting kernels the language defines itself (quantd-ta has the
//! indicators). Each fills a whole output column in one loop; constants are never broadcast
//! into memory.

use crate::plan::{Arith, Cmp};

/// A number operand during evaluation: a column or a constant.
#[derive(Clone, Copy, Debug)]
pub(crate) enum View<'a> {
    Col(&'a [f64]),
    Const(f64),
}

impl View<'_> {
    /// The value at bar `i`.
    #[inline]
    pub fn at(&self, i: usize) -> f64 {
        match self {
            View::Col(c) => c[i],
            View::Const(v) => *v,
        }
    }
}

/// A condition operand during evaluation.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BoolView<'a> {
    Col(&'a [bool]),
    Const(bool),
}

#[inline]
pub(crate) fn arith(op: Arith, a: f64, b: f64) -> f64 {
    match op {
        Arith::Add => a + b,
        Arith::Sub => a - b,
        Arith::Mul => a * b,
        Arith::Div => a / b,
        Arith::Min if a.is_nan() || b.is_nan() => f64::NAN,
        Arith::Max if a.is_nan() || b.is_nan() => f64::NAN,
        Arith::Min => a.min(b),
        Arith::Max => a.max(b),
    }
}

/// Comparisons are false when either side is NaN, `!=` included.
#[inline]
pub(crate) fn compare(op: Cmp, a: f64, b: f64) -> bool {
    match op {
        Cmp::Lt => a < b,
        Cmp::Le => a <= b,
        Cmp::Eq => a == b,
        // Not `a != b`, which is true when either side is NaN.
        Cmp::Ne => a != b && !a.is_nan() && !b.is_nan(),
    }
}

/// `out[i] = f(a[i], b[i])`, with a loop specialised for each column/constant combination.
#[inline]
fn zip_with<T: Copy>(out: &mut [T], a: View<'_>, b: View<'_>, f: impl Fn(f64, f64) -> T) {
    match (a, b) {
        (View::Col(a), View::Col(b)) => {
            for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
                *o = f(*x, *y);
            }
        }
        (View::Col(a), View::Const(y)) => {
            for (o, x) in out.iter_mut().zip(a) {
                *o = f(*x, y);
            }
        }
        (View::Const(x), View::Col(b)) => {
            for (o, y) in out.iter_mut().zip(b) {
                *o = f(x, *y);
            }
        }
        (View::Const(x), View::Const(y)) => {
            out.fill(f(x, y));
        }
    }
}

pub(crate) fn arith_into(op: Arith, a: View<'_>, b: View<'_>, out: &mut [f64]) {
    match op {
        Arith::Add => zip_with(out, a, b, |x, y| x + y),
        Arith::Sub => zip_with(out, a, b, |x, y| x - y),
        Arith::Mul => zip_with(out, a, b, |x, y| x * y),
        Arith::Div => zip_with(out, a, b, |x, y| x / y),
        Arith::Min => zip_with(out, a, b, |x, y| arith(Arith::Min, x, y)),
        Arith::Max => zip_with(out, a, b, |x, y| arith(Arith::Max, x, y)),
    }
}

pub(crate) fn compare_into(op: Cmp, a: View<'_>, b: View<'_>, out: &mut [bool]) {
    match op {
        Cmp::Lt => zip_with(out, a, b, |x, y| x < y),
        Cmp::Le => zip_with(out, a, b, |x, y| x <= y),
        Cmp::Eq => zip_with(out, a, b, |x, y| x == y),
        Cmp::Ne => zip_with(out, a, b, |x, y| compare(Cmp::Ne, x, y)),
    }
}

pub(crate) fn map_into(x: View<'_>, out: &mut [f64], f: impl Fn(f64) -> f64) {
    zip_with(out, x, View::Const(0.0), |v, _| f(v));
}

pub(crate) fn logic_into(and: bool, a: BoolView<'_>, b: BoolView<'_>, out: &mut [bool]) {
    let f = |x: bool, y: bool| if and { x & y } else { x | y };
    match (a, b) {
        (BoolView::Col(a), BoolView::Col(b)) => {
            for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
                *o = f(*x, *y);
            }
        }
        (BoolView::Col(a), BoolView::Const(y)) | (BoolView::Const(y), BoolView::Col(a)) => {
            for (o, x) in out.iter_mut().zip(a) {
                *o = f(*x, y);
            }
        }
        (BoolView::Const(x), BoolView::Const(y)) => out.fill(f(x, y)),
    }
}

pub(crate) fn not_into(a: BoolView<'_>, out: &mut [bool]) {
    match a {
        BoolView::Col(a) => {
            for (o, x) in out.iter_mut().zip(a) {
                *o = !*x;
            }
        }
        BoolView::Const(v) => out.fill(!v),
    }
}

/// `out[i] = x[i - n]`, NaN for the first `n` bars.
pub(crate) fn shift_into(x: View<'_>, n: usize, out: &mut [f64]) {
    let len = out.len();
    let n = n.min(len);
    out[..n].fill(f64::NAN);
    match x {
        View::Col(x) => out[n..].copy_from_slice(&x[..len - n]),
        View::Const(v) => out[n..].fill(v),
    }
}

/// `out[i] = x[i - n]`, false for the first `n` bars.
pub(crate) fn shift_bool_into(x: BoolView<'_>, n: usize, out: &mut [bool]) {
    let len = out.len();
    let n = n.min(len);
    out[..n].fill(false);
    match x {
        BoolView::Col(x) => out[n..].copy_from_slice(&x[..len - n]),
        BoolView::Const(v) => out[n..].fill(v),
    }
}

/// `out[i] = x[i] / x[i - n] - 1`, NaN for the first `n` bars (as pandas' `pct_change(n)`).
pub(crate) fn pct_change_into(x: View<'_>, n: usize, out: &mut [f64]) {
    let len = out.len();
    let n = n.min(len);
    out[..n].fill(f64::NAN);
    match x {
        View::Col(x) => {
            for ((o, now), then) in out[n..].iter_mut().zip(&x[n..]).zip(&x[..len - n]) {
                *o = now / then - 1.0;
            }
        }
        View::Const(v) => {
            // `v / v - 1`: 0, unless `v` is 0, infinite or NaN.
            let change = if v.is_finite() && v != 0.0 {
                0.0
            } else {
                f64::NAN
            };
            out[n..].fill(change);
        }
    }
}

/// `crosses_above` (`up`): `a > b` now and `a <= b` on the previous bar; `crosses_below`:
/// `a < b` now and `a >= b` before. False on the first bar and wherever a value is NaN.
pub(crate) fn cross_into(up: bool, a: View<'_>, b: View<'_>, out: &mut [bool]) {
    if out.is_empty() {
        return;
    }
    out[0] = false;
    let (a, b) = if up { (a, b) } else { (b, a) };
    for (i, o) in out.iter_mut().enumerate().skip(1) {
        *o = a.at(i) > b.at(i) && a.at(i - 1) <= b.at(i - 1);
    }
}

/// Up to this many bars, `rising` / `falling` compare against each previous bar in turn
/// (branch-free passes that vectorise); beyond, a monotonic queue keeps the work O(len).
const TREND_DIRECT_MAX: usize = 16;

/// `rising` (`up`): `x[i]` strictly above each of `x[i-n..i]`; `falling`: strictly below.
/// False for the first `n` bars and wherever a value in the window is NaN.
///
/// For large `n`, a monotonic queue of candidate indices (kept in `queue`, which is reused across
/// calls) makes this O(len) whatever `n` is.
pub(crate) fn trend_into(up: bool, x: &[f64], n: usize, out: &mut [bool], queue: &mut Vec<usize>) {
    let len = x.len();
    if n >= len {
        out.fill(false);
        return;
    }
    if n <= TREND_DIRECT_MAX {
        out[..n].fill(false);
        out[n..].fill(true);
        for k in 1..=n {
            let (now, then) = (&x[n..], &x[n - k..len - k]);
            let out = out[n..].iter_mut().zip(now).zip(then);
            // Comparisons with NaN are false, which is the rule for a NaN in the window.
            if up {
                out.for_each(|((o, a), b)| *o &= a > b);
            } else {
                out.for_each(|((o, a), b)| *o &= a < b);
            }
        }
        return;
    }
    queue.clear();
    let mut head = 0;
    // The first bar from which the window [i - n, i] holds no NaN.
    let mut clean_from = 0;
    // `a` dominates `b` when `b` can never again be the window's extreme while `a` is in it.
    let dominates = |a: f64, b: f64| if up { a >= b } else { a <= b };
    for i in 0..x.len() {
        if x[i].is_nan() {
            clean_from = i + 1 + n;
        }
        if i >= 1 {
            let v = x[i - 1];
            if !v.is_nan() {
                while queue.len() > head && dominates(v, x[queue[queue.len() - 1]]) {
                    queue.pop();
                }
                queue.push(i - 1);
            }
        }
        while head < queue.len() && queue[head] + n < i {
            head += 1;
        }
        out[i] = i >= n
            && i >= clean_from
            && head < queue.len()
            && if up {
                x[i] > x[queue[head]]
            } else {
                x[i] < x[queue[head]]
            };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_trend(up: bool, x: &[f64], n: usize) -> Vec<bool> {
        (0..x.len())
            .map(|i| i >= n && (1..=n).all(|k| if up { x[i] > x[i - k] } else { x[i] < x[i - k] }))
            .collect()
    }

    #[test]
    fn trend_matches_naive() {
        let x = [
            1.0,
            2.0,
            2.0,
            3.0,
            f64::NAN,
            4.0,
            5.0,
            6.0,
            1.0,
            0.5,
            0.5,
            7.0,
            8.0,
            3.0,
            2.0,
            1.0,
        ];
        let mut queue = Vec::new();
        for n in 1..6 {
            for up in [true, false] {
                let mut out = vec![true; x.len()];
                trend_into(up, &x, n, &mut out, &mut queue);
                assert_eq!(out, naive_trend(up, &x, n), "up={up} n={n}");
            }
        }
    }

    #[test]
    fn shifts_past_the_end() {
        let mut out = [0.0; 3];
        shift_into(View::Col(&[1.0, 2.0, 3.0]), 5, &mut out);
        assert!(out.iter().all(|v| v.is_nan()));
        pct_change_into(View::Col(&[1.0, 2.0, 3.0]), 1, &mut out);
        assert!(out[0].is_nan());
        assert_eq!(&out[1..], &[1.0, 0.5]);
    }
}
