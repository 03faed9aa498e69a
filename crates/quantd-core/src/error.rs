//! Error classes and the one error this crate raises: an illegal state transition.
//!
//! Every failure anywhere in quantd is sorted into an [`ErrorClass`]; the engine's retry policy and
//! the API's problem types are keyed on it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of a failure, which decides whether it is worth retrying and how it is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The request or the code is wrong (bad expression, unknown column): fix the input.
    Validation,
    /// The market data is missing, malformed or inconsistent.
    Data,
    /// User code failed while running (an exception, a kernel error).
    Execution,
    /// A CPU or wall-clock limit was reached.
    Timeout,
    /// A resource limit was reached (memory, disk, output size, processes).
    Resource,
    /// The code tried something the sandbox forbids, or the data's rights forbid the operation.
    Policy,
    /// A bug or an unexpected state in quantd itself.
    Internal,
    /// A transient I/O or connectivity failure (database busy, storage unreachable).
    Network,
    /// An agent's circuit breaker is open: calls fail fast until it lets a probe through.
    CircuitOpen,
}

impl ErrorClass {
    /// All classes, in a stable order (for metrics and documentation).
    pub const ALL: [ErrorClass; 9] = [
        ErrorClass::Validation,
        ErrorClass::Data,
        ErrorClass::Execution,
        ErrorClass::Timeout,
        ErrorClass::Resource,
        ErrorClass::Policy,
        ErrorClass::Internal,
        ErrorClass::Network,
        ErrorClass::CircuitOpen,
    ];

    /// Whether a failure of this class is retried by default. Retrying cannot fix bad input, a
    /// policy refusal or a limit the same code will hit again; it can fix transient faults.
    pub fn retryable_by_default(self) -> bool {
        matches!(
            self,
            ErrorClass::Network | ErrorClass::Internal | ErrorClass::CircuitOpen
        )
    }

    /// The class's stable name, as used in APIs, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Validation => "validation",
            ErrorClass::Data => "data",
            ErrorClass::Execution => "execution",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Resource => "resource",
            ErrorClass::Policy => "policy",
            ErrorClass::Internal => "internal",
            ErrorClass::Network => "network",
            ErrorClass::CircuitOpen => "circuit_open",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state change that the rules of [`crate::state`] or [`crate::pack`] forbid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal {entity} transition: {from} → {to}")]
pub struct IllegalTransition {
    /// What changes state: `execution`, `shard` or `pack`.
    pub entity: &'static str,
    /// The current state.
    pub from: &'static str,
    /// The requested state.
    pub to: &'static str,
}

impl IllegalTransition {
    /// Illegal transitions are bugs in the caller, never the user's input.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_classes_retry_by_default() {
        let retried: Vec<_> = ErrorClass::ALL
            .into_iter()
            .filter(|c| c.retryable_by_default())
            .collect();
        assert_eq!(
            retried,
            vec![
                ErrorClass::Internal,
                ErrorClass::Network,
                ErrorClass::CircuitOpen
            ]
        );
    }

    #[test]
    fn class_names_round_trip_through_serde() {
        for class in ErrorClass::ALL {
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            let back: ErrorClass = serde_json::from_str(&json).unwrap();
            assert_eq!(back, class);
        }
    }
}

/// `message` cut to at most about `max` bytes: its head and tail (where a traceback's cause is)
/// around a note of how many bytes were left out. Messages of users' code and data reach the
/// store and every list of executions; none may grow them without bound.
pub fn bounded_message(message: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if message.len() <= max {
        return std::borrow::Cow::Borrowed(message);
    }
    let keep = max.saturating_sub(64) / 2;
    let head_end = floor_char_boundary(message, keep);
    let tail_start = ceil_char_boundary(message, message.len() - keep);
    let cut = tail_start - head_end;
    std::borrow::Cow::Owned(format!(
        "{} … [{cut} bytes cut] … {}",
        &message[..head_end],
        &message[tail_start..]
    ))
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod bounded_tests {
    use super::bounded_message;

    #[test]
    fn long_messages_keep_head_and_tail_and_say_what_was_cut() {
        assert_eq!(bounded_message("short", 100), "short");
        let long = format!("{}é{}", "a".repeat(5000), "z".repeat(5000));
        let b = bounded_message(&long, 1000);
        assert!(b.len() <= 1000, "{}", b.len());
        assert!(b.starts_with("aaa") && b.ends_with("zzz"));
        assert!(b.contains("bytes cut]"), "{b}");
        // Never splits a character.
        for max in 60..80 {
            let s = "é".repeat(100);
            assert!(bounded_message(&s, max).len() <= max);
        }
    }
}
