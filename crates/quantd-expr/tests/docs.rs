//! Every example in `docs/expressions.md` (the ```quantd blocks) compiles and runs. (That the
//! page lists every function is checked by a unit test of the function table.)

use quantd_expr::{Params, Schema, Workspace, clock, compile};

#[test]
fn documented_examples_compile_and_run() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/expressions.md");
    let doc = std::fs::read_to_string(path).expect("docs/expressions.md exists");
    let mut blocks = Vec::new();
    let mut rest = doc.as_str();
    while let Some(start) = rest.find("```quantd\n") {
        let body = &rest[start + "```quantd\n".len()..];
        let end = body.find("```").expect("closed block");
        blocks.push(&body[..end]);
        rest = &body[end + 3..];
    }
    assert!(blocks.len() >= 10, "found only {} examples", blocks.len());
    let close: Vec<f64> = (0..300)
        .map(|i| 100.0 + (i as f64 * 0.37).sin() * 10.0)
        .collect();
    // Five-minute bars, 78 to a session from 09:30, Monday to Friday.
    let session: Vec<f64> = (0..300).map(|i| (19_723 + i / 78) as f64).collect();
    let minute_of_day: Vec<f64> = (0..300).map(|i| (570 + 5 * (i % 78)) as f64).collect();
    let weekday: Vec<f64> = (0..300).map(|i| ((i / 78) % 5) as f64).collect();
    for src in blocks {
        // Every `$name` gets a value.
        let params: Params = src
            .split('$')
            .skip(1)
            .map(|s| {
                s.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .map(|name| (name, 20.0))
            .collect();
        let program =
            compile(src, &Schema::ohlcv(), &params).unwrap_or_else(|e| panic!("{}", e.render(src)));
        let cols: Vec<&[f64]> = program
            .columns()
            .iter()
            .map(|c| match c.as_str() {
                clock::SESSION => session.as_slice(),
                clock::MINUTE_OF_DAY => minute_of_day.as_slice(),
                clock::WEEKDAY => weekday.as_slice(),
                _ => close.as_slice(),
            })
            .collect();
        let mut ws = Workspace::new();
        let eval = program.evaluate(&cols, &mut ws).unwrap();
        assert_eq!(eval.len(), close.len());
    }
}
