//! The fuzz corpus as a regression suite (docs/fuzzing.md): every body checked in under
//! `fuzz/corpus/submit_body/` runs through the `submit_body` target's own function
//! (fuzz/src/submit_body.rs: the JSON body as a `SubmitRequest`, `Engine::submit_request` on a
//! small pack, the response view or problem). A 4xx answer is expected for bad bodies; a panic
//! fails.

#[path = "../../../fuzz/src/replay.rs"]
mod replay;
#[path = "../../../fuzz/src/submit_body.rs"]
mod submit_body;

#[test]
fn submit_body_corpus_never_panics() {
    replay::assert_corpus_passes("submit_body", submit_body::run);
}
