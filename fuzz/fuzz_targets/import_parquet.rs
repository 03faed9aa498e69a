//! The `import_parquet` fuzz target: see `quantd_fuzz::import`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quantd_fuzz::import::parquet(data));
