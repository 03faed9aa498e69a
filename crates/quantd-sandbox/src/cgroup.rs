//! Per-job memory limits with a delegated cgroup v2: one child cgroup per job with
//! `memory.max` (the job's whole tree, page cache included, with no swap), `memory.oom.group`
//! (an out-of-memory kill takes the whole job) and `pids.max`.
//!
//! quantd uses a cgroup only when one is delegated to it: `QUANTD_CGROUP=/sys/fs/cgroup/…` names
//! it, or, for a non-root user, its own cgroup when that is writable (systemd's
//! `Delegate=yes`, `systemd-run --user -p Delegate=yes`). Root must name it: moving a root
//! server around the system's hierarchy is not quantd's call. Otherwise jobs get `RLIMIT_AS`
//! per process (see [`crate::MemoryLimit`]).
//!
//! The "no internal processes" rule of cgroup v2 means the delegated cgroup cannot both hold
//! quantd and enable controllers for its children: [`prepare`] moves quantd into a leaf
//! `quantd-host` first, then enables `memory` (and `pids`) for the children.
//!
//! A cold-started job is moved in by the shim's S0 (outside the namespaces, with the caller's
//! credentials) before its S1 runs anything; a zygote job moves itself by writing `0` to a
//! `cgroup.procs` the host opened (the kernel checks the opener's credentials).

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable naming the delegated cgroup.
pub const QUANTD_CGROUP: &str = "QUANTD_CGROUP";

/// Makes `delegated` ready to hold job cgroups: moves this process into the leaf
/// `quantd-host` if it lives in `delegated` itself, then enables the `memory` controller (and
/// `pids` when offered) for children. Idempotent.
pub fn prepare(delegated: &Path) -> io::Result<()> {
    let procs = fs::read_to_string(delegated.join("cgroup.procs"))?;
    if procs.split_whitespace().next().is_some() {
        let host = delegated.join("quantd-host");
        mkdir_existing_ok(&host)?;
        for pid in procs.split_whitespace() {
            // Every process must leave the delegated cgroup before it can enable controllers for
            // children; it was delegated to quantd, so they are quantd's (the server, its shell).
            fs::write(host.join("cgroup.procs"), pid)?;
        }
    }
    let offered = fs::read_to_string(delegated.join("cgroup.controllers"))?;
    let enable: Vec<&str> = ["memory", "pids"]
        .into_iter()
        .filter(|c| offered.split_whitespace().any(|o| o == *c))
        .collect();
    if !enable.contains(&"memory") {
        return Err(io::Error::other(format!(
            "the memory controller is not offered to {}",
            delegated.display()
        )));
    }
    let line: Vec<String> = enable.iter().map(|c| format!("+{c}")).collect();
    fs::write(delegated.join("cgroup.subtree_control"), line.join(" "))
}

fn mkdir_existing_ok(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// One job's cgroup; removed on drop (once the job's processes are gone).
#[derive(Debug)]
pub(crate) struct JobCgroup {
    dir: PathBuf,
}

impl JobCgroup {
    /// Creates `parent/job-<pid>-<n>` limited to `memory_bytes` (no swap) and `processes`.
    pub(crate) fn create(parent: &Path, memory_bytes: u64, processes: u64) -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("job-{}-{n}", std::process::id()));
        fs::create_dir(&dir)?;
        let cg = Self { dir };
        cg.write("memory.max", &memory_bytes.to_string())?;
        cg.write("memory.oom.group", "1")?;
        // Optional files: absent when swap accounting or the pids controller is off.
        let _ = cg.write("memory.swap.max", "0");
        let _ = cg.write("pids.max", &(processes + 8).to_string());
        Ok(cg)
    }

    fn write(&self, file: &str, value: &str) -> io::Result<()> {
        fs::write(self.dir.join(file), value)
            .map_err(|e| io::Error::new(e.kind(), format!("{}/{file}: {e}", self.dir.display())))
    }

    /// The `cgroup.procs` file a process is moved in through.
    pub(crate) fn procs_path(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// `cgroup.procs` opened for writing, for a job that moves itself in (zygote jobs).
    pub(crate) fn open_procs(&self) -> io::Result<OwnedFd> {
        // cgroupfs has the file already; `create` only matters on the plain directories tests use.
        let file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.procs_path())?;
        Ok(OwnedFd::from(file))
    }

    /// Whether the kernel killed something in the job for lack of memory (`memory.events`).
    pub(crate) fn oom_killed(&self) -> bool {
        let events = fs::read_to_string(self.dir.join("memory.events")).unwrap_or_default();
        events_oom_killed(&events)
    }
}

impl Drop for JobCgroup {
    fn drop(&mut self) {
        // The namespace's PID 1 is gone when this runs; the last exits may lag a little.
        for _ in 0..50 {
            match fs::remove_dir(&self.dir) {
                Ok(()) => return,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(2))
                }
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), "could not remove a job cgroup: {e}");
                    return;
                }
            }
        }
        tracing::warn!(dir = %self.dir.display(), "a job cgroup stayed busy; left in place");
    }
}

/// Whether a `memory.events` text counts an out-of-memory kill.
fn events_oom_killed(events: &str) -> bool {
    events.lines().any(|l| {
        let mut it = l.split_whitespace();
        matches!(it.next(), Some("oom_kill" | "oom_group_kill"))
            && it.next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0) > 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_kills_are_read_from_memory_events() {
        assert!(!events_oom_killed(
            "low 0\nhigh 0\nmax 12\noom 0\noom_kill 0\noom_group_kill 0\n"
        ));
        assert!(events_oom_killed("low 0\nmax 3\noom 1\noom_kill 1\n"));
        assert!(events_oom_killed("oom_kill 0\noom_group_kill 2\n"));
        assert!(!events_oom_killed(""));
    }

    /// The files quantd writes, on a plain directory standing in for cgroupfs (the kernel's
    /// enforcement needs a delegated cgroup v2, which this test cannot assume).
    #[test]
    fn prepare_and_create_write_the_limits() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::write(root.join("cgroup.procs"), "4242\n").unwrap();
        fs::write(root.join("cgroup.controllers"), "cpu io memory pids\n").unwrap();
        fs::create_dir(root.join("quantd-host")).unwrap();
        prepare(root).unwrap();
        assert_eq!(
            fs::read_to_string(root.join("quantd-host/cgroup.procs")).unwrap(),
            "4242"
        );
        assert_eq!(
            fs::read_to_string(root.join("cgroup.subtree_control")).unwrap(),
            "+memory +pids"
        );
        let cg = JobCgroup::create(root, 1 << 30, 64).unwrap();
        let read = |f: &str| fs::read_to_string(cg.dir.join(f)).unwrap();
        assert_eq!(read("memory.max"), "1073741824");
        assert_eq!(read("memory.swap.max"), "0");
        assert_eq!(read("memory.oom.group"), "1");
        assert_eq!(read("pids.max"), "72");
        fs::write(cg.dir.join("memory.events"), "oom_kill 1\n").unwrap();
        assert!(cg.oom_killed());
        // On a plain directory the files keep it non-empty: remove them the way cgroupfs would.
        for f in fs::read_dir(&cg.dir).unwrap() {
            fs::remove_file(f.unwrap().path()).unwrap();
        }
        let dir = cg.dir.clone();
        drop(cg);
        assert!(!dir.exists());
    }

    #[test]
    fn prepare_refuses_without_the_memory_controller() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("cgroup.procs"), "").unwrap();
        fs::write(d.path().join("cgroup.controllers"), "cpu pids\n").unwrap();
        let e = prepare(d.path()).unwrap_err();
        assert!(e.to_string().contains("memory controller"), "{e}");
    }
}
