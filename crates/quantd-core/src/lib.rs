//! quantd's domain: the vocabulary of `DESIGN.md` as types, and the rules between them.
//!
//! Ids ([`PackId`], [`ExecutionId`], [`ShardId`], [`CodeVersionId`]), execution specs
//! ([`ExecutionSpec`] and its [`ExecutionKind`]), the state machines of executions, shards and packs
//! with their legal transitions ([`state`]), the [`Event`] record of what happened, the
//! [`ErrorClass`] every error is sorted into, pack rights metadata, and the [`Progress`] sink that
//! long operations report to.
//!
//! This crate must never do I/O, spawn threads, read the clock or depend on another quantd crate:
//! everything here is plain data and pure rules, so every layer can share it and test it cheaply.

pub mod error;
pub mod event;
pub mod ids;
pub mod pack;
pub mod progress;
pub mod spec;
pub mod state;

pub use error::{ErrorClass, IllegalTransition, bounded_message};
pub use event::{Event, EventRecord};
pub use ids::{CodeVersionId, ExecutionId, IdError, PackId, ShardId};
pub use pack::{PackState, Rights};
pub use progress::{NoProgress, Progress};
pub use spec::{CodeRef, ExecutionKind, ExecutionSpec, Universe};
pub use state::{ExecutionState, ShardState};
