//! How a job ended, and the engine's error class for each ending.

use quantd_core::ErrorClass;
use serde::{Deserialize, Serialize};

/// How a sandboxed job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Exited with status 0.
    Ok,
    /// Exited non-zero, normally with a Python traceback (see [`crate::Outcome::traceback`]).
    RuntimeError,
    /// Killed by a signal that no limit explains (see [`crate::Outcome::signal`]).
    Signal,
    /// Reached the CPU-time limit.
    CpuTimeout,
    /// Reached the wall-clock limit.
    WallTimeout,
    /// Reached the memory limit (`MemoryError`, or killed while out of memory).
    MemoryLimit,
    /// Wrote more than allowed: stdout/stderr bytes, file size, or a full tmpfs.
    OutputLimit,
    /// Attempted a forbidden operation (killed by the seccomp filter).
    PolicyViolation,
    /// The sandbox itself failed (setup error, lost report).
    Internal,
}

impl Verdict {
    /// The stable name used in APIs and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::RuntimeError => "runtime_error",
            Verdict::Signal => "signal",
            Verdict::CpuTimeout => "cpu_timeout",
            Verdict::WallTimeout => "wall_timeout",
            Verdict::MemoryLimit => "memory_limit",
            Verdict::OutputLimit => "output_limit",
            Verdict::PolicyViolation => "policy_violation",
            Verdict::Internal => "internal",
        }
    }

    /// The engine's error class, `None` for [`Verdict::Ok`]. Timeouts and limits map to classes
    /// that are not retried by default; only [`Verdict::Internal`] is.
    pub fn error_class(self) -> Option<ErrorClass> {
        Some(match self {
            Verdict::Ok => return None,
            Verdict::RuntimeError | Verdict::Signal => ErrorClass::Execution,
            Verdict::CpuTimeout | Verdict::WallTimeout => ErrorClass::Timeout,
            Verdict::MemoryLimit | Verdict::OutputLimit => ErrorClass::Resource,
            Verdict::PolicyViolation => ErrorClass::Policy,
            Verdict::Internal => ErrorClass::Internal,
        })
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The last Python traceback in `stderr`, from its `Traceback (most recent call last):` line to
/// the end, if any.
pub(crate) fn extract_traceback(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let start = text.rfind("Traceback (most recent call last):")?;
    Some(text[start..].trim_end().to_owned())
}

/// Refines a non-zero exit with a traceback into a limit verdict when the exception says so:
/// `MemoryError` (and numpy's and pyarrow's subclasses) or an `OSError` with `ENOMEM` (errno 12:
/// the kernel refused an allocation, e.g. an anonymous `mmap` past `RLIMIT_AS` or the job
/// cgroup's `memory.max`) is the memory limit; `EFBIG` (27: a file over the size limit) or
/// `ENOSPC` (28: a full tmpfs or `/out`) is the output limit.
///
/// The exception is the first unindented line after the frames: notes added to it
/// (`add_note`, e.g. the harness's "while running scanner …") and a multi-line message follow it.
pub(crate) fn classify_exception(traceback: &str) -> Verdict {
    let last = traceback
        .lines()
        .skip(1)
        .find(|l| !l.starts_with(' ') && !l.is_empty())
        .unwrap_or_default();
    let exc = last.split(':').next().unwrap_or_default();
    let message = last.get(exc.len() + 1..).unwrap_or_default().trim_start();
    // An `OSError` prints its errno first: `OSError: [Errno 12] Cannot allocate memory`.
    let enomem = exc.ends_with("OSError") && message.starts_with("[Errno 12]");
    if exc.ends_with("MemoryError") || enomem {
        Verdict::MemoryLimit
    } else if last.contains("[Errno 27]") || last.contains("[Errno 28]") {
        Verdict::OutputLimit
    } else {
        Verdict::RuntimeError
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_retry_policy() {
        assert_eq!(Verdict::Ok.error_class(), None);
        for v in [
            Verdict::CpuTimeout,
            Verdict::WallTimeout,
            Verdict::MemoryLimit,
            Verdict::OutputLimit,
            Verdict::PolicyViolation,
            Verdict::RuntimeError,
        ] {
            assert!(!v.error_class().unwrap().retryable_by_default(), "{v}");
        }
        assert!(
            Verdict::Internal
                .error_class()
                .unwrap()
                .retryable_by_default()
        );
    }

    #[test]
    fn exceptions_refine_the_verdict() {
        let tb = extract_traceback(
            b"noise\nTraceback (most recent call last):\n  File \"x\", line 1\nMemoryError\n",
        )
        .unwrap();
        assert!(tb.starts_with("Traceback"));
        assert_eq!(classify_exception(&tb), Verdict::MemoryLimit);
        assert_eq!(
            classify_exception(
                "Traceback\nnumpy._core._exceptions._ArrayMemoryError: Unable to allocate 8 TiB"
            ),
            Verdict::MemoryLimit
        );
        assert_eq!(
            classify_exception("Traceback\nOSError: [Errno 27] File too large"),
            Verdict::OutputLimit
        );
        assert_eq!(
            classify_exception("Traceback\nOSError: [Errno 12] Cannot allocate memory"),
            Verdict::MemoryLimit
        );
        assert_eq!(
            classify_exception("Traceback\nOSError: [Errno 28] No space left on device"),
            Verdict::OutputLimit
        );
        assert_eq!(
            classify_exception("Traceback\nValueError: bad input [Errno 12]?"),
            Verdict::RuntimeError,
            "only an OSError-like exception carries an errno"
        );
        assert_eq!(
            classify_exception("Traceback\nZeroDivisionError: division by zero"),
            Verdict::RuntimeError
        );
        assert_eq!(extract_traceback(b"no traceback"), None);
    }

    #[test]
    fn notes_after_the_exception_do_not_hide_it() {
        let tb = "Traceback (most recent call last):\n  File \"/job/main.py\", line 5, in hog\n    \
                  block = bytearray(2048 << 20)\n            ^^^^^\nMemoryError\nwhile running \
                  scanner 'hog' on ticker 'SYN0001'";
        assert_eq!(classify_exception(tb), Verdict::MemoryLimit);
        let tb = "Traceback (most recent call last):\n  File \"x\", line 1\nValueError: a\nmultiline \
                  MemoryError message";
        assert_eq!(classify_exception(tb), Verdict::RuntimeError);
    }
}
