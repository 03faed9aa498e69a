//! A compiled [`Program`] and its evaluation over one ticker's columns.
//!
//! Evaluation runs the plan node by node, each over whole columns, into buffers kept in a
//! [`Workspace`]. The workspace grows to the longest ticker seen; after that an evaluation
//! allocates nothing.

use crate::error::EvalError;
use crate::kernels::{self, BoolView, View};
use crate::plan::{Bool, Explain, Leaf, Node, Num, Op, Side, Step, Ta};
use crate::ta;

/// Compiled expressions, ready to evaluate over any number of tickers.
///
/// Made by [`crate::compile`] (one output named `signal`) or [`crate::compile_set`] (one output
/// per named expression, all sharing one plan).
#[derive(Clone, Debug)]
pub struct Program {
    pub(crate) columns: Vec<String>,
    pub(crate) indicators: Vec<String>,
    pub(crate) indicator_bufs: Vec<u32>,
    pub(crate) outputs: Vec<String>,
    pub(crate) output_bufs: Vec<u32>,
    pub(crate) nodes: Vec<Node>,
    /// How `nodes` are run (see [`Step`]).
    pub(crate) steps: Vec<Step>,
    pub(crate) num_bufs: usize,
    pub(crate) bool_bufs: usize,
    pub(crate) warmup: usize,
    pub(crate) indicator_warmup: usize,
    pub(crate) params: Vec<String>,
}

impl Program {
    /// The input columns to pass to [`Program::evaluate`], in that order: the schema's columns
    /// that the code uses, in schema order. A program that uses none asks for the schema's first
    /// column, only to know the number of bars.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The `let` names, in source order (across a set: in the order the expressions were given,
    /// each name once). Each is an indicator column of the evaluation.
    pub fn indicators(&self) -> &[String] {
        &self.indicators
    }

    /// The output names: `signal` for [`crate::compile`], the given names for [`crate::compile_set`].
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    /// The parameters the code uses, sorted.
    pub fn params(&self) -> &[String] {
        &self.params
    }

    /// A number of bars at the start of every ticker during which no output can be true
    /// (a lower bound: indicator warm-up, shifts; `usize::MAX` if no output can ever be true).
    /// It assumes the input columns have no leading NaN; evaluation does not rely on it.
    pub fn warmup(&self) -> usize {
        self.warmup
    }

    /// The first bar on which every indicator (`sma`, `rsi`, … calls) of the program has a
    /// value — backtesting.py's warm-up, from which a strategy starts trading and Buy & Hold is
    /// measured. 0 when the program calls no indicator.
    pub fn indicator_warmup(&self) -> usize {
        self.indicator_warmup
    }

    /// The plan, one node per line, in evaluation order: `n0 = sma(close, 50)`, `b1 = close < n0`.
    /// `nK` are number buffers, `bK` condition buffers.
    pub fn explain(&self) -> String {
        let explain = Explain {
            columns: &self.columns,
        };
        let mut out = String::new();
        for node in &self.nodes {
            // Writing to a String cannot fail.
            let _ = explain.node(node, &mut out);
        }
        out
    }

    /// Evaluates the program over one ticker: `columns[i]` holds the values of
    /// `self.columns()[i]`, all of one length (the number of bars).
    pub fn evaluate<'w>(
        &'w self,
        columns: &[&[f64]],
        ws: &'w mut Workspace,
    ) -> Result<Evaluation<'w>, EvalError> {
        if columns.len() != self.columns.len() {
            return Err(EvalError::ColumnCount {
                expected: self.columns.clone(),
                found: columns.len(),
            });
        }
        let len = columns.first().map_or(0, |c| c.len());
        for (name, c) in self.columns.iter().zip(columns) {
            if c.len() != len {
                return Err(EvalError::ColumnLength {
                    column: name.clone(),
                    found: c.len(),
                    first: self.columns[0].clone(),
                    expected: len,
                });
            }
        }
        if ws.num.len() < self.num_bufs {
            ws.num.resize_with(self.num_bufs, Vec::new);
        }
        if ws.bools.len() < self.bool_bufs {
            ws.bools.resize_with(self.bool_bufs, Vec::new);
        }
        for step in &self.steps {
            match step {
                Step::Node(i) => run_node(&self.nodes[*i], columns, ws, len)?,
                Step::Chain {
                    and,
                    out,
                    skip,
                    leaves,
                } => run_chain(*and, *out, *skip, leaves, columns, ws, len),
            }
        }
        Ok(Evaluation {
            program: self,
            ws,
            len,
        })
    }
}

/// Reusable evaluation buffers. Keep one per thread and pass it to every
/// [`Program::evaluate`]; it can be shared by different programs.
#[derive(Debug, Default)]
pub struct Workspace {
    num: Vec<Vec<f64>>,
    bools: Vec<Vec<bool>>,
    /// Scratch for `rising` / `falling`.
    queue: Vec<usize>,
}

impl Workspace {
    /// An empty workspace; it grows on first use.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The result of evaluating a [`Program`] over one ticker, borrowed from the [`Workspace`].
#[derive(Debug)]
pub struct Evaluation<'w> {
    program: &'w Program,
    ws: &'w Workspace,
    len: usize,
}

impl<'w> Evaluation<'w> {
    /// The number of bars.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bars.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Output `i` (in the order of [`Program::outputs`]): true on the bars where it holds.
    pub fn output(&self, i: usize) -> &'w [bool] {
        &self.ws.bools[self.program.output_bufs[i] as usize][..self.len]
    }

    /// Indicator `i` (in the order of [`Program::indicators`]); a condition `let` is 1.0 / 0.0.
    pub fn indicator(&self, i: usize) -> &'w [f64] {
        &self.ws.num[self.program.indicator_bufs[i] as usize][..self.len]
    }

    /// The output named `name`, if there is one.
    pub fn output_named(&self, name: &str) -> Option<&'w [bool]> {
        let i = self.program.outputs.iter().position(|o| o == name)?;
        Some(self.output(i))
    }

    /// The indicator named `name`, if there is one.
    pub fn indicator_named(&self, name: &str) -> Option<&'w [f64]> {
        let i = self.program.indicators.iter().position(|o| o == name)?;
        Some(self.indicator(i))
    }
}

fn view<'a>(n: Num, cols: &[&'a [f64]], num: &'a [Vec<f64>]) -> View<'a> {
    match n {
        Num::In(i) => View::Col(cols[i as usize]),
        Num::Buf(b) => View::Col(&num[b as usize]),
        Num::Const(bits) => View::Const(f64::from_bits(bits)),
    }
}

fn bool_view(b: Bool, bools: &[Vec<bool>]) -> BoolView<'_> {
    match b {
        Bool::Buf(b) => BoolView::Col(&bools[b as usize]),
        Bool::Const(v) => BoolView::Const(v),
    }
}

/// A kernel input, which the compiler guarantees is a series.
fn series<'a>(n: Num, cols: &[&'a [f64]], num: &'a [Vec<f64>]) -> &'a [f64] {
    match view(n, cols, num) {
        View::Col(c) => c,
        View::Const(_) => unreachable!("kernel inputs are series"),
    }
}

/// A [`Step::Chain`]: bool buffer `out` = the `and` (`or`) of `leaves`, false before `skip`.
fn run_chain(
    and: bool,
    out: u32,
    skip: usize,
    leaves: &[Leaf],
    cols: &[&[f64]],
    ws: &mut Workspace,
    len: usize,
) {
    let Workspace { num, bools, .. } = ws;
    let mut o = std::mem::take(&mut bools[out as usize]);
    o.resize(len, false);
    let skip = skip.min(len);
    o[..skip].fill(false);
    let body = &mut o[skip..];
    let side = |s: Side| match s {
        Side::Affine { x, scale, shift } => match view(x, cols, num) {
            View::Col(c) => kernels::Side::Affine(&c[skip..len], scale, shift),
            View::Const(v) => kernels::Side::Const(v * scale + shift),
        },
        Side::Const(v) => kernels::Side::Const(v),
    };
    // Start from the neutral value (true for `and`, false for `or`) and merge every term into it.
    body.fill(and);
    for leaf in leaves {
        match *leaf {
            Leaf::Cmp(op, a, b) => kernels::compare_merge(and, op, side(a), side(b), body),
            Leaf::Bool(Bool::Buf(b)) => kernels::bool_merge(and, &bools[b as usize][skip..len], body),
            Leaf::Bool(Bool::Const(v)) => kernels::fill_merge(and, v, body),
        }
    }
    bools[out as usize] = o;
}

fn run_node(node: &Node, cols: &[&[f64]], ws: &mut Workspace, len: usize) -> Result<(), EvalError> {
    let Workspace { num, bools, queue } = ws;
    let out = node.out as usize;
    if node.is_bool() {
        let mut o = std::mem::take(&mut bools[out]);
        o.resize(len, false);
        match node.op {
            Op::Not(a) => kernels::not_into(bool_view(a, bools), &mut o),
            Op::ShiftBool(x, n) => {
                kernels::shift_bool_into(bool_view(x, bools), n as usize, &mut o)
            }
            Op::Trend(up, x, n) => {
                kernels::trend_into(up, series(x, cols, num), n as usize, &mut o, queue)
            }
            Op::Cross(up, a, b) => {
                kernels::cross_into(up, view(a, cols, num), view(b, cols, num), &mut o)
            }
            Op::FillBool(v) => o.fill(v),
            // Comparisons, ands and ors run as chains (see `run_chain`).
            _ => unreachable!("not a condition op run as a node"),
        }
        bools[out] = o;
        return Ok(());
    }
    let k = node.op.num_outputs() as usize;
    let mut taken: [Vec<f64>; 3] = Default::default();
    for (j, t) in taken.iter_mut().enumerate().take(k) {
        *t = std::mem::take(&mut num[out + j]);
        t.resize(len, 0.0);
    }
    let result = {
        let [a, b, c] = &mut taken;
        let o = &mut a[..];
        match node.op {
            Op::Arith(op, x, y) => {
                kernels::arith_into(op, view(x, cols, num), view(y, cols, num), o);
                Ok(())
            }
            Op::Neg(x) => {
                kernels::map_into(view(x, cols, num), o, |v| -v);
                Ok(())
            }
            Op::Abs(x) => {
                kernels::map_into(view(x, cols, num), o, f64::abs);
                Ok(())
            }
            Op::Shift(x, n) => {
                kernels::shift_into(view(x, cols, num), n as usize, o);
                Ok(())
            }
            Op::PctChange(x, n) => {
                kernels::pct_change_into(view(x, cols, num), n as usize, o);
                Ok(())
            }
            Op::Fill(x) => {
                kernels::map_into(view(x, cols, num), o, |v| v);
                Ok(())
            }
            Op::BoolToNum(x) => {
                match bool_view(x, bools) {
                    BoolView::Col(x) => {
                        for (o, x) in o.iter_mut().zip(x) {
                            *o = f64::from(u8::from(*x));
                        }
                    }
                    BoolView::Const(v) => o.fill(f64::from(u8::from(v))),
                }
                Ok(())
            }
            Op::Ta(t) => {
                let (inputs, n) = ta_inputs(&t);
                let ins: [&[f64]; 3] = inputs.map(|x| match x {
                    Some(x) => series(x, cols, num),
                    None => &[],
                });
                let mut outs: [&mut [f64]; 3] = [o, &mut b[..], &mut c[..]];
                ta::run(&t, &ins[..n], &mut outs[..k]).map_err(|source| EvalError::Kernel {
                    function: ta::name(&t),
                    source,
                })
            }
            _ => unreachable!("not a number op"),
        }
    };
    for (j, t) in taken.into_iter().enumerate().take(k) {
        num[out + j] = t;
    }
    result
}

/// The series inputs of a kernel, in argument order, and how many there are.
fn ta_inputs(t: &Ta) -> ([Option<Num>; 3], usize) {
    match *t {
        Ta::Window(_, x, _) | Ta::Stddev(x, ..) | Ta::Macd(x, ..) | Ta::Bbands(x, ..) => {
            ([Some(x), None, None], 1)
        }
        Ta::Obv(c, v) => ([Some(c), Some(v), None], 2),
        Ta::Hlc(_, [h, l, c], _) | Ta::Stoch([h, l, c], ..) => ([Some(h), Some(l), Some(c)], 3),
    }
}
