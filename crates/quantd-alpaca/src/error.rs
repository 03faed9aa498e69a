//! The crate's error: what a request to Alpaca can fail with, its [`ErrorClass`], and how it
//! becomes a [`BrokerError`]. No variant ever holds the secret key: messages are built from the
//! method, the path and Alpaca's `{"code","message"}` body.

use quantd_backtest::broker::BrokerError;
use quantd_core::ErrorClass;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the Alpaca broker can fail with.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is incomplete or unsafe (missing keys, a live URL not allowed).
    #[error("{0}")]
    Config(String),
    /// The request was refused before reaching Alpaca (ticker index, size, prices).
    #[error("{0}")]
    Invalid(String),
    /// Alpaca did not accept the keys (HTTP 401, or 403 when checking the account).
    #[error(
        "Alpaca refused the API keys (HTTP {status}): {message}; check APCA_API_KEY_ID and APCA_API_SECRET_KEY, and that they belong to the endpoint in use"
    )]
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// Alpaca's message.
        message: String,
    },
    /// Alpaca answered a 4xx other than 429: the request itself is refused.
    #[error("Alpaca refused {method} {path} (HTTP {status}{}): {message}", code_suffix(*.code))]
    Refused {
        /// The HTTP method.
        method: String,
        /// The path, without the query.
        path: String,
        /// The HTTP status.
        status: u16,
        /// Alpaca's error code, when the body had one.
        code: Option<u64>,
        /// Alpaca's message (or the start of the body).
        message: String,
    },
    /// Alpaca could not be reached, timed out, throttled (429) or failed (5xx): try again.
    #[error("Alpaca is unavailable ({method} {path}): {reason}")]
    Unavailable {
        /// The HTTP method.
        method: String,
        /// The path, without the query.
        path: String,
        /// What went wrong.
        reason: String,
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
    },
    /// Alpaca answered 2xx with a body this crate cannot read.
    #[error("Alpaca's answer to {method} {path} could not be read: {reason}")]
    Decode {
        /// The HTTP method.
        method: String,
        /// The path, without the query.
        path: String,
        /// The decoding error.
        reason: String,
    },
    /// No open order or trade with this id.
    #[error("{what} {id} is not open")]
    NotFound {
        /// `"order"` or `"trade"`.
        what: &'static str,
        /// The id asked for.
        id: u64,
    },
}

fn code_suffix(code: Option<u64>) -> String {
    code.map(|c| format!(", code {c}")).unwrap_or_default()
}

impl Error {
    /// The engine's class of the error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Config(_)
            | Error::Invalid(_)
            | Error::Refused { .. }
            | Error::NotFound { .. } => ErrorClass::Validation,
            Error::Unauthorized { .. } => ErrorClass::Policy,
            Error::Unavailable { .. } => ErrorClass::Network,
            Error::Decode { .. } => ErrorClass::Internal,
        }
    }

    /// Whether the same request may succeed later (network, 429, 5xx).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }

    /// Whether Alpaca answered at all (a request without an answer may still have taken effect).
    pub(crate) fn had_answer(&self) -> bool {
        !matches!(self, Error::Unavailable { status: None, .. })
    }
}

impl From<Error> for BrokerError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { what, id } => BrokerError::NotFound { what, id },
            Error::Unavailable { .. } | Error::Decode { .. } => {
                BrokerError::Unavailable(e.to_string())
            }
            Error::Config(_)
            | Error::Invalid(_)
            | Error::Unauthorized { .. }
            | Error::Refused { .. } => BrokerError::Invalid(e.to_string()),
        }
    }
}
