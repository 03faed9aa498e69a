//! Packs on shared object storage (`--pack-store`): several hosts (data directories) share one
//! catalog (one database) and one S3-compatible server (moto, installed from PyPI by
//! `scripts/pyenv python/requirements-s3.txt` and started here on 127.0.0.1). An import uploads;
//! a host with an empty cache downloads, verifies and scans; a damaged object is refused with a
//! clear error and never enters a cache; an interrupted import leaves at most objects no row
//! names, which `quantd data gc` removes; the cache keeps to its cap. The tests fail, never
//! skip, when moto cannot be installed or started.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A moto S3 server on a loopback port with bucket `packs`, stopped when dropped.
struct S3 {
    _server: KillOnDrop,
    endpoint: String,
    python: PathBuf,
}

impl S3 {
    fn start() -> S3 {
        let python = pyenv(Some("python/requirements-s3.txt"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = KillOnDrop(
            Command::new(python.with_file_name("moto_server"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start moto_server"),
        );
        // Werkzeug announces the address once it listens.
        let lines = BufReader::new(server.0.stderr.take().expect("stderr")).lines();
        until_line(lines, &format!("127.0.0.1:{port}"), "moto_server");
        let s3 = S3 {
            _server: server,
            endpoint: format!("http://127.0.0.1:{port}"),
            python,
        };
        s3.boto("s3.create_bucket(Bucket='packs')");
        s3
    }

    /// Runs Python `code` with `s3`, a boto3 client of this server.
    fn boto(&self, code: &str) -> String {
        let script = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='test', \
             aws_secret_access_key='test', region_name='us-east-1')\n{code}\n",
            self.endpoint
        );
        let out = Command::new(&self.python)
            .args(["-c", &script])
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "boto3 failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// The keys in the bucket, sorted.
    fn keys(&self) -> Vec<String> {
        let out = self.boto(
            "for o in s3.list_objects_v2(Bucket='packs').get('Contents', []): print(o['Key'])",
        );
        let mut keys: Vec<String> = out.lines().map(str::to_string).collect();
        keys.sort();
        keys
    }

    /// `quantd` on host data directory `data`, sharing catalog `db` and this server's bucket.
    fn host(&self, data: &Path, db: &Path) -> Command {
        let mut c = quantd(data);
        c.env("QUANTD_DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("QUANTD_PACK_STORE", "s3://packs/team")
            .env("AWS_ENDPOINT", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1");
        c
    }
}

fn succeed(mut c: Command, args: &[&str]) -> String {
    let out = c.args(args).output().expect("run quantd");
    assert!(
        out.status.success(),
        "quantd {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

const SYNTH: [&str; 10] = [
    "data",
    "synth",
    "--name",
    "u",
    "--tickers",
    "12",
    "--days",
    "260",
    "--seed",
    "7",
];
const SCAN: [&str; 7] = [
    "scan",
    "--pack",
    "u",
    "--expr",
    "close > sma(close, 20)",
    "--format",
    "csv",
];

fn pack_dirs(data: &Path) -> Vec<String> {
    folders(&data.join("packs"))
}

/// The names in directory `dir`, sorted.
fn folders(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn a_host_with_an_empty_cache_downloads_verifies_and_scans_and_a_damaged_object_is_refused() {
    let s3 = S3::start();
    let root = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        root.path().join("a"),
        root.path().join("b"),
        root.path().join("c"),
    );
    let db = root.path().join("catalog.db");
    std::fs::create_dir_all(&a).unwrap();

    let id = succeed(s3.host(&a, &db), &[&["--json"][..], &SYNTH[..]].concat());
    let id: serde_json::Value = serde_json::from_str(&id).unwrap();
    let id = id["pack"]["id"]
        .as_str()
        .expect("the pack's id")
        .to_string();
    assert_eq!(
        s3.keys(),
        [
            format!("team/{id}/bars.arrow"),
            format!("team/{id}/manifest.json")
        ]
    );
    let on_a = succeed(s3.host(&a, &db), &SCAN);

    // Host B has never seen the pack: it downloads it, checks it, keeps it and scans it.
    assert!(pack_dirs(&b).is_empty());
    let on_b = succeed(s3.host(&b, &db), &SCAN);
    assert_eq!(on_b, on_a, "the same bars give the same rows on every host");
    assert!(on_a.lines().count() > 100, "the scan found rows:\n{on_a}");
    assert_eq!(pack_dirs(&b), std::slice::from_ref(&id));

    // The object in the store is damaged (one value changed): host C refuses it and keeps nothing.
    s3.boto(&format!(
        "k = 'team/{id}/bars.arrow'\n\
         b = bytearray(s3.get_object(Bucket='packs', Key=k)['Body'].read())\n\
         i = len(b) // 2\n\
         b[i] ^= 0x55\n\
         s3.put_object(Bucket='packs', Key=k, Body=bytes(b))"
    ));
    let out = s3.host(&c, &db).args(SCAN).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a damaged pack was scanned");
    assert!(
        err.contains("in the pack store s3://packs/team is damaged")
            && err.contains("Import the pack again"),
        "{err}"
    );
    assert!(pack_dirs(&c).is_empty(), "a damaged pack entered the cache");
    let leftovers: Vec<_> = std::fs::read_dir(c.join("tmp"))
        .unwrap()
        .flatten()
        .collect();
    assert!(leftovers.is_empty(), "the download left {leftovers:?}");
    // Host B verified its copy when it took it, and reads it still.
    assert_eq!(succeed(s3.host(&b, &db), &SCAN), on_a);
}

#[test]
fn an_interrupted_import_leaves_only_objects_no_row_names_and_gc_removes_them() {
    let s3 = S3::start();
    let root = tempfile::tempdir().unwrap();
    let a = root.path().join("a");
    let db = root.path().join("catalog.db");
    std::fs::create_dir_all(&a).unwrap();
    succeed(s3.host(&a, &db), &SYNTH);
    let kept = s3.keys();

    // An import dies after its upload, before the catalog says fresh.
    let mut cmd = s3.host(&a, &db);
    cmd.args([
        "data",
        "synth",
        "--name",
        "v",
        "--tickers",
        "5",
        "--days",
        "100",
        "--seed",
        "1",
    ]);
    kill_at(cmd, "import-after-upload");
    assert_eq!(s3.keys().len(), 4, "the dead import's objects are there");
    let list = succeed(s3.host(&a, &db), &["data", "list"]);
    assert!(
        list.contains("error"),
        "the next start marks the import failed:\n{list}"
    );

    let dry = succeed(s3.host(&a, &db), &["data", "gc", "--dry-run"]);
    assert_eq!(dry.matches("would remove").count(), 3, "{dry}");
    assert_eq!(s3.keys().len(), 4, "a dry run removes nothing");
    let done = succeed(s3.host(&a, &db), &["--json", "data", "gc"]);
    let done: serde_json::Value = serde_json::from_str(&done).unwrap();
    assert_eq!(done["store"].as_array().unwrap().len(), 1, "{done}");
    assert_eq!(done["local"].as_array().unwrap().len(), 1, "{done}");
    assert_eq!(s3.keys(), kept, "only the dead import's objects went");
    // The live pack still scans from a fresh host.
    let b = root.path().join("b");
    assert!(succeed(s3.host(&b, &db), &SCAN).lines().count() > 1);
}

#[test]
fn the_cache_keeps_to_its_cap_evicting_the_least_recently_used_pack() {
    let root = tempfile::tempdir().unwrap();
    let (store, a) = (root.path().join("store"), root.path().join("a"));
    let db = root.path().join("catalog.db");
    std::fs::create_dir_all(&a).unwrap();
    let host = || {
        let mut c = quantd(&a);
        c.env("QUANTD_DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("QUANTD_PACK_STORE", format!("file://{}", store.display()))
            .env("QUANTD_PACK_CACHE_MIB", "3");
        c
    };
    // Each pack is about 2.4 MB (100 tickers × 500 bars × 6 columns of 8 bytes).
    let synth = |name: &str, seed: &str| {
        let out = succeed(
            host(),
            &[
                "--json",
                "data",
                "synth",
                "--name",
                name,
                "--tickers",
                "100",
                "--days",
                "500",
                "--seed",
                seed,
            ],
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["pack"]["id"].as_str().unwrap().to_string()
    };
    let p1 = synth("p1", "1");
    assert_eq!(pack_dirs(&a), std::slice::from_ref(&p1));
    let p2 = synth("p2", "2");
    assert_eq!(
        pack_dirs(&a),
        std::slice::from_ref(&p2),
        "p1 was evicted for p2"
    );
    let shared = folders(&store);
    let mut both = vec![p1.clone(), p2.clone()];
    both.sort();
    assert_eq!(shared, both, "the store keeps every pack");
    // Reading p1 brings it back and evicts p2, the least recently used.
    let rows = succeed(
        host(),
        &[
            "scan",
            "--pack",
            "p1",
            "--expr",
            "close > 0",
            "--format",
            "csv",
        ],
    );
    assert!(rows.lines().count() > 1000, "p1 scanned");
    assert_eq!(pack_dirs(&a), [p1]);
}

#[test]
fn a_pack_store_url_with_credentials_or_an_unknown_scheme_is_refused_before_anything_is_made() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("d");
    for (url, says) in [
        (
            "s3://key:secret@packs/x",
            "credentials do not belong in the URL",
        ),
        ("ftp://host/packs", "file:///DIR, s3://BUCKET/PREFIX"),
        ("http://host/packs", "read-only"),
    ] {
        let out = quantd(&data)
            .env("QUANTD_PACK_STORE", url)
            .args(["data", "list"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url} was accepted");
        assert!(err.contains(says), "{url}: {err}");
        assert!(
            !err.contains("secret"),
            "the error printed the secret: {err}"
        );
    }
}
