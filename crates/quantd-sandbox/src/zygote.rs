//! The warm zygote: one long-lived Python process per runtime that has already imported numpy,
//! pandas, pyarrow and the SDK, and forks one confined child per job.
//!
//! The zygote is started through the same re-executed shim as a cold job (so it lives inside
//! fresh user, mount, PID, network, IPC and UTS namespaces with a read-only root), in the shim's
//! zygote mode: it keeps its capabilities inside its user namespace (it builds each job's
//! namespaces and mounts) and receives a control socket. For each job the host creates the job's
//! directory under the zygote's jobs root, its stdout and stderr pipes and a job socket, and sends
//! those fds on the control socket; `python/quantd/zygote.py` forks the job's keeper, which reads
//! the request from the job socket, gives the job its own mount, PID, IPC, network and user
//! namespaces, fresh `/tmp`, `/dev/shm` and `/work`, only its own `/job` and `/out`, rlimits, no
//! capabilities, `no_new_privs`, Landlock (when the kernel has it) and the seccomp filter, and
//! runs it. Output capture, limits, cancellation and verdicts are the cold path's
//! ([`crate::run`]), so a job gets the same [`Outcome`] either way.
//!
//! **The zygote never holds a job's data.** Every job is a fork of it, so whatever it had read
//! would be in every later job's memory (review S8: a job found an earlier job's `--api-key`
//! argv in its own heap). The control socket carries only fds and a fixed word; the request
//! (argv, environment, limits, directory) travels on the job's own socket and is read only by the
//! forked keeper. The host side ([`Zygote::run`]) runs in the server, which no job is forked
//! from; the zygote's shim processes never see a request.
//!
//! **A job's channel.** A job may carry its end of a duplex socket to the host
//! ([`Job::channel`]). It travels with the job's other fds on the control socket, under the fixed
//! word `jobc` instead of `job` (the fourth fd is then the channel, the cgroup's, if any, the
//! fifth): still only fds and a fixed word. The zygote passes it to the keeper and closes its
//! copy; the keeper passes it to the job and closes its own; the job sees it as fd 3
//! ([`crate::CHANNEL_FD`]) with `QUANTD_CHANNEL_FD=3` and keeps it through its confinement:
//! seccomp allows plain `read`, `write` and `poll` on it, and Landlock governs paths and new
//! connections, not an fd the job already holds. Only bytes reach the host, as long as it reads
//! its end with plain `read` (which drops any fd a job attaches with `SCM_RIGHTS`). A job without
//! a channel has no fd 3 and no such variable.
//!
//! [`Zygote`] is `Send + Sync`: worker threads share one and run jobs concurrently. A zygote that
//! died (or was killed because a job would not end) is restarted by the next [`Zygote::run`].

use crate::capture::{Captured, Killer, Stream, capture, finish, note_oom};
use crate::config::{Isolation, SDK_MOUNT, SandboxConfig};
use crate::diagnose::{setup_failure, zygote_failure};
use crate::layout::{
    host_ids, job_argv_env, prepare_dir, root_layout, shim_limits, under_job_tmpfs,
};
use crate::run::{CancelToken, JOB_DIR, Job, OUT_DIR, Outcome, job_cgroup};
use crate::shim::seccomp;
use crate::shim::{Bind, Report, ShimConfig};
use crate::sys;
use crate::{Result, SandboxError};
use serde::Deserialize;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the zygote sees its jobs root (the per-job directories), inside the sandbox.
const JOBS_MOUNT: &str = "/jobs";
/// How long a zygote may take to import its modules and say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a killed job may take to end before its whole zygote is killed instead.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// What [`SandboxError::CannotStart`] says could not start.
const NOT_STARTED: &str = "the Python zygote did not start";
/// What the control socket carries with each job's fds: a fixed word, never the request. The fds:
/// the job socket, stdout, stderr, then the job cgroup's `cgroup.procs` when there is one.
const JOB_MESSAGE: &[u8] = b"job";
/// [`JOB_MESSAGE`] for a job with a [`Job::channel`]: the fourth fd is the channel, the cgroup's
/// (if any) the fifth.
const JOB_CHANNEL_MESSAGE: &[u8] = b"jobc";
/// How long the job's keeper may take to read its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A warm zygote serving jobs of one [`SandboxConfig`]. See the module docs.
pub struct Zygote {
    config: SandboxConfig,
    jobs_root: Arc<tempfile::TempDir>,
    current: Mutex<Option<Arc<Generation>>>,
    starts: AtomicU64,
}

/// What a zygote told the host when it became ready.
#[derive(Debug, Clone, PartialEq)]
pub struct ZygoteInfo {
    /// From spawning the shim to the zygote's ready message (namespaces, root, imports).
    pub start_time: Duration,
    /// Of which: the zygote's own imports and warm-up, as it measured them.
    pub import_time: Duration,
    /// The Landlock ABI the zygote applies to jobs (0: the kernel has none; jobs run without it).
    pub landlock_abi: u32,
    /// How many times a zygote process was started for this [`Zygote`] (1 + restarts).
    pub starts: u64,
}

#[derive(Debug, Deserialize)]
struct Ready {
    import_ms: f64,
    landlock_abi: u32,
    tasks: u32,
}

/// One zygote process (replaced by a new generation when it dies).
struct Generation {
    ctl: OwnedFd,
    shim: Mutex<Child>,
    s1: Arc<Mutex<Option<OwnedFd>>>,
    dead: Arc<AtomicBool>,
    diag: Arc<Mutex<Diag>>,
    info: ZygoteInfo,
}

/// What the zygote's shim reported and printed (for error messages).
#[derive(Default)]
struct Diag {
    reports: Vec<Report>,
    stderr: Vec<u8>,
}

impl Generation {
    fn kill(&self) {
        self.dead.store(true, Ordering::SeqCst);
        if let Some(fd) = self.s1.lock().expect("not poisoned").as_ref() {
            let _ = sys::pidfd_send_signal(fd.as_raw_fd(), libc::SIGKILL);
        }
        let mut shim = self.shim.lock().expect("not poisoned");
        let _ = shim.kill();
        let _ = shim.wait();
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        self.kill();
    }
}

impl std::fmt::Debug for Zygote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zygote")
            .field("python", &self.config.python)
            .field("jobs_root", &self.jobs_root.path())
            .field("starts", &self.starts.load(Ordering::SeqCst))
            .finish()
    }
}

impl Zygote {
    /// Starts a zygote for `config` and waits until it has imported numpy, pandas, pyarrow and the
    /// SDK. The SDK must be importable: installed in the runtime's venv, or
    /// [`SandboxConfig::sdk_dir`] set. Fails like [`crate::run`] when the kernel refuses
    /// namespaces ([`SandboxError::NamespacesUnavailable`]), and with [`SandboxError::CannotStart`] (the real
    /// cause: the stage of the sandbox that failed, or the zygote's own error output when the
    /// interpreter cannot import what it needs; class internal, retried) otherwise.
    #[tracing::instrument(name = "sandbox.start", skip_all, fields(python = %config.python.display()))]
    pub fn start(config: &SandboxConfig) -> Result<Zygote> {
        config.limits.validate_within(&config.bounds)?;
        let scratch = config
            .scratch_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let jobs_root = tempfile::Builder::new()
            .prefix("quantd-zygote-")
            .tempdir_in(&scratch)
            .map_err(|e| {
                SandboxError::io(format!("create the jobs root in {}", scratch.display()), e)
            })?;
        std::fs::set_permissions(jobs_root.path(), std::fs::Permissions::from_mode(0o711))
            .map_err(|e| SandboxError::io("chmod the jobs root", e))?;
        let zygote = Zygote {
            config: config.clone(),
            jobs_root: Arc::new(jobs_root),
            current: Mutex::new(None),
            starts: AtomicU64::new(0),
        };
        zygote.generation()?;
        Ok(zygote)
    }

    /// The current zygote process's start figures.
    pub fn info(&self) -> Result<ZygoteInfo> {
        Ok(self.generation()?.info.clone())
    }

    /// The host pid of the current zygote's shim (its process tree holds the zygote and every
    /// running job), for monitoring.
    pub fn shim_pid(&self) -> Result<u32> {
        Ok(self.generation()?.shim.lock().expect("not poisoned").id())
    }

    /// The configuration jobs run with.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Runs `job` in a child of the zygote and waits for its whole process tree to end. Same
    /// contract as [`crate::run`]: a verdict for anything the job did, [`SandboxError::Cancelled`] when
    /// `cancel` fired, other errors only when the sandbox itself failed. Safe to call from many
    /// threads at once; a dead zygote is restarted first. The job's [`Job::channel`], if any, is
    /// its fd 3 (see the module docs); `run` neither reads nor closes the host's end.
    #[tracing::instrument(skip_all, fields(args = ?job.args))]
    pub fn run(&self, job: &Job, cancel: &CancelToken) -> Result<Outcome> {
        let limits = job.limits.as_ref().unwrap_or(&self.config.limits);
        limits.validate_within(&self.config.bounds)?;
        let isolate = self.config.isolation == Isolation::Sandboxed;
        if !isolate {
            tracing::warn!(
                "running Python code WITHOUT the sandbox (--unsafe-no-sandbox): it can read host files and use the network"
            );
        }
        let dir = prepare_dir(&self.config, job, Some(self.jobs_root.path()))?;
        let name = dir
            .path()
            .file_name()
            .expect("a temp dir has a name")
            .to_string_lossy()
            .into_owned();
        let (job_dir, out_dir) = if isolate {
            (PathBuf::from(JOB_DIR), PathBuf::from(OUT_DIR))
        } else {
            (dir.path().join("job"), dir.path().join("out"))
        };
        let (argv, env) = job_argv_env(&self.config, job, &job_dir, &out_dir, isolate);
        let cgroup = job_cgroup(&self.config, limits)?;
        let cgroup_procs = match &cgroup {
            Some(cg) => Some(
                cg.open_procs()
                    .map_err(|e| SandboxError::io("open the job cgroup's cgroup.procs", e))?,
            ),
            None => None,
        };
        let request = serde_json::to_vec(&serde_json::json!({
            "dir": name,
            "argv": argv,
            "env": env,
            "cwd": if isolate { PathBuf::from("/work") } else { out_dir },
            "limits": shim_limits(limits, cgroup.is_some()),
        }))
        .map_err(|e| SandboxError::Config(e.to_string()))?;

        let (out_r, out_w) = std::io::pipe().map_err(|e| SandboxError::io("stdout pipe", e))?;
        let (err_r, err_w) = std::io::pipe().map_err(|e| SandboxError::io("stderr pipe", e))?;
        let (host_sock, job_sock) =
            UnixStream::pair().map_err(|e| SandboxError::io("job socket", e))?;
        let start = Instant::now();
        let mut fds = vec![job_sock.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()];
        fds.extend(job.channel.as_ref().map(|fd| fd.as_raw_fd()));
        fds.extend(cgroup_procs.as_ref().map(|fd| fd.as_raw_fd()));
        let message = match job.channel {
            Some(_) => JOB_CHANNEL_MESSAGE,
            None => JOB_MESSAGE,
        };
        let generation = self.send(message, &fds)?;
        drop((out_w, err_w, job_sock, cgroup_procs));
        if let Err(e) = send_request(&host_sock, &request) {
            // The keeper never took its request: the zygote is broken or wedged.
            generation.kill();
            return Err(SandboxError::io("send the job's request to the zygote", e));
        }

        let mut killer = SockKiller {
            sock: host_sock
                .try_clone()
                .map_err(|e| SandboxError::io("dup the job socket", e))?,
            first_kill: None,
            generation: generation.clone(),
        };
        let streams = [
            Stream::new(OwnedFd::from(out_r), limits.stdout_bytes)?,
            Stream::new(OwnedFd::from(err_r), limits.stderr_bytes)?,
            Stream::socket(OwnedFd::from(host_sock), 64 << 10)?,
        ];
        let captured: Captured = capture(streams, limits, cancel, start, &mut killer, |r| {
            r.iter().any(|r| matches!(r, Report::Exited { .. }))
        })?;
        if !captured
            .reports
            .iter()
            .any(|r| matches!(r, Report::Exited { .. }))
        {
            // The keeper never confirmed the job's end: the zygote is broken or wedged. Killing
            // it is the only way to be sure nothing of the job survives.
            tracing::warn!("the zygote lost a job; restarting it");
            generation.kill();
        }
        let mut outcome = finish(
            &self.config,
            captured,
            dir,
            limits,
            start,
            "the zygote ended without reporting the job's end (it is restarted for the next job)",
        )?;
        note_oom(&mut outcome, cgroup.as_ref());
        outcome.keep_alive(self.jobs_root.clone());
        Ok(outcome)
    }

    /// Sends a job's fds on the current generation, restarting a dead zygote once.
    fn send(&self, message: &[u8], fds: &[libc::c_int]) -> Result<Arc<Generation>> {
        let mut last = None;
        for _ in 0..2 {
            let generation = self.generation()?;
            match sys::send_with_fds(generation.ctl.as_raw_fd(), message, fds) {
                Ok(()) => return Ok(generation),
                Err(e) => {
                    tracing::warn!(error = %e, "the zygote does not take requests; restarting it");
                    generation.kill();
                    last = Some(e);
                }
            }
        }
        Err(SandboxError::io(
            "send a job to the zygote",
            last.expect("two failed attempts"),
        ))
    }

    /// The live generation, starting one when there is none or it died.
    fn generation(&self) -> Result<Arc<Generation>> {
        let mut current = self.current.lock().expect("not poisoned");
        if let Some(g) = current.as_ref()
            && !g.dead.load(Ordering::SeqCst)
        {
            return Ok(g.clone());
        }
        if let Some(old) = current.take() {
            old.kill();
        }
        let starts = self.starts.fetch_add(1, Ordering::SeqCst) + 1;
        if starts > 1 {
            tracing::warn!(starts, "restarting the zygote");
        }
        let g = Arc::new(self.spawn(starts)?);
        *current = Some(g.clone());
        Ok(g)
    }

    fn spawn(&self, starts: u64) -> Result<Generation> {
        let config = &self.config;
        let isolate = config.isolation == Isolation::Sandboxed;
        let (mut binds, symlinks) = root_layout(config)?;
        let jobs_root = self.jobs_root.path().to_path_buf();
        let jobs_seen = if isolate {
            binds.push(Bind {
                src: jobs_root.clone(),
                dst: JOBS_MOUNT.into(),
                writable: true,
            });
            PathBuf::from(JOBS_MOUNT)
        } else {
            jobs_root.clone()
        };
        let filter: Vec<[u32; 4]> = seccomp::filter()
            .iter()
            .map(|i| [i.code as u32, i.jt as u32, i.jf as u32, i.k])
            .collect();
        // Binds under a place each job gets a fresh tmpfs at (a venv under /tmp): the keeper
        // binds them again on top of the job's tmpfs.
        let mut rebind: Vec<&PathBuf> = binds
            .iter()
            .map(|b| &b.dst)
            .filter(|d| under_job_tmpfs(d))
            .collect();
        rebind.sort_by_key(|d| d.components().count());
        let zcfg = serde_json::json!({
            "isolate": isolate,
            "jobs_root": jobs_seen,
            "seccomp": filter,
            "landlock": true,
            "rebind": rebind,
        });
        let (_, mut env) = job_argv_env(
            config,
            &Job::default(),
            &PathBuf::from(JOB_DIR),
            &PathBuf::from(OUT_DIR),
            isolate,
        );
        if config.sdk_dir.is_none() {
            env.retain(|(k, _)| k != "PYTHONPATH");
        } else if isolate {
            debug_assert!(env.iter().any(|(_, v)| v == SDK_MOUNT));
        }
        let mut limits = shim_limits(&config.limits, false);
        limits.open_files = limits.open_files.max(4096);
        let (host_uid, host_gid) = host_ids(config);
        let shim_cfg = ShimConfig {
            isolate,
            program: config.python.clone(),
            argv: vec![
                config.python.to_string_lossy().into_owned(),
                "-s".into(),
                "-m".into(),
                "quantd.zygote".into(),
                zcfg.to_string(),
            ],
            env,
            cwd: if isolate {
                "/work".into()
            } else {
                jobs_root.clone()
            },
            binds,
            symlinks,
            limits,
            host_uid,
            host_gid,
            backstop_secs: 0,
            zygote: true,
            mountpoints: vec![JOB_DIR.into(), OUT_DIR.into()],
            cgroup_procs: None,
            host_pid: std::process::id(),
        };
        let json =
            serde_json::to_string(&shim_cfg).map_err(|e| SandboxError::Config(e.to_string()))?;
        let (ctl, ctl_zygote) =
            sys::seqpacket_pair().map_err(|e| SandboxError::io("control socket", e))?;
        let (report_r, report_w) =
            std::io::pipe().map_err(|e| SandboxError::io("report pipe", e))?;
        let start = Instant::now();
        let mut command = Command::new(&config.shim.program);
        command
            .args(&config.shim.args)
            .arg(json)
            .env_clear()
            .stdin(Stdio::from(report_w))
            .stdout(Stdio::from(ctl_zygote))
            .stderr(Stdio::piped());
        let dead = Arc::new(AtomicBool::new(false));
        let diag = Arc::new(Mutex::new(Diag::default()));
        let s1 = Arc::new(Mutex::new(None));
        let child = spawn_monitored(command, report_r, &dead, &diag, &s1).map_err(|e| {
            SandboxError::io(
                format!("start the shim {}", config.shim.program.display()),
                e,
            )
        })?;
        let generation = Generation {
            ctl,
            shim: Mutex::new(child),
            s1,
            dead,
            diag,
            info: ZygoteInfo {
                start_time: Duration::ZERO,
                import_time: Duration::ZERO,
                landlock_abi: 0,
                starts,
            },
        };
        let ready = wait_ready(config, &generation)?;
        let mut generation = generation;
        generation.info.start_time = start.elapsed();
        generation.info.import_time =
            Duration::try_from_secs_f64(ready.import_ms / 1000.0).unwrap_or_default();
        generation.info.landlock_abi = ready.landlock_abi;
        if ready.tasks > 1 {
            tracing::warn!(
                tasks = ready.tasks,
                "the zygote has more than one thread before forking jobs"
            );
        }
        tracing::info!(
            start_ms = generation.info.start_time.as_millis() as u64,
            import_ms = ready.import_ms as u64,
            landlock_abi = ready.landlock_abi,
            "zygote ready"
        );
        Ok(generation)
    }
}

impl Drop for Zygote {
    fn drop(&mut self) {
        if let Some(g) = self.current.lock().expect("not poisoned").take() {
            g.kill();
        }
    }
}

/// Writes `request` on the job socket, its length first (8 bytes, little-endian), for the job's
/// keeper to read after the fork (see the module docs).
fn send_request(sock: &UnixStream, request: &[u8]) -> std::io::Result<()> {
    let mut sock = sock;
    sock.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    sock.write_all(&(request.len() as u64).to_le_bytes())?;
    sock.write_all(request)?;
    sock.set_write_timeout(None)
}

/// Waits for the zygote's ready message; on failure explains why from what the shim reported.
fn wait_ready(config: &SandboxConfig, generation: &Generation) -> Result<Ready> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let fd = generation.ctl.as_raw_fd();
    let failure = loop {
        if Instant::now() >= deadline {
            break format!(
                "it did not become ready within {}s",
                READY_TIMEOUT.as_secs()
            );
        }
        if sys::poll_one(fd, 100).map_err(|e| SandboxError::io("poll the zygote", e))? {
            let mut buf = vec![0u8; 64 << 10];
            let n = sys::recv(fd, &mut buf).unwrap_or(0);
            if n == 0 {
                break "it exited before it was ready".to_owned();
            }
            return serde_json::from_slice::<Ready>(&buf[..n]).map_err(|e| SandboxError::CannotStart {
                what: NOT_STARTED.into(),
                why: format!("its ready message is not valid: {e}"),
                fix: "make sure the SDK (quantd.zygote) matches this quantd binary: `quantd runtime setup` installs it".into(),
            });
        }
        if generation.dead.load(Ordering::SeqCst) {
            break "it exited before it was ready".to_owned();
        }
    };
    generation.kill();
    // Let the monitor collect the last reports and output.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until && !generation.dead.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(20));
    let diag = generation.diag.lock().expect("not poisoned");
    for r in &diag.reports {
        if let Report::SetupError {
            stage,
            errno,
            message,
        } = r
        {
            if matches!(
                stage.as_str(),
                "clone" | "write uid_map" | "write gid_map" | "write setgroups"
            ) {
                return Err(crate::capture::namespaces_unavailable(
                    stage, *errno, message,
                ));
            }
            return Err(setup_failure(config, stage, *errno, message).error(NOT_STARTED));
        }
    }
    let stderr = String::from_utf8_lossy(&diag.stderr);
    let tail: String = stderr
        .lines()
        .rev()
        .take(15)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    Err(zygote_failure(config, &failure, &tail).error(NOT_STARTED))
}

/// Starts the zygote's shim from a thread of its own, which then monitors it ([`monitor`]) until
/// it ends. The shim dies with the thread that started it (its parent-death signal), so that
/// thread must live as long as the zygote, and only as long: the monitor's does (a caller's
/// thread, e.g. one of a pool, may end while the zygote serves others).
fn spawn_monitored(
    mut command: Command,
    report: std::io::PipeReader,
    dead: &Arc<AtomicBool>,
    diag: &Arc<Mutex<Diag>>,
    s1: &Arc<Mutex<Option<OwnedFd>>>,
) -> std::io::Result<Child> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (dead, diag, s1) = (dead.clone(), diag.clone(), s1.clone());
    std::thread::Builder::new()
        .name("quantd-zygote-monitor".into())
        .spawn(move || match command.spawn() {
            Ok(mut child) => {
                // The command holds the shim's ends of the pipes: without them gone, the
                // monitor would never see the shim end.
                drop(command);
                let stderr = child.stderr.take();
                let _ = tx.send(Ok(child));
                if let Some(stderr) = stderr {
                    monitor(report, stderr, &dead, &diag, &s1);
                }
                dead.store(true, Ordering::SeqCst);
            }
            Err(e) => {
                dead.store(true, Ordering::SeqCst);
                let _ = tx.send(Err(e));
            }
        })?;
    rx.recv()
        .map_err(|_| std::io::Error::other("the zygote monitor ended before starting the shim"))?
}

/// Reads the zygote shim's reports and the zygote's stderr until both close, then marks the
/// generation dead.
fn monitor(
    report: std::io::PipeReader,
    stderr: std::process::ChildStderr,
    dead: &AtomicBool,
    diag: &Mutex<Diag>,
    s1: &Mutex<Option<OwnedFd>>,
) {
    let mut streams = [
        (
            std::fs::File::from(OwnedFd::from(report)),
            false,
            Vec::new(),
        ),
        (
            std::fs::File::from(OwnedFd::from(stderr)),
            false,
            Vec::new(),
        ),
    ];
    for (fd, _, _) in &streams {
        let _ = sys::set_nonblocking(fd.as_raw_fd());
    }
    let mut chunk = [0u8; 16 << 10];
    while streams.iter().any(|s| !s.1) {
        let mut pfds: Vec<libc::pollfd> = streams
            .iter()
            .filter(|s| !s.1)
            .map(|s| libc::pollfd {
                fd: s.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        if sys::poll(&mut pfds, 1000).is_err() {
            break;
        }
        for (i, (fd, eof, buf)) in streams.iter_mut().enumerate() {
            while !*eof {
                match (&*fd).read(&mut chunk) {
                    Ok(0) => *eof = true,
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
                            let line: Vec<u8> = buf.drain(..=end).collect();
                            handle_line(i, &line, diag, s1);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
    }
    for (i, (_, _, rest)) in streams.iter().enumerate() {
        if !rest.is_empty() {
            handle_line(i, rest, diag, s1);
        }
    }
    dead.store(true, Ordering::SeqCst);
    tracing::debug!("zygote ended");
}

fn handle_line(stream: usize, line: &[u8], diag: &Mutex<Diag>, s1: &Mutex<Option<OwnedFd>>) {
    let mut d = diag.lock().expect("not poisoned");
    if stream == 0 {
        if let Ok(r) = serde_json::from_slice::<Report>(line) {
            if let Report::Started { pid } = r {
                *s1.lock().expect("not poisoned") = sys::pidfd_open(pid).ok();
            }
            d.reports.push(r);
        }
    } else {
        let text = String::from_utf8_lossy(line);
        tracing::warn!(target: "quantd_sandbox::zygote", "zygote: {}", text.trim_end());
        if d.stderr.len() < 64 << 10 {
            d.stderr.extend_from_slice(line);
        }
    }
}

/// Kills a zygote job by asking its keeper (C1); kills the whole zygote when that takes too long.
struct SockKiller {
    sock: UnixStream,
    first_kill: Option<Instant>,
    generation: Arc<Generation>,
}

impl Killer for SockKiller {
    fn on_report(&mut self, _: &Report) {}

    fn kill(&mut self) {
        match self.first_kill {
            None => {
                self.first_kill = Some(Instant::now());
                let _ = self.sock.write_all(b"k");
            }
            Some(at) if at.elapsed() > KILL_GRACE => self.generation.kill(),
            Some(_) => {}
        }
    }
}
