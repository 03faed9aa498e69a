//! What users see when their code is wrong: rendered diagnostics, snapshot-tested.

use quantd_expr::{Params, Schema, check, compile, compile_set};

fn params(values: &[(&str, f64)]) -> Params {
    values.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Compiles `src`, which must fail, and renders the errors against it.
fn render(src: &str, values: &[(&str, f64)]) -> String {
    let err = compile(src, &Schema::ohlcv(), &params(values)).expect_err("the source has an error");
    err.render(src)
}

#[test]
fn unknown_function_with_suggestion() {
    insta::assert_snapshot!(render("smaa(close, 20) < close", &[]));
}

#[test]
fn unknown_function_without_suggestion() {
    insta::assert_snapshot!(render("kama(close, 10) > 1", &[]));
}

#[test]
fn time_value_called_with_arguments() {
    insta::assert_snapshot!(render("vwap(close) > 1", &[]));
}

#[test]
fn malformed_time_of_day() {
    insta::assert_snapshot!(render("close > vwap and\ntime_of_day >= \"9:75\"", &[]));
}

#[test]
fn time_string_compared_with_a_column() {
    insta::assert_snapshot!(render("close > \"09:45\"", &[]));
}

#[test]
fn string_outside_a_time_comparison() {
    insta::assert_snapshot!(render(
        "let open_at = \"09:30\";\ntime_of_day >= open_at",
        &[]
    ));
}

#[test]
fn clock_column_named_directly() {
    insta::assert_snapshot!(render("@session > 0", &[]));
}

#[test]
fn unknown_column() {
    insta::assert_snapshot!(render("clsoe > sma(close, 20)", &[]));
}

#[test]
fn unknown_column_lists_the_columns() {
    insta::assert_snapshot!(render("price > 10", &[]));
}

#[test]
fn unknown_let_name_suggests_the_let() {
    insta::assert_snapshot!(render("let fast_ma = ema(close, 12);\nclose > fastma", &[]));
}

#[test]
fn let_used_before_definition() {
    insta::assert_snapshot!(render(
        "let a = b * 2;\nlet b = sma(close, 5);\nclose > a",
        &[]
    ));
}

#[test]
fn wrong_arity() {
    insta::assert_snapshot!(render("rsi(close) < 30", &[]));
}

#[test]
fn wrong_arity_with_optional_argument() {
    insta::assert_snapshot!(render("close > bbands(close, 20).upper", &[]));
}

#[test]
fn condition_where_a_number_is_needed() {
    insta::assert_snapshot!(render("close + (rsi(close, 14) < 30) > 5", &[]));
}

#[test]
fn number_where_a_condition_is_needed() {
    insta::assert_snapshot!(render("rsi(close, 14) and close > 5", &[]));
}

#[test]
fn final_expression_is_a_number() {
    insta::assert_snapshot!(render("let ma = sma(close, 20);\nma - close", &[]));
}

#[test]
fn missing_param() {
    insta::assert_snapshot!(render("rsi(close, 14) < $rsi_max", &[]));
}

#[test]
fn unused_param() {
    insta::assert_snapshot!(render("rsi(close, 14) < 30", &[("rsi_max", 30.0)]));
}

#[test]
fn misspelled_param_is_missing_and_unused() {
    insta::assert_snapshot!(render("rsi(close, 14) < $rsi_max", &[("rsi_mx", 30.0)]));
}

#[test]
fn non_constant_period() {
    insta::assert_snapshot!(render("sma(close, volume) > close", &[]));
}

#[test]
fn period_out_of_range() {
    insta::assert_snapshot!(render("rsi(close, 1) > 50", &[]));
}

#[test]
fn param_period_not_a_whole_number() {
    insta::assert_snapshot!(render("sma(close, $n) > close", &[("n", 14.5)]));
}

#[test]
fn multi_output_without_field() {
    insta::assert_snapshot!(render("macd(close, 12, 26, 9) > 0", &[]));
}

#[test]
fn unknown_field_with_suggestion() {
    insta::assert_snapshot!(render("macd(close, 12, 26, 9).sig > 0", &[]));
}

#[test]
fn field_on_single_output() {
    insta::assert_snapshot!(render("sma(close, 5).upper > 0", &[]));
}

#[test]
fn unterminated_input() {
    insta::assert_snapshot!(render("close > sma(close, 20", &[]));
}

#[test]
fn unterminated_parenthesis_on_a_later_line() {
    insta::assert_snapshot!(render(
        "let ma = sma(close, 20);\n(close > ma\n  and volume > 1000",
        &[]
    ));
}

#[test]
fn bad_token() {
    insta::assert_snapshot!(render("close > 5 && volume > 1000", &[]));
}

#[test]
fn chained_comparison() {
    insta::assert_snapshot!(render("30 < rsi(close, 14) < 70", &[]));
}

#[test]
fn several_errors_are_reported() {
    insta::assert_snapshot!(render(
        "let a = smaa(close, 5);\nlet b = rsi(close);\nlet c = macd(close, 12, 26, 9);\na > b",
        &[]
    ));
}

#[test]
fn tabs_and_unicode_keep_the_caret_aligned() {
    insta::assert_snapshot!(render("\tclose > 1 and  ümlaut > 2", &[]));
}

#[test]
fn deep_nesting() {
    let src = format!("{}close{} > 1", "(".repeat(100), ")".repeat(100));
    let rendered = render(&src, &[]);
    assert!(
        rendered.starts_with("error: expression is nested too deeply (more than 64 levels)\n"),
        "{rendered}"
    );
}

#[test]
fn set_errors_name_their_expression() {
    let srcs = [
        (
            "entry",
            "let fast = sma(close, 10);\ncrosses_above(fast, sma(close, 30))",
        ),
        (
            "exit",
            "let fast = ema(close, 10);\ncrosses_below(fast, sma(close, 30))",
        ),
    ];
    let err = compile_set(&srcs, &Schema::ohlcv(), &Params::new()).unwrap_err();
    insta::assert_snapshot!(err.render_set(&srcs));
}

#[test]
fn set_errors_from_checking() {
    let srcs = [
        ("entry", "close > sma(close, $fast)"),
        ("exit", "close < smaa(close, 5)"),
    ];
    let err = compile_set(&srcs, &Schema::ohlcv(), &params(&[("fast", 10.0)])).unwrap_err();
    insta::assert_snapshot!(err.render_set(&srcs));
}

#[test]
fn display_is_one_line_with_position() {
    let err = compile(
        "let a = 1;\nclose > smaa(close, 2) and b",
        &Schema::ohlcv(),
        &Params::new(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "2:9: unknown function `smaa` (and 1 more error)"
    );
    let d = &err.diagnostics[0];
    let loc = d.location.as_ref().unwrap();
    assert_eq!(
        (loc.line, loc.column, loc.span.start, loc.span.end),
        (2, 9, 19, 23)
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `sma`?"));
}

#[test]
fn check_needs_no_param_values_but_finds_everything_else() {
    let info = check(
        "let ma = sma(close, $n);\nlet up = close > ma;\nup and volume > $min_vol and rsi(close, $n) < 30",
        &Schema::ohlcv(),
    )
    .unwrap();
    assert_eq!(info.params, ["min_vol", "n"]);
    assert_eq!(info.lets, ["ma", "up"]);
    assert_eq!(info.columns, ["close", "volume"]);

    // A literal period out of range is found without parameters.
    let err = check("sma(close, 0) > 1", &Schema::ohlcv()).unwrap_err();
    assert_eq!(
        err.diagnostics[0].message,
        "`period` of `sma` must be a whole number from 1 to 100000, but it is 0"
    );
}

#[test]
fn set_level_errors() {
    let err = compile_set(
        &[("entry", "close > 1"), ("entry", "close < 1")],
        &Schema::ohlcv(),
        &Params::new(),
    )
    .unwrap_err();
    assert_eq!(
        err.diagnostics[0].message,
        "two expressions are named `entry`"
    );
    let err = compile_set(&[], &Schema::ohlcv(), &Params::new()).unwrap_err();
    assert_eq!(err.diagnostics[0].message, "no expressions to compile");
    // A parameter used by one expression of the set is used.
    assert!(
        compile_set(
            &[("entry", "close > $x"), ("exit", "close < 1")],
            &Schema::ohlcv(),
            &params(&[("x", 1.0)])
        )
        .is_ok()
    );
}

#[test]
fn non_finite_param_values_are_refused() {
    let err = compile("close > $x", &Schema::ohlcv(), &params(&[("x", f64::NAN)])).unwrap_err();
    assert_eq!(
        err.diagnostics[0].message,
        "parameter `$x` must be a finite number, but it is NaN"
    );
}

#[test]
fn over_the_let_limit() {
    let src: String = (0..257)
        .map(|i| format!("let v{i} = close + {i};\n"))
        .chain(["close > 0".to_string()])
        .collect();
    let err = compile(&src, &Schema::ohlcv(), &Params::new()).unwrap_err();
    insta::assert_snapshot!(err.render(&src));
}

#[test]
fn name_over_the_length_limit() {
    let src = format!("let {} = sma(close, 20);\nclose > 0", "x".repeat(200));
    insta::assert_snapshot!(render(&src, &[]));
}

#[test]
fn code_over_the_size_limit() {
    let src = format!("close > open\n{}", "# a comment\n".repeat(6_000));
    insta::assert_snapshot!(render(&src, &[]));
}

#[test]
fn over_the_kernel_call_limit() {
    let src: Vec<String> = (0..300)
        .map(|i| format!("close > sma(close, {})", i + 2))
        .collect();
    let src = src.join(" or ");
    insta::assert_snapshot!(render(&src, &[]));
}
