//! The engine: the one door to quantd's operations. The CLI and the HTTP API (and the MCP tools
//! planned next) call the same functions here for packs ([`packs`]), stored code ([`code`]) and
//! executions ([`exec`]): a [`SubmitRequest`](exec::request::SubmitRequest) is checked against the
//! [`limits`](exec::limits) at the door, planned into shards and stored; one worker loop runs the
//! shards, whether `quantd serve` or `quantd worker` drives it ([`exec::pool`]) or a command runs
//! its execution in the foreground; pause, resume, cancel, retries by error class, recovery of
//! dead workers' shards and quarantine live beside it. What executions produce is read here too:
//! scan rows ([`scan`], [`results`]), A+ reports ([`atest`]), summaries ([`history`]), with
//! Python code run in the sandbox ([`python`]). Webhooks ([`webhooks`]) tell a workspace's URLs
//! when its executions end, from an outbox the store writes with the end.
//!
//! The engine never parses user input formats itself (that is quantd-data and quantd-expr),
//! never talks SQL or depends on one store backend (that is quantd-store, behind its contract;
//! [`AnyStore`] is the store chosen at run time), and never runs Python code in its own process
//! (that is quantd-sandbox): it sequences their steps so that every state change is recorded and
//! every failure leaves nothing half-done.

pub mod agents;
pub mod atest;
pub mod audit;
pub mod code;
pub mod db;
pub mod error;
pub mod evaluate;
pub mod exec;
pub mod history;
pub mod inputs;
mod locks;
pub mod lookahead;
pub mod pack_store;
pub mod packs;
pub mod pattern;
pub mod policy;
pub mod python;
pub mod results;
pub mod rights;
pub mod scan;
pub mod services;
pub mod views;
pub mod webhooks;

pub use error::{EngineError, Result};

/// The workspace of the CLI and of `quantd serve --no-auth`: executions and code names belong to a
/// workspace; packs are shared by all.
pub const DEFAULT_WORKSPACE: &str = "default";
pub use packs::{DataDir, ImportReport, Packs};
/// The store chosen at run time, and its configuration (a data directory, a database URL), so
/// surfaces open the engine without naming a backend.
pub use quantd_store::{AnyStore, StoreConfig};

/// The records surfaces read and list, as the engine hands them out (kept by the store).
pub mod records {
    pub use quantd_store::{
        Added, AuditEntry, AuditFilter, CodeName, CodeVersion, ExecutionFilter, ExecutionRecord,
        IdempotencyRecord, NewToken, PackRecord, Page, Paged, QueueStats, ShardRecord, StoreError,
        TokenRecord,
    };
}

/// Market data terms surfaces use in requests and output: import options, synthetic
/// universes, dates and times of bars (a pack's calendar: interval and zone), and text from data
/// made safe to print.
pub mod data {
    pub use quantd_data::bars::{date_from_day, try_date_from_day};
    pub use quantd_data::text::{cut, escape};
    pub use quantd_data::time::{Calendar, Epoch, Interval, Stamp, Zone};
    pub use quantd_data::when::When;
    pub use quantd_data::{ImportOptions, SynthSpec};
}

/// Backtest settings and statistics, as requests carry them and results report them.
pub mod backtest {
    pub use quantd_backtest::{Commission, Config, Fill, Metric, Sizing};
}

/// The code diagnostics errors carry (line, column, message, help).
pub use quantd_expr::Diagnostic;

/// The sandbox for Python code, as the binary starts it and `quantd runtime` provisions and
/// checks it.
pub mod sandbox {
    pub use quantd_sandbox::{
        CancelToken, Job, MemoryLimit, Runtime, RuntimeOptions, RuntimeStep, ShimCommand, Verdict,
        Zygote, host_support, run_shim_if_requested,
    };
}

/// `n` and `noun`, plural when `n` is not 1 ("1 ticker", "5 tickers").
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
