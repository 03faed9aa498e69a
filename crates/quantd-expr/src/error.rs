//! Errors of evaluation (source errors are [`crate::ExprError`]).

/// Evaluating a [`crate::Program`] failed: the columns passed do not fit it, or a kernel refused.
/// Both are bugs in the caller or in this crate, not in the user's code, which was fully checked
/// at compile time.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The number of columns passed differs from [`crate::Program::columns`].
    #[error("expected {} input columns ({}), but {found} were passed", expected.len(), expected.join(", "))]
    ColumnCount {
        /// The columns the program reads, in order.
        expected: Vec<String>,
        /// How many were passed.
        found: usize,
    },
    /// The columns passed are not all of one length.
    #[error("column `{column}` has {found} values, but `{first}` has {expected}")]
    ColumnLength {
        /// The column whose length differs.
        column: String,
        /// Its length.
        found: usize,
        /// The first column, whose length sets the number of bars.
        first: String,
        /// The first column's length.
        expected: usize,
    },
    /// An indicator kernel returned an error.
    #[error("indicator `{function}` failed: {source}")]
    Kernel {
        /// The function's name in the language.
        function: &'static str,
        /// The kernel's error.
        #[source]
        source: quantd_ta::TaError,
    },
}
