//! The commodity channel index over long periods in O(n log n), whatever the period.
//!
//! CCI needs the mean absolute deviation of the window's typical prices from their mean `m`:
//! `Σ|tp - m| = (S - p·m) + 2·Σ_{tp < m}(m - tp)`, where `S` is the window's sum. The values
//! below `m` are found with order statistics: every typical price of the series is ranked once
//! (a sort), and a Fenwick tree over the ranks holds the count and the sum of the window's
//! values, updated as bars enter and leave it. Per bar: one insertion, one removal, one prefix
//! query (each O(log n)), and the search for `m`'s rank, which starts from the previous bar's.
//!
//! Precision: sums are of deviations from a reference near the data (re-anchored to the window
//! median every `period` bars, when every value is re-inserted), and a tree node that empties is
//! exactly 0 again, so rounding does not build up over the series: results agree with TA-Lib's
//! window-by-window sums to about 1e-13 relative on price data (the TA-Lib conformance test
//! checks a long period; unit tests compare with the direct kernel). Typical prices that are not
//! finite give what TA-Lib's arithmetic gives, as in the direct kernel: `NaN` for a window with a
//! `NaN` (or infinities of both signs); for a window with infinities of one sign, 0 where the
//! bar's own price is finite (the zero test with an infinite scale passes) and `NaN` where it is
//! not. Later windows are not affected.

use crate::common::is_zero_scaled;
use crate::scratch::{NO_RANK, RankNode, Scratch};

/// The order-preserving `u64` of a finite `f64` (`a < b` iff `key(a) < key(b)`, except that
/// `-0.0` sorts just below `0.0`, which changes no sum).
#[inline]
fn key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The value of an order key.
#[inline]
fn value(key: u64) -> f64 {
    if key >> 63 == 1 {
        f64::from_bits(key & !(1 << 63))
    } else {
        f64::from_bits(!key)
    }
}

/// A Fenwick tree over ranks (`tree[1..]`) holding, per node, the count and the sum of the
/// window's values whose rank is in the node's range. A node whose count drops to 0 is set to
/// exactly 0, so removed values leave no rounding behind.
struct Tree<'a>(&'a mut [RankNode]);

impl Tree<'_> {
    fn insert(&mut self, rank: u32, v: f64) {
        let mut k = rank as usize + 1;
        while k < self.0.len() {
            let node = &mut self.0[k];
            node.sum = if node.count == 0 { v } else { node.sum + v };
            node.count += 1;
            k += k & k.wrapping_neg();
        }
    }

    fn remove(&mut self, rank: u32, v: f64) {
        let mut k = rank as usize + 1;
        while k < self.0.len() {
            let node = &mut self.0[k];
            node.count -= 1;
            node.sum = if node.count == 0 { 0.0 } else { node.sum - v };
            k += k & k.wrapping_neg();
        }
    }

    fn clear(&mut self, rank: u32) {
        let mut k = rank as usize + 1;
        while k < self.0.len() {
            self.0[k] = RankNode::default();
            k += k & k.wrapping_neg();
        }
    }

    /// The rank of the window's `k`-th smallest value (from 0); `k` is below the window's count.
    fn kth(&self, mut k: u32) -> usize {
        let len = self.0.len();
        let mut pos = 0;
        let mut step = (len.max(2) - 1).next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next < len && self.0[next].count <= k {
                pos = next;
                k -= self.0[next].count;
            }
            step /= 2;
        }
        pos
    }

    /// Count and sum of the window's values with rank below `end`.
    fn below(&self, end: usize) -> (u32, f64) {
        let (mut count, mut sum) = (0, 0.0);
        let mut k = end;
        while k > 0 {
            let node = self.0[k];
            count += node.count;
            sum += node.sum;
            k &= k - 1;
        }
        (count, sum)
    }
}

/// How many entries of `sorted` have a key below `target`, searched from `hint` outwards
/// (the answer for the previous bar, usually close).
fn rank_of(sorted: &[(u64, u32)], hint: usize, target: u64) -> usize {
    let n = sorted.len();
    let below = |i: usize| sorted[i].0 < target;
    let hint = hint.min(n);
    if hint < n && below(hint) {
        // The answer is above `hint`: gallop up.
        let mut lo = hint + 1;
        let mut step = 1;
        let hi = loop {
            let probe = hint.saturating_add(step);
            if probe >= n || !below(probe) {
                break probe.min(n);
            }
            lo = probe + 1;
            step *= 2;
        };
        lo + sorted[lo..hi].partition_point(|e| e.0 < target)
    } else {
        // The answer is at or below `hint`: gallop down.
        let mut hi = hint;
        let mut step = 1;
        let lo = loop {
            if step > hi {
                break 0;
            }
            let probe = hi - step;
            if below(probe) {
                break probe + 1;
            }
            hi = probe;
            step *= 2;
        };
        lo + sorted[lo..hi].partition_point(|e| e.0 < target)
    }
}

/// A sum with Neumaier's compensation: the window sum `S`, which moves by one value in and one
/// out per bar for the whole series.
#[derive(Clone, Copy, Default)]
struct Compensated {
    sum: f64,
    carry: f64,
}

impl Compensated {
    fn add(&mut self, v: f64) {
        let t = self.sum + v;
        self.carry += if self.sum.abs() >= v.abs() {
            (self.sum - t) + v
        } else {
            (v - t) + self.sum
        };
        self.sum = t;
    }

    fn value(self) -> f64 {
        self.sum + self.carry
    }
}

/// CCI of the bars (no leading `NaN`) with `period > 1`, into `out[period - 1..]` (the caller
/// fills the warm-up). The slices have one length, below `u32::MAX`.
pub(crate) fn cci_sorted(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    out: &mut [f64],
    scratch: &mut Scratch,
) {
    let n = out.len();
    // The typical price, as the direct kernel computes it.
    let tp = |i: usize| (high[i] + low[i] + close[i]) / 3.0;
    let Scratch { sorted, rank, tree } = scratch;
    sorted.clear();
    // Exactly what is needed, so that memory per bar is what callers account for.
    sorted.reserve_exact(n);
    sorted.extend(
        (0..n)
            .map(|i| (i, tp(i)))
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| (key(v), i as u32)),
    );
    sorted.sort_unstable();
    rank.clear();
    rank.reserve_exact(n);
    rank.resize(n, NO_RANK);
    for (r, &(_, i)) in sorted.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    tree.clear();
    tree.reserve_exact(sorted.len() + 1);
    tree.resize(sorted.len() + 1, RankNode::default());
    let mut tree = Tree(tree);

    let p = period as f64;
    let lookback = period - 1;
    // Deviations are taken from `anchor`, near the window's values.
    let mut anchor = (0..n).map(tp).find(|v| v.is_finite()).unwrap_or(0.0);
    let mut sum = Compensated::default();
    let mut odd = NotFinite::default();
    let mut boundary = 0;
    for i in 0..n {
        if i > 0 && i % period == 0 {
            let window = i.saturating_sub(period)..i;
            reanchor(&tp, sorted, rank, &mut tree, window, &mut anchor, &mut sum);
        }
        match rank[i] {
            NO_RANK => odd.count(tp(i), 1),
            r => {
                let v = tp(i) - anchor;
                tree.insert(r, v);
                sum.add(v);
            }
        }
        if i >= period {
            match rank[i - period] {
                NO_RANK => odd.count(tp(i - period), -1),
                r => {
                    let v = tp(i - period) - anchor;
                    tree.remove(r, v);
                    sum.add(-v);
                }
            }
        }
        if i < lookback {
            continue;
        }
        let total = sum.value();
        let mean = total / p;
        let average = anchor + mean;
        if odd.any() || !average.is_finite() {
            // TA-Lib's arithmetic: an infinite mean makes the bar's difference from it pass
            // the zero test (its scale is infinite too) unless the difference is `NaN`.
            out[i] = if odd.nan_mean() || !tp(i).is_finite() {
                f64::NAN
            } else {
                0.0
            };
            continue;
        }
        boundary = rank_of(sorted, boundary, key(average));
        let (count, below) = tree.below(boundary);
        let deviation = ((total - p * mean) + 2.0 * (f64::from(count) * mean - below)) / p;
        let diff = (tp(i) - anchor) - mean;
        let scale = average.abs();
        out[i] = if is_zero_scaled(diff, scale) || is_zero_scaled(deviation, scale) {
            0.0
        } else {
            diff / (0.015 * deviation)
        };
    }
}

/// How many typical prices of the window are `NaN`, `+inf` and `-inf`.
#[derive(Default)]
struct NotFinite {
    nan: isize,
    pos: isize,
    neg: isize,
}

impl NotFinite {
    /// Counts `v` (not finite) in (`by = 1`) or out (`by = -1`) of the window.
    fn count(&mut self, v: f64, by: isize) {
        if v.is_nan() {
            self.nan += by;
        } else if v > 0.0 {
            self.pos += by;
        } else {
            self.neg += by;
        }
    }

    fn any(&self) -> bool {
        self.nan + self.pos + self.neg > 0
    }

    /// Whether the window's mean is `NaN`: a `NaN`, or infinities of both signs.
    fn nan_mean(&self) -> bool {
        self.nan > 0 || (self.pos > 0 && self.neg > 0)
    }
}

/// Moves the anchor to the median of the window `bars` (near most of its values, whatever its
/// outliers) and rebuilds the tree's sums and `sum` from scratch relative to it, so that rounding
/// from earlier bars does not carry on.
fn reanchor(
    tp: &impl Fn(usize) -> f64,
    sorted: &[(u64, u32)],
    rank: &[u32],
    tree: &mut Tree<'_>,
    bars: std::ops::Range<usize>,
    anchor: &mut f64,
    sum: &mut Compensated,
) {
    let (count, _) = tree.below(sorted.len());
    if count == 0 {
        return;
    }
    *anchor = value(sorted[tree.kth(count / 2)].0);
    let finite = bars.filter(|&j| rank[j] != NO_RANK);
    for j in finite.clone() {
        tree.clear(rank[j]);
    }
    *sum = Compensated::default();
    for j in finite {
        let v = tp(j) - *anchor;
        tree.insert(rank[j], v);
        sum.add(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_the_order() {
        let values = [
            -f64::MAX,
            -1e300,
            -2.5,
            -1e-300,
            -0.0,
            0.0,
            1e-300,
            0.3,
            2.5,
            1e300,
            f64::MAX,
        ];
        for w in values.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} {}", w[0], w[1]);
        }
        for v in values {
            assert_eq!(value(key(v)).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn kth_smallest_of_the_window() {
        let mut nodes = vec![RankNode::default(); 11];
        let mut tree = Tree(&mut nodes);
        for r in [7u32, 2, 9, 4] {
            tree.insert(r, 1.0);
        }
        let ranks: Vec<usize> = (0..4).map(|k| tree.kth(k)).collect();
        assert_eq!(ranks, [2, 4, 7, 9]);
        tree.remove(4, 1.0);
        assert_eq!(tree.kth(1), 7);
    }

    #[test]
    fn rank_search_from_any_hint() {
        let sorted: Vec<(u64, u32)> = [1.0, 2.0, 2.0, 3.0, 5.0, 8.0, 8.0, 9.0]
            .iter()
            .map(|&v| (key(v), 0))
            .collect();
        for target in [0.5, 1.0, 2.0, 2.5, 8.0, 8.5, 9.0, 10.0] {
            let want = sorted.iter().filter(|e| value(e.0) < target).count();
            for hint in 0..=sorted.len() + 2 {
                assert_eq!(
                    rank_of(&sorted, hint, key(target)),
                    want,
                    "{target} from {hint}"
                );
            }
        }
        assert_eq!(rank_of(&[], 3, key(1.0)), 0);
    }

    /// A deterministic series: a random walk with ties (prices rounded to `tick`), optionally
    /// with flat stretches, spikes and values that are not numbers.
    fn series(seed: u64, n: usize, tick: f64, odd: bool) -> Vec<f64> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut price = 50.0;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            price *= 1.0 + 0.03 * (uniform() - 0.5);
            let mut v = (price / tick).round() * tick;
            if odd {
                match i % 97 {
                    10..=40 => v = 42.125,
                    50 => v = 1e6,
                    60 => v = f64::NAN,
                    70 if i % 3 == 0 => v = f64::INFINITY,
                    _ => {}
                }
            }
            out.push(v);
        }
        out
    }

    /// The sorted kernel against TA-Lib's window-by-window sums on the same typical prices.
    fn same_as_direct(tp: &[f64], period: usize) {
        let n = tp.len();
        let mut want = vec![0.0; n];
        let mut got = vec![0.0; n];
        let zeros = vec![0.0; n];
        // `(tp + 0 + 0) / 3`, times 3 first: the same typical prices up to one rounding, the
        // same for both kernels.
        let high: Vec<f64> = tp.iter().map(|v| v * 3.0).collect();
        crate::oscillator::cci_direct(&high, &zeros, &zeros, period, &mut want);
        let mut scratch = Scratch::new();
        cci_sorted(&high, &zeros, &zeros, period, &mut got, &mut scratch);
        for i in period - 1..n {
            let (a, b) = (got[i], want[i]);
            if a.is_nan() || b.is_nan() {
                assert!(
                    a.is_nan() && b.is_nan(),
                    "bar {i} of {n}, period {period}: {a} vs {b}"
                );
                continue;
            }
            let error = (a - b).abs() / b.abs().max(1.0);
            assert!(error <= 1e-9, "bar {i} of {n}, period {period}: {a} vs {b}");
        }
    }

    #[test]
    fn sorted_kernel_matches_the_direct_one() {
        for (seed, n, tick, odd) in [
            (1, 500, 0.01, false),
            (2, 700, 1.0, false),
            (3, 900, 0.0001, true),
            (4, 300, 0.5, true),
        ] {
            let tp = series(seed, n, tick, odd);
            // Short windows are the direct kernel's; on ordinary data the sorted one agrees
            // there too. (A window of a few bars where a spike is the median is not ordinary:
            // the anchor is then far from the other values, and precision goes with it.)
            let short: &[usize] = if odd { &[] } else { &[2, 3, 5, 14, 20, 63, 64] };
            for &period in short.iter().chain(&[65, 100, 256, 299, 300]) {
                if period <= n {
                    same_as_direct(&tp, period);
                }
            }
        }
    }

    #[test]
    fn flat_windows_are_zero_and_ulp_noise_is_flat() {
        let mut tp = series(5, 800, 0.01, false);
        tp[300..700].fill(17.3);
        let mut rng = 7u64;
        let noise: Vec<f64> = (0..600)
            .map(|_| {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                match rng >> 62 {
                    0 => 0.3f64.next_up(),
                    1 => 0.3f64.next_down(),
                    _ => 0.3,
                }
            })
            .collect();
        for period in [80, 200] {
            same_as_direct(&tp, period);
            same_as_direct(&noise, period);
            let high: Vec<f64> = tp.iter().map(|v| v * 3.0).collect();
            let zeros = vec![0.0; tp.len()];
            let mut out = vec![0.0; tp.len()];
            cci_sorted(&high, &zeros, &zeros, period, &mut out, &mut Scratch::new());
            assert!(out[300 + period..700].iter().all(|&v| v == 0.0));
        }
    }
}
