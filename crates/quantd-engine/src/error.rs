//! The engine's error: what the CLI, the API and MCP report, with its [`ErrorClass`].

use quantd_core::ErrorClass;

/// Everything an engine operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Reading, importing or writing market data failed.
    #[error(transparent)]
    Data(#[from] quantd_data::DataError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] quantd_store::StoreError),
    /// The backtester refused its settings or a parameter grid (class of the backtester's error).
    #[error(transparent)]
    Backtest(#[from] quantd_backtest::BacktestError),
    /// Evaluating compiled code failed (a bug of the engine or the language, never the user's
    /// code, which was checked when compiled): class `internal`.
    #[error(transparent)]
    Eval(#[from] quantd_expr::EvalError),
    /// The sandbox could not run Python code (class of the sandbox's error).
    #[error(transparent)]
    Sandbox(#[from] quantd_sandbox::SandboxError),
    /// A named thing does not exist.
    #[error("{what} not found{hint}")]
    NotFound {
        /// What was looked up.
        what: String,
        /// A suggestion, starting with `; `.
        hint: String,
    },
    /// The request is wrong; the message says how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this here (a setting of the workspace or the server forbids it);
    /// the message says who can allow it.
    #[error("{0}")]
    NotAllowed(String),
    /// The pack is not ready (warming) or unusable (error).
    #[error("{message}")]
    PackNotReady {
        /// What is wrong and what to do.
        message: String,
        /// When a warming pack should be ready.
        estimated_ready: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A file or directory of the data directory could not be used.
    #[error("{action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Scanner or strategy code is wrong; `rendered` shows the source with carets.
    #[error("{rendered}")]
    Expression {
        /// The diagnostics rendered under the source lines.
        rendered: String,
        /// The first diagnostic, on one line.
        message: String,
        /// Every diagnostic, with line and column, for APIs that report them as data.
        diagnostics: Vec<quantd_expr::Diagnostic>,
    },
    /// A pattern document is wrong: every problem with its JSON path.
    #[error("{rendered}")]
    Pattern {
        /// The first problem, on one line.
        message: String,
        /// Every problem, one per line.
        rendered: String,
        /// The problems, for APIs that report them as data.
        problems: Vec<quantd_pattern::Problem>,
    },
    /// The request asks for more than a limit allows (see [`crate::exec::limits`]); the message
    /// names the limit, its value and how to change it.
    #[error("{message}")]
    Limit {
        /// The limit's name (`max_grid`, `max_param_sets`, …).
        limit: &'static str,
        /// What is over which limit, and what to do.
        message: String,
    },
    /// Data rights forbid it (docs/rights.md): the message names the provider and what stays
    /// readable.
    #[error("{message}")]
    Policy {
        /// The provider (or providers) whose terms forbid it.
        provider: String,
        /// What was refused, why, and what to do instead.
        message: String,
    },
    /// The work was cancelled on request.
    #[error("cancelled")]
    Cancelled,
    /// A background task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Results of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    /// The error's class.
    pub fn class(&self) -> ErrorClass {
        match self {
            EngineError::Data(e) => e.class(),
            EngineError::Store(e) => e.class(),
            EngineError::Backtest(e) => e.class(),
            EngineError::Eval(_) => ErrorClass::Internal,
            EngineError::Sandbox(e) => e.class(),
            EngineError::NotFound { .. }
            | EngineError::Invalid(_)
            | EngineError::Expression { .. }
            | EngineError::Pattern { .. }
            | EngineError::Limit { .. } => ErrorClass::Validation,
            EngineError::PackNotReady { .. } => ErrorClass::Data,
            EngineError::Policy { .. } | EngineError::NotAllowed(_) => ErrorClass::Policy,
            EngineError::Io { .. } => ErrorClass::Network,
            EngineError::Internal(_) | EngineError::Cancelled => ErrorClass::Internal,
        }
    }

    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        EngineError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
