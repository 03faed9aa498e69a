//! Throughput of a typical scanner over a synthetic market: 10,000 tickers of 1,260 bars
//! (12.6 M bars), one workspace reused across tickers, as the expression runner does.
//!
//! `cargo run --release -p quantd-expr --example scan_bench [-- 'more scanner code' ...]`
//!
//! Each line gives the measured nanoseconds per bar (one thread) next to the program's
//! [`quantd_expr::Cost::work_per_bar`], whose units are calibrated to be about one nanosecond.
//! `QUANTD_BENCH_REPEAT=n` runs each program n times and reports the fastest run (default 1).
//! Programs that use functions of time (`vwap`, `hour`, …) get a clock of minute bars: sessions
//! of 390 bars from 09:30, Monday to Friday.

use std::time::Instant;

use quantd_expr::{Params, Schema, Workspace, compile, compile_set};

fn main() {
    let tickers = 10_000;
    let bars = 1_260;
    // One long synthetic series, sliced per ticker (the data is not what is measured).
    let mut close = Vec::with_capacity(tickers * bars);
    let mut volume = Vec::with_capacity(tickers * bars);
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut price = 100.0;
    for i in 0..tickers * bars {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let r = (state >> 11) as f64 / (1u64 << 53) as f64;
        if i % bars == 0 {
            price = 100.0;
        }
        price *= 1.0 + (r - 0.5) * 0.04;
        close.push(price);
        volume.push(1000.0 + r * 9000.0);
    }

    let scanner = "let ma50 = sma(close, 50);\nlet r = rsi(close, 14);\nclose > ma50 and r < 45 and volume > sma(volume, 20)";
    let strategy = [
        (
            "entry",
            "crosses_above(ema(close, 12), ema(close, 26)) and rising(close, 3)",
        ),
        (
            "exit",
            "crosses_below(ema(close, 12), ema(close, 26)) or close < lowest(close, 20)[1]",
        ),
    ];
    let schema = Schema::ohlcv();
    let params = Params::new();
    let repeat: usize = std::env::var("QUANTD_BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let extra: Vec<(String, quantd_expr::Program)> = std::env::args()
        .skip(1)
        .map(|src| {
            let p =
                compile(&src, &schema, &params).unwrap_or_else(|e| panic!("{}", e.render(&src)));
            (src, p)
        })
        .collect();
    let programs = [
        (
            "scanner",
            compile(scanner, &schema, &params).expect("valid"),
        ),
        (
            "strategy",
            compile_set(&strategy, &schema, &params).expect("valid"),
        ),
    ];
    // Open, high and low (for the extra programs that read them): around the closes.
    let needs = |c: &str| {
        extra
            .iter()
            .any(|(_, p)| p.columns().iter().any(|x| x == c))
    };
    let derived = |f: fn(usize, f64) -> f64| -> Vec<f64> {
        close.iter().enumerate().map(|(i, &c)| f(i, c)).collect()
    };
    let open = if needs("open") {
        derived(|i, c| c * (1.0 + 0.003 * ((i % 7) as f64 - 3.0) / 3.0))
    } else {
        Vec::new()
    };
    let high = if needs("high") {
        derived(|i, c| c * (1.0 + 0.01 * ((i % 5) as f64 + 1.0) / 5.0))
    } else {
        Vec::new()
    };
    let low = if needs("low") {
        derived(|i, c| c * (1.0 - 0.01 * ((i % 3) as f64 + 1.0) / 3.0))
    } else {
        Vec::new()
    };
    // The clock (for the extra programs that read it): minute bars, 390 to a session.
    let clock = |f: fn(usize) -> f64| -> Vec<f64> {
        if extra
            .iter()
            .any(|(_, p)| p.columns().iter().any(|c| quantd_expr::is_clock_column(c)))
        {
            (0..tickers * bars).map(|i| f(i % bars)).collect()
        } else {
            Vec::new()
        }
    };
    let session = clock(|i| (19_723 + i / 390) as f64);
    let minute_of_day = clock(|i| (570 + i % 390) as f64);
    let weekday = clock(|i| ((i / 390) % 5) as f64);
    let all = programs
        .iter()
        .map(|(n, p)| (*n, p))
        .chain(extra.iter().map(|(n, p)| (n.as_str(), p)));
    for (name, program) in all {
        let mut ws = Workspace::new();
        let mut hits = 0usize;
        let mut elapsed = std::time::Duration::MAX;
        for _ in 0..repeat {
            hits = 0;
            let start = Instant::now();
            for t in 0..tickers {
                let range = t * bars..(t + 1) * bars;
                let cols: Vec<&[f64]> = program
                    .columns()
                    .iter()
                    .map(|c| match c.as_str() {
                        "close" => &close[range.clone()],
                        "volume" => &volume[range.clone()],
                        "open" => &open[range.clone()],
                        "high" => &high[range.clone()],
                        "low" => &low[range.clone()],
                        quantd_expr::clock::SESSION => &session[range.clone()],
                        quantd_expr::clock::MINUTE_OF_DAY => &minute_of_day[range.clone()],
                        quantd_expr::clock::WEEKDAY => &weekday[range.clone()],
                        other => panic!("unexpected column {other}"),
                    })
                    .collect();
                let eval = program.evaluate(&cols, &mut ws).expect("columns fit");
                hits += eval.output(0).iter().filter(|v| **v).count();
            }
            elapsed = elapsed.min(start.elapsed());
        }
        println!(
            "{name}: {} bars in {:.1} ms ({:.0} M bars/s, {:.2} ns/bar; cost model {:.2} units/bar), {} nodes, {hits} hits",
            tickers * bars,
            elapsed.as_secs_f64() * 1e3,
            (tickers * bars) as f64 / elapsed.as_secs_f64() / 1e6,
            elapsed.as_secs_f64() * 1e9 / (tickers * bars) as f64,
            program.cost().work_per_bar,
            program.explain().lines().count(),
        );
    }
}
