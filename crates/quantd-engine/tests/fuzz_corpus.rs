//! The fuzz corpus as a regression suite (docs/fuzzing.md): every Arrow file checked in under
//! `fuzz/corpus/python_result/` runs through the `python_result` target's own function
//! (fuzz/src/python_result.rs: the engine's `read_result`, then the scan's signals, summary,
//! stored encoding and exports). A shard failure is the expected answer to a forged file; a
//! panic fails.

#[path = "../../../fuzz/src/python_result.rs"]
mod python_result;
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn python_result_corpus_never_panics() {
    replay::assert_corpus_passes("python_result", python_result::run);
}
