//! `quantd data …` end to end: the binary, real data directories, real processes (killed with
//! SIGKILL for the crash tests).

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn list(data: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str(&ok(data, &["data", "list", "--json"])).unwrap()
}

fn synth_args(name: &str) -> Vec<&str> {
    vec![
        "data",
        "synth",
        "--name",
        name,
        "--tickers",
        "50",
        "--days",
        "300",
        "--seed",
        "7",
    ]
}

#[test]
fn synth_is_reproducible_and_export_import_keeps_the_id() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let id = ok(a.path(), &synth_args("u")).trim().to_string();
    assert_eq!(id.len(), 64);
    assert_eq!(
        ok(b.path(), &synth_args("u")).trim(),
        id,
        "same arguments, fresh data dir, same id"
    );

    let csv = a.path().join("u.csv");
    ok(
        a.path(),
        &["data", "export", "u", "--out", csv.to_str().unwrap()],
    );
    assert_eq!(
        ok(
            b.path(),
            &[
                "data",
                "import",
                csv.to_str().unwrap(),
                "--name",
                "from-csv"
            ]
        )
        .trim(),
        id
    );
    let pq = a.path().join("u.parquet");
    ok(
        a.path(),
        &["data", "export", &id[..12], "--out", pq.to_str().unwrap()],
    );
    assert_eq!(
        ok(
            b.path(),
            &["data", "import", pq.to_str().unwrap(), "--name", "from-pq"]
        )
        .trim(),
        id
    );

    let packs = list(b.path());
    assert_eq!(packs.len(), 3);
    assert!(
        packs
            .iter()
            .all(|p| p["id"] == id.as_str() && p["state"] == "fresh")
    );
}

#[test]
fn a_bad_csv_is_refused_with_row_numbers_and_leaves_no_pack() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        "ticker,date,open,high,low,close,volume\n\
         AAA,2024-01-02,10,11,9,10.5,100\n\
         AAA,2024-01-03,10,11,9,12,100\n\
         AAA,2024-01-02,10,11,9,10.5,100\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["data", "import", csv.to_str().unwrap(), "--name", "bad"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3: high 11 is below max(open, close) = 12"),
        "{err}"
    );
    assert!(
        err.contains("line 4: duplicate bar for AAA on 2024-01-02 (first at line 2)"),
        "{err}"
    );
    assert!(list(dir.path()).is_empty(), "no pack registered");
    let packs_dir = dir.path().join("packs");
    assert_eq!(
        std::fs::read_dir(packs_dir).unwrap().count(),
        0,
        "no pack written"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0,
        "no temp left"
    );
}

#[test]
fn a_newer_pack_makes_the_older_stale_and_rights_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let old = ok(dir.path(), &synth_args("u")).trim().to_string();
    let new = ok(
        dir.path(),
        &[
            "data",
            "synth",
            "--name",
            "u",
            "--tickers",
            "5",
            "--days",
            "20",
        ],
    )
    .trim()
    .to_string();
    let packs = list(dir.path());
    let state_of = |id: &str| packs.iter().find(|p| p["id"] == id).unwrap()["state"].clone();
    assert_eq!(state_of(&new), "fresh");
    assert_eq!(state_of(&old), "stale");

    let csv = dir.path().join("u.csv");
    ok(
        dir.path(),
        &["data", "export", "u", "--out", csv.to_str().unwrap()],
    );
    let args = [
        "data",
        "import",
        csv.to_str().unwrap(),
        "--name",
        "licensed",
        "--source",
        "Vendor",
        "--license",
        "proprietary",
        "--attribution",
        "Data by Vendor",
        "--no-export",
    ];
    ok(dir.path(), &args);
    let show: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["data", "show", "licensed", "--json"])).unwrap();
    assert_eq!(show["rights"]["license"], "proprietary");
    assert_eq!(show["rights"]["export_allowed"], false);
    let out = run(
        dir.path(),
        &[
            "data",
            "export",
            "licensed",
            "--out",
            dir.path().join("x.csv").to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("provider Vendor deny"), "{err}");
    assert!(!dir.path().join("x.csv").exists());
}

#[test]
fn unknown_packs_are_named_with_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &synth_args("u"));
    let out = run(dir.path(), &["data", "show", "v"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pack `v` not found; known packs: u"), "{err}");
}

/// Writes a CSV of a synthetic universe made in another data directory (so this one has no pack
/// directory of that content yet).
fn csv_from_elsewhere(dir: &Path) -> PathBuf {
    let other = tempfile::tempdir().unwrap();
    let csv = dir.join("in.csv");
    ok(other.path(), &synth_args("src"));
    ok(
        other.path(),
        &["data", "export", "src", "--out", csv.to_str().unwrap()],
    );
    csv
}

/// Starts an import that stops at failure point `point`, waits until it is there, kills it with
/// SIGKILL, and returns the data directory's catalog afterwards (read by a new process, which runs
/// recovery).
fn kill_import_at(point: &str) -> (tempfile::TempDir, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_from_elsewhere(dir.path());
    let mut import = quantd(dir.path());
    import.args(["data", "import", csv.to_str().unwrap(), "--name", "victim"]);
    kill_at(import, point);
    let packs = list(dir.path());
    (dir, packs)
}

fn pack_dirs(data: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data.join("packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn a_crash_while_writing_leaves_an_error_pack_and_nothing_readable() {
    let (dir, packs) = kill_import_at("pack-before-rename");
    let victim = packs
        .iter()
        .find(|p| p["name"] == "victim")
        .expect("victim registered");
    assert_eq!(victim["state"], "error");
    assert!(victim["error"].as_str().unwrap().contains("interrupted"));
    assert!(
        pack_dirs(dir.path()).is_empty(),
        "the interrupted write never got renamed in"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0,
        "temp cleaned"
    );
    let out = run(
        dir.path(),
        &[
            "data",
            "export",
            "victim",
            "--out",
            dir.path().join("v.csv").to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unusable"));
    // Importing again succeeds.
    let csv = dir.path().join("in.csv");
    ok(
        dir.path(),
        &["data", "import", csv.to_str().unwrap(), "--name", "victim"],
    );
    let again = list(dir.path());
    assert_eq!(
        again.iter().find(|p| p["name"] == "victim").unwrap()["state"],
        "fresh"
    );
}

#[test]
fn a_crash_before_registering_leaves_no_trace() {
    let (dir, packs) = kill_import_at("import-before-register");
    assert!(packs.iter().all(|p| p["name"] != "victim"), "{packs:?}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn a_running_import_is_not_mistaken_for_an_orphan() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_from_elsewhere(dir.path());
    let mut child = quantd(dir.path())
        .args(["data", "import", csv.to_str().unwrap(), "--name", "slow"])
        .env("QUANTD_FAILPOINT", "pack-before-rename:pause")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("failpoint") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0);
    }
    // Another process opens the data directory (and runs recovery) while the import is alive.
    let packs = list(dir.path());
    assert_eq!(
        packs.iter().find(|p| p["name"] == "slow").unwrap()["state"],
        "warming"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn concurrent_imports_of_different_packs_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec![];
    for i in 0..4 {
        let seed = (10 + i).to_string();
        ok(
            dir.path(),
            &[
                "data",
                "synth",
                "--name",
                &format!("s{i}"),
                "--tickers",
                "30",
                "--days",
                "200",
                "--seed",
                &seed,
            ],
        );
        let f = dir.path().join(format!("f{i}.csv"));
        ok(
            dir.path(),
            &[
                "data",
                "export",
                &format!("s{i}"),
                "--out",
                f.to_str().unwrap(),
            ],
        );
        files.push(f);
    }
    let children: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            quantd(dir.path())
                .args([
                    "data",
                    "import",
                    f.to_str().unwrap(),
                    "--name",
                    &format!("c{i}"),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let packs = list(dir.path());
    for i in 0..4 {
        let src = packs.iter().find(|p| p["name"] == format!("s{i}")).unwrap();
        let imp = packs.iter().find(|p| p["name"] == format!("c{i}")).unwrap();
        assert_eq!(imp["state"], "fresh");
        assert_eq!(imp["id"], src["id"]);
    }
}

#[test]
fn list_output_for_people() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &synth_args("u"));
    let table = ok(dir.path(), &["data", "list"]);
    insta::with_settings!({filters => vec![(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s*$", "[CREATED]")]}, {
        insta::assert_snapshot!(table);
    });
}

/// Safe to share (D9): a pack may hold tickers from before they were checked at import; `data show`
/// prints them escaped, so they cannot drive the terminal, and cut.
#[test]
fn show_escapes_tickers_that_could_drive_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(
        &csv,
        "ticker,date,open,high,low,close,volume\n\
         AAA,2024-01-02,10,11,9,10.5,1000\n\
         BBB,2024-01-02,10,11,9,10.5,1000\n",
    )
    .unwrap();
    let id = ok(
        dir.path(),
        &["data", "import", csv.to_str().unwrap(), "--name", "esc"],
    );
    // What an import before the check could store: rewrite the pack's manifest.
    let manifest = dir
        .path()
        .join("packs")
        .join(id.trim())
        .join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let evil = format!(
        "\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{202e}EVIL{}",
        "X".repeat(5_000)
    );
    let text = text.replace("\"AAA\"", &serde_json::to_string(&evil).unwrap());
    std::fs::write(&manifest, text).unwrap();

    let shown = ok(dir.path(), &["data", "show", "esc"]);
    assert!(
        !shown.chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters on stdout: {shown:?}"
    );
    assert!(
        shown.contains("\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J\\u{202e}EVIL"),
        "{shown}"
    );
    assert!(shown.contains("more bytes)"), "cut: {shown}");
    assert!(shown.len() < 2_000, "{} bytes", shown.len());
}

/// Safe to share (D10): a ticker with a comma or a quote survives export → import with its id.
#[test]
fn csv_export_quotes_tickers_and_imports_back_to_the_same_id() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("comma.csv");
    std::fs::write(
        &csv,
        "ticker,date,open,high,low,close,volume\n\
         \"BRK,A\",2024-01-02,10,11,9,10.5,1000\n\
         \"SAY \"\"HI\"\"\",2024-01-02,10,11,9,10.5,1000\n",
    )
    .unwrap();
    let id = ok(
        dir.path(),
        &["data", "import", csv.to_str().unwrap(), "--name", "comma"],
    );
    let out = dir.path().join("comma_out.csv");
    ok(
        dir.path(),
        &["data", "export", "comma", "--out", out.to_str().unwrap()],
    );
    let again = ok(
        dir.path(),
        &["data", "import", out.to_str().unwrap(), "--name", "comma2"],
    );
    assert_eq!(again.trim(), id.trim());
}

/// Safe to share (D5, D6): a file of one 300 MB line, or a symlink to `/dev/zero`, is refused
/// at once with a message of a few lines.
#[test]
fn endless_inputs_are_refused_with_short_messages() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = dir.path().join("sparse.csv");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    let zero = dir.path().join("z.csv");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for (file, says) in [
        (&sparse, "line 1 is longer than 1048576 bytes"),
        (&zero, "is a character device, not a regular file"),
    ] {
        let out = run(
            dir.path(),
            &["data", "import", file.to_str().unwrap(), "--name", "s"],
        );
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
        assert!(err.len() < 2_000, "{} bytes on stderr", err.len());
    }
    assert!(list(dir.path()).is_empty());
}
