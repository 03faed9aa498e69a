//! Deterministic test series shared by the integration tests: a tiny seeded PRNG and OHLCV
//! generators (geometric Brownian motion and friends). Nothing here touches the disk.

#![allow(dead_code)] // each test binary uses a different subset

use quantd_ta as ta;

/// SplitMix64: small, fast, and the same numbers on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform integer in `lo..=hi`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
}

/// One ticker's bars, column by column.
#[derive(Clone, Debug, Default)]
pub struct Ohlcv {
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

impl Ohlcv {
    pub fn len(&self) -> usize {
        self.close.len()
    }

    pub fn columns(&self) -> [&Vec<f64>; 5] {
        [&self.open, &self.high, &self.low, &self.close, &self.volume]
    }

    fn push(&mut self, o: f64, h: f64, l: f64, c: f64, v: f64) {
        self.open.push(o);
        self.high.push(h);
        self.low.push(l);
        self.close.push(c);
        self.volume.push(v);
    }
}

fn round_to(x: f64, tick: Option<f64>) -> f64 {
    match tick {
        Some(t) => (x / t).round() * t,
        None => x,
    }
}

/// Geometric Brownian motion bars: daily log-return volatility `vol`, intraday extremes a random
/// fraction of `vol` beyond the open/close, prices optionally rounded to `tick`.
pub fn gbm(seed: u64, n: usize, start: f64, vol: f64, tick: Option<f64>) -> Ohlcv {
    let mut rng = Rng::new(seed);
    let mut bars = Ohlcv::default();
    let mut prev = start;
    for _ in 0..n {
        let open = round_to(prev * (1.0 + 0.2 * vol * rng.normal()), tick);
        let close = round_to(open * (0.0002 + vol * rng.normal()).exp(), tick);
        let high = round_to(open.max(close) * (1.0 + 0.5 * vol * rng.uniform()), tick);
        let low = round_to(open.min(close) * (1.0 - 0.5 * vol * rng.uniform()), tick);
        let volume = (1.0e5 * (0.2 + rng.uniform())).round();
        bars.push(
            open,
            high.max(open.max(close)),
            low.min(open.min(close)),
            close,
            volume,
        );
        prev = close;
    }
    bars
}

/// Every price the same non-representable number: running sums leave rounding residue that
/// TA-Lib's zero tests must catch.
pub fn constant(n: usize, value: f64) -> Ohlcv {
    let mut bars = Ohlcv::default();
    for _ in 0..n {
        bars.push(value, value, value, value, 1000.0);
    }
    bars
}

/// A GBM series whose bars `from..to` are all equal to the close before them (zero range).
pub fn with_flat_stretch(seed: u64, n: usize, from: usize, to: usize) -> Ohlcv {
    let mut bars = gbm(seed, n, 80.0, 0.02, Some(0.01));
    let level = bars.close[from - 1];
    for i in from..to {
        bars.open[i] = level;
        bars.high[i] = level;
        bars.low[i] = level;
        bars.close[i] = level;
    }
    bars
}

/// A price that falls to a floor of one cent and stays there for long stretches, with a rare
/// cent more (what `quantd data synth` makes of a long decline): flat windows at a level that is
/// not exact in binary, on which TA-Lib's standard deviation re-anchors on every bar.
pub fn cent_floor(seed: u64, n: usize) -> Ohlcv {
    let mut rng = Rng::new(seed);
    let mut bars = Ohlcv::default();
    let mut price: f64 = 3.0;
    for i in 0..n {
        price = if i < n / 5 { price * 0.97 } else { 0.001 };
        let mut close = ((price * 100.0).round() / 100.0).max(0.01);
        if i % 211 == 0 && rng.uniform() < 0.9 {
            close += 0.01;
        }
        bars.push(close, close, close, close, 1000.0);
    }
    bars
}

/// Small integers in `[-3, 3]`: many ties, zeros (ROC's division guard) and negative values.
pub fn integers(seed: u64, n: usize) -> Ohlcv {
    let mut rng = Rng::new(seed);
    let mut bars = Ohlcv::default();
    for _ in 0..n {
        let open = rng.int(-3, 3) as f64;
        let close = rng.int(-3, 3) as f64;
        let high = open.max(close) + rng.int(0, 1) as f64;
        let low = open.min(close) - rng.int(0, 1) as f64;
        bars.push(open, high, low, close, rng.int(0, 5) as f64 * 100.0);
    }
    bars
}

/// A GBM series with leading `NaN`s: all columns before `all_nan`, and `high`/`volume` a few bars
/// longer, so the first bar where every input is a number depends on which inputs a kernel reads.
pub fn with_leading_nan(seed: u64, n: usize, all_nan: usize) -> Ohlcv {
    let mut bars = gbm(seed, n, 30.0, 0.03, None);
    for column in [
        &mut bars.open,
        &mut bars.high,
        &mut bars.low,
        &mut bars.close,
        &mut bars.volume,
    ] {
        column[..all_nan].fill(f64::NAN);
    }
    bars.high[..all_nan + 2].fill(f64::NAN);
    bars.volume[..all_nan + 4].fill(f64::NAN);
    bars
}

/// A level of 0.3 with every price nudged by a random -1, 0 or +1 ulp: windows whose range is pure
/// rounding residue, which TA-Lib's scale-relative zero tests must call flat.
pub fn ulp_noise(seed: u64, n: usize) -> Ohlcv {
    let mut rng = Rng::new(seed);
    let mut nudge = |v: f64| match rng.int(-1, 1) {
        -1 => v.next_down(),
        1 => v.next_up(),
        _ => v,
    };
    let mut bars = Ohlcv::default();
    for _ in 0..n {
        let (o, c) = (nudge(0.3), nudge(0.3));
        let h = nudge(0.3).max(o.max(c));
        let l = nudge(0.3).min(o.min(c));
        bars.push(o, h, l, c, 500.0);
    }
    bars
}

/// Runs one of our kernels by its TA-Lib-style name on the bars (single-series kernels read the
/// close): its outputs in TA-Lib's order, and our lookback for the parameters.
pub fn run_kernel(ind: &str, p: &[f64], s: &Ohlcv) -> Result<(Vec<Vec<f64>>, usize), ta::TaError> {
    let n = s.len();
    let (h, l, c, v) = (&s.high[..], &s.low[..], &s.close[..], &s.volume[..]);
    let u = |k: usize| p[k] as usize;
    let mut a = vec![0.0; n];
    let mut b = vec![0.0; n];
    let mut d = vec![0.0; n];
    Ok(match ind {
        "sma" => {
            ta::sma(c, u(0), &mut a)?;
            (vec![a], ta::lookback_sma(u(0)))
        }
        "ema" => {
            ta::ema(c, u(0), &mut a)?;
            (vec![a], ta::lookback_ema(u(0)))
        }
        "wma" => {
            ta::wma(c, u(0), &mut a)?;
            (vec![a], ta::lookback_wma(u(0)))
        }
        "rsi" => {
            ta::rsi(c, u(0), &mut a)?;
            (vec![a], ta::lookback_rsi(u(0)))
        }
        "atr" => {
            ta::atr(h, l, c, u(0), &mut a)?;
            (vec![a], ta::lookback_atr(u(0)))
        }
        "natr" => {
            ta::natr(h, l, c, u(0), &mut a)?;
            (vec![a], ta::lookback_natr(u(0)))
        }
        "macd" => {
            let out = ta::MacdOut {
                macd: &mut a,
                signal: &mut b,
                hist: &mut d,
            };
            ta::macd(c, u(0), u(1), u(2), out)?;
            (vec![a, b, d], ta::lookback_macd(u(0), u(1), u(2)))
        }
        "bbands" => {
            let out = ta::BandsOut {
                upper: &mut a,
                middle: &mut b,
                lower: &mut d,
            };
            ta::bbands(c, u(0), p[1], p[2], out)?;
            (vec![a, b, d], ta::lookback_bbands(u(0)))
        }
        "stddev" => {
            ta::stddev(c, u(0), p[1], &mut a)?;
            (vec![a], ta::lookback_stddev(u(0)))
        }
        "roc" => {
            ta::roc(c, u(0), &mut a)?;
            (vec![a], ta::lookback_roc(u(0)))
        }
        "mom" => {
            ta::mom(c, u(0), &mut a)?;
            (vec![a], ta::lookback_mom(u(0)))
        }
        "max" => {
            ta::max(c, u(0), &mut a)?;
            (vec![a], ta::lookback_max(u(0)))
        }
        "min" => {
            ta::min(c, u(0), &mut a)?;
            (vec![a], ta::lookback_min(u(0)))
        }
        "obv" => {
            ta::obv(c, v, &mut a)?;
            (vec![a], ta::lookback_obv())
        }
        "stoch" => {
            let out = ta::StochOut {
                k: &mut a,
                d: &mut b,
            };
            ta::stoch(h, l, c, u(0), u(1), u(2), out)?;
            (vec![a, b], ta::lookback_stoch(u(0), u(1), u(2)))
        }
        "adx" => {
            ta::adx(h, l, c, u(0), &mut a)?;
            (vec![a], ta::lookback_adx(u(0)))
        }
        "cci" => {
            ta::cci(h, l, c, u(0), &mut a)?;
            (vec![a], ta::lookback_cci(u(0)))
        }
        "willr" => {
            ta::willr(h, l, c, u(0), &mut a)?;
            (vec![a], ta::lookback_willr(u(0)))
        }
        other => panic!("unknown indicator {other}"),
    })
}

/// Every kernel with one valid parameter set, for tests that sweep all of them.
pub const ALL_KERNELS: &[(&str, &[f64])] = &[
    ("sma", &[7.0]),
    ("ema", &[7.0]),
    ("wma", &[7.0]),
    ("rsi", &[7.0]),
    ("atr", &[7.0]),
    ("natr", &[7.0]),
    ("macd", &[3.0, 8.0, 4.0]),
    ("bbands", &[7.0, 2.0, 1.5]),
    ("stddev", &[7.0, 1.0]),
    ("roc", &[7.0]),
    ("mom", &[7.0]),
    ("max", &[7.0]),
    ("min", &[7.0]),
    ("obv", &[]),
    ("stoch", &[5.0, 3.0, 2.0]),
    ("adx", &[4.0]),
    ("cci", &[7.0]),
    ("willr", &[7.0]),
];
