//! Where the CLI keeps its store: the data directory's `quantd.db`, or the database
//! `--database-url` / `QUANTD_DATABASE_URL` names; a URL this build cannot open is refused with
//! what works, changing nothing.

mod common;
use common::*;

fn synth(data: &std::path::Path, url: &str) -> std::process::Output {
    quantd(data)
        .env("QUANTD_DATABASE_URL", url)
        .args([
            "data",
            "synth",
            "--name",
            "u",
            "--tickers",
            "3",
            "--days",
            "60",
            "--seed",
            "1",
        ])
        .output()
        .expect("run quantd")
}

#[test]
fn the_database_url_names_where_the_store_lives() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = dir.path().join("queue.db");
    let url = format!("sqlite://{}", db.display());
    let out = synth(&data, &url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists(), "the store is the named file");
    assert!(!data.join("quantd.db").exists(), "not the data directory's");
    let url_arg = format!("--database-url={url}");
    let listed = json(&data, &[&url_arg, "data", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let own = json(&data, &["data", "list"]);
    assert_eq!(
        own.as_array().map(Vec::len),
        Some(0),
        "the data directory's own store: {own}"
    );
}

#[test]
fn a_database_url_this_build_cannot_open_is_refused_with_what_works() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (url, says, fix) in [
        (
            // Nothing listens on port 1.
            "postgres://quantd:hunter2@127.0.0.1:1/quantd",
            "cannot connect to the database at database URL `postgres://***@127.0.0.1:1/quantd`",
            "check that the server is running",
        ),
        ("mysql://db/q", "unknown scheme", "sqlite://"),
        ("sqlite:///no/such/dir/q.db", "does not exist", "create it"),
    ] {
        let out = synth(&data, url);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url} was accepted");
        assert!(err.contains(says), "{url}: {err}");
        assert!(err.contains(fix), "{url}: {err}");
        assert!(!err.contains("hunter2"), "a password leaked: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!data.exists(), "nothing was created");
}
