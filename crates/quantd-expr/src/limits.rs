//! [`Limits`]: how large a program may be. Each limit is checked while the code is parsed,
//! checked or compiled, before any data is read, and a program over one gets a diagnostic that
//! points at where it was crossed, names the limit and says how to stay under it.
//!
//! Limits bound what a program costs to compile and what it asks of the engine whatever the data
//! (output columns, buffers per bar); what it costs on given data is [`crate::Program::cost`].

/// Bounds on the size of a program. [`Limits::default`] gives the documented defaults;
/// [`crate::compile_with`] and friends take the limits to apply (the entry points without `_with`
/// apply the defaults).
///
/// For a set of expressions ([`crate::compile_set_with`]), sizes are of the whole set: bytes and
/// nodes of all its expressions together, distinct `let` names across them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest source text, in bytes (all expressions of a set together). Longer code is refused
    /// before it is read. Default 65,536 (64 KiB).
    pub max_source_bytes: usize,
    /// Most `let` statements in one expression, and most distinct `let` names in a set. Each `let`
    /// is an indicator column of every signal the program reports, so this bounds the width of
    /// its result rows. Default 256.
    pub max_lets: usize,
    /// Most syntax-tree nodes (numbers, names, parameters, operators, calls, fields, `[n]`) in all
    /// the expressions together. Default 10,000.
    pub max_nodes: usize,
    /// Longest name (of a column, `let`, function, field or parameter), in characters.
    /// Default 64.
    pub max_ident_len: usize,
    /// Most distinct indicator kernel calls (`sma`, `rsi`, `bbands`, ... once identical calls are
    /// merged) in the compiled program. Default 256.
    pub max_kernel_calls: usize,
    /// Most distinct compiled slots: the buffers of one value per bar the evaluation keeps
    /// (numbers and conditions; a kernel with several outputs has one per output). Together with
    /// the number of bars they set the evaluation's memory ([`crate::Cost::bytes_per_bar`]).
    /// Default 1,024.
    pub max_slots: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_source_bytes: 64 * 1024,
            max_lets: 256,
            max_nodes: 10_000,
            max_ident_len: 64,
            max_kernel_calls: 256,
            max_slots: 1024,
        }
    }
}

/// The names of the limits as they appear in diagnostics ([`crate::Diagnostic::limit`]), in the
/// documentation and in the fields of [`Limits`].
pub(crate) mod name {
    pub const SOURCE_BYTES: &str = "max_source_bytes";
    pub const LETS: &str = "max_lets";
    pub const NODES: &str = "max_nodes";
    pub const IDENT_LEN: &str = "max_ident_len";
    pub const KERNEL_CALLS: &str = "max_kernel_calls";
    pub const SLOTS: &str = "max_slots";
}

/// The help line of a limit diagnostic: how to stay under `limit`, then who can change it.
pub(crate) fn help(how: &str, limit: &str) -> String {
    format!("{how}; the limit is the `{limit}` setting of the expression limits")
}

/// `1234567` as `1,234,567`, for limits and sizes in messages.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(65536), "65,536");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
