//! The cut method over one ticker, for checkers that run natively (expression code): the same
//! method as `python/quantd/lookahead.py` runs in the sandbox. Run the code on the whole history
//! (twice: two runs that differ make the check inconclusive), then on the bars cut just after
//! each cut point — every bar where a signal fired and sampled other bars, the first and last
//! possible cut included — and compare every output row up to the cut; at the first cut that
//! differs, run the cuts just before it one by one for the first that differs, and bisect how
//! far ahead its first bar looks; when no cut differs, perturb the bars after a few points and compare the rows before.

use super::{Difference, TickerCheck};
use serde_json::Value;
use std::collections::BTreeSet;

/// Relative and absolute tolerance of indicator values (as numpy's `isclose`).
const RTOL: f64 = 1e-9;
const ATOL: f64 = 1e-12;
/// Cuts before the first differing cut point searched one by one, at least.
const LINEAR_GAP: usize = 64;
/// Points (as fractions of the history) after which bars are perturbed.
const PERTURB_AT: [f64; 3] = [0.25, 0.5, 0.75];
/// What perturbed prices are multiplied by (volume by its square).
pub const FACTOR: f64 = 50.0;

/// One output column of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// A signal column.
    Flags(Vec<bool>),
    /// An indicator column.
    Numbers(Vec<f64>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Flags(v) => v.len(),
            Column::Numbers(v) => v.len(),
        }
    }

    /// The first row below `upto` where `self` (a cut's) differs from `full`.
    fn first_difference(&self, full: &Column, upto: usize) -> Option<usize> {
        match (self, full) {
            (Column::Flags(a), Column::Flags(b)) => (0..upto).find(|&i| a[i] != b[i]),
            (Column::Numbers(a), Column::Numbers(b)) => (0..upto).find(|&i| !close(a[i], b[i])),
            _ => Some(0),
        }
    }

    /// A cell as JSON (non-finite numbers as `"NaN"`, `"inf"`, `"-inf"`).
    fn value(&self, row: usize) -> Value {
        match self {
            Column::Flags(v) => v.get(row).map_or(Value::Null, |&b| Value::Bool(b)),
            Column::Numbers(v) => v.get(row).map_or(Value::Null, |&x| number(x)),
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= ATOL + RTOL * b.abs()
}

/// A number as a report holds it.
pub fn number(x: f64) -> Value {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

/// A run's outputs, by name, in output order.
pub type Outputs = Vec<(String, Column)>;

/// The first row below `upto` where `part` differs from `full`, with its column.
fn first_difference(full: &Outputs, part: &Outputs, upto: usize) -> Option<(usize, String)> {
    let mut best: Option<(usize, String)> = None;
    for (name, f) in full {
        let row = match part.iter().find(|(n, _)| n == name) {
            Some((_, p)) if p.len() >= upto && f.len() >= upto => p.first_difference(f, upto),
            _ => Some(0),
        };
        if let Some(row) = row
            && best.as_ref().is_none_or(|b| row < b.0)
        {
            best = Some((row, name.clone()));
        }
    }
    best
}

fn value(outputs: &Outputs, column: &str, row: usize) -> Value {
    outputs
        .iter()
        .find(|(n, _)| n == column)
        .map_or(Value::Null, |(_, c)| c.value(row))
}

/// What one run of the code sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// The bars up to and including this one.
    Prefix(usize),
    /// Every bar, prices after this one multiplied by [`FACTOR`] (volume by its square).
    PerturbedAfter(usize),
}

/// How a ticker is cut.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Cut points per ticker (about).
    pub cuts: u32,
    /// Bars a cut leaves at least.
    pub min_bars: u32,
    /// Seed of the sampled cut points.
    pub seed: u64,
}

/// The checker of one ticker of `bars` bars: `run` runs the code, `date` names a row.
pub struct Cutter<'a, R: FnMut(Run) -> Outputs> {
    name: &'a str,
    bars: usize,
    settings: Settings,
    run: R,
    date: &'a dyn Fn(usize) -> String,
    runs: u64,
}

impl<'a, R: FnMut(Run) -> Outputs> Cutter<'a, R> {
    /// A checker of ticker `name`.
    pub fn new(
        name: &'a str,
        bars: usize,
        settings: Settings,
        run: R,
        date: &'a dyn Fn(usize) -> String,
    ) -> Self {
        Cutter {
            name,
            bars,
            settings,
            run,
            date,
            runs: 0,
        }
    }

    fn call(&mut self, r: Run) -> Outputs {
        self.runs += 1;
        (self.run)(r)
    }

    fn differs(&mut self, full: &Outputs, c: usize) -> Option<Outputs> {
        let part = self.call(Run::Prefix(c));
        first_difference(full, &part, c + 1).map(|_| part)
    }

    /// Checks the ticker.
    pub fn check(mut self) -> TickerCheck {
        let start = std::time::Instant::now();
        let n = self.bars;
        let mut out = TickerCheck {
            ticker: self.name.to_string(),
            bars: n as u64,
            cuts: 0,
            signal_bars: 0,
            signal_cuts: 0,
            perturbations: 0,
            runs: 0,
            errors: 0,
            error: None,
            skipped: None,
            nondeterministic: None,
            difference: None,
            seconds: 0.0,
        };
        self.inspect(&mut out);
        out.runs = self.runs;
        out.seconds = start.elapsed().as_secs_f64();
        out
    }

    fn inspect(&mut self, out: &mut TickerCheck) {
        let n = self.bars;
        let last = n.saturating_sub(1);
        let full = self.call(Run::Prefix(last));
        let again = self.call(Run::Prefix(last));
        if let Some((row, column)) = first_difference(&full, &again, n) {
            out.nondeterministic =
                Some(self.difference(&full, &again, row, column, row, "second run", None));
            return;
        }
        let (points, signal_bars, signals) = self.cut_points(&full);
        out.signal_bars = signal_bars;
        if points.is_empty() {
            out.skipped = Some(format!(
                "fewer than {} bars: no cut leaves {}",
                self.settings.min_bars + 1,
                self.settings.min_bars
            ));
            return;
        }
        for c in points {
            out.cuts += 1;
            out.signal_cuts += u64::from(signals.contains(&c));
            if self.differs(&full, c).is_none() {
                continue;
            }
            let (first, part) = self.first_cut(&full, c);
            let (row, column) = first_difference(&full, &part, first + 1).expect("the cut differs");
            let ahead = self.ahead(&full, row, first);
            out.difference =
                Some(self.difference(&full, &part, row, column, first, "prefix", Some(ahead)));
            return;
        }
        for f in PERTURB_AT {
            let t = (f * n as f64) as usize;
            if (t as isize) < self.lowest_cut() || t + 1 >= n {
                continue;
            }
            out.perturbations += 1;
            let part = self.call(Run::PerturbedAfter(t));
            if let Some((row, column)) = first_difference(&full, &part, t + 1) {
                out.difference =
                    Some(self.difference(&full, &part, row, column, t, "perturbation", None));
                return;
            }
        }
    }

    fn lowest_cut(&self) -> isize {
        self.settings.min_bars.max(1) as isize - 1
    }

    #[allow(clippy::too_many_arguments)]
    fn difference(
        &self,
        full: &Outputs,
        part: &Outputs,
        row: usize,
        column: String,
        cut_at: usize,
        found_by: &str,
        ahead: Option<u64>,
    ) -> Difference {
        Difference {
            row: row as u64,
            date: (self.date)(row),
            full: value(full, &column, row),
            cut: value(part, &column, row),
            column,
            cut_at: cut_at as u64,
            cut_date: (self.date)(cut_at),
            found_by: found_by.into(),
            ahead,
        }
    }

    /// The cut points (ascending), the bars where a signal fired, and those of them that are
    /// cut points. Signal bars take up to three quarters of the cuts, the rarest signal
    /// column's first; sampled other bars the rest.
    fn cut_points(&self, full: &Outputs) -> (Vec<usize>, u64, BTreeSet<usize>) {
        let n = self.bars;
        let flags: Vec<&Vec<bool>> = full
            .iter()
            .filter_map(|(_, c)| match c {
                Column::Flags(v) => Some(v),
                Column::Numbers(_) => None,
            })
            .collect();
        let signal_bars = (0..n)
            .filter(|&i| flags.iter().any(|v| v.get(i) == Some(&true)))
            .count() as u64;
        let lo = self.lowest_cut().max(0) as usize;
        if n < 2 || n - 2 < lo {
            return (Vec::new(), signal_bars, BTreeSet::new());
        }
        let hi = n - 2;
        let budget = (self.settings.cuts as usize).max(2);
        let cap = (budget * 3 / 4).max(1);
        let mut by_rarity: Vec<Vec<usize>> = flags
            .iter()
            .map(|v| (lo..=hi).filter(|&i| v[i]).collect())
            .collect();
        by_rarity.sort_by_key(Vec::len);
        let mut chosen = BTreeSet::new();
        for bars in by_rarity {
            let room = cap.saturating_sub(chosen.len());
            if room == 0 {
                break;
            }
            let fresh: Vec<usize> = bars.into_iter().filter(|b| !chosen.contains(b)).collect();
            chosen.extend(spread(&fresh, room));
        }
        let mut pool: Vec<usize> = (lo..=hi).filter(|i| !chosen.contains(i)).collect();
        let k = pool
            .len()
            .min(budget.saturating_sub(chosen.len() + 2).max(budget / 4));
        // A partial Fisher-Yates shuffle, seeded by the settings and the ticker's name.
        let mut rng = SplitMix(self.settings.seed ^ fnv(self.name));
        for i in 0..k {
            let j = i + (rng.next() % (pool.len() - i) as u64) as usize;
            pool.swap(i, j);
        }
        let mut points: Vec<usize> = chosen
            .iter()
            .copied()
            .chain(pool[..k].iter().copied())
            .collect();
        points.extend([lo, hi]);
        points.sort_unstable();
        points.dedup();
        (points, signal_bars, chosen)
    }

    /// The first cut that differs up to `bad` (which does), with its outputs: the cuts just
    /// before `bad` (as many as the cut points, at least [`LINEAR_GAP`]) are run one by one,
    /// clean ones included (an output may differ at an earlier cut and not at a later one).
    fn first_cut(&mut self, full: &Outputs, bad: usize) -> (usize, Outputs) {
        let part = self.call(Run::Prefix(bad));
        let window = LINEAR_GAP.max(self.settings.cuts as usize);
        let start = (self.lowest_cut().max(0) as usize).max(bad.saturating_sub(window));
        for c in start..bad {
            if let Some(p) = self.differs(full, c) {
                return (c, p);
            }
        }
        (bad, part)
    }

    /// The fewest bars after `row` that make its outputs equal the whole history's (the cut at
    /// `c` differs at `row`; the whole history does not).
    fn ahead(&mut self, full: &Outputs, row: usize, c: usize) -> u64 {
        let (mut lo, mut hi) = (c - row, self.bars - 1 - row);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            let part = self.call(Run::Prefix(row + mid));
            let equal = full.iter().all(|(name, f)| {
                part.iter()
                    .find(|(n, _)| n == name)
                    .is_some_and(|(_, p)| p.len() > row && p.equals_at(f, row))
            });
            if equal {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi as u64
    }
}

impl Column {
    /// Whether `self` equals `full` at `row`.
    fn equals_at(&self, full: &Column, row: usize) -> bool {
        match (self, full) {
            (Column::Flags(a), Column::Flags(b)) => a[row] == b[row],
            (Column::Numbers(a), Column::Numbers(b)) => close(a[row], b[row]),
            _ => false,
        }
    }
}

/// At most `k` of `items`, evenly spread (the first and last included).
fn spread(items: &[usize], k: usize) -> Vec<usize> {
    if items.len() <= k {
        return items.to_vec();
    }
    let mut picked: Vec<usize> = (0..k)
        .map(|i| items[((i * (items.len() - 1)) as f64 / (k - 1).max(1) as f64).round() as usize])
        .collect();
    picked.dedup();
    picked
}

/// FNV-1a of a name: the per-ticker part of the sampling seed.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64: a small, seeded, reproducible generator for sampling cut points.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(cuts: u32) -> Settings {
        Settings {
            cuts,
            min_bars: 20,
            seed: 1,
        }
    }

    /// A toy close series and a "code" computing `close > close.shift(k)` (k < 0 reads ahead).
    fn checked(k: isize, bars: usize) -> TickerCheck {
        let close: Vec<f64> = (0..bars)
            .map(|i| 100.0 + ((i * 37 % 11) as f64) - (i % 7) as f64)
            .collect();
        let run = |r: Run| -> Outputs {
            let (len, factor_after) = match r {
                Run::Prefix(c) => (c + 1, usize::MAX),
                Run::PerturbedAfter(t) => (bars, t),
            };
            let px = |i: usize| close[i] * if i > factor_after { FACTOR } else { 1.0 };
            let flags = (0..len)
                .map(|i| {
                    let j = i as isize - k;
                    j >= 0 && (j as usize) < len && px(i) > px(j as usize)
                })
                .collect();
            vec![("signal".into(), Column::Flags(flags))]
        };
        let date = |i: usize| format!("d{i}");
        Cutter::new("T", bars, settings(40), run, &date).check()
    }

    #[test]
    fn a_causal_series_is_clean_and_reading_ahead_is_found_with_its_horizon() {
        let clean = checked(1, 300);
        assert!(clean.difference.is_none(), "{clean:?}");
        assert!(clean.cuts >= 40 && clean.perturbations == 3, "{clean:?}");
        for k in [1usize, 5] {
            let c = checked(-(k as isize), 300);
            let d = c.difference.expect("look-ahead found");
            assert_eq!(d.found_by, "prefix");
            assert_eq!(d.ahead, Some(k as u64), "{d:?}");
            assert!(d.row >= 19 - k as u64 && d.row <= d.cut_at, "{d:?}");
        }
    }

    #[test]
    fn too_short_a_history_is_skipped() {
        let c = checked(1, 15);
        assert!(c.skipped.is_some(), "{c:?}");
        assert_eq!(c.cuts, 0);
    }

    #[test]
    fn values_are_compared_like_numpy_isclose_with_nan_equal() {
        assert!(close(f64::NAN, f64::NAN));
        assert!(!close(f64::NAN, 1.0));
        assert!(close(1.0, 1.0 + 1e-12));
        assert!(!close(1.0, 1.0 + 1e-6));
        assert_eq!(number(f64::INFINITY), Value::from("inf"));
    }
}
