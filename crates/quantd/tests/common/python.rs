//! Helpers of the tests that run Python code through the binary: a data dir with a small
//! synthetic pack, `quantd` with `QUANTD_PYTHON` set to the reference venv, a server.

#[allow(unused_imports)] // each test binary uses its own subset
pub use super::{KillOnDrop, http, http_as, serve};
use super::{quantd, reference_python};
use std::path::Path;
use std::process::Output;

/// A data dir with a small synthetic pack, and the reference interpreter for Python.
pub fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let python = reference_python().to_string_lossy().into_owned();
    super::synth_u_seeded(dir.path(), 10, 260, 7);
    (dir, python)
}

/// Runs quantd with `QUANTD_PYTHON` and extra environment variables.
pub fn py(d: &Path, python: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = quantd(d);
    c.env("QUANTD_PYTHON", python)
        .env_remove("QUANTD_SHARD_BARS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).output().expect("run quantd")
}

pub fn py_ok(d: &Path, python: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = py(d, python, args, env);
    assert!(
        out.status.success(),
        "quantd {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn py_json(d: &Path, python: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&py_ok(d, python, &all, &[])).expect("JSON on stdout")
}

pub fn write(d: &Path, name: &str, text: &str) -> String {
    let p = d.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// Starts `quantd serve --no-auth` on a free port of 127.0.0.1 with the reference Python;
/// returns the server (killed when dropped) and its `host:port`.
pub fn serve_python(d: &Path, python: &str) -> (KillOnDrop, String) {
    let mut command = quantd(d);
    command.env("QUANTD_PYTHON", python);
    serve(command, &["--no-auth"])
}

/// The record of paper or live session `id` (`quantd --json orders`).
pub fn record(d: &Path, python: &str, id: &str) -> Vec<serde_json::Value> {
    py_json(d, python, &["orders", id])
        .as_array()
        .expect("a list")
        .clone()
}

/// The events of `record` of type `kind`.
pub fn of_type<'a>(record: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    record.iter().filter(|e| e["type"] == kind).collect()
}
