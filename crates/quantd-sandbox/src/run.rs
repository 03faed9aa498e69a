//! The host side: prepare a job directory, start the shim, capture output, enforce the wall
//! limit and cancellation, and classify the end.

use crate::cgroup::JobCgroup;
use crate::config::{Isolation, SDK_MOUNT, SandboxConfig};
use crate::shim::{Bind, Report, ShimConfig, ShimLimits};
use crate::sys;
use crate::verdict::{classify_exception, extract_traceback};
use crate::{Error, Limits, Result, Verdict};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
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
}

/// Cancels a running job from another thread: its whole process tree is killed and
/// [`run`] returns [`Error::Cancelled`].
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
    dir: tempfile::TempDir,
    /// The zygote's jobs root holding `dir`, kept until `dir` is gone (declared after it: fields
    /// drop in order).
    root: Option<Arc<tempfile::TempDir>>,
}

impl Outcome {
    /// Reads the file `name` the job wrote in [`OUT_DIR`], refusing anything but a plain regular
    /// file of at most `max_bytes` (a symlink planted by the job is never followed).
    pub fn read_output(&self, name: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let refuse = |why: &str| Error::UnsafeOutput {
            name: name.to_owned(),
            why: why.to_owned(),
        };
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(refuse("not a plain file name"));
        }
        let path = self.dir.path().join("out").join(name);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => refuse("is a symbolic link"),
                _ => Error::io(format!("open output {name}"), e),
            })?;
        let meta = file.metadata().map_err(|e| Error::io("stat output", e))?;
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
            .map_err(|e| Error::io("read output", e))?;
        if buf.len() as u64 > max_bytes {
            return Err(refuse("grew while being read"));
        }
        Ok(buf)
    }

    /// Keeps the directory holding this job's directory alive as long as the outcome.
    pub(crate) fn keep_alive(&mut self, root: Arc<tempfile::TempDir>) {
        self.root = Some(root);
    }

    /// The host path of the job's output directory (for diagnostics; read files through
    /// [`Outcome::read_output`]).
    pub fn out_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }
}

/// Checks that this machine can run sandboxed jobs, by running `python -c pass` in the sandbox.
/// Returns [`Error::NamespacesUnavailable`] (with how to fix it) when the kernel refuses.
pub fn probe(config: &SandboxConfig) -> Result<()> {
    let job = Job {
        args: vec!["-c".into(), "pass".into()],
        ..Job::default()
    };
    let out = run(config, &job, &CancelToken::new())?;
    if out.verdict != Verdict::Ok {
        return Err(Error::Config(format!(
            "the sandbox probe ended with {}: {}{}",
            out.verdict,
            out.detail.unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// Why the host killed the tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kill {
    Cancel,
    Wall,
    Output,
}

/// Runs `job` in a fresh sandbox and waits for the whole process tree to end.
#[tracing::instrument(skip_all, fields(args = ?job.args))]
pub fn run(config: &SandboxConfig, job: &Job, cancel: &CancelToken) -> Result<Outcome> {
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
    let json = serde_json::to_string(&shim_cfg).map_err(|e| Error::Config(e.to_string()))?;

    let (report_r, report_w) = std::io::pipe().map_err(|e| Error::io("report pipe", e))?;
    let start = Instant::now();
    let mut child = Command::new(&config.shim.program)
        .args(&config.shim.args)
        .arg(json)
        .env_clear()
        .stdin(Stdio::from(report_w))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::io(
                format!("start the shim {}", config.shim.program.display()),
                e,
            )
        })?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let streams = [
        Stream::new(OwnedFd::from(stdout), limits.stdout_bytes)?,
        Stream::new(OwnedFd::from(stderr), limits.stderr_bytes)?,
        Stream::new(OwnedFd::from(report_r), 1 << 20)?,
    ];
    let mut tree = Tree {
        shim: child.id() as libc::pid_t,
        pidfd: None,
        job_pid: None,
        isolate,
    };
    let captured = capture(streams, limits, cancel, start, &mut tree, |_| false);
    let status = child.wait().map_err(|e| Error::io("wait for the shim", e));
    let captured = captured?;
    let status = status?;
    if let Some(pidfd) = &tree.pidfd {
        // PID 1 of the job's namespace is gone only once everything in it is gone.
        let _ = sys::poll_one(pidfd.as_raw_fd(), 10_000);
    }
    let mut outcome = finish(
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
        .map_err(|e| Error::io("create the job's cgroup", e))
}

/// A job the kernel killed for lack of memory in its cgroup ended at the memory limit.
pub(crate) fn note_oom(outcome: &mut Outcome, cgroup: Option<&JobCgroup>) {
    if let Some(cg) = cgroup
        && matches!(outcome.verdict, Verdict::Signal | Verdict::RuntimeError)
        && cg.oom_killed()
    {
        outcome.verdict = Verdict::MemoryLimit;
        outcome.detail = Some("killed by the kernel at the job's cgroup memory.max".into());
    }
}

/// Turns what [`capture`] saw into an [`Outcome`] (or [`Error::Cancelled`]).
pub(crate) fn finish(
    captured: Captured,
    dir: tempfile::TempDir,
    limits: &Limits,
    start: Instant,
    lost: &str,
) -> Result<Outcome> {
    let wall_time = start.elapsed();
    let mut outcome = Outcome {
        verdict: Verdict::Internal,
        exit_code: None,
        signal: None,
        stdout: captured.stdout,
        stderr: captured.stderr,
        traceback: None,
        detail: None,
        cpu_time: Duration::ZERO,
        wall_time,
        max_rss_bytes: 0,
        dir,
        root: None,
    };
    match captured.killed {
        Some(Kill::Cancel) => return Err(Error::Cancelled),
        Some(Kill::Wall) => outcome.verdict = Verdict::WallTimeout,
        Some(Kill::Output) => outcome.verdict = Verdict::OutputLimit,
        None => classify(&mut outcome, &captured.reports, limits, lost)?,
    }
    tracing::debug!(verdict = %outcome.verdict, wall_ms = wall_time.as_millis() as u64, "job ended");
    Ok(outcome)
}

/// How the capture loop kills a job's tree and learns about it from reports.
pub(crate) trait Killer {
    /// A report line arrived.
    fn on_report(&mut self, report: &Report);
    /// Kill the whole tree now (called again while it has not ended).
    fn kill(&mut self);
}

/// What [`capture`] read.
pub(crate) struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub reports: Vec<Report>,
    pub killed: Option<Kill>,
}

/// Reads stdout, stderr and the report stream concurrently (with caps: never blocks on a full
/// pipe), kills the tree on cancel, wall timeout or too much output, and returns when stdout and
/// stderr are closed and either the report stream is closed or `done(reports)` says the end was
/// reported.
pub(crate) fn capture(
    mut streams: [Stream; 3],
    limits: &Limits,
    cancel: &CancelToken,
    start: Instant,
    killer: &mut dyn Killer,
    done: impl Fn(&[Report]) -> bool,
) -> Result<Captured> {
    // `None`: a deadline past what `Instant` can represent, i.e. never (limits are validated
    // before a job starts, so this is only a guard against overflow).
    let deadline = start.checked_add(limits.wall);
    let mut killed: Option<Kill> = None;
    let mut killed_at = start;
    let mut reports = Vec::new();
    let mut parsed = 0;
    loop {
        if streams[0].eof && streams[1].eof && (streams[2].eof || done(&reports)) {
            break;
        }
        let now = Instant::now();
        if killed.is_some() && now.saturating_duration_since(killed_at) > Duration::from_secs(10) {
            break;
        }
        let timeout = match deadline {
            Some(deadline) if killed.is_none() => {
                deadline.saturating_duration_since(now).as_millis().min(50) as i32
            }
            _ => 50,
        };
        let mut pfds: Vec<libc::pollfd> = streams
            .iter()
            .filter(|s| !s.eof)
            .map(|s| libc::pollfd {
                fd: s.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        sys::poll(&mut pfds, timeout).map_err(|e| Error::io("poll", e))?;
        for s in streams.iter_mut() {
            s.drain()?;
        }
        // New report lines.
        while let Some(end) = streams[2].buf[parsed..].iter().position(|&b| b == b'\n') {
            let line = &streams[2].buf[parsed..parsed + end];
            parsed += end + 1;
            if let Ok(r) = serde_json::from_slice::<Report>(line) {
                killer.on_report(&r);
                reports.push(r);
            }
        }
        if killed.is_none() {
            let why = if streams[0].over || streams[1].over {
                Some(Kill::Output)
            } else if cancel.is_cancelled() {
                Some(Kill::Cancel)
            } else if deadline.is_some_and(|d| Instant::now() >= d) {
                Some(Kill::Wall)
            } else {
                None
            };
            if let Some(why) = why {
                killer.kill();
                killed = Some(why);
                killed_at = Instant::now();
            }
        }
    }
    if killed.is_some() {
        killer.kill();
    }
    let [stdout, stderr, _] = streams;
    Ok(Captured {
        stdout: stdout.buf,
        stderr: stderr.buf,
        reports,
        killed,
    })
}

fn classify(outcome: &mut Outcome, reports: &[Report], limits: &Limits, lost: &str) -> Result<()> {
    for r in reports {
        match r {
            Report::Exited {
                code,
                signal,
                cpu_us,
                max_rss_kb,
            } => {
                outcome.exit_code = *code;
                outcome.signal = *signal;
                outcome.cpu_time = Duration::from_micros(*cpu_us);
                outcome.max_rss_bytes = max_rss_kb.saturating_mul(1024);
                outcome.verdict = match (code, signal) {
                    (Some(0), _) => Verdict::Ok,
                    (Some(_), _) => match extract_traceback(&outcome.stderr) {
                        Some(tb) => {
                            let v = classify_exception(&tb);
                            outcome.traceback = Some(tb);
                            v
                        }
                        None => Verdict::RuntimeError,
                    },
                    (None, Some(libc::SIGSYS)) => Verdict::PolicyViolation,
                    (None, Some(libc::SIGXCPU)) => Verdict::CpuTimeout,
                    // RLIMIT_CPU is enforced on scheduler ticks; rusage may read a little under it.
                    (None, Some(libc::SIGKILL))
                        if outcome.cpu_time >= limits.cpu.saturating_sub(limits.cpu / 10) =>
                    {
                        Verdict::CpuTimeout
                    }
                    (None, Some(libc::SIGXFSZ)) => Verdict::OutputLimit,
                    _ => Verdict::Signal,
                };
                return Ok(());
            }
            Report::SetupError {
                stage,
                errno,
                message,
            } => {
                if matches!(
                    stage.as_str(),
                    "clone" | "write uid_map" | "write gid_map" | "write setgroups"
                ) {
                    return Err(namespaces_unavailable(stage, *errno, message));
                }
                outcome.detail = Some(format!("sandbox setup failed at {stage}: {message}"));
                return Ok(());
            }
            Report::Started { .. } => {}
        }
    }
    outcome.detail = Some(lost.to_owned());
    Ok(())
}

pub(crate) fn namespaces_unavailable(stage: &str, errno: Option<i32>, message: &str) -> Error {
    let mut fix = String::from(
        "Enable unprivileged user namespaces: `sysctl -w user.max_user_namespaces=15000`; on Ubuntu 23.10+ also `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; on older Debian `sysctl -w kernel.unprivileged_userns_clone=1`. In a container, run it with a seccomp profile that allows clone/unshare of namespaces.",
    );
    if errno == Some(libc::ENOSPC) {
        fix.insert_str(0, "The per-user namespace count is exhausted or zero. ");
    }
    fix.push_str(" Or pass --unsafe-no-sandbox to run Python code WITHOUT isolation (not for untrusted code).");
    Error::NamespacesUnavailable {
        reason: format!("{stage}: {message}"),
        fix,
    }
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

/// One captured pipe.
pub(crate) struct Stream {
    fd: std::fs::File,
    buf: Vec<u8>,
    cap: usize,
    over: bool,
    eof: bool,
}

impl Stream {
    pub(crate) fn new(fd: OwnedFd, cap: usize) -> Result<Self> {
        sys::set_nonblocking(fd.as_raw_fd()).map_err(|e| Error::io("set O_NONBLOCK", e))?;
        Ok(Self {
            fd: fd.into(),
            buf: Vec::new(),
            cap,
            over: false,
            eof: false,
        })
    }

    /// Reads what is available; bytes past the cap are dropped and flag `over`.
    fn drain(&mut self) -> Result<()> {
        let mut chunk = [0u8; 64 * 1024];
        while !self.eof {
            match (&self.fd).read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    let room = self.cap.saturating_sub(self.buf.len());
                    self.buf.extend_from_slice(&chunk[..n.min(room)]);
                    if n > room {
                        self.over = true;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // A socket peer (a zygote job's keeper) that exits with our kill byte still
                // unread resets instead of closing: everything it sent was read before this.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => self.eof = true,
                Err(e) => return Err(Error::io("read job output", e)),
            }
        }
        Ok(())
    }
}

pub(crate) fn prepare_dir(
    config: &SandboxConfig,
    job: &Job,
    parent: Option<&Path>,
) -> Result<tempfile::TempDir> {
    let scratch = parent
        .map(Path::to_path_buf)
        .or_else(|| config.scratch_dir.clone())
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("quantd-job-")
        .tempdir_in(&scratch)
        .map_err(|e| Error::io(format!("create a job dir in {}", scratch.display()), e))?;
    let io = |what: &str, e| Error::io(what.to_owned(), e);
    let job_dir = dir.path().join("job");
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&job_dir).map_err(|e| io("create job dir", e))?;
    std::fs::create_dir(&out_dir).map_err(|e| io("create out dir", e))?;
    for (name, content) in &job.files {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(Error::Config(format!(
                "job file name {name:?} must be a plain name"
            )));
        }
        let path = job_dir.join(name);
        std::fs::write(&path, content).map_err(|e| io("write job file", e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| io("chmod job file", e))?;
    }
    for (name, src) in &job.host_files {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(Error::Config(format!(
                "job file name {name:?} must be a plain name"
            )));
        }
        let path = job_dir.join(name);
        // A hard link costs nothing; across file systems, copy.
        if std::fs::hard_link(src, &path).is_err() {
            std::fs::copy(src, &path)
                .map_err(|e| io(&format!("copy {} into the job dir", src.display()), e))?;
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| io("chmod job file", e))?;
    }
    if parent.is_some() {
        // The zygote opens the job's directories as its own (unprivileged) uid: let it traverse.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))
            .map_err(|e| io("chmod job root", e))?;
    }
    std::fs::set_permissions(&job_dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io("chmod job dir", e))?;
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io("chmod out dir", e))?;
    if sys::geteuid() == 0 && config.isolation == Isolation::Sandboxed {
        let id = config.root_host_uid;
        std::os::unix::fs::chown(&out_dir, Some(id), Some(id))
            .map_err(|e| io("chown out dir", e))?;
    }
    Ok(dir)
}

/// The read-only binds every sandbox has (system library trees, the runtime, extra binds, the
/// SDK) and the top-level symlinks (`/lib -> usr/lib` on merged-/usr systems).
pub(crate) type RootLayout = (Vec<Bind>, Vec<(PathBuf, PathBuf)>);

pub(crate) fn root_layout(config: &SandboxConfig) -> Result<RootLayout> {
    let mut binds = Vec::new();
    let mut symlinks = Vec::new();
    let mut covered: Vec<PathBuf> = Vec::new();
    for sys_dir in [
        "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    ] {
        let path = Path::new(sys_dir);
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(path).map_err(|e| Error::io("readlink", e))?;
                symlinks.push((path.to_path_buf(), target));
            }
            Ok(m) if m.is_dir() => {
                covered.push(path.to_path_buf());
                binds.push(Bind {
                    src: path.to_path_buf(),
                    dst: path.to_path_buf(),
                    writable: false,
                });
            }
            _ => {}
        }
    }
    for d in config.runtime_dirs()? {
        if !covered.iter().any(|c| d.starts_with(c)) {
            covered.push(d.clone());
            binds.push(Bind {
                src: d.clone(),
                dst: d,
                writable: false,
            });
        }
    }
    for (src, dst) in &config.ro_binds {
        binds.push(Bind {
            src: src.clone(),
            dst: dst.clone(),
            writable: false,
        });
    }
    if let Some(sdk) = &config.sdk_dir {
        binds.push(Bind {
            src: sdk.clone(),
            dst: SDK_MOUNT.into(),
            writable: false,
        });
    }
    Ok((binds, symlinks))
}

/// The host uid and gid that root inside the sandbox maps to.
pub(crate) fn host_ids(config: &SandboxConfig) -> (u32, u32) {
    if sys::geteuid() == 0 {
        (config.root_host_uid, config.root_host_uid)
    } else {
        (sys::geteuid(), sys::getegid())
    }
}

/// The shim limits for `limits`; `memory_bytes` is 0 (no `RLIMIT_AS`) when the job's cgroup
/// limits its memory.
pub(crate) fn shim_limits(limits: &Limits, cgroup: bool) -> ShimLimits {
    ShimLimits {
        cpu_secs: limits.cpu.as_secs().max(1),
        memory_bytes: if cgroup { 0 } else { limits.memory_bytes },
        processes: limits.processes,
        file_size_bytes: limits.file_size_bytes,
        open_files: limits.open_files,
        tmpfs_bytes: limits.tmpfs_bytes,
    }
}

/// The job's environment and argv (after the interpreter) as the sandbox sees them.
pub(crate) fn job_argv_env(
    config: &SandboxConfig,
    job: &Job,
    job_dir: &Path,
    out_dir: &Path,
    isolate: bool,
) -> (Vec<String>, Vec<(String, String)>) {
    let argv = job
        .args
        .iter()
        .map(|a| {
            if isolate {
                return a.clone();
            }
            // Without the sandbox's mounts, `/job/..` and `/out/..` are the host directories.
            if let Some(rest) = a.strip_prefix("/job/") {
                job_dir.join(rest).to_string_lossy().into_owned()
            } else if let Some(rest) = a.strip_prefix("/out/") {
                out_dir.join(rest).to_string_lossy().into_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    let mut env = config.job_env(&job.env);
    if let Some(sdk) = &config.sdk_dir {
        let path = if isolate {
            PathBuf::from(SDK_MOUNT)
        } else {
            sdk.clone()
        };
        env.retain(|(k, _)| k != "PYTHONPATH");
        env.push(("PYTHONPATH".into(), path.to_string_lossy().into_owned()));
    }
    env.push((JOB_DIR_ENV.into(), job_dir.to_string_lossy().into_owned()));
    env.push((OUT_DIR_ENV.into(), out_dir.to_string_lossy().into_owned()));
    (argv, env)
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
    binds.push(Bind {
        src: dir.join("out"),
        dst: OUT_DIR.into(),
        writable: true,
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
