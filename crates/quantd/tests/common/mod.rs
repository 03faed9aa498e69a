//! Helpers shared by the CLI tests: run the `quantd` binary on a data directory, the reference
//! Python venv, and killing a process at a failure point.
#![allow(dead_code)] // each test binary uses its own subset

pub mod python;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `quantd` binary on data directory `data`, with no failure point set.
pub fn quantd(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_quantd"));
    c.env("QUANTD_DATA", data).env_remove("QUANTD_FAILPOINT");
    c
}

/// Runs `quantd args` and returns its output, whatever its exit status.
pub fn run(data: &Path, args: &[&str]) -> Output {
    quantd(data).args(args).output().expect("run quantd")
}

/// Runs `quantd args`, asserts success, returns stdout.
pub fn ok(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert!(
        out.status.success(),
        "quantd {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Runs `quantd --json args`, asserts success, parses stdout.
pub fn json(data: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(data, &all)).expect("JSON on stdout")
}

/// The reference venv's interpreter (pandas, pyarrow, TA-Lib, backtesting.py). Fails, never skips,
/// when it cannot be created.
pub fn reference_python() -> PathBuf {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pyenv");
    let out = Command::new("bash")
        .arg(script)
        .output()
        .expect("run scripts/pyenv");
    assert!(
        out.status.success(),
        "scripts/pyenv failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8").trim())
}

/// Starts `command` with failure point `point` set to pause, waits until it is reached, kills the
/// process with SIGKILL, and returns the execution id it announced (`execution ex_…: N shards`),
/// or an empty string when it announced none.
pub fn kill_at(mut command: Command, point: &str) -> String {
    let mut child = command
        .env("QUANTD_FAILPOINT", format!("{point}:pause"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn quantd");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let (mut id, mut line) = (String::new(), String::new());
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).expect("read stderr") > 0,
            "exited before failure point {point}"
        );
        if let Some(rest) = line.strip_prefix("execution ") {
            id = rest.split(':').next().unwrap_or_default().to_string();
        }
        if line.contains(&format!("failpoint {point} reached")) {
            break;
        }
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    id
}
