//! The Python client (`python/quantd/client`, docs/client.md) against this build's binary: runs
//! its pytest suite (`python/tests/client`), which starts a live `quantd serve` and drives every
//! operation of the API through the client, including event streams cut mid-way and the
//! walkthrough of docs/client.md. The venv comes from `scripts/pyenv
//! python/requirements-client.txt`; the test fails, never skips, when it cannot be made.

mod common;
use common::pyenv;
use std::process::Command;

#[test]
fn the_python_client_suite_passes_against_a_live_server() {
    let python = pyenv(Some("python/requirements-client.txt"));
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "python/tests/client",
            "-q",
            "-p",
            "no:cacheprovider",
        ])
        .current_dir(root)
        .env("QUANTD_BIN", env!("CARGO_BIN_EXE_quantd"))
        .env("QUANTD_PYTHON", &python)
        .env_remove("QUANTD_URL")
        .env_remove("QUANTD_TOKEN")
        .env_remove("QUANTD_DATA")
        .env_remove("QUANTD_DATABASE_URL")
        .env_remove("QUANTD_PACK_STORE")
        .env_remove("QUANTD_FAILPOINT")
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pytest python/tests/client failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing skipped silently: the summary line counts passes only.
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" passed"))
        .unwrap_or_default();
    assert!(
        !summary.contains("skipped") && !summary.contains("deselected"),
        "pytest skipped tests: {summary}"
    );
    println!("{stdout}");
}
