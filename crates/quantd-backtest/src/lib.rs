//! quantd's backtester: it trades a strategy's entry/exit signals over one ticker's bars,
//! bar by bar, and reports backtesting.py's statistics; and it sweeps parameter grids over many
//! tickers on all cores, streaming one row of statistics per (ticker, parameter set).
//!
//! ```
//! use quantd_backtest::{Bars, Config, Signals, backtest, crossover};
//!
//! // One bar a day: instants at 00:00 UTC, in nanoseconds.
//! let time: Vec<i64> = (0..8).map(|d| d * quantd_backtest::calendar::NANOS_PER_DAY).collect();
//! let close = [10.0, 9.0, 11.0, 12.0, 11.5, 10.0, 13.0, 14.0];
//! let bars = Bars::new(&time, &close, &close, &close, &close)?;
//! let mut entry = [false; 8];
//! crossover(&close, &[10.5; 8], &mut entry);
//! let mut exit = [false; 8];
//! crossover(&[10.5; 8], &close, &mut exit);
//! let result = backtest(&bars, &Signals::long_only(&entry, &exit), &Config::default())?;
//! assert_eq!(result.trades.len(), 1); // in at bar 3's open, out at bar 6's open
//! assert_eq!(result.stats.trades, 1);
//! # Ok::<(), quantd_backtest::BacktestError>(())
//! ```
//!
//! Class strategies, which place orders bar by bar instead of emitting signals, trade through
//! the [`broker`] module's [`broker::Broker`] interface; its [`broker::SimBroker`] has the same
//! fill rules.
//!
//! Semantics (fills, commissions, sizing, stops, statistics) follow backtesting.py 0.6.6 and
//! are checked against it by this crate's tests; `docs/backtesting.md` states them all. An
//! order placed on a bar's signal never fills at a price from before that bar's close is known.
//!
//! This crate takes plain slices: it must never read packs, a store or expressions itself, do
//! I/O, or allocate per bar. Signal generation is the caller's ([`SignalGenerator`]).

pub mod backtest;
pub mod bars;
pub mod broker;
pub mod calendar;
pub mod config;
pub mod error;
pub mod metrics;
pub mod sim;
pub mod stats;
pub mod sweep;

pub use backtest::{BacktestResult, EquityCurve, backtest};
pub use bars::{Bars, SignalBuffers, Signals, crossover, warmup_of};
pub use config::{Commission, Config, Fill, Sizing};
pub use error::{BacktestError, Result};
pub use metrics::StatsContext;
pub use sim::{Simulator, Trade};
pub use stats::{Metric, StatValue, Stats};
pub use sweep::{
    Aggregate, Goal, Heatmap, HeatmapRow, ParamGrid, ParamRange, ParamSet, SeriesCache, SeriesId,
    SignalGenerator, Sweep, SweepRow, SweepSummary, Ticker, TopN, from_fn,
};
