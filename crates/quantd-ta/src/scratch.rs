//! [`Scratch`]: memory a kernel needs beyond its outputs, kept by the caller between calls.
//!
//! Only the commodity channel index over a long period needs any (its order statistics, see
//! [`crate::oscillator::cci`]). A caller that runs kernels over many series keeps one `Scratch`
//! and passes it to every call ([`crate::cci_with`]): it grows to the longest series and is then
//! reused, so the kernels allocate nothing.

/// One node of the Fenwick tree over ranks: how many of the window's values have a rank in the
/// node's range, and their sum.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RankNode {
    pub sum: f64,
    pub count: u32,
}

/// Reusable memory for kernels that need more than their output slices.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Every finite typical price of the series as (order key, bar), sorted.
    pub(crate) sorted: Vec<(u64, u32)>,
    /// Each bar's position in `sorted`, or [`NO_RANK`] for a bar whose typical price is not a
    /// number.
    pub(crate) rank: Vec<u32>,
    /// A Fenwick tree over the positions of `sorted` (1-based).
    pub(crate) tree: Vec<RankNode>,
}

/// The rank of a bar whose typical price is `NaN` or infinite.
pub(crate) const NO_RANK: u32 = u32::MAX;

impl Scratch {
    /// Empty scratch; it grows on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes held, for callers that account for memory.
    pub fn capacity_bytes(&self) -> usize {
        self.sorted.capacity() * std::mem::size_of::<(u64, u32)>()
            + self.rank.capacity() * std::mem::size_of::<u32>()
            + self.tree.capacity() * std::mem::size_of::<RankNode>()
    }
}

/// Bytes of [`Scratch`] per bar that [`crate::cci_with`] uses when the period is long
/// (not [`crate::cci_is_direct`]): the sorted typical prices, their ranks and the tree.
pub const CCI_SCRATCH_BYTES_PER_BAR: u64 = (std::mem::size_of::<(u64, u32)>()
    + std::mem::size_of::<u32>()
    + std::mem::size_of::<RankNode>()) as u64;
