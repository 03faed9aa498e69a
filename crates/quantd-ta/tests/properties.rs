//! Every batch kernel against a naive, obviously-correct per-bar reference written here (sum the
//! window, scan the window, run the recursion from its textbook definition), on random series and
//! periods; plus the rules every kernel shares (warm-up length, leading-`NaN` skipping).

// The references index by bar on purpose: they are meant to read like the textbook definitions.
#![allow(clippy::needless_range_loop)]

mod common;

use common::{ALL_KERNELS, Ohlcv, run_kernel};
use proptest::prelude::*;
use quantd_ta as ta;

const NAN: f64 = f64::NAN;

/// Random bars: a random walk of closes from `start`, highs and lows around open and close, and
/// optionally every price rounded to cents (ties, flat windows, zero ranges).
fn bars() -> impl Strategy<Value = Ohlcv> {
    (
        1.0f64..500.0,
        any::<bool>(),
        prop::collection::vec(
            (-0.03f64..0.03, 0.0f64..0.02, 0.0f64..0.02, 0.0f64..1.0),
            0..160,
        ),
    )
        .prop_map(|(start, cents, steps)| {
            let round = |x: f64| {
                if cents {
                    (x * 100.0).round() / 100.0
                } else {
                    x
                }
            };
            let mut bars = Ohlcv::default();
            let mut prev = round(start);
            for (ret, up, down, vol) in steps {
                let open = prev;
                let close = round(open * (1.0 + ret)).max(0.01);
                let high = round(open.max(close) * (1.0 + up)).max(open.max(close));
                let low = round(open.min(close) * (1.0 - down)).min(open.min(close));
                bars.open.push(open);
                bars.high.push(high);
                bars.low.push(low);
                bars.close.push(close);
                bars.volume.push((vol * 1000.0).round());
                prev = close;
            }
            bars
        })
}

/// `|a - b| <= tol * max(1, |b|)`, and `NaN` exactly where the reference has `NaN`.
fn assert_close(
    what: &str,
    ours: &[f64],
    reference: &[f64],
    tol: f64,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(ours.len(), reference.len());
    for (i, (&a, &b)) in ours.iter().zip(reference).enumerate() {
        if b.is_nan() {
            prop_assert!(a.is_nan(), "{what}[{i}]: ours {a}, reference NaN");
        } else {
            prop_assert!(
                (a - b).abs() <= tol * b.abs().max(1.0),
                "{what}[{i}]: ours {a}, reference {b}"
            );
        }
    }
    Ok(())
}

const TOL: f64 = 1e-9;

// ---------------------------------------------------------------- naive references

fn sma_ref(x: &[f64], p: usize) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            if i + 1 < p {
                NAN
            } else {
                x[i + 1 - p..=i].iter().sum::<f64>() / p as f64
            }
        })
        .collect()
}

/// An EMA whose first value, at `seed_end`, is the mean of the `p` bars ending there.
fn ema_from(x: &[f64], p: usize, seed_end: usize) -> Vec<f64> {
    let mut out = vec![NAN; x.len()];
    if seed_end >= x.len() {
        return out;
    }
    let k = 2.0 / (p as f64 + 1.0);
    let mut prev = x[seed_end + 1 - p..=seed_end].iter().sum::<f64>() / p as f64;
    out[seed_end] = prev;
    for i in seed_end + 1..x.len() {
        prev += k * (x[i] - prev);
        out[i] = prev;
    }
    out
}

fn wma_ref(x: &[f64], p: usize) -> Vec<f64> {
    let divider = (p * (p + 1) / 2) as f64;
    (0..x.len())
        .map(|i| {
            if i + 1 < p {
                return NAN;
            }
            let window = &x[i + 1 - p..=i];
            window
                .iter()
                .enumerate()
                .map(|(j, v)| (j + 1) as f64 * v)
                .sum::<f64>()
                / divider
        })
        .collect()
}

fn rsi_ref(x: &[f64], p: usize) -> Vec<f64> {
    let mut out = vec![NAN; x.len()];
    if x.len() <= p {
        return out;
    }
    let gain = |i: usize| (x[i] - x[i - 1]).max(0.0);
    let loss = |i: usize| (x[i - 1] - x[i]).max(0.0);
    let mut g = (1..=p).map(gain).sum::<f64>() / p as f64;
    let mut l = (1..=p).map(loss).sum::<f64>() / p as f64;
    for i in p..x.len() {
        if i > p {
            g = (g * (p - 1) as f64 + gain(i)) / p as f64;
            l = (l * (p - 1) as f64 + loss(i)) / p as f64;
        }
        out[i] = if g + l == 0.0 {
            0.0
        } else {
            100.0 * g / (g + l)
        };
    }
    out
}

fn true_range(s: &Ohlcv, i: usize) -> f64 {
    let pc = s.close[i - 1];
    (s.high[i] - s.low[i])
        .max((s.high[i] - pc).abs())
        .max((s.low[i] - pc).abs())
}

fn atr_ref(s: &Ohlcv, p: usize) -> Vec<f64> {
    let mut out = vec![NAN; s.len()];
    if s.len() <= p {
        return out;
    }
    let mut atr = (1..=p).map(|i| true_range(s, i)).sum::<f64>() / p as f64;
    out[p] = atr;
    for i in p + 1..s.len() {
        atr = (atr * (p - 1) as f64 + true_range(s, i)) / p as f64;
        out[i] = atr;
    }
    out
}

/// Two-pass population standard deviation of each window.
fn stddev_ref(x: &[f64], p: usize) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            if i + 1 < p {
                return NAN;
            }
            let window = &x[i + 1 - p..=i];
            let mean = window.iter().sum::<f64>() / p as f64;
            (window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / p as f64).sqrt()
        })
        .collect()
}

fn window_extreme(x: &[f64], p: usize, max: bool) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            if i + 1 < p {
                return NAN;
            }
            let w = x[i + 1 - p..=i].iter().copied();
            if max {
                w.fold(f64::NEG_INFINITY, f64::max)
            } else {
                w.fold(f64::INFINITY, f64::min)
            }
        })
        .collect()
}

/// TA-Lib's flatness rule for a range `hh - ll`.
fn flat(hh: f64, ll: f64) -> bool {
    (hh - ll).abs() <= 1e-14 * (hh.abs() + ll.abs())
}

fn fastk_ref(s: &Ohlcv, p: usize) -> Vec<f64> {
    let hh = window_extreme(&s.high, p, true);
    let ll = window_extreme(&s.low, p, false);
    (0..s.len())
        .map(|i| {
            if hh[i].is_nan() {
                NAN
            } else if flat(hh[i], ll[i]) {
                0.0
            } else {
                100.0 * (s.close[i] - ll[i]) / (hh[i] - ll[i])
            }
        })
        .collect()
}

/// SMA of the numbers of `x` (skipping its leading `NaN`s).
fn sma_after_nan(x: &[f64], p: usize) -> Vec<f64> {
    let start = x.iter().position(|v| !v.is_nan()).unwrap_or(x.len());
    let mut out = vec![NAN; start];
    out.extend(sma_ref(&x[start..], p));
    out
}

fn adx_ref(s: &Ohlcv, p: usize) -> Vec<f64> {
    let n = s.len();
    let lookback = 2 * p - 1;
    let mut out = vec![NAN; n];
    if n <= lookback {
        return out;
    }
    let dm = |i: usize| {
        let up = s.high[i] - s.high[i - 1];
        let down = s.low[i - 1] - s.low[i];
        let plus = if up > down && up > 0.0 { up } else { 0.0 };
        let minus = if down > up && down > 0.0 { down } else { 0.0 };
        (plus, minus)
    };
    let (mut plus, mut minus, mut tr) = (0.0, 0.0, 0.0);
    for i in 1..p {
        plus += dm(i).0;
        minus += dm(i).1;
        tr += true_range(s, i);
    }
    let pf = p as f64;
    let mut adx = 0.0;
    let mut sum_dx = 0.0;
    for i in p..n {
        plus = plus - plus / pf + dm(i).0;
        minus = minus - minus / pf + dm(i).1;
        tr = tr - tr / pf + true_range(s, i);
        let dx = if tr > 0.0 {
            let (pdi, mdi) = (100.0 * plus / tr, 100.0 * minus / tr);
            (pdi + mdi > 1e-14).then(|| 100.0 * (pdi - mdi).abs() / (pdi + mdi))
        } else {
            None
        };
        if i <= lookback {
            sum_dx += dx.unwrap_or(0.0);
            if i == lookback {
                adx = sum_dx / pf;
                out[i] = adx;
            }
        } else {
            if let Some(dx) = dx {
                adx = (adx * (pf - 1.0) + dx) / pf;
            }
            out[i] = adx;
        }
    }
    out
}

fn cci_ref(s: &Ohlcv, p: usize) -> Vec<f64> {
    let tp: Vec<f64> = (0..s.len())
        .map(|i| (s.high[i] + s.low[i] + s.close[i]) / 3.0)
        .collect();
    (0..s.len())
        .map(|i| {
            if i + 1 < p {
                return NAN;
            }
            let w = &tp[i + 1 - p..=i];
            let mean = w.iter().sum::<f64>() / p as f64;
            let md = w.iter().map(|v| (v - mean).abs()).sum::<f64>() / p as f64;
            let diff = tp[i] - mean;
            let zero = |v: f64| v.abs() <= 1e-14 * mean.abs();
            if zero(diff) || zero(md) {
                0.0
            } else {
                diff / (0.015 * md)
            }
        })
        .collect()
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn averages_match_references(s in bars(), p in 1usize..40) {
        let x = &s.close;
        let mut out = vec![0.0; x.len()];
        ta::sma(x, p, &mut out).unwrap();
        assert_close("sma", &out, &sma_ref(x, p), TOL)?;
        ta::ema(x, p, &mut out).unwrap();
        assert_close("ema", &out, &ema_from(x, p, p - 1), TOL)?;
        ta::wma(x, p, &mut out).unwrap();
        assert_close("wma", &out, &wma_ref(x, p), TOL)?;
    }

    #[test]
    fn sma_is_its_window_sums_divided_by_the_period(s in bars(), p in 1usize..40, k in 0usize..5) {
        // Leading NaNs, and a NaN later on (a running sum keeps it), must agree too.
        let mut x = s.close.clone();
        for v in x.iter_mut().take(k) {
            *v = NAN;
        }
        if x.len() > 60 {
            x[60] = NAN;
        }
        let mut avg = vec![0.0; x.len()];
        let mut sums = vec![0.0; x.len()];
        ta::sma(&x, p, &mut avg).unwrap();
        ta::sma_sums(&x, p, &mut sums).unwrap();
        for (i, (a, s)) in avg.iter().zip(&sums).enumerate() {
            let v = s / p as f64;
            prop_assert!(a.to_bits() == v.to_bits() || (a.is_nan() && v.is_nan()), "bar {}: sma {} vs sum / p {}", i, a, v);
        }
        let x = &s.close;
        let mut sums = vec![0.0; x.len()];
        ta::sma_sums(x, p, &mut sums).unwrap();
        let want: Vec<f64> = sma_ref(x, p).iter().map(|v| v * p as f64).collect();
        assert_close("sma_sums", &sums, &want, TOL * p as f64)?;
    }

    #[test]
    fn momentum_matches_references(s in bars(), p in 2usize..40) {
        let x = &s.close;
        let n = x.len();
        let mut out = vec![0.0; n];
        ta::rsi(x, p, &mut out).unwrap();
        assert_close("rsi", &out, &rsi_ref(x, p), TOL)?;

        let shifted = |f: &dyn Fn(f64, f64) -> f64| -> Vec<f64> {
            (0..n).map(|i| if i < p { NAN } else { f(x[i], x[i - p]) }).collect()
        };
        ta::mom(x, p, &mut out).unwrap();
        assert_close("mom", &out, &shifted(&|now, then| now - then), TOL)?;
        ta::roc(x, p, &mut out).unwrap();
        let roc = shifted(&|now, then| if then == 0.0 { 0.0 } else { (now / then - 1.0) * 100.0 });
        assert_close("roc", &out, &roc, TOL)?;
    }

    #[test]
    fn macd_matches_reference(s in bars(), fast in 2usize..15, slow in 2usize..30, signal in 1usize..12) {
        let x = &s.close;
        let n = x.len();
        let (f, sl) = (fast.min(slow), fast.max(slow));
        let lookback = sl - 1 + signal - 1;
        let fast_ema = ema_from(x, f, sl - 1);
        let slow_ema = ema_from(x, sl, sl - 1);
        let line: Vec<f64> = (0..n).map(|i| fast_ema[i] - slow_ema[i]).collect();
        let mut sig = vec![NAN; n];
        if n >= sl {
            let tail = ema_from(&line[sl - 1..], signal, signal - 1);
            sig[sl - 1..].copy_from_slice(&tail);
        }
        let mask = |v: Vec<f64>| -> Vec<f64> {
            v.into_iter().enumerate().map(|(i, v)| if i < lookback { NAN } else { v }).collect()
        };
        let hist: Vec<f64> = (0..n).map(|i| line[i] - sig[i]).collect();
        let (mut m, mut g, mut h) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        ta::macd(x, fast, slow, signal, ta::MacdOut { macd: &mut m, signal: &mut g, hist: &mut h }).unwrap();
        // EMA differences cancel: compare against the price scale, not the (small) difference.
        let scale = x.iter().fold(1.0f64, |a, v| a.max(v.abs()));
        assert_close("macd", &m, &mask(line), TOL * scale)?;
        assert_close("signal", &g, &mask(sig), TOL * scale)?;
        assert_close("hist", &h, &mask(hist), TOL * scale)?;
    }

    #[test]
    fn volatility_matches_references(s in bars(), p in 2usize..40, up in 0.0f64..3.0, dn in 0.0f64..3.0) {
        let x = &s.close;
        let n = x.len();
        let scale = x.iter().fold(1.0f64, |a, v| a.max(v.abs()));
        let mut out = vec![0.0; n];
        ta::atr(&s.high, &s.low, x, p, &mut out).unwrap();
        let atr = atr_ref(&s, p);
        assert_close("atr", &out, &atr, TOL)?;
        ta::natr(&s.high, &s.low, x, p, &mut out).unwrap();
        let natr: Vec<f64> = atr.iter().zip(x).map(|(a, c)| a / c * 100.0).collect();
        assert_close("natr", &out, &natr, TOL)?;

        let sd = stddev_ref(x, p);
        ta::stddev(x, p, 1.5, &mut out).unwrap();
        let sd15: Vec<f64> = sd.iter().map(|v| v * 1.5).collect();
        // The running variance is exact to about eps * price²; its root to about 1e-8 * price.
        assert_close("stddev", &out, &sd15, 1e-7 * scale)?;
        let (mut u, mut m, mut l) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        ta::bbands(x, p, up, dn, ta::BandsOut { upper: &mut u, middle: &mut m, lower: &mut l }).unwrap();
        let mid = sma_ref(x, p);
        let upper: Vec<f64> = mid.iter().zip(&sd).map(|(m, s)| m + up * s).collect();
        let lower: Vec<f64> = mid.iter().zip(&sd).map(|(m, s)| m - dn * s).collect();
        assert_close("bbands.middle", &m, &mid, TOL)?;
        assert_close("bbands.upper", &u, &upper, 1e-7 * scale)?;
        assert_close("bbands.lower", &l, &lower, 1e-7 * scale)?;
    }

    #[test]
    fn rolling_extremes_match_a_window_scan(x in prop::collection::vec(-1e3f64..1e3, 0..200), p in 2usize..70) {
        let mut out = vec![0.0; x.len()];
        ta::max(&x, p, &mut out).unwrap();
        assert_close("max", &out, &window_extreme(&x, p, true), 0.0)?;
        ta::min(&x, p, &mut out).unwrap();
        assert_close("min", &out, &window_extreme(&x, p, false), 0.0)?;
    }

    #[test]
    fn oscillators_match_references(s in bars(), p in 2usize..30, slowk in 1usize..6, slowd in 1usize..6) {
        let n = s.len();
        let (h, l, c) = (&s.high, &s.low, &s.close);
        let mut out = vec![0.0; n];
        ta::willr(h, l, c, p, &mut out).unwrap();
        let hh = window_extreme(h, p, true);
        let ll = window_extreme(l, p, false);
        let willr: Vec<f64> = (0..n)
            .map(|i| {
                if hh[i].is_nan() { NAN }
                else if flat(hh[i], ll[i]) { 0.0 }
                else { -100.0 * (hh[i] - c[i]) / (hh[i] - ll[i]) }
            })
            .collect();
        assert_close("willr", &out, &willr, TOL)?;

        let lookback = ta::lookback_stoch(p, slowk, slowd);
        let k_ref = sma_after_nan(&fastk_ref(&s, p), slowk);
        let d_ref = sma_after_nan(&k_ref, slowd);
        let mask = |v: Vec<f64>| -> Vec<f64> {
            v.into_iter().enumerate().map(|(i, v)| if i < lookback { NAN } else { v }).collect()
        };
        let (mut k, mut d) = (vec![0.0; n], vec![0.0; n]);
        ta::stoch(h, l, c, p, slowk, slowd, ta::StochOut { k: &mut k, d: &mut d }).unwrap();
        assert_close("stoch.k", &k, &mask(k_ref), TOL)?;
        assert_close("stoch.d", &d, &mask(d_ref), TOL)?;

        ta::cci(h, l, c, p, &mut out).unwrap();
        assert_close("cci", &out, &cci_ref(&s, p), 1e-7)?;
        ta::adx(h, l, c, p, &mut out).unwrap();
        assert_close("adx", &out, &adx_ref(&s, p), TOL)?;
    }

    #[test]
    fn cci_over_long_periods_matches_the_reference(s in bars(), p in 60usize..150) {
        // Past `CCI_DIRECT_MAX_PERIOD`: order statistics instead of window sums.
        let mut out = vec![0.0; s.len()];
        ta::cci(&s.high, &s.low, &s.close, p, &mut out).unwrap();
        assert_close("cci", &out, &cci_ref(&s, p), 1e-7)?;
        let mut scratch = ta::Scratch::new();
        let mut again = vec![0.0; s.len()];
        ta::cci_with(&s.high, &s.low, &s.close, p, &mut again, &mut scratch).unwrap();
        prop_assert!(out.iter().zip(&again).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn obv_matches_reference(s in bars()) {
        let mut out = vec![0.0; s.len()];
        ta::obv(&s.close, &s.volume, &mut out).unwrap();
        let mut reference = Vec::with_capacity(s.len());
        let mut total = s.volume.first().copied().unwrap_or(0.0);
        for i in 0..s.len() {
            if i > 0 && s.close[i] > s.close[i - 1] {
                total += s.volume[i];
            } else if i > 0 && s.close[i] < s.close[i - 1] {
                total -= s.volume[i];
            }
            reference.push(total);
        }
        assert_close("obv", &out, &reference, 0.0)?;
    }

    /// On `NaN`-free input the warm-up is exactly `lookback_*` bars (all of it if shorter).
    #[test]
    fn warm_up_is_the_lookback(s in bars()) {
        for (ind, params) in ALL_KERNELS {
            let (outputs, lookback) = run_kernel(ind, params, &s).unwrap();
            for out in outputs {
                let leading = out.iter().take_while(|v| v.is_nan()).count();
                prop_assert_eq!(leading, lookback.min(s.len()), "{}", ind);
                prop_assert!(out[leading..].iter().all(|v| !v.is_nan()), "{}: NaN after warm-up", ind);
            }
        }
    }

    /// Leading `NaN`s are skipped: the output is the `NaN` prefix followed by the output for the rest.
    #[test]
    fn leading_nans_are_skipped(s in bars(), k in 0usize..12) {
        let mut padded = Ohlcv::default();
        for (to, from) in [
            (&mut padded.open, &s.open),
            (&mut padded.high, &s.high),
            (&mut padded.low, &s.low),
            (&mut padded.close, &s.close),
            (&mut padded.volume, &s.volume),
        ] {
            to.extend(std::iter::repeat_n(NAN, k));
            to.extend_from_slice(from);
        }
        for (ind, params) in ALL_KERNELS {
            let (plain, _) = run_kernel(ind, params, &s).unwrap();
            let (shifted, _) = run_kernel(ind, params, &padded).unwrap();
            for (a, b) in plain.iter().zip(&shifted) {
                prop_assert!(b[..k].iter().all(|v| v.is_nan()), "{}", ind);
                for (x, y) in a.iter().zip(&b[k..]) {
                    prop_assert!(x.to_bits() == y.to_bits(), "{}: {} vs {}", ind, x, y);
                }
            }
        }
    }
}
