//! Helpers of the tests that run Python code through the binary: a data dir with a small
//! synthetic pack, `quantd` with `QUANTD_PYTHON` set to the reference venv, a server.

use super::{quantd, reference_python};
use std::io::BufRead;
use std::path::Path;
use std::process::Output;

/// A data dir with a small synthetic pack, and the reference interpreter for Python.
pub fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let python = reference_python().to_string_lossy().into_owned();
    let args = [
        "data",
        "synth",
        "--name",
        "u",
        "--tickers",
        "10",
        "--days",
        "260",
        "--seed",
        "7",
    ];
    let out = py(dir.path(), &python, &args, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
pub fn serve(d: &Path, python: &str) -> (KillOnDrop, String) {
    let mut server = KillOnDrop(
        quantd(d)
            .env("QUANTD_PYTHON", python)
            .args(["serve", "--addr", "127.0.0.1:0", "--no-auth"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = std::io::BufReader::new(server.0.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server announces its address")
            .unwrap();
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.split(' ').next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (server, addr)
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`): status and body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// A child process killed when the test ends, passed or not.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
