//! The crate's two errors: [`ConfigError`] for an agent or breaker configuration that cannot be
//! used (which field, what was wrong, what is allowed), and [`AgentError`] for a call that did
//! not produce an answer, with the two questions the engine asks of it: its [`class`] and
//! whether it is [`retryable`], plus the one the breaker asks: does it count against the agent.
//!
//! [`class`]: AgentError::class
//! [`retryable`]: AgentError::retryable

use std::fmt;

/// An agent or circuit breaker configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The agent the problem is in, when the configuration was one of several.
    pub agent: Option<String>,
    /// The field, as a path from the agent's configuration: `url`, `capabilities[1]`,
    /// `breaker.failure_rate_threshold`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ConfigError {
    /// A problem with `field`.
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            agent: None,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same problem, with its field seen from a parent (`breaker` + `wait…` → `breaker.wait…`).
    pub(crate) fn under(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }

    /// The same problem, in the named agent.
    pub(crate) fn in_agent(mut self, agent: &str) -> Self {
        self.agent = Some(agent.to_owned());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(agent) = &self.agent {
            write!(f, "agent `{agent}`: ")?;
        }
        write!(f, "`{}` {}", self.field, self.message)
    }
}

/// Why a call to an agent produced no answer.
///
/// | variant | class | retryable | counts against the agent's breaker |
/// | --- | --- | --- | --- |
/// | [`Timeout`](Self::Timeout) | `timeout` | yes | yes |
/// | [`Transport`](Self::Transport) | `transport` | yes | yes |
/// | [`Status`](Self::Status) 5xx or 429 | `status` | yes | yes |
/// | [`Status`](Self::Status) other (3xx, 4xx) | `status` | no | no: the task's (or the setup's) fault |
/// | [`BadResponse`](Self::BadResponse) | `bad_response` | no | yes |
/// | [`CircuitOpen`](Self::CircuitOpen) | `circuit_open` | yes | no call was made |
/// | [`NoAgent`](Self::NoAgent) | `no_agent` | no | no call was made |
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AgentError {
    /// The agent did not answer in full within the call's timeout.
    #[error("agent `{agent}` did not answer within {timeout_ms} ms")]
    Timeout {
        /// The agent called.
        agent: String,
        /// The call's timeout.
        timeout_ms: u64,
    },
    /// The request or its answer did not get through: connection refused or reset, DNS, TLS.
    #[error("agent `{agent}` could not be reached: {message}")]
    Transport {
        /// The agent called.
        agent: String,
        /// What the HTTP client said.
        message: String,
    },
    /// The agent answered with a status other than 2xx.
    #[error("agent `{agent}` answered HTTP {status}: {body_head}")]
    Status {
        /// The agent called.
        agent: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body (at most [`BODY_HEAD_BYTES`] bytes, lossy UTF-8), to
        /// say why.
        body_head: String,
    },
    /// The agent answered 2xx with a body that is not JSON, or is larger than the limit.
    #[error("agent `{agent}` answered with a bad response: {message}")]
    BadResponse {
        /// The agent called.
        agent: String,
        /// What was wrong with it.
        message: String,
    },
    /// Every agent with the capability is behind an open (or busy half-open) circuit breaker:
    /// no call was made.
    #[error("{}", circuit_open_message(capability, agents, *reopens_at_ms))]
    CircuitOpen {
        /// The capability asked for.
        capability: String,
        /// The agents that have it, all refusing calls.
        agents: Vec<String>,
        /// The earliest instant (unix ms) one of them lets a call through again; `None` when
        /// one of them is half-open with its probe calls in flight, which may end at any time.
        reopens_at_ms: Option<i64>,
    },
    /// No registered agent has the capability.
    #[error("{}", no_agent_message(capability, known))]
    NoAgent {
        /// The capability asked for.
        capability: String,
        /// The capabilities the registered agents have, sorted.
        known: Vec<String>,
    },
}

/// How much of a non-2xx answer's body an [`AgentError::Status`] keeps.
pub const BODY_HEAD_BYTES: usize = 512;

fn circuit_open_message(capability: &str, agents: &[String], reopens_at_ms: Option<i64>) -> String {
    let when = match reopens_at_ms {
        Some(ms) => format!("a call is let through again at {ms} (unix ms)"),
        None => "a call is let through again when the probe calls in flight finish".to_owned(),
    };
    format!(
        "every agent with capability `{capability}` ({}) is behind an open circuit breaker; {when}",
        agents.join(", ")
    )
}

fn no_agent_message(capability: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("no agent has capability `{capability}`: no agent is registered")
    } else {
        format!(
            "no agent has capability `{capability}`; the registered agents have: {}",
            known.join(", ")
        )
    }
}

impl AgentError {
    /// The error's class, a stable snake_case name for the engine, logs and the API:
    /// `timeout`, `transport`, `status`, `bad_response`, `circuit_open` or `no_agent`.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "timeout",
            Self::Transport { .. } => "transport",
            Self::Status { .. } => "status",
            Self::BadResponse { .. } => "bad_response",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::NoAgent { .. } => "no_agent",
        }
    }

    /// Whether the same call may succeed later: timeouts, transport errors, 5xx and 429, and an
    /// open circuit (after [`reopens_at_ms`](Self::CircuitOpen::reopens_at_ms)). Other statuses
    /// (the task's fault), bad responses and unknown capabilities would fail again.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Transport { .. } | Self::CircuitOpen { .. } => true,
            Self::Status { status, .. } => status_is_agent_failure(*status),
            Self::BadResponse { .. } | Self::NoAgent { .. } => false,
        }
    }

    /// Whether the error says the agent is unhealthy, so its circuit breaker records the call as
    /// failed. A 3xx or 4xx other than 429 says the request was wrong (the task's input, or a
    /// wrong secret), not that the agent is down: the breaker ignores that call.
    pub fn counts_against_agent(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Transport { .. } | Self::BadResponse { .. } => true,
            Self::Status { status, .. } => status_is_agent_failure(*status),
            Self::CircuitOpen { .. } | Self::NoAgent { .. } => false,
        }
    }

    /// The agent the call went to, when one was called.
    pub fn agent(&self) -> Option<&str> {
        match self {
            Self::Timeout { agent, .. }
            | Self::Transport { agent, .. }
            | Self::Status { agent, .. }
            | Self::BadResponse { agent, .. } => Some(agent),
            Self::CircuitOpen { .. } | Self::NoAgent { .. } => None,
        }
    }
}

/// 5xx and 429 (too many requests) are the agent's trouble; other statuses are the request's.
fn status_is_agent_failure(status: u16) -> bool {
    status >= 500 || status == 429
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> AgentError {
        AgentError::Status {
            agent: "a".into(),
            status: code,
            body_head: String::new(),
        }
    }

    #[test]
    fn statuses_are_classified_by_whose_fault_they_are() {
        for code in [500, 502, 503, 504, 429] {
            assert!(status(code).retryable(), "{code}");
            assert!(status(code).counts_against_agent(), "{code}");
        }
        for code in [301, 400, 401, 403, 404, 408, 422] {
            assert!(!status(code).retryable(), "{code}");
            assert!(!status(code).counts_against_agent(), "{code}");
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let open = AgentError::CircuitOpen {
            capability: "summarize".into(),
            agents: vec!["a".into(), "b".into()],
            reopens_at_ms: Some(1_000),
        };
        assert_eq!(
            open.to_string(),
            "every agent with capability `summarize` (a, b) is behind an open circuit breaker; \
             a call is let through again at 1000 (unix ms)"
        );
        assert_eq!(open.class(), "circuit_open");
        assert!(open.retryable());
        let none = AgentError::NoAgent {
            capability: "x".into(),
            known: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            none.to_string(),
            "no agent has capability `x`; the registered agents have: a, b"
        );
        assert!(!none.retryable());
        let config = ConfigError::new("sliding_window_size", "must be at least 1, got 0")
            .under("breaker")
            .in_agent("a");
        assert_eq!(
            config.to_string(),
            "agent `a`: `breaker.sliding_window_size` must be at least 1, got 0"
        );
    }
}
