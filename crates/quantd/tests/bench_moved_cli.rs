//! The product binary carries no benchmark: they are `quantd-bench` (crates/quantd-bench), and
//! `quantd bench …` is refused like any unknown command.

mod common;
use common::*;

#[test]
fn quantd_has_no_bench_command() {
    let data = tempfile::tempdir().unwrap();
    let help = ok(data.path(), &["--help"]);
    assert!(
        !help.lines().any(|l| l.trim_start().starts_with("bench ")),
        "{help}"
    );
    for args in [&["bench", "data"][..], &["bench", "scan", "--tickers", "5"]] {
        let out = run(data.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("unrecognized subcommand 'bench'"), "{err}");
    }
    // Nothing was created for it.
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0);
}
