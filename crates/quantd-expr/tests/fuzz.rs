//! Property tests: no input makes parsing, checking, compiling or evaluating panic, and every
//! valid program keeps its warm-up promise. Inputs include text at and past the size limits
//! (long names, many `let`s, many nodes, deep nesting, big numbers, odd Unicode), and valid
//! programs are evaluated on odd series (empty, one bar, NaN, infinities, huge values), the
//! clock columns of the functions of time included.

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

/// The columns a program may ask for: the pack's and the clock's.
const NAMES: [&str; 8] = [
    "open",
    "high",
    "low",
    "close",
    "volume",
    "@session",
    "@minute_of_day",
    "@weekday",
];

fn data(n: usize) -> [Vec<f64>; 8] {
    let close: Vec<f64> = (0..n)
        .map(|i| 100.0 + ((i * 7919) % 13) as f64 - 6.0)
        .collect();
    let open: Vec<f64> = (0..n)
        .map(|i| if i == 0 { 100.0 } else { close[i - 1] })
        .collect();
    let high: Vec<f64> = (0..n).map(|i| open[i].max(close[i]) + 1.0).collect();
    let low: Vec<f64> = (0..n).map(|i| open[i].min(close[i]) - 1.0).collect();
    let volume: Vec<f64> = (0..n).map(|i| 1000.0 + (i % 5) as f64 * 100.0).collect();
    // Sessions of 7 bars, from 09:30, one a day.
    let session: Vec<f64> = (0..n).map(|i| (19_723 + i / 7) as f64).collect();
    let minute_of_day: Vec<f64> = (0..n).map(|i| (570 + 30 * (i % 7)) as f64).collect();
    let weekday: Vec<f64> = (0..n).map(|i| ((i / 7) % 7) as f64).collect();
    [
        open,
        high,
        low,
        close,
        volume,
        session,
        minute_of_day,
        weekday,
    ]
}

fn column<'a>(bars: &'a [Vec<f64>; 8], name: &str) -> &'a [f64] {
    &bars[NAMES.iter().position(|c| *c == name).unwrap()]
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
    "hour",
    "time_of_day",
    "vwap",
    "day_high",
    "first_bar_of_day",
    "prev_day_close",
    "\"09:45\"",
    "\"9:75\"",
    "\"",
    "'",
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
        "close",
        "open",
        "high",
        "low",
        "volume",
        "3",
        "$p",
        "-1",
        "vwap",
        "hour",
        "minute()",
        "day_high",
        "day_low",
        "day_open",
        "prev_day_close",
        "bars_since_open",
        "time_of_day",
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
            (inner.clone(), k.clone()).prop_map(|(a, k)| format!("stddev({a}, {k} + 1)")),
            (inner.clone(), k.clone()).prop_map(|(a, k)| format!("cci(high, low, {a}, {k} + 1)")),
            // Periods past the direct CCI: order statistics.
            (inner.clone(), k.clone())
                .prop_map(|(a, k)| format!("cci(high, {a}, close, {k} + 65)")),
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
        prop::sample::select(vec![
            "time_of_day >= \"09:45\"",
            "\"12:00\" > time_of_day",
            "first_bar_of_day",
            "day_of_week == 4",
        ])
        .prop_map(String::from),
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

/// `n` `let`s, then a condition.
fn lets(n: usize) -> String {
    let mut src: String = (0..n)
        .map(|i| format!("let v{i} = close + {i};\n"))
        .collect();
    src.push_str("v0 > 0");
    src
}

/// Characters that are not ASCII, or not printable: accents, combining marks, zero-width and
/// direction marks, full-width operators, emoji, NUL and other controls.
const ODD: &[char] = &[
    'é',
    '\u{301}',
    '\u{200b}',
    '\u{200f}',
    '\u{202e}',
    '＞',
    '（',
    '）',
    '＄',
    '🙂',
    '\0',
    '\u{7}',
    '\u{1b}',
    '\r',
    '\u{feff}',
    'ß',
    'İ',
    '\u{10ffff}',
];

/// Text at and past the limits.
fn large_text() -> impl Strategy<Value = String> {
    let name = (40usize..200).prop_map(|n| "a".repeat(n));
    prop_oneof![
        (name.clone(), 0usize..5).prop_map(|(name, k)| match k {
            0 => format!("let {name} = close;\nclose > 0"),
            1 => format!("{name} > 1"),
            2 => format!("close > ${name}"),
            3 => format!("macd(close, 12, 26, 9).{name} > 0"),
            _ => format!("{name}(close) > 0"),
        }),
        (240usize..270).prop_map(lets),
        (3_000usize..3_600).prop_map(|n| {
            let terms: Vec<String> = (0..n).map(|i| format!("close > {i}")).collect();
            terms.join(" and ")
        }),
        (40usize..90, prop::sample::select(vec!["(", "abs(", "not (", "-(", "sma(", "rising("]))
            .prop_map(|(n, open)| format!("{}close{}", open.repeat(n), ")".repeat(n))),
        (200usize..300).prop_map(|n| format!("close{} > 0", " + close".repeat(n))),
        prop::sample::select(vec![
            "close > 1e308",
            "close > 1e309",
            "close > 179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
            "sma(close, 4294967297) > 0",
            "sma(close, 100000.5) > 0",
            "close[18446744073709551616] > 0",
            "close > 0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001",
            "close > 1e-400 and close < -1e308 * 10",
        ])
        .prop_map(String::from),
        (1usize..30).prop_map(|n| format!("close > {}", "9".repeat(n * 100))),
        prop::collection::vec(prop::sample::select(ODD), 1..40).prop_map(|cs| {
            let odd: String = cs.into_iter().collect();
            format!("let x{odd} = close;\nclose {odd}> 0 and {odd}")
        }),
    ]
}

/// Odd series for valid programs: `len` bars of one kind of value.
fn odd_series(kind: usize, len: usize) -> Vec<f64> {
    (0..len)
        .map(|i| match kind {
            0 => f64::NAN,
            1 => {
                if i % 7 == 3 {
                    f64::NAN
                } else {
                    100.0 + i as f64
                }
            }
            2 => {
                if i % 5 == 0 {
                    f64::INFINITY
                } else {
                    -(i as f64)
                }
            }
            3 => f64::MAX / (1.0 + (i % 3) as f64),
            4 => 0.0,
            5 => {
                if i % 11 == 10 {
                    f64::NEG_INFINITY
                } else {
                    1e-300 * i as f64
                }
            }
            _ => 42.0,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn text_at_the_limits_never_panics(src in large_text()) {
        pipeline(&src);
    }

    #[test]
    fn valid_programs_never_panic_on_odd_series(
        body in condition(),
        len in prop::sample::select(vec![0usize, 1, 2, 3, 70, 140]),
        kinds in prop::collection::vec(0usize..7, 8),
    ) {
        let params: Params = if body.contains("$p") { [("p".to_string(), 3.0)].into() } else { Params::new() };
        let program = compile(&body, &Schema::ohlcv(), &params).map_err(|e| e.render(&body));
        prop_assert!(program.is_ok(), "{}", program.unwrap_err());
        let program = program.unwrap();
        let columns: Vec<Vec<f64>> = kinds.iter().map(|&k| odd_series(k, len)).collect();
        let cols: Vec<&[f64]> = program
            .columns()
            .iter()
            .map(|c| columns[NAMES.iter().position(|n| n == c).unwrap()].as_slice())
            .collect();
        let mut ws = Workspace::new();
        let e = program.evaluate(&cols, &mut ws).unwrap();
        prop_assert_eq!(e.output(0).len(), len);
        prop_assert_eq!(e.hits(0, 0..len).count(), e.output(0).iter().filter(|v| **v).count());
    }
}
