//! Shared test helpers: the interpreter (QUANTD_PYTHON, else `scripts/pyenv`) and configurations.

#![allow(dead_code)]

use quantd_sandbox::{CancelToken, Job, Limits, Outcome, SandboxConfig, ShimCommand, Verdict};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// The runtime interpreter. Never skips: a missing interpreter fails the test with how to fix it.
pub fn python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        if let Some(p) = std::env::var_os("QUANTD_PYTHON") {
            return PathBuf::from(p);
        }
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = std::process::Command::new(root.join("scripts/pyenv"))
            .output()
            .expect("run scripts/pyenv (set QUANTD_PYTHON to use another interpreter)");
        assert!(
            out.status.success(),
            "scripts/pyenv failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
    .clone()
}

pub fn config() -> SandboxConfig {
    let mut c = SandboxConfig::new(
        python(),
        ShimCommand::new(env!("CARGO_BIN_EXE_quantd-sandbox-shim")),
    );
    c.limits = small_limits();
    c
}

pub fn small_limits() -> Limits {
    Limits {
        cpu: Duration::from_secs(2),
        wall: Duration::from_secs(8),
        memory_bytes: 1 << 30,
        processes: 32,
        file_size_bytes: 8 << 20,
        open_files: 64,
        stdout_bytes: 1 << 20,
        stderr_bytes: 256 << 10,
        tmpfs_bytes: 32 << 20,
    }
}

pub fn run(code: &str) -> Outcome {
    run_with(&config(), Job::script(code))
}

pub fn run_with(config: &SandboxConfig, job: Job) -> Outcome {
    quantd_sandbox::run(config, &job, &CancelToken::new()).expect("the sandbox runs the job")
}

pub fn show(o: &Outcome) -> String {
    format!(
        "verdict={} code={:?} signal={:?} detail={:?}\nstdout={}\nstderr={}",
        o.verdict,
        o.exit_code,
        o.signal,
        o.detail,
        String::from_utf8_lossy(&o.stdout[..o.stdout.len().min(2000)]),
        String::from_utf8_lossy(&o.stderr[..o.stderr.len().min(4000)])
    )
}

#[track_caller]
pub fn expect(o: &Outcome, verdict: Verdict) {
    assert_eq!(o.verdict, verdict, "{}", show(o));
}

pub fn stdout(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A token unique to one job, passed as an argument so its processes can be found on the host.
pub fn token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "qdtok-{}-{}-end",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Runs `code` with a unique token argument and asserts afterwards that no host process carries it.
pub fn run_contained(config: &SandboxConfig, code: &str) -> Outcome {
    let tok = token();
    let o = run_with(config, Job::script(code).with_args([tok.clone()]));
    assert_no_survivors(&tok);
    o
}

/// No process on the host has `token` on its command line.
#[track_caller]
pub fn assert_no_survivors(token: &str) {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(token)
        {
            found.push(pid);
        }
    }
    assert!(found.is_empty(), "processes of the job survived: {found:?}");
}
