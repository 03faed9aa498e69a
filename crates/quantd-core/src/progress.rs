//! The sink long operations report progress to. The CLI draws it as a progress bar, the engine
//! turns it into `progress` events, tests count it; libraries only call it.

/// Receives progress of a long operation, in phases (`parse`, `write`, `scan`, …).
pub trait Progress: Send + Sync {
    /// A new phase starts, with `total` units of work (0 when unknown).
    fn phase(&self, name: &str, total: u64);
    /// `n` more units of the current phase are done.
    fn advance(&self, n: u64);
    /// The operation is over.
    fn finish(&self) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn phase(&self, _name: &str, _total: u64) {}
    fn advance(&self, _n: u64) {}
}
