//! What a compiled program costs per bar, estimated from its plan alone ([`Cost`]): the work of
//! each node, the memory of its buffers, the width of its result rows. It is worked out once, at
//! compile time, in one pass over the plan, so pricing a program before running it costs nothing
//! that grows with the data.
//!
//! Work is in **work units**, calibrated so that one unit is about one nanosecond of one core of
//! the project machine (2-core AMD EPYC, x86-64-v3 build; docs/PERFORMANCE.md). Each weight below
//! was measured with `cargo run --release -p quantd-ta --example bench` and `-p quantd-expr
//! --example scan_bench` (which prints each program's measured ns per bar next to its estimate)
//! and rounded up: estimates err on the side of cost, by up to about twice for kernels priced at
//! their worst case (`stddev`, long-period `cci`). See docs/expressions.md, "Cost".

use crate::kernels::TREND_DIRECT_MAX;
use crate::plan::{Day, Hlc, Leaf, Node, Op, Side, Step, Ta, Window};

/// What evaluating a [`crate::Program`] costs, per bar of one ticker, estimated from its plan.
///
/// The engine prices an execution before running it: `bars × work_per_bar` (or
/// [`Cost::work`]) against a work budget, and `bars_of_largest_ticker × bytes_per_bar` (or
/// [`Cost::bytes`]) against a memory budget per evaluating thread. Every figure is an upper
/// estimate that does not depend on the values of the data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cost {
    /// Estimated work per input bar, in work units: about one nanosecond of one core of the
    /// project machine per unit (see docs/expressions.md, "Cost"). The reference scan
    /// `close < sma(close, 50) and rsi(close, 14) < 30 and volume > 2 * sma(volume, 20)` is
    /// about 3 units per bar. Kernels that cost O(period) per bar count their period; every
    /// node counts once however often the code repeats it.
    pub work_per_bar: f64,
    /// Memory per bar of one ticker that an evaluation keeps in its [`crate::Workspace`]:
    /// 8 bytes per number buffer written, 1 per condition buffer (comparisons folded into a
    /// chain of `and`s write none), plus kernel scratch. A workspace grows to
    /// the longest ticker it has seen, so the memory of one evaluating thread is
    /// `bars_of_largest_ticker × bytes_per_bar`. The input columns are not included.
    pub bytes_per_bar: u64,
    /// Indicator columns a result row carries: the `let`s ([`crate::Program::indicators`]).
    pub outputs: usize,
    /// The longest warm-up of any value of the program, in bars: how many bars at the start of
    /// a ticker some value of it is still undefined (NaN). Data loaded for a date range needs
    /// this many bars before it for every value to be defined from its first day.
    pub max_lookback: usize,
    /// Distinct indicator kernel calls ([`crate::Limits::max_kernel_calls`] bounds them).
    pub kernel_calls: usize,
    /// Distinct compiled slots, number and condition buffers ([`crate::Limits::max_slots`]).
    pub slots: usize,
}

impl Cost {
    /// Estimated work, in work units (≈ nanoseconds of one core), to evaluate `bars` bars.
    pub fn work(&self, bars: u64) -> f64 {
        bars as f64 * self.work_per_bar
    }

    /// Memory, in bytes, of a workspace that has evaluated a ticker of `bars` bars.
    pub fn bytes(&self, bars: u64) -> u64 {
        bars.saturating_mul(self.bytes_per_bar)
    }
}

/// Work units per bar of reading one input column from memory (the first kernel to read it).
const COLUMN: f64 = 0.5;
/// An element-wise pass that writes a number buffer (arithmetic, `abs`, a shift, a copy).
const ELEMENTWISE: f64 = 0.4;
/// A comparison, `and`, `or` or `not` pass over a condition.
const CONDITION: f64 = 0.1;
/// A side of a comparison with arithmetic folded in, or an `sma` divided where still needed.
const AFFINE: f64 = 0.1;
/// `crosses_above` / `crosses_below`: two bars of two operands per bar.
const CROSS: f64 = 1.0;
/// `rising` / `falling` over more than [`TREND_DIRECT_MAX`] bars: a monotonic queue, whose
/// branches the data decides.
const TREND_QUEUE: f64 = 12.0;
/// `rising` / `falling` per bar of history up to [`TREND_DIRECT_MAX`] (one compare pass each).
const TREND_PER_BAR: f64 = 0.3;
/// Bytes per bar of the `rising` / `falling` queue (one index per bar), shared by all of them.
const TREND_QUEUE_BYTES: u64 = 8;
/// `stddev`, with the worst case included: on data where TA-Lib's algorithm would re-sum the
/// window on many bars (a price flat at a level like 0.01), its bounded attempts and then the
/// O(1) fallback (`quantd_ta::stddev`); about 2.5 on ordinary data.
const STDDEV: f64 = 10.0;
/// `cci` with a short period ([`quantd_ta::cci_is_direct`]), per bar of its period: the mean
/// deviation sums the window.
const CCI_PER_PERIOD: f64 = 1.5;
/// `cci` with a long period: a sort of the ticker's typical prices and a few tree walks per bar
/// whatever the period (measured 100 on tickers of 5,000 bars, up to 260 on 1,000,000).
const CCI_SORTED: f64 = 260.0;

/// A session kernel that fills each session with one value or a count (`bars_since_open`,
/// `day_open`, `prev_day_close`): a comparison of session keys and a store per bar. The session
/// weights were measured with `scan_bench` on minute bars (sessions of 390 bars), as the time of
/// a program with the kernel less that of one reading the same columns without it.
const SESSION_PASS: f64 = 1.2;
/// A running maximum or minimum within each session (`day_high`, `day_low`).
const SESSION_RUNNING: f64 = 2.0;
/// The session VWAP: running sums of price × volume and of volume, and a division, per bar.
const SESSION_VWAP: f64 = 3.5;

/// Per-bar work of a kernel, in work units (measured with quantd-ta's `bench` example on
/// 1,000,000 bars, rounded up; `sma` and `rsi` as measured in the reference scan, see
/// docs/PERFORMANCE.md).
fn kernel_work(ta: &Ta) -> f64 {
    match *ta {
        Ta::Window(w, _, _) => match w {
            Window::Sma => 0.5,
            Window::Ema => 2.5,
            Window::Wma => 1.7,
            Window::Rsi => 1.0,
            Window::Roc | Window::Mom => 0.4,
            Window::Max | Window::Min => 1.3,
        },
        Ta::Stddev(..) => STDDEV,
        Ta::Bbands(..) => STDDEV + 1.5,
        Ta::Hlc(kind, _, p) => match kind {
            Hlc::Atr | Hlc::Natr => 1.8,
            Hlc::Adx => 9.5,
            Hlc::Willr => 2.4,
            Hlc::Cci if quantd_ta::cci_is_direct(p as usize) => CCI_PER_PERIOD * f64::from(p),
            Hlc::Cci => CCI_SORTED,
        },
        Ta::Obv(..) => 1.0,
        Ta::Macd(..) => 6.0,
        Ta::Stoch(..) => 3.6,
        Ta::BarsSinceOpen(_) => SESSION_PASS,
        Ta::Day(Day::Open | Day::PrevClose, ..) => SESSION_PASS,
        Ta::Day(Day::High | Day::Low, ..) => SESSION_RUNNING,
        Ta::Vwap(..) => SESSION_VWAP,
    }
}

/// Scratch bytes per bar a kernel needs beyond its output buffers (kept in the workspace's
/// [`quantd_ta::Scratch`]).
fn kernel_scratch(ta: &Ta) -> u64 {
    match *ta {
        Ta::Hlc(Hlc::Cci, _, p) if !quantd_ta::cci_is_direct(p as usize) => {
            quantd_ta::CCI_SCRATCH_BYTES_PER_BAR
        }
        _ => 0,
    }
}

/// Bytes per bar of the buffers the evaluation writes: comparisons and arithmetic folded into a
/// chain write none (see [`Step`]).
fn buffer_bytes(nodes: &[Node], steps: &[Step]) -> u64 {
    steps
        .iter()
        .map(|step| match *step {
            Step::Node(i) if nodes[i].is_bool() => 1,
            Step::Node(i) => 8 * u64::from(nodes[i].op.num_outputs()),
            Step::SmaSums(_) => 8,
            Step::Chain { .. } => 1,
        })
        .sum()
}

/// The [`Cost`] of a plan: `nodes` run as `steps`, with the warm-ups of their number and
/// condition buffers, `outputs` indicator columns, reading `columns` input columns.
pub(crate) fn cost_of(
    nodes: &[Node],
    steps: &[Step],
    num_lb: &[usize],
    bool_lb: &[usize],
    outputs: usize,
    columns: usize,
) -> Cost {
    let mut work = COLUMN * columns as f64;
    // One scratch area serves every kernel of the program in turn; the queue is apart from it.
    let mut scratch = 0u64;
    let mut queue = 0u64;
    for step in steps {
        work += match *step {
            Step::Node(i) | Step::SmaSums(i) => {
                let op = nodes[i].op;
                match op {
                    Op::Ta(ta) => scratch = scratch.max(kernel_scratch(&ta)),
                    Op::Trend(_, _, n) if n as usize > TREND_DIRECT_MAX => {
                        queue = TREND_QUEUE_BYTES
                    }
                    _ => {}
                }
                node_work(&op)
            }
            // Comparisons and arithmetic folded into a chain are computed in it: a pass per term.
            Step::Chain { ref leaves, .. } => leaves
                .iter()
                .map(|leaf| match leaf {
                    Leaf::Cmp(_, a, b) => CONDITION + AFFINE * f64::from(affine_sides(a, b)),
                    Leaf::Bool(_) => CONDITION,
                })
                .sum(),
        };
    }
    let kernel_calls = nodes.iter().filter(|n| matches!(n.op, Op::Ta(_))).count();
    let slots = num_lb.len() + bool_lb.len();
    let max_lookback = num_lb
        .iter()
        .chain(bool_lb)
        .copied()
        .filter(|&lb| lb != usize::MAX)
        .max()
        .unwrap_or(0);
    Cost {
        work_per_bar: work,
        bytes_per_bar: buffer_bytes(nodes, steps) + scratch + queue,
        outputs,
        max_lookback,
        kernel_calls,
        slots,
    }
}

/// Per-bar work of a node run on its own, in work units.
fn node_work(op: &Op) -> f64 {
    match *op {
        Op::Ta(ta) => kernel_work(&ta),
        Op::Arith(..)
        | Op::Neg(_)
        | Op::Abs(_)
        | Op::Shift(..)
        | Op::PctChange(..)
        | Op::Fill(_)
        | Op::WallClock(..)
        | Op::BoolToNum(_) => ELEMENTWISE,
        Op::Cmp(..)
        | Op::And(..)
        | Op::Or(..)
        | Op::Not(_)
        | Op::ShiftBool(..)
        | Op::FillBool(_) => CONDITION,
        Op::Cross(..) => CROSS,
        Op::Trend(_, _, n) if n as usize <= TREND_DIRECT_MAX => TREND_PER_BAR * f64::from(n),
        Op::Trend(..) => TREND_QUEUE,
    }
}

/// How many sides of a folded comparison carry arithmetic (`x * k + c`) or an `sma`'s division.
fn affine_sides(a: &Side, b: &Side) -> u8 {
    let folded = |s: &Side| match s {
        Side::Affine {
            scale,
            shift,
            sum_of,
            ..
        } => *scale != 1.0 || *shift != 0.0 || sum_of.is_some(),
        Side::Const(_) => false,
    };
    u8::from(folded(a)) + u8::from(folded(b))
}
