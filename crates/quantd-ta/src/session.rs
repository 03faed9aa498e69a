//! Session kernels for intraday bars (reached from expressions as `bars_since_open`, `vwap`,
//! `day_high`, …): values anchored at each trading session's first bar. `session` gives each
//! bar's session key (the caller's choice: the local date in the exchange's zone); a bar whose key
//! differs from the bar before it opens a new session. Every value at bar `i` uses bars up to `i`
//! only: a session's high so far, not its final high.
//!
//! Keys are any type with `==`: `i64` dates, or the same numbers as `f64` (the form in which
//! expression programs receive their columns, so they need no conversion). A float key that is
//! NaN equals nothing, so each such bar is a session of its own.
//!
//! Checked against pandas group-by computations (`groupby(session).cumcount / cummax / cummin`,
//! anchored VWAP as pandas-ta computes it) by this crate's tests.

use crate::error::{Result, check_lengths};

/// Calls `f(start, end)` for each session's run of bars `start..end`.
fn each_session<K: PartialEq>(session: &[K], mut f: impl FnMut(usize, usize)) {
    let mut start = 0;
    for i in 1..=session.len() {
        if i == session.len() || session[i] != session[i - 1] {
            f(start, i);
            start = i;
        }
    }
}

/// Bars since the session's first bar: 0 at the open, then 1, 2, …
pub fn bars_since_open<K: PartialEq>(session: &[K], out: &mut [f64]) -> Result<()> {
    check_lengths(
        "bars_since_open",
        ("session", session.len()),
        &[("out", out.len())],
    )?;
    each_session(session, |a, b| {
        for (k, o) in out[a..b].iter_mut().enumerate() {
            *o = k as f64;
        }
    });
    Ok(())
}

/// 1 at each session's first bar, else 0.
pub fn first_bar_of_day<K: PartialEq>(session: &[K], out: &mut [f64]) -> Result<()> {
    check_lengths(
        "first_bar_of_day",
        ("session", session.len()),
        &[("out", out.len())],
    )?;
    each_session(session, |a, b| {
        out[a..b].fill(0.0);
        out[a] = 1.0;
    });
    Ok(())
}

/// The open of the session's first bar.
pub fn day_open<K: PartialEq>(session: &[K], open: &[f64], out: &mut [f64]) -> Result<()> {
    check_lengths(
        "day_open",
        ("session", session.len()),
        &[("open", open.len()), ("out", out.len())],
    )?;
    each_session(session, |a, b| out[a..b].fill(open[a]));
    Ok(())
}

/// The session's highest high so far (this bar included).
pub fn day_high<K: PartialEq>(session: &[K], high: &[f64], out: &mut [f64]) -> Result<()> {
    check_lengths(
        "day_high",
        ("session", session.len()),
        &[("high", high.len()), ("out", out.len())],
    )?;
    running(session, high, out, f64::max);
    Ok(())
}

/// The session's lowest low so far (this bar included).
pub fn day_low<K: PartialEq>(session: &[K], low: &[f64], out: &mut [f64]) -> Result<()> {
    check_lengths(
        "day_low",
        ("session", session.len()),
        &[("low", low.len()), ("out", out.len())],
    )?;
    running(session, low, out, f64::min);
    Ok(())
}

/// A running `pick` (max or min) within each session; `NaN` inputs are passed over. Generic in
/// `pick` so that it is inlined rather than called on every bar.
fn running<K: PartialEq>(
    session: &[K],
    x: &[f64],
    out: &mut [f64],
    pick: impl Fn(f64, f64) -> f64,
) {
    each_session(session, |a, b| {
        let mut acc = f64::NAN;
        for i in a..b {
            acc = pick(acc, x[i]);
            out[i] = acc;
        }
    });
}

/// The close of the previous session's last bar; `NaN` in the first session.
pub fn prev_day_close<K: PartialEq>(session: &[K], close: &[f64], out: &mut [f64]) -> Result<()> {
    check_lengths(
        "prev_day_close",
        ("session", session.len()),
        &[("close", close.len()), ("out", out.len())],
    )?;
    let mut prev = f64::NAN;
    each_session(session, |a, b| {
        out[a..b].fill(prev);
        prev = close[b - 1];
    });
    Ok(())
}

/// Volume-weighted average price since the session's open: the running sum of typical price
/// (`(high + low + close) / 3`) × volume over the running sum of volume; `NaN` while the
/// session's volume is 0.
pub fn vwap<K: PartialEq>(
    session: &[K],
    high: &[f64],
    low: &[f64],
    close: &[f64],
    volume: &[f64],
    out: &mut [f64],
) -> Result<()> {
    check_lengths(
        "vwap",
        ("session", session.len()),
        &[
            ("high", high.len()),
            ("low", low.len()),
            ("close", close.len()),
            ("volume", volume.len()),
            ("out", out.len()),
        ],
    )?;
    each_session(session, |a, b| {
        let (mut pv, mut v) = (0.0, 0.0);
        for i in a..b {
            pv += (high[i] + low[i] + close[i]) / 3.0 * volume[i];
            v += volume[i];
            out[i] = if v == 0.0 { f64::NAN } else { pv / v };
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_reset_every_value() {
        let s = [7, 7, 7, 8, 8, 9];
        let x = [3.0, 5.0, 4.0, 10.0, 2.0, 6.0];
        let mut out = [0.0; 6];
        bars_since_open(&s, &mut out).unwrap();
        assert_eq!(out, [0.0, 1.0, 2.0, 0.0, 1.0, 0.0]);
        first_bar_of_day(&s, &mut out).unwrap();
        assert_eq!(out, [1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
        day_open(&s, &x, &mut out).unwrap();
        assert_eq!(out, [3.0, 3.0, 3.0, 10.0, 10.0, 6.0]);
        day_high(&s, &x, &mut out).unwrap();
        assert_eq!(out, [3.0, 5.0, 5.0, 10.0, 10.0, 6.0]);
        day_low(&s, &x, &mut out).unwrap();
        assert_eq!(out, [3.0, 3.0, 3.0, 10.0, 2.0, 6.0]);
        prev_day_close(&s, &x, &mut out).unwrap();
        assert!(out[0].is_nan() && out[2].is_nan());
        assert_eq!(out[3..], [4.0, 4.0, 2.0]);
        let v = [1.0, 0.0, 3.0, 0.0, 2.0, 1.0];
        vwap(&s, &x, &x, &x, &v, &mut out).unwrap();
        assert_eq!(out[..3], [3.0, 3.0, 3.75]);
        assert!(out[3].is_nan(), "no volume yet in the session");
        assert_eq!(out[4..], [2.0, 6.0]);
        assert!(vwap(&s, &x, &x, &x, &v[..5], &mut out).is_err());
    }

    #[test]
    fn float_keys_give_the_same_sessions() {
        let s = [7, 7, 7, 8, 8, 9];
        let f: Vec<f64> = s.iter().map(|&d| d as f64).collect();
        let x = [3.0, 5.0, 4.0, 10.0, 2.0, 6.0];
        let (mut a, mut b) = ([0.0; 6], [0.0; 6]);
        day_high(&s, &x, &mut a).unwrap();
        day_high(&f, &x, &mut b).unwrap();
        assert_eq!(a, b);
        prev_day_close(&s, &x, &mut a).unwrap();
        prev_day_close(&f, &x, &mut b).unwrap();
        assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits));
        // A NaN key opens a session at its bar, and another at the bar after it.
        let nan = [1.0, f64::NAN, 1.0];
        let mut out = [0.0; 3];
        bars_since_open(&nan, &mut out).unwrap();
        assert_eq!(out, [0.0, 0.0, 0.0]);
    }
}
