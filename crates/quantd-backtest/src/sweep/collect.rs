//! Sinks for sweep rows: [`TopN`] keeps the best rows by one statistic in O(N) memory;
//! [`Heatmap`] aggregates one statistic per parameter set across tickers, ready to draw as
//! (parameter values × metric) rows. Both give the same answer whatever order rows arrive in.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use serde::{Deserialize, Serialize};

use crate::stats::Metric;
use crate::sweep::driver::SweepRow;

/// Which way is better.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Larger is better (backtesting.py's `maximize`).
    #[default]
    Maximize,
    /// Smaller is better.
    Minimize,
}

/// A row ranked for [`TopN`]: better compares greater; ties go to the lower (ticker, combo).
struct Ranked {
    key: f64,
    row: SweepRow,
}

impl Ranked {
    fn cmp_better(&self, other: &Self) -> Ordering {
        self.key
            .total_cmp(&other.key)
            .then_with(|| other.row.ticker.cmp(&self.row.ticker))
            .then_with(|| other.row.combo.cmp(&self.row.combo))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp_better(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    /// Reversed, so that the heap's top is the worst row kept.
    fn cmp(&self, other: &Self) -> Ordering {
        other.cmp_better(self)
    }
}

/// The best `n` rows by one metric (rows without a value — failed, or `NaN` — never count).
pub struct TopN {
    metric: Metric,
    goal: Goal,
    n: usize,
    heap: BinaryHeap<Ranked>,
}

impl TopN {
    /// Keeps the `n` best rows by `metric` in the direction of `goal`.
    pub fn new(metric: Metric, goal: Goal, n: usize) -> Self {
        TopN {
            metric,
            goal,
            n,
            heap: BinaryHeap::with_capacity(n + 1),
        }
    }

    /// Offers a row.
    pub fn push(&mut self, row: SweepRow) {
        let Some(v) = row.value(self.metric) else {
            return;
        };
        let key = match self.goal {
            Goal::Maximize => v,
            Goal::Minimize => -v,
        };
        self.heap.push(Ranked { key, row });
        if self.heap.len() > self.n {
            self.heap.pop();
        }
    }

    /// The rows kept, best first.
    pub fn into_sorted(self) -> Vec<SweepRow> {
        // The heap's ordering is "worse first", so ascending order is best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.row)
            .collect()
    }
}

/// How a [`Heatmap`] combines one parameter set's values over tickers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The arithmetic mean.
    #[default]
    Mean,
    /// The median (mean of the middle two for an even count).
    Median,
    /// The largest value (backtesting.py's `plot_heatmaps` default).
    Max,
    /// The smallest value.
    Min,
}

/// One cell of a heatmap: a parameter set and the aggregate of the metric over tickers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeatmapRow {
    /// Index of the parameter set in the grid.
    pub combo: u64,
    /// Its values, in the grid's order.
    pub params: Vec<f64>,
    /// The aggregate (`NaN` if no ticker has a value).
    pub value: f64,
    /// How many tickers had a value.
    pub count: u64,
}

/// One metric per parameter set across tickers. Memory: one entry per parameter set, plus one
/// value per row for [`Aggregate::Mean`] and [`Aggregate::Median`] (kept so the result does
/// not depend on the order rows arrive in).
pub struct Heatmap {
    metric: Metric,
    aggregate: Aggregate,
    cells: BTreeMap<u64, Cell>,
}

struct Cell {
    params: Vec<f64>,
    values: Vec<(usize, f64)>,
    extreme: f64,
    count: u64,
}

impl Heatmap {
    /// A heatmap of `metric` aggregated with `aggregate`.
    pub fn new(metric: Metric, aggregate: Aggregate) -> Self {
        Heatmap {
            metric,
            aggregate,
            cells: BTreeMap::new(),
        }
    }

    /// Adds a row (one without a value still creates its parameter set's cell).
    pub fn push(&mut self, row: &SweepRow) {
        let cell = self.cells.entry(row.combo).or_insert_with(|| Cell {
            params: row.params.clone(),
            values: Vec::new(),
            extreme: f64::NAN,
            count: 0,
        });
        let Some(v) = row.value(self.metric) else {
            return;
        };
        cell.count += 1;
        match self.aggregate {
            Aggregate::Mean | Aggregate::Median => cell.values.push((row.ticker, v)),
            Aggregate::Max => cell.extreme = cell.extreme.max(v),
            Aggregate::Min => cell.extreme = cell.extreme.min(v),
        }
    }

    /// The cells in grid order.
    pub fn rows(&self) -> Vec<HeatmapRow> {
        self.cells
            .iter()
            .map(|(&combo, cell)| {
                let value = match self.aggregate {
                    Aggregate::Max | Aggregate::Min => cell.extreme,
                    Aggregate::Mean => {
                        let mut v = cell.values.clone();
                        v.sort_by_key(|&(t, _)| t);
                        v.iter().map(|&(_, x)| x).sum::<f64>() / v.len() as f64
                    }
                    Aggregate::Median => {
                        let mut v: Vec<f64> = cell.values.iter().map(|&(_, x)| x).collect();
                        v.sort_by(f64::total_cmp);
                        match v.len() {
                            0 => f64::NAN,
                            k if k % 2 == 1 => v[k / 2],
                            k => (v[k / 2 - 1] + v[k / 2]) / 2.0,
                        }
                    }
                };
                HeatmapRow {
                    combo,
                    params: cell.params.clone(),
                    value,
                    count: cell.count,
                }
            })
            .collect()
    }
}
