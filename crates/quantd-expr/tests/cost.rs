//! [`Program::cost`]: what a program costs per bar, from its plan alone. Work grows with the
//! period only for kernels that are O(period) per bar, repeated code counts once, the memory per
//! bar is what a workspace really keeps, and pricing a program is free.

use std::time::Instant;

use quantd_expr::{Cost, Params, Program, Schema, Workspace, compile, compile_set};

fn program(src: &str) -> Program {
    compile(src, &Schema::ohlcv(), &Params::new()).unwrap_or_else(|e| panic!("{}", e.render(src)))
}

fn cost(src: &str) -> Cost {
    program(src).cost()
}

const REFERENCE: &str =
    "close < sma(close, 50) and rsi(close, 14) < 30 and volume > 2 * sma(volume, 20)";

#[test]
fn the_reference_scan_is_a_few_units_per_bar() {
    let c = cost(REFERENCE);
    // Calibrated: ~3 ns per bar on one core of the project machine (docs/expressions.md).
    assert!((2.0..=5.0).contains(&c.work_per_bar), "{c:?}");
    assert_eq!(c.outputs, 0);
    assert_eq!(c.kernel_calls, 3);
    assert_eq!(c.max_lookback, 49);
    // 12.6 M bars: a budget of 1 s of one core holds it with room to spare.
    assert!(c.work(12_600_000) < 1e9);
}

#[test]
fn o1_kernels_cost_the_same_whatever_the_period() {
    for f in [
        "sma(close, {p})",
        "ema(close, {p})",
        "wma(close, {p})",
        "rsi(close, {p})",
        "roc(close, {p})",
        "highest(close, {p})",
        "lowest(close, {p})",
        "stddev(close, {p})",
        "bbands(close, {p}, 2).upper",
        "atr(high, low, close, {p})",
        "adx(high, low, close, {p})",
        "willr(high, low, close, {p})",
        "stoch(high, low, close, {p}, 3, 3).k",
        "macd(close, 12, {p}, 9).signal",
        "close[{p}]",
        "pct_change(close, {p})",
        "rising(close, {p})",
        // Past the direct kernel, CCI is O(log n) per bar whatever the period.
        "cci(high, low, close, {p} + 100)",
    ] {
        let at = |p: u32| {
            let call = f.replace("{p}", &p.to_string());
            cost(&if f.starts_with("rising") {
                call
            } else {
                format!("{call} > 0")
            })
        };
        let (short, long) = (at(30), at(99_000));
        assert_eq!(short.work_per_bar, long.work_per_bar, "{f}");
        assert_eq!(short.bytes_per_bar, long.bytes_per_bar, "{f}");
        assert!(long.max_lookback >= short.max_lookback + 98_970, "{f}");
    }
}

#[test]
fn o_period_kernels_cost_their_period() {
    // CCI sums its window while the period is short (TA-Lib's exact algorithm).
    let at = |p: u32| cost(&format!("cci(high, low, close, {p}) > 0")).work_per_bar;
    assert!(
        at(10) < at(20) && at(20) < at(64),
        "{} {} {}",
        at(10),
        at(20),
        at(64)
    );
    // Beyond, a bounded cost, and more scratch memory per bar.
    let long = cost("cci(high, low, close, 100000) > 0");
    assert!(long.work_per_bar < 1_000.0, "{long:?}");
    assert!(long.bytes_per_bar > cost("cci(high, low, close, 64) > 0").bytes_per_bar);
    // `rising` compares bar by bar up to 16 bars, then keeps a queue.
    let rising = |n: u32| cost(&format!("rising(close, {n})"));
    assert!(rising(2).work_per_bar < rising(16).work_per_bar);
    assert_eq!(rising(17).work_per_bar, rising(5_000).work_per_bar);
    assert!(rising(17).bytes_per_bar > rising(16).bytes_per_bar);
}

#[test]
fn repeated_code_counts_once() {
    let once = cost("sma(close, 20) > open");
    let twice = cost("sma(close, 20) > open and sma(close, 20) > open");
    assert_eq!(once, twice);
    let set = compile_set(
        &[
            ("a", "sma(close, 20) > open"),
            ("b", "sma(close, 20) < open"),
        ],
        &Schema::ohlcv(),
        &Params::new(),
    )
    .unwrap()
    .cost();
    assert_eq!(set.kernel_calls, 1);
    // A kernel with several outputs counts once, whichever outputs are used.
    let one_field = cost("macd(close, 12, 26, 9).macd > 0");
    let all_fields = cost(
        "macd(close, 12, 26, 9).macd > macd(close, 12, 26, 9).signal and macd(close, 12, 26, 9).hist > 0",
    );
    assert_eq!(all_fields.kernel_calls, 1);
    assert_eq!(all_fields.bytes_per_bar, one_field.bytes_per_bar);
    assert!(all_fields.work_per_bar - one_field.work_per_bar < 0.5);
    let more = cost("sma(close, 20) > open and ema(close, 20) > open");
    assert!(more.work_per_bar > once.work_per_bar);
    assert!(more.bytes_per_bar > once.bytes_per_bar);
}

#[test]
fn outputs_and_lookback() {
    let c = cost("let a = sma(rsi(close, 14), 5);\nlet b = a[3];\nlet up = close > open;\nb > 50");
    assert_eq!(c.outputs, 3);
    assert_eq!(c.max_lookback, 14 + 4 + 3);
}

#[test]
fn bytes_per_bar_are_what_a_workspace_keeps() {
    let bars = 5_000;
    let close: Vec<f64> = (0..bars).map(|i| 100.0 + (i as f64 * 0.1).sin()).collect();
    for src in [
        REFERENCE,
        "let m = macd(close, 12, 26, 9).hist;\nm > 0 and rising(close, 40) and not (close > open)",
        "cci(high, low, close, 500) > 100 or cci(high, low, close, 20) < -100",
        "bbands(close, 20, 2).upper < close and stddev(close, 50) > 1",
    ] {
        let p = program(src);
        let cols: Vec<&[f64]> = p.columns().iter().map(|_| close.as_slice()).collect();
        let mut ws = Workspace::new();
        p.evaluate(&cols, &mut ws).unwrap();
        let kept = ws.capacity_bytes() as u64;
        let priced = p.cost().bytes(bars as u64);
        assert!(
            kept <= priced + 4096,
            "{src}: keeps {kept}, priced {priced}"
        );
        assert!(
            kept * 10 >= priced * 9,
            "{src}: keeps {kept}, priced {priced}"
        );
    }
}

#[test]
fn pricing_is_free() {
    // The largest program the default limits let through: pricing it does not read data and
    // costs nothing once compiled.
    let src: Vec<String> = (0..1_600)
        .map(|i| format!("close > sma(close, {})", i + 2))
        .collect();
    let limits = quantd_expr::Limits {
        max_kernel_calls: 10_000,
        max_slots: 10_000,
        ..Default::default()
    };
    let p = quantd_expr::compile_with(&src.join(" or "), &Schema::ohlcv(), &Params::new(), &limits)
        .unwrap();
    let start = Instant::now();
    let mut total = 0.0;
    for _ in 0..1_000_000 {
        total += std::hint::black_box(&p).cost().work_per_bar;
    }
    assert!(total > 0.0);
    assert!(start.elapsed().as_secs_f64() < 1.0, "{:?}", start.elapsed());
    assert_eq!(p.cost().kernel_calls, 1_600);
}
