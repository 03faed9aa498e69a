//! The sweep driver: every (ticker × accepted parameter set) exactly once, each row equal to the
//! single backtest of the same signals, indicator series computed once per ticker, errors per
//! row, early stop, progress, and reductions (top N, heatmap) independent of thread count.

mod common;

use std::ops::ControlFlow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Ohlc, gbm};
use quantd_backtest::sweep::BoxError;
use quantd_backtest::{
    Aggregate, BacktestError, Commission, Config, Goal, Heatmap, Metric, ParamGrid, ParamSet,
    SeriesCache, SignalBuffers, SignalGenerator, Sweep, SweepRow, Ticker, TopN, backtest,
    crossover, from_fn, warmup_of,
};
use quantd_core::progress::Progress;

fn universe(n: usize, bars: usize) -> (Vec<Ohlc>, Vec<String>) {
    let data = (0..n as u64)
        .map(|s| gbm(100 + s, bars, 80.0, 0.02))
        .collect();
    let names = (0..n).map(|i| format!("T{i}")).collect();
    (data, names)
}

fn make_tickers<'a>(data: &'a [Ohlc], names: &'a [String]) -> Vec<Ticker<'a>> {
    data.iter()
        .zip(names)
        .map(|(o, name)| Ticker {
            name,
            bars: o.bars(),
        })
        .collect()
}

fn config() -> Config {
    Config {
        commission: Commission::relative(0.001),
        exclusive_orders: true,
        ..Config::default()
    }
}

/// SMA cross reversal, SMAs from the cache.
fn sma_cross(
    t: &Ticker<'_>,
    p: &ParamSet<'_>,
    cache: &mut SeriesCache,
    out: &mut SignalBuffers,
) -> Result<(), BoxError> {
    let close = t.bars.close();
    let (f, s) = (p.usize("fast", 1)?, p.usize("slow", 1)?);
    let fast = cache.ensure(&[f as u64], |o| quantd_ta::sma(close, f, o))?;
    let slow = cache.ensure(&[s as u64], |o| quantd_ta::sma(close, s, o))?;
    let (fast, slow) = (cache.get(fast), cache.get(slow));
    crossover(fast, slow, &mut out.long_entry);
    crossover(slow, fast, &mut out.short_entry);
    out.warmup = warmup_of(&[fast, slow]);
    Ok(())
}

fn collect(sweep: &Sweep<'_>, generator: &impl SignalGenerator) -> Vec<SweepRow> {
    let mut rows = Vec::new();
    sweep
        .run(generator, |row| {
            rows.push(row);
            ControlFlow::Continue(())
        })
        .unwrap();
    rows.sort_by_key(|r| (r.ticker, r.combo));
    rows
}

fn fast_lt_slow(p: &ParamSet<'_>) -> bool {
    p.get("fast").unwrap() < p.get("slow").unwrap()
}

#[test]
fn every_row_is_the_single_backtest() {
    let (data, names) = universe(3, 400);
    let tickers = make_tickers(&data, &names);
    let grid = ParamGrid::parse(&["fast=5..25:10", "slow=10..30:10"]).unwrap();
    let config = config();
    let sweep = Sweep::new(&tickers, &grid, &config)
        .constraint(&fast_lt_slow)
        .threads(2);
    let rows = collect(&sweep, &from_fn(sma_cross));
    // fast ∈ {5, 15, 25}, slow ∈ {10, 20, 30}: 6 pairs with fast < slow.
    let expected: Vec<(usize, u64)> = (0..3)
        .flat_map(|t| [0u64, 1, 2, 4, 5, 8].map(|c| (t, c)))
        .collect();
    assert_eq!(
        rows.iter().map(|r| (r.ticker, r.combo)).collect::<Vec<_>>(),
        expected
    );
    for row in &rows {
        let bars = tickers[row.ticker].bars;
        let mut sig = SignalBuffers::new();
        sig.reset(bars.len());
        let mut cache = SeriesCache::new(bars.len());
        let params = grid.param_set(&row.params);
        sma_cross(&tickers[row.ticker], &params, &mut cache, &mut sig).unwrap();
        let single = backtest(&bars, &sig.as_signals(), &config).unwrap();
        let got = row.outcome.as_ref().unwrap();
        assert_eq!(
            serde_json::to_string(got).unwrap(),
            serde_json::to_string(&single.stats).unwrap(),
            "{} {params}",
            row.ticker
        );
    }
}

#[test]
fn indicators_are_computed_once_per_ticker() {
    struct Counting(AtomicU64);
    impl SignalGenerator for Counting {
        type Cache = SeriesCache;
        fn cache(&self, _index: usize, t: &Ticker<'_>) -> SeriesCache {
            SeriesCache::new(t.bars.len())
        }
        fn generate(
            &self,
            t: &Ticker<'_>,
            p: &ParamSet<'_>,
            cache: &mut SeriesCache,
            out: &mut SignalBuffers,
        ) -> Result<(), BoxError> {
            cache.begin();
            let close = t.bars.close();
            let mut sma = |n: usize| {
                cache.ensure(&[n as u64], |o| {
                    self.0.fetch_add(1, Ordering::Relaxed);
                    quantd_ta::sma(close, n, o)
                })
            };
            let (f, s) = (sma(p.usize("fast", 1)?)?, sma(p.usize("slow", 1)?)?);
            crossover(cache.get(f), cache.get(s), &mut out.long_entry);
            crossover(cache.get(s), cache.get(f), &mut out.long_exit);
            Ok(())
        }
    }
    let (data, names) = universe(8, 300);
    let tickers = make_tickers(&data, &names);
    let grid = ParamGrid::parse(&["fast=5..50:5", "slow=20..200:20"]).unwrap();
    let config = config();
    let generator = Counting(AtomicU64::new(0));
    let rows = collect(
        &Sweep::new(&tickers, &grid, &config)
            .constraint(&fast_lt_slow)
            .threads(2),
        &generator,
    );
    assert_eq!(rows.len(), 8 * 90);
    // 18 distinct periods (5..50 step 5 and 20..200 step 20 share 20 and 40), per ticker.
    assert_eq!(generator.0.load(Ordering::Relaxed), 8 * 18);
}

#[test]
fn generator_errors_are_rows_and_the_sink_can_stop() {
    let (data, names) = universe(2, 200);
    let tickers = make_tickers(&data, &names);
    let grid = ParamGrid::parse(&["fast=0..10:5", "slow=20"]).unwrap();
    let config = config();
    let sweep = Sweep::new(&tickers, &grid, &config).threads(2);
    let rows = collect(&sweep, &from_fn(sma_cross));
    assert_eq!(rows.len(), 6);
    let failed: Vec<String> = rows
        .iter()
        .filter_map(|r| r.outcome.as_ref().err().map(ToString::to_string))
        .collect();
    assert_eq!(
        failed,
        [
            "signals for T0 with fast=0, slow=20: parameter `fast`: value 0 must be a whole number of at least 1",
            "signals for T1 with fast=0, slow=20: parameter `fast`: value 0 must be a whole number of at least 1",
        ]
    );
    assert!(matches!(
        rows[0].outcome,
        Err(BacktestError::Generator { .. })
    ));

    // A sink that has seen enough stops the sweep.
    let (data, names) = universe(50, 300);
    let tickers = make_tickers(&data, &names);
    let grid = ParamGrid::parse(&["fast=5..50:5", "slow=20..200:20"]).unwrap();
    let mut seen = 0;
    let summary = Sweep::new(&tickers, &grid, &config)
        .threads(2)
        .run(&from_fn(sma_cross), |_| {
            seen += 1;
            if seen == 5 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert!(summary.stopped);
    assert_eq!((summary.delivered, seen), (5, 5));
    assert_eq!(summary.planned, 50 * 100);
}

#[test]
fn progress_counts_every_row() {
    #[derive(Default)]
    struct Count {
        total: AtomicU64,
        done: AtomicU64,
        phases: Mutex<Vec<String>>,
    }
    impl Progress for Count {
        fn phase(&self, name: &str, total: u64) {
            self.phases.lock().unwrap().push(name.to_string());
            self.total.store(total, Ordering::Relaxed);
        }
        fn advance(&self, n: u64) {
            self.done.fetch_add(n, Ordering::Relaxed);
        }
    }
    let (data, names) = universe(4, 200);
    let tickers = make_tickers(&data, &names);
    let grid = ParamGrid::parse(&["fast=5..15:5", "slow=10..30:10"]).unwrap();
    let config = config();
    let progress = Count::default();
    let summary = Sweep::new(&tickers, &grid, &config)
        .constraint(&fast_lt_slow)
        .progress(&progress)
        .run(&from_fn(sma_cross), |_| ControlFlow::Continue(()))
        .unwrap();
    // fast ∈ {5, 10, 15}, slow ∈ {10, 20, 30}: 7 pairs with fast < slow, on 4 tickers.
    assert_eq!(summary.param_sets, 7);
    assert_eq!(progress.total.load(Ordering::Relaxed), 28);
    assert_eq!(progress.done.load(Ordering::Relaxed), 28);
    assert_eq!(*progress.phases.lock().unwrap(), ["sweep"]);
}

#[test]
fn top_n_and_heatmap_do_not_depend_on_threads() {
    let (data, names) = universe(6, 300);
    let tickers = make_tickers(&data, &names);
    let grid = ParamGrid::parse(&["fast=5..30:5", "slow=20..80:20"]).unwrap();
    let config = config();
    let reduce = |threads: usize| {
        let mut top = TopN::new(Metric::SharpeRatio, Goal::Maximize, 5);
        let mut worst = TopN::new(Metric::MaxDrawdown, Goal::Minimize, 3);
        let mut heat = Heatmap::new(Metric::Return, Aggregate::Mean);
        let mut median = Heatmap::new(Metric::Return, Aggregate::Median);
        let mut all = Vec::new();
        Sweep::new(&tickers, &grid, &config)
            .constraint(&fast_lt_slow)
            .threads(threads)
            .run(&from_fn(sma_cross), |row| {
                heat.push(&row);
                median.push(&row);
                all.push(row.clone());
                worst.push(row.clone());
                top.push(row);
                ControlFlow::Continue(())
            })
            .unwrap();
        let key = |r: &SweepRow| (r.ticker, r.combo);
        (
            top.into_sorted().iter().map(key).collect::<Vec<_>>(),
            worst.into_sorted().iter().map(key).collect::<Vec<_>>(),
            heat.rows(),
            median.rows(),
            all,
        )
    };
    let (top1, worst1, heat1, median1, all) = reduce(1);
    let (top3, worst3, heat3, median3, _) = reduce(3);
    assert_eq!((&top1, &worst1), (&top3, &worst3));
    assert_eq!(heat1, heat3);
    assert_eq!(median1, median3);

    // Against brute force.
    let mut by_sharpe: Vec<&SweepRow> = all
        .iter()
        .filter(|r| r.value(Metric::SharpeRatio).is_some())
        .collect();
    by_sharpe.sort_by(|a, b| {
        b.value(Metric::SharpeRatio)
            .unwrap()
            .total_cmp(&a.value(Metric::SharpeRatio).unwrap())
    });
    let expected: Vec<(usize, u64)> = by_sharpe[..5].iter().map(|r| (r.ticker, r.combo)).collect();
    assert_eq!(top1, expected);
    let mut deepest: Vec<&SweepRow> = all.iter().collect();
    deepest.sort_by(|a, b| {
        a.value(Metric::MaxDrawdown)
            .unwrap()
            .total_cmp(&b.value(Metric::MaxDrawdown).unwrap())
    });
    assert_eq!(
        worst1,
        deepest[..3]
            .iter()
            .map(|r| (r.ticker, r.combo))
            .collect::<Vec<_>>()
    );

    assert_eq!(heat1.len() as u64, grid.count(Some(&fast_lt_slow)));
    for cell in &heat1 {
        let mut values: Vec<(usize, f64)> = all
            .iter()
            .filter(|r| r.combo == cell.combo)
            .map(|r| (r.ticker, r.value(Metric::Return).unwrap()))
            .collect();
        values.sort_by_key(|v| v.0);
        let mean = values.iter().map(|v| v.1).sum::<f64>() / values.len() as f64;
        assert_eq!((cell.value, cell.count), (mean, 6));
        assert_eq!(cell.params, grid.iter().nth(cell.combo as usize).unwrap());
    }
}
