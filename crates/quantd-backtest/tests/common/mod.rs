//! Shared by the integration tests: the reference venv (`scripts/pyenv`), a seeded PRNG and
//! synthetic bars. Nothing here is committed data; fixtures are generated at test time.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::Command;

/// The reference venv's Python (`scripts/pyenv`); panics with the script's stderr if it fails:
/// a reference test never skips.
pub fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(root.join("scripts/pyenv"))
        .output()
        .expect("cannot run scripts/pyenv");
    assert!(
        out.status.success(),
        "scripts/pyenv failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Runs `script` (in this crate's `tests/`) with `args` under the reference Python; panics
/// loudly with its stderr on failure.
pub fn run_python(script: &str, args: &[&Path]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let out = Command::new(python())
        .arg(&script)
        .args(args)
        .output()
        .expect("cannot start the reference Python");
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// SplitMix64.
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
}

/// One ticker's bars, owned.
#[derive(Clone, Debug, Default)]
pub struct Ohlc {
    pub time: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
}

impl Ohlc {
    pub fn bars(&self) -> quantd_backtest::Bars<'_> {
        quantd_backtest::Bars::new(&self.time, &self.open, &self.high, &self.low, &self.close)
            .unwrap()
    }
}

/// Weekdays from 2010-01-04 on, as instants at 00:00 UTC.
pub fn weekdays(n: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(n);
    let mut d = 14_613; // 2010-01-04, a Monday
    while out.len() < n {
        if (d + 3) % 7 < 5 {
            out.push(d * quantd_backtest::calendar::NANOS_PER_DAY);
        }
        d += 1;
    }
    out
}

/// Geometric Brownian motion bars (daily volatility `vol`) on weekdays.
pub fn gbm(seed: u64, n: usize, start: f64, vol: f64) -> Ohlc {
    let mut rng = Rng::new(seed);
    let mut bars = Ohlc {
        time: weekdays(n),
        ..Ohlc::default()
    };
    let mut prev = start;
    for _ in 0..n {
        let open = prev * (1.0 + 0.2 * vol * rng.normal());
        let close = open * (0.0002 + vol * rng.normal()).exp();
        let high = open.max(close) * (1.0 + 0.5 * vol * rng.uniform());
        let low = open.min(close) * (1.0 - 0.5 * vol * rng.uniform());
        bars.open.push(open);
        bars.high.push(high);
        bars.low.push(low);
        bars.close.push(close);
        prev = close;
    }
    bars
}
