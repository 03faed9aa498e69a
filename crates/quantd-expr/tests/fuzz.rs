//! Property tests: no input makes parsing, checking, compiling or evaluating panic, and every
//! valid program keeps its warm-up promise.

use proptest::prelude::*;
use quantd_expr::{Params, Schema, Workspace, check, compile};

/// Runs the whole pipeline on `src`; evaluates whatever compiles. Panics are the failure.
fn pipeline(src: &str) {
    let schema = Schema::ohlcv();
    let _ = check(src, &schema);
    let params: Params = [("p".to_string(), 3.0)].into();
    for params in [Params::new(), params] {
        match compile(src, &schema, &params) {
            Err(e) => {
                assert!(!e.diagnostics.is_empty());
                let rendered = e.render(src);
                assert!(rendered.starts_with("error: "), "{rendered}");
                let _ = e.to_string();
            }
            Ok(p) => {
                let bars = data(30);
                let cols: Vec<&[f64]> = p.columns().iter().map(|c| column(&bars, c)).collect();
                let mut ws = Workspace::new();
                let e = p
                    .evaluate(&cols, &mut ws)
                    .expect("a compiled program evaluates");
                let out = e.output(0);
                assert!(out[..p.warmup().min(out.len())].iter().all(|v| !*v));
            }
        }
    }
}

fn data(n: usize) -> [Vec<f64>; 5] {
    let close: Vec<f64> = (0..n)
        .map(|i| 100.0 + ((i * 7919) % 13) as f64 - 6.0)
        .collect();
    let open: Vec<f64> = (0..n)
        .map(|i| if i == 0 { 100.0 } else { close[i - 1] })
        .collect();
    let high: Vec<f64> = (0..n).map(|i| open[i].max(close[i]) + 1.0).collect();
    let low: Vec<f64> = (0..n).map(|i| open[i].min(close[i]) - 1.0).collect();
    let volume: Vec<f64> = (0..n).map(|i| 1000.0 + (i % 5) as f64 * 100.0).collect();
    [open, high, low, close, volume]
}

fn column<'a>(bars: &'a [Vec<f64>; 5], name: &str) -> &'a [f64] {
    let i = ["open", "high", "low", "close", "volume"]
        .iter()
        .position(|c| *c == name)
        .unwrap();
    &bars[i]
}

const TOKENS: &[&str] = &[
    "let",
    "x",
    "y",
    "=",
    ";",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "and",
    "or",
    "not",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "+",
    "-",
    "*",
    "/",
    "close",
    "open",
    "high",
    "low",
    "volume",
    "clse",
    "0",
    "1",
    "2",
    "14",
    "2.5",
    "1e-3",
    "100001",
    "$p",
    "$q",
    "$",
    "sma",
    "rsi",
    "macd",
    "bbands",
    "stoch",
    "signal",
    "upper",
    "k",
    "hist",
    "shift",
    "crosses_above",
    "rising",
    "highest",
    "pct_change",
    "obv",
    "atr",
    "abs",
    "min",
    "max",
    "smaa",
    "#",
    "\n",
    "&&",
    "@",
    "é",
    "\t",
];

/// Well-formed number expressions.
fn number() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "close", "open", "high", "low", "volume", "3", "$p", "-1",
    ])
    .prop_map(String::from);
    leaf.prop_recursive(4, 24, 3, |inner| {
        let k = prop::sample::select(vec!["1", "2", "3", "$p", "$p + 1"]);
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/"])
            )
                .prop_map(|(a, b, op)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            inner.clone().prop_map(|a| format!("abs({a})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("min({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("max({a}, {b})")),
            (inner.clone(), k.clone()).prop_map(|(a, k)| format!("sma({a}, {k})")),
            (inner.clone(), k.clone()).prop_map(|(a, k)| format!("ema({a}, {k})")),
            (inner.clone(), k.clone()).prop_map(|(a, k)| format!("rsi({a}, {k} + 1)")),
            (inner.clone(), k.clone()).prop_map(|(a, k)| format!("{a}[{k}]")),
            (inner.clone(), k.clone()).prop_map(|(a, k)| format!("highest({a}, {k})")),
            (inner.clone(), k.clone()).prop_map(|(a, k)| format!("pct_change({a}, {k})")),
            (inner.clone(), k.clone()).prop_map(|(a, k)| format!("atr(high, low, {a}, {k})")),
            inner
                .clone()
                .prop_map(|a| format!("macd({a}, 3, 5, 2).hist")),
            inner
                .clone()
                .prop_map(|a| format!("bbands({a}, 4, 2).lower")),
            inner
                .clone()
                .prop_map(|a| format!("stoch(high, low, {a}, 3, 2, 2).k")),
        ]
    })
}

/// Well-formed conditions.
fn condition() -> impl Strategy<Value = String> {
    let k = prop::sample::select(vec!["1", "2", "3", "$p"]);
    let leaf = prop_oneof![
        (
            number(),
            number(),
            prop::sample::select(vec!["<", "<=", ">", ">=", "==", "!="])
        )
            .prop_map(|(a, b, op)| format!("{a} {op} {b}")),
        (number(), number()).prop_map(|(a, b)| format!("crosses_above({a}, {b})")),
        (number(), number()).prop_map(|(a, b)| format!("crosses_below({a}, {b})")),
        (number(), k.clone()).prop_map(|(a, k)| format!("rising({a}, {k})")),
        (number(), k.clone()).prop_map(|(a, k)| format!("falling({a}, {k})")),
    ];
    leaf.prop_recursive(3, 12, 2, move |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            (inner.clone(), k.clone()).prop_map(|(a, k)| format!("shift({a}, {k})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        pipeline(&src);
    }

    #[test]
    fn language_like_text_never_panics(src in "[a-z0-9_$().,\\[\\];=<>!+*/ \n#-]{0,80}") {
        pipeline(&src);
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..40)) {
        pipeline(&tokens.join(" "));
    }

    #[test]
    fn valid_programs_compile_and_keep_their_warmup(lets in prop::collection::vec(number(), 0..3), body in condition()) {
        let mut src = String::new();
        for (i, l) in lets.iter().enumerate() {
            src.push_str(&format!("let v{i} = {l};\n"));
        }
        src.push_str(&body);
        // A parameter given but not used is an error, so give `p` only when it is used.
        let params: Params = if src.contains("$p") { [("p".to_string(), 3.0)].into() } else { Params::new() };
        let program = compile(&src, &Schema::ohlcv(), &params).map_err(|e| e.render(&src));
        prop_assert!(program.is_ok(), "{}", program.unwrap_err());
        let program = program.unwrap();
        let bars = data(60);
        let cols: Vec<&[f64]> = program.columns().iter().map(|c| column(&bars, c)).collect();
        let mut ws = Workspace::new();
        let e = program.evaluate(&cols, &mut ws).unwrap();
        let out = e.output(0);
        let warmup = program.warmup().min(out.len());
        prop_assert!(out[..warmup].iter().all(|v| !*v), "true before warmup {} in {src}", program.warmup());
        prop_assert_eq!(e.indicator_named("v0").map(<[f64]>::len), lets.first().map(|_| 60));
    }
}
