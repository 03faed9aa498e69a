//! A fresh database on the Postgres test server for each test that needs one: the server is
//! `QUANTD_TEST_DATABASE_URL`, or `postgres://postgres@127.0.0.1:5432/test` (which `.ci/run`
//! starts). Tests fail, never skip, when it cannot be reached.

use sqlx::{ConnectOptions, Connection, PgConnection};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The test server's URL.
pub fn server_url() -> String {
    std::env::var("QUANTD_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// `url` naming database `db` instead of its own.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

/// A fresh database on the test server, dropped with the value.
pub struct FreshDb {
    server: String,
    name: String,
    pub rt: tokio::runtime::Runtime,
}

impl FreshDb {
    pub fn create() -> FreshDb {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        let server = server_url();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("quantd_cli_{}_{nanos}", std::process::id());
        let db = FreshDb { server, name, rt };
        db.sql(&format!("CREATE DATABASE {}", db.name), None);
        db
    }

    /// The URL of the fresh database.
    pub fn url(&self) -> String {
        with_database(&self.server, &self.name)
    }

    /// Runs `sql` on the server's own database, or on the fresh one with `Some(url)`.
    pub fn sql(&self, sql: &str, url: Option<&str>) {
        let url = url.map_or_else(|| self.server.clone(), str::to_string);
        self.rt.block_on(async {
            let mut conn: PgConnection = url
                .parse::<sqlx::postgres::PgConnectOptions>()
                .expect("a Postgres URL")
                .connect()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "this test needs a Postgres server at {url} ({e}); start it \
                         (pg_ctlcluster 15 main start) or set QUANTD_TEST_DATABASE_URL"
                    )
                });
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .expect(sql);
            conn.close().await.ok();
        });
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        self.sql(
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            None,
        );
    }
}

/// A Postgres server of a test's own (initdb in a temporary directory, on a free loopback port),
/// which the test may stop and start again without disturbing other tests. Stopped when dropped.
pub struct PrivatePg {
    dir: tempfile::TempDir,
    port: u16,
    server: Option<super::KillOnDrop>,
}

impl PrivatePg {
    /// Initializes and starts a server (the machine's PostgreSQL binaries, run as `postgres`
    /// when the test runs as root, which Postgres refuses).
    pub fn start() -> PrivatePg {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if as_root {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "chown of the test's Postgres directory to postgres failed"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let pg = PrivatePg {
            dir,
            port,
            server: None,
        };
        let out = pg
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(pg.data())
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = pg;
        pg.resume();
        pg
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// `program` of the machine's PostgreSQL, as the user that may run it.
    fn command(&self, program: &str) -> Command {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed under /usr/lib/postgresql")
            .flatten()
            .map(|e| e.path().join("bin"))
            .max()
            .expect("a PostgreSQL version");
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if is_root {
            // setpriv execs (no process in between), so signals reach the server itself.
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(bin.join(program));
            c
        } else {
            Command::new(bin.join(program))
        }
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (a fast shutdown: connections are cut, as in a restart).
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let pid = server.0.id().to_string();
            // SIGINT: Postgres's fast shutdown.
            let _ = Command::new("kill").args(["-INT", &pid]).status();
            let _ = server.0.wait();
        }
    }

    /// Starts the server again on the same port and data; returns once it accepts connections.
    pub fn resume(&mut self) {
        let sockets = self.dir.path().to_path_buf();
        let mut child = super::KillOnDrop(
            self.command("postgres")
                .arg("-D")
                .arg(self.data())
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-c",
                    "listen_addresses=127.0.0.1",
                ])
                .args(["-c", "fsync=off", "-c", "max_connections=200", "-k"])
                .arg(&sockets)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start postgres"),
        );
        let lines = BufReader::new(child.0.stderr.take().expect("stderr")).lines();
        super::until_line(lines, "ready to accept connections", "postgres");
        self.server = Some(child);
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        self.stop();
    }
}
