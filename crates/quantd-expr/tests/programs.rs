//! Programs: plan sharing, parameters, indicator and column lists, constants, and the
//! workspace contract.

mod common;
use common::*;
#[test]
fn shared_sub_expressions_are_one_node() {
    let p = program("sma(close, 50) > 1 and sma(close, 50) < 2");
    let plan = p.explain();
    assert_eq!(plan.matches("sma(").count(), 1, "{plan}");
    // Through a `let`, and with the comparison written both ways round.
    let p = program("let a = sma(close, 50);\na > close and close < a and sma(close, 50) > close");
    let plan = p.explain();
    assert_eq!(plan.matches("sma(").count(), 1, "{plan}");
    assert_eq!(plan.lines().count(), 2, "{plan}");
    // Different periods are different nodes.
    assert_eq!(
        program("sma(close, 5) > sma(close, 6)")
            .explain()
            .matches("sma(")
            .count(),
        2
    );
}

#[test]
fn compile_set_shares_one_plan() {
    let entry = "crosses_above(sma(close, 10), sma(close, 30))";
    let exit = "crosses_below(sma(close, 10), sma(close, 30)) or close < lowest(low, 20)[1]";
    let set = compile_set(
        &[("entry", entry), ("exit", exit)],
        &Schema::ohlcv(),
        &Params::new(),
    )
    .unwrap();
    assert_eq!(set.outputs(), ["entry", "exit"]);
    assert_eq!(
        set.explain().matches("sma(").count(),
        2,
        "{}",
        set.explain()
    );
    let b = bars(N, 17);
    let (outs, _) = evaluate(&set, &b);
    assert_eq!(outs[0], cond(entry, &b));
    assert_eq!(outs[1], cond(exit, &b));
    assert!(outs[0].iter().any(|v| *v) && outs[1].iter().any(|v| *v));
    // A `let` with the same definition in both is one indicator.
    let set = compile_set(
        &[
            ("entry", "let fast = sma(close, 10);\nclose > fast"),
            ("exit", "let fast = sma(close, 10);\nclose < fast"),
        ],
        &Schema::ohlcv(),
        &Params::new(),
    )
    .unwrap();
    assert_eq!(set.indicators(), ["fast"]);
}

#[test]
fn params_are_substituted() {
    let b = bars(N, 18);
    let params: Params = [("n".to_string(), 7.0), ("lvl".to_string(), 45.0)].into();
    let p = compile(
        "rsi(close, $n) < $lvl and sma(close, $n * 2) > 0",
        &Schema::ohlcv(),
        &params,
    )
    .unwrap();
    assert_eq!(p.params(), ["lvl", "n"]);
    let (outs, _) = evaluate(&p, &b);
    assert_eq!(
        outs[0],
        cond("rsi(close, 7) < 45 and sma(close, 14) > 0", &b)
    );
    assert!(outs[0].iter().any(|v| *v));
}

#[test]
fn indicators_are_the_lets_in_order() {
    let b = bars(N, 19);
    let p = program(
        "let ma = sma(close, 5);\nlet up = close > ma;\nlet c = close;\nlet k = 3;\nup and ma > k",
    );
    assert_eq!(p.indicators(), ["ma", "up", "c", "k"]);
    let cols: Vec<&[f64]> = p.columns().iter().map(|c| b.column(c)).collect();
    let mut ws = Workspace::new();
    let e = p.evaluate(&cols, &mut ws).unwrap();
    assert_close(
        e.indicator_named("ma").unwrap(),
        &rolling(&b.close, 5, mean),
        1e-12,
    );
    let ma = rolling(&b.close, 5, mean);
    let up: Vec<f64> = (0..N)
        .map(|i| if b.close[i] > ma[i] { 1.0 } else { 0.0 })
        .collect();
    assert_eq!(e.indicator(1), up);
    assert_eq!(e.indicator(2), b.close);
    assert!(e.indicator(3).iter().all(|v| *v == 3.0));
    assert_eq!(e.output_named("signal").unwrap(), e.output(0));
    assert_eq!(e.len(), N);
}

#[test]
fn columns_are_the_used_ones_in_schema_order() {
    let schema = Schema::new(["open", "high", "low", "close", "volume", "vwap"]);
    let p = compile("vwap > close and volume > 0", &schema, &Params::new()).unwrap();
    assert_eq!(p.columns(), ["close", "volume", "vwap"]);
    let close = [1.0, 2.0, 3.0];
    let volume = [1.0, 1.0, 0.0];
    let vwap = [2.0, 1.0, 4.0];
    let mut ws = Workspace::new();
    let e = p.evaluate(&[&close, &volume, &vwap], &mut ws).unwrap();
    assert_eq!(e.output(0), [true, false, false]);
}

#[test]
fn constant_programs() {
    let p = program("1 < 2");
    assert_eq!(
        p.columns(),
        ["open"],
        "the first column gives the number of bars"
    );
    assert_eq!(p.warmup(), 0);
    let mut ws = Workspace::new();
    assert_eq!(
        p.evaluate(&[&[5.0, 6.0]], &mut ws).unwrap().output(0),
        [true, true]
    );
    let p = program("crosses_above(1, 2) and close > 0");
    assert_eq!(p.warmup(), usize::MAX);
}

#[test]
fn workspace_is_reused_across_tickers_and_programs() {
    let p = program(
        "let m = macd(close, 12, 26, 9).hist;\ncrosses_above(m, 0) and rising(close, 2) and volume > sma(volume, 20)",
    );
    let q = program("close < lowest(low, 10)[1]");
    let long = bars(500, 20);
    let short = bars(40, 21);
    let mut ws = Workspace::new();
    for (prog, b) in [
        (&p, &long),
        (&p, &short),
        (&q, &short),
        (&p, &long),
        (&q, &long),
        (&p, &short),
    ] {
        let cols: Vec<&[f64]> = prog.columns().iter().map(|c| b.column(c)).collect();
        let reused = prog.evaluate(&cols, &mut ws).unwrap();
        let reused: (Vec<bool>, Vec<Vec<f64>>) = (
            reused.output(0).to_vec(),
            (0..prog.indicators().len())
                .map(|i| reused.indicator(i).to_vec())
                .collect(),
        );
        let (fresh_out, fresh_ind) = evaluate(prog, b);
        assert_eq!(reused.0, fresh_out[0]);
        for (a, f) in reused.1.iter().zip(&fresh_ind) {
            assert_close(a, f, 0.0);
        }
    }
}

#[test]
fn short_and_empty_tickers() {
    let p = program(
        "close > sma(close, 50) and rsi(close, 14) > 50 and crosses_above(close, 1) and rising(close, 3)",
    );
    let mut ws = Workspace::new();
    let e = p.evaluate(&[&[]], &mut ws).unwrap();
    assert!(e.is_empty() && e.output(0).is_empty());
    let e = p.evaluate(&[&[1.0, 2.0, 3.0]], &mut ws).unwrap();
    assert_eq!(e.output(0), [false, false, false]);
}

#[test]
fn evaluation_errors() {
    let p = program("close > open");
    let mut ws = Workspace::new();
    let err = p.evaluate(&[&[1.0]], &mut ws).unwrap_err();
    assert!(matches!(err, EvalError::ColumnCount { found: 1, .. }));
    assert_eq!(
        err.to_string(),
        "expected 2 input columns (open, close), but 1 were passed"
    );
    let err = p.evaluate(&[&[1.0, 2.0], &[1.0]], &mut ws).unwrap_err();
    assert_eq!(
        err.to_string(),
        "column `close` has 1 values, but `open` has 2"
    );
}

#[test]
fn the_largest_accepted_trees_compile_and_run() {
    let b = bars(N, 22);
    // A long sum: one level of tree per term, just under the limit.
    let long = format!("close{} > 0", " + close".repeat(240));
    let (outs, _) = evaluate(&program(&long), &b);
    assert!(outs[0].iter().all(|v| *v));
    // Deeply nested calls, just under the nesting limit.
    let nested = format!("{}close{} > 0", "abs(".repeat(60), ")".repeat(60));
    let (outs, _) = evaluate(&program(&nested), &b);
    assert!(outs[0].iter().all(|v| *v));
}

#[test]
fn programs_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Program>();
    assert_send_sync::<Workspace>();
}
