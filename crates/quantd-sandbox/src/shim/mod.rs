//! The shim: the small program that builds a job's sandbox and starts the job in it.
//!
//! The host starts it as a fresh executable (`quantd __sandbox-shim CONFIG`), with the write end
//! of the report channel as fd 0 and the capture pipes as fds 1 and 2. Three processes follow:
//!
//! - **S0**, the shim itself, outside the namespaces: opens the directories to bind, then
//!   `clone`s S1 into new user, mount, PID, network, IPC and UTS namespaces, writes S1's uid/gid
//!   maps (inner root → the caller's uid, or `nobody` when the caller is root), and waits for it.
//!   S0 dies with the host thread that started it (`PDEATHSIG = SIGKILL`, armed first thing, then
//!   checked against [`ShimConfig::host_pid`] in case the host was already gone), and killing S0
//!   kills everything: S1 has `PDEATHSIG = SIGKILL` too (armed again after S1 becomes root of its
//!   namespace, since changing credentials clears it).
//! - **S1**, PID 1 of the new PID namespace: builds the root (read-only binds, tmpfs, `/proc`,
//!   `/dev`), pivots into it, forks the job and reaps orphans; when the job ends it writes the
//!   report and exits, which makes the kernel kill whatever is left in the namespace.
//! - **S2**, the job: new session, fds ≥ 3 closed, rlimits, no capabilities, `no_new_privs`,
//!   Landlock (when the kernel has it), seccomp, `execve` of the interpreter.
//!
//! Reports are JSON lines on fd 3 of S0/S1 (close-on-exec: the job never holds it). For a job
//! it is a Unix socket: before forking the job, S1 hands the job's `/out` tmpfs over it as a
//! directory fd ([`Report::Out`]), which is how the host reads the outputs after the namespace
//! is gone.
//!
//! In **zygote mode** ([`ShimConfig::zygote`]) S2 is the long-lived Python zygote instead of a
//! job: it keeps its capabilities inside the user namespace (it builds each job's namespaces and
//! mounts), gets no seccomp filter and no CPU or memory limit, and inherits the control socket
//! (the shim's stdout on start) as fd [`CTL_FD`]. See [`crate::Zygote`].

mod landlock;
mod mounts;
pub(crate) mod seccomp;

use crate::sys::{self, Fd};
use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// fd of the report channel (a socket for jobs, a pipe for the zygote) inside the shim.
const REPORT_FD: Fd = 3;
/// fd of the zygote's control socket (zygote mode only; the shim receives it as its stdout).
pub(crate) const CTL_FD: Fd = 4;

/// What the host tells the shim (serialized as JSON in its last argument).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ShimConfig {
    /// Namespaces + seccomp (false only for the explicit unsafe mode).
    pub isolate: bool,
    /// The program to execute (path inside the sandbox).
    pub program: PathBuf,
    /// Its argv, including argv\[0\].
    pub argv: Vec<String>,
    /// Its complete environment.
    pub env: Vec<(String, String)>,
    /// Its working directory.
    pub cwd: PathBuf,
    /// Directories to bind into the new root.
    pub binds: Vec<Bind>,
    /// Symlinks to create in the new root: (link path, target).
    pub symlinks: Vec<(PathBuf, PathBuf)>,
    /// Limits applied to the job.
    pub limits: ShimLimits,
    /// Host uid that inner root maps to.
    pub host_uid: u32,
    /// Host gid that inner root maps to.
    pub host_gid: u32,
    /// Seconds after which S0 dies on its own even if the host is gone (0: never, for the
    /// zygote, which ends when its control socket closes).
    pub backstop_secs: u32,
    /// Zygote mode: S2 keeps its capabilities, gets no seccomp filter and no CPU/memory limits,
    /// and inherits the control socket as fd [`CTL_FD`].
    #[serde(default)]
    pub zygote: bool,
    /// Empty directories created in the new root (the zygote's per-job mount points).
    #[serde(default)]
    pub mountpoints: Vec<PathBuf>,
    /// The job's cgroup (its `cgroup.procs`): S0 moves S1 in before S1 runs anything.
    #[serde(default)]
    pub cgroup_procs: Option<PathBuf>,
    /// The host's pid: S0 ends at once if its parent is no longer the host (0: do not check).
    #[serde(default)]
    pub host_pid: u32,
}

/// A host directory made visible in the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Bind {
    pub src: PathBuf,
    pub dst: PathBuf,
    pub writable: bool,
}

/// The rlimit-level limits, in plain units.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ShimLimits {
    pub cpu_secs: u64,
    /// `RLIMIT_AS`; 0 when the job's cgroup limits memory instead.
    pub memory_bytes: u64,
    pub processes: u64,
    pub file_size_bytes: u64,
    pub open_files: u64,
    pub tmpfs_bytes: u64,
    /// Size of the job's `/out` tmpfs.
    #[serde(default)]
    pub out_bytes: u64,
}

/// A message from the shim to the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum Report {
    /// S1 (or, unsandboxed, the job) exists with this host pid.
    Started { pid: i32 },
    /// The job's `/out` tmpfs, as an `O_PATH` directory fd attached to this line (`SCM_RIGHTS`):
    /// the host reads the job's outputs through it after the job ended.
    Out,
    /// The job process ended.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
        cpu_us: u64,
        max_rss_kb: u64,
    },
    /// Building the sandbox failed at `stage`.
    SetupError {
        stage: String,
        errno: Option<i32>,
        message: String,
    },
}

/// A setup step that failed.
struct Fail {
    stage: String,
    err: io::Error,
}

trait Stage<T> {
    fn stage(self, stage: impl Into<String>) -> Result<T, Fail>;
}

impl<T> Stage<T> for io::Result<T> {
    fn stage(self, stage: impl Into<String>) -> Result<T, Fail> {
        self.map_err(|err| Fail {
            stage: stage.into(),
            err,
        })
    }
}

fn send(report: &Report) {
    if let Ok(mut line) = serde_json::to_vec(report) {
        line.push(b'\n');
        let _ = sys::write_all(REPORT_FD, &line);
    }
}

fn send_fail(f: &Fail) {
    send(&Report::SetupError {
        stage: f.stage.clone(),
        errno: f.err.raw_os_error(),
        message: f.err.to_string(),
    });
}

/// Runs the shim when this process was started as one (its first argument is
/// [`crate::SHIM_ARG`]); otherwise returns at once. Call it first thing in `main`, before any
/// thread exists.
pub fn run_shim_if_requested() {
    if std::env::args_os().nth(1).as_deref() == Some(crate::SHIM_ARG.as_ref()) {
        shim_main()
    }
}

/// The shim's entry point: builds the sandbox described by the last argument and runs the job
/// in it; never returns. Must be called in a fresh process (no other thread) started by
/// [`crate::run`].
pub fn shim_main() -> ! {
    let cfg = std::env::args_os()
        .last()
        .and_then(|a| serde_json::from_slice::<ShimConfig>(a.as_bytes()).ok());
    // fd 0 is the report channel: move it to REPORT_FD, close everything else, stdin = /dev/null.
    if sys::dup2(0, REPORT_FD).is_err() || sys::set_cloexec(REPORT_FD).is_err() {
        sys::exit(125);
    }
    let zygote = cfg.as_ref().is_some_and(|c| c.zygote);
    if zygote {
        // fd 1 is the control socket: move it to CTL_FD; the zygote's stdout joins its stderr.
        if sys::dup2(1, CTL_FD).is_err() || sys::dup2(2, 1).is_err() {
            sys::exit(125);
        }
    }
    let keep = if zygote { CTL_FD } else { REPORT_FD };
    let _ = sys::close_from(keep as u32 + 1, false);
    let null = CString::from(c"/dev/null");
    match sys::open(&null, libc::O_RDWR) {
        Ok(fd) => {
            let _ = sys::dup2(fd, 0);
            sys::close(fd);
        }
        Err(_) => sys::exit(125),
    }
    let cfg = match cfg {
        Some(cfg) => cfg,
        None => {
            send(&Report::SetupError {
                stage: "config".into(),
                errno: None,
                message: "the shim's last argument is not a valid configuration".into(),
            });
            sys::exit(125);
        }
    };
    match s0(&cfg) {
        Ok(()) => sys::exit(0),
        Err(f) => {
            send_fail(&f);
            sys::exit(125)
        }
    }
}

const NAMESPACES: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS;

fn s0(cfg: &ShimConfig) -> Result<(), Fail> {
    // Die with the host: no job may outlive the process that runs it (review C4).
    sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong).stage("pdeathsig")?;
    if cfg.host_pid != 0 && sys::getppid() != cfg.host_pid as libc::pid_t {
        return Err(Fail {
            stage: "pdeathsig".into(),
            err: std::io::Error::other("the host ended before the sandbox started"),
        });
    }
    sys::alarm(cfg.backstop_secs);
    if !cfg.isolate {
        return unsandboxed(cfg);
    }
    let (go_r, go_w) = sys::pipe().stage("pipe")?;
    let pid = sys::clone_fork(NAMESPACES).stage("clone")?;
    if pid == 0 {
        sys::close(go_w);
        s1(cfg, go_r)
    }
    sys::close(go_r);
    send(&Report::Started { pid });
    let maps = join_cgroup(pid, cfg).and_then(|()| write_id_maps(pid, cfg));
    if maps.is_err() {
        let _ = sys::kill(pid, libc::SIGKILL);
    }
    maps?;
    sys::write_all(go_w, b"1").stage("release S1")?;
    sys::wait4(pid).stage("wait for S1")?;
    Ok(())
}

fn join_cgroup(pid: libc::pid_t, cfg: &ShimConfig) -> Result<(), Fail> {
    match &cfg.cgroup_procs {
        Some(procs) => std::fs::write(procs, pid.to_string()).stage("join the job cgroup"),
        None => Ok(()),
    }
}

fn write_id_maps(pid: libc::pid_t, cfg: &ShimConfig) -> Result<(), Fail> {
    let base = format!("/proc/{pid}");
    if sys::geteuid() != 0 {
        std::fs::write(format!("{base}/setgroups"), "deny").stage("write setgroups")?;
    }
    std::fs::write(format!("{base}/gid_map"), format!("0 {} 1\n", cfg.host_gid))
        .stage("write gid_map")?;
    std::fs::write(format!("{base}/uid_map"), format!("0 {} 1\n", cfg.host_uid))
        .stage("write uid_map")?;
    Ok(())
}

/// S1: PID 1 of the job's namespaces.
fn s1(cfg: &ShimConfig, go: Fd) -> ! {
    if sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong).is_err() {
        sys::exit(125);
    }
    // Wait for the maps; end of file means S0 died (before PDEATHSIG was armed, perhaps).
    if !matches!(sys::read_byte(go), Ok(true)) {
        sys::exit(125);
    }
    let setup = (|| -> Result<(), Fail> {
        // Open the bind sources while still holding the caller's host uid (the job's uid may not
        // traverse e.g. a 0700 home holding the venv), but inside the new mount namespace (a bind
        // source must belong to it).
        let mut src_fds = Vec::with_capacity(cfg.binds.len());
        for b in &cfg.binds {
            let path = sys::cpath(&b.src).stage("bind source path")?;
            let fd = sys::open(&path, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
                .stage(format!("open {}", b.src.display()))?;
            src_fds.push(fd);
        }
        sys::set_ids_to_root().stage("setresuid")?;
        // Changing credentials cleared the parent-death signal: arm it again, then make sure S0
        // did not end in between (it holds the `go` pipe open until it ends).
        sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong).stage("pdeathsig")?;
        if sys::poll_one(go, 0).stage("pdeathsig")? {
            sys::exit(125);
        }
        sys::close(go);
        // Possible only when the caller was root (otherwise setgroups is denied): drop the
        // caller's supplementary groups too.
        let _ = sys::clear_groups();
        mounts::build_root(cfg, &src_fds)?;
        for fd in src_fds {
            sys::close(fd);
        }
        sys::sethostname(b"sandbox").stage("sethostname")?;
        sys::prctl(libc::PR_SET_DUMPABLE, 0).stage("dumpable")?;
        if !cfg.zygote {
            send_out_dir()?;
        }
        Ok(())
    })();
    if let Err(f) = setup {
        send_fail(&f);
        sys::exit(125);
    }
    let job = match sys::fork() {
        Ok(0) => exec_job(cfg),
        Ok(pid) => pid,
        Err(e) => {
            send_fail(&Fail {
                stage: "fork job".into(),
                err: e,
            });
            sys::exit(125);
        }
    };
    reap_until(job);
    sys::exit(0)
}

/// Hands the job's `/out` tmpfs to the host (see [`Report::Out`]) before the job exists.
fn send_out_dir() -> Result<(), Fail> {
    let out = sys::open(c"/out", libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .stage("open /out")?;
    let mut line = serde_json::to_vec(&Report::Out).unwrap_or_default();
    line.push(b'\n');
    let sent = sys::send_with_fds(REPORT_FD, &line, &[out]).stage("hand /out to the host");
    sys::close(out);
    sent
}

/// Reaps children (orphans are re-parented to PID 1) until `job` ends, then reports it.
fn reap_until(job: libc::pid_t) {
    loop {
        match sys::wait4(-1) {
            Ok(w) if w.pid == job => {
                let st = w.status;
                let tv = |t: libc::timeval| {
                    (t.tv_sec as u64)
                        .saturating_mul(1_000_000)
                        .saturating_add(t.tv_usec as u64)
                };
                send(&Report::Exited {
                    code: libc::WIFEXITED(st).then(|| libc::WEXITSTATUS(st)),
                    signal: libc::WIFSIGNALED(st).then(|| libc::WTERMSIG(st)),
                    cpu_us: tv(w.rusage.ru_utime) + tv(w.rusage.ru_stime),
                    max_rss_kb: w.rusage.ru_maxrss as u64,
                });
                return;
            }
            Ok(_) => {}
            Err(e) => {
                send_fail(&Fail {
                    stage: "wait for job".into(),
                    err: e,
                });
                return;
            }
        }
    }
}

/// Without namespaces: S0 forks the job in its own session and kills that session at the end.
fn unsandboxed(cfg: &ShimConfig) -> Result<(), Fail> {
    let pid = sys::fork().stage("fork job")?;
    if pid == 0 {
        exec_job(cfg)
    }
    send(&Report::Started { pid });
    reap_until(pid);
    let _ = sys::kill(-pid, libc::SIGKILL);
    Ok(())
}

/// S2: applies the per-job restrictions and executes the program.
fn exec_job(cfg: &ShimConfig) -> ! {
    let err = match restrict_and_exec(cfg) {
        Ok(never) => match never {},
        Err(f) => f,
    };
    send_fail(&err);
    sys::exit(127)
}

fn restrict_and_exec(cfg: &ShimConfig) -> Result<std::convert::Infallible, Fail> {
    if !cfg.isolate {
        // No PID namespace ends the job with S0: a parent-death signal does (its own children,
        // in its session, are killed by S0 when it ends normally).
        sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong).stage("pdeathsig")?;
    }
    sys::setsid();
    // The report fd stays open (close-on-exec) so that a failed exec can still be reported; the
    // zygote also keeps its control socket.
    let keep = if cfg.zygote { CTL_FD } else { REPORT_FD };
    sys::close_from(keep as u32 + 1, false).stage("close fds")?;
    sys::set_cloexec(REPORT_FD).stage("close fds")?;
    let cwd = sys::cpath(&cfg.cwd).stage("cwd")?;
    sys::chdir(&cwd).stage(format!("chdir {}", cfg.cwd.display()))?;
    let l = &cfg.limits;
    let limits = [
        (libc::RLIMIT_CPU, l.cpu_secs, l.cpu_secs.saturating_add(1)),
        (libc::RLIMIT_AS, l.memory_bytes, l.memory_bytes),
        (
            libc::RLIMIT_NPROC,
            l.processes.saturating_add(1),
            l.processes.saturating_add(1),
        ),
        (libc::RLIMIT_FSIZE, l.file_size_bytes, l.file_size_bytes),
        (libc::RLIMIT_NOFILE, l.open_files, l.open_files),
        (libc::RLIMIT_CORE, 0, 0),
        (libc::RLIMIT_MSGQUEUE, 0, 0),
        (libc::RLIMIT_MEMLOCK, 64 << 10, 64 << 10),
    ];
    for (res, soft, hard) in limits {
        // The zygote is our code: it keeps no CPU, memory, process or file-size limit (each job
        // sets its own), only the open-files one.
        if cfg.zygote && res != libc::RLIMIT_NOFILE && res != libc::RLIMIT_CORE {
            continue;
        }
        if res == libc::RLIMIT_AS && soft == 0 {
            continue; // the job's cgroup limits memory
        }
        sys::setrlimit(res, soft, hard).stage(format!("setrlimit {res}"))?;
    }
    if cfg.zygote {
        let program = sys::cpath(&cfg.program).stage("program path")?;
        let argv = cstrings(cfg.argv.iter().map(String::as_str)).stage("argv")?;
        let env: Vec<String> = cfg.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let env = cstrings(env.iter().map(String::as_str)).stage("env")?;
        return Err(sys::execve(&program, &argv, &env))
            .stage(format!("exec {}", cfg.program.display()));
    }
    if cfg.isolate {
        sys::drop_all_capabilities().stage("drop capabilities")?;
    }
    sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1).stage("no_new_privs")?;
    let program = sys::cpath(&cfg.program).stage("program path")?;
    let argv = cstrings(cfg.argv.iter().map(String::as_str)).stage("argv")?;
    let env: Vec<String> = cfg.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let env = cstrings(env.iter().map(String::as_str)).stage("env")?;
    if cfg.isolate {
        apply_landlock(cfg)?;
        sys::install_seccomp(&seccomp::filter()).stage("seccomp")?;
    }
    Err(sys::execve(&program, &argv, &env)).stage(format!("exec {}", cfg.program.display()))
}

/// Landlock over the new root: writes only beneath the writable binds and the job's tmpfs.
fn apply_landlock(cfg: &ShimConfig) -> Result<(), Fail> {
    let binds = cfg
        .binds
        .iter()
        .filter(|b| b.writable)
        .map(|b| sys::cpath(&b.dst))
        .collect::<io::Result<Vec<_>>>()
        .stage("landlock paths")?;
    let mut writable: Vec<&std::ffi::CStr> = landlock::WRITABLE.to_vec();
    writable.extend(binds.iter().map(CString::as_c_str));
    landlock::restrict(&writable).stage("landlock")?;
    Ok(())
}

fn cstrings<'a>(items: impl Iterator<Item = &'a str>) -> io::Result<Vec<CString>> {
    items
        .map(|s| {
            CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte"))
        })
        .collect()
}
