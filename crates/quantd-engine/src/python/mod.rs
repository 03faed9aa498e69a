//! Python code in executions: scanners (`scan`, `test`), strategies (`backtest`, `sweep`) and
//! whole bot scripts (`run`) run in the sandbox (`quantd-sandbox`), in children of one warm
//! zygote per engine (one job per shard; a sweep shard runs one job per parameter set).
//!
//! [`Python`] owns that zygote: the runtime is made ready ([`quantd_sandbox::Runtime::ensure`])
//! and the zygote started on the first Python shard, then shared by every worker thread. Bars go
//! in and results come out as Arrow IPC ([`ipc`]); a job that did not end `ok` becomes a shard
//! failure of its verdict's error class, with the Python traceback as the message (timeouts and
//! limits are not retried by the default retry policy). With `unsafe_no_sandbox` jobs run without
//! namespaces; every job logs a warning. If the kernel refuses namespaces, Python shards fail
//! with the sandbox's explanation of how to fix it.
//!
//! This module never runs user code in the engine's process.

pub mod bot;
mod ipc;
mod jobs;
mod sweep;

pub use bot::{RUN_PACK_ENV, RunJob, RunMetrics, parse_metrics};
pub use jobs::{PyBacktestJob, PyScanJob, PyTestJob};
pub use sweep::PySweepJob;

use crate::exec::jobs::ShardFailure;
use quantd_core::ErrorClass;
use quantd_sandbox::{
    CancelToken, Isolation, Job, Limits, Outcome, Runtime, RuntimeStep, ShimCommand, Verdict,
    Zygote,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest result file a Python job may hand back.
pub const MAX_RESULT_BYTES: u64 = 512 << 20;
/// Wall-clock (and CPU) limit of one scanner, test or strategy shard.
pub const SHARD_TIME_LIMIT: Duration = Duration::from_secs(600);

/// The engine's Python runner: one lazily started zygote. See the module docs.
pub struct Python {
    data_dir: PathBuf,
    unsafe_no_sandbox: bool,
    zygote: Mutex<Option<Arc<Zygote>>>,
}

impl std::fmt::Debug for Python {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Python")
            .field("data_dir", &self.data_dir)
            .field("unsafe_no_sandbox", &self.unsafe_no_sandbox)
            .finish_non_exhaustive()
    }
}

impl Python {
    /// A runner for the data directory `data_dir` (the managed runtime lives under it). Starts
    /// nothing yet.
    pub fn new(data_dir: &Path, unsafe_no_sandbox: bool) -> Python {
        Python {
            data_dir: data_dir.to_path_buf(),
            unsafe_no_sandbox,
            zygote: Mutex::new(None),
        }
    }

    /// Whether jobs run without the sandbox.
    pub fn unsafe_no_sandbox(&self) -> bool {
        self.unsafe_no_sandbox
    }

    /// The zygote, starting the runtime and the zygote on first use.
    fn zygote(&self) -> Result<Arc<Zygote>, ShardFailure> {
        let mut slot = self.zygote.lock().expect("zygote lock");
        if let Some(z) = slot.as_ref() {
            return Ok(z.clone());
        }
        let runtime = Runtime::ensure(&self.data_dir, &mut |step| match step {
            RuntimeStep::Ready => {}
            other => tracing::info!(step = ?other, "preparing the Python runtime"),
        })
        .map_err(sandbox_failure)?;
        let shim = ShimCommand::current_exe().map_err(sandbox_failure)?;
        let mut config = runtime.sandbox_config(shim);
        if self.unsafe_no_sandbox {
            config.isolation = Isolation::UnsafeNoSandbox;
        }
        let scratch = self.data_dir.join("sandbox");
        std::fs::create_dir_all(&scratch).map_err(|e| {
            ShardFailure::Error(
                ErrorClass::Internal,
                format!("creating {}: {e}", scratch.display()),
            )
        })?;
        config.scratch_dir = Some(scratch);
        let zygote = Arc::new(Zygote::start(&config).map_err(sandbox_failure)?);
        tracing::info!(python = %runtime.python.display(), "Python zygote started");
        *slot = Some(zygote.clone());
        Ok(zygote)
    }

    /// Runs `job` in a child of the zygote; `cancel` (the execution's flag) kills it. A verdict
    /// other than `ok` is returned as an `Outcome` too: see [`verdict_failure`].
    pub fn run(&self, job: &Job, cancel: &AtomicBool) -> Result<Outcome, ShardFailure> {
        if cancel.load(Ordering::Relaxed) {
            return Err(ShardFailure::Cancelled);
        }
        if self.unsafe_no_sandbox {
            tracing::warn!(
                args = ?job.args,
                "--unsafe-no-sandbox: this Python job runs WITHOUT the sandbox (host files and network are reachable)"
            );
        }
        let zygote = self.zygote()?;
        let token = CancelToken::new();
        let finished = AtomicBool::new(false);
        let result = std::thread::scope(|s| {
            s.spawn(|| {
                while !finished.load(Ordering::SeqCst) {
                    if cancel.load(Ordering::Relaxed) {
                        token.cancel();
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
            });
            let r = zygote.run(job, &token);
            finished.store(true, Ordering::SeqCst);
            r
        });
        match result {
            Ok(outcome) => Ok(outcome),
            Err(quantd_sandbox::Error::Cancelled) => Err(ShardFailure::Cancelled),
            Err(e) => Err(sandbox_failure(e)),
        }
    }

    /// Runs `job` and returns its outcome only when it ended `ok`.
    pub fn run_ok(&self, job: &Job, cancel: &AtomicBool) -> Result<Outcome, ShardFailure> {
        let outcome = self.run(job, cancel)?;
        if outcome.verdict != Verdict::Ok {
            return Err(verdict_failure(&outcome));
        }
        Ok(outcome)
    }
}

/// The limits of a scanner, test or strategy shard.
pub fn shard_limits() -> Limits {
    Limits {
        cpu: SHARD_TIME_LIMIT,
        wall: SHARD_TIME_LIMIT,
        ..Limits::default()
    }
}

/// A sandbox error (the job could not run at all) as a shard failure. Missing namespaces and an
/// unusable runtime are not retried: they need the operator, and the message says what to do.
fn sandbox_failure(e: quantd_sandbox::Error) -> ShardFailure {
    let class = match &e {
        quantd_sandbox::Error::NamespacesUnavailable { .. } => ErrorClass::Policy,
        quantd_sandbox::Error::Runtime { .. } | quantd_sandbox::Error::ZygoteStart(_) => {
            ErrorClass::Validation
        }
        other => other.class(),
    };
    ShardFailure::Error(class, e.to_string())
}

/// The last `max` bytes of captured output, as text.
pub(crate) fn tail(bytes: &[u8], max: usize) -> String {
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..])
        .trim_end()
        .to_string()
}

/// A job that ended with a verdict other than `ok`, as a shard failure of the verdict's class:
/// the Python traceback for a `runtime_error`, else the verdict and what it means.
pub fn verdict_failure(out: &Outcome) -> ShardFailure {
    let class = out.verdict.error_class().unwrap_or(ErrorClass::Internal);
    let what = match out.verdict {
        Verdict::RuntimeError => {
            if let Some(tb) = &out.traceback {
                return ShardFailure::Error(class, tb.clone());
            }
            format!(
                "exited with status {}",
                out.exit_code.map_or("?".into(), |c| c.to_string())
            )
        }
        Verdict::WallTimeout => format!(
            "ran past its wall-clock limit (stopped after {:.1} s)",
            out.wall_time.as_secs_f64()
        ),
        Verdict::CpuTimeout => format!(
            "used up its CPU-time limit ({:.1} s of CPU)",
            out.cpu_time.as_secs_f64()
        ),
        Verdict::MemoryLimit => "ran out of its memory limit".into(),
        Verdict::OutputLimit => {
            "wrote more than allowed (stdout/stderr bytes, file size or tmpfs space)".into()
        }
        Verdict::PolicyViolation => "attempted a forbidden system call and was killed".into(),
        Verdict::Signal => format!(
            "was killed by signal {}",
            out.signal.map_or("?".into(), |s| s.to_string())
        ),
        Verdict::Internal => format!(
            "the sandbox failed: {}",
            out.detail.as_deref().unwrap_or("no detail")
        ),
        Verdict::Ok => "ok".into(),
    };
    let mut message = format!("{}: the Python job {what}", out.verdict);
    if let Some(tb) = &out.traceback {
        message.push('\n');
        message.push_str(tb);
    } else if !out.stderr.is_empty() && out.verdict != Verdict::OutputLimit {
        message.push_str("\nstderr: ");
        message.push_str(&tail(&out.stderr, 2000));
    }
    ShardFailure::Error(class, message)
}

/// Parameter values as the JSON object the harness takes: whole numbers become integers (so that
/// `rolling(fast)` gets an `int`).
pub fn params_json(params: &BTreeMap<String, f64>) -> serde_json::Value {
    let map = params
        .iter()
        .map(|(k, &v)| {
            let value = if v.fract() == 0.0 && v.abs() < 9.0e15 {
                serde_json::Value::from(v as i64)
            } else {
                serde_json::Value::from(v)
            };
            (k.clone(), value)
        })
        .collect();
    serde_json::Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_parameters_become_integers() {
        let p: BTreeMap<String, f64> = [("fast".to_string(), 10.0), ("k".to_string(), 1.5)]
            .into_iter()
            .collect();
        assert_eq!(params_json(&p).to_string(), r#"{"fast":10,"k":1.5}"#);
    }
}
