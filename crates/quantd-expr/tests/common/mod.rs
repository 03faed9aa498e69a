//! Helpers of the evaluation tests: seeded bars, compiling and evaluating, reference loops.
#![allow(dead_code)] // each test binary uses its own subset

#[allow(unused_imports)] // each test binary uses its own subset
pub use quantd_expr::{EvalError, Params, Program, Schema, Workspace, compile, compile_set};

/// One ticker's bars: a seeded random walk with consistent OHLC and some flat stretches.
pub struct Bars {
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

pub fn bars(n: usize, seed: u64) -> Bars {
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
    pub fn column(&self, name: &str) -> &[f64] {
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

pub fn program(src: &str) -> Program {
    compile(src, &Schema::ohlcv(), &Params::new()).unwrap_or_else(|e| panic!("{}", e.render(src)))
}

pub fn evaluate(p: &Program, b: &Bars) -> (Vec<Vec<bool>>, Vec<Vec<f64>>) {
    evaluate_on(p, |c| b.column(c))
}

/// Outputs and indicators of `p` over the columns `column` gives by name, in a workspace of its
/// own.
pub fn evaluate_on<'a>(
    p: &Program,
    column: impl Fn(&str) -> &'a [f64],
) -> (Vec<Vec<bool>>, Vec<Vec<f64>>) {
    let cols: Vec<&[f64]> = p.columns().iter().map(|c| column(c)).collect();
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
pub fn series(expr: &str, b: &Bars) -> Vec<f64> {
    let (_, mut inds) = evaluate(&program(&format!("let v = {expr};\nv == v")), b);
    inds.remove(0)
}

/// The values of a condition.
pub fn cond(expr: &str, b: &Bars) -> Vec<bool> {
    let (mut outs, _) = evaluate(&program(expr), b);
    outs.remove(0)
}

/// Equal, NaN where NaN, values within `tol` relative.
#[track_caller]
pub fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_close_named("", actual, expected, tol)
}

/// [`assert_close`], with `name` in the failure messages.
#[track_caller]
pub fn assert_close_named(name: &str, actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{name}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        if e.is_nan() {
            assert!(a.is_nan(), "{name} bar {i}: expected NaN, got {a}");
        } else {
            assert!(
                (a - e).abs() <= tol * e.abs().max(1.0),
                "{name} bar {i}: expected {e}, got {a}"
            );
        }
    }
}

pub fn shifted(x: &[f64], n: usize) -> Vec<f64> {
    (0..x.len())
        .map(|i| if i >= n { x[i - n] } else { f64::NAN })
        .collect()
}

/// `f` over the window of the last `n` bars ending at each bar (NaN before it is full).
pub fn rolling(x: &[f64], n: usize, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
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

pub fn mean(w: &[f64]) -> f64 {
    w.iter().sum::<f64>() / w.len() as f64
}

pub fn pstdev(w: &[f64]) -> f64 {
    let m = mean(w);
    (w.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / w.len() as f64).sqrt()
}

pub const N: usize = 300;
