//! Volume: on-balance volume ([`obv`]).

use crate::common::skip_leading_nan;
use crate::error::{Result, check_lengths};

/// Bars of warm-up before the first [`obv`] value: none (TA-Lib's `TA_OBV_Lookback` is 0).
pub const fn lookback_obv() -> usize {
    0
}

/// On-balance volume, TA-Lib `OBV`: starts at `volume[0]`, then adds the bar's volume when the
/// close rises, subtracts it when the close falls, and carries it when the close is unchanged.
///
/// No warm-up: every value is defined (after any leading bar where `close` or `volume` is `NaN`,
/// which starts the sum later, as TA-Lib's Python wrapper does).
pub fn obv(close: &[f64], volume: &[f64], out: &mut [f64]) -> Result<()> {
    check_lengths(
        "obv",
        ("close", close.len()),
        &[("volume", volume.len()), ("out", out.len())],
    )?;
    let start = skip_leading_nan(&[close, volume], out);
    let (close, volume, out) = (&close[start..], &volume[start..], &mut out[start..]);
    let (Some(&first_close), Some(&first_volume)) = (close.first(), volume.first()) else {
        return Ok(());
    };
    let mut prev_close = first_close;
    let mut total = first_volume;
    for ((o, &c), &v) in out.iter_mut().zip(close).zip(volume) {
        // Branch-free (up and down are unpredictable): one of the two is 0, so `up - down` is
        // exactly `v`, `-v` or 0, and the sum is bit-identical to TA-Lib's `+= v` / `-= v`.
        let up = if c > prev_close { v } else { 0.0 };
        let down = if c < prev_close { v } else { 0.0 };
        total += up - down;
        *o = total;
        prev_close = c;
    }
    Ok(())
}
