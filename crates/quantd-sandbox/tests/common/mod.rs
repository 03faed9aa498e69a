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
    // Job dirs and zygote roots under the target dir: what a test cannot drop (the shared
    // zygote is a static; a host killed on purpose) is not left in the system's /tmp.
    c.scratch_dir = Some(env!("CARGO_TARGET_TMPDIR").into());
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
        out_bytes: 32 << 20,
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
        let comm = comm_token(token);
        for task in std::fs::read_dir(entry.path().join("task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(name) = std::fs::read_to_string(task.path().join("comm"))
                && name.trim_end() == comm
            {
                found.push(pid);
            }
        }
    }
    assert!(found.is_empty(), "processes of the job survived: {found:?}");
}

/// Which way a job is started: a fresh shim per job, or a child of the shared warm zygote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Cold,
    Zygote,
}

/// The SDK directory of this repository.
pub fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../python")
}

/// One warm zygote per test binary, shared by its tests (which run on several threads at once).
pub fn zygote() -> &'static quantd_sandbox::Zygote {
    static Z: OnceLock<quantd_sandbox::Zygote> = OnceLock::new();
    Z.get_or_init(|| {
        let mut c = config();
        c.sdk_dir = Some(sdk_dir());
        quantd_sandbox::Zygote::start(&c).expect("the zygote starts")
    })
}

/// Runs `job` cold with `config`, or in the shared zygote with `config`'s limits.
pub fn run_in(
    mode: Mode,
    config: &SandboxConfig,
    job: &Job,
    cancel: &CancelToken,
) -> quantd_sandbox::Result<Outcome> {
    match mode {
        Mode::Cold => quantd_sandbox::run(config, job, cancel),
        Mode::Zygote => {
            let mut job = job.clone();
            job.limits.get_or_insert_with(|| config.limits.clone());
            zygote().run(&job, cancel)
        }
    }
}

pub fn run_with_in(mode: Mode, config: &SandboxConfig, job: Job) -> Outcome {
    run_in(mode, config, &job, &CancelToken::new()).expect("the sandbox runs the job")
}

/// [`run_contained`] in `mode`. A zygote's children keep the zygote's command line, so there
/// the job first names itself (`comm`, inherited by everything it starts) with a short token.
pub fn run_contained_in(mode: Mode, config: &SandboxConfig, code: &str) -> Outcome {
    let tok = token();
    let code = tagged(mode, &tok, code);
    let o = run_with_in(mode, config, Job::script(code).with_args([tok.clone()]));
    assert_no_survivors(&tok);
    o
}

/// `code`, which in a zygote first names its process after `tok` (see [`run_contained_in`]).
pub fn tagged(mode: Mode, tok: &str, code: &str) -> String {
    match mode {
        Mode::Cold => code.to_owned(),
        Mode::Zygote => format!(
            "import ctypes as _c; _c.CDLL(None).prctl(15, b'{}', 0, 0, 0); del _c\n{code}",
            comm_token(tok)
        ),
    }
}

/// The 15-byte process name standing for `token`.
pub fn comm_token(token: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    token.hash(&mut h);
    format!("qz{:013x}", h.finish() & 0xF_FFFF_FFFF_FFFF)
}

/// Declares `#[test]`s `cold::NAME` and `zygote::NAME` for each `fn NAME(mode: Mode)`.
#[macro_export]
macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {
        mod cold {
            $(#[test] fn $name() { super::$name($crate::common::Mode::Cold) })*
        }
        mod zygote {
            $(#[test] fn $name() { super::$name($crate::common::Mode::Zygote) })*
        }
    };
}

/// A random marker: `ZQXM` and 16 hex digits (what [`MEMSCAN`] looks for).
pub fn marker() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    format!("ZQXM{:016x}", h.finish())
}

/// A job that scans its own writable anonymous memory (heap, stack, anonymous maps: what a
/// forked child inherits) for markers like [`marker`]'s and prints each one found on a line
/// (review S8's method, `/proc/self/maps` and `ctypes.string_at`).
pub const MEMSCAN: &str = r#"
import ctypes, re
pat = re.compile(rb"ZQXM[0-9a-f]{16}")
found = set()
chunk = 8 << 20
for line in open("/proc/self/maps"):
    p = line.split()
    if not p[1].startswith("rw") or (len(p) > 5 and p[5].startswith("/")):
        continue
    a, b = (int(x, 16) for x in p[0].split("-"))
    for off in range(a, b, chunk):
        try:
            data = ctypes.string_at(off, min(chunk + 32, b - off))
        except Exception:
            continue
        found.update(m.group(0).decode() for m in pat.finditer(data))
print("\n".join(sorted(found)))
"#;

/// A job carrying `m` in its argv, environment and params (as a `run` with `--api-key` and a
/// scan with `--params` would).
pub fn marker_job(m: &str) -> Job {
    let mut job = Job::script("import sys\nprint(len(sys.argv))\n").with_args([
        "--api-key".to_owned(),
        m.to_owned(),
        "--params".to_owned(),
        format!("{{\"k\": \"{m}\"}}"),
    ]);
    job.env.push(("QUANTD_TEST_SECRET".into(), m.to_owned()));
    job
}

/// Runs a new [`marker_job`], then a [`MEMSCAN`] job, with `run`; returns which of `markers`
/// (the new one included) the scan found.
pub fn leaked_markers(run: &dyn Fn(Job) -> Outcome, markers: &mut Vec<String>) -> Vec<String> {
    markers.push(marker());
    expect(&run(marker_job(markers.last().unwrap())), Verdict::Ok);
    let scan = run(Job::script(MEMSCAN));
    expect(&scan, Verdict::Ok);
    stdout(&scan)
        .lines()
        .filter(|l| markers.iter().any(|m| m == l))
        .map(str::to_owned)
        .collect()
}
