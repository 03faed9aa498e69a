//! How [`Stats`] are computed from an equity curve and the closed trades: backtesting.py 0.6.6's
//! `compute_stats`, re-derived for one pass over the bars and no allocation.
//!
//! What depends only on the bars (the resampling period and annualization, the market's log
//! returns for Beta) is a [`StatsContext`], computed once per ticker and shared by every
//! backtest on it — a sweep computes it once per ticker, not once per parameter set.
//!
//! Values agree with backtesting.py's to rounding: sums may be taken in another order (the
//! geometric mean of period returns telescopes to one logarithm) but nothing cancels
//! catastrophically. Durations are exact.

use crate::bars::Bars;
use crate::calendar::{self, NANOS_PER_DAY, Period, resolution, weekday};
use crate::sim::Trade;
use crate::stats::Stats;

/// What the statistics need from the bars alone; build it once per ticker with
/// [`StatsContext::new`].
#[derive(Clone, Debug)]
pub struct StatsContext {
    len: usize,
    /// Periods per year.
    annual: f64,
    /// Last bar of each period, when a period holds more than one bar (empty when every bar is
    /// a period of its own: daily bars resampled by day).
    period_ends: Vec<usize>,
    /// What mean durations round up to, in nanoseconds (a day, an hour, a minute…).
    resolution: i64,
    /// The close's log returns minus their mean (`len - 1` values).
    market: Vec<f64>,
    /// Their sum (zero but for rounding).
    market_sum: f64,
    /// Their sum of squares.
    market_ss: f64,
}

impl StatsContext {
    /// Derives the resampling period, the annualization and the market's log returns from
    /// `bars`, as backtesting.py does from a `DatetimeIndex` (daily or intraday).
    pub fn new(bars: &Bars<'_>) -> Self {
        let time = bars.time();
        let close = bars.close();
        let n = time.len();

        // backtesting.py's `_data_period`: the median spacing of the last 100 bars.
        let tail = &time[n.saturating_sub(100)..];
        let mut gaps: Vec<i64> = tail.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_unstable();
        // In nanoseconds, as pandas' Timedelta median (the mean of the middle two, truncated).
        let median = match gaps.len() {
            0 => None,
            k if k % 2 == 1 => Some(gaps[k / 2]),
            k => Some(((i128::from(gaps[k / 2 - 1]) + i128::from(gaps[k / 2])) / 2) as i64),
        };
        let weekend = time.iter().filter(|&&d| weekday(d) >= 5).count() as f64 / n as f64;
        let have_weekends = weekend > 2.0 / 7.0 * 0.6;
        // `Timedelta.days`: whole days of the median spacing.
        let (period, annual) = match median.map(|m| m.div_euclid(NANOS_PER_DAY)) {
            Some(7) => (Period::Week, 52.0),
            Some(31) => (Period::Month, 12.0),
            Some(365) => (Period::Year, 1.0),
            _ => (Period::Day, if have_weekends { 365.0 } else { 252.0 }),
        };
        let one_bar_per_day = time
            .windows(2)
            .all(|w| calendar::day(w[0]) != calendar::day(w[1]));
        let period_ends = if period == Period::Day && one_bar_per_day {
            Vec::new()
        } else {
            let keys: Vec<i64> = time.iter().map(|&d| period.key(d)).collect();
            (0..n)
                .filter(|&i| i + 1 == n || keys[i + 1] != keys[i])
                .collect()
        };

        let mut market: Vec<f64> = close.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
        let mean = market.iter().sum::<f64>() / market.len() as f64;
        let (mut market_sum, mut market_ss) = (0.0, 0.0);
        for m in &mut market {
            *m -= mean;
            market_sum += *m;
            market_ss += *m * *m;
        }
        StatsContext {
            len: n,
            annual,
            period_ends,
            resolution: median.map_or(NANOS_PER_DAY, resolution),
            market,
            market_sum,
            market_ss,
        }
    }

    /// Periods per year used to annualize (252 for weekday bars, 365 with weekends, 52, 12, 1).
    pub fn annual_periods(&self) -> f64 {
        self.annual
    }

    /// The mean of `count` spans summing to `sum` nanoseconds, in days, rounded up to
    /// backtesting.py's resolution (a day for daily bars, an hour for hourly ones…).
    fn round_up_mean(&self, sum: i128, count: u64) -> f64 {
        if count == 0 {
            return f64::NAN;
        }
        let step = i128::from(count) * i128::from(self.resolution);
        let steps = sum.div_euclid(step) + i128::from(sum.rem_euclid(step) != 0);
        calendar::days(steps * i128::from(self.resolution))
    }
}

/// Accumulates period returns `r`: count, shifted sums for the variance, downside squares.
#[derive(Default)]
struct Returns {
    count: u64,
    shift: f64,
    sum: f64,
    sum_sq: f64,
    down_sq: f64,
    nonpositive: bool,
}

impl Returns {
    #[inline]
    fn push(&mut self, r: f64) {
        if r.is_nan() {
            return; // pandas' dropna
        }
        if self.count == 0 {
            self.shift = r;
        }
        self.count += 1;
        let d = r - self.shift;
        self.sum += d;
        self.sum_sq += d * d;
        if r < 0.0 {
            self.down_sq += r * r;
        }
        if r + 1.0 <= 0.0 {
            self.nonpositive = true;
        }
    }

    /// Sample variance (ddof 1); `NaN` below two returns.
    fn variance(&self) -> f64 {
        if self.count < 2 {
            return f64::NAN;
        }
        let m = self.count as f64;
        (self.sum_sq - self.sum * self.sum / m) / (m - 1.0)
    }
}

/// Drawdowns from the running equity peak, and backtesting.py's drawdown periods: from a bar
/// at the peak to the next bar at the peak (or the last bar), with at least one bar between.
struct Drawdowns {
    /// Running peak (in the end: the equity peak).
    peak: f64,
    /// Deepest drawdown, a fraction ≥ 0.
    max: f64,
    last_zero: usize,
    /// Deepest drawdown of the current period.
    period_peak: f64,
    periods: u64,
    dur_sum: i128,
    dur_max: i128,
    peak_sum: f64,
    nonzero_sum: f64,
    nonzero_count: u64,
}

impl Drawdowns {
    fn new(first: f64) -> Self {
        Drawdowns {
            peak: first,
            max: 0.0,
            last_zero: 0,
            period_peak: 0.0,
            periods: 0,
            dur_sum: 0,
            dur_max: 0,
            peak_sum: 0.0,
            nonzero_sum: 0.0,
            nonzero_count: 0,
        }
    }

    #[inline]
    fn push(&mut self, i: usize, equity: f64, time: &[i64]) {
        if equity > self.peak {
            self.peak = equity;
        }
        let dd = 1.0 - equity / self.peak;
        if dd > self.max {
            self.max = dd;
        }
        if dd == 0.0 {
            if i > self.last_zero + 1 {
                self.period(i, time);
            }
            self.last_zero = i;
            self.period_peak = 0.0;
        } else {
            if dd > self.period_peak {
                self.period_peak = dd;
            }
            if !dd.is_nan() {
                self.nonzero_sum += dd;
                self.nonzero_count += 1;
            }
        }
    }

    /// An unrecovered drawdown at the end is a period too, unless it is only the last bar.
    fn finish(&mut self, n: usize, time: &[i64]) {
        if n > self.last_zero + 2 {
            self.period(n - 1, time);
        }
    }

    fn period(&mut self, end: usize, time: &[i64]) {
        let dur = i128::from(time[end] - time[self.last_zero]);
        self.periods += 1;
        self.dur_sum += dur;
        self.dur_max = self.dur_max.max(dur);
        self.peak_sum += self.period_peak;
    }
}

/// backtesting.py's `geometric_mean` given the sum of `ln(1 + r)` over `count` returns:
/// 0 when a return is −100 % or worse, `NaN` for no returns.
fn geometric_mean(log_sum: f64, count: u64, nonpositive: bool) -> f64 {
    if count == 0 {
        f64::NAN
    } else if nonpositive {
        0.0
    } else {
        (log_sum / count as f64).exp() - 1.0
    }
}

/// `x`, or `NaN` when it is zero (Python's `x or np.nan`).
fn or_nan(x: f64) -> f64 {
    if x == 0.0 { f64::NAN } else { x }
}

/// Computes backtesting.py's statistics of one run: `equity` at every bar (as
/// [`crate::Simulator::equity`]), the closed `trades`, the signals' `warmup` (Buy & Hold starts
/// at its close) and an annual `risk_free_rate`.
///
/// # Panics
/// If `equity` does not have one value per bar of `bars`, or `ctx` was built for other bars.
pub fn compute(
    bars: &Bars<'_>,
    ctx: &StatsContext,
    equity: &[f64],
    trades: &[Trade],
    warmup: usize,
    risk_free_rate: f64,
) -> Stats {
    let n = bars.len();
    assert!(
        equity.len() == n && ctx.len == n,
        "stats: {} equity values and a context of {} bars for {n} bars",
        equity.len(),
        ctx.len
    );
    let time = bars.time();
    let close = bars.close();
    let start = time[0];
    let end = time[n - 1];
    let duration = calendar::days(i128::from(end - start));
    let eq0 = equity[0];
    let final_eq = equity[n - 1];

    // One pass: drawdowns, daily returns, log returns against the market's.
    // Every bar its own period: the period returns are the bar returns.
    let daily = ctx.period_ends.is_empty();
    let mut dd = Drawdowns::new(eq0);
    let mut returns = Returns::default();
    let (mut log_sum_x, mut log_dot) = (0.0, 0.0);
    for i in 1..n {
        let e = equity[i];
        dd.push(i, e, time);
        let ratio = e / equity[i - 1];
        let log_return = if ratio == 1.0 { 0.0 } else { ratio.ln() };
        log_sum_x += log_return;
        log_dot += log_return * ctx.market[i - 1];
        if daily {
            returns.push(ratio - 1.0);
        }
    }
    dd.finish(n, time);
    // The sum of ln(1 + r) over period returns telescopes to ln(last / first).
    let log_sum = if daily {
        (final_eq / eq0).ln()
    } else {
        let mut prev = f64::NAN;
        for &i in &ctx.period_ends {
            let v = equity[i];
            returns.push(v / prev - 1.0);
            prev = v;
        }
        (final_eq / equity[ctx.period_ends[0]]).ln()
    };

    // Annualized return and risk (backtesting.py's compounding formulas).
    let g = geometric_mean(log_sum, returns.count, returns.nonpositive);
    let annual = ctx.annual;
    let return_ann = (1.0 + g).powf(annual) - 1.0;
    let variance = returns.variance();
    let volatility_ann =
        ((variance + (1.0 + g).powi(2)).powf(annual) - (1.0 + g).powf(2.0 * annual)).sqrt();
    let downside = (returns.down_sq / returns.count as f64).sqrt() * annual.sqrt();
    let years = duration / 365.25;
    let cagr = if years != 0.0 {
        ((final_eq / eq0).powf(1.0 / years) - 1.0) * 100.0
    } else {
        f64::NAN
    };

    let return_pct = (final_eq - eq0) / eq0 * 100.0;
    let buy_hold = if warmup < n {
        (close[n - 1] - close[warmup]) / close[warmup] * 100.0
    } else {
        f64::NAN
    };
    let beta = if n > 2 {
        let x_mean = log_sum_x / (n - 1) as f64;
        (log_dot - x_mean * ctx.market_sum) / ctx.market_ss
    } else {
        f64::NAN
    };
    let rf = risk_free_rate;
    let (avg_dd, max_dd_dur, avg_dd_dur) = if dd.periods > 0 {
        (
            -(dd.peak_sum / dd.periods as f64) * 100.0,
            calendar::days(dd.dur_max),
            ctx.round_up_mean(dd.dur_sum, dd.periods),
        )
    } else {
        // backtesting.py falls back to the non-zero drawdowns themselves.
        (
            -(dd.nonzero_sum / dd.nonzero_count as f64) * 100.0,
            f64::NAN,
            f64::NAN,
        )
    };
    let max_dd = dd.max;

    let t = trade_stats(trades, n, ctx);
    Stats {
        start,
        end,
        duration,
        exposure_time_pct: t.exposure_pct,
        equity_final: final_eq,
        equity_peak: dd.peak,
        commissions: t.commissions,
        return_pct,
        buy_hold_return_pct: buy_hold,
        return_ann_pct: return_ann * 100.0,
        volatility_ann_pct: volatility_ann * 100.0,
        cagr_pct: cagr,
        sharpe_ratio: (return_ann * 100.0 - rf * 100.0) / or_nan(volatility_ann * 100.0),
        sortino_ratio: (return_ann - rf) / downside,
        calmar_ratio: return_ann / or_nan(max_dd),
        alpha_pct: return_pct - rf * 100.0 - beta * (buy_hold - rf * 100.0),
        beta,
        max_drawdown_pct: -max_dd * 100.0,
        avg_drawdown_pct: avg_dd,
        max_drawdown_duration: max_dd_dur,
        avg_drawdown_duration: avg_dd_dur,
        trades: trades.len() as u64,
        win_rate_pct: t.win_rate * 100.0,
        best_trade_pct: t.best * 100.0,
        worst_trade_pct: t.worst * 100.0,
        avg_trade_pct: t.geometric_mean * 100.0,
        max_trade_duration: t.max_duration,
        avg_trade_duration: t.avg_duration,
        profit_factor: t.profit_factor,
        expectancy_pct: t.mean_return * 100.0,
        sqn: t.sqn,
        kelly_criterion: t.kelly,
    }
}

/// The trade-level statistics.
struct TradeStats {
    exposure_pct: f64,
    commissions: f64,
    win_rate: f64,
    best: f64,
    worst: f64,
    geometric_mean: f64,
    mean_return: f64,
    max_duration: f64,
    avg_duration: f64,
    profit_factor: f64,
    sqn: f64,
    kelly: f64,
}

fn trade_stats(trades: &[Trade], bars: usize, ctx: &StatsContext) -> TradeStats {
    let count = trades.len() as u64;
    let k = count as f64;
    let (mut covered, mut next_free) = (0usize, 0usize);
    let (mut commissions, mut wins) = (0.0, 0u64);
    let (mut best, mut worst) = (f64::NAN, f64::NAN);
    let (mut log_sum, mut nonpositive) = (0.0, false);
    let (mut sum_ret, mut gains, mut losses) = (0.0, 0.0, 0.0);
    let (mut dur_sum, mut dur_max) = (0i128, i128::MIN);
    let (mut pl_sum, mut pl_win_sum, mut pl_loss_sum, mut losers) = (0.0, 0.0, 0.0, 0u64);
    for t in trades {
        // Bars with a position: the union of [entry, exit] (a reversal shares one bar).
        let lo = t.entry_bar.max(next_free);
        if t.exit_bar >= lo {
            covered += t.exit_bar - lo + 1;
            next_free = t.exit_bar + 1;
        }
        commissions += t.commission;
        let r = t.return_pct;
        if best.is_nan() || r > best {
            best = r;
        }
        if worst.is_nan() || r < worst {
            worst = r;
        }
        if r + 1.0 <= 0.0 {
            nonpositive = true;
        } else {
            log_sum += (r + 1.0).ln();
        }
        sum_ret += r;
        if r > 0.0 {
            gains += r;
        } else if r < 0.0 {
            losses += r;
        }
        let d = i128::from(t.exit_time - t.entry_time);
        dur_sum += d;
        dur_max = dur_max.max(d);
        pl_sum += t.pnl;
        if t.pnl > 0.0 {
            wins += 1;
            pl_win_sum += t.pnl;
        } else if t.pnl < 0.0 {
            losers += 1;
            pl_loss_sum += t.pnl;
        }
    }
    let pl_mean = pl_sum / k;
    let pl_var = if count > 1 {
        trades
            .iter()
            .map(|t| (t.pnl - pl_mean).powi(2))
            .sum::<f64>()
            / (k - 1.0)
    } else {
        f64::NAN
    };
    let win_rate = wins as f64 / k;
    let avg_win = pl_win_sum / wins as f64;
    let avg_loss = pl_loss_sum / losers as f64;
    TradeStats {
        exposure_pct: covered as f64 / bars as f64 * 100.0,
        commissions,
        win_rate,
        best,
        worst,
        geometric_mean: geometric_mean(log_sum, count, nonpositive),
        mean_return: sum_ret / k,
        max_duration: if count > 0 {
            calendar::days(dur_max)
        } else {
            f64::NAN
        },
        avg_duration: ctx.round_up_mean(dur_sum, count),
        profit_factor: gains / or_nan(losses.abs()),
        sqn: k.sqrt() * pl_mean / or_nan(pl_var.sqrt()),
        kelly: win_rate - (1.0 - win_rate) / (avg_win / -avg_loss),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The context of bars on these days since 1970-01-01 (at 00:00 UTC).
    fn context(days: &[i32]) -> StatsContext {
        let time: Vec<i64> = days.iter().map(|&d| i64::from(d) * NANOS_PER_DAY).collect();
        stamp_context(&time)
    }

    fn stamp_context(time: &[i64]) -> StatsContext {
        let price = vec![1.0; time.len()];
        StatsContext::new(&Bars::new(time, &price, &price, &price, &price).unwrap())
    }

    const D: i128 = NANOS_PER_DAY as i128;

    #[test]
    fn annualization_follows_the_bar_spacing() {
        let weekdays: Vec<i32> = (0..300).filter(|d| (d + 3) % 7 < 5).collect();
        assert_eq!(context(&weekdays).annual_periods(), 252.0);
        let every_day: Vec<i32> = (0..300).collect();
        assert_eq!(context(&every_day).annual_periods(), 365.0);
        let weekly: Vec<i32> = (0..60).map(|w| 1 + 7 * w).collect();
        let ctx = context(&weekly);
        assert_eq!(ctx.annual_periods(), 52.0);
        assert_eq!(ctx.period_ends.len(), 60);
    }

    #[test]
    fn mean_durations_round_up() {
        let ctx = context(&[0, 1, 2, 3]);
        assert_eq!(ctx.round_up_mean(7 * D, 2), 4.0);
        assert_eq!(ctx.round_up_mean(8 * D, 2), 4.0);
        assert!(ctx.round_up_mean(0, 0).is_nan());
        // A median spacing of 1.5 days: backtesting.py's resolution is then hours.
        let ctx = context(&[0, 1, 3, 4, 6]);
        assert_eq!(ctx.resolution, 3_600_000_000_000);
        assert_eq!(ctx.round_up_mean(7 * D, 2), 3.5);
        assert_eq!(ctx.round_up_mean(10 * D, 3), 3.0 + 8.0 / 24.0);
    }

    #[test]
    fn intraday_bars_resample_to_days_and_round_to_their_resolution() {
        // Hourly bars, eight a day on weekdays: days of eight bars, 252 a year, hours.
        let hour = NANOS_PER_DAY / 24;
        let time: Vec<i64> = (0..20i64)
            .filter(|d| (d + 3) % 7 < 5)
            .flat_map(|d| (9..17).map(move |h| d * NANOS_PER_DAY + h * hour))
            .collect();
        let ctx = stamp_context(&time);
        assert_eq!(ctx.annual_periods(), 252.0);
        assert_eq!(ctx.resolution, hour);
        assert_eq!(ctx.period_ends.len(), time.len() / 8, "one end per day");
        assert!(ctx.period_ends.iter().all(|&i| i % 8 == 7));
        // Five-minute bars round to minutes.
        let five: Vec<i64> = (0..50).map(|i| i * 300_000_000_000).collect();
        assert_eq!(stamp_context(&five).resolution, 60_000_000_000);
    }
}
