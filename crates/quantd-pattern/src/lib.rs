//! Patterns: durable research routines written as a DAG of steps — "scan the market with my dip
//! scanner; if it still finds my A+ examples, backtest it on the tickers it fired on". This crate
//! holds the pattern document and everything that can be known about it before it runs:
//!
//! - [`document`]: the document's types, read from JSON with the path of every problem
//!   (`steps[2].needs[0]`), refusing unknown fields and documents over the [`Limits`];
//! - [`check`]: references between steps (with "did you mean"), cycles named in full
//!   (`a → b → c → a`), the fields each step's kind takes, inputs and their defaults;
//! - [`plan`]: the topological order and the parallel levels a pattern runs in;
//! - [`template`]: `{{ inputs.x }}`, `{{ state.<step>.outputs.<field> }}`, `{{ ctx.… }}` and
//!   `{{ item }}` on minijinja (strict, fueled), with the names each field reads.
//!
//! Like quantd-expr for expressions, it does no I/O and never panics on any document; the engine
//! stores patterns as code and runs them as `pattern` executions whose steps are child executions.

pub mod check;
pub mod document;
pub mod plan;
pub mod template;

pub use check::{KindFields, check};
pub use document::{Action, Input, InputType, Pattern, Problem, Step, StepKind, from_value, parse};
pub use plan::Plan;

/// The template engine, for callers that build template scopes (one version for all).
pub use minijinja;

/// The JSON Schema (draft 2020-12) of a pattern document: its shape, for editors and agents
/// (`GET /v1/schemas/pattern.json`, the MCP resource `quantd://schemas/pattern`). The checks
/// of [`check`] go further (references, templates, each kind's fields, cycles).
pub const JSON_SCHEMA: &str = include_str!("../schema/pattern.json");

/// Bounds on a pattern document, checked while it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the document.
    pub max_bytes: usize,
    /// Steps of one pattern.
    pub max_steps: usize,
    /// Inputs of one pattern.
    pub max_inputs: usize,
    /// Length of a step id or an input name, in characters.
    pub max_name_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 256 << 10,
            max_steps: 500,
            max_inputs: 100,
            max_name_len: 64,
        }
    }
}
