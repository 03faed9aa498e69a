//! The engine: the one implementation of quantd's operations, called alike by the CLI, the HTTP
//! API and MCP. Today it owns the pack lifecycle ([`packs`]); executions (planning, scheduling,
//! lifecycle, retries, recovery, events) join it next.
//!
//! The engine never parses user input formats itself (that is quantd-data and quantd-expr) and
//! never talks SQL (that is quantd-store): it sequences their steps so that every state change is
//! recorded and every failure leaves nothing half-done.

pub mod atest;
pub mod code;
pub mod error;
pub mod exec;
pub mod history;
mod locks;
pub mod packs;
pub mod python;
pub mod results;
pub mod scan;

pub use error::{EngineError, Result};

/// The workspace of the CLI and of `quantd serve --no-auth`: executions and code names belong to a
/// workspace; packs are shared by all.
pub const DEFAULT_WORKSPACE: &str = "default";
pub use packs::{DataDir, ImportReport, Packs};
/// The store chosen at run time, and its configuration (a data directory, a database URL), so
/// surfaces open the engine without naming a backend.
pub use quantd_store::{AnyStore, StoreConfig};
