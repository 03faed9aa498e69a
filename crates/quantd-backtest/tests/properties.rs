//! Invariants over random bars, signals and options:
//! - cash + position × close = equity at every bar;
//! - commissions are non-negative, each trade's is its entry's plus its exit's, and the stats'
//!   total is their sum; PnL adds up to the final equity;
//! - every entry fills after its signal, at the next open or the signal bar's close;
//! - no look-ahead: changing bars and signals after bar `t` changes no fill at or before `t`, no
//!   equity up to `t`, and (next-open fills) no fill at bar `t + 1`'s open.

mod common;

use common::{Ohlc, Rng, gbm};
use proptest::prelude::*;
use quantd_backtest::{
    BacktestResult, Commission, Config, Fill, SignalBuffers, Sizing, Trade, backtest,
};

#[derive(Clone, Debug)]
struct Scenario {
    seed: u64,
    n: usize,
    density: f64,
    shorts: bool,
    warmup: usize,
    config: Config,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        (
            any::<u64>(),
            20usize..160,
            0.02f64..0.3,
            any::<bool>(),
            0usize..12,
        ),
        (
            any::<bool>(),
            any::<bool>(),
            prop::option::of(1.0f64..15.0),
            prop::option::of(1.0f64..25.0),
            (0.0f64..5.0, 0.0f64..0.01, 0.0f64..0.005),
        ),
        (
            prop_oneof![
                (0.05f64..=1.0).prop_map(Sizing::Equity),
                (1u32..60).prop_map(|u| Sizing::Units(f64::from(u))),
            ],
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(|(a, b, c)| {
            let (seed, n, density, shorts, warmup) = a;
            let (close_fill, exclusive, sl, tp, (fixed, relative, spread)) = b;
            let (sizing, fractional, finalize) = c;
            Scenario {
                seed,
                n,
                density,
                shorts,
                warmup,
                config: Config {
                    commission: Commission { fixed, relative },
                    spread,
                    fill: if close_fill {
                        Fill::Close
                    } else {
                        Fill::NextOpen
                    },
                    exclusive_orders: exclusive,
                    stop_loss_pct: sl,
                    take_profit_pct: tp,
                    sizing,
                    fractional,
                    finalize_trades: finalize,
                    ..Config::default()
                },
            }
        })
}

/// Random signals: each column true with probability `density` per bar.
fn signals(seed: u64, n: usize, density: f64, shorts: bool, warmup: usize) -> SignalBuffers {
    let mut rng = Rng::new(seed ^ 0x5151);
    let mut s = SignalBuffers::new();
    s.reset(n);
    for i in 0..n {
        s.long_entry[i] = rng.uniform() < density;
        s.long_exit[i] = rng.uniform() < density;
        if shorts {
            s.short_entry[i] = rng.uniform() < density;
            s.short_exit[i] = rng.uniform() < density;
        }
    }
    s.warmup = warmup;
    s
}

fn run(bars: &Ohlc, s: &SignalBuffers, config: &Config) -> BacktestResult {
    backtest(&bars.bars(), &s.as_signals(), config).unwrap()
}

/// Bars `from..` replaced by another random path (continuing near the close before it).
fn perturb_bars(o: &Ohlc, from: usize, seed: u64) -> Ohlc {
    let mut out = o.clone();
    let level = o.close[from.saturating_sub(1).min(o.close.len() - 1)];
    let other = gbm(seed, o.close.len() - from, level * 1.3, 0.05);
    out.open[from..].copy_from_slice(&other.open);
    out.high[from..].copy_from_slice(&other.high);
    out.low[from..].copy_from_slice(&other.low);
    out.close[from..].copy_from_slice(&other.close);
    out
}

/// Signals `from..` replaced by other random signals.
fn perturb_signals(s: &SignalBuffers, from: usize, seed: u64, shorts: bool) -> SignalBuffers {
    let other = signals(seed, s.long_entry.len(), 0.3, shorts, s.warmup);
    let mut out = s.clone();
    out.long_entry[from..].copy_from_slice(&other.long_entry[from..]);
    out.long_exit[from..].copy_from_slice(&other.long_exit[from..]);
    out.short_entry[from..].copy_from_slice(&other.short_entry[from..]);
    out.short_exit[from..].copy_from_slice(&other.short_exit[from..]);
    out
}

/// Every fill of a run: (bar, is_exit, price, size).
fn fills(r: &BacktestResult) -> Vec<(usize, bool, f64, f64)> {
    let mut out = Vec::new();
    for t in &r.trades {
        out.push((t.entry_bar, false, t.entry_price, t.size));
        out.push((t.exit_bar, true, t.exit_price, t.size));
    }
    if let Some(t) = &r.open_trade {
        out.push((t.entry_bar, false, t.entry_price, t.size));
    }
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

fn close_to(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= 1e-9 * scale.max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn accounting_adds_up(s in scenario()) {
        let bars = gbm(s.seed, s.n, 50.0, 0.03);
        let sig = signals(s.seed, s.n, s.density, s.shorts, s.warmup);
        let r = run(&bars, &sig, &s.config);
        let e = &r.equity;
        for i in 0..s.n {
            let value = e.position[i] * bars.close[i];
            let scale = e.cash[i].abs().max(value.abs());
            prop_assert!(close_to(e.cash[i] + value, e.equity[i], scale), "bar {}", i);
        }
        let c = s.config.commission;
        let mut total = 0.0;
        for t in &r.trades {
            prop_assert!(t.commission >= 0.0);
            prop_assert_eq!(t.commission, c.on(t.size, t.exit_price) + c.on(t.size, t.entry_price));
            prop_assert!(close_to(t.pnl, t.size * (t.exit_price - t.entry_price) - t.commission, t.pnl.abs()));
            prop_assert!(t.exit_bar >= t.entry_bar);
            total += t.commission;
        }
        prop_assert!(close_to(r.stats.commissions, total, total));
        for w in r.trades.windows(2) {
            prop_assert!(w[1].entry_bar >= w[0].exit_bar, "trades never overlap");
        }
        // Unless the account was wiped out, the final equity is the cash plus every PnL.
        if r.stats.equity_final > 0.0 {
            let open = r.open_trade.map_or(0.0, |t| t.pnl);
            let sum: f64 = r.trades.iter().map(|t| t.pnl).sum::<f64>() + open;
            prop_assert!(close_to(r.stats.equity_final, s.config.cash + sum, s.config.cash + sum.abs()));
        }
    }

    #[test]
    fn entries_fill_after_their_signal(s in scenario()) {
        let bars = gbm(s.seed, s.n, 50.0, 0.03);
        let sig = signals(s.seed, s.n, s.density, s.shorts, s.warmup);
        let r = run(&bars, &sig, &s.config);
        let all: Vec<Trade> = r.trades.iter().copied().chain(r.open_trade).collect();
        for t in &all {
            let long = t.size > 0.0;
            let (signal_bar, raw) = match s.config.fill {
                Fill::NextOpen => (t.entry_bar - 1, bars.open[t.entry_bar]),
                Fill::Close => (t.entry_bar, bars.close[t.entry_bar]),
            };
            prop_assert!(signal_bar > s.warmup, "no signal acts during the warm-up");
            let signalled = if long { sig.long_entry[signal_bar] } else { sig.short_entry[signal_bar] };
            prop_assert!(signalled, "an entry at bar {} without a signal at bar {}", t.entry_bar, signal_bar);
            let spread = if long { s.config.spread } else { -s.config.spread };
            prop_assert_eq!(t.entry_price, raw * (1.0 + spread));
        }
    }

    #[test]
    fn no_look_ahead(s in scenario(), cut in 0.0f64..1.0, other in any::<u64>()) {
        let bars = gbm(s.seed, s.n, 50.0, 0.03);
        let sig = signals(s.seed, s.n, s.density, s.shorts, s.warmup);
        let t = ((s.n - 2) as f64 * cut) as usize; // 0 ..= n - 2
        let base = run(&bars, &sig, &s.config);

        // Everything after bar t changes.
        let later = run(&perturb_bars(&bars, t + 1, other), &perturb_signals(&sig, t + 1, other, s.shorts), &s.config);
        let upto = |r: &BacktestResult| fills(r).into_iter().filter(|f| f.0 <= t).collect::<Vec<_>>();
        prop_assert_eq!(upto(&base), upto(&later));
        prop_assert_eq!(&base.equity.equity[..=t], &later.equity.equity[..=t]);

        // Bar t + 1's open is known when bar t's signals are acted on; nothing else of t + 1 is.
        if s.config.fill == Fill::NextOpen {
            let mut moved = perturb_bars(&bars, t + 1, other);
            let o = bars.open[t + 1];
            moved.open[t + 1] = o;
            moved.high[t + 1] = moved.high[t + 1].max(o);
            moved.low[t + 1] = moved.low[t + 1].min(o);
            let next = run(&moved, &perturb_signals(&sig, t + 1, other, s.shorts), &s.config);
            let at_open = |r: &BacktestResult| {
                fills(r)
                    .into_iter()
                    .filter(|f| f.0 == t + 1 && (!f.1 || f.2 == o))
                    .collect::<Vec<_>>()
            };
            prop_assert_eq!(at_open(&base), at_open(&next));
        }
    }
}
