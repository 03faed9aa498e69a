//! A sweep's view: each parameter set with the mean of every statistic over its tickers — the
//! ranking (best first by one statistic) and the heatmap (every set, in grid order).

use super::table::{Cell, Column, ColumnType, Table};
use crate::exec::strategy::SweepResultRow;
use quantd_backtest::{Metric, ParamGrid};
use std::collections::BTreeMap;

/// One parameter set of a sweep and its statistics averaged over tickers.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepCell {
    /// The parameter values, in the grid's name order.
    pub params: Vec<f64>,
    /// The mean of each statistic (in [`Metric::ALL`] order) over the tickers where it is
    /// finite; `NaN` when it is finite for none.
    pub means: Vec<f64>,
    /// Backtests of this set (one per ticker).
    pub backtests: u64,
}

impl SweepCell {
    /// The mean of `metric`.
    pub fn mean(&self, metric: Metric) -> f64 {
        self.means[metric_index(metric)]
    }
}

fn metric_index(metric: Metric) -> usize {
    Metric::ALL
        .iter()
        .position(|&m| m == metric)
        .expect("every metric is in ALL")
}

/// Running sums of one parameter set (sum and count of finite values per statistic).
#[derive(Default)]
struct Sums {
    sum: Vec<f64>,
    finite: Vec<u64>,
    backtests: u64,
}

/// Collects a sweep's rows into its view, chunk by chunk (memory: one entry per parameter set).
#[derive(Default)]
pub struct SweepCollector {
    sums: BTreeMap<u32, Sums>,
    rows: u64,
}

impl SweepCollector {
    /// Adds rows (in stored order, so the sums are the same every time: bit-identical
    /// rankings).
    pub fn add(&mut self, rows: &[SweepResultRow]) {
        for r in rows {
            self.rows += 1;
            let e = self.sums.entry(r.combo).or_insert_with(|| Sums {
                sum: vec![0.0; r.metrics.len()],
                finite: vec![0; r.metrics.len()],
                backtests: 0,
            });
            e.backtests += 1;
            for (k, &v) in r.metrics.iter().enumerate() {
                if v.is_finite() && k < e.sum.len() {
                    e.sum[k] += v;
                    e.finite[k] += 1;
                }
            }
        }
    }

    /// The view, parameter sets in grid order.
    pub fn finish(self, grid: &ParamGrid) -> SweepView {
        let mut values = Vec::new();
        let cells = self
            .sums
            .into_iter()
            .map(|(combo, s)| {
                grid.values_at(u64::from(combo), &mut values);
                SweepCell {
                    params: values.clone(),
                    means: s
                        .sum
                        .iter()
                        .zip(&s.finite)
                        .map(|(&sum, &n)| if n > 0 { sum / n as f64 } else { f64::NAN })
                        .collect(),
                    backtests: s.backtests,
                }
            })
            .collect();
        SweepView {
            names: grid.names().to_vec(),
            backtests: self.rows,
            cells,
        }
    }
}

/// A sweep's results as parameter sets.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepView {
    /// The parameter names.
    pub names: Vec<String>,
    /// Backtests run (parameter sets × tickers).
    pub backtests: u64,
    /// Every parameter set with results, in grid order.
    pub cells: Vec<SweepCell>,
}

impl SweepView {
    /// The `top` sets with a finite mean of `metric`, best first (highest when `maximize`).
    pub fn ranked(&self, metric: Metric, maximize: bool, top: usize) -> Vec<&SweepCell> {
        let mut ranked: Vec<&SweepCell> = self
            .cells
            .iter()
            .filter(|c| c.mean(metric).is_finite())
            .collect();
        ranked.sort_by(|a, b| {
            let (a, b) = (a.mean(metric), b.mean(metric));
            if maximize {
                b.total_cmp(&a)
            } else {
                a.total_cmp(&b)
            }
        });
        ranked.truncate(top);
        ranked
    }

    /// Parameter columns, then `metrics`' means, then the number of backtests.
    fn table_of<'a>(
        &self,
        metrics: &[Metric],
        cells: impl Iterator<Item = &'a SweepCell>,
    ) -> Table {
        let mut columns: Vec<Column> = self
            .names
            .iter()
            .map(|n| Column::new(n.clone(), ColumnType::Float))
            .collect();
        columns.extend(
            metrics
                .iter()
                .map(|m| Column::new(m.name(), ColumnType::Float)),
        );
        columns.push(Column::new("tickers", ColumnType::Int));
        let mut t = Table::new(columns);
        for c in cells {
            let mut row: Vec<Cell> = c.params.iter().map(|&v| Cell::Float(v)).collect();
            row.extend(metrics.iter().map(|&m| Cell::Float(c.mean(m))));
            row.push(c.backtests.into());
            t.push(row);
        }
        t
    }

    /// The heatmap of `metric`: every set in grid order with its mean.
    pub fn heatmap(&self, metric: Metric) -> Table {
        self.table_of(&[metric], self.cells.iter())
    }

    /// The ranking by `metric`: the `top` best sets with their mean.
    pub fn ranking(&self, metric: Metric, maximize: bool, top: usize) -> Table {
        self.table_of(&[metric], self.ranked(metric, maximize, top).into_iter())
    }

    /// Every set with the mean of every statistic (the sweep's result table).
    pub fn table(&self) -> Table {
        self.table_of(Metric::ALL, self.cells.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(combo: u32, ret: f64) -> SweepResultRow {
        let mut metrics = vec![f64::NAN; Metric::ALL.len()];
        metrics[metric_index(Metric::Return)] = ret;
        SweepResultRow {
            ticker: 0,
            combo,
            metrics,
        }
    }

    #[test]
    fn means_skip_failed_backtests_and_rank_both_ways() {
        let grid = ParamGrid::parse(&["fast=1..3:1".to_string()]).unwrap();
        let mut c = SweepCollector::default();
        c.add(&[
            row(0, 1.0),
            row(0, 3.0),
            row(1, 5.0),
            row(1, f64::NAN),
            row(2, -1.0),
        ]);
        let v = c.finish(&grid);
        assert_eq!(v.backtests, 5);
        assert_eq!(v.cells[0].mean(Metric::Return), 2.0);
        assert_eq!(v.cells[1].mean(Metric::Return), 5.0);
        assert_eq!(v.cells[1].backtests, 2);
        let best: Vec<f64> = v
            .ranked(Metric::Return, true, 2)
            .iter()
            .map(|c| c.params[0])
            .collect();
        assert_eq!(best, [2.0, 1.0]);
        let worst = v.ranked(Metric::Return, false, 1);
        assert_eq!(worst[0].params, [3.0]);
        let heat = v.heatmap(Metric::Return);
        assert_eq!(heat.rows.len(), 3);
        assert_eq!(heat.columns[1].name, "Return [%]");
        assert!(
            v.ranked(Metric::SharpeRatio, true, 5).is_empty(),
            "all NaN: nothing to rank"
        );
    }
}
