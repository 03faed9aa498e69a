//! The bridge to quantd-ta: lookbacks (how many leading bars of an output are NaN) and kernel
//! calls (the session kernels of the functions of time included). Like TA-Lib's Python wrapper, the kernels start at the first bar where every input is
//! defined, so indicators of indicators (`sma(rsi(close, 14), 5)`) work despite the NaN warm-up
//! of their input.

use quantd_ta::{BandsOut, MacdOut, Scratch, StochOut, TaError, session};

use crate::plan::{Day, Hlc, Ta, Window};

/// Leading NaN bars of a kernel's output when its inputs have none (TA-Lib's lookback).
pub(crate) fn lookback(ta: &Ta) -> usize {
    let p = |n: u32| n as usize;
    match *ta {
        Ta::Window(w, _, n) => match w {
            Window::Sma => quantd_ta::lookback_sma(p(n)),
            Window::Ema => quantd_ta::lookback_ema(p(n)),
            Window::Wma => quantd_ta::lookback_wma(p(n)),
            Window::Rsi => quantd_ta::lookback_rsi(p(n)),
            Window::Roc => quantd_ta::lookback_roc(p(n)),
            Window::Mom => quantd_ta::lookback_mom(p(n)),
            Window::Max => quantd_ta::lookback_max(p(n)),
            Window::Min => quantd_ta::lookback_min(p(n)),
        },
        Ta::Stddev(_, n, _) => quantd_ta::lookback_stddev(p(n)),
        Ta::Bbands(_, n, _, _) => quantd_ta::lookback_bbands(p(n)),
        Ta::Hlc(k, _, n) => match k {
            Hlc::Atr => quantd_ta::lookback_atr(p(n)),
            Hlc::Natr => quantd_ta::lookback_natr(p(n)),
            Hlc::Adx => quantd_ta::lookback_adx(p(n)),
            Hlc::Cci => quantd_ta::lookback_cci(p(n)),
            Hlc::Willr => quantd_ta::lookback_willr(p(n)),
        },
        Ta::Obv(..) => quantd_ta::lookback_obv(),
        Ta::Macd(_, fast, slow, signal) => quantd_ta::lookback_macd(p(fast), p(slow), p(signal)),
        Ta::Stoch(_, fastk, slowk, slowd) => {
            quantd_ta::lookback_stoch(p(fastk), p(slowk), p(slowd))
        }
        // Defined from the first bar (`prev_day_close` is NaN for the whole first session, whose
        // length is not known before the data: 0 is the lower bound).
        Ta::BarsSinceOpen(_) | Ta::Day(..) | Ta::Vwap(..) => 0,
    }
}

/// The function's name in the language, for error messages.
pub(crate) fn name(ta: &Ta) -> &'static str {
    match ta {
        Ta::Window(w, ..) => match w {
            Window::Sma => "sma",
            Window::Ema => "ema",
            Window::Wma => "wma",
            Window::Rsi => "rsi",
            Window::Roc => "roc",
            Window::Mom => "mom",
            Window::Max => "highest",
            Window::Min => "lowest",
        },
        Ta::Stddev(..) => "stddev",
        Ta::Hlc(k, ..) => match k {
            Hlc::Atr => "atr",
            Hlc::Natr => "natr",
            Hlc::Adx => "adx",
            Hlc::Cci => "cci",
            Hlc::Willr => "willr",
        },
        Ta::Obv(..) => "obv",
        Ta::Macd(..) => "macd",
        Ta::Bbands(..) => "bbands",
        Ta::Stoch(..) => "stoch",
        Ta::BarsSinceOpen(_) => "bars_since_open",
        Ta::Day(d, ..) => match d {
            Day::Open => "day_open",
            Day::High => "day_high",
            Day::Low => "day_low",
            Day::PrevClose => "prev_day_close",
        },
        Ta::Vwap(..) => "vwap",
    }
}

/// Runs the kernel of `ta` over `ins` (its series inputs, in order) into `outs` (its outputs, in
/// order; all of the inputs' length), with `scratch` for the kernels that need memory beyond
/// their outputs. The kernels skip leading NaN bars of their inputs and give all-NaN output for
/// inputs shorter than their warm-up.
pub(crate) fn run(
    ta: &Ta,
    ins: &[&[f64]],
    outs: &mut [&mut [f64]],
    scratch: &mut Scratch,
) -> Result<(), TaError> {
    let x = |k: usize| ins[k];
    let p = |n: u32| n as usize;
    match *ta {
        Ta::Window(w, _, n) => {
            let out = &mut *outs[0];
            let f = match w {
                Window::Sma => quantd_ta::sma,
                Window::Ema => quantd_ta::ema,
                Window::Wma => quantd_ta::wma,
                Window::Rsi => quantd_ta::rsi,
                Window::Roc => quantd_ta::roc,
                Window::Mom => quantd_ta::mom,
                Window::Max => quantd_ta::max,
                Window::Min => quantd_ta::min,
            };
            f(x(0), p(n), out)
        }
        Ta::Stddev(_, n, nbdev) => quantd_ta::stddev(x(0), p(n), f64::from_bits(nbdev), outs[0]),
        Ta::Hlc(Hlc::Cci, _, n) => quantd_ta::cci_with(x(0), x(1), x(2), p(n), outs[0], scratch),
        Ta::Hlc(k, _, n) => {
            let f = match k {
                Hlc::Atr => quantd_ta::atr,
                Hlc::Natr => quantd_ta::natr,
                Hlc::Adx => quantd_ta::adx,
                Hlc::Cci => quantd_ta::cci,
                Hlc::Willr => quantd_ta::willr,
            };
            f(x(0), x(1), x(2), p(n), outs[0])
        }
        Ta::Obv(..) => quantd_ta::obv(x(0), x(1), outs[0]),
        Ta::Macd(_, fast, slow, signal) => {
            let [macd, sig, hist] = outs else {
                unreachable!("macd has three outputs")
            };
            let out = MacdOut {
                macd: &mut macd[..],
                signal: &mut sig[..],
                hist: &mut hist[..],
            };
            quantd_ta::macd(x(0), p(fast), p(slow), p(signal), out)
        }
        Ta::Bbands(_, n, up, dn) => {
            let [upper, middle, lower] = outs else {
                unreachable!("bbands has three outputs")
            };
            let out = BandsOut {
                upper: &mut upper[..],
                middle: &mut middle[..],
                lower: &mut lower[..],
            };
            quantd_ta::bbands(x(0), p(n), f64::from_bits(up), f64::from_bits(dn), out)
        }
        Ta::Stoch(_, fastk, slowk, slowd) => {
            let [k, d] = outs else {
                unreachable!("stoch has two outputs")
            };
            let out = StochOut {
                k: &mut k[..],
                d: &mut d[..],
            };
            quantd_ta::stoch(x(0), x(1), x(2), p(fastk), p(slowk), p(slowd), out)
        }
        // The session column is the engine's `@session` as `f64` (whole days), used as it is.
        Ta::BarsSinceOpen(_) => session::bars_since_open(x(0), outs[0]),
        Ta::Day(d, ..) => {
            type DayKernel = fn(&[f64], &[f64], &mut [f64]) -> Result<(), TaError>;
            let f: DayKernel = match d {
                Day::Open => session::day_open,
                Day::High => session::day_high,
                Day::Low => session::day_low,
                Day::PrevClose => session::prev_day_close,
            };
            f(x(0), x(1), outs[0])
        }
        Ta::Vwap(..) => session::vwap(x(0), x(1), x(2), x(3), x(4), outs[0]),
    }
}
