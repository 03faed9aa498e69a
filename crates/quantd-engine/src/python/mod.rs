//! Python code in executions: scanners (`scan`, `test`), strategies (`backtest`, `sweep`) and
//! whole bot scripts (`run`) run in the sandbox (`quantd-sandbox`), in children of one warm
//! zygote per runner (one job per shard; a sweep shard runs one job per parameter set).
//!
//! [`Python`] owns that zygote: the runtime is made ready ([`quantd_sandbox::Runtime::ensure`])
//! and the zygote started on the first Python job, then shared by every worker thread. Bars go
//! in and results come out as Arrow IPC ([`ipc`]); a job that did not end `ok` becomes a shard
//! failure of its verdict's error class, with the Python traceback as the message (timeouts and
//! limits are not retried by the default retry policy). A sandbox that cannot start (no runtime,
//! a zygote that dies while importing) is the server's problem: class `internal`, retried. If the
//! kernel refuses namespaces, Python shards fail (class `policy`) with the sandbox's explanation
//! of how to fix it. With `unsafe_no_sandbox` jobs run without namespaces; every job logs a
//! warning.
//!
//! Everything a job hands back is untrusted, since user code can rewrite its outputs: result
//! files are checked against the bars the job was given ([`read_result`]), a `run`'s metrics and
//! logs are bounded ([`metrics`]); the limits are [`PythonOptions`].
//!
//! Stored scanners and strategies are validated in the sandbox too ([`Python::check_code`]).
//! Code validation has only the store at hand (`code::add`), so every runner registers itself
//! while it lives and validation uses the newest one of the process ([`Python::newest`]): the
//! engine's, or the one the CLI opens for `quantd code add`.
//!
//! This module never runs user code in the engine's process.

pub mod bot;
pub mod broker;
mod check;
pub mod ipc;
mod ipc_check;
mod jobs;
mod live;
pub mod metrics;
mod options;
pub mod paper;
mod sweep;

pub use bot::{RUN_PACK_ENV, RunJob};
pub use check::{MAX_CHECK_BYTES, PyCheckJob, read_checks};
pub use ipc::{BadResult, BatchInput, ResultRows, read_result};
pub use jobs::{PORTFOLIO, PyBacktestJob, PyPortfolioJob, PyScanJob, PyTestJob};
pub use metrics::{RunMetrics, parse_metrics};
pub use options::PythonOptions;
pub(crate) use options::shown;
pub use sweep::PySweepJob;

use crate::error::EngineError;
use crate::exec::jobs::ShardFailure;
use quantd_core::ErrorClass;
use quantd_sandbox::{
    CancelToken, Isolation, Job, Limits, Outcome, Runtime, RuntimeStep, ShimCommand,
    ValidationReport, Verdict, Zygote,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

/// Largest result file a Python job may hand back.
pub const MAX_RESULT_BYTES: u64 = 512 << 20;
/// Wall-clock (and CPU) limit of one scanner, test or strategy shard's job, unless the execution
/// asks for another (`options.sandbox`).
pub const SHARD_TIME_LIMIT: Duration = Duration::from_secs(600);

/// The engine's Python runner: one lazily started zygote. Cheap to clone (clones share the
/// zygote). See the module docs.
#[derive(Clone)]
pub struct Python {
    shared: Arc<Shared>,
}

/// What the clones of one runner share.
struct Shared {
    data_dir: PathBuf,
    unsafe_no_sandbox: bool,
    options: PythonOptions,
    zygote: Mutex<Option<Arc<Zygote>>>,
}

/// The runners alive in this process, oldest first (see [`Python::newest`]).
static LIVE: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

impl std::fmt::Debug for Python {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Python")
            .field("data_dir", &self.shared.data_dir)
            .field("unsafe_no_sandbox", &self.shared.unsafe_no_sandbox)
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

impl Python {
    /// A runner for the data directory `data_dir` (the managed runtime lives under it), with the
    /// default [`PythonOptions`]. Starts nothing yet.
    pub fn new(data_dir: &Path, unsafe_no_sandbox: bool) -> Python {
        Python::with_options(data_dir, unsafe_no_sandbox, PythonOptions::default())
    }

    /// [`Python::new`] with explicit limits. The runner is registered for code validation
    /// ([`Python::newest`]) until its last clone is dropped.
    pub fn with_options(
        data_dir: &Path,
        unsafe_no_sandbox: bool,
        options: PythonOptions,
    ) -> Python {
        let shared = Arc::new(Shared {
            data_dir: data_dir.to_path_buf(),
            unsafe_no_sandbox,
            options,
            zygote: Mutex::new(None),
        });
        let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&shared));
        Python { shared }
    }

    /// The newest runner alive in this process: what validates stored Python code, which has no
    /// engine at hand. `None` when no engine (or CLI runner) is open.
    pub fn newest() -> Option<Python> {
        let live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
        live.iter()
            .rev()
            .find_map(Weak::upgrade)
            .map(|shared| Python { shared })
    }

    /// Whether jobs run without the sandbox.
    pub fn unsafe_no_sandbox(&self) -> bool {
        self.shared.unsafe_no_sandbox
    }

    /// The limits on what jobs hand back.
    pub fn options(&self) -> &PythonOptions {
        &self.shared.options
    }

    /// The zygote, starting the runtime and the zygote on first use.
    fn zygote(&self) -> Result<Arc<Zygote>, ShardFailure> {
        let mut slot = self
            .shared
            .zygote
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(z) = slot.as_ref() {
            return Ok(z.clone());
        }
        let data_dir = &self.shared.data_dir;
        let runtime = Runtime::ensure(data_dir, &mut |step| match step {
            RuntimeStep::Ready => {}
            other => tracing::info!(step = ?other, "preparing the Python runtime"),
        })
        .map_err(sandbox_failure)?;
        let shim = ShimCommand::current_exe().map_err(sandbox_failure)?;
        let mut config = runtime.sandbox_config(shim);
        if self.shared.unsafe_no_sandbox {
            config.isolation = Isolation::UnsafeNoSandbox;
        }
        let scratch = data_dir.join("sandbox");
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
        if self.shared.unsafe_no_sandbox {
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
            Err(quantd_sandbox::SandboxError::Cancelled) => Err(ShardFailure::Cancelled),
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

    /// Validates Python source in the sandbox without running it (`python -m quantd.validate`:
    /// syntax, imports outside the allow-list, decorated entry points and their `params`).
    /// Blocks for one sandbox job (about 15 ms with the zygote warm; the first call starts it).
    ///
    /// The report is returned as the validator gave it; [`crate::code`] turns its problems into
    /// diagnostics. Errors: the sandbox could not run ([`EngineError::Internal`], with why), or
    /// the validator itself failed on this code, e.g. nesting too deep for Python's parser
    /// ([`EngineError::Invalid`]).
    pub fn check_code(&self, source: &str) -> Result<ValidationReport, EngineError> {
        let job = quantd_sandbox::validation_job(source, None);
        let outcome = self.run(&job, &AtomicBool::new(false)).map_err(|e| {
            let why = match e {
                ShardFailure::Cancelled | ShardFailure::Later(_) => "cancelled".to_string(),
                ShardFailure::Error(_, message) | ShardFailure::Crash(message) => message,
            };
            EngineError::Internal(format!(
                "Python code is validated in the sandbox, which could not run: {why}"
            ))
        })?;
        match outcome.verdict {
            Verdict::Ok => quantd_sandbox::parse_validation(&outcome)
                .map_err(|e| EngineError::Internal(e.to_string())),
            Verdict::Internal => Err(EngineError::Internal(format!(
                "the sandbox failed while validating Python code: {}",
                outcome.detail.as_deref().unwrap_or("no detail")
            ))),
            _ => {
                let why = outcome
                    .traceback
                    .as_deref()
                    .and_then(|tb| tb.lines().rev().find(|l| !l.trim().is_empty()))
                    .map_or_else(|| outcome.verdict.to_string(), str::to_string);
                Err(EngineError::Invalid(format!(
                    "the Python code could not be validated: the validator stopped with {why}; simplify the code (e.g. less deeply nested expressions) and try again"
                )))
            }
        }
    }
}

/// The engine's runner with the sandbox limits of one execution's scanner, test or strategy
/// jobs ([`crate::exec::sandbox::SandboxRequest::shard_limits`]): what its shard jobs run in.
#[derive(Clone)]
pub struct Sandboxed {
    py: Arc<Python>,
    limits: Limits,
}

impl Sandboxed {
    /// `py` running every job within `limits`.
    pub fn new(py: Arc<Python>, limits: Limits) -> Sandboxed {
        Sandboxed { py, limits }
    }

    /// The runner.
    pub fn python(&self) -> &Python {
        &self.py
    }

    /// The limits every job runs within.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs `job` with these limits; a verdict other than `ok` is a shard failure
    /// ([`Python::run_ok`]).
    pub fn run_ok(&self, job: Job, cancel: &AtomicBool) -> Result<Outcome, ShardFailure> {
        self.py
            .run_ok(&job.with_limits(self.limits.clone()), cancel)
    }
}

/// A sandbox error (the job could not run at all) as a shard failure, of the sandbox's class:
/// a runtime that is missing or a zygote that does not start is the server's problem
/// (`internal`, retried: the message says what the operator can do), never the user's code.
/// Missing namespaces are `policy`: not retried, they need the operator to enable them.
fn sandbox_failure(e: quantd_sandbox::SandboxError) -> ShardFailure {
    let class = match &e {
        quantd_sandbox::SandboxError::NamespacesUnavailable { .. } => ErrorClass::Policy,
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

    fn class_of(e: quantd_sandbox::SandboxError) -> ErrorClass {
        match sandbox_failure(e) {
            ShardFailure::Error(class, _) => class,
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn a_sandbox_that_cannot_start_is_the_servers_problem_not_the_code() {
        let zygote = quantd_sandbox::SandboxError::ZygoteStart("numpy did not import".into());
        assert_eq!(class_of(zygote), ErrorClass::Internal);
        let runtime = quantd_sandbox::SandboxError::Runtime {
            what: "creating the venv".into(),
            why: "no python3".into(),
            fix: "install python3".into(),
        };
        assert_eq!(class_of(runtime), ErrorClass::Internal);
        assert_eq!(
            class_of(quantd_sandbox::SandboxError::Config(
                "no interpreter".into()
            )),
            ErrorClass::Internal
        );
        assert!(ErrorClass::Internal.retryable_by_default());
        let namespaces = quantd_sandbox::SandboxError::NamespacesUnavailable {
            reason: "EPERM".into(),
            fix: "enable user namespaces".into(),
        };
        assert_eq!(class_of(namespaces), ErrorClass::Policy);
    }
}
