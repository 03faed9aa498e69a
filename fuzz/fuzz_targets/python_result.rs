//! The `python_result` fuzz target: see `quantd_fuzz::python_result`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quantd_fuzz::python_result::run(data));
