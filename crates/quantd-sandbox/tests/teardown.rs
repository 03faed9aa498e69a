//! Review C4: no process the sandbox started may outlive the host process that started it: a
//! zygote's tree (idle or with a job running) and a cold job's, whether the host ends on SIGTERM,
//! SIGKILL or a plain exit. A test binary of its own: it re-executes itself as the host
//! (`QUANTD_TEST_TEARDOWN_HOST` says how to behave).

#![allow(unsafe_code)]

mod common;
use common::*;
use quantd_sandbox::{CancelToken, Job};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HOST_ENV: &str = "QUANTD_TEST_TEARDOWN_HOST";
const READY: &str = "QUANTD_TEARDOWN_READY";
/// Where the host makes its job dirs: the test removes it when done.
const SCRATCH_ENV: &str = "QUANTD_TEST_TEARDOWN_SCRATCH";

/// `(pid, start time)` of every process under `root` (itself included): the start time tells a
/// reused pid apart.
fn tree(root: u32) -> Vec<(u32, String)> {
    let mut parent: BTreeMap<u32, (u32, String)> = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Some((ppid, start)) = stat(pid) {
            parent.insert(pid, (ppid, start));
        }
    }
    let mut out: Vec<(u32, String)> = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        if let Some((_, start)) = parent.get(&p) {
            out.push((p, start.clone()));
        }
        todo.extend(
            parent
                .iter()
                .filter(|(_, (pp, _))| *pp == p)
                .map(|(c, _)| *c),
        );
    }
    out
}

/// The parent pid and start time of `pid` (`/proc/PID/stat` fields 4 and 22).
fn stat(pid: u32) -> Option<(u32, String)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = s[s.rfind(')')? + 2..].split(' ').collect();
    Some((fields[1].parse().ok()?, fields[19].to_owned()))
}

fn alive(procs: &[(u32, String)]) -> Vec<u32> {
    procs
        .iter()
        .filter(|(pid, start)| stat(*pid).is_some_and(|(_, s)| &s == start))
        .map(|(pid, _)| *pid)
        .collect()
}

/// Whether `pid` is the job tagged with `tok` (see [`run_contained_in`]).
fn runs_job(pid: u32, mode: Mode, tok: &str) -> bool {
    match mode {
        // The shim's command line holds the job's too: the job is the one that is not the shim.
        Mode::Cold => std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            let c = String::from_utf8_lossy(&c);
            c.contains(tok) && !c.contains(quantd_sandbox::SHIM_ARG)
        }),
        Mode::Zygote => std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.trim() == comm_token(tok)),
    }
}

/// The host: starts a zygote (and a job that sleeps in it, when `busy`) or a cold job that
/// sleeps (`cold`), says so, then waits to be ended (or exits when told on stdin, for `exit`).
fn act_as_host(how: &str) {
    let mut c = config();
    c.sdk_dir = Some(sdk_dir());
    c.limits.wall = Duration::from_secs(600);
    c.scratch_dir = std::env::var_os(SCRATCH_ENV).map(Into::into);
    let me = std::process::id();
    let mode = if how.contains("cold") {
        Mode::Cold
    } else {
        Mode::Zygote
    };
    let zygote: Option<&'static quantd_sandbox::Zygote> = match mode {
        Mode::Cold => None,
        Mode::Zygote => Some(Box::leak(Box::new(
            quantd_sandbox::Zygote::start(&c).expect("the zygote starts"),
        ))),
    };
    if how.contains("busy") {
        let tok = token();
        let code = tagged(mode, &tok, "import time\ntime.sleep(1000)\n");
        let job = Job::script(code).with_args([tok.clone()]);
        std::thread::spawn(move || match zygote {
            Some(z) => z.run(&job, &CancelToken::new()),
            None => quantd_sandbox::run(&c, &job, &CancelToken::new()),
        });
        let until = Instant::now() + Duration::from_secs(20);
        while !tree(me).iter().any(|(pid, _)| runs_job(*pid, mode, &tok)) {
            assert!(Instant::now() < until, "the busy job did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    println!("{READY} {me}");
    if how == "exit" {
        let _ = std::io::stdin().read_line(&mut String::new());
        std::process::exit(0);
    }
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

fn host_ends_and_its_sandbox_goes(how: &str, signal: Option<i32>) {
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sandbox_processes_die_with_their_host",
            "--nocapture",
        ])
        .env(HOST_ENV, how)
        .env(SCRATCH_ENV, scratch.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut ready = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if line.unwrap().starts_with(READY) {
            ready = true;
            break;
        }
    }
    assert!(ready, "{how}: the host never said it was ready");
    // Everything the host started (not the host itself, which we wait for).
    let procs: Vec<(u32, String)> = tree(child.id())
        .into_iter()
        .filter(|(pid, _)| *pid != child.id())
        .collect();
    let want = if how.contains("zygote busy") { 5 } else { 3 };
    assert!(
        procs.len() >= want,
        "{how}: the sandbox's processes {procs:?}"
    );
    match signal {
        Some(sig) => {
            // SAFETY: a plain kill(2) of our own child.
            let r = unsafe { libc::kill(child.id() as i32, sig) };
            assert_eq!(r, 0);
        }
        None => child.stdin.take().unwrap().write_all(b"exit\n").unwrap(),
    }
    child.wait().unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let left = alive(&procs);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < until,
            "{how}: 10 s after the host ended, the processes it started are alive: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sandbox_processes_die_with_their_host() {
    if let Ok(how) = std::env::var(HOST_ENV) {
        return act_as_host(&how);
    }
    host_ends_and_its_sandbox_goes("zygote idle, sigterm", Some(libc::SIGTERM));
    host_ends_and_its_sandbox_goes("zygote busy, sigterm", Some(libc::SIGTERM));
    host_ends_and_its_sandbox_goes("zygote busy, sigkill", Some(libc::SIGKILL));
    host_ends_and_its_sandbox_goes("exit", None);
    host_ends_and_its_sandbox_goes("cold busy, sigterm", Some(libc::SIGTERM));
    host_ends_and_its_sandbox_goes("cold busy, sigkill", Some(libc::SIGKILL));
}

/// The other side of dying with the host: a zygote started from a thread that then ends (one of
/// a pool's, or a test's) keeps serving: its shim is tied to the zygote's own monitor thread.
#[test]
fn a_zygote_outlives_the_thread_that_started_it() {
    if std::env::var_os(HOST_ENV).is_some() {
        return;
    }
    let mut c = config();
    c.sdk_dir = Some(sdk_dir());
    let z = std::thread::spawn(move || quantd_sandbox::Zygote::start(&c).unwrap())
        .join()
        .unwrap();
    let o = z
        .run(&Job::script("print('alive')"), &CancelToken::new())
        .unwrap();
    expect(&o, quantd_sandbox::Verdict::Ok);
    assert_eq!(z.info().unwrap().starts, 1, "the zygote was not restarted");
}
