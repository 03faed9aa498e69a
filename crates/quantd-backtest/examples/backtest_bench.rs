//! Timing of quantd-backtest: one backtest of backtesting.py's Quick Start on GOOG, and a
//! parameter sweep of an SMA-cross reversal over synthetic GBM tickers.
//!
//! ```text
//! cargo run --release -p quantd-backtest --example backtest_bench -- [--tickers 500] [--bars 2520] [--threads N] [--runs 2000]
//! ```
//!
//! GOOG comes from backtesting.py's sample (through `scripts/pyenv`); without the reference venv
//! the single-backtest timing uses 2,148 synthetic bars instead. Prints backtests per second and
//! the process's peak resident memory (VmHWM).

use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use quantd_backtest::{
    Bars, Commission, Config, Goal, Metric, ParamGrid, ParamSet, SeriesCache, SignalBuffers,
    Signals, Sweep, Ticker, TopN, backtest, crossover, from_fn, warmup_of,
};

struct Ohlc {
    time: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
}

impl Ohlc {
    fn bars(&self) -> Bars<'_> {
        Bars::new(&self.time, &self.open, &self.high, &self.low, &self.close).unwrap()
    }
}

/// SplitMix64 normal deviates.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (((z ^ (z >> 31)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn gbm(seed: u64, n: usize) -> Ohlc {
    let mut rng = Rng(seed);
    let mut time = Vec::with_capacity(n);
    let mut d = 14_613; // 2010-01-04, a Monday
    while time.len() < n {
        if (d + 3) % 7 < 5 {
            time.push(d * quantd_backtest::calendar::NANOS_PER_DAY);
        }
        d += 1;
    }
    let mut o = Ohlc {
        time,
        open: Vec::with_capacity(n),
        high: Vec::with_capacity(n),
        low: Vec::with_capacity(n),
        close: Vec::with_capacity(n),
    };
    let mut prev = 100.0;
    for _ in 0..n {
        let open = prev * (1.0 + 0.004 * rng.normal());
        let close = open * (0.0002 + 0.02 * rng.normal()).exp();
        o.high.push(open.max(close) * (1.0 + 0.01 * rng.uniform()));
        o.low.push(open.min(close) * (1.0 - 0.01 * rng.uniform()));
        o.open.push(open);
        o.close.push(close);
        prev = close;
    }
    o
}

/// backtesting.py's GOOG sample via the reference venv, if it is available.
fn goog() -> Option<Ohlc> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let py = Command::new(root.join("scripts/pyenv")).output().ok()?;
    if !py.status.success() {
        return None;
    }
    let python = String::from_utf8(py.stdout).ok()?;
    let code = "from backtesting.test import GOOG\n\
                for t, r in GOOG.iterrows():\n    \
                print(int(t.timestamp() // 86400) * 86400 * 10**9, r.Open, r.High, r.Low, r.Close)";
    let out = Command::new(python.trim())
        .args(["-c", code])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut o = Ohlc {
        time: vec![],
        open: vec![],
        high: vec![],
        low: vec![],
        close: vec![],
    };
    for line in String::from_utf8(out.stdout).ok()?.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        o.time.push(f[0].parse().ok()?);
        o.open.push(f[1].parse().ok()?);
        o.high.push(f[2].parse().ok()?);
        o.low.push(f[3].parse().ok()?);
        o.close.push(f[4].parse().ok()?);
    }
    Some(o)
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// The Quick Start: SMA(10)/SMA(20) cross, long/short reversal, commission 0.2 %.
fn quick_start(o: &Ohlc, config: &Config) -> f64 {
    let n = o.close.len();
    let (mut fast, mut slow) = (vec![0.0; n], vec![0.0; n]);
    quantd_ta::sma(&o.close, 10, &mut fast).unwrap();
    quantd_ta::sma(&o.close, 20, &mut slow).unwrap();
    let (mut up, mut down) = (vec![false; n], vec![false; n]);
    crossover(&fast, &slow, &mut up);
    crossover(&slow, &fast, &mut down);
    let none = vec![false; n];
    let signals = Signals::long_only(&up, &none)
        .with_short(&down, &none)
        .with_warmup(warmup_of(&[&fast, &slow]));
    backtest(&o.bars(), &signals, config)
        .unwrap()
        .stats
        .return_pct
}

fn sma_cross(
    t: &Ticker<'_>,
    p: &ParamSet<'_>,
    cache: &mut SeriesCache,
    out: &mut SignalBuffers,
) -> Result<(), quantd_backtest::sweep::BoxError> {
    let close = t.bars.close();
    let fast_n = p.usize("fast", 1)?;
    let slow_n = p.usize("slow", 1)?;
    let fast = cache.ensure(&[fast_n as u64], |o| quantd_ta::sma(close, fast_n, o))?;
    let slow = cache.ensure(&[slow_n as u64], |o| quantd_ta::sma(close, slow_n, o))?;
    let (fast, slow) = (cache.get(fast), cache.get(slow));
    crossover(fast, slow, &mut out.long_entry);
    crossover(slow, fast, &mut out.short_entry);
    out.warmup = warmup_of(&[fast, slow]);
    Ok(())
}

fn main() {
    let config = Config {
        commission: Commission::relative(0.002),
        exclusive_orders: true,
        ..Config::default()
    };

    // 1. One backtest on GOOG (signals + simulation + stats + trades table + equity curve).
    let runs = arg("--runs", 2000);
    let (name, data) = match goog() {
        Some(g) => ("GOOG", g),
        None => ("synthetic (no reference venv)", gbm(7, 2148)),
    };
    let mut check = 0.0;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t0 = Instant::now();
        check += quick_start(&data, &config);
        times.push(t0.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "single backtest, {name}, {} bars: median {:.1} µs, mean {:.1} µs over {runs} runs (Return {:.5} %)",
        data.close.len(),
        times[runs / 2] * 1e6,
        times.iter().sum::<f64>() / runs as f64 * 1e6,
        check / runs as f64
    );

    // 2. The sweep.
    let n_tickers = arg("--tickers", 500);
    let n_bars = arg("--bars", 2520);
    let threads = arg(
        "--threads",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let t0 = Instant::now();
    let data: Vec<Ohlc> = (0..n_tickers as u64)
        .map(|s| gbm(1000 + s, n_bars))
        .collect();
    let names: Vec<String> = (0..n_tickers).map(|i| format!("SYN{i:04}")).collect();
    let tickers: Vec<Ticker<'_>> = data
        .iter()
        .zip(&names)
        .map(|(o, name)| Ticker {
            name,
            bars: o.bars(),
        })
        .collect();
    let gen_time = t0.elapsed();
    let grid = ParamGrid::parse(&["fast=5..50:5", "slow=20..200:20"]).unwrap();
    let fast_lt_slow = |p: &ParamSet<'_>| p.values()[0] < p.values()[1];
    let mut top = TopN::new(Metric::SharpeRatio, Goal::Maximize, 10);
    let t0 = Instant::now();
    let summary = Sweep::new(&tickers, &grid, &config)
        .constraint(&fast_lt_slow)
        .threads(threads)
        .run(&from_fn(sma_cross), |row| {
            top.push(row);
            ControlFlow::Continue(())
        })
        .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let best = top.into_sorted();
    println!(
        "sweep: {n_tickers} tickers × {} param sets ({} before fast<slow) × {n_bars} bars on {threads} threads: \
         {} backtests in {secs:.2} s = {:.0} backtests/s ({:.0}/s per thread); data generated in {:.2} s",
        summary.param_sets,
        grid.len(),
        summary.delivered,
        summary.delivered as f64 / secs,
        summary.delivered as f64 / secs / threads as f64,
        gen_time.as_secs_f64()
    );
    if let Some(b) = best.first() {
        println!(
            "best Sharpe: {} with {:?} = {:.4}",
            names[b.ticker],
            b.params,
            b.value(Metric::SharpeRatio).unwrap()
        );
    }
    println!("peak RSS (VmHWM): {:.1} MiB", peak_rss_mib());
}
