//! The one error type of this crate, and the argument checks every kernel runs before it computes.
//!
//! A kernel fails only on bad arguments (a period out of range, slices of different lengths), never
//! on data: short inputs give all-`NaN` output, and odd values flow through the arithmetic.

/// What went wrong with the arguments of an indicator kernel. Nothing is written to the output
/// slices when a kernel returns an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaError {
    /// An integer parameter (a period) is below the smallest value the indicator accepts.
    #[error("{indicator}: parameter `{param}` is {value}, out of range: it must be {min} or more")]
    InvalidPeriod {
        /// The kernel that refused the parameter, e.g. `"rsi"`.
        indicator: &'static str,
        /// The parameter's name as in the kernel's signature, e.g. `"period"` or `"slowk"`.
        param: &'static str,
        /// The value that was passed.
        value: usize,
        /// The smallest accepted value (the same minimum as TA-Lib's).
        min: usize,
    },
    /// An input or output slice does not have the same length as the first input.
    #[error(
        "{indicator}: slice `{name}` has length {len}, but `{reference}` has length {expected}; \
         every input and output slice must have the same length"
    )]
    LengthMismatch {
        /// The kernel that refused the slices.
        indicator: &'static str,
        /// The slice whose length is wrong, as named in the kernel's signature.
        name: &'static str,
        /// Its length.
        len: usize,
        /// The slice the lengths are measured against (the kernel's first input).
        reference: &'static str,
        /// The length of `reference`.
        expected: usize,
    },
}

impl TaError {
    /// Whether trying the same call again could succeed: never, since every `TaError` is caused
    /// by the caller's arguments (the engine classifies it as a validation error).
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// The result of a kernel: `Ok(())` once every output slot has been written.
pub type Result<T, E = TaError> = std::result::Result<T, E>;

/// Fails with [`TaError::InvalidPeriod`] when `value < min`.
#[inline]
pub(crate) fn check_period(
    indicator: &'static str,
    param: &'static str,
    value: usize,
    min: usize,
) -> Result<()> {
    if value < min {
        return Err(TaError::InvalidPeriod {
            indicator,
            param,
            value,
            min,
        });
    }
    Ok(())
}

/// Fails with [`TaError::LengthMismatch`] naming the first slice in `others` whose length differs
/// from `reference`'s.
#[inline]
pub(crate) fn check_lengths(
    indicator: &'static str,
    reference: (&'static str, usize),
    others: &[(&'static str, usize)],
) -> Result<()> {
    let (ref_name, expected) = reference;
    for &(name, len) in others {
        if len != expected {
            return Err(TaError::LengthMismatch {
                indicator,
                name,
                len,
                reference: ref_name,
                expected,
            });
        }
    }
    Ok(())
}
