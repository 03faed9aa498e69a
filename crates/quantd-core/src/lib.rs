//! quantd's domain: the vocabulary of `DESIGN.md` as types, and the rules between them.
//!
//! Ids ([`PackId`], [`ExecutionId`], [`ShardId`], [`CodeVersionId`]), the kinds of execution
//! ([`ExecutionKind`]), the state machines of executions, shards and packs with their legal
//! transitions ([`state`]), the [`Event`] record of what happened, the [`ErrorClass`] every error
//! is sorted into, data rights ([`rights`]: what may leave quantd of a pack's data), and the [`Progress`] sink that long operations report to.
//! What an execution is asked to do is the engine's request type (`SubmitRequest`), not a type
//! here: this crate holds only what every layer shares.
//!
//! This crate must never do I/O, spawn threads, read the clock or depend on another quantd crate:
//! everything here is plain data and pure rules, so every layer can share it and test it cheaply.

pub mod error;
pub mod event;
pub mod ids;
pub mod kind;
pub mod pack;
pub mod progress;
pub mod rights;
pub mod state;

pub use error::{ErrorClass, IllegalTransition, bounded_message};
pub use event::{Event, EventRecord};
pub use ids::{CodeVersionId, ExecutionId, IdError, PackId, ShardId};
pub use kind::{ExecutionKind, UnknownKind};
pub use pack::PackState;
pub use progress::{NoProgress, Progress};
pub use rights::{Disclosure, ExportPolicy, Provider, Rights, SourceTerms, Terms, Verdict};
pub use state::{ExecutionState, ShardState};
