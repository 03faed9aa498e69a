//! Portfolio backtests: one strategy over many tickers with shared cash. [`Panel`] puts every
//! ticker on one calendar (the union of their bar times; a ticker without a bar at a time has
//! none there, and its orders wait); [`portfolio_results`] turns a finished [`SessionEnd`] into
//! the book's result (its equity curve, every trade, statistics against an equal-weight index of
//! the tickers as the market) and one result per ticker (its trades, and statistics of what it
//! contributed: the starting cash plus its realised and unrealised profit at each bar).

use crate::broker::{Feed, SessionEnd, SimOptions};
use crate::{BacktestResult, Bars, EquityCurve, StatsContext, Trade, metrics};

/// Bars of many tickers on one calendar; `NaN` where a ticker has no bar.
#[derive(Clone, Debug, Default)]
pub struct Panel {
    time: Vec<i64>,
    /// Per ticker: open, high, low, close, each one value per calendar bar.
    ohlc: Vec<[Vec<f64>; 4]>,
}

impl Panel {
    /// Aligns each ticker's bars (`time` strictly increasing, with its `[open, high, low,
    /// close]` columns) on the union of their times.
    pub fn align(tickers: &[(&[i64], [&[f64]; 4])]) -> Panel {
        let mut time: Vec<i64> = tickers
            .iter()
            .flat_map(|(t, _)| t.iter().copied())
            .collect();
        time.sort_unstable();
        time.dedup();
        let n = time.len();
        let ohlc = tickers
            .iter()
            .map(|(t, cols)| {
                let mut out: [Vec<f64>; 4] = std::array::from_fn(|_| vec![f64::NAN; n]);
                let mut k = 0;
                for (row, stamp) in t.iter().enumerate() {
                    while time[k] < *stamp {
                        k += 1;
                    }
                    for c in 0..4 {
                        out[c][k] = cols[c][row];
                    }
                }
                out
            })
            .collect();
        Panel { time, ohlc }
    }

    /// The calendar.
    pub fn times(&self) -> &[i64] {
        &self.time
    }

    /// Ticker `t`'s closes on the calendar (NaN where it has no bar).
    pub fn close(&self, t: usize) -> &[f64] {
        &self.ohlc[t][3]
    }
}

impl Feed for Panel {
    fn tickers(&self) -> usize {
        self.ohlc.len()
    }
    fn len(&self) -> usize {
        self.time.len()
    }
    fn time(&self, bar: usize) -> i64 {
        self.time[bar]
    }
    fn bar(&self, ticker: usize, bar: usize) -> Option<[f64; 4]> {
        let c = self.ohlc.get(ticker)?;
        let close = *c[3].get(bar)?;
        close
            .is_finite()
            .then(|| [c[0][bar], c[1][bar], c[2][bar], close])
    }
}

/// Each ticker's closes carried forward over the bars it has none (its first bars stay NaN).
fn carried(close: &[f64]) -> Vec<f64> {
    let mut last = f64::NAN;
    close
        .iter()
        .map(|&c| {
            if c.is_finite() {
                last = c;
            }
            last
        })
        .collect()
}

/// An equal-weight index of the tickers (each one's return from its first bar, averaged over the
/// tickers trading), starting at 100: the book's market.
fn equal_weight_index(panel: &Panel) -> Vec<f64> {
    let n = panel.len();
    let mut index = vec![100.0; n];
    let closes: Vec<Vec<f64>> = (0..panel.tickers())
        .map(|t| carried(panel.close(t)))
        .collect();
    let mut level = 100.0;
    for i in 1..n {
        let (mut sum, mut count) = (0.0, 0usize);
        for c in &closes {
            let (a, b) = (c[i - 1], c[i]);
            if a.is_finite() && b.is_finite() && a > 0.0 {
                sum += b / a - 1.0;
                count += 1;
            }
        }
        if count > 0 {
            level *= 1.0 + sum / count as f64;
        }
        index[i] = level;
    }
    index
}

/// The book's result and each ticker's, from a finished portfolio session on `panel` with
/// `options`. Returns `(book, per ticker in panel order)`.
pub fn portfolio_results(
    panel: &Panel,
    end: &SessionEnd,
    options: &SimOptions,
    risk_free_rate: f64,
) -> crate::Result<(BacktestResult, Vec<BacktestResult>)> {
    let time = panel.times();
    let index = equal_weight_index(panel);
    let market = Bars::new(time, &index, &index, &index, &index)?;
    let ctx = StatsContext::new(&market);
    let warmup = end.start.saturating_sub(1);
    let all: Vec<Trade> = end.closed.iter().map(|c| c.trade).collect();
    let book = BacktestResult {
        stats: metrics::compute(&market, &ctx, &end.equity, &all, warmup, risk_free_rate),
        trades: all,
        open_trade: None,
        equity: EquityCurve::from_equity(&market, end.equity.clone(), vec![0.0; time.len()]),
    };
    let mut per_ticker = Vec::with_capacity(panel.tickers());
    for t in 0..panel.tickers() {
        let close = carried(panel.close(t));
        let trades: Vec<Trade> = end
            .closed
            .iter()
            .filter(|c| c.ticker == t)
            .map(|c| c.trade)
            .collect();
        let open: Vec<_> = end.open.iter().filter(|o| o.ticker == t).collect();
        // Its contribution: cash plus what its closed trades made by each bar, plus its open
        // trades marked at the close (entry commissions paid).
        let mut equity = vec![options.cash; time.len()];
        for tr in &trades {
            contribute(
                &mut equity,
                &close,
                tr.size,
                tr.entry_price,
                tr.entry_bar,
                Some((tr.exit_bar, tr.pnl)),
                options.commission.on(tr.size, tr.entry_price),
            );
        }
        for o in &open {
            contribute(
                &mut equity,
                &close,
                o.size,
                o.entry_price,
                o.entry_bar,
                None,
                options.commission.on(o.size, o.entry_price),
            );
        }
        let own = if close.iter().all(|c| c.is_finite()) {
            close.clone()
        } else {
            // Before its first bar the ticker has no price: its own "market" is the index.
            close
                .iter()
                .zip(&index)
                .map(|(c, i)| if c.is_finite() { *c } else { *i })
                .collect()
        };
        let bars = Bars::new(time, &own, &own, &own, &own)?;
        let ctx = StatsContext::new(&bars);
        per_ticker.push(BacktestResult {
            stats: metrics::compute(&bars, &ctx, &equity, &trades, warmup, risk_free_rate),
            trades,
            open_trade: None,
            equity: EquityCurve::from_equity(&bars, equity, vec![0.0; time.len()]),
        });
    }
    Ok((book, per_ticker))
}

/// Adds one trade's profit to a contribution curve: marked at the close from its entry bar,
/// its final P&L from its exit bar on.
fn contribute(
    equity: &mut [f64],
    close: &[f64],
    size: f64,
    entry_price: f64,
    entry_bar: usize,
    exit: Option<(usize, f64)>,
    entry_commission: f64,
) {
    let until = exit.map_or(equity.len(), |(bar, _)| bar);
    for i in entry_bar..until.min(equity.len()) {
        equity[i] += size * (close[i] - entry_price) - entry_commission;
    }
    if let Some((bar, pnl)) = exit {
        let from = bar.min(equity.len());
        for e in &mut equity[from..] {
            *e += pnl;
        }
    }
}
