//! `quantd serve`'s binding rules: without tokens it serves this machine only.

mod common;
use common::*;
use std::time::{Duration, Instant};

#[test]
fn no_auth_refuses_a_non_loopback_address_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = quantd(dir.path())
        .args(["serve", "--no-auth", "--addr", "0.0.0.0:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`serve --no-auth --addr 0.0.0.0:0` kept serving");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    assert!(err.contains("not a loopback address"), "{err}");
    assert!(err.contains("127.0.0.1"), "says what to do: {err}");
    assert!(!err.contains("quantd API on"), "never listened: {err}");
}
