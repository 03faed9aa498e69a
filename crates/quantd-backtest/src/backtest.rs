//! One complete backtest: [`backtest`] simulates, computes the statistics and returns them with
//! the trades table and the equity curve ([`BacktestResult`]). For many backtests in a loop,
//! use a [`Simulator`], a [`StatsContext`] and [`crate::metrics::compute`] directly (that is
//! what the sweep driver does), which keeps the curve and trades in reused buffers.

use serde::{Deserialize, Serialize};

use crate::bars::{Bars, Signals};
use crate::config::Config;
use crate::error::Result;
use crate::metrics::{self, StatsContext};
use crate::sim::{Simulator, Trade};
use crate::stats::Stats;

/// Everything one backtest produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BacktestResult {
    /// The statistics.
    pub stats: Stats,
    /// The closed trades (backtesting.py's `_trades`), in order.
    pub trades: Vec<Trade>,
    /// The trade still open after the last bar, marked at the last close (only without
    /// `finalize_trades`); not part of `trades` nor of the trade statistics.
    pub open_trade: Option<Trade>,
    /// The equity curve.
    pub equity: EquityCurve,
}

/// Per-bar account state (backtesting.py's `_equity_curve`, plus cash and position), as columns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EquityCurve {
    /// Bar instants, nanoseconds since 1970-01-01 00:00 UTC.
    pub time: Vec<i64>,
    /// Equity at the close: `cash + position × close`.
    pub equity: Vec<f64>,
    /// Cash at the close, net of the open position's cost (or short-sale proceeds).
    pub cash: Vec<f64>,
    /// Units held at the close (negative: short).
    pub position: Vec<f64>,
    /// Drawdown from the running equity peak as a fraction, `1 - equity / peak`
    /// (backtesting.py's `DrawdownPct`).
    pub drawdown: Vec<f64>,
    /// Length in days (fractional for intraday bars) of the drawdown period that ends at this
    /// bar, `NaN` elsewhere
    /// (backtesting.py's `DrawdownDuration`).
    #[serde(with = "nan_vec")]
    pub drawdown_duration: Vec<f64>,
}

impl EquityCurve {
    /// The curve of `sim`'s last run on `bars`.
    pub fn from_run(bars: &Bars<'_>, sim: &Simulator) -> Self {
        let mut curve = Self::from_equity(bars, sim.equity().to_vec(), sim.position().to_vec());
        curve.cash = sim.cash().to_vec();
        curve
    }

    /// The curve of an equity series and the units held at each close (cash is what the
    /// position's value at the close leaves of the equity).
    pub fn from_equity(bars: &Bars<'_>, equity: Vec<f64>, position: Vec<f64>) -> Self {
        let time = bars.time();
        let mut peak = f64::NEG_INFINITY;
        let drawdown: Vec<f64> = equity
            .iter()
            .map(|&e| {
                peak = peak.max(e);
                1.0 - e / peak
            })
            .collect();
        let n = equity.len();
        let mut drawdown_duration = vec![f64::NAN; n];
        let mut last_zero = 0;
        for i in 1..n {
            let ends = drawdown[i] == 0.0 || i == n - 1;
            if ends {
                if i > last_zero + 1 {
                    drawdown_duration[i] =
                        crate::calendar::days(i128::from(time[i] - time[last_zero]));
                }
                last_zero = i;
            }
        }
        let cash = equity
            .iter()
            .zip(&position)
            .zip(bars.close())
            .map(|((e, p), c)| e - p * c)
            .collect();
        EquityCurve {
            time: time.to_vec(),
            equity,
            cash,
            position,
            drawdown,
            drawdown_duration,
        }
    }
}

/// Runs one backtest of `signals` on `bars` and computes everything.
///
/// Fails on options out of range or signals whose columns do not have one row per bar.
pub fn backtest(bars: &Bars<'_>, signals: &Signals<'_>, config: &Config) -> Result<BacktestResult> {
    let mut sim = Simulator::new();
    sim.run(bars, signals, config)?;
    let ctx = StatsContext::new(bars);
    let stats = metrics::compute(
        bars,
        &ctx,
        sim.equity(),
        sim.trades(),
        signals.warmup,
        config.risk_free_rate,
    );
    Ok(BacktestResult {
        stats,
        trades: sim.trades().to_vec(),
        open_trade: sim.open_trade().copied(),
        equity: EquityCurve::from_run(bars, &sim),
    })
}

/// Serde format of a `Vec<f64>` with `NaN` as `null` both ways.
mod nan_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| if x.is_nan() { None } else { Some(*x) }))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let v = Vec::<Option<f64>>::deserialize(d)?;
        Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }
}
