//! Replays a target's checked-in corpus (`fuzz/corpus/<target>/`) through its function, as the
//! crates' `tests/fuzz_corpus.rs` do: each input runs under `catch_unwind`, and every panic is
//! reported with the input's path, so one bad input does not hide the others. A panic the code
//! under test catches itself (a panic boundary around a third-party decoder) counts too, as it
//! does under libFuzzer, whose panic hook aborts before any unwinding.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

thread_local! {
    /// Panics on this thread so far, caught or not.
    static PANICS: Cell<u64> = const { Cell::new(0) };
}

/// Counts every panic on its thread (then reports it as before).
fn count_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            report(info);
        }));
    });
}

/// The corpus directory of `target`, found by walking up from the compiling crate to the
/// repository root (the directory that holds `fuzz/corpus`).
pub fn corpus_dir(target: &str) -> PathBuf {
    let start = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in start.ancestors() {
        let corpus = dir.join("fuzz").join("corpus");
        if corpus.is_dir() {
            return corpus.join(target);
        }
    }
    panic!(
        "no fuzz/corpus above {}: the corpus is checked in at the repository root",
        start.display()
    );
}

/// The corpus files of `target`, sorted by name. Panics when there are none: a target without
/// a corpus would pass without testing anything.
pub fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading the corpus {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "the corpus {} is empty: seed it (docs/fuzzing.md)",
        dir.display()
    );
    files
}

/// Runs every corpus file of `target` through `run`; returns one line per input that panicked:
/// its path and the panic message.
pub fn replay(target: &str, run: impl Fn(&[u8])) -> Vec<String> {
    count_panics();
    let mut failures = Vec::new();
    for path in corpus_files(target) {
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("reading corpus input {}: {e}", path.display()));
        let before = PANICS.with(Cell::get);
        let outcome = catch_unwind(AssertUnwindSafe(|| run(&bytes)));
        if outcome.is_ok() && PANICS.with(Cell::get) > before {
            failures.push(format!(
                "{}: panicked, and the code under test caught it",
                path.display()
            ));
        }
        if let Err(payload) = outcome {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            failures.push(format!("{}: {message}", path.display()));
        }
    }
    failures
}

/// Replays `target` and fails with every panicking input listed.
pub fn assert_corpus_passes(target: &str, run: impl Fn(&[u8])) {
    let failures = replay(target, run);
    assert!(
        failures.is_empty(),
        "{} corpus input(s) of `{target}` panicked (reproduce one with `scripts/fuzz --repro {target} FILE`):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
