//! Pack states and rights metadata.
//!
//! A pack is `warming` while it is written, `fresh` when it is the newest pack of its name,
//! `stale` once a newer pack of the same name exists, and `error` when its import died or failed
//! after it was registered. What a pack's data may be used for is its [`crate::rights::Rights`].

use crate::error::IllegalTransition;
use crate::state::{StateMachine, display_by_name};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The freshness state of a pack in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PackState {
    /// Being written; not readable yet.
    Warming,
    /// The newest complete pack of its name.
    Fresh,
    /// Complete, but a newer pack of the same name exists.
    Stale,
    /// The import failed or was interrupted; never readable.
    Error,
}

impl StateMachine for PackState {
    const ENTITY: &'static str = "pack";
    const ALL: &'static [Self] = &[Self::Warming, Self::Fresh, Self::Stale, Self::Error];

    fn name(self) -> &'static str {
        match self {
            Self::Warming => "warming",
            Self::Fresh => "fresh",
            Self::Stale => "stale",
            Self::Error => "error",
        }
    }

    fn can_become(self, to: Self) -> bool {
        use PackState::*;
        // Stale → fresh: importing the same content again under the same name makes it the
        // newest again.
        matches!(
            (self, to),
            (Warming, Fresh | Error) | (Fresh, Stale) | (Stale, Fresh)
        )
    }
}

impl PackState {
    /// Whether bars of a pack in this state may be read.
    pub fn is_readable(self) -> bool {
        matches!(self, PackState::Fresh | PackState::Stale)
    }
    /// Checked transition (see [`StateMachine::transition`]).
    pub fn to(self, next: PackState) -> Result<PackState, IllegalTransition> {
        self.transition(next)
    }
}

display_by_name!(PackState);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::assert_exact_rules;

    #[test]
    fn pack_transitions_are_exactly_the_documented_ones() {
        use PackState::*;
        assert_exact_rules(&[
            (Warming, Fresh),
            (Warming, Error),
            (Fresh, Stale),
            (Stale, Fresh),
        ]);
        assert!(Error.is_terminal());
    }

    #[test]
    fn only_complete_packs_are_readable() {
        let readable: Vec<_> = PackState::ALL.iter().filter(|s| s.is_readable()).collect();
        assert_eq!(readable, [&PackState::Fresh, &PackState::Stale]);
    }
}
