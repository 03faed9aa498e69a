//! The sandbox's errors: failures to run a job at all (as opposed to a job that ran and failed,
//! which is an [`crate::Outcome`] with a [`crate::Verdict`]).

use quantd_core::ErrorClass;

/// `Result` with this crate's [`SandboxError`].
pub type Result<T, E = SandboxError> = std::result::Result<T, E>;

/// Why a job could not be run, or its output could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The kernel refused to create the sandbox's namespaces; quantd refuses to run Python code.
    #[error(
        "the kernel refused to create the sandbox namespaces ({reason}); quantd will not run Python code without them. {fix}"
    )]
    NamespacesUnavailable {
        /// What the kernel said.
        reason: String,
        /// How to enable them.
        fix: String,
    },
    /// The configuration is unusable (missing interpreter, bad path).
    #[error("sandbox configuration: {0}")]
    Config(String),
    /// Starting the shim or talking to it failed.
    #[error("sandbox I/O ({context}): {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No longer returned: a zygote that cannot start is [`SandboxError::CannotStart`]. Kept so that
    /// code matching it still compiles.
    #[error("the Python zygote did not start: {0}")]
    ZygoteStart(String),
    /// The sandbox, its interpreter or the warm zygote could not start: the machine's or the
    /// runtime's problem, never the job's code or the request's. Class
    /// [`ErrorClass::Internal`], retried by default. `why` is the real cause (the failed stage
    /// explained), `fix` what the operator can change.
    #[error("{what}: {why}\nHow to fix: {fix}")]
    CannotStart {
        /// What could not start.
        what: String,
        /// Why.
        why: String,
        /// How to fix it.
        fix: String,
    },
    /// The Python runtime is missing or unusable, and could not be provisioned.
    #[error("{what}: {why}\nHow to fix: {fix}")]
    Runtime {
        /// What failed.
        what: String,
        /// Why (the tool's own message).
        why: String,
        /// How to fix it.
        fix: String,
    },
    /// The code validator itself failed (as opposed to finding problems in the code).
    #[error("code validation failed: {0}")]
    Validator(String),
    /// A job's limit is outside its bounds ([`crate::LimitBounds`]): nothing was started. The
    /// request asked for too much (or for nothing); class
    /// [`ErrorClass::Validation`].
    #[error("the sandbox limit `{limit}` ({what}) is {value}, outside its bounds {range}: {fix}")]
    InvalidLimit {
        /// The [`crate::Limits`] field.
        limit: &'static str,
        /// What it limits.
        what: &'static str,
        /// The value asked for.
        value: String,
        /// The allowed range.
        range: String,
        /// How to fix the request (or raise the bound).
        fix: String,
    },
    /// The job was cancelled through its [`crate::CancelToken`]; its process tree is gone.
    #[error("the job was cancelled")]
    Cancelled,
    /// An output file is not a plain regular file (a symlink, FIFO, device or directory) or is too
    /// large: user code may have planted it to make the host read something else.
    #[error("output {name:?} refused: {why}")]
    UnsafeOutput {
        /// The file's name in the job's output directory.
        name: String,
        /// Why it was refused.
        why: String,
    },
}

impl SandboxError {
    /// The engine's class for this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            SandboxError::NamespacesUnavailable { .. }
            | SandboxError::Config(_)
            | SandboxError::ZygoteStart(_)
            | SandboxError::CannotStart { .. }
            | SandboxError::Validator(_)
            | SandboxError::Runtime { .. } => ErrorClass::Internal,
            SandboxError::Io { .. } | SandboxError::Cancelled => ErrorClass::Internal,
            SandboxError::UnsafeOutput { .. } => ErrorClass::Policy,
            SandboxError::InvalidLimit { .. } => ErrorClass::Validation,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SandboxError::Io {
            context: context.into(),
            source,
        }
    }
}
