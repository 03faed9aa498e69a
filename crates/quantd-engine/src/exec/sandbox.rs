//! Sandbox limits per execution: what a request may ask for in `options.sandbox` (memory, CPU
//! time, wall-clock time, processes, output), checked at the door against the server's maxima
//! (the `max_sandbox_*` fields of [`Limits`]), stored with the execution and turned into the
//! [`quantd_sandbox::Limits`] of each of its Python jobs, on every attempt and after a restart.
//!
//! A field left out keeps the server's default (the sandbox's, shards' time at
//! [`SHARD_TIME_LIMIT`], each capped by its maximum). Expression code does not run in the
//! sandbox, so a request whose code is an expression and that sets any of these is refused
//! ([`refuse_unsandboxed`]); a `run`'s wall-clock limit is its `timeout`, never `wall_secs`.

use super::limits::Limits;
use crate::error::{EngineError, Result};
use crate::python::SHARD_TIME_LIMIT;
use quantd_core::ExecutionKind;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Sandbox limits one execution asks for (`options.sandbox`), each within the server's maximum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SandboxRequest {
    /// Memory of each Python job, in MiB (default 4096; at most the server's
    /// `max_sandbox_memory_mib`, 8192 unless changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 32))]
    pub memory_mib: Option<u64>,
    /// CPU seconds of each job (default: a shard's wall limit; a run's timeout + 5 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub cpu_secs: Option<u64>,
    /// Wall-clock seconds of each shard's job (default 600). Not for `run`: its `timeout` is that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub wall_secs: Option<u64>,
    /// Processes and threads of each job (default 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub pids: Option<u64>,
    /// Standard output kept of each job, in MiB (default 8); more ends the job with verdict
    /// `output_limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub output_mib: Option<u64>,
}

/// Each field: its JSON path, the limit bounding it, the smallest value and what it counts.
struct Field {
    path: &'static str,
    limit: &'static str,
    min: u64,
    what: &'static str,
}

const MEMORY: Field = Field {
    path: "options.sandbox.memory_mib",
    limit: "max_sandbox_memory_mib",
    min: quantd_sandbox::MIN_MEMORY_BYTES >> 20,
    what: "MiB of memory",
};
const CPU: Field = Field {
    path: "options.sandbox.cpu_secs",
    limit: "max_sandbox_cpu_secs",
    min: 1,
    what: "CPU seconds",
};
const WALL: Field = Field {
    path: "options.sandbox.wall_secs",
    limit: "max_sandbox_wall_secs",
    min: 1,
    what: "wall-clock seconds",
};
const PIDS: Field = Field {
    path: "options.sandbox.pids",
    limit: "max_sandbox_pids",
    min: 1,
    what: "processes",
};
const OUTPUT: Field = Field {
    path: "options.sandbox.output_mib",
    limit: "max_sandbox_output_mib",
    min: 1,
    what: "MiB of output",
};

impl SandboxRequest {
    /// True when it asks for nothing (every job gets the server's defaults).
    pub fn is_empty(&self) -> bool {
        *self == SandboxRequest::default()
    }

    /// Checks every field it sets against `limits` (the server's maxima) for an execution of
    /// `kind`: the first one out of range is an error naming its JSON path, its bound and how to
    /// change it. O(1).
    pub fn check(&self, limits: &Limits, kind: ExecutionKind) -> Result<()> {
        if kind == ExecutionKind::Run && self.wall_secs.is_some() {
            return Err(EngineError::Invalid(
                "options.sandbox.wall_secs: a run's wall-clock limit is its `timeout`; set that \
                 instead"
                    .into(),
            ));
        }
        let fields = [
            (&MEMORY, self.memory_mib, limits.max_sandbox_memory_mib),
            (&CPU, self.cpu_secs, limits.max_sandbox_cpu_secs),
            (&WALL, self.wall_secs, limits.max_sandbox_wall_secs),
            (&PIDS, self.pids, limits.max_sandbox_pids),
            (&OUTPUT, self.output_mib, limits.max_sandbox_output_mib),
        ];
        for (field, value, max) in fields {
            let Some(value) = value else { continue };
            if value < field.min {
                return Err(EngineError::Invalid(format!(
                    "{} is {value}: give at least {} ({}), at most {max}",
                    field.path, field.min, field.what
                )));
            }
            if value > max {
                return Err(EngineError::Limit {
                    limit: field.limit,
                    message: format!(
                        "{} is {value} {}, over the server's maximum of {max} ({}, set by {}); \
                         ask for at most {max}, or leave it out for the default",
                        field.path,
                        field.what,
                        field.limit,
                        super::limits::var_of(field.limit)
                    ),
                });
            }
        }
        Ok(())
    }

    /// The limits of each job of a scanner, test or strategy shard.
    pub fn shard_limits(&self, limits: &Limits) -> quantd_sandbox::Limits {
        let wall = secs(
            self.wall_secs,
            SHARD_TIME_LIMIT,
            limits.max_sandbox_wall_secs,
        );
        let cpu = match self.cpu_secs {
            Some(s) => Duration::from_secs(s),
            None => wall.min(Duration::from_secs(limits.max_sandbox_cpu_secs)),
        };
        self.apply(
            limits,
            quantd_sandbox::Limits {
                wall,
                cpu,
                ..Default::default()
            },
        )
    }

    /// The limits of a run whose (this attempt's) timeout is `timeout_secs`: that wall-clock
    /// limit, and CPU time with headroom so a busy script ends on the wall limit the user set
    /// (unless `cpu_secs` asks for less or more). Never overflows, whatever the timeout.
    pub fn run_limits(&self, limits: &Limits, timeout_secs: u64) -> quantd_sandbox::Limits {
        let wall = Duration::from_secs(timeout_secs);
        let cpu = match self.cpu_secs {
            Some(s) => Duration::from_secs(s),
            None => wall.saturating_add(Duration::from_secs(5)),
        };
        self.apply(
            limits,
            quantd_sandbox::Limits {
                wall,
                cpu,
                ..Default::default()
            },
        )
    }

    /// `base` with memory, processes and output as asked (else the defaults, capped by the
    /// server's maxima).
    fn apply(&self, limits: &Limits, base: quantd_sandbox::Limits) -> quantd_sandbox::Limits {
        let mib = |asked: Option<u64>, default: u64, max: u64| {
            asked
                .unwrap_or((default >> 20).min(max))
                .saturating_mul(1 << 20)
        };
        let output = mib(
            self.output_mib,
            base.stdout_bytes as u64,
            limits.max_sandbox_output_mib,
        );
        quantd_sandbox::Limits {
            memory_bytes: mib(
                self.memory_mib,
                base.memory_bytes,
                limits.max_sandbox_memory_mib,
            ),
            processes: self
                .pids
                .unwrap_or(base.processes.min(limits.max_sandbox_pids)),
            stdout_bytes: usize::try_from(output).unwrap_or(usize::MAX),
            ..base
        }
    }
}

/// `asked` seconds, else `default` capped at `max` seconds.
fn secs(asked: Option<u64>, default: Duration, max: u64) -> Duration {
    match asked {
        Some(s) => Duration::from_secs(s),
        None => default.min(Duration::from_secs(max)),
    }
}

/// The error for a request that sets `options.sandbox` for code that does not run in the
/// sandbox (an expression scanner or strategy).
pub fn refuse_unsandboxed(kind: ExecutionKind) -> EngineError {
    EngineError::Invalid(format!(
        "options.sandbox: this {kind}'s code is an expression, which runs in the engine, not in \
         the sandbox; remove `options.sandbox` (it applies to Python code only)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(v: serde_json::Value) -> SandboxRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn unset_fields_keep_the_defaults() {
        let l = Limits::default();
        let got = SandboxRequest::default().shard_limits(&l);
        let want = quantd_sandbox::Limits {
            wall: SHARD_TIME_LIMIT,
            cpu: SHARD_TIME_LIMIT,
            ..Default::default()
        };
        assert_eq!(got, want);
        let run = SandboxRequest::default().run_limits(&l, 300);
        assert_eq!(run.wall, Duration::from_secs(300));
        assert_eq!(run.cpu, Duration::from_secs(305));
        assert_eq!(
            run.memory_bytes,
            quantd_sandbox::Limits::default().memory_bytes
        );
    }

    #[test]
    fn asked_fields_reach_the_jobs_limits() {
        let l = Limits::default();
        let r = asked(
            serde_json::json!({"memory_mib": 512, "cpu_secs": 7, "wall_secs": 9,
            "pids": 16, "output_mib": 2}),
        );
        r.check(&l, ExecutionKind::Scan).unwrap();
        let got = r.shard_limits(&l);
        assert_eq!(got.memory_bytes, 512 << 20);
        assert_eq!(got.cpu, Duration::from_secs(7));
        assert_eq!(got.wall, Duration::from_secs(9));
        assert_eq!(got.processes, 16);
        assert_eq!(got.stdout_bytes, 2 << 20);
        got.validate().unwrap();
        let run = asked(serde_json::json!({"cpu_secs": 3})).run_limits(&l, 60);
        assert_eq!(
            (run.cpu, run.wall),
            (Duration::from_secs(3), Duration::from_secs(60))
        );
    }

    #[test]
    fn over_the_maximum_names_the_field_the_maximum_and_the_variable() {
        let l = Limits::default();
        let cases = [
            (
                "memory_mib",
                "max_sandbox_memory_mib",
                "QUANTD_MAX_SANDBOX_MEMORY_MIB",
            ),
            (
                "cpu_secs",
                "max_sandbox_cpu_secs",
                "QUANTD_MAX_SANDBOX_CPU_SECS",
            ),
            (
                "wall_secs",
                "max_sandbox_wall_secs",
                "QUANTD_MAX_SANDBOX_WALL_SECS",
            ),
            ("pids", "max_sandbox_pids", "QUANTD_MAX_SANDBOX_PIDS"),
            (
                "output_mib",
                "max_sandbox_output_mib",
                "QUANTD_MAX_SANDBOX_OUTPUT_MIB",
            ),
        ];
        for (field, limit, var) in cases {
            let r = asked(serde_json::json!({ field: u64::MAX }));
            let e = r.check(&l, ExecutionKind::Backtest).unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(e, EngineError::Limit { limit: l, .. } if l == limit),
                "{msg}"
            );
            assert!(msg.contains(&format!("options.sandbox.{field}")), "{msg}");
            assert!(msg.contains(var), "{msg}");
            let zero = asked(serde_json::json!({ field: 0 }));
            let msg = zero.check(&l, ExecutionKind::Scan).unwrap_err().to_string();
            assert!(
                msg.contains(&format!("options.sandbox.{field} is 0")),
                "{msg}"
            );
        }
    }

    #[test]
    fn the_servers_maxima_cap_the_defaults_and_bound_the_requests() {
        let l = Limits {
            max_sandbox_memory_mib: 1024,
            max_sandbox_wall_secs: 60,
            ..Limits::default()
        };
        let got = SandboxRequest::default().shard_limits(&l);
        assert_eq!(got.memory_bytes, 1 << 30);
        assert_eq!(
            (got.wall, got.cpu),
            (Duration::from_secs(60), Duration::from_secs(60))
        );
        assert!(
            asked(serde_json::json!({"memory_mib": 2048}))
                .check(&l, ExecutionKind::Scan)
                .is_err()
        );
    }

    #[test]
    fn a_runs_wall_limit_is_its_timeout() {
        let msg = asked(serde_json::json!({"wall_secs": 5}))
            .check(&Limits::default(), ExecutionKind::Run)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("timeout"), "{msg}");
    }
}
