//! The trading rules, one small hand-checked scenario each: when and at what price orders fill,
//! how entries, exits, reversals and conflicts resolve, stops, commissions and spread, sizing,
//! running out of money, finalizing trades, and the statistics' names as users see them.

use quantd_backtest::{
    BacktestResult, Bars, Commission, Config, Fill, Signals, Sizing, Trade, backtest,
};

/// Bars from (open, high, low, close) rows on consecutive days from 2020-01-06.
struct Market {
    time: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
}

impl Market {
    fn new(rows: &[(f64, f64, f64, f64)]) -> Self {
        Market {
            time: (0..rows.len() as i64)
                .map(|i| (18_267 + i) * quantd_backtest::calendar::NANOS_PER_DAY)
                .collect(),
            open: rows.iter().map(|r| r.0).collect(),
            high: rows.iter().map(|r| r.1).collect(),
            low: rows.iter().map(|r| r.2).collect(),
            close: rows.iter().map(|r| r.3).collect(),
        }
    }

    /// `n` bars with open = close = `price` and a range of ±1.
    fn flat(n: usize, price: f64) -> Self {
        Market::new(&vec![(price, price + 1.0, price - 1.0, price); n])
    }

    fn bars(&self) -> Bars<'_> {
        Bars::new(&self.time, &self.open, &self.high, &self.low, &self.close).unwrap()
    }
}

/// A column of `n` signals set at `at`.
fn at(n: usize, at: &[usize]) -> Vec<bool> {
    (0..n).map(|i| at.contains(&i)).collect()
}

struct Sig {
    le: Vec<bool>,
    lx: Vec<bool>,
    se: Vec<bool>,
    sx: Vec<bool>,
}

impl Sig {
    fn new(n: usize) -> Self {
        Sig {
            le: vec![false; n],
            lx: vec![false; n],
            se: vec![false; n],
            sx: vec![false; n],
        }
    }
    fn le(mut self, i: &[usize]) -> Self {
        self.le = at(self.le.len(), i);
        self
    }
    fn lx(mut self, i: &[usize]) -> Self {
        self.lx = at(self.lx.len(), i);
        self
    }
    fn se(mut self, i: &[usize]) -> Self {
        self.se = at(self.se.len(), i);
        self
    }
    fn sx(mut self, i: &[usize]) -> Self {
        self.sx = at(self.sx.len(), i);
        self
    }
    fn signals(&self) -> Signals<'_> {
        Signals::long_only(&self.le, &self.lx).with_short(&self.se, &self.sx)
    }
}

fn run(m: &Market, s: &Sig, config: &Config) -> BacktestResult {
    backtest(&m.bars(), &s.signals(), config).unwrap()
}

fn entries_exits(trades: &[Trade]) -> Vec<(usize, usize, f64)> {
    trades
        .iter()
        .map(|t| (t.entry_bar, t.exit_bar, t.size))
        .collect()
}

/// Open rises by one each bar, so a fill's price tells its bar: open = 100 + i, close = open + 0.5.
fn ramp(n: usize) -> Market {
    let rows: Vec<_> = (0..n)
        .map(|i| {
            let o = 100.0 + i as f64;
            (o, o + 1.0, o - 1.0, o + 0.5)
        })
        .collect();
    Market::new(&rows)
}

#[test]
fn market_orders_fill_at_the_next_open_or_at_the_signal_close() {
    let m = ramp(10);
    let s = Sig::new(10).le(&[2]).lx(&[5]);
    let r = run(&m, &s, &Config::default());
    let t = r.trades[0];
    assert_eq!((t.entry_bar, t.exit_bar), (3, 6));
    assert_eq!((t.entry_price, t.exit_price), (103.0, 106.0));
    // All the equity in whole units: floor(10 000 × (1 − ε) / 103).
    assert_eq!(t.size, 97.0);
    assert_eq!(t.pnl, 97.0 * 3.0);

    let close = Config {
        fill: Fill::Close,
        ..Config::default()
    };
    let t = run(&m, &s, &close).trades[0];
    assert_eq!((t.entry_bar, t.exit_bar), (2, 5));
    assert_eq!((t.entry_price, t.exit_price), (102.5, 105.5));
}

#[test]
fn signals_during_the_warm_up_are_ignored() {
    let m = ramp(10);
    let s = Sig::new(10).le(&[1, 3]).lx(&[6]);
    let signals = s.signals().with_warmup(2);
    let r = backtest(&m.bars(), &signals, &Config::default()).unwrap();
    // Bar 1 is before warm-up + 1 = 3; bar 3's entry fills at bar 4.
    assert_eq!(entries_exits(&r.trades), [(4, 7, 96.0)]);
    // Buy & Hold from the warm-up bar's close.
    assert_eq!(r.stats.buy_hold_return_pct, (109.5 - 102.5) / 102.5 * 100.0);
    // Signals act from bar 1 without a warm-up, never on bar 0 (backtesting.py starts there).
    let s = Sig::new(10).le(&[0]).lx(&[4]);
    assert!(run(&m, &s, &Config::default()).trades.is_empty());
}

#[test]
fn open_trades_at_the_end_count_only_when_finalized() {
    let m = ramp(8);
    let s = Sig::new(8).le(&[2]).lx(&[7]); // the exit on the last bar can never fill
    let config = Config {
        commission: Commission::relative(0.01),
        ..Config::default()
    };
    let r = run(&m, &s, &config);
    assert!(r.trades.is_empty());
    assert_eq!(r.stats.trades, 0);
    assert!(r.stats.win_rate_pct.is_nan());
    assert_eq!(
        r.stats.exposure_time_pct, 0.0,
        "exposure counts closed trades only"
    );
    let open = r.open_trade.unwrap();
    assert_eq!(
        (open.entry_bar, open.exit_bar, open.exit_price),
        (3, 7, 107.5)
    );
    // Equity marks the open trade: cash after the entry commission plus the unrealized gain.
    let size = open.size;
    let entry_commission = size * 103.0 * 0.01;
    assert_eq!(open.commission, entry_commission);
    let expected = 10_000.0 - entry_commission + size * (107.5 - 103.0);
    assert!((r.stats.equity_final - expected).abs() < 1e-9);

    let finalized = Config {
        finalize_trades: true,
        ..config
    };
    let r = run(&m, &s, &finalized);
    assert!(r.open_trade.is_none());
    let t = r.trades[0];
    assert_eq!((t.entry_bar, t.exit_bar, t.exit_price), (3, 7, 107.5));
    assert_eq!(r.stats.trades, 1);
    let exit_commission = size * 107.5 * 0.01;
    assert!((t.commission - entry_commission - exit_commission).abs() < 1e-9);
    assert!((r.stats.equity_final - (expected - exit_commission)).abs() < 1e-9);
    assert_eq!(r.equity.position[7], 0.0);
}

#[test]
fn reversals_need_exclusive_orders_or_an_exit() {
    let m = ramp(12);
    // Long from bar 3; a short entry at bar 5.
    let s = Sig::new(12).le(&[2]).se(&[5]);
    let plain = run(&m, &s, &Config::default());
    assert!(
        plain.trades.is_empty(),
        "an opposite entry alone is ignored"
    );
    assert!(plain.open_trade.unwrap().size > 0.0);

    let exclusive = Config {
        exclusive_orders: true,
        ..Config::default()
    };
    let r = run(&m, &s, &exclusive);
    assert_eq!(
        entries_exits(&r.trades)[0].0..entries_exits(&r.trades)[0].1,
        3..6
    );
    let short = r.open_trade.unwrap();
    assert_eq!(
        short.entry_bar, 6,
        "exit and new entry fill at the same open"
    );
    assert!(short.size < 0.0);
    assert_eq!(r.trades[0].exit_price, 106.0);
    assert_eq!(short.entry_price, 106.0);

    // Without exclusive orders, an exit on the same bar makes the reversal.
    let s = Sig::new(12).le(&[2]).lx(&[5]).se(&[5]);
    let r = run(&m, &s, &Config::default());
    assert_eq!(r.trades.len(), 1);
    assert_eq!(r.open_trade.unwrap().entry_bar, 6);
}

#[test]
fn no_pyramiding_and_conflicts_are_ignored() {
    let m = ramp(12);
    let exclusive = Config {
        exclusive_orders: true,
        ..Config::default()
    };
    // A second long entry while long does nothing, even with exclusive orders.
    let s = Sig::new(12).le(&[2, 4, 6]).lx(&[8]);
    let r = run(&m, &s, &exclusive);
    assert_eq!(entries_exits(&r.trades), [(3, 9, 97.0)]);
    // Long and short entries on one bar cancel out; so do an entry and its own exit.
    let s = Sig::new(12).le(&[2, 5]).se(&[2]).lx(&[5]);
    assert!(run(&m, &s, &exclusive).open_trade.is_none());
    assert!(run(&m, &s, &exclusive).trades.is_empty());
}

#[test]
fn stop_loss_and_take_profit() {
    let config = Config {
        stop_loss_pct: Some(5.0),
        take_profit_pct: Some(10.0),
        ..Config::default()
    };
    let base = (100.0, 101.0, 99.0, 100.0);
    // Entry at bar 2's open (100): SL 95, TP 110 (as computed in floating point).
    let (sl, tp) = (100.0 * (1.0 - 0.05), 100.0 * (1.0 + 0.1));
    let case = |bar3: (f64, f64, f64, f64)| {
        let mut rows = vec![base; 6];
        rows[3] = bar3;
        let m = Market::new(&rows);
        let r = run(&m, &Sig::new(6).le(&[1]), &config);
        r.trades.first().map(|t| (t.exit_bar, t.exit_price))
    };
    assert_eq!(case((100.0, 101.0, 94.0, 96.0)), Some((3, sl)), "stop hit");
    assert_eq!(
        case((93.0, 94.0, 90.0, 92.0)),
        Some((3, 93.0)),
        "gap through the stop: the open"
    );
    assert_eq!(
        case((100.0, 111.0, 99.0, 105.0)),
        Some((3, tp)),
        "target hit"
    );
    assert_eq!(
        case((112.0, 115.0, 111.0, 113.0)),
        Some((3, 112.0)),
        "gap over the target"
    );
    assert_eq!(
        case((100.0, 111.0, 94.0, 100.0)),
        Some((3, sl)),
        "both: the stop, pessimistic"
    );
    assert_eq!(case((100.0, 109.0, 96.0, 100.0)), None);

    // Checked on the entry bar too.
    let mut rows = vec![base; 6];
    rows[2] = (100.0, 101.0, 94.0, 97.0);
    let r = run(&Market::new(&rows), &Sig::new(6).le(&[1]), &config);
    assert_eq!((r.trades[0].entry_bar, r.trades[0].exit_bar), (2, 2));

    // Shorts mirror: SL 105, TP 90.
    let mut rows = vec![base; 6];
    rows[3] = (100.0, 106.0, 99.0, 104.0);
    let r = run(&Market::new(&rows), &Sig::new(6).se(&[1]), &config);
    let t = r.trades[0];
    let (sl, tp) = (100.0 * (1.0 + 0.05), 100.0 * (1.0 - 0.1));
    assert_eq!((t.size < 0.0, t.exit_bar, t.exit_price), (true, 3, sl));
    assert_eq!((t.sl, t.tp), (Some(sl), Some(tp)));
}

#[test]
fn commission_and_spread() {
    let m = ramp(10);
    let s = Sig::new(10).le(&[2]).lx(&[5]);
    let config = Config {
        commission: Commission {
            fixed: 2.0,
            relative: 0.001,
        },
        spread: 0.01,
        sizing: Sizing::Units(10.0),
        ..Config::default()
    };
    let r = run(&m, &s, &config);
    let t = r.trades[0];
    assert_eq!(t.entry_price, 103.0 * 1.01, "long entries pay the spread");
    assert_eq!(t.exit_price, 106.0, "exits are not adjusted");
    let commission = (2.0 + 10.0 * t.entry_price * 0.001) + (2.0 + 10.0 * 106.0 * 0.001);
    assert!((t.commission - commission).abs() < 1e-12);
    assert!((t.pnl - (10.0 * (106.0 - t.entry_price) - commission)).abs() < 1e-9);
    assert!((r.stats.equity_final - (10_000.0 + t.pnl)).abs() < 1e-9);
    assert_eq!(r.stats.commissions, t.commission);

    let short = run(&m, &Sig::new(10).se(&[2]).sx(&[5]), &config).trades[0];
    assert_eq!(
        short.entry_price,
        103.0 * 0.99,
        "short entries get the spread against them"
    );
    assert_eq!(short.size, -10.0);
}

#[test]
fn sizing() {
    let m = Market::flat(8, 30.0);
    let s = Sig::new(8).le(&[2]).lx(&[5]);
    let half = Config {
        sizing: Sizing::Equity(0.5),
        ..Config::default()
    };
    assert_eq!(run(&m, &s, &half).trades[0].size, 166.0);
    let fractional = Config {
        fractional: true,
        ..Config::default()
    };
    let size = run(&m, &s, &fractional).trades[0].size;
    assert!((size - 10_000.0 / 30.0).abs() < 1e-9);
    let too_many = Config {
        sizing: Sizing::Units(400.0),
        ..Config::default()
    };
    let r = run(&m, &s, &too_many);
    assert!(
        r.trades.is_empty() && r.open_trade.is_none(),
        "not enough cash: no trade"
    );
}

#[test]
fn running_out_of_money_stops_the_run() {
    // Short everything at 100; the price triples.
    let mut rows = vec![(100.0, 101.0, 99.0, 100.0); 4];
    rows.extend([(150.0, 160.0, 140.0, 150.0), (250.0, 260.0, 240.0, 250.0)]);
    rows.extend(vec![(250.0, 251.0, 249.0, 250.0); 4]);
    let m = Market::new(&rows);
    let s = Sig::new(10).se(&[1]).sx(&[8]).le(&[7]);
    let r = run(&m, &s, &Config::default());
    assert_eq!(r.trades.len(), 1);
    let t = r.trades[0];
    assert_eq!(
        (t.exit_bar, t.exit_price),
        (5, 250.0),
        "closed at the close where equity ≤ 0"
    );
    assert!(r.equity.equity[5..].iter().all(|&e| e == 0.0));
    assert_eq!(r.stats.equity_final, 0.0);
    assert_eq!(r.stats.return_pct, -100.0);
    assert_eq!(
        r.stats.avg_trade_pct, 0.0,
        "a −100 % or worse trade: geometric mean 0"
    );
}

#[test]
fn cash_position_and_equity_agree() {
    let m = ramp(12);
    let s = Sig::new(12).le(&[2]).se(&[6]);
    let config = Config {
        exclusive_orders: true,
        commission: Commission::relative(0.002),
        ..Config::default()
    };
    let r = run(&m, &s, &config);
    for i in 0..12 {
        let e = &r.equity;
        let value = e.cash[i] + e.position[i] * m.close[i];
        assert!((value - e.equity[i]).abs() < 1e-9, "bar {i}");
    }
}

#[test]
fn stats_are_named_like_backtesting_py() {
    let rows: Vec<_> = (0..40)
        .map(|i| {
            let c = 100.0 + 10.0 * (i as f64 / 4.0).sin() + i as f64 * 0.2;
            (c - 0.5, c + 1.0, c - 1.5, c)
        })
        .collect();
    let m = Market::new(&rows);
    let s = Sig::new(40)
        .le(&[2, 14, 27])
        .lx(&[9, 20])
        .se(&[9])
        .sx(&[12]);
    let r = run(&m, &s, &Config::default());
    let table: String = r
        .stats
        .entries()
        .iter()
        .map(|(name, v)| format!("{name:<24} {v}\n"))
        .collect();
    insta::assert_snapshot!("stats_table", table);
    let text = serde_json::to_string(&r.stats).unwrap();
    let names: Vec<&str> = r.stats.entries().iter().map(|(n, _)| *n).collect();
    let positions: Vec<usize> = names
        .iter()
        .map(|n| text.find(&format!("\"{n}\":")).unwrap())
        .collect();
    assert!(
        positions.is_sorted(),
        "serialized in backtesting.py's order"
    );
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let back: quantd_backtest::Stats = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(back).unwrap(), json);
    assert_eq!(json["Start"], "2020-01-06");
    assert_eq!(json.as_object().unwrap().len(), names.len());
    // A trades-table row, on prices with exact arithmetic.
    let m = ramp(10);
    let config = Config {
        commission: Commission::relative(0.001),
        stop_loss_pct: Some(50.0),
        ..Config::default()
    };
    let r = run(&m, &Sig::new(10).le(&[2]).lx(&[5]), &config);
    insta::assert_snapshot!(
        "trade_row",
        serde_json::to_string_pretty(&r.trades[0]).unwrap()
    );
}

#[test]
fn tiny_inputs_do_not_panic() {
    for n in 1..5 {
        let m = ramp(n);
        let all: Vec<usize> = (0..n).collect();
        for config in [
            Config::default(),
            Config {
                fill: Fill::Close,
                finalize_trades: true,
                stop_loss_pct: Some(1.0),
                ..Config::default()
            },
        ] {
            let r = run(&m, &Sig::new(n).le(&all), &config);
            assert_eq!(r.equity.equity.len(), n);
            assert_eq!(r.stats.equity_final, *r.equity.equity.last().unwrap());
            assert_eq!(r.stats.duration, (n - 1) as f64);
        }
        // A warm-up longer than the data: nothing trades, Buy & Hold is undefined.
        let s = Sig::new(n);
        let signals = s.signals().with_warmup(10);
        let r = backtest(&m.bars(), &signals, &Config::default()).unwrap();
        assert!(r.trades.is_empty() && r.stats.buy_hold_return_pct.is_nan());
    }
    // Signals of the wrong length are refused.
    let m = ramp(5);
    let short = [false; 4];
    let err = backtest(
        &m.bars(),
        &quantd_backtest::Signals::long_only(&short, &short),
        &Config::default(),
    );
    assert_eq!(
        err.unwrap_err().to_string(),
        "signals: column `long_entry` has 4 rows but `time` has 5; every column must have one row per bar"
    );
}
