//! Kind `run`: a whole bot script, one shard, in the sandbox with the chosen pack readable
//! (its bars file as `$QUANTD_PACK`, its manifest as `$QUANTD_PACK_MANIFEST`). Its stdout and
//! stderr (capped by the sandbox, then kept to `max_log_bytes` each: the first and last half)
//! are the run's log; its metrics come from the line `QUANTD_RESULT {json}` or, without one,
//! from plain lines such as `Return: 15.42%` ([`super::metrics`], checked and bounded), and are
//! stored under the backtest statistics' names so that `quantd summary` averages them.

use super::metrics::{RunMetrics, parse_metrics};
use super::options::bounded_log;
use super::{Python, tail};
use crate::exec::jobs::{Job, ShardControl, ShardFailure, ShardOutput};
use crate::exec::kinds::run::ResolvedRun;
use crate::exec::sandbox::SandboxRequest;
use quantd_core::ErrorClass;
use quantd_data::PackReader;
use quantd_sandbox::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// The environment variable naming the pack's bars file (an Arrow IPC file) inside the job.
pub const RUN_PACK_ENV: &str = "QUANTD_PACK";
/// The environment variable naming the pack's manifest (JSON) inside the job.
pub const RUN_MANIFEST_ENV: &str = "QUANTD_PACK_MANIFEST";
/// What a run stores as its shard body: its log and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLog {
    /// The verdict (`ok` for a stored log).
    pub verdict: String,
    /// The script's exit status.
    pub exit_code: Option<i32>,
    /// Wall time in milliseconds.
    pub wall_ms: u64,
    /// CPU time in milliseconds.
    pub cpu_ms: u64,
    /// The metrics found.
    pub metrics: RunMetrics,
    /// Captured stdout (capped).
    pub stdout: String,
    /// Captured stderr (capped).
    pub stderr: String,
}

impl RunLog {
    /// The execution summary: the metrics under their statistic names, plus where they came from.
    pub fn summary(&self) -> Value {
        let mut m = self.metrics.metrics.clone();
        m.insert("metrics_source".into(), self.metrics.source.clone().into());
        if let Some(r) = &self.metrics.result {
            m.insert("result".into(), r.clone());
        }
        if !self.metrics.warnings.is_empty() {
            m.insert(
                "metrics_warnings".into(),
                self.metrics.warnings.clone().into(),
            );
        }
        m.insert("wall_ms".into(), self.wall_ms.into());
        Value::Object(m)
    }
}

/// A bot script run: one shard.
pub struct RunJob {
    py: Arc<Python>,
    reader: Arc<PackReader>,
    spec: ResolvedRun,
    /// The limits the execution asked for.
    sandbox: SandboxRequest,
    /// The server's limits: the longest run timeout (multiplied timeouts stop there) and the
    /// sandbox maxima.
    limits: crate::exec::limits::Limits,
}

/// The wall-clock limit of attempt `attempt` of a run: `timeout_secs` × `multiplier`^(attempt-1),
/// at most `max_secs` (and never below `timeout_secs`).
pub fn attempt_timeout_secs(
    timeout_secs: u64,
    multiplier: Option<f64>,
    attempt: u32,
    max_secs: u64,
) -> u64 {
    let Some(m) = multiplier else {
        return timeout_secs;
    };
    let scaled =
        timeout_secs as f64 * m.powi(i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX));
    if !scaled.is_finite() || scaled >= max_secs as f64 {
        return max_secs.max(timeout_secs);
    }
    (scaled.round() as u64).max(timeout_secs)
}

impl RunJob {
    /// The job of a resolved run, with the sandbox limits its execution asked for within the
    /// server's `limits`.
    pub fn new(
        spec: &ResolvedRun,
        reader: Arc<PackReader>,
        py: Arc<Python>,
        sandbox: SandboxRequest,
        limits: crate::exec::limits::Limits,
    ) -> RunJob {
        RunJob {
            py,
            reader,
            spec: spec.clone(),
            sandbox,
            limits,
        }
    }

    fn job(&self, attempt: u32) -> quantd_sandbox::Job {
        let timeout = attempt_timeout_secs(
            self.spec.timeout_secs,
            self.spec.timeout_multiplier,
            attempt,
            self.limits.max_run_timeout_secs,
        );
        let limits = self.sandbox.run_limits(&self.limits, timeout);
        let bars = self.reader.dir().join(quantd_data::format::BARS_FILE);
        let manifest = self.reader.dir().join(quantd_data::format::MANIFEST_FILE);
        let mut job = quantd_sandbox::Job::script(self.spec.script.clone())
            .with_args(self.spec.args.iter().cloned())
            .with_limits(limits);
        if self.py.unsafe_no_sandbox() {
            job.env
                .push((RUN_PACK_ENV.into(), bars.display().to_string()));
            job.env
                .push((RUN_MANIFEST_ENV.into(), manifest.display().to_string()));
        } else {
            job = job
                .with_host_file("pack.arrow", bars)
                .with_host_file("pack.json", manifest);
            let dir = quantd_sandbox::JOB_DIR;
            job.env
                .push((RUN_PACK_ENV.into(), format!("{dir}/pack.arrow")));
            job.env
                .push((RUN_MANIFEST_ENV.into(), format!("{dir}/pack.json")));
        }
        job
    }
}

impl Job for RunJob {
    fn plan(&self) -> Vec<Value> {
        vec![serde_json::json!({ "script": self.spec.name })]
    }

    fn run(
        &self,
        _payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        let cancel = ctl.stop_flag();
        let outcome = self.py.run(&self.job(ctl.attempt()), cancel)?;
        if outcome.verdict != Verdict::Ok {
            let ShardFailure::Error(class, mut message) = super::verdict_failure(&outcome) else {
                return Err(ShardFailure::Cancelled);
            };
            if !outcome.stdout.is_empty() && outcome.verdict != Verdict::OutputLimit {
                message.push_str("\nstdout (end): ");
                message.push_str(&tail(&outcome.stdout, 2000));
            }
            return Err(ShardFailure::Error(class, message));
        }
        let limits = self.py.options();
        let metrics = parse_metrics(&String::from_utf8_lossy(&outcome.stdout), limits);
        for w in &metrics.warnings {
            tracing::warn!(script = %self.spec.name, "run metrics: {w}");
        }
        let log = RunLog {
            verdict: outcome.verdict.to_string(),
            exit_code: outcome.exit_code,
            wall_ms: u64::try_from(outcome.wall_time.as_millis()).unwrap_or(u64::MAX),
            cpu_ms: u64::try_from(outcome.cpu_time.as_millis()).unwrap_or(u64::MAX),
            metrics,
            stdout: bounded_log(&outcome.stdout, limits.max_log_bytes, "stdout"),
            stderr: bounded_log(&outcome.stderr, limits.max_log_bytes, "stderr"),
        };
        Ok(ShardOutput {
            bars: 0,
            rows: log.metrics.metrics.len() as u64,
            body: serde_json::to_vec(&log)
                .map_err(|e| ShardFailure::Error(ErrorClass::Internal, format!("run log: {e}")))?,
            scan_summary: None,
            summary: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn any_timeout_gives_limits_without_overflow() {
        let (asked, server) = (
            SandboxRequest::default(),
            crate::exec::limits::Limits::default(),
        );
        for secs in [0, 1, 300, i64::MAX as u64, u64::MAX - 4, u64::MAX] {
            let limits = asked.run_limits(&server, secs);
            assert_eq!(limits.wall, Duration::from_secs(secs));
            assert!(limits.cpu >= limits.wall);
        }
        assert_eq!(asked.run_limits(&server, 300).cpu, Duration::from_secs(305));
    }
}

#[cfg(test)]
mod attempt_timeouts {
    use super::attempt_timeout_secs;

    #[test]
    fn each_attempt_multiplies_the_timeout_within_the_maximum() {
        let t: Vec<u64> = (1..=5)
            .map(|a| attempt_timeout_secs(10, Some(2.0), a, 60))
            .collect();
        assert_eq!(t, [10, 20, 40, 60, 60]);
        assert_eq!(attempt_timeout_secs(10, None, 4, 60), 10);
        assert_eq!(
            attempt_timeout_secs(10, Some(10.0), 400, 60),
            60,
            "no overflow"
        );
    }
}
