//! The size limits of programs ([`Limits`]): each one lets a program at the limit through and
//! refuses one past it with a diagnostic that points where, names the limit and says how to stay
//! under it; the entry points without `_with` apply the defaults; and no program, however large
//! or odd, makes checking or compiling slow (every pass is linear in the code).

use std::sync::mpsc;
use std::time::Duration;

use quantd_expr::{
    Diagnostic, ExprError, Limits, Params, Schema, check, check_set_with, check_with, compile,
    compile_set_with, compile_with,
};

fn no_params() -> Params {
    Params::new()
}

/// The only diagnostic of a compile that must fail on `limit`, checked for what every limit
/// diagnostic carries.
fn over(result: Result<quantd_expr::Program, ExprError>, limit: &str) -> Diagnostic {
    let err = result.expect_err("over a limit");
    assert_eq!(err.diagnostics.len(), 1, "{err:?}");
    let d = err.diagnostics[0].clone();
    assert_eq!(d.limit, Some(limit), "{d:?}");
    assert!(d.message.contains("limit"), "{}", d.message);
    let help = d.help.clone().unwrap_or_default();
    assert!(help.contains(&format!("`{limit}`")), "{help}");
    d
}

/// Runs `f` on a thread and fails if it takes longer than `secs`: a pass that is not linear in
/// the code would (the old ones took hours on these inputs).
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("took more than {secs} s"))
}

fn lets(n: usize) -> String {
    let mut src: String = (0..n)
        .map(|i| format!("let v{i} = close + {i};\n"))
        .collect();
    src.push_str("close > 0");
    src
}

#[test]
fn defaults_are_the_documented_ones() {
    let l = Limits::default();
    assert_eq!(l.max_source_bytes, 65_536);
    assert_eq!(l.max_lets, 256);
    assert_eq!(l.max_nodes, 10_000);
    assert_eq!(l.max_ident_len, 64);
    assert_eq!(l.max_kernel_calls, 256);
    assert_eq!(l.max_slots, 1024);
}

#[test]
fn source_size() {
    let limits = Limits {
        max_source_bytes: 40,
        ..Limits::default()
    };
    let schema = Schema::ohlcv();
    let at = format!("close > open #{}", "x".repeat(26));
    assert_eq!(at.len(), 40);
    assert!(compile_with(&at, &schema, &no_params(), &limits).is_ok());
    let past = format!("close > open\n#{}", "x".repeat(27));
    assert_eq!(past.len(), 41);
    let d = over(
        compile_with(&past, &schema, &no_params(), &limits),
        "max_source_bytes",
    );
    let loc = d.location.expect("points where the limit is crossed");
    assert_eq!((loc.line, loc.span.start), (2, 40));
    assert!(d.message.contains("41 bytes"), "{}", d.message);
    // A set counts its expressions together.
    let set = [
        ("entry", "close > open # twenty"),
        ("exit", "close < open # twenty"),
    ];
    let d = over(
        compile_set_with(&set, &schema, &no_params(), &limits),
        "max_source_bytes",
    );
    assert_eq!(d.origin.as_deref(), Some("exit"));
    // The limit is checked before the code is read: a huge source is refused at once, and its
    // error renders short (the line shown is read only around the caret).
    let huge = "x".repeat(200 << 20);
    let rendered = within(2, move || {
        let err = check(&huge, &Schema::ohlcv()).unwrap_err();
        assert_eq!(err.diagnostics[0].limit, Some("max_source_bytes"));
        err.render(&huge)
    });
    assert!(rendered.len() < 1_000, "{}", rendered.len());
}

#[test]
fn number_of_lets() {
    let schema = Schema::ohlcv();
    let p = compile(&lets(256), &schema, &no_params()).unwrap();
    assert_eq!(p.indicators().len(), 256);
    assert_eq!(p.cost().outputs, 256);
    let d = over(compile(&lets(257), &schema, &no_params()), "max_lets");
    let loc = d.location.unwrap();
    assert_eq!((loc.line, loc.column), (257, 1));
    assert!(d.help.unwrap().contains("indicator column"));
    let limits = Limits {
        max_lets: 3,
        ..Limits::default()
    };
    assert!(check_with(&lets(3), &schema, &limits).is_ok());
    assert!(check_with(&lets(4), &schema, &limits).is_err());
    // Across a set, distinct names count: shared ones once.
    let a = "let a = sma(close, 2);\nlet b = sma(close, 3);\nclose > a";
    let b = "let a = sma(close, 2);\nlet c = sma(close, 4);\nclose > c";
    let c = "let d = sma(close, 5);\nclose > d";
    assert!(compile_set_with(&[("a", a), ("b", b)], &schema, &no_params(), &limits).is_ok());
    let d = over(
        compile_set_with(
            &[("a", a), ("b", b), ("c", c)],
            &schema,
            &no_params(),
            &limits,
        ),
        "max_lets",
    );
    assert_eq!(d.origin.as_deref(), Some("c"));
    let err = check_set_with(&[("a", a), ("b", b), ("c", c)], &schema, &limits).unwrap_err();
    assert_eq!(err.diagnostics[0].limit, Some("max_lets"));
}

#[test]
fn number_of_nodes() {
    let limits = Limits {
        max_nodes: 7,
        ..Limits::default()
    };
    let schema = Schema::ohlcv();
    // close, 1, +, open, >, (the comparison), ...: count them through the limit.
    let seven = "close + 1 > open - 2"; // close 1 + open 2 - > = 7 nodes
    assert!(compile_with(seven, &schema, &no_params(), &limits).is_ok());
    let eight = "close + 1 > open - abs(2)";
    let d = over(
        compile_with(eight, &schema, &no_params(), &limits),
        "max_nodes",
    );
    assert!(d.location.is_some());
    // Across a set, nodes add up.
    let d = over(
        compile_set_with(
            &[("a", "close > 1"), ("b", "open > 1"), ("c", "low > 1")],
            &schema,
            &no_params(),
            &limits,
        ),
        "max_nodes",
    );
    assert_eq!(d.origin.as_deref(), Some("c"));
    // The default: a flat `and` chain of 3,400 comparisons (10,200 nodes) is refused.
    let chain = vec!["low>1"; 3_400].join(" and ");
    let err = compile(&chain, &schema, &no_params()).unwrap_err();
    assert_eq!(err.diagnostics[0].limit, Some("max_nodes"));
}

#[test]
fn name_length() {
    let schema = Schema::ohlcv();
    let ok = format!("let {} = close;\nclose > 0", "a".repeat(64));
    assert!(compile(&ok, &schema, &no_params()).is_ok());
    // E7: a 1,000,000-character `let` name (over the source limit too, so raise that one).
    let huge = format!("let {} = close;\nclose > 0", "a".repeat(1_000_000));
    let limits = Limits {
        max_source_bytes: 2 << 20,
        ..Limits::default()
    };
    let err = compile_with(&huge, &schema, &no_params(), &limits).unwrap_err();
    let d = &err.diagnostics[0];
    assert_eq!(d.limit, Some("max_ident_len"));
    assert!(d.message.contains("1,000,000 characters"), "{}", d.message);
    assert!(d.message.len() < 200, "the message quotes the name in full");
    assert!(
        err.render(&huge).len() < 2_000,
        "the rendering quotes the line in full"
    );
    assert!(err.to_string().len() < 200);
    // Every kind of name: column, function, field, parameter.
    let long = "b".repeat(65);
    for src in [
        format!("{long} > 1"),
        format!("{long}(close) > 1"),
        format!("macd(close, 12, 26, 9).{long} > 1"),
        format!("close > ${long}"),
    ] {
        let err = check(&src, &schema).unwrap_err();
        assert_eq!(err.diagnostics[0].limit, Some("max_ident_len"), "{src}");
        let loc = err.diagnostics[0].location.clone().unwrap();
        assert_eq!(&src[loc.span.start..loc.span.end], long, "{src}");
    }
}

#[test]
fn kernel_calls_and_slots() {
    let schema = Schema::ohlcv();
    let limits = Limits {
        max_kernel_calls: 3,
        ..Limits::default()
    };
    let three = "sma(close, 2) > sma(close, 3) and rsi(close, 14) > 50 and sma(close, 2) > 1";
    let p = compile_with(three, &schema, &no_params(), &limits).unwrap();
    assert_eq!(p.cost().kernel_calls, 3, "identical calls count once");
    let four = "sma(close, 2) > sma(close, 3) and rsi(close, 14) > 50 and ema(close, 9) > 1";
    let d = over(
        compile_with(four, &schema, &no_params(), &limits),
        "max_kernel_calls",
    );
    let loc = d.location.unwrap();
    assert_eq!(&four[loc.span.start..loc.span.end], "ema(close, 9)");

    let limits = Limits {
        max_slots: 4,
        ..Limits::default()
    };
    // Slots: close + 1, (close + 1) * 2, ..., and the output.
    let within = "(close + 1) * 2 > open";
    let p = compile_with(within, &schema, &no_params(), &limits).unwrap();
    assert!(p.cost().slots <= 4);
    let past = "((close + 1) * 2 - 3) / 4 > open - 1";
    let d = over(
        compile_with(past, &schema, &no_params(), &limits),
        "max_slots",
    );
    assert!(d.location.is_some());
}

#[test]
fn review_e8_ten_thousand_lets_are_refused_quickly() {
    let src = lets(10_000);
    assert!(src.len() > 200_000);
    let err = within(5, move || {
        compile(&src, &Schema::ohlcv(), &Params::new()).unwrap_err()
    });
    assert_eq!(err.diagnostics.len(), 1);
    assert_eq!(err.diagnostics[0].limit, Some("max_source_bytes"));
    // Within a larger source limit, the `let` limit refuses it.
    let src = lets(10_000);
    let limits = Limits {
        max_source_bytes: 1 << 20,
        ..Limits::default()
    };
    let err = compile_with(&src, &Schema::ohlcv(), &Params::new(), &limits).unwrap_err();
    assert_eq!(err.diagnostics[0].limit, Some("max_lets"));
}

#[test]
fn constants_through_lets_are_worked_out_once() {
    // Each `let` uses the one before twice: worked out by substitution, the period would take
    // 2^60 steps. `a60` is 1.
    let mut src = String::from("let a0 = 1;\n");
    for i in 1..=60 {
        src.push_str(&format!("let a{i} = a{p} * 2 - a{p};\n", p = i - 1));
    }
    let ok = format!("{src}sma(close, a60 + 1) > 0");
    let p = within(10, move || compile(&ok, &Schema::ohlcv(), &Params::new()));
    assert!(p.is_ok());
    // The same with a bad period and a parameter: the error's hint walks the `let`s too.
    let mut src = String::from("let a0 = $n;\n");
    for i in 1..=60 {
        src.push_str(&format!("let a{i} = a{p} + a{p};\n", p = i - 1));
    }
    let bad = format!("{src}sma(close, a60) > 0");
    let err = within(10, move || {
        compile(&bad, &Schema::ohlcv(), &[("n".to_string(), 1.0)].into()).unwrap_err()
    });
    let help = err.diagnostics[0].help.clone().unwrap();
    assert!(help.contains("`$n`"), "{help}");
}

#[test]
fn errors_are_capped_and_quick() {
    // 8,000 unknown names, each with a suggestion to look for among 256 `let`s.
    let mut src: String = (0..256)
        .map(|i| format!("let name{i} = close;\n"))
        .collect();
    let unknown: Vec<String> = (0..8_000).map(|i| format!("nme{} > 0", i % 300)).collect();
    src.push_str(&unknown.join(" or "));
    let limits = Limits {
        max_source_bytes: 1 << 20,
        max_nodes: 100_000,
        ..Limits::default()
    };
    let err = within(10, move || {
        compile_with(&src, &Schema::ohlcv(), &Params::new(), &limits).unwrap_err()
    });
    assert!(err.diagnostics.len() <= 20, "{}", err.diagnostics.len());
    // Bad characters everywhere: the lexer stops after the first few.
    let junk = "@".repeat(60_000);
    let err = within(10, move || check(&junk, &Schema::ohlcv()).unwrap_err());
    assert!(err.diagnostics.len() <= 20);
    // Many unused parameters: a few are named, the rest counted.
    let params: Params = (0..5_000).map(|i| (format!("p{i}"), 1.0)).collect();
    let err = compile("close > 1", &Schema::ohlcv(), &params).unwrap_err();
    assert!(err.diagnostics.len() <= 21);
    assert!(
        err.diagnostics
            .last()
            .unwrap()
            .message
            .contains("4,980 more")
    );
}

#[test]
fn a_huge_parameter_name_is_refused_quickly_and_briefly() {
    // Parameter names come from the caller, not the code: no limit applies to them, so the
    // error path (is it a misspelling of `$level`?) must not grow with them.
    // (Compared with the 64-character name the code uses, by edit distance, it was a table of
    // 130 million cells.)
    let used = "l".repeat(64);
    let src = format!("close > ${used}");
    let params: Params = [("l".repeat(2_000_000), 1.0), (used, 30.0)].into();
    let code = src.clone();
    let err = within(2, move || {
        compile(&code, &Schema::ohlcv(), &params).unwrap_err()
    });
    assert_eq!(err.diagnostics.len(), 1);
    assert!(err.render(&src).len() < 500);
}

#[test]
fn long_lines_render_short() {
    let mut src = String::new();
    for i in 0..3_000 {
        src.push_str(&format!("close > {i} and "));
    }
    src.push_str("smaa(close, 3) > 0");
    let limits = Limits {
        max_nodes: 100_000,
        ..Limits::default()
    };
    let err = compile_with(&src, &Schema::ohlcv(), &Params::new(), &limits).unwrap_err();
    let rendered = err.render(&src);
    assert!(rendered.len() < 1_000, "{} bytes", rendered.len());
    let caret_line = rendered.lines().find(|l| l.contains('^')).unwrap();
    let shown_line = rendered.lines().find(|l| l.starts_with("1 | ")).unwrap();
    let caret_at = caret_line.find('^').unwrap();
    let under: String = shown_line.chars().skip(caret_at).take(4).collect();
    assert_eq!(under, "smaa", "\n{rendered}");
}
