//! The `expr` fuzz target: see `quantd_fuzz::expr`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quantd_fuzz::expr::run(data));
