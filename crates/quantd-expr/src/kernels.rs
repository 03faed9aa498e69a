//! The element-wise and bar-shifting kernels the language defines itself (quantd-ta has the
//! indicators). Each fills a whole output column in one loop; constants are never broadcast
//! into memory.

use crate::plan::{Arith, Cmp, WallClock};

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

pub(crate) fn map_into(x: View<'_>, out: &mut [f64], f: impl Fn(f64) -> f64) {
    zip_with(out, x, View::Const(0.0), |v, _| f(v));
}

/// The hour (`floor(m / 60)`) or the minute (`m mod 60`) of minutes since midnight `m`; NaN
/// stays NaN.
pub(crate) fn wall_clock_into(part: WallClock, minutes: View<'_>, out: &mut [f64]) {
    match part {
        WallClock::Hour => map_into(minutes, out, |m| (m / 60.0).floor()),
        // Not `rem_euclid`, a call to `fmod` per bar; exact for whole minutes.
        WallClock::Minute => map_into(minutes, out, |m| m - (m / 60.0).floor() * 60.0),
    }
}

/// Bars per block of the condition loops: each block is a fixed-size array, which lets the
/// compiler turn a block's comparisons into a few vector compares, packs and one 16-byte `and`.
const BLOCK: usize = 16;

/// Whether a condition is combined into its output with `and` (else `or`).
const AND: bool = true;
const OR: bool = false;

/// `*o &= v` (`A`) or `*o |= v`.
#[inline(always)]
fn merge<const A: bool>(o: &mut bool, v: bool) {
    *o = if A { *o & v } else { *o | v };
}

/// Whether merging anything into block `o` with `and` (`A`) or `or` leaves it as it is: it is
/// all false (all true for `or`). Such blocks are skipped, so a term after a selective one costs
/// little.
#[inline(always)]
fn settled<const A: bool>(o: &[bool; BLOCK]) -> bool {
    let any = o.iter().fold(0u8, |acc, &b| acc | u8::from(b)) != 0;
    let all = o.iter().fold(1u8, |acc, &b| acc & u8::from(b)) != 0;
    if A { !any } else { all }
}

/// `out[i] (&= or |=) f(x[i], y[i])`, block by block.
#[inline(always)]
fn merge2<const A: bool, T: Copy, U: Copy>(
    out: &mut [bool],
    x: &[T],
    y: &[U],
    f: impl Fn(T, U) -> bool,
) {
    let n = out.len();
    let (ob, ot) = out.as_chunks_mut::<BLOCK>();
    let (xb, xt) = x[..n].as_chunks::<BLOCK>();
    let (yb, yt) = y[..n].as_chunks::<BLOCK>();
    for ((o, x), y) in ob.iter_mut().zip(xb).zip(yb) {
        if settled::<A>(o) {
            continue;
        }
        for j in 0..BLOCK {
            merge::<A>(&mut o[j], f(x[j], y[j]));
        }
    }
    for ((o, &x), &y) in ot.iter_mut().zip(xt).zip(yt) {
        merge::<A>(o, f(x, y));
    }
}

/// `out[i] (&= or |=) f(x[i])`, block by block.
#[inline(always)]
fn merge1<const A: bool, T: Copy>(out: &mut [bool], x: &[T], f: impl Fn(T) -> bool) {
    let n = out.len();
    let (ob, ot) = out.as_chunks_mut::<BLOCK>();
    let (xb, xt) = x[..n].as_chunks::<BLOCK>();
    for (o, x) in ob.iter_mut().zip(xb) {
        if settled::<A>(o) {
            continue;
        }
        for j in 0..BLOCK {
            merge::<A>(&mut o[j], f(x[j]));
        }
    }
    for (o, &x) in ot.iter_mut().zip(xt) {
        merge::<A>(o, f(x));
    }
}

/// The comparisons of the condition loops (a constant, if any, is on the right).
const LT: u8 = 0;
const LE: u8 = 1;
const GT: u8 = 2;
const GE: u8 = 3;
const EQ: u8 = 4;
const NE: u8 = 5;

/// Comparison `R`; false when either side is NaN (`NE` included: not `x != y`).
#[inline(always)]
fn rel<const R: u8>(x: f64, y: f64) -> bool {
    match R {
        LT => x < y,
        LE => x <= y,
        GT => x > y,
        GE => x >= y,
        EQ => x == y,
        _ => (x < y) | (x > y),
    }
}

/// `R` with its sides swapped: `x R y` is `y R' x`.
const fn swapped(r: u8) -> u8 {
    match r {
        LT => GT,
        LE => GE,
        GT => LT,
        GE => LE,
        other => other,
    }
}

/// `x * s + t` if the side is affine (`F`), else `x` (a plain column, not touched).
#[inline(always)]
fn value<const F: bool>(x: f64, s: f64, t: f64) -> f64 {
    if F { x * s + t } else { x }
}

/// One loop per combination, each its own small function: the form in which the compiler
/// vectorises it reliably. `A`: and (else or); `R`: the comparison; `FX`, `FY`: affine sides.
#[inline(never)]
fn compare_cols<const A: bool, const R: u8, const FX: bool, const FY: bool>(
    out: &mut [bool],
    (x, sx, tx): (&[f64], f64, f64),
    (y, sy, ty): (&[f64], f64, f64),
) {
    merge2::<A, _, _>(out, x, y, |x, y| {
        rel::<R>(value::<FX>(x, sx, tx), value::<FY>(y, sy, ty))
    });
}

#[inline(never)]
fn compare_const<const A: bool, const R: u8, const FX: bool>(
    out: &mut [bool],
    (x, sx, tx): (&[f64], f64, f64),
    c: f64,
) {
    merge1::<A, _>(out, x, |x| rel::<R>(value::<FX>(x, sx, tx), c));
}

/// A side of a comparison during evaluation: `x * scale + shift` for a column, or a constant.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Side<'a> {
    Affine(&'a [f64], f64, f64),
    Const(f64),
}

/// `out[i] &= a[i] op b[i]` (`and`), or `|=`, on the bars of `out`; false wherever a side is NaN.
pub(crate) fn compare_merge(and: bool, op: Cmp, a: Side<'_>, b: Side<'_>, out: &mut [bool]) {
    let r = match op {
        Cmp::Lt => LT,
        Cmp::Le => LE,
        Cmp::Eq => EQ,
        Cmp::Ne => NE,
    };
    // Put a constant on the right, and a plain column (scale 1, shift 0) on the left.
    let plain = |s: Side<'_>| matches!(s, Side::Affine(_, 1.0, 0.0));
    let (r, a, b) = match (a, b) {
        (Side::Const(x), Side::Const(y)) => {
            fill_merge(and, compare(op, x, y), out);
            return;
        }
        (Side::Const(_), _) => (swapped(r), b, a),
        (_, Side::Affine(..)) if !plain(a) && plain(b) => (swapped(r), b, a),
        _ => (r, a, b),
    };
    let Side::Affine(x, sx, tx) = a else {
        unreachable!("a constant is on the right")
    };
    let x = (x, sx, tx);
    let fx = !plain(a);
    macro_rules! dispatch {
        ($call:ident) => {
            match (and, r) {
                (true, LT) => $call!(true, LT),
                (true, LE) => $call!(true, LE),
                (true, GT) => $call!(true, GT),
                (true, GE) => $call!(true, GE),
                (true, EQ) => $call!(true, EQ),
                (true, _) => $call!(true, NE),
                (false, LT) => $call!(false, LT),
                (false, LE) => $call!(false, LE),
                (false, GT) => $call!(false, GT),
                (false, GE) => $call!(false, GE),
                (false, EQ) => $call!(false, EQ),
                (false, _) => $call!(false, NE),
            }
        };
    }
    match b {
        Side::Affine(y, sy, ty) => {
            let y = (y, sy, ty);
            let fy = !plain(b);
            macro_rules! cols {
                ($a:expr, $r:expr) => {
                    match (fx, fy) {
                        (false, false) => compare_cols::<$a, $r, false, false>(out, x, y),
                        (false, true) => compare_cols::<$a, $r, false, true>(out, x, y),
                        // Both affine (the left one is plain whenever one of them is).
                        _ => compare_cols::<$a, $r, true, true>(out, x, y),
                    }
                };
            }
            dispatch!(cols)
        }
        Side::Const(c) => {
            macro_rules! konst {
                ($a:expr, $r:expr) => {
                    if fx {
                        compare_const::<$a, $r, true>(out, x, c)
                    } else {
                        compare_const::<$a, $r, false>(out, x, c)
                    }
                };
            }
            dispatch!(konst)
        }
    }
}

/// `sums[i] /= p` where a term of an `and` (`and`) or `or` chain can still change `body`: in the
/// blocks that are not settled, and in the bars after the last whole block. These are exactly
/// the values the next [`compare_merge`] on `body` reads (same blocks, same test).
pub(crate) fn divide_undecided(and: bool, body: &[bool], sums: &mut [f64], p: f64) {
    let (ob, _) = body.as_chunks::<BLOCK>();
    let (sb, st) = sums[..body.len()].as_chunks_mut::<BLOCK>();
    for (o, s) in ob.iter().zip(sb) {
        let settled = if and {
            settled::<AND>(o)
        } else {
            settled::<OR>(o)
        };
        if !settled {
            for v in s.iter_mut() {
                *v /= p;
            }
        }
    }
    for v in st {
        *v /= p;
    }
}

/// `out[i] &= a[i]` (`and`) or `out[i] |= a[i]`.
pub(crate) fn bool_merge(and: bool, a: &[bool], out: &mut [bool]) {
    if and {
        merge1::<AND, _>(out, a, |a| a);
    } else {
        merge1::<OR, _>(out, a, |a| a);
    }
}

/// `out[i] &= v` (`and`) or `out[i] |= v`.
pub(crate) fn fill_merge(and: bool, v: bool, out: &mut [bool]) {
    if v != and {
        out.fill(v);
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
pub(crate) const TREND_DIRECT_MAX: usize = 16;

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
    // At most one index per bar; reserved exactly, so the workspace keeps what its cost says.
    queue.reserve_exact(len);
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
