//! Parameter sweeps: a [`ParamGrid`] of named ranges (optionally constrained) backtested on
//! every ticker by a [`Sweep`] on all cores, streaming one [`SweepRow`] per backtest; signals
//! come from the caller's [`SignalGenerator`], which caches indicator series per ticker in a
//! [`SeriesCache`]; [`TopN`] and [`Heatmap`] reduce the stream.

mod cache;
mod collect;
mod driver;
mod grid;

pub use cache::{SeriesCache, SeriesId};
pub use collect::{Aggregate, Goal, Heatmap, HeatmapRow, TopN};
pub use driver::{
    BoxError, FnGenerator, SignalGenerator, Sweep, SweepRow, SweepSummary, Ticker, from_fn,
};
pub use grid::{Constraint, MAX_VALUES, ParamGrid, ParamRange, ParamSet};
