//! quantd's technical-analysis kernels: batch indicator functions over `f64` slices (moving
//! averages, RSI, MACD, ATR, Bollinger bands, stochastics, ADX, ...) that reproduce TA-Lib's
//! results, checked against TA-Lib itself by this crate's tests.
//!
//! Every kernel reads whole input slices and writes caller-provided output slices of the same
//! length. This crate must never do I/O, spawn threads or depend on another quantd crate, and
//! must never allocate per bar; the only kernel that needs memory beyond its outputs, [`cci`] over
//! a long period, takes it from a caller's [`Scratch`] ([`cci_with`]; [`cci`] makes one for the
//! call). No kernel costs more than O(n log n) on any data whatever its period: work is O(1) per
//! bar (amortized, for [`stddev`] and [`bbands`], whose precision re-anchoring is bounded), except
//! [`cci`]: O(period) per bar up to [`CCI_DIRECT_MAX_PERIOD`], O(log n) beyond.
//!
//! Where TA-Lib returns a shorter array starting at its `begIdx`, a kernel here returns the full
//! length with `NaN` in the first `lookback_*(...)` slots, so output index `i` is always input
//! bar `i`. Bars before the first one at which every input is
//! a number are skipped (their outputs are `NaN` and the warm-up starts after them), as TA-Lib's
//! Python wrapper does: the output of one kernel can be fed to the next. A `NaN` later in a series
//! is not skipped: inputs are expected to be numbers from their first valid bar on, and what a
//! stray `NaN` does depends on the kernel (a running sum keeps it for good, as in TA-Lib).
//! Input shorter than the warm-up gives all-`NaN` output, not an error; a period out of range or
//! slices of different lengths give a [`TaError`] and leave the outputs untouched.
//!
//! Values follow TA-Lib's algorithms (same running sums, same seeding, same zero tests), most of
//! them operation for operation, so they match TA-Lib to within rounding, most of them to the bit;
//! [`sma`] and [`rsi`] regroup the additions of their running sums to run faster. The
//! reference is TA-Lib 0.8 (the C library inside the Python `TA-Lib` 0.8.2 wheel), with its
//! defaults: unstable periods 0, default compatibility, SMA where a moving-average type is asked.
//! Its recent behaviour is kept where it differs from older releases: flat-window tests relative
//! to the price level (not a fixed `1e-14`), exact zero tests on sums of non-negative terms, and
//! a cancellation-free standard deviation. Where TA-Lib fuses a multiply-add (EMA, MACD, ATR,
//! ADX, WMA) results differ from it in the last bits only. Two departures keep the cost bounded
//! and agree with TA-Lib to about 1e-12 relative rather than to the bit: [`cci`] over more than
//! [`CCI_DIRECT_MAX_PERIOD`] bars (order statistics instead of window sums), and the standard
//! deviation on the rare data where TA-Lib's re-anchoring would re-sum the window on many bars
//! (an O(1)-per-bar merge of block summaries instead).
//!
//! Besides TA-Lib's indicators, [`session`] holds the session-anchored kernels of intraday bars
//! (VWAP, the day's open, high and low so far, the previous session's close), checked against
//! pandas group-by computations.

mod common;
mod deviation;

pub mod average;
pub mod error;
pub mod momentum;
pub mod oscillator;
pub mod rolling;
pub mod scratch;
pub mod session;
pub mod trend;
pub mod volatility;
pub mod volume;

pub use average::{ema, lookback_ema, lookback_sma, lookback_wma, sma, sma_sums, wma};
pub use error::{Result, TaError};
pub use momentum::{
    MacdOut, lookback_macd, lookback_mom, lookback_roc, lookback_rsi, macd, mom, roc, rsi,
};
pub use oscillator::{
    CCI_DIRECT_MAX_PERIOD, StochOut, cci, cci_is_direct, cci_with, lookback_cci, lookback_stoch,
    lookback_willr, stoch, willr,
};
pub use rolling::{lookback_max, lookback_min, max, min};
pub use scratch::{CCI_SCRATCH_BYTES_PER_BAR, Scratch};
pub use trend::{adx, lookback_adx};
pub use volatility::{
    BandsOut, atr, bbands, lookback_atr, lookback_bbands, lookback_natr, lookback_stddev, natr,
    stddev,
};
pub use volume::{lookback_obv, obv};
