//! The fuzz corpus as a regression suite (docs/fuzzing.md): every input checked in under
//! `fuzz/corpus/import_csv/` and `fuzz/corpus/import_parquet/` runs through the fuzz targets' own
//! functions (fuzz/src/import.rs: import strict and lenient, write the pack, read it back,
//! export and import again). Errors are the expected answer to bad input; a panic fails.

#[path = "../../../fuzz/src/import.rs"]
mod import;
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn import_csv_corpus_never_panics() {
    replay::assert_corpus_passes("import_csv", import::csv);
}

#[test]
fn import_parquet_corpus_never_panics() {
    replay::assert_corpus_passes("import_parquet", import::parquet);
}

#[test]
fn replay_names_each_input_that_panics() {
    let failures = replay::replay("import_csv", |data| {
        assert!(!data.starts_with(b"ticker,"), "starts with a header");
    });
    let valid = failures
        .iter()
        .find(|f| f.contains("valid.csv:"))
        .unwrap_or_else(|| panic!("valid.csv not reported: {failures:?}"));
    assert!(valid.ends_with("starts with a header"), "{valid}");
    assert!(
        failures.len() > 1,
        "only one failure reported: {failures:?}"
    );
    assert!(
        !failures.iter().any(|f| f.contains("empty.csv:")),
        "an input that passed was reported: {failures:?}"
    );
}
