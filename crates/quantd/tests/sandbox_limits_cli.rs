//! Sandbox limits per execution (`options.sandbox`; the CLI's `--memory-mib`, `--cpu-secs`,
//! `--wall-secs`, `--pids`, `--output-mib`) through the real binary and the real sandbox: each
//! reaches the execution's jobs (on every process that runs them), is stored with it, and is
//! refused at the door over the server's maximum or for code that does not run in the sandbox.

mod common;
use common::python::*;
use std::time::{Duration, Instant};

const SLEEPER: &str = "import time\nimport quantd as qd\n\n@qd.scanner()\ndef slow(bars):\n    time.sleep(600)\n    return bars.close > 0\n";

/// A scanner holding `mib` MiB while it runs.
fn hog(mib: u64) -> String {
    format!(
        "import quantd as qd\n\n@qd.scanner()\ndef hog(bars):\n    block = bytearray({mib} << 20)\n    return bars.close > len(block) * 0\n"
    )
}

fn newest(d: &std::path::Path, python: &str, kind: &str) -> serde_json::Value {
    let hist = py_json(d, python, &["history", "--kind", kind]);
    hist.as_array()
        .or_else(|| hist["items"].as_array())
        .unwrap()[0]
        .clone()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_scanners_wall_limit_is_its_executions_even_when_another_process_runs_it() {
    let (dir, python) = setup();
    let d = dir.path();
    let file = write(d, "slow.py", SLEEPER);
    // Detached: a background process loads the execution from the store and runs it, so the
    // limit must come from what was stored (the default wall limit is 600 s).
    let started = Instant::now();
    let id = py_ok(
        d,
        &python,
        &["scan", "--file", &file, "--wall-secs", "1", "--detach"],
        &[],
    )
    .trim()
    .to_string();
    let show = |d| py_json(d, &python, &["show", &id]);
    let mut view = show(d);
    // The background process is another process: its progress can only be polled.
    while !matches!(
        view["execution"]["state"].as_str(),
        Some("failed" | "completed")
    ) {
        assert!(started.elapsed() < Duration::from_secs(60), "{view}");
        std::thread::sleep(Duration::from_millis(100));
        view = show(d);
    }
    let e = &view["execution"];
    assert_eq!(e["state"], "failed", "{view}");
    assert_eq!(e["error_class"], "timeout", "{view}");
    assert!(
        e["error_message"]
            .as_str()
            .unwrap()
            .starts_with("wall_timeout"),
        "{view}"
    );
    assert_eq!(e["options"]["sandbox"]["wall_secs"], 1, "stored: {view}");
}

#[test]
fn a_memory_limit_below_what_the_scanner_holds_ends_it_memory_limit() {
    let (dir, python) = setup();
    let d = dir.path();
    let file = write(d, "hog.py", &hog(1024));
    let out = py(
        d,
        &python,
        &["scan", "--file", &file, "--memory-mib", "768"],
        &[],
    );
    assert!(!out.status.success());
    let rec = newest(d, &python, "scan");
    assert_eq!(rec["state"], "failed", "{rec}");
    assert_eq!(rec["error_class"], "resource", "{rec}");
    let msg = rec["error_message"].as_str().unwrap();
    assert!(msg.contains("memory_limit"), "{msg}");
    // The same scanner within the default limit (4 GiB) completes.
    py_ok(d, &python, &["scan", "--file", &file], &[]);
    assert_eq!(newest(d, &python, "scan")["state"], "completed");
}

#[test]
fn a_runs_output_limit_ends_it_output_limit() {
    let (dir, python) = setup();
    let d = dir.path();
    let script = write(
        d,
        "chatty.py",
        "import sys\nfor _ in range(3):\n    sys.stdout.write('x' * (1 << 20))\nsys.stdout.flush()\n",
    );
    let out = py(d, &python, &["run", &script, "--output-mib", "1"], &[]);
    assert!(!out.status.success());
    let rec = newest(d, &python, "run");
    assert_eq!(rec["state"], "failed", "{rec}");
    let msg = rec["error_message"].as_str().unwrap();
    assert!(msg.starts_with("output_limit"), "{msg}");
    // Within the default (8 MiB) it completes.
    py_ok(d, &python, &["run", &script], &[]);
    assert_eq!(newest(d, &python, "run")["state"], "completed");
}

#[test]
fn limits_outside_the_servers_bounds_are_refused_before_anything_is_stored() {
    let (dir, python) = setup();
    let d = dir.path();
    let file = write(d, "slow.py", SLEEPER);
    let cases: [(&[&str], &str); 4] = [
        (
            &["scan", "--file", &file, "--memory-mib", "100000"],
            "QUANTD_MAX_SANDBOX_MEMORY_MIB",
        ),
        (
            &["scan", "--file", &file, "--pids", "0"],
            "options.sandbox.pids is 0",
        ),
        (
            &["scan", "--expr", "close > 1", "--cpu-secs", "5"],
            "applies to Python code only",
        ),
        (
            &["run", &file, "--wall-secs", "5"],
            "a run's wall-clock limit is its `timeout`",
        ),
    ];
    for (args, says) in cases {
        let out = py(d, &python, args, &[]);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // An operator's lower maximum bounds requests too.
    let out = py(
        d,
        &python,
        &["scan", "--file", &file, "--memory-mib", "2048"],
        &[("QUANTD_MAX_SANDBOX_MEMORY_MIB", "1024")],
    );
    let err = stderr(&out);
    assert!(
        err.contains("options.sandbox.memory_mib is 2048") && err.contains("maximum of 1024"),
        "{err}"
    );
    let hist = py_json(d, &python, &["history"]);
    let items = hist
        .as_array()
        .or_else(|| hist["items"].as_array())
        .unwrap();
    assert!(items.is_empty(), "nothing was stored: {hist}");
}
