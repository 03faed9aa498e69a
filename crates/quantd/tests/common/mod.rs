//! Helpers shared by the CLI tests: run the `quantd` binary on a data directory, the reference
//! Python venv, and killing a process at a failure point.
#![allow(dead_code)] // each test binary uses its own subset

pub mod pg;
pub mod python;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `quantd` binary on data directory `data` (and its own database), with no failure point
/// set.
pub fn quantd(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_quantd"));
    c.env("QUANTD_DATA", data)
        .env_remove("QUANTD_FAILPOINT")
        .env_remove("QUANTD_DATABASE_URL")
        .env_remove("QUANTD_PACK_STORE");
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

/// Makes the synthetic pack `u` of `tickers` × `days` (seed 3) on data directory `data`.
pub fn synth_u(data: &Path, tickers: u32, days: u32) {
    synth_u_seeded(data, tickers, days, 3);
}

/// A version of the synthetic pack `u` from `seed`: a longer one keeps a shorter one's bars, as
/// a daily import appends.
pub fn synth_u_seeded(data: &Path, tickers: u32, days: u32, seed: u32) {
    let (tickers, days, seed) = (tickers.to_string(), days.to_string(), seed.to_string());
    ok(
        data,
        &[
            "data",
            "synth",
            "--name",
            "u",
            "--tickers",
            &tickers,
            "--days",
            &days,
            "--seed",
            &seed,
        ],
    );
}

/// Runs `quantd --json args`, asserts success, parses stdout.
pub fn json(data: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(data, &all)).expect("JSON on stdout")
}

/// backtesting.py's GOOG sample (GOOG.csv inside the reference venv's backtesting package).
#[allow(dead_code)] // each test binary uses its own subset
pub fn goog_csv() -> PathBuf {
    let out = Command::new(reference_python())
        .args(["-c", "import backtesting, os; print(os.path.join(os.path.dirname(backtesting.__file__), 'test', 'GOOG.csv'))"])
        .output()
        .unwrap();
    assert!(out.status.success());
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The reference venv's interpreter (pandas, pyarrow, TA-Lib, backtesting.py). Fails, never skips,
/// when it cannot be created.
pub fn reference_python() -> PathBuf {
    pyenv(None)
}

/// The interpreter of the venv `scripts/pyenv` makes from `requirements` (a path relative to
/// the repository; `None`: the reference venv). Fails, never skips, when it cannot be created.
pub fn pyenv(requirements: Option<&str>) -> PathBuf {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut c = Command::new("bash");
    c.arg(format!("{root}/scripts/pyenv"));
    if let Some(r) = requirements {
        c.arg(format!("{root}/{r}"));
    }
    let out = c.output().expect("run scripts/pyenv");
    assert!(
        out.status.success(),
        "scripts/pyenv {requirements:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8").trim())
}

/// Reads `lines` until one contains `needle` and returns it; the rest is drained in the
/// background (so the process never blocks on a full pipe). Panics, naming `what`, when the
/// lines end first.
pub fn until_line(
    mut lines: impl Iterator<Item = std::io::Result<String>> + Send + 'static,
    needle: &str,
    what: &str,
) -> String {
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{what}: ended before a line with `{needle}`"))
            .expect("read a line");
        if line.contains(needle) {
            std::thread::spawn(move || lines.for_each(drop));
            return line;
        }
    }
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

/// A child process killed (and reaped) when dropped, so a failing test leaves no server behind.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `quantd serve` on a free loopback port with `args` after it; returns the process and
/// its address (read from the line it announces itself with).
pub fn serve(mut command: Command, args: &[&str]) -> (KillOnDrop, String) {
    let mut server = KillOnDrop(
        command
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn quantd serve"),
    );
    let mut lines = BufReader::new(server.0.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server announces its address")
            .expect("read stderr");
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.split(' ').next().expect("an address").to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (server, addr)
}

/// One HTTP/1.1 request (JSON body, optional bearer token); returns status and body.
pub fn http_as(
    addr: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read response");
    let (head, body) = out.split_once("\r\n\r\n").expect("a response head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, body.to_string())
}

/// [`http_as`] without a token.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, String) {
    http_as(addr, None, method, path, body)
}
