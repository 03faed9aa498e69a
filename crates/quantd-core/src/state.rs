//! The state machines of executions and shards, with their legal transitions.
//!
//! ```text
//! execution: pending ──► running ──► completed
//!               │  ▲        │ ▲ ──► failed
//!               ▼  │        ▼ │ ──► cancelled
//!              paused ◄─────┘ │     (pending, running and paused may all be cancelled or failed)
//!                 └───────────┘
//! shard:     pending ──► running ──► done | failed | cancelled
//!               ▲           │
//!               └───────────┘  (lease expired, retry scheduled, or paused before it started work)
//! ```
//! Terminal states (`completed`, `failed`, `cancelled`, `done`) have no way out: a finished thing
//! stays finished, so its results can be trusted.

use crate::error::IllegalTransition;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A state machine whose legal moves are a fixed table.
pub trait StateMachine: Copy + Eq + fmt::Debug + 'static {
    /// What the states belong to (`execution`, `shard`, `pack`), for error messages.
    const ENTITY: &'static str;
    /// Every state, for exhaustive tests and docs.
    const ALL: &'static [Self];
    /// The state's stable name.
    fn name(self) -> &'static str;
    /// Whether moving from `self` to `to` is allowed.
    fn can_become(self, to: Self) -> bool;
    /// Whether no transition leaves this state.
    fn is_terminal(self) -> bool {
        Self::ALL.iter().all(|&to| !self.can_become(to))
    }
    /// The checked move: `to`, or the reason it is illegal.
    fn transition(self, to: Self) -> Result<Self, IllegalTransition> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(IllegalTransition {
                entity: Self::ENTITY,
                from: self.name(),
                to: to.name(),
            })
        }
    }
}

/// Where an execution is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExecutionState {
    /// Created and planned; no shard has started yet.
    Pending,
    /// At least one shard has started and the execution is not finished.
    Running,
    /// No new shard starts; running shards stop and go back to the queue. Resumed by `resume`.
    Paused,
    /// Every shard is done (or failed under an `on-shard-failure continue` policy).
    Completed,
    /// Ended by an error; results committed so far stay readable.
    Failed,
    /// Ended on request; results committed so far stay readable.
    Cancelled,
}

impl StateMachine for ExecutionState {
    const ENTITY: &'static str = "execution";
    const ALL: &'static [Self] = &[
        Self::Pending,
        Self::Running,
        Self::Paused,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn can_become(self, to: Self) -> bool {
        use ExecutionState::*;
        matches!(
            (self, to),
            (Pending, Running | Paused | Failed | Cancelled)
                | (Running, Paused | Completed | Failed | Cancelled)
                | (Paused, Pending | Running | Failed | Cancelled)
        )
    }
}

/// Where a shard is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardState {
    /// Waiting to be claimed (possibly not before a backoff deadline).
    Pending,
    /// Claimed by a worker under a lease.
    Running,
    /// Its results are committed, together with this state.
    Done,
    /// Out of attempts, or failed with a non-retryable error.
    Failed,
    /// Its execution was cancelled before the shard finished.
    Cancelled,
}

impl StateMachine for ShardState {
    const ENTITY: &'static str = "shard";
    const ALL: &'static [Self] = &[
        Self::Pending,
        Self::Running,
        Self::Done,
        Self::Failed,
        Self::Cancelled,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn can_become(self, to: Self) -> bool {
        use ShardState::*;
        matches!(
            (self, to),
            (Pending, Running | Cancelled) | (Running, Pending | Done | Failed | Cancelled)
        )
    }
}

macro_rules! display_by_name {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                <$t as StateMachine>::ALL
                    .iter()
                    .copied()
                    .find(|st| st.name() == s)
                    .ok_or_else(|| {
                        let names: Vec<_> = <$t as StateMachine>::ALL.iter().map(|st| st.name()).collect();
                        format!("unknown {} state `{s}`; expected one of {}", <$t as StateMachine>::ENTITY, names.join(", "))
                    })
            }
        }
    )*};
}
pub(crate) use display_by_name;
display_by_name!(ExecutionState, ShardState);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks `M::can_become` against an explicit list of every allowed pair: any pair not listed
    /// must be refused, with an error naming both states.
    pub(crate) fn assert_exact_rules<M: StateMachine>(allowed: &[(M, M)]) {
        for &from in M::ALL {
            for &to in M::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(
                    from.can_become(to),
                    expected,
                    "{} {from:?} → {to:?}",
                    M::ENTITY
                );
                match from.transition(to) {
                    Ok(s) => assert_eq!(s, to),
                    Err(e) => {
                        assert!(!expected);
                        assert_eq!((e.from, e.to), (from.name(), to.name()));
                        assert!(e.to_string().contains(M::ENTITY));
                    }
                }
            }
        }
    }

    #[test]
    fn execution_transitions_are_exactly_the_documented_ones() {
        use ExecutionState::*;
        assert_exact_rules(&[
            (Pending, Running),
            (Pending, Paused),
            (Pending, Failed),
            (Pending, Cancelled),
            (Running, Paused),
            (Running, Completed),
            (Running, Failed),
            (Running, Cancelled),
            (Paused, Pending),
            (Paused, Running),
            (Paused, Failed),
            (Paused, Cancelled),
        ]);
    }

    #[test]
    fn shard_transitions_are_exactly_the_documented_ones() {
        use ShardState::*;
        assert_exact_rules(&[
            (Pending, Running),
            (Pending, Cancelled),
            (Running, Pending),
            (Running, Done),
            (Running, Failed),
            (Running, Cancelled),
        ]);
    }

    #[test]
    fn terminal_states() {
        let terminal: Vec<_> = ExecutionState::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                &ExecutionState::Completed,
                &ExecutionState::Failed,
                &ExecutionState::Cancelled
            ]
        );
        let terminal: Vec<_> = ShardState::ALL.iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(
            terminal,
            [
                &ShardState::Done,
                &ShardState::Failed,
                &ShardState::Cancelled
            ]
        );
    }

    #[test]
    fn names_parse_back() {
        for &s in ExecutionState::ALL {
            assert_eq!(s.name().parse::<ExecutionState>().unwrap(), s);
        }
        let err = "runing".parse::<ExecutionState>().unwrap_err();
        assert!(err.contains("pending, running"), "{err}");
    }
}
