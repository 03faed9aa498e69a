//! Evaluation against straightforward per-bar reference loops, plan sharing, warm-up, and the
//! workspace contract.

use quantd_expr::{EvalError, Params, Program, Schema, Workspace, compile, compile_set};

/// One ticker's bars: a seeded random walk with consistent OHLC and some flat stretches.
struct Bars {
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

fn bars(n: usize, seed: u64) -> Bars {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let mut b = Bars {
        open: vec![],
        high: vec![],
        low: vec![],
        close: vec![],
        volume: vec![],
    };
    let mut price = 100.0;
    for i in 0..n {
        let open = price;
        // Every 17th bar repeats the price exactly, so equalities and flat windows occur.
        let close = if i % 17 == 5 {
            open
        } else {
            open * (1.0 + (next() - 0.5) * 0.06)
        };
        b.open.push(open);
        b.close.push(close);
        b.high.push(open.max(close) * (1.0 + next() * 0.01));
        b.low.push(open.min(close) * (1.0 - next() * 0.01));
        b.volume.push((1000.0 + next() * 9000.0).round());
        price = close;
    }
    b
}

impl Bars {
    fn column(&self, name: &str) -> &[f64] {
        match name {
            "open" => &self.open,
            "high" => &self.high,
            "low" => &self.low,
            "close" => &self.close,
            "volume" => &self.volume,
            other => panic!("no column {other}"),
        }
    }
}

fn program(src: &str) -> Program {
    compile(src, &Schema::ohlcv(), &Params::new()).unwrap_or_else(|e| panic!("{}", e.render(src)))
}

fn evaluate(p: &Program, b: &Bars) -> (Vec<Vec<bool>>, Vec<Vec<f64>>) {
    let cols: Vec<&[f64]> = p.columns().iter().map(|c| b.column(c)).collect();
    let mut ws = Workspace::new();
    let e = p.evaluate(&cols, &mut ws).unwrap();
    let outs = (0..p.outputs().len())
        .map(|i| e.output(i).to_vec())
        .collect();
    let inds = (0..p.indicators().len())
        .map(|i| e.indicator(i).to_vec())
        .collect();
    (outs, inds)
}

/// The values of a number expression (as the indicator of a `let`).
fn series(expr: &str, b: &Bars) -> Vec<f64> {
    let (_, mut inds) = evaluate(&program(&format!("let v = {expr};\nv == v")), b);
    inds.remove(0)
}

/// The values of a condition.
fn cond(expr: &str, b: &Bars) -> Vec<bool> {
    let (mut outs, _) = evaluate(&program(expr), b);
    outs.remove(0)
}

/// Equal, NaN where NaN, values within `tol` relative.
#[track_caller]
fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        if e.is_nan() {
            assert!(a.is_nan(), "bar {i}: expected NaN, got {a}");
        } else {
            assert!(
                (a - e).abs() <= tol * e.abs().max(1.0),
                "bar {i}: expected {e}, got {a}"
            );
        }
    }
}

fn shifted(x: &[f64], n: usize) -> Vec<f64> {
    (0..x.len())
        .map(|i| if i >= n { x[i - n] } else { f64::NAN })
        .collect()
}

/// `f` over the window of the last `n` bars ending at each bar (NaN before it is full).
fn rolling(x: &[f64], n: usize, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            if i + 1 >= n {
                f(&x[i + 1 - n..=i])
            } else {
                f64::NAN
            }
        })
        .collect()
}

fn mean(w: &[f64]) -> f64 {
    w.iter().sum::<f64>() / w.len() as f64
}

fn pstdev(w: &[f64]) -> f64 {
    let m = mean(w);
    (w.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / w.len() as f64).sqrt()
}

const N: usize = 300;

#[test]
fn arithmetic_and_unary_minus() {
    let b = bars(N, 1);
    let got = series("(close - open) * 2 / high + -low - 1e-3", &b);
    let want: Vec<f64> = (0..N)
        .map(|i| (b.close[i] - b.open[i]) * 2.0 / b.high[i] + -b.low[i] - 1e-3)
        .collect();
    assert_close(&got, &want, 0.0);
}

#[test]
fn comparisons_are_false_on_nan() {
    let b = bars(N, 2);
    let x = shifted(&b.close, 2);
    type Reference = fn(f64, f64) -> bool;
    let ops: [(&str, Reference); 6] = [
        ("<", |a, c| a < c),
        ("<=", |a, c| a <= c),
        (">", |a, c| a > c),
        (">=", |a, c| a >= c),
        ("==", |a, c| a == c),
        ("!=", |a, c| !a.is_nan() && !c.is_nan() && a != c),
    ];
    for (op, f) in ops {
        let got = cond(&format!("close[2] {op} open"), &b);
        let want: Vec<bool> = (0..N).map(|i| f(x[i], b.open[i])).collect();
        assert_eq!(got, want, "{op}");
        assert!(!got[0] && !got[1], "{op} on NaN must be false");
        // Against a constant, both ways round.
        let got = cond(&format!("100 {op} close[2]"), &b);
        let want: Vec<bool> = (0..N).map(|i| f(100.0, x[i])).collect();
        assert_eq!(got, want, "100 {op}");
    }
    // Equal prices exist in the data, so `==` is tested on true cases too.
    assert!(cond("close == open", &b).iter().any(|v| *v));
}

#[test]
fn logic() {
    let b = bars(N, 3);
    let got = cond(
        "close > open and volume > 5000 or not (high - low > 1) and close[1] < 100",
        &b,
    );
    let prev = shifted(&b.close, 1);
    let want: Vec<bool> = (0..N)
        .map(|i| {
            (b.close[i] > b.open[i] && b.volume[i] > 5000.0)
                || (b.high[i] - b.low[i] <= 1.0 && prev[i] < 100.0)
        })
        .collect();
    assert_eq!(got, want);
    assert!(want.iter().any(|v| *v) && want.iter().any(|v| !*v));
}

#[test]
fn shift_and_index() {
    let b = bars(N, 4);
    assert_close(&series("close[3]", &b), &shifted(&b.close, 3), 0.0);
    assert_close(&series("shift(close, 3)", &b), &shifted(&b.close, 3), 0.0);
    assert_close(&series("close[0]", &b), &b.close, 0.0);
    assert_close(&series("close[1][1]", &b), &shifted(&b.close, 2), 0.0);
    // A condition n bars ago; false for the first n bars.
    let up: Vec<bool> = (0..N).map(|i| b.close[i] > b.open[i]).collect();
    let got = cond("shift(close > open, 2)", &b);
    let want: Vec<bool> = (0..N).map(|i| i >= 2 && up[i - 2]).collect();
    assert_eq!(got, want);
    assert_eq!(cond("(close > open)[2]", &b), want);
}

#[test]
fn pct_change() {
    let b = bars(N, 5);
    let got = series("pct_change(close, 5)", &b);
    let want: Vec<f64> = (0..N)
        .map(|i| {
            if i >= 5 {
                b.close[i] / b.close[i - 5] - 1.0
            } else {
                f64::NAN
            }
        })
        .collect();
    assert_close(&got, &want, 0.0);
}

#[test]
fn crosses() {
    let b = bars(N, 6);
    let fast = series("sma(close, 3)", &b);
    let slow = series("sma(close, 10)", &b);
    let above = cond("crosses_above(sma(close, 3), sma(close, 10))", &b);
    let below = cond("crosses_below(sma(close, 3), sma(close, 10))", &b);
    for i in 0..N {
        let (a_up, a_dn) = if i == 0 {
            (false, false)
        } else {
            (
                fast[i] > slow[i] && fast[i - 1] <= slow[i - 1],
                fast[i] < slow[i] && fast[i - 1] >= slow[i - 1],
            )
        };
        assert_eq!(above[i], a_up, "above at {i}");
        assert_eq!(below[i], a_dn, "below at {i}");
    }
    assert!(
        above.iter().filter(|v| **v).count() >= 3,
        "the data must cross a few times"
    );
    // Against a constant level.
    let got = cond("crosses_above(close, 100)", &b);
    let want: Vec<bool> = (0..N)
        .map(|i| i > 0 && b.close[i] > 100.0 && b.close[i - 1] <= 100.0)
        .collect();
    assert_eq!(got, want);
}

#[test]
fn rising_and_falling() {
    let b = bars(N, 7);
    // Put NaNs in the middle of a series: a window containing one is never rising or falling.
    let mut x = b.close.clone();
    x[100] = f64::NAN;
    x[101] = f64::NAN;
    let schema = Schema::new(["close", "x"]);
    for n in [1usize, 2, 3, 5, 12] {
        for (name, up) in [("rising", true), ("falling", false)] {
            let src = format!("{name}(x, {n})");
            let p = compile(&src, &schema, &Params::new()).unwrap();
            let mut ws = Workspace::new();
            let got = p.evaluate(&[&x], &mut ws).unwrap().output(0).to_vec();
            let want: Vec<bool> = (0..N)
                .map(|i| {
                    i >= n && (1..=n).all(|k| if up { x[i] > x[i - k] } else { x[i] < x[i - k] })
                })
                .collect();
            assert_eq!(got, want, "{src}");
            assert!(want.iter().any(|v| *v), "{src} never true in the data");
        }
    }
}

#[test]
fn highest_and_lowest() {
    let b = bars(N, 8);
    for n in [2usize, 5, 20] {
        let hi = rolling(&b.high, n, |w| w.iter().cloned().fold(f64::MIN, f64::max));
        let lo = rolling(&b.low, n, |w| w.iter().cloned().fold(f64::MAX, f64::min));
        assert_close(&series(&format!("highest(high, {n})"), &b), &hi, 0.0);
        assert_close(&series(&format!("lowest(low, {n})"), &b), &lo, 0.0);
    }
    // A window of one bar is the series itself.
    assert_close(&series("highest(high, 1)", &b), &b.high, 0.0);
    assert_close(&series("lowest(low, 1)", &b), &b.low, 0.0);
}

#[test]
fn abs_min_max() {
    let b = bars(N, 9);
    let x = shifted(&b.close, 1);
    let got = series("abs(close - open)", &b);
    let want: Vec<f64> = (0..N).map(|i| (b.close[i] - b.open[i]).abs()).collect();
    assert_close(&got, &want, 0.0);
    // NaN on either side gives NaN (not the other value, unlike f64::min).
    let got = series("min(close[1], open)", &b);
    let want: Vec<f64> = (0..N)
        .map(|i| {
            if i == 0 {
                f64::NAN
            } else {
                x[i].min(b.open[i])
            }
        })
        .collect();
    assert_close(&got, &want, 0.0);
    let got = series("max(open, close[1])", &b);
    let want: Vec<f64> = (0..N)
        .map(|i| {
            if i == 0 {
                f64::NAN
            } else {
                x[i].max(b.open[i])
            }
        })
        .collect();
    assert_close(&got, &want, 0.0);
    let got = series("max(close, 100)", &b);
    let want: Vec<f64> = b.close.iter().map(|c| c.max(100.0)).collect();
    assert_close(&got, &want, 0.0);
}

#[test]
fn moving_averages_match_reference_loops() {
    let b = bars(N, 10);
    assert_close(
        &series("sma(close, 20)", &b),
        &rolling(&b.close, 20, mean),
        1e-12,
    );
    let wma = rolling(&b.close, 10, |w| {
        let d = (w.len() * (w.len() + 1) / 2) as f64;
        w.iter()
            .enumerate()
            .map(|(j, v)| v * (j + 1) as f64)
            .sum::<f64>()
            / d
    });
    assert_close(&series("wma(close, 10)", &b), &wma, 1e-12);
    // EMA seeded with the SMA of the first `period` bars (TA-Lib's default).
    let p = 12;
    let k = 2.0 / (p as f64 + 1.0);
    let mut ema = vec![f64::NAN; N];
    ema[p - 1] = mean(&b.close[..p]);
    for i in p..N {
        ema[i] = ema[i - 1] + k * (b.close[i] - ema[i - 1]);
    }
    assert_close(&series("ema(close, 12)", &b), &ema, 1e-12);
}

#[test]
fn momentum_and_volatility_match_reference_loops() {
    let b = bars(N, 11);
    let roc: Vec<f64> = (0..N)
        .map(|i| {
            if i >= 10 {
                (b.close[i] / b.close[i - 10] - 1.0) * 100.0
            } else {
                f64::NAN
            }
        })
        .collect();
    assert_close(&series("roc(close, 10)", &b), &roc, 1e-12);
    let mom: Vec<f64> = (0..N)
        .map(|i| {
            if i >= 4 {
                b.close[i] - b.close[i - 4]
            } else {
                f64::NAN
            }
        })
        .collect();
    assert_close(&series("mom(close, 4)", &b), &mom, 1e-12);
    let sd = rolling(&b.close, 20, pstdev);
    assert_close(&series("stddev(close, 20)", &b), &sd, 1e-9);
    let sd2: Vec<f64> = sd.iter().map(|v| v * 2.0).collect();
    assert_close(&series("stddev(close, 20, 2)", &b), &sd2, 1e-9);
    let mid = rolling(&b.close, 20, mean);
    let upper: Vec<f64> = mid.iter().zip(&sd).map(|(m, s)| m + 2.0 * s).collect();
    let lower: Vec<f64> = mid.iter().zip(&sd).map(|(m, s)| m - 1.5 * s).collect();
    assert_close(&series("bbands(close, 20, 2, 1.5).upper", &b), &upper, 1e-9);
    assert_close(&series("bbands(close, 20, 2, 1.5).middle", &b), &mid, 1e-9);
    assert_close(&series("bbands(close, 20, 2, 1.5).lower", &b), &lower, 1e-9);
    // One nbdev applies to both sides.
    let lower2: Vec<f64> = mid.iter().zip(&sd).map(|(m, s)| m - 2.0 * s).collect();
    assert_close(&series("bbands(close, 20, 2).lower", &b), &lower2, 1e-9);
}

#[test]
fn volume_and_range_match_reference_loops() {
    let b = bars(N, 12);
    let mut obv = vec![0.0; N];
    obv[0] = b.volume[0];
    for i in 1..N {
        obv[i] = obv[i - 1]
            + if b.close[i] > b.close[i - 1] {
                b.volume[i]
            } else if b.close[i] < b.close[i - 1] {
                -b.volume[i]
            } else {
                0.0
            };
    }
    assert_close(&series("obv(close, volume)", &b), &obv, 0.0);
    let p = 14;
    let willr: Vec<f64> = (0..N)
        .map(|i| {
            if i + 1 < p {
                return f64::NAN;
            }
            let hh = b.high[i + 1 - p..=i]
                .iter()
                .cloned()
                .fold(f64::MIN, f64::max);
            let ll = b.low[i + 1 - p..=i]
                .iter()
                .cloned()
                .fold(f64::MAX, f64::min);
            -100.0 * (hh - b.close[i]) / (hh - ll)
        })
        .collect();
    assert_close(&series("willr(high, low, close, 14)", &b), &willr, 1e-12);
}

/// Every indicator is wired to its quantd-ta kernel with the inputs in the right order and the
/// fields mapped to the right outputs.
#[test]
fn indicators_are_wired_to_their_kernels() {
    let b = bars(N, 13);
    let (h, l, c, v) = (&b.high[..], &b.low[..], &b.close[..], &b.volume[..]);
    let one = |f: &dyn Fn(&mut [f64])| {
        let mut out = vec![0.0; N];
        f(&mut out);
        out
    };
    let cases: Vec<(&str, Vec<f64>)> = vec![
        (
            "rsi(close, 14)",
            one(&|o| quantd_ta::rsi(c, 14, o).unwrap()),
        ),
        (
            "atr(high, low, close, 14)",
            one(&|o| quantd_ta::atr(h, l, c, 14, o).unwrap()),
        ),
        (
            "natr(high, low, close, 14)",
            one(&|o| quantd_ta::natr(h, l, c, 14, o).unwrap()),
        ),
        (
            "adx(high, low, close, 14)",
            one(&|o| quantd_ta::adx(h, l, c, 14, o).unwrap()),
        ),
        (
            "cci(high, low, close, 20)",
            one(&|o| quantd_ta::cci(h, l, c, 20, o).unwrap()),
        ),
        (
            "willr(high, low, close, 14)",
            one(&|o| quantd_ta::willr(h, l, c, 14, o).unwrap()),
        ),
        (
            "obv(close, volume)",
            one(&|o| quantd_ta::obv(c, v, o).unwrap()),
        ),
        ("ema(close, 9)", one(&|o| quantd_ta::ema(c, 9, o).unwrap())),
        (
            "stddev(close, 10)",
            one(&|o| quantd_ta::stddev(c, 10, 1.0, o).unwrap()),
        ),
    ];
    for (src, want) in cases {
        assert_close(&series(src, &b), &want, 0.0);
    }

    let (mut m, mut s, mut hist) = (vec![0.0; N], vec![0.0; N], vec![0.0; N]);
    quantd_ta::macd(
        c,
        12,
        26,
        9,
        quantd_ta::MacdOut {
            macd: &mut m,
            signal: &mut s,
            hist: &mut hist,
        },
    )
    .unwrap();
    assert_close(&series("macd(close, 12, 26, 9).macd", &b), &m, 0.0);
    assert_close(&series("macd(close, 12, 26, 9).signal", &b), &s, 0.0);
    assert_close(&series("macd(close, 12, 26, 9).hist", &b), &hist, 0.0);

    let (mut k, mut d) = (vec![0.0; N], vec![0.0; N]);
    quantd_ta::stoch(
        h,
        l,
        c,
        14,
        3,
        3,
        quantd_ta::StochOut {
            k: &mut k,
            d: &mut d,
        },
    )
    .unwrap();
    assert_close(&series("stoch(high, low, close, 14, 3, 3).k", &b), &k, 0.0);
    assert_close(&series("stoch(high, low, close, 14, 3, 3).d", &b), &d, 0.0);
}

#[test]
fn indicators_of_indicators_skip_the_warm_up() {
    let b = bars(N, 14);
    let inner = rolling(&b.close, 3, mean);
    // The outer SMA starts where the inner one is defined.
    let want: Vec<f64> = (0..N)
        .map(|i| {
            if i >= 4 {
                mean(&inner[i - 2..=i])
            } else {
                f64::NAN
            }
        })
        .collect();
    assert_close(&series("sma(sma(close, 3), 3)", &b), &want, 1e-12);
    let nested = series("sma(rsi(close, 14), 5)", &b);
    assert!(nested[..18].iter().all(|v| v.is_nan()) && nested[18..].iter().all(|v| v.is_finite()));
}

/// The warm-up bound is exact for indicators: `E == E` first holds where `E` is first defined.
#[test]
fn warmup_is_where_values_start() {
    let b = bars(N, 15);
    let cases = [
        ("sma(close, 50)", 49),
        ("ema(close, 10)", 9),
        ("wma(close, 10)", 9),
        ("rsi(close, 14)", 14),
        ("roc(close, 10)", 10),
        ("mom(close, 10)", 10),
        ("atr(high, low, close, 14)", 14),
        ("natr(high, low, close, 14)", 14),
        ("adx(high, low, close, 14)", 27),
        ("cci(high, low, close, 20)", 19),
        ("willr(high, low, close, 14)", 13),
        ("obv(close, volume)", 0),
        ("stddev(close, 20)", 19),
        ("macd(close, 12, 26, 9).signal", 33),
        ("bbands(close, 20, 2).upper", 19),
        ("stoch(high, low, close, 14, 3, 3).d", 17),
        ("highest(high, 10)", 9),
        ("lowest(low, 10)", 9),
        ("shift(close, 3)", 3),
        ("pct_change(close, 3)", 3),
        ("sma(rsi(close, 14), 5)", 18),
        ("shift(sma(close, 5), 3) - close", 7),
        ("max(sma(close, 5), sma(close, 8))", 7),
    ];
    for (expr, expected) in cases {
        let p = program(&format!("({expr}) == ({expr})"));
        let (outs, _) = evaluate(&p, &b);
        let first = outs[0].iter().position(|v| *v).unwrap();
        assert_eq!((expr, first), (expr, expected), "first defined bar");
        assert_eq!((expr, p.warmup()), (expr, expected), "warmup()");
    }
}

#[test]
fn warm_up_rows_never_signal() {
    let b = bars(N, 16);
    for src in [
        "close > sma(close, 50)",
        "rsi(close, 14) < 101 and close > 0",
        "crosses_above(close, sma(close, 20))",
        "rising(sma(close, 10), 3)",
        "close != sma(close, 30)",
        "macd(close, 12, 26, 9).hist > -1000 or sma(close, 40) > 0",
        "shift(close > sma(close, 5), 4)",
    ] {
        let p = program(src);
        assert!(p.warmup() > 0, "{src}");
        let (outs, _) = evaluate(&p, &b);
        assert!(
            outs[0][..p.warmup()].iter().all(|v| !*v),
            "{src} true during warm-up"
        );
        assert!(outs[0][p.warmup()..].iter().any(|v| *v), "{src} never true");
    }
    // `not` is plain negation: warm-up rows, where the comparison is false, become true.
    let p = program("not (close > sma(close, 50))");
    assert_eq!(p.warmup(), 0);
    let (outs, _) = evaluate(&p, &b);
    assert!(outs[0][..49].iter().all(|v| *v));
}

#[test]
fn shared_sub_expressions_are_one_node() {
    let p = program("sma(close, 50) > 1 and sma(close, 50) < 2");
    let plan = p.explain();
    assert_eq!(plan.matches("sma(").count(), 1, "{plan}");
    // Through a `let`, and with the comparison written both ways round.
    let p = program("let a = sma(close, 50);\na > close and close < a and sma(close, 50) > close");
    let plan = p.explain();
    assert_eq!(plan.matches("sma(").count(), 1, "{plan}");
    assert_eq!(plan.lines().count(), 2, "{plan}");
    // Different periods are different nodes.
    assert_eq!(
        program("sma(close, 5) > sma(close, 6)")
            .explain()
            .matches("sma(")
            .count(),
        2
    );
}

#[test]
fn compile_set_shares_one_plan() {
    let entry = "crosses_above(sma(close, 10), sma(close, 30))";
    let exit = "crosses_below(sma(close, 10), sma(close, 30)) or close < lowest(low, 20)[1]";
    let set = compile_set(
        &[("entry", entry), ("exit", exit)],
        &Schema::ohlcv(),
        &Params::new(),
    )
    .unwrap();
    assert_eq!(set.outputs(), ["entry", "exit"]);
    assert_eq!(
        set.explain().matches("sma(").count(),
        2,
        "{}",
        set.explain()
    );
    let b = bars(N, 17);
    let (outs, _) = evaluate(&set, &b);
    assert_eq!(outs[0], cond(entry, &b));
    assert_eq!(outs[1], cond(exit, &b));
    assert!(outs[0].iter().any(|v| *v) && outs[1].iter().any(|v| *v));
    // A `let` with the same definition in both is one indicator.
    let set = compile_set(
        &[
            ("entry", "let fast = sma(close, 10);\nclose > fast"),
            ("exit", "let fast = sma(close, 10);\nclose < fast"),
        ],
        &Schema::ohlcv(),
        &Params::new(),
    )
    .unwrap();
    assert_eq!(set.indicators(), ["fast"]);
}

#[test]
fn params_are_substituted() {
    let b = bars(N, 18);
    let params: Params = [("n".to_string(), 7.0), ("lvl".to_string(), 45.0)].into();
    let p = compile(
        "rsi(close, $n) < $lvl and sma(close, $n * 2) > 0",
        &Schema::ohlcv(),
        &params,
    )
    .unwrap();
    assert_eq!(p.params(), ["lvl", "n"]);
    let (outs, _) = evaluate(&p, &b);
    assert_eq!(
        outs[0],
        cond("rsi(close, 7) < 45 and sma(close, 14) > 0", &b)
    );
    assert!(outs[0].iter().any(|v| *v));
}

#[test]
fn indicators_are_the_lets_in_order() {
    let b = bars(N, 19);
    let p = program(
        "let ma = sma(close, 5);\nlet up = close > ma;\nlet c = close;\nlet k = 3;\nup and ma > k",
    );
    assert_eq!(p.indicators(), ["ma", "up", "c", "k"]);
    let cols: Vec<&[f64]> = p.columns().iter().map(|c| b.column(c)).collect();
    let mut ws = Workspace::new();
    let e = p.evaluate(&cols, &mut ws).unwrap();
    assert_close(
        e.indicator_named("ma").unwrap(),
        &rolling(&b.close, 5, mean),
        1e-12,
    );
    let ma = rolling(&b.close, 5, mean);
    let up: Vec<f64> = (0..N)
        .map(|i| if b.close[i] > ma[i] { 1.0 } else { 0.0 })
        .collect();
    assert_eq!(e.indicator(1), up);
    assert_eq!(e.indicator(2), b.close);
    assert!(e.indicator(3).iter().all(|v| *v == 3.0));
    assert_eq!(e.output_named("signal").unwrap(), e.output(0));
    assert_eq!(e.len(), N);
}

#[test]
fn columns_are_the_used_ones_in_schema_order() {
    let schema = Schema::new(["open", "high", "low", "close", "volume", "vwap"]);
    let p = compile("vwap > close and volume > 0", &schema, &Params::new()).unwrap();
    assert_eq!(p.columns(), ["close", "volume", "vwap"]);
    let close = [1.0, 2.0, 3.0];
    let volume = [1.0, 1.0, 0.0];
    let vwap = [2.0, 1.0, 4.0];
    let mut ws = Workspace::new();
    let e = p.evaluate(&[&close, &volume, &vwap], &mut ws).unwrap();
    assert_eq!(e.output(0), [true, false, false]);
}

#[test]
fn constant_programs() {
    let p = program("1 < 2");
    assert_eq!(
        p.columns(),
        ["open"],
        "the first column gives the number of bars"
    );
    assert_eq!(p.warmup(), 0);
    let mut ws = Workspace::new();
    assert_eq!(
        p.evaluate(&[&[5.0, 6.0]], &mut ws).unwrap().output(0),
        [true, true]
    );
    let p = program("crosses_above(1, 2) and close > 0");
    assert_eq!(p.warmup(), usize::MAX);
}

#[test]
fn workspace_is_reused_across_tickers_and_programs() {
    let p = program(
        "let m = macd(close, 12, 26, 9).hist;\ncrosses_above(m, 0) and rising(close, 2) and volume > sma(volume, 20)",
    );
    let q = program("close < lowest(low, 10)[1]");
    let long = bars(500, 20);
    let short = bars(40, 21);
    let mut ws = Workspace::new();
    for (prog, b) in [
        (&p, &long),
        (&p, &short),
        (&q, &short),
        (&p, &long),
        (&q, &long),
        (&p, &short),
    ] {
        let cols: Vec<&[f64]> = prog.columns().iter().map(|c| b.column(c)).collect();
        let reused = prog.evaluate(&cols, &mut ws).unwrap();
        let reused: (Vec<bool>, Vec<Vec<f64>>) = (
            reused.output(0).to_vec(),
            (0..prog.indicators().len())
                .map(|i| reused.indicator(i).to_vec())
                .collect(),
        );
        let (fresh_out, fresh_ind) = evaluate(prog, b);
        assert_eq!(reused.0, fresh_out[0]);
        for (a, f) in reused.1.iter().zip(&fresh_ind) {
            assert_close(a, f, 0.0);
        }
    }
}

#[test]
fn short_and_empty_tickers() {
    let p = program(
        "close > sma(close, 50) and rsi(close, 14) > 50 and crosses_above(close, 1) and rising(close, 3)",
    );
    let mut ws = Workspace::new();
    let e = p.evaluate(&[&[]], &mut ws).unwrap();
    assert!(e.is_empty() && e.output(0).is_empty());
    let e = p.evaluate(&[&[1.0, 2.0, 3.0]], &mut ws).unwrap();
    assert_eq!(e.output(0), [false, false, false]);
}

#[test]
fn evaluation_errors() {
    let p = program("close > open");
    let mut ws = Workspace::new();
    let err = p.evaluate(&[&[1.0]], &mut ws).unwrap_err();
    assert!(matches!(err, EvalError::ColumnCount { found: 1, .. }));
    assert_eq!(
        err.to_string(),
        "expected 2 input columns (open, close), but 1 were passed"
    );
    let err = p.evaluate(&[&[1.0, 2.0], &[1.0]], &mut ws).unwrap_err();
    assert_eq!(
        err.to_string(),
        "column `close` has 1 values, but `open` has 2"
    );
}

#[test]
fn the_largest_accepted_trees_compile_and_run() {
    let b = bars(N, 22);
    // A long sum: one level of tree per term, just under the limit.
    let long = format!("close{} > 0", " + close".repeat(240));
    let (outs, _) = evaluate(&program(&long), &b);
    assert!(outs[0].iter().all(|v| *v));
    // Deeply nested calls, just under the nesting limit.
    let nested = format!("{}close{} > 0", "abs(".repeat(60), ")".repeat(60));
    let (outs, _) = evaluate(&program(&nested), &b);
    assert!(outs[0].iter().all(|v| *v));
}

#[test]
fn programs_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Program>();
    assert_send_sync::<Workspace>();
}
