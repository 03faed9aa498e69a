//! Per-job resource limits ([`Limits`]) and the bounds a request's limits must stay within
//! ([`LimitBounds`], checked by [`Limits::validate`]).
//!
//! Validation is the door: [`crate::run`] and [`crate::Zygote::run`] check a job's limits before
//! anything starts, so an absurd value (a wall timeout of `u64::MAX` seconds) is a clear
//! [`SandboxError::InvalidLimit`] and never an arithmetic overflow; the engine calls
//! [`Limits::validate_within`] when it builds a job from a request, to refuse it at submission.
//! Checking is O(1): a handful of comparisons.

use crate::{Result, SandboxError};
use std::time::Duration;

/// Per-job resource limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// CPU time (`RLIMIT_CPU`, per process; the hard limit is one second later, so catching
    /// `SIGXCPU` buys at most a second). Default 60 s.
    pub cpu: Duration,
    /// Wall-clock time from start to the end of the whole tree. Default 120 s.
    pub wall: Duration,
    /// Memory: the whole job's (cgroup v2 `memory.max`) when a delegated cgroup is configured,
    /// else the address space of each process (`RLIMIT_AS`). Default 4 GiB.
    pub memory_bytes: u64,
    /// Processes and threads (`RLIMIT_NPROC`, counted in the job's own user namespace).
    /// Default 64.
    pub processes: u64,
    /// Largest file the job may write (`RLIMIT_FSIZE`). Default 256 MiB.
    pub file_size_bytes: u64,
    /// Open files per process (`RLIMIT_NOFILE`). Default 256.
    pub open_files: u64,
    /// Bytes of stdout kept; more ends the job with [`crate::Verdict::OutputLimit`].
    /// Default 8 MiB.
    pub stdout_bytes: usize,
    /// Bytes of stderr kept; more ends the job with [`crate::Verdict::OutputLimit`].
    /// Default 1 MiB.
    pub stderr_bytes: usize,
    /// Size of each tmpfs the job can write: `/tmp`, `/work`, `/dev/shm`. Default 256 MiB.
    pub tmpfs_bytes: u64,
    /// Total size of everything the job writes to `/out` (the files the host reads back with
    /// [`crate::Outcome::read_output`]): `/out` is a tmpfs of this size, held by the host until
    /// the outcome is dropped, never the host's disk. A job that fills it gets `ENOSPC` and ends
    /// with [`crate::Verdict::OutputLimit`]. Default 256 MiB. (Without the sandbox,
    /// [`crate::Isolation::UnsafeNoSandbox`], `/out` is a host directory and only
    /// [`Limits::file_size_bytes`] applies.)
    pub out_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpu: Duration::from_secs(60),
            wall: Duration::from_secs(120),
            memory_bytes: 4 << 30,
            processes: 64,
            file_size_bytes: 256 << 20,
            open_files: 256,
            stdout_bytes: 8 << 20,
            stderr_bytes: 1 << 20,
            tmpfs_bytes: 256 << 20,
            out_bytes: 256 << 20,
        }
    }
}

/// The bounds [`Limits::validate_within`] holds a job's limits to: the server's maxima (a
/// request asking for more is refused), and fixed minima below which no Python job can start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitBounds {
    /// Longest CPU-time or wall-clock limit. Default 1 day (86,400 s).
    pub max_time: Duration,
    /// Largest memory limit, and largest tmpfs (`/tmp`, `/work`, `/dev/shm`, `/out`: they are
    /// memory). Default 1 TiB.
    pub max_memory_bytes: u64,
    /// Largest file-size limit. Default 1 TiB.
    pub max_file_size_bytes: u64,
    /// Most processes and threads. Default 65,536.
    pub max_processes: u64,
    /// Most open files per process (the kernel's usual `nr_open`). Default 1,048,576.
    pub max_open_files: u64,
    /// Largest stdout or stderr capture (kept in the host's memory). Default 1 GiB.
    pub max_capture_bytes: usize,
}

impl Default for LimitBounds {
    fn default() -> Self {
        Self {
            max_time: Duration::from_secs(86_400),
            max_memory_bytes: 1 << 40,
            max_file_size_bytes: 1 << 40,
            max_processes: 65_536,
            max_open_files: 1 << 20,
            max_capture_bytes: 1 << 30,
        }
    }
}

/// Smallest memory limit: an interpreter needs more than this to start at all.
pub const MIN_MEMORY_BYTES: u64 = 32 << 20;
/// Smallest tmpfs (or `/out`) size.
pub const MIN_TMPFS_BYTES: u64 = 64 << 10;
/// Fewest open files per process (stdio plus what the interpreter opens to start).
pub const MIN_OPEN_FILES: u64 = 16;
/// Shortest CPU-time or wall-clock limit.
pub const MIN_TIME: Duration = Duration::from_millis(1);

/// How a limit is named in errors, and which bound field raises its maximum.
struct Named {
    limit: &'static str,
    what: &'static str,
    bound: &'static str,
}

impl Limits {
    /// Checks every limit against [`LimitBounds::default`]; see [`Limits::validate_within`].
    pub fn validate(&self) -> Result<()> {
        self.validate_within(&LimitBounds::default())
    }

    /// Checks every limit against `bounds`: the first one outside them is an
    /// [`SandboxError::InvalidLimit`] naming the limit, its value, the allowed range and how to change
    /// it (class [`quantd_core::ErrorClass::Validation`]). O(1).
    pub fn validate_within(&self, bounds: &LimitBounds) -> Result<()> {
        let time = |limit, what, value: Duration| {
            let named = Named {
                limit,
                what,
                bound: "max_time",
            };
            in_range(&named, value, MIN_TIME, bounds.max_time, fmt_time)
        };
        time("cpu", "CPU time", self.cpu)?;
        time("wall", "wall-clock time", self.wall)?;
        let bytes = |limit, what, bound, value: u64, min: u64, max: u64| {
            let named = Named { limit, what, bound };
            in_range(&named, value, min, max, fmt_bytes)
        };
        let mem = bounds.max_memory_bytes;
        bytes(
            "memory_bytes",
            "memory",
            "max_memory_bytes",
            self.memory_bytes,
            MIN_MEMORY_BYTES,
            mem,
        )?;
        bytes(
            "tmpfs_bytes",
            "each tmpfs",
            "max_memory_bytes",
            self.tmpfs_bytes,
            MIN_TMPFS_BYTES,
            mem,
        )?;
        bytes(
            "out_bytes",
            "the /out total",
            "max_memory_bytes",
            self.out_bytes,
            MIN_TMPFS_BYTES,
            mem,
        )?;
        let fsize = bounds.max_file_size_bytes;
        bytes(
            "file_size_bytes",
            "file size",
            "max_file_size_bytes",
            self.file_size_bytes,
            1,
            fsize,
        )?;
        let cap = bounds.max_capture_bytes as u64;
        let stdout = self.stdout_bytes as u64;
        bytes(
            "stdout_bytes",
            "stdout kept",
            "max_capture_bytes",
            stdout,
            1,
            cap,
        )?;
        let stderr = self.stderr_bytes as u64;
        bytes(
            "stderr_bytes",
            "stderr kept",
            "max_capture_bytes",
            stderr,
            1,
            cap,
        )?;
        let count = |limit, what, bound, value: u64, min: u64, max: u64| {
            let named = Named { limit, what, bound };
            in_range(&named, value, min, max, |n| n.to_string())
        };
        let procs = bounds.max_processes;
        count(
            "processes",
            "processes",
            "max_processes",
            self.processes,
            1,
            procs,
        )?;
        let files = bounds.max_open_files;
        count(
            "open_files",
            "open files",
            "max_open_files",
            self.open_files,
            MIN_OPEN_FILES,
            files,
        )
    }
}

fn in_range<T: PartialOrd + Copy>(
    named: &Named,
    value: T,
    min: T,
    max: T,
    show: impl Fn(T) -> String,
) -> Result<()> {
    if value >= min && value <= max {
        return Ok(());
    }
    let fix = if value > max {
        format!(
            "ask for at most {}, or raise the server's maximum (LimitBounds::{})",
            show(max),
            named.bound
        )
    } else {
        format!("ask for at least {}", show(min))
    };
    Err(SandboxError::InvalidLimit {
        limit: named.limit,
        what: named.what,
        value: show(value),
        range: format!("{} ..= {}", show(min), show(max)),
        fix,
    })
}

fn fmt_time(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

fn fmt_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (size, unit) in UNITS {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit} ({n} bytes)", n / size);
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantd_core::ErrorClass;

    #[test]
    fn defaults_are_within_the_default_bounds() {
        Limits::default().validate().unwrap();
    }

    #[test]
    fn extreme_times_are_refused_with_the_limit_and_the_fix() {
        for secs in [u64::MAX, i64::MAX as u64, 86_401, 31_536_000] {
            for field in ["cpu", "wall"] {
                let mut l = Limits::default();
                let d = Duration::from_secs(secs);
                if field == "cpu" {
                    l.cpu = d
                } else {
                    l.wall = d
                }
                let e = l.validate().unwrap_err();
                assert_eq!(e.class(), ErrorClass::Validation);
                let msg = e.to_string();
                assert!(msg.contains(&format!("`{field}`")), "{msg}");
                assert!(msg.contains(&format!("{secs} s")), "{msg}");
                assert!(msg.contains("at most 86400 s"), "{msg}");
                assert!(msg.contains("LimitBounds::max_time"), "{msg}");
            }
        }
        let mut l = Limits {
            wall: Duration::MAX,
            ..Limits::default()
        };
        assert!(l.validate().is_err());
        l.wall = Duration::ZERO;
        let msg = l.validate().unwrap_err().to_string();
        assert!(msg.contains("at least 0.001 s"), "{msg}");
        l.wall = Duration::from_secs(86_400);
        l.validate().unwrap();
    }

    #[test]
    fn every_limit_has_bounds() {
        type Set = fn(&mut Limits);
        let cases: [(&str, Set); 10] = [
            ("memory_bytes", |l| l.memory_bytes = u64::MAX),
            ("memory_bytes", |l| l.memory_bytes = 1 << 20),
            ("tmpfs_bytes", |l| l.tmpfs_bytes = u64::MAX),
            ("out_bytes", |l| l.out_bytes = 0),
            ("out_bytes", |l| l.out_bytes = 2 << 40),
            ("file_size_bytes", |l| l.file_size_bytes = u64::MAX),
            ("stdout_bytes", |l| l.stdout_bytes = usize::MAX),
            ("stderr_bytes", |l| l.stderr_bytes = 0),
            ("processes", |l| l.processes = u64::MAX),
            ("open_files", |l| l.open_files = 3),
        ];
        for (name, set) in cases {
            let mut l = Limits::default();
            set(&mut l);
            let msg = l.validate().unwrap_err().to_string();
            assert!(msg.contains(&format!("`{name}`")), "{name}: {msg}");
        }
    }

    #[test]
    fn the_bounds_are_the_servers_to_raise() {
        let l = Limits {
            wall: Duration::from_secs(2 * 86_400),
            ..Limits::default()
        };
        assert!(l.validate().is_err());
        let bounds = LimitBounds {
            max_time: Duration::from_secs(7 * 86_400),
            ..LimitBounds::default()
        };
        l.validate_within(&bounds).unwrap();
    }
}
