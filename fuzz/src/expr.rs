//! `expr`: bytes as expression text (UTF-8) through quantd-expr's parse, check and compile, and
//! every program that compiles evaluated on small fixed series, clean and hostile (NaN, ±inf,
//! zeros, negatives, huge values). Text containing a line `---` is also compiled as a strategy
//! set (`entry`, `exit`, ...), the other door into the compiler.
//!
//! Promises checked besides "never panics" (lib.rs: "never panics on any source text ...
//! evaluation fails only when the caller passes columns that do not fit the program"): an error
//! has diagnostics and renders; a compiled program evaluates on the columns it asks for, gives
//! one value per bar, and is false before its warm-up on clean data.

use quantd_expr::{Params, Program, Schema, Workspace, check, check_set, compile, compile_set};

/// The columns code may name: OHLCV and one extra column, as a pack with extras has.
const COLUMNS: [&str; 6] = ["open", "high", "low", "close", "volume", "vwap"];
/// Parameter values tried for the parameters the code uses: a usual window, and awkward ones.
const PARAM_VALUES: [f64; 4] = [3.0, 0.0, -1.5, 1e12];
/// Names the strategy set's expressions get, in order.
const SET_NAMES: [&str; 4] = ["entry", "exit", "short_entry", "short_exit"];

/// The `expr` target.
pub fn run(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let schema = Schema::new(COLUMNS);
    let parts: Vec<&str> = src.split("\n---\n").collect();
    if parts.len() > 1 {
        let named: Vec<(&str, &str)> = SET_NAMES.iter().copied().zip(parts).collect();
        set(&named, &schema);
    }
    single(src, &schema);
}

fn single(src: &str, schema: &Schema) {
    let info = match check(src, schema) {
        Ok(info) => info,
        Err(e) => {
            assert!(!e.diagnostics.is_empty(), "an error without diagnostics");
            assert!(e.render(src).starts_with("error: "), "{}", e.render(src));
            // Without parameter values, compile must refuse too.
            assert!(
                compile(src, schema, &Params::new()).is_err(),
                "check refused code that compile accepts"
            );
            return;
        }
    };
    for value in PARAM_VALUES {
        let params: Params = info.params.iter().map(|p| (p.clone(), value)).collect();
        match compile(src, schema, &params) {
            Ok(program) => evaluate(&program),
            Err(e) => {
                assert!(!e.diagnostics.is_empty(), "an error without diagnostics");
                let _ = e.render(src);
            }
        }
    }
}

fn set(named: &[(&str, &str)], schema: &Schema) {
    let info = match check_set(named, schema) {
        Ok(info) => info,
        Err(e) => {
            assert!(!e.diagnostics.is_empty(), "an error without diagnostics");
            let _ = e.render_set(named);
            return;
        }
    };
    let params: Params = info
        .params
        .iter()
        .map(|p| (p.clone(), PARAM_VALUES[0]))
        .collect();
    match compile_set(named, schema, &params) {
        Ok(program) => evaluate(&program),
        Err(e) => {
            let _ = e.render_set(named);
        }
    }
}

/// Bars of the clean series.
const BARS: usize = 40;

/// A clean series for column `k`: positive, varied, high ≥ open/close ≥ low.
fn clean(k: usize) -> Vec<f64> {
    (0..BARS)
        .map(|i| {
            let close = 100.0 + ((i * 7919) % 13) as f64 - 6.0;
            match k {
                1 => close + 2.0,
                2 => close - 2.0,
                4 => 1000.0 + (i % 5) as f64 * 100.0,
                _ => close + ((i % 3) as f64 - 1.0) * 0.5,
            }
        })
        .collect()
}

/// A hostile series: NaN, infinities, zeros, negatives, extremes and subnormals, shifted per
/// column so that columns disagree.
fn hostile(k: usize) -> Vec<f64> {
    const VALUES: [f64; 12] = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        -5.0,
        1e308,
        -1e308,
        f64::MIN_POSITIVE / 2.0,
        1.0,
        100.0,
        f64::EPSILON,
    ];
    (0..BARS)
        .map(|i| VALUES[(i * (k + 1) + k) % VALUES.len()])
        .collect()
}

fn evaluate(program: &Program) {
    let _ = program.explain();
    let columns = program.columns();
    let mut ws = Workspace::new();
    for (series, is_clean) in [(clean as fn(usize) -> Vec<f64>, true), (hostile, false)] {
        for len in [BARS, 1, 0] {
            let data: Vec<Vec<f64>> = columns
                .iter()
                .map(|c| {
                    let k = COLUMNS.iter().position(|n| n == c).unwrap_or(0);
                    series(k)[..len].to_vec()
                })
                .collect();
            let cols: Vec<&[f64]> = data.iter().map(Vec::as_slice).collect();
            let eval = match program.evaluate(&cols, &mut ws) {
                Ok(e) => e,
                Err(e) => panic!("a compiled program failed on the columns it asked for: {e}"),
            };
            for i in 0..program.outputs().len() {
                let out = eval.output(i);
                assert_eq!(out.len(), len, "an output of another length than the bars");
                let hits = eval.hits(i, 0..len).count();
                assert_eq!(
                    hits,
                    out.iter().filter(|v| **v).count(),
                    "hits disagree with the output"
                );
                let warm = program.warmup().min(len);
                if is_clean {
                    assert!(
                        out[..warm].iter().all(|v| !*v),
                        "true before the warm-up of {} bars",
                        program.warmup()
                    );
                }
            }
            for i in 0..program.indicators().len() {
                assert_eq!(
                    eval.indicator(i).len(),
                    len,
                    "an indicator of another length"
                );
            }
        }
    }
}
