//! Isolated worker processes for untrusted Python code.
//!
//! Each job runs in a fresh process tree started by re-executing a small shim (never by forking the
//! caller, which may be a multithreaded server): the shim creates new user, mount, PID, network,
//! IPC and UTS namespaces, pivots into a minimal read-only root holding only the interpreter, its
//! venv and the job's files, with size-limited tmpfs for `/tmp`, `/dev/shm`, the work dir and
//! the outputs (`/out`, handed to the host as a directory fd: nothing a job writes reaches the
//! host's disk), a fresh `/proc` and a minimal `/dev`; it then forks the job with a cleared
//! environment, fds 0–2 only, `no_new_privs`, rlimits and a seccomp filter (sockets: `AF_UNIX`
//! only), and reports how it ended. The host side
//! ([`run`]) reads stdout and stderr concurrently with byte caps, enforces the wall timeout and
//! cancellation by tearing down the whole PID namespace, and classifies the end into a
//! [`Verdict`] that maps onto the engine's [`quantd_core::ErrorClass`]. Nothing the sandbox
//! starts outlives the host process: each shim dies with the host thread that started it (a
//! parent-death signal; the warm zygote's is started by its own monitor thread) and takes its
//! namespaces, and every job in them, with it.
//!
//! This crate must never run user code in the caller's process, never fork the caller, and never
//! follow a path that user code could have planted (outputs are opened with `O_NOFOLLOW`).
//!
//! The binary that embeds this crate must call [`run_shim_if_requested`] first thing in `main`,
//! before it starts any thread.

#![allow(unsafe_code)]

mod capture;
mod cgroup;
mod config;
mod diagnose;
mod entry;
mod error;
mod layout;
mod limits;
mod run;
mod runtime;
mod shim;
mod support;
mod sys;
mod validation;
mod verdict;
mod zygote;

pub use cgroup::{QUANTD_CGROUP, prepare as prepare_cgroup};
pub use config::{DEFAULT_ENV, Isolation, SDK_MOUNT, SHIM_ARG, SandboxConfig, ShimCommand};
pub use entry::{BARS_FILE, Bars, CHECK_FILE, CODE_FILE, CheckArgs, EntryCall, RESULT_FILE};
pub use error::{Result, SandboxError};
pub use limits::{
    LimitBounds, Limits, MIN_MEMORY_BYTES, MIN_OPEN_FILES, MIN_TIME, MIN_TMPFS_BYTES,
};
pub use run::{
    CHANNEL_FD, CHANNEL_FD_ENV, CancelToken, JOB_DIR, JOB_DIR_ENV, Job, OUT_DIR, OUT_DIR_ENV,
    Outcome, probe, run,
};
pub use runtime::{
    QUANTD_BOOTSTRAP_PYTHON, QUANTD_PYTHON, REQUIREMENTS, Runtime, RuntimeOptions, RuntimeStep,
    Versions,
};
pub use shim::{run_shim_if_requested, shim_main};
pub use support::{HostSupport, MemoryLimit, host_support};
pub use validation::{
    CodeProblem, EntryPointInfo, ValidationReport, parse_validation, validate, validation_job,
};
pub use verdict::Verdict;
pub use zygote::{Zygote, ZygoteInfo};

/// Jobs that ended, by [`Verdict`] (counter; rendered by the server's `/metrics`).
pub const VERDICTS: &str = "quantd_sandbox_verdicts_total";

/// Describes the sandbox's metrics to the installed `metrics` recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(VERDICTS, "Sandboxed jobs that ended, by verdict.");
}

/// Counts a job's verdict (a no-op without a `metrics` recorder).
pub(crate) fn observe_verdict(verdict: Verdict) {
    metrics::counter!(VERDICTS, "verdict" => verdict.as_str()).increment(1);
}
