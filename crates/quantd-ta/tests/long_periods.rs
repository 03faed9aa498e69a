//! No kernel's work grows with its period: the review's worst cases (a period of 100,000 over
//! 400,000 bars, on prices stuck at a one-cent floor) finish in seconds, not hours (before, CCI
//! summed every window and the standard deviation re-summed one on every flat bar: O(n·period)).

use std::sync::mpsc;
use std::time::Duration;

use quantd_ta as ta;

/// A decline to a one-cent floor, then flat there for most of the series, with a rare cent more.
fn floored(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let price = if i < 1_000 {
                50.0 * 0.99f64.powi(i as i32)
            } else {
                0.0
            };
            let close = ((price * 100.0).round() / 100.0).max(0.01);
            if i % 150_000 == 149_999 {
                close + 0.01
            } else {
                close
            }
        })
        .collect()
}

/// Runs `f` on a thread; fails if it takes more than `secs` seconds.
fn within(secs: u64, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("took more than {secs} s"));
}

#[test]
fn a_period_of_100000_over_400000_bars_takes_seconds() {
    let n = 400_000;
    let period = 100_000;
    let x = floored(n);
    within(120, move || {
        let mut out = vec![0.0; n];
        ta::stddev(&x, period, 1.0, &mut out).unwrap();
        assert!(out[period - 1..].iter().all(|v| v.is_finite() && *v >= 0.0));
        // A window of one cent throughout: exactly 0.
        assert_eq!(out[120_000], 0.0);
        let (mut u, mut m, mut l) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let bands = ta::BandsOut {
            upper: &mut u,
            middle: &mut m,
            lower: &mut l,
        };
        ta::bbands(&x, period, 2.0, 2.0, bands).unwrap();
        assert!(u[period..].iter().zip(&l[period..]).all(|(u, l)| u >= l));
        let high: Vec<f64> = x.iter().map(|v| v + 0.01).collect();
        ta::cci(&high, &x, &x, period, &mut out).unwrap();
        assert!(out[period - 1..].iter().all(|v| v.is_finite()));
        assert!(out[..period - 1].iter().all(|v| v.is_nan()));
    });
}
