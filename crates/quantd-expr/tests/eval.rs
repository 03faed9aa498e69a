//! Evaluation against straightforward per-bar reference loops, warm-up, and indicators wired
//! to their kernels. Plans, parameters and the workspace contract: `programs.rs`.

mod common;
use common::*;
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
