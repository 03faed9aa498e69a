//! Agents: external HTTP endpoints that take a JSON task and answer JSON, registered with the
//! capabilities a pattern's `call` steps name. This crate is the engine's side of that contract:
//!
//! - [`agent`]: an agent's configuration and the client that POSTs one task, signed with
//!   HMAC-SHA256, and reads one bounded JSON answer within a timeout;
//! - [`breaker`]: a count-based circuit breaker with resilience4j's states, rules and field
//!   names, a pure state machine on time passed in;
//! - [`registry`]: [`Agents`], routing a capability round robin among the agents whose breaker
//!   lets the call through, recording each outcome, and reporting every breaker's state;
//! - [`clock`]: the time it all runs on, manual in tests;
//! - [`error`]: [`AgentError`] with its class and whether a retry may help;
//! - [`notify`]: the same client, URL checks and signing for one-way notifications (the
//!   engine's webhooks), where only the answer's status matters.
//!
//! Agents are called from the engine, never from user code's sandbox. This crate knows no
//! store, engine or pattern: the engine resolves secrets and persists registrations. The wire
//! contract for agent authors is docs/agents.md.

pub mod agent;
pub mod breaker;
pub mod clock;
pub mod error;
pub mod notify;
pub mod registry;

pub use agent::{
    AgentClient, AgentConfig, ClientOptions, DEFAULT_MAX_RESPONSE_BYTES, SIGNATURE_HEADER,
    TASK_ID_HEADER, TIMESTAMP_HEADER, TaskRequest, sign, verify_signature,
};
pub use breaker::{
    BreakerMetrics, BreakerState, CallNotPermitted, CircuitBreaker, CircuitBreakerConfig, Permit,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AgentError, ConfigError};
pub use notify::{Notification, NotifyError, check_notify_url};
pub use registry::{AgentStatus, Agents, CallOutcome, Route};
