//! Micro benchmark: nanoseconds per bar of every kernel on one long random-walk series.
//!
//! `cargo run --release -p quantd-ta --example bench [bars]` (default 1,000,000 bars). Each kernel
//! runs a few times over the whole series into a preallocated output; the best run is reported.

use quantd_ta as ta;
use std::hint::black_box;
use std::time::Instant;

/// A kernel run writing into up to three output slices.
type Run<'a> = dyn FnMut(&mut [f64], &mut [f64], &mut [f64]) + 'a;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("bars: a positive integer"))
        .unwrap_or(1_000_000);
    let (high, low, close, volume) = random_walk(n);
    let (mut a, mut b, mut c) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);

    let mut bench = |name: &str, f: &mut Run| {
        let mut best = f64::INFINITY;
        for _ in 0..7 {
            let t = Instant::now();
            f(&mut a, &mut b, &mut c);
            black_box((&a, &b, &c));
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{name:<22} {:>7.2} ns/bar", best * 1e9 / n as f64);
    };
    let (h, l, x, v) = (&high[..], &low[..], &close[..], &volume[..]);
    bench("sma(20)", &mut |o, _, _| ta::sma(x, 20, o).unwrap());
    bench("ema(20)", &mut |o, _, _| ta::ema(x, 20, o).unwrap());
    bench("wma(20)", &mut |o, _, _| ta::wma(x, 20, o).unwrap());
    bench("rsi(14)", &mut |o, _, _| ta::rsi(x, 14, o).unwrap());
    bench("atr(14)", &mut |o, _, _| ta::atr(h, l, x, 14, o).unwrap());
    bench("natr(14)", &mut |o, _, _| ta::natr(h, l, x, 14, o).unwrap());
    bench("macd(12,26,9)", &mut |m, s, hist| {
        let out = ta::MacdOut {
            macd: m,
            signal: s,
            hist,
        };
        ta::macd(x, 12, 26, 9, out).unwrap()
    });
    bench("bbands(20,2,2)", &mut |u, m, l| {
        let out = ta::BandsOut {
            upper: u,
            middle: m,
            lower: l,
        };
        ta::bbands(x, 20, 2.0, 2.0, out).unwrap()
    });
    bench("stddev(20)", &mut |o, _, _| {
        ta::stddev(x, 20, 1.0, o).unwrap()
    });
    bench("roc(10)", &mut |o, _, _| ta::roc(x, 10, o).unwrap());
    bench("mom(10)", &mut |o, _, _| ta::mom(x, 10, o).unwrap());
    bench("max(20)", &mut |o, _, _| ta::max(x, 20, o).unwrap());
    bench("min(250)", &mut |o, _, _| ta::min(x, 250, o).unwrap());
    bench("obv", &mut |o, _, _| ta::obv(x, v, o).unwrap());
    bench("stoch(14,3,3)", &mut |k, d, _| {
        ta::stoch(h, l, x, 14, 3, 3, ta::StochOut { k, d }).unwrap()
    });
    bench("adx(14)", &mut |o, _, _| ta::adx(h, l, x, 14, o).unwrap());
    bench("cci(20)", &mut |o, _, _| ta::cci(h, l, x, 20, o).unwrap());
    bench("cci(64)", &mut |o, _, _| ta::cci(h, l, x, 64, o).unwrap());
    let mut scratch = ta::Scratch::new();
    for p in [65, 1_000, 100_000] {
        bench(&format!("cci({p})"), &mut |o, _, _| {
            ta::cci_with(h, l, x, p, o, &mut scratch).unwrap()
        });
    }
    bench("stddev(100000)", &mut |o, _, _| {
        ta::stddev(x, 100_000, 1.0, o).unwrap()
    });
    // A price stuck at a one-cent floor: TA-Lib's standard deviation would re-sum the window
    // on every bar; the kernel bounds that and finishes in O(1) per bar.
    let floor: Vec<f64> = x.iter().map(|_| 0.01).collect();
    bench("stddev(20) floor", &mut |o, _, _| {
        ta::stddev(&floor, 20, 1.0, o).unwrap()
    });
    bench("stddev(100000) floor", &mut |o, _, _| {
        ta::stddev(&floor, 100_000, 1.0, o).unwrap()
    });
    bench("willr(14)", &mut |o, _, _| {
        ta::willr(h, l, x, 14, o).unwrap()
    });
}

/// A deterministic random walk (xorshift), with highs and lows around the closes.
fn random_walk(n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut high, mut low, mut close, mut volume) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut price = 100.0;
    for _ in 0..n {
        price *= 1.0 + 0.02 * (uniform() - 0.5);
        close.push(price);
        high.push(price * (1.0 + 0.01 * uniform()));
        low.push(price * (1.0 - 0.01 * uniform()));
        volume.push((1e5 * uniform()).round());
    }
    (high, low, close, volume)
}
