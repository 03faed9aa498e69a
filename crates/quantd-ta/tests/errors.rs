//! Argument errors (periods out of range, slices of different lengths) and the all-`NaN` answer to
//! input shorter than the warm-up.

mod common;

use common::{ALL_KERNELS, Ohlcv, run_kernel};
use quantd_ta::{self as ta, TaError};

#[test]
fn period_zero_is_refused_by_every_kernel_with_its_name_and_range() {
    let bars = common::gbm(1, 50, 100.0, 0.02, None);
    for (ind, params) in ALL_KERNELS {
        if params.is_empty() {
            continue; // obv has no period
        }
        let mut params = params.to_vec();
        params[0] = 0.0;
        let err = run_kernel(ind, &params, &bars).unwrap_err();
        let TaError::InvalidPeriod {
            indicator,
            value,
            min,
            ..
        } = &err
        else {
            panic!("{ind}: expected InvalidPeriod, got {err:?}");
        };
        assert_eq!(*indicator, *ind);
        assert_eq!(*value, 0);
        assert!(*min >= 1, "{ind}");
        assert!(!err.is_retryable());
    }
}

#[test]
fn minimum_periods_are_talibs() {
    let x = vec![1.0; 10];
    let mut out = vec![0.0; 10];
    let below = |r: ta::Result<()>| match r {
        Err(TaError::InvalidPeriod { min, .. }) => min,
        other => panic!("expected InvalidPeriod, got {other:?}"),
    };
    assert!(ta::sma(&x, 1, &mut out).is_ok());
    assert!(ta::ema(&x, 1, &mut out).is_ok());
    assert!(ta::wma(&x, 1, &mut out).is_ok());
    assert!(ta::roc(&x, 1, &mut out).is_ok());
    assert!(ta::mom(&x, 1, &mut out).is_ok());
    assert!(ta::atr(&x, &x, &x, 1, &mut out).is_ok());
    assert!(ta::natr(&x, &x, &x, 1, &mut out).is_ok());
    assert_eq!(below(ta::rsi(&x, 1, &mut out)), 2);
    assert_eq!(below(ta::stddev(&x, 1, 1.0, &mut out)), 2);
    assert_eq!(below(ta::max(&x, 1, &mut out)), 2);
    assert_eq!(below(ta::min(&x, 1, &mut out)), 2);
    assert_eq!(below(ta::adx(&x, &x, &x, 1, &mut out)), 2);
    assert_eq!(below(ta::cci(&x, &x, &x, 1, &mut out)), 2);
    assert_eq!(below(ta::willr(&x, &x, &x, 1, &mut out)), 2);
}

#[test]
fn error_messages_say_what_where_and_the_allowed_range() {
    let x = vec![1.0; 10];
    let (mut a, mut b, mut c) = (vec![0.0; 10], vec![0.0; 10], vec![0.0; 10]);
    let out = ta::MacdOut {
        macd: &mut a,
        signal: &mut b,
        hist: &mut c,
    };
    let err = ta::macd(&x, 12, 26, 0, out).unwrap_err();
    assert_eq!(
        err,
        TaError::InvalidPeriod {
            indicator: "macd",
            param: "signal",
            value: 0,
            min: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "macd: parameter `signal` is 0, out of range: it must be 1 or more"
    );

    let mut short = vec![0.0; 9];
    let err = ta::rsi(&x, 14, &mut short).unwrap_err();
    assert_eq!(
        err.to_string(),
        "rsi: slice `out` has length 9, but `x` has length 10; every input and output slice must \
         have the same length"
    );
}

#[test]
fn mismatched_lengths_name_the_offending_slice() {
    let long = vec![1.0; 10];
    let short = vec![1.0; 9];
    let mut out = vec![0.0; 10];
    let name = |r: ta::Result<()>| match r {
        Err(TaError::LengthMismatch { name, .. }) => name,
        other => panic!("expected LengthMismatch, got {other:?}"),
    };
    assert_eq!(name(ta::atr(&long, &short, &long, 3, &mut out)), "low");
    assert_eq!(name(ta::cci(&long, &long, &short, 3, &mut out)), "close");
    assert_eq!(name(ta::obv(&long, &short, &mut out)), "volume");
    assert_eq!(name(ta::sma(&short, 3, &mut out)), "out");
    let (mut k, mut d) = (vec![0.0; 10], vec![0.0; 9]);
    let stoch = ta::stoch(
        &long,
        &long,
        &long,
        5,
        3,
        3,
        ta::StochOut {
            k: &mut k,
            d: &mut d,
        },
    );
    assert_eq!(name(stoch), "out.d");
    let (mut u, mut m, mut l) = (vec![0.0; 10], vec![0.0; 11], vec![0.0; 10]);
    let out = ta::BandsOut {
        upper: &mut u,
        middle: &mut m,
        lower: &mut l,
    };
    assert_eq!(name(ta::bbands(&long, 5, 2.0, 2.0, out)), "out.middle");
}

#[test]
fn outputs_are_untouched_on_error() {
    let x = vec![1.0; 10];
    let mut out = vec![7.0; 10];
    assert!(ta::rsi(&x, 0, &mut out).is_err());
    assert!(ta::willr(&x, &x, &x[..9], 5, &mut out).is_err());
    assert!(out.iter().all(|&v| v == 7.0));
}

#[test]
fn input_shorter_than_the_warm_up_gives_all_nan() {
    for (ind, params) in ALL_KERNELS {
        let (_, lookback) = run_kernel(ind, params, &common::gbm(1, 1, 1.0, 0.0, None)).unwrap();
        for n in [0, lookback / 2, lookback] {
            let bars = common::gbm(2, n, 100.0, 0.02, None);
            let (outputs, _) = run_kernel(ind, params, &bars).unwrap();
            for out in outputs {
                assert_eq!(out.len(), n);
                assert!(out.iter().all(|v| v.is_nan()), "{ind} on {n} bars: {out:?}");
            }
        }
        // One more bar gives exactly one value.
        let bars = common::gbm(3, lookback + 1, 100.0, 0.02, None);
        let (outputs, _) = run_kernel(ind, params, &bars).unwrap();
        for out in outputs {
            assert!(out[..lookback].iter().all(|v| v.is_nan()), "{ind}");
            assert!(!out[lookback].is_nan(), "{ind}");
        }
    }
}

#[test]
fn all_nan_input_gives_all_nan() {
    let nan = vec![f64::NAN; 40];
    let bars = Ohlcv {
        open: nan.clone(),
        high: nan.clone(),
        low: nan.clone(),
        close: nan.clone(),
        volume: nan,
    };
    for (ind, params) in ALL_KERNELS {
        let (outputs, _) = run_kernel(ind, params, &bars).unwrap();
        for out in outputs {
            assert!(out.iter().all(|v| v.is_nan()), "{ind}");
        }
    }
}
