//! quantd's expression language for scanners and strategies: parse (with spans) → check →
//! compile (identical sub-expressions computed once) → evaluate over one ticker's columns.
//!
//! ```
//! use quantd_expr::{Params, Schema, Workspace, compile};
//!
//! let src = "let ma = sma(close, 3);\nclose > ma and close > $min_price";
//! let params = Params::from([("min_price".to_string(), 11.5)]);
//! let program = compile(src, &Schema::ohlcv(), &params)?;
//! assert_eq!(program.columns(), ["close"]);
//!
//! let close = [10.0, 11.0, 10.5, 12.0, 11.0, 13.0];
//! let mut ws = Workspace::new();
//! let eval = program.evaluate(&[&close], &mut ws)?;
//! assert_eq!(eval.output(0), [false, false, false, true, false, true]);
//! assert_eq!(eval.indicator(0)[3], (11.0 + 10.5 + 12.0) / 3.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The language is described for users in `docs/expressions.md`. [`check`] validates code
//! without parameter values (for storing it); [`compile`] and [`compile_set`] need every
//! parameter and produce a [`Program`]. Source errors are an [`ExprError`] of [`Diagnostic`]s
//! with line, column and help; [`ExprError::render`] shows them with the source.
//!
//! Functions of time (`hour`, `minute`, `day_of_week`, `time_of_day`, `bars_since_open`,
//! `first_bar_of_day`, `vwap`, `day_open`, `day_high`, `day_low`, `prev_day_close`) are values of
//! each bar, written bare (`hour >= 10`) or as calls (`hour()`). They read the bar's clock: a
//! program that uses them lists the [`clock`] columns it needs (`@session`, `@minute_of_day`,
//! `@weekday`) in [`Program::columns`], after the pack's, and the caller computes them from the
//! bars' instants in the pack's time zone. A bare name is a `let` first, then a pack column, then
//! the function of time; the call form always means the function.
//!
//! Programs are bounded: the `_with` entry points ([`compile_with`], [`check_with`], ...) take
//! the [`Limits`] to apply (source size, `let`s, nodes, name length, kernel calls, slots), the
//! others apply [`Limits::default`]. A compiled program prices itself before it runs:
//! [`Program::cost`] gives its work and memory per bar and the width of its result rows, from
//! its plan alone.
//!
//! This crate never does I/O and never panics on any source text: every problem in user code
//! is found before data is read, in time linear in the size of the code, and evaluation fails
//! only when the caller passes columns that do not fit the program. No kernel costs more than
//! O(n log n) in the number of bars, whatever the periods (see [`Cost`]).

mod ast;
mod check;
pub mod clock;
mod compile;
mod cost;
mod diagnostic;
mod error;
mod functions;
mod kernels;
mod lexer;
mod limits;
mod parser;
mod plan;
mod program;
mod schedule;
mod ta;

use std::collections::BTreeMap;

pub use clock::is_clock_column;
pub use cost::Cost;
pub use diagnostic::{Diagnostic, ExprError, Location, Span, did_you_mean, suggest};
pub use error::EvalError;
pub use limits::Limits;
pub use program::{Evaluation, Program, Workspace};

/// Parameter values by name (without the `$`), as given by `--param name=value`.
pub type Params = BTreeMap<String, f64>;

/// The numeric columns code may refer to by name: OHLCV and any extra column of the pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    columns: Vec<String>,
}

impl Schema {
    /// A schema of these columns, in this order (the order [`Program::columns`] follows).
    /// Repeated names are kept once.
    pub fn new<I, S>(columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut out: Vec<String> = Vec::new();
        for c in columns {
            let c = c.into();
            if !out.contains(&c) {
                out.push(c);
            }
        }
        Schema { columns: out }
    }

    /// `open high low close volume`.
    pub fn ohlcv() -> Self {
        Schema::new(["open", "high", "low", "close", "volume"])
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The position of column `name`, if the schema has it.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

impl Default for Schema {
    fn default() -> Self {
        Schema::ohlcv()
    }
}

/// What [`check`] learned about valid code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckInfo {
    /// Parameter names used (without `$`), sorted: each needs a value to compile.
    pub params: Vec<String>,
    /// `let` names, in source order: the indicator columns an evaluation reports.
    pub lets: Vec<String>,
    /// Columns used, in the order of [`Program::columns`]: the schema's columns (those the
    /// functions of time read included) in schema order, then the clock columns
    /// ([`clock::COLUMNS`]) the functions of time read.
    pub columns: Vec<String>,
}

/// Parses and type-checks scanner code without parameter values: every error but a missing or
/// unused parameter is found. For validating code before it is stored. Applies
/// [`Limits::default`]; see [`check_with`].
pub fn check(src: &str, schema: &Schema) -> Result<CheckInfo, ExprError> {
    check_with(src, schema, &Limits::default())
}

/// [`check`] within `limits`.
pub fn check_with(src: &str, schema: &Schema, limits: &Limits) -> Result<CheckInfo, ExprError> {
    compile::check_sources(&[("signal", src)], schema, false, limits)
}

/// [`check`] for a set of named expressions (e.g. a strategy's `entry` and `exit`); diagnostics
/// name the expression they are in ([`Diagnostic::origin`]). Applies [`Limits::default`]; see
/// [`check_set_with`].
pub fn check_set(srcs: &[(&str, &str)], schema: &Schema) -> Result<CheckInfo, ExprError> {
    check_set_with(srcs, schema, &Limits::default())
}

/// [`check_set`] within `limits` (sizes of the set as a whole).
pub fn check_set_with(
    srcs: &[(&str, &str)],
    schema: &Schema,
    limits: &Limits,
) -> Result<CheckInfo, ExprError> {
    compile::check_sources(srcs, schema, true, limits)
}

/// Compiles scanner code into a [`Program`] with one output, `signal`. Every parameter the code
/// uses needs a value, and every value given must be used. Applies [`Limits::default`]; see
/// [`compile_with`].
pub fn compile(src: &str, schema: &Schema, params: &Params) -> Result<Program, ExprError> {
    compile_with(src, schema, params, &Limits::default())
}

/// [`compile`] within `limits`.
pub fn compile_with(
    src: &str,
    schema: &Schema,
    params: &Params,
    limits: &Limits,
) -> Result<Program, ExprError> {
    compile::compile_sources(&[("signal", src)], schema, params, false, limits)
}

/// Compiles named expressions into one [`Program`] with one output per expression, in order.
/// Sub-expressions they share are computed once. A `let` name used in several of them must have
/// the same definition in each (it is one indicator). A parameter counts as used if any
/// expression uses it. Applies [`Limits::default`]; see [`compile_set_with`].
pub fn compile_set(
    srcs: &[(&str, &str)],
    schema: &Schema,
    params: &Params,
) -> Result<Program, ExprError> {
    compile_set_with(srcs, schema, params, &Limits::default())
}

/// [`compile_set`] within `limits` (sizes of the set as a whole).
pub fn compile_set_with(
    srcs: &[(&str, &str)],
    schema: &Schema,
    params: &Params,
    limits: &Limits,
) -> Result<Program, ExprError> {
    compile::compile_sources(srcs, schema, params, true, limits)
}
