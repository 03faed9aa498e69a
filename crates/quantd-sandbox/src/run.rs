//! The host side of a cold job: prepare its directory, start the shim, capture its output
//! ([`crate::capture`]), enforce the wall limit and cancellation, and classify the end. Also
//! [`Job`], what both paths run.
//!
//! A job may carry a duplex channel to its host ([`Job::channel`], seen by the job as fd
//! [`CHANNEL_FD`]); only the warm zygote ([`crate::Zygote::run`]) passes it on: the cold path
//! refuses such a job ([`SandboxError::Config`]) rather than start it without its channel.

use crate::capture::{Killer, Stream, capture, finish, note_oom};
use crate::cgroup::JobCgroup;
use crate::config::{Isolation, SandboxConfig};
use crate::diagnose::StartFailure;
use crate::layout::{host_ids, job_argv_env, prepare_dir, root_layout, shim_limits};
use crate::shim::{Bind, Report, ShimConfig};
use crate::sys;
use crate::{Limits, Result, SandboxError, Verdict};
use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Where the job's files are, inside the sandbox (read-only).
pub const JOB_DIR: &str = "/job";
/// Where the job writes files the host reads back ([`Outcome::read_output`]).
pub const OUT_DIR: &str = "/out";
/// The variable that tells the job where [`JOB_DIR`] is (a host path in the unsafe mode).
pub const JOB_DIR_ENV: &str = "QUANTD_JOB_DIR";
/// The variable that tells the job where [`OUT_DIR`] is (a host path in the unsafe mode).
pub const OUT_DIR_ENV: &str = "QUANTD_OUT_DIR";
/// The fd a job sees its [`Job::channel`] as.
pub const CHANNEL_FD: i32 = 3;
/// The variable that tells a job with a [`Job::channel`] its fd ([`CHANNEL_FD`]); never set for a
/// job without one (which has no fd 3 either).
pub const CHANNEL_FD_ENV: &str = "QUANTD_CHANNEL_FD";

/// One unit of work: interpreter arguments plus the files it needs.
#[derive(Debug, Clone, Default)]
pub struct Job {
    /// Arguments after the interpreter (e.g. `["/job/main.py", "--x"]`). In the unsafe mode an
    /// argument starting with `/job/` or `/out/` is rewritten to the host job or output directory.
    pub args: Vec<String>,
    /// Files written into [`JOB_DIR`] before the start: `(file name, content)`.
    pub files: Vec<(String, Vec<u8>)>,
    /// Host files put into [`JOB_DIR`] before the start (hard-linked when possible, else
    /// copied): `(file name, host path)`. For large inputs such as Arrow IPC bars.
    pub host_files: Vec<(String, PathBuf)>,
    /// Extra environment variables (on top of the configuration's allow-list).
    pub env: Vec<(String, String)>,
    /// Limits for this job instead of the configuration's.
    pub limits: Option<Limits>,
    /// The job's end of a duplex channel to the host, for talking while the job runs (a strategy
    /// asking a broker for fills each bar); see [`Job::with_channel`]. The job sees it as fd
    /// [`CHANNEL_FD`] (3), with [`CHANNEL_FD_ENV`] set to `3`. Read the host's end with plain
    /// `read` (never `recvmsg` taking `SCM_RIGHTS`): the kernel then drops any fd the job
    /// attaches, and only bytes cross. Warm zygote only ([`crate::Zygote::run`]): [`run`]
    /// refuses such a job.
    ///
    /// **When the host's end sees EOF.** Only once every copy of this end is closed: the job's
    /// (when its whole process tree has ended) *and* this one, which lives as long as the `Job`
    /// and its clones. A thread serving the host's end therefore does not see EOF when
    /// [`crate::Zygote::run`] returns, while the caller still holds the `Job`; stop it by calling
    /// `shutdown(Shutdown::Both)` on a clone of the host's end after `run` returns (its blocked
    /// `read` then returns 0), or by dropping every clone of the `Job`.
    pub channel: Option<Arc<OwnedFd>>,
}

impl Job {
    /// A job that runs `code` as the script `/job/main.py`.
    pub fn script(code: impl Into<String>) -> Self {
        Self {
            args: vec![format!("{JOB_DIR}/main.py")],
            files: vec![("main.py".into(), code.into().into_bytes())],
            ..Self::default()
        }
    }

    /// Adds a file to [`JOB_DIR`].
    pub fn with_file(mut self, name: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.into(), content.into()));
        self
    }

    /// Adds a host file to [`JOB_DIR`] (hard-linked when possible, else copied).
    pub fn with_host_file(mut self, name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.host_files.push((name.into(), path.into()));
        self
    }

    /// Appends arguments after the script.
    pub fn with_args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets this job's limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Gives the job `fd` as its channel to the host ([`Job::channel`]). The caller creates a
    /// connected pair with `UnixStream::pair()` (`SOCK_STREAM`, close-on-exec: no other process
    /// the host starts inherits it), passes one end here and serves the other on a thread of its
    /// own while [`crate::Zygote::run`] runs the job; the job reads and writes fd [`CHANNEL_FD`]
    /// (`QUANTD_CHANNEL_FD`) with plain `read`/`write`/`poll`. Framing is the caller's and the
    /// job's business (length prefixes, newline-delimited JSON). After `run` returns, shut the
    /// host's end down (`shutdown(Shutdown::Both)` on a clone) to end the serving thread: see
    /// [`Job::channel`] for why EOF alone does not come.
    ///
    /// ```no_run
    /// # use quantd_sandbox::{CancelToken, Job, Zygote};
    /// # use std::io::{BufRead, BufReader};
    /// # use std::net::Shutdown;
    /// # use std::os::fd::OwnedFd;
    /// # use std::os::unix::net::UnixStream;
    /// # fn f(zygote: &Zygote) -> quantd_sandbox::Result<()> {
    /// let (host, theirs) = UnixStream::pair().expect("socketpair");
    /// let job = Job::script("import os\nos.write(3, b'hello\\n')\n")
    ///     .with_channel(OwnedFd::from(theirs));
    /// let stop = host.try_clone().expect("dup");
    /// let server = std::thread::spawn(move || {
    ///     let mut lines = BufReader::new(host).lines();
    ///     while let Some(Ok(line)) = lines.next() {
    ///         println!("the job said {line}");
    ///     }
    /// });
    /// let outcome = zygote.run(&job, &CancelToken::new());
    /// let _ = stop.shutdown(Shutdown::Both);
    /// server.join().expect("the server ends");
    /// # outcome.map(drop)
    /// # }
    /// ```
    pub fn with_channel(mut self, fd: OwnedFd) -> Self {
        self.channel = Some(Arc::new(fd));
        self
    }
}

/// Cancels a running job from another thread: its whole process tree is killed and
/// [`run`] returns [`SandboxError::Cancelled`].
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a job ended and what it printed. Its output files live until the `Outcome` is dropped.
#[derive(Debug)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Exit status of the job process, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed the job process, when one did.
    pub signal: Option<i32>,
    /// Captured stdout (at most the limit).
    pub stdout: Vec<u8>,
    /// Captured stderr (at most the limit).
    pub stderr: Vec<u8>,
    /// The Python traceback from stderr, for failed jobs.
    pub traceback: Option<String>,
    /// What went wrong inside the sandbox machinery ([`Verdict::Internal`]).
    pub detail: Option<String>,
    /// CPU time of the job process (and the children it waited for).
    pub cpu_time: Duration,
    /// Wall time from spawning the shim to the end of the whole tree.
    pub wall_time: Duration,
    /// Peak resident memory of the job process, in bytes.
    pub max_rss_bytes: u64,
    pub(crate) dir: tempfile::TempDir,
    /// The zygote's jobs root holding `dir`, kept until `dir` is gone (declared after it: fields
    /// drop in order).
    pub(crate) root: Option<Arc<tempfile::TempDir>>,
    /// Why the sandbox could not start the job, when it could not.
    pub(crate) start_failure: Option<StartFailure>,
    /// The job's `/out` tmpfs (an `O_PATH` directory fd), when it ran sandboxed: the files are
    /// read through it, and the memory is freed with it.
    pub(crate) out: Option<OwnedFd>,
}

impl Outcome {
    /// Reads the file `name` the job wrote in [`OUT_DIR`], refusing anything but a plain regular
    /// file of at most `max_bytes` (a symlink planted by the job is never followed).
    pub fn read_output(&self, name: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let refuse = |why: &str| SandboxError::UnsafeOutput {
            name: name.to_owned(),
            why: why.to_owned(),
        };
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(refuse("not a plain file name"));
        }
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
        let opened = match &self.out {
            Some(out) => {
                let cname = CString::new(name).map_err(|_| refuse("not a plain file name"))?;
                sys::openat(out.as_raw_fd(), &cname, flags)
            }
            None => std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(flags)
                .open(self.dir.path().join("out").join(name)),
        };
        let file = opened.map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => refuse("is a symbolic link"),
            _ => SandboxError::io(format!("open output {name}"), e),
        })?;
        let meta = file
            .metadata()
            .map_err(|e| SandboxError::io("stat output", e))?;
        if !meta.file_type().is_file() {
            return Err(refuse("not a regular file"));
        }
        if meta.len() > max_bytes {
            return Err(refuse(&format!(
                "{} bytes, more than {max_bytes}",
                meta.len()
            )));
        }
        let mut buf = Vec::with_capacity(meta.len() as usize);
        file.take(max_bytes + 1)
            .read_to_end(&mut buf)
            .map_err(|e| SandboxError::io("read output", e))?;
        if buf.len() as u64 > max_bytes {
            return Err(refuse("grew while being read"));
        }
        Ok(buf)
    }

    /// Keeps the directory holding this job's directory alive as long as the outcome.
    pub(crate) fn keep_alive(&mut self, root: Arc<tempfile::TempDir>) {
        self.root = Some(root);
    }

    /// A host path of the job's output directory (for diagnostics; read files through
    /// [`Outcome::read_output`]): the `/out` tmpfs through this process's fd while the outcome
    /// lives, or the host directory without the sandbox.
    pub fn out_dir(&self) -> PathBuf {
        match &self.out {
            Some(out) => PathBuf::from(format!("/proc/self/fd/{}", out.as_raw_fd())),
            None => self.dir.path().join("out"),
        }
    }
}

/// Checks that this machine can run sandboxed jobs, by running `python -c pass` in the sandbox.
/// Returns [`SandboxError::NamespacesUnavailable`] (with how to fix it) when the kernel refuses, and
/// [`SandboxError::CannotStart`] with the real cause when the interpreter cannot start in it.
pub fn probe(config: &SandboxConfig) -> Result<()> {
    let job = Job {
        args: vec!["-c".into(), "pass".into()],
        ..Job::default()
    };
    let out = run(config, &job, &CancelToken::new())?;
    const WHAT: &str = "the sandbox cannot run the interpreter";
    if let Some(failure) = out.start_failure {
        return Err(failure.error(WHAT));
    }
    if out.verdict != Verdict::Ok {
        return Err(SandboxError::CannotStart {
            what: WHAT.into(),
            why: format!(
                "`python -c pass` ended with {}: {}{}",
                out.verdict,
                out.detail.unwrap_or_default(),
                String::from_utf8_lossy(&out.stderr)
            ),
            fix: "run `quantd runtime doctor`".into(),
        });
    }
    Ok(())
}

/// Runs `job` in a fresh sandbox and waits for the whole process tree to end. A job with a
/// [`Job::channel`] is refused ([`SandboxError::Config`], nothing started): channels need the
/// warm zygote ([`crate::Zygote::run`]).
#[tracing::instrument(skip_all, fields(args = ?job.args))]
pub fn run(config: &SandboxConfig, job: &Job, cancel: &CancelToken) -> Result<Outcome> {
    if job.channel.is_some() {
        return Err(SandboxError::Config(
            "a job with a channel (Job::with_channel) needs the warm zygote (Zygote::run): \
             the cold path (quantd_sandbox::run) cannot pass the channel's fd through its shim"
                .into(),
        ));
    }
    let limits = job.limits.as_ref().unwrap_or(&config.limits);
    limits.validate_within(&config.bounds)?;
    let isolate = config.isolation == Isolation::Sandboxed;
    if !isolate {
        tracing::warn!(
            "running Python code WITHOUT the sandbox (--unsafe-no-sandbox): it can read host files and use the network"
        );
    }
    let dir = prepare_dir(config, job, None)?;
    let cgroup = job_cgroup(config, limits)?;
    let mut shim_cfg = shim_config(config, job, limits, dir.path(), isolate, cgroup.is_some())?;
    shim_cfg.cgroup_procs = cgroup.as_ref().map(JobCgroup::procs_path);
    let json = serde_json::to_string(&shim_cfg).map_err(|e| SandboxError::Config(e.to_string()))?;

    // A socket, not a pipe: S1 hands the job's `/out` over it (`Report::Out`).
    let (report_r, report_w) =
        std::os::unix::net::UnixStream::pair().map_err(|e| SandboxError::io("report socket", e))?;
    let start = Instant::now();
    let mut child = Command::new(&config.shim.program)
        .args(&config.shim.args)
        .arg(json)
        .env_clear()
        .stdin(Stdio::from(OwnedFd::from(report_w)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            SandboxError::io(
                format!("start the shim {}", config.shim.program.display()),
                e,
            )
        })?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let streams = [
        Stream::new(OwnedFd::from(stdout), limits.stdout_bytes)?,
        Stream::new(OwnedFd::from(stderr), limits.stderr_bytes)?,
        Stream::socket(OwnedFd::from(report_r), 1 << 20)?,
    ];
    let mut tree = Tree {
        shim: child.id() as libc::pid_t,
        pidfd: None,
        job_pid: None,
        isolate,
    };
    let captured = capture(streams, limits, cancel, start, &mut tree, |_| false);
    let status = child
        .wait()
        .map_err(|e| SandboxError::io("wait for the shim", e));
    let captured = captured?;
    let status = status?;
    if let Some(pidfd) = &tree.pidfd {
        // PID 1 of the job's namespace is gone only once everything in it is gone.
        let _ = sys::poll_one(pidfd.as_raw_fd(), 10_000);
    }
    let mut outcome = finish(
        config,
        captured,
        dir,
        limits,
        start,
        &format!("the shim ended ({status}) without reporting the job's end"),
    )?;
    note_oom(&mut outcome, cgroup.as_ref());
    Ok(outcome)
}

/// The job's own cgroup when memory is limited by a delegated cgroup v2.
pub(crate) fn job_cgroup(config: &SandboxConfig, limits: &Limits) -> Result<Option<JobCgroup>> {
    let Some(parent) = &config.memory_cgroup else {
        return Ok(None);
    };
    JobCgroup::create(parent, limits.memory_bytes, limits.processes)
        .map(Some)
        .map_err(|e| SandboxError::io("create the job's cgroup", e))
}

/// The process tree of one job, for killing it.
struct Tree {
    shim: libc::pid_t,
    pidfd: Option<OwnedFd>,
    job_pid: Option<libc::pid_t>,
    isolate: bool,
}

impl Killer for Tree {
    fn on_report(&mut self, r: &Report) {
        if let Report::Started { pid } = r {
            if self.isolate {
                self.pidfd = sys::pidfd_open(*pid).ok();
            } else {
                self.job_pid = Some(*pid);
            }
        }
    }

    fn kill(&mut self) {
        if let Some(fd) = &self.pidfd {
            let _ = sys::pidfd_send_signal(fd.as_raw_fd(), libc::SIGKILL);
        }
        if !self.isolate
            && let Some(pid) = self.job_pid
        {
            let _ = sys::kill(-pid, libc::SIGKILL);
        }
        let _ = sys::kill(self.shim, libc::SIGKILL);
    }
}

fn shim_config(
    config: &SandboxConfig,
    job: &Job,
    limits: &Limits,
    dir: &Path,
    isolate: bool,
    cgroup: bool,
) -> Result<ShimConfig> {
    let (mut binds, symlinks) = root_layout(config)?;
    binds.push(Bind {
        src: dir.join("job"),
        dst: JOB_DIR.into(),
        writable: false,
    });
    let (host_uid, host_gid) = host_ids(config);
    let (job_dir, out_dir) = if isolate {
        (PathBuf::from(JOB_DIR), PathBuf::from(OUT_DIR))
    } else {
        (dir.join("job"), dir.join("out"))
    };
    let (args, env) = job_argv_env(config, job, &job_dir, &out_dir, isolate);
    let mut argv = vec![config.python.to_string_lossy().into_owned(), "-s".into()];
    argv.extend(args);
    Ok(ShimConfig {
        isolate,
        program: config.python.clone(),
        argv,
        env,
        cwd: if isolate { "/work".into() } else { out_dir },
        binds,
        symlinks,
        limits: shim_limits(limits, cgroup),
        host_uid,
        host_gid,
        backstop_secs: limits.wall.as_secs().saturating_add(5).min(u32::MAX as u64) as u32,
        zygote: false,
        mountpoints: Vec::new(),
        cgroup_procs: None,
        host_pid: std::process::id(),
    })
}
