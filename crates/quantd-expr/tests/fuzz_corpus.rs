//! The fuzz corpus as a regression suite (docs/fuzzing.md): every input checked in under
//! `fuzz/corpus/expr/` runs through the `expr` target's own function (fuzz/src/expr.rs: parse,
//! check, compile with several parameter values, evaluate on clean and hostile series).
//! Diagnostics are the expected answer to bad code; a panic fails.

#[path = "../../../fuzz/src/expr.rs"]
mod expr;
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn expr_corpus_never_panics() {
    replay::assert_corpus_passes("expr", expr::run);
}
