//! The `submit_body` fuzz target: see `quantd_fuzz::submit_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quantd_fuzz::submit_body::run(data));
