//! Provisioning the managed venv without a reachable package index fails with the "offline"
//! explanation (a test binary of its own: it points pip at a closed port through the
//! environment).

#![allow(unsafe_code)]

use quantd_sandbox::{Runtime, RuntimeOptions, RuntimeStep};

#[test]
fn offline_setup_explains_itself() {
    // SAFETY: this test binary has a single test, so no other thread reads the environment now.
    unsafe {
        std::env::set_var("PIP_INDEX_URL", "http://127.0.0.1:9/simple");
        std::env::set_var("PIP_RETRIES", "0");
        std::env::set_var("PIP_TIMEOUT", "2");
        std::env::set_var("PIP_NO_CACHE_DIR", "1");
    }
    let data = tempfile::tempdir().unwrap();
    let mut steps = Vec::new();
    let e = Runtime::ensure_with(data.path(), &RuntimeOptions::default(), &mut |s| {
        steps.push(s)
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("unreachable (offline?)"), "{e}");
    assert!(e.contains("How to fix"), "{e}");
    assert!(
        steps
            .iter()
            .any(|s| matches!(s, RuntimeStep::CreatingVenv { .. })),
        "{steps:?}"
    );
}
