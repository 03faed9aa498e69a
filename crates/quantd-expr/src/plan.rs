//! The compiled plan: a topologically ordered list of nodes, each computing whole columns into
//! its own buffer(s). Nodes are hash-consed: an [`Op`] is the node's identity, so a sub-expression
//! that occurs twice (in one expression or in several of a set) is one node, computed once.

use std::fmt::{self, Write as _};

/// A number operand: an input column, a computed buffer, or a constant (never stored as a column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Num {
    /// Index into [`crate::Program::columns`].
    In(u32),
    /// Index of a number buffer.
    Buf(u32),
    /// A constant, as `f64::to_bits` so that nodes can be hashed.
    Const(u64),
}

impl Num {
    pub fn constant(v: f64) -> Num {
        Num::Const(v.to_bits())
    }

    pub fn as_const(self) -> Option<f64> {
        match self {
            Num::Const(bits) => Some(f64::from_bits(bits)),
            _ => None,
        }
    }
}

/// A condition operand: a computed buffer or a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Bool {
    Buf(u32),
    Const(bool),
}

/// Element-wise number operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    /// Smaller of the two; NaN if either is NaN.
    Min,
    /// Larger of the two; NaN if either is NaN.
    Max,
}

/// Comparisons; all are false when either side is NaN (`!=` included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Cmp {
    Lt,
    Le,
    Eq,
    Ne,
}

/// Rolling kernels of one input and one period, from quantd-ta.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Window {
    Sma,
    Ema,
    Wma,
    Rsi,
    Roc,
    Mom,
    /// Rolling maximum, current bar included (`highest`).
    Max,
    /// Rolling minimum, current bar included (`lowest`).
    Min,
}

/// Kernels over high, low, close and a period, from quantd-ta.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Hlc {
    Atr,
    Natr,
    Adx,
    Cci,
    Willr,
}

/// Session kernels of one pack column, from `quantd_ta::session`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Day {
    /// The session's first open (`day_open`).
    Open,
    /// The session's highest high so far (`day_high`).
    High,
    /// The session's lowest low so far (`day_low`).
    Low,
    /// The previous session's last close (`prev_day_close`).
    PrevClose,
}

/// A part of the local wall-clock time, from the minutes since midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum WallClock {
    /// `floor(minutes / 60)`.
    Hour,
    /// `minutes mod 60`.
    Minute,
}

/// A quantd-ta kernel call. Inputs are always series ([`Num::In`] or [`Num::Buf`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Ta {
    Window(Window, Num, u32),
    /// `stddev(x, period, nbdev)`; nbdev as bits.
    Stddev(Num, u32, u64),
    Hlc(Hlc, [Num; 3], u32),
    Obv(Num, Num),
    /// Outputs macd, signal, hist.
    Macd(Num, u32, u32, u32),
    /// Outputs upper, middle, lower; nbdev up and down as bits.
    Bbands(Num, u32, u64, u64),
    /// Outputs k, d.
    Stoch([Num; 3], u32, u32, u32),
    /// Bars since the session's open, from the session column.
    BarsSinceOpen(Num),
    /// A session value of a pack column: the session column, then the column.
    Day(Day, Num, Num),
    /// The session's VWAP: the session column, then high, low, close and volume.
    Vwap(Num, [Num; 4]),
}

impl Ta {
    /// The series inputs, in argument order (the first `n` of the array), and `n`.
    pub fn inputs(&self) -> ([Num; 5], usize) {
        let pad = Num::In(0);
        match *self {
            Ta::Window(_, x, _)
            | Ta::Stddev(x, ..)
            | Ta::Macd(x, ..)
            | Ta::Bbands(x, ..)
            | Ta::BarsSinceOpen(x) => ([x, pad, pad, pad, pad], 1),
            Ta::Obv(a, b) | Ta::Day(_, a, b) => ([a, b, pad, pad, pad], 2),
            Ta::Hlc(_, [h, l, c], _) | Ta::Stoch([h, l, c], ..) => ([h, l, c, pad, pad], 3),
            Ta::Vwap(s, [h, l, c, v]) => ([s, h, l, c, v], 5),
        }
    }
}

/// What a node computes. Equal ops are the same node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    Arith(Arith, Num, Num),
    Neg(Num),
    Abs(Num),
    Cmp(Cmp, Num, Num),
    And(Bool, Bool),
    Or(Bool, Bool),
    Not(Bool),
    Ta(Ta),
    /// Value n bars ago; NaN for the first n bars.
    Shift(Num, u32),
    /// Condition n bars ago; false for the first n bars.
    ShiftBool(Bool, u32),
    /// `x / x[n] - 1`.
    PctChange(Num, u32),
    /// Strictly above (`true`) or below (`false`) each of the previous n values.
    Trend(bool, Num, u32),
    /// `crosses_above` (`true`) or `crosses_below` (`false`).
    Cross(bool, Num, Num),
    /// Copies a column or broadcasts a constant into a buffer (a `let` that is just a name or number).
    Fill(Num),
    /// A condition as 1.0 / 0.0 (a `let` that is a condition, reported as an indicator).
    BoolToNum(Bool),
    /// A constant condition as a buffer (an output that is constant).
    FillBool(bool),
    /// The hour or the minute of the wall clock, from the minutes since midnight.
    WallClock(WallClock, Num),
}

impl Op {
    /// How many number buffers this op writes (conditions write one bool buffer).
    pub fn num_outputs(&self) -> u32 {
        match self {
            Op::Cmp(..)
            | Op::And(..)
            | Op::Or(..)
            | Op::Not(..)
            | Op::ShiftBool(..)
            | Op::Trend(..)
            | Op::Cross(..)
            | Op::FillBool(..) => 0,
            Op::Ta(Ta::Macd(..) | Ta::Bbands(..)) => 3,
            Op::Ta(Ta::Stoch(..)) => 2,
            _ => 1,
        }
    }
}

/// One step of the plan: an op and where its outputs go.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub op: Op,
    /// First output buffer: number buffers `out..out + num_outputs`, or bool buffer `out`.
    pub out: u32,
}

impl Node {
    pub fn is_bool(&self) -> bool {
        self.op.num_outputs() == 0
    }
}

/// A side of a fused comparison: `x * scale + shift`, or a constant.
///
/// An arithmetic node `x * k`, `x + k`, `x - k` or `k - x` (with `k` a constant) that only one
/// comparison reads is folded into that comparison's side instead of being stored: `scale * x +
/// shift` rounds to the node's value (multiplying by 1 and adding 0 are exact), up to the sign of a
/// zero, which no comparison sees. A plain operand is `x * 1 + 0`.
///
/// `sum_of: Some(p)` marks an `x` that is an `sma(_, p)` only this comparison reads: its node
/// stores the window sums ([`Step::SmaSums`]) and the chain divides them by `p` only in the
/// blocks of bars it still has to decide, which gives the very values `sma` would (it divides
/// the same sums by `p`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Side {
    Affine {
        x: Num,
        scale: f64,
        shift: f64,
        sum_of: Option<u32>,
    },
    Const(f64),
}

/// One term of a fused condition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Leaf {
    /// A comparison computed in place (its node has no buffer of its own).
    Cmp(Cmp, Side, Side),
    /// A condition that has its own buffer (or a constant).
    Bool(Bool),
}

/// How evaluation runs the plan: node by node, except that a tree of `and`s (or of `or`s) over
/// comparisons whose results nothing else reads is computed in one buffer, term by term, each
/// comparison combined into it as it is computed. Its nodes keep their place in
/// [`crate::Program::explain`]; only the buffers in between are not written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Step {
    /// Runs `nodes[i]`.
    Node(usize),
    /// Runs `nodes[i]`, an `sma`, up to its window sums (see [`Side`]).
    SmaSums(usize),
    /// Bool buffer `out` = the `and` (or the `or`) of `leaves`. Bars before `skip` are false
    /// whatever the input (the node's warm-up), so they are not computed.
    Chain {
        and: bool,
        out: u32,
        skip: usize,
        leaves: Vec<Leaf>,
    },
}

/// The operands of an op: number operands and condition operands, in no particular order.
pub(crate) fn operands(op: &Op, mut num: impl FnMut(Num), mut cond: impl FnMut(Bool)) {
    match *op {
        Op::Arith(_, a, b) | Op::Cmp(_, a, b) | Op::Cross(_, a, b) => {
            num(a);
            num(b);
        }
        Op::Neg(x)
        | Op::Abs(x)
        | Op::Shift(x, _)
        | Op::PctChange(x, _)
        | Op::Trend(_, x, _)
        | Op::WallClock(_, x)
        | Op::Fill(x) => num(x),
        Op::And(a, b) | Op::Or(a, b) => {
            cond(a);
            cond(b);
        }
        Op::Not(x) | Op::ShiftBool(x, _) | Op::BoolToNum(x) => cond(x),
        Op::FillBool(_) => {}
        Op::Ta(ta) => {
            let (inputs, n) = ta.inputs();
            inputs[..n].iter().copied().for_each(num);
        }
    }
}

/// Formats operands and nodes for [`crate::Program::explain`].
pub(crate) struct Explain<'a> {
    pub columns: &'a [String],
}

impl Explain<'_> {
    fn num(&self, n: Num) -> String {
        match n {
            Num::In(i) => self.columns[i as usize].clone(),
            Num::Buf(b) => format!("n{b}"),
            Num::Const(bits) => format!("{}", f64::from_bits(bits)),
        }
    }

    fn boolean(b: Bool) -> String {
        match b {
            Bool::Buf(b) => format!("b{b}"),
            Bool::Const(v) => v.to_string(),
        }
    }

    pub fn node(&self, node: &Node, out: &mut String) -> fmt::Result {
        let lhs = if node.is_bool() {
            format!("b{}", node.out)
        } else {
            (0..node.op.num_outputs())
                .map(|i| format!("n{}", node.out + i))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let f = |v: u64| f64::from_bits(v);
        let rhs = match node.op {
            Op::Arith(op, a, b) => {
                let (a, b) = (self.num(a), self.num(b));
                match op {
                    Arith::Add => format!("{a} + {b}"),
                    Arith::Sub => format!("{a} - {b}"),
                    Arith::Mul => format!("{a} * {b}"),
                    Arith::Div => format!("{a} / {b}"),
                    Arith::Min => format!("min({a}, {b})"),
                    Arith::Max => format!("max({a}, {b})"),
                }
            }
            Op::Neg(x) => format!("-{}", self.num(x)),
            Op::Abs(x) => format!("abs({})", self.num(x)),
            Op::Cmp(op, a, b) => {
                let sym = match op {
                    Cmp::Lt => "<",
                    Cmp::Le => "<=",
                    Cmp::Eq => "==",
                    Cmp::Ne => "!=",
                };
                format!("{} {sym} {}", self.num(a), self.num(b))
            }
            Op::And(a, b) => format!("{} and {}", Self::boolean(a), Self::boolean(b)),
            Op::Or(a, b) => format!("{} or {}", Self::boolean(a), Self::boolean(b)),
            Op::Not(a) => format!("not {}", Self::boolean(a)),
            Op::Ta(ta) => match ta {
                Ta::Window(w, x, p) => {
                    let name = match w {
                        Window::Sma => "sma",
                        Window::Ema => "ema",
                        Window::Wma => "wma",
                        Window::Rsi => "rsi",
                        Window::Roc => "roc",
                        Window::Mom => "mom",
                        Window::Max => "highest",
                        Window::Min => "lowest",
                    };
                    format!("{name}({}, {p})", self.num(x))
                }
                Ta::Stddev(x, p, d) => format!("stddev({}, {p}, {})", self.num(x), f(d)),
                Ta::Hlc(k, [h, l, c], p) => {
                    let name = match k {
                        Hlc::Atr => "atr",
                        Hlc::Natr => "natr",
                        Hlc::Adx => "adx",
                        Hlc::Cci => "cci",
                        Hlc::Willr => "willr",
                    };
                    format!(
                        "{name}({}, {}, {}, {p})",
                        self.num(h),
                        self.num(l),
                        self.num(c)
                    )
                }
                Ta::Obv(c, v) => format!("obv({}, {})", self.num(c), self.num(v)),
                Ta::Macd(x, a, b, s) => format!("macd({}, {a}, {b}, {s})", self.num(x)),
                Ta::Bbands(x, p, u, d) => {
                    format!("bbands({}, {p}, {}, {})", self.num(x), f(u), f(d))
                }
                Ta::Stoch([h, l, c], a, b, d) => format!(
                    "stoch({}, {}, {}, {a}, {b}, {d})",
                    self.num(h),
                    self.num(l),
                    self.num(c)
                ),
                Ta::BarsSinceOpen(_) | Ta::Day(..) | Ta::Vwap(..) => {
                    let (inputs, n) = ta.inputs();
                    let args: Vec<String> = inputs[..n].iter().map(|&x| self.num(x)).collect();
                    format!("{}({})", crate::ta::name(&ta), args.join(", "))
                }
            },
            Op::Shift(x, n) => format!("shift({}, {n})", self.num(x)),
            Op::ShiftBool(x, n) => format!("shift({}, {n})", Self::boolean(x)),
            Op::PctChange(x, n) => format!("pct_change({}, {n})", self.num(x)),
            Op::Trend(up, x, n) => {
                format!(
                    "{}({}, {n})",
                    if up { "rising" } else { "falling" },
                    self.num(x)
                )
            }
            Op::Cross(up, a, b) => format!(
                "{}({}, {})",
                if up { "crosses_above" } else { "crosses_below" },
                self.num(a),
                self.num(b)
            ),
            Op::Fill(x) => self.num(x),
            Op::BoolToNum(x) => format!("number({})", Self::boolean(x)),
            Op::FillBool(v) => v.to_string(),
            Op::WallClock(part, x) => {
                let name = match part {
                    WallClock::Hour => "hour",
                    WallClock::Minute => "minute",
                };
                format!("{name}({})", self.num(x))
            }
        };
        writeln!(out, "{lhs} = {rhs}")
    }
}
