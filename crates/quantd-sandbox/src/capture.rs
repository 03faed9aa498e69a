//! Watching a running job (cold or warm): reading its stdout, stderr and reports with byte caps,
//! killing its tree on cancel, wall timeout or too much output, and turning what was seen into an
//! [`Outcome`] with a [`Verdict`].

use crate::cgroup::JobCgroup;
use crate::config::SandboxConfig;
use crate::diagnose::setup_failure;
use crate::run::{CancelToken, Outcome};
use crate::shim::Report;
use crate::sys;
use crate::verdict::{classify_exception, extract_traceback};
use crate::{Limits, Result, SandboxError, Verdict};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Why the host killed the tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kill {
    Cancel,
    Wall,
    Output,
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

/// Turns what [`capture`] saw into an [`Outcome`] (or [`SandboxError::Cancelled`]).
pub(crate) fn finish(
    config: &SandboxConfig,
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
        start_failure: None,
        out: captured.out,
    };
    match captured.killed {
        Some(Kill::Cancel) => return Err(SandboxError::Cancelled),
        Some(Kill::Wall) => outcome.verdict = Verdict::WallTimeout,
        Some(Kill::Output) => outcome.verdict = Verdict::OutputLimit,
        None => classify(config, &mut outcome, &captured.reports, limits, lost)?,
    }
    note_full_out(&mut outcome, limits);
    tracing::debug!(verdict = %outcome.verdict, wall_ms = wall_time.as_millis() as u64, "job ended");
    crate::observe_verdict(outcome.verdict);
    Ok(outcome)
}

/// A job that failed with its `/out` full ran into [`Limits::out_bytes`] (whatever the exception
/// it died of, or none): [`Verdict::OutputLimit`], with the limit named.
fn note_full_out(outcome: &mut Outcome, limits: &Limits) {
    let failed = matches!(
        outcome.verdict,
        Verdict::RuntimeError | Verdict::Signal | Verdict::OutputLimit
    );
    let full = outcome
        .out
        .as_ref()
        .and_then(|fd| sys::fstatfs(fd.as_raw_fd()).ok())
        .is_some_and(|(_, free, _)| free == 0);
    if failed && full {
        outcome.verdict = Verdict::OutputLimit;
        outcome.detail.get_or_insert_with(|| {
            format!(
                "the job filled /out: what a job writes there is limited to {} bytes in total (Limits::out_bytes; raise it for the job or the server)",
                limits.out_bytes
            )
        });
    }
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
    /// The job's `/out` tmpfs, handed over with [`Report::Out`].
    pub out: Option<OwnedFd>,
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
        sys::poll(&mut pfds, timeout).map_err(|e| SandboxError::io("poll", e))?;
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
    let [stdout, stderr, report] = streams;
    let handed_out = reports.iter().any(|r| matches!(r, Report::Out));
    Ok(Captured {
        stdout: stdout.buf,
        stderr: stderr.buf,
        reports,
        killed,
        out: handed_out.then(|| out_dir(report.fds)).flatten(),
    })
}

fn classify(
    config: &SandboxConfig,
    outcome: &mut Outcome,
    reports: &[Report],
    limits: &Limits,
    lost: &str,
) -> Result<()> {
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
                let failure = setup_failure(config, stage, *errno, message);
                outcome.detail = Some(format!("the sandbox could not start the job: {failure}"));
                outcome.start_failure = Some(failure);
                return Ok(());
            }
            Report::Started { .. } | Report::Out => {}
        }
    }
    outcome.detail = Some(lost.to_owned());
    Ok(())
}

pub(crate) fn namespaces_unavailable(
    stage: &str,
    errno: Option<i32>,
    message: &str,
) -> SandboxError {
    let mut fix = String::from(
        "Enable unprivileged user namespaces: `sysctl -w user.max_user_namespaces=15000`; on Ubuntu 23.10+ also `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; on older Debian `sysctl -w kernel.unprivileged_userns_clone=1`. In a container, run it with a seccomp profile that allows clone/unshare of namespaces.",
    );
    if errno == Some(libc::ENOSPC) {
        fix.insert_str(0, "The per-user namespace count is exhausted or zero. ");
    }
    fix.push_str(" Or pass --unsafe-no-sandbox to run Python code WITHOUT isolation (not for untrusted code).");
    SandboxError::NamespacesUnavailable {
        reason: format!("{stage}: {message}"),
        fix,
    }
}

/// The `/out` tmpfs among the fds a job's keeper sent: the first that is a tmpfs directory
/// (anything else is closed).
fn out_dir(fds: Vec<OwnedFd>) -> Option<OwnedFd> {
    fds.into_iter()
        .find(|fd| sys::fstatfs(fd.as_raw_fd()).is_ok_and(|(kind, _, _)| kind == sys::TMPFS_MAGIC))
}

/// One captured pipe, or the report socket (which may carry fds).
pub(crate) struct Stream {
    fd: std::fs::File,
    buf: Vec<u8>,
    cap: usize,
    over: bool,
    eof: bool,
    /// A socket: read with `recvmsg`, keeping the fds attached in [`Stream::fds`].
    socket: bool,
    fds: Vec<OwnedFd>,
}

impl Stream {
    pub(crate) fn new(fd: OwnedFd, cap: usize) -> Result<Self> {
        sys::set_nonblocking(fd.as_raw_fd()).map_err(|e| SandboxError::io("set O_NONBLOCK", e))?;
        Ok(Self {
            fd: fd.into(),
            buf: Vec::new(),
            cap,
            over: false,
            eof: false,
            socket: false,
            fds: Vec::new(),
        })
    }

    /// The report socket of a job: like [`Stream::new`], and fds sent with the reports are kept.
    pub(crate) fn socket(fd: OwnedFd, cap: usize) -> Result<Self> {
        let mut s = Self::new(fd, cap)?;
        s.socket = true;
        Ok(s)
    }

    fn read(&mut self, chunk: &mut [u8]) -> std::io::Result<usize> {
        if self.socket {
            sys::recv_with_fds(self.fd.as_raw_fd(), chunk, &mut self.fds)
        } else {
            (&self.fd).read(chunk)
        }
    }

    /// Reads what is available; bytes past the cap are dropped and flag `over`.
    fn drain(&mut self) -> Result<()> {
        let mut chunk = [0u8; 64 * 1024];
        while !self.eof {
            match self.read(&mut chunk) {
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
                Err(e) => return Err(SandboxError::io("read job output", e)),
            }
        }
        Ok(())
    }
}
