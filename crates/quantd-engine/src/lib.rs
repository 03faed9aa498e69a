//! The engine: the one door to quantd's operations. The CLI and the HTTP API (and the MCP tools
//! planned next) call the same functions here for packs ([`packs`]), stored code ([`code`]) and
//! executions ([`exec`]): a [`SubmitRequest`](exec::request::SubmitRequest) is checked against the
//! [`limits`](exec::limits) at the door, planned into shards and stored; one worker loop runs the
//! shards, whether `quantd serve` or `quantd worker` drives it ([`exec::pool`]) or a command runs
//! its execution in the foreground; pause, resume, cancel, retries by error class, recovery of
//! dead workers' shards and quarantine live beside it. What executions produce is read here too:
//! scan rows ([`scan`], [`results`]), A+ reports ([`atest`]), summaries ([`history`]), with
//! Python code run in the sandbox ([`python`]).
//!
//! The engine never parses user input formats itself (that is quantd-data and quantd-expr),
//! never talks SQL or depends on one store backend (that is quantd-store, behind its contract;
//! [`AnyStore`] is the store chosen at run time), and never runs Python code in its own process
//! (that is quantd-sandbox): it sequences their steps so that every state change is recorded and
//! every failure leaves nothing half-done.

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
