//! A compiled [`Program`] and its evaluation over one ticker's columns.
//!
//! Evaluation runs the plan node by node, each over whole columns, into buffers kept in a
//! [`Workspace`]. The workspace grows to the longest ticker seen; after that an evaluation
//! allocates nothing.

use crate::cost::Cost;
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
    pub(crate) cost: Cost,
}

impl Program {
    /// The input columns to pass to [`Program::evaluate`], in that order: the schema's columns
    /// that the code uses (those the functions of time read included), in schema order, then
    /// the clock columns its functions of time read ([`crate::clock`]: `@session`,
    /// `@minute_of_day`, `@weekday`, in that order, each only if used). A program that uses no
    /// column asks for the schema's first column, only to know the number of bars.
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

    /// What evaluating the program costs per bar: work, workspace memory, result columns and
    /// warm-up, estimated from the plan when it was compiled (so this is free). See [`Cost`].
    pub fn cost(&self) -> Cost {
        self.cost
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
        if columns.len() >= 2 && len >= TOUCH_MIN_BARS {
            touch(columns);
        }
        for step in &self.steps {
            match step {
                Step::Node(i) => run_node(&self.nodes[*i], columns, ws, len)?,
                Step::SmaSums(i) => run_sma_sums(&self.nodes[*i], columns, ws, len)?,
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

/// Columns at least this long are brought into cache by [`touch`] before the kernels run.
const TOUCH_MIN_BARS: usize = 256;

/// Reads one value per 64-byte cache line of every input column, with several loads in flight.
///
/// The first kernel to read a column that is not in cache (a fresh ticker of a pack) would
/// otherwise wait on memory line after line: a recurrence or a running sum issues its loads no
/// faster than it computes, and when a program goes back and forth between columns the hardware
/// prefetcher, which restarts at every page, does not keep ahead of it. This pass asks for all
/// lines at once, so they arrive at the memory's bandwidth rather than its latency; the kernels
/// then read the columns from cache. It is done for programs that read several columns (with a
/// single column the prefetcher streams well and the pass would only delay the first kernel);
/// on columns already in cache it costs little.
#[inline(never)]
fn touch(columns: &[&[f64]]) {
    let mut acc = [0u64; 4];
    for c in columns {
        let (lines, _) = c.as_chunks::<32>();
        for l in lines {
            for (j, a) in acc.iter_mut().enumerate() {
                *a ^= l[8 * j].to_bits();
            }
        }
    }
    std::hint::black_box(acc);
}

/// Bars per block of [`Evaluation::hits`].
const BLOCK_HITS: usize = 16;

/// Reusable evaluation buffers. Keep one per thread and pass it to every
/// [`Program::evaluate`]; it can be shared by different programs.
#[derive(Debug, Default)]
pub struct Workspace {
    num: Vec<Vec<f64>>,
    bools: Vec<Vec<bool>>,
    /// Scratch for `rising` / `falling`.
    queue: Vec<usize>,
    /// Scratch for the indicator kernels that need it (`cci` over a long period).
    scratch: quantd_ta::Scratch,
}

impl Workspace {
    /// An empty workspace; it grows on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of buffers the workspace holds (what [`crate::Cost::bytes`] estimates before an
    /// evaluation), for callers that account for memory.
    pub fn capacity_bytes(&self) -> usize {
        let num: usize = self.num.iter().map(|b| b.capacity() * 8).sum();
        let bools: usize = self.bools.iter().map(Vec::capacity).sum();
        num + bools
            + self.queue.capacity() * std::mem::size_of::<usize>()
            + self.scratch.capacity_bytes()
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

    /// The bars in `rows` (clamped to the evaluation's length) on which output `i` is true, in
    /// order. Signals are rare, so the output is scanned 16 bars at a time and a block with no
    /// true bar costs one vector test; reading the rows this way, rather than testing
    /// `output(i)[row]` bar by bar, matters for a scan over a whole market.
    pub fn hits(&self, i: usize, rows: std::ops::Range<usize>) -> impl Iterator<Item = usize> + 'w {
        let out = self.output(i);
        let end = rows.end.min(out.len());
        let start = rows.start.min(end);
        let (blocks, tail) = out[start..end].as_chunks::<BLOCK_HITS>();
        let tail_start = start + blocks.len() * BLOCK_HITS;
        let in_blocks = blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| b.iter().fold(0u8, |acc, &v| acc | u8::from(v)) != 0)
            .flat_map(move |(k, b)| {
                let first = start + k * BLOCK_HITS;
                b.iter()
                    .enumerate()
                    .filter(|(_, v)| **v)
                    .map(move |(j, _)| first + j)
            });
        let in_tail = tail
            .iter()
            .enumerate()
            .filter(|(_, v)| **v)
            .map(move |(j, _)| tail_start + j);
        in_blocks.chain(in_tail)
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
    // Start from the neutral value (true for `and`, false for `or`) and merge every term into it.
    body.fill(and);
    for leaf in leaves {
        match *leaf {
            Leaf::Cmp(op, a, b) => {
                // Averages of the `sma` sides, in the blocks still undecided (see `Side`).
                for s in [a, b] {
                    if let Side::Affine {
                        x: Num::Buf(buf),
                        sum_of: Some(p),
                        ..
                    } = s
                    {
                        let sums = &mut num[buf as usize][skip..len];
                        kernels::divide_undecided(and, body, sums, f64::from(p));
                    }
                }
                let side = |s: Side| match s {
                    Side::Affine {
                        x, scale, shift, ..
                    } => match view(x, cols, num) {
                        View::Col(c) => kernels::Side::Affine(&c[skip..len], scale, shift),
                        View::Const(v) => kernels::Side::Const(v * scale + shift),
                    },
                    Side::Const(v) => kernels::Side::Const(v),
                };
                kernels::compare_merge(and, op, side(a), side(b), body)
            }
            Leaf::Bool(Bool::Buf(b)) => {
                kernels::bool_merge(and, &bools[b as usize][skip..len], body)
            }
            Leaf::Bool(Bool::Const(v)) => kernels::fill_merge(and, v, body),
        }
    }
    bools[out as usize] = o;
}

/// A [`Step::SmaSums`]: the window sums of an `sma` node into its buffer.
fn run_sma_sums(
    node: &Node,
    cols: &[&[f64]],
    ws: &mut Workspace,
    len: usize,
) -> Result<(), EvalError> {
    let Op::Ta(Ta::Window(_, x, period)) = node.op else {
        unreachable!("only an sma runs as sums")
    };
    let num = &mut ws.num;
    let out = node.out as usize;
    let mut o = std::mem::take(&mut num[out]);
    o.resize(len, 0.0);
    let result = quantd_ta::sma_sums(series(x, cols, num), period as usize, &mut o);
    num[out] = o;
    result.map_err(|source| EvalError::Kernel {
        function: "sma",
        source,
    })
}

fn run_node(node: &Node, cols: &[&[f64]], ws: &mut Workspace, len: usize) -> Result<(), EvalError> {
    let Workspace {
        num,
        bools,
        queue,
        scratch,
    } = ws;
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
            Op::WallClock(part, x) => {
                kernels::wall_clock_into(part, view(x, cols, num), o);
                Ok(())
            }
            Op::Ta(t) => {
                let (inputs, n) = t.inputs();
                let mut ins: [&[f64]; 5] = [&[]; 5];
                for (i, &x) in ins.iter_mut().zip(&inputs[..n]) {
                    *i = series(x, cols, num);
                }
                let mut outs: [&mut [f64]; 3] = [o, &mut b[..], &mut c[..]];
                ta::run(&t, &ins[..n], &mut outs[..k], scratch).map_err(|source| {
                    EvalError::Kernel {
                        function: ta::name(&t),
                        source,
                    }
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

#[cfg(test)]
mod tests {
    //! The fused evaluation (chains of comparisons, folded arithmetic, `sma`s divided only where
    //! needed, skipped warm-up, blocks left alone once settled) against the plain one: every node
    //! computed into its own buffer, comparisons and logic bar by bar.

    use super::*;
    use crate::kernels::{arith, compare};
    use crate::{Params, Schema, compile, compile_set};
    use proptest::prelude::*;

    /// Runs every node of `p` into its own buffer; conditions and arithmetic bar by bar.
    fn evaluate_by_nodes(p: &Program, cols: &[&[f64]]) -> (Vec<Vec<bool>>, Vec<Vec<f64>>) {
        let len = cols.first().map_or(0, |c| c.len());
        let mut ws = Workspace::new();
        ws.num.resize_with(p.num_bufs, Vec::new);
        ws.bools.resize_with(p.bool_bufs, Vec::new);
        for node in &p.nodes {
            let out = node.out as usize;
            let num_at = |n: Num, ws: &Workspace, i: usize| match n {
                Num::In(c) => cols[c as usize][i],
                Num::Buf(b) => ws.num[b as usize][i],
                Num::Const(bits) => f64::from_bits(bits),
            };
            let bool_at = |b: Bool, ws: &Workspace, i: usize| match b {
                Bool::Buf(b) => ws.bools[b as usize][i],
                Bool::Const(v) => v,
            };
            match node.op {
                Op::Cmp(op, a, b) => {
                    let v = (0..len)
                        .map(|i| compare(op, num_at(a, &ws, i), num_at(b, &ws, i)))
                        .collect();
                    ws.bools[out] = v;
                }
                Op::And(a, b) | Op::Or(a, b) => {
                    let and = matches!(node.op, Op::And(..));
                    let v = (0..len)
                        .map(|i| {
                            let (x, y) = (bool_at(a, &ws, i), bool_at(b, &ws, i));
                            if and { x && y } else { x || y }
                        })
                        .collect();
                    ws.bools[out] = v;
                }
                Op::Arith(op, a, b) => {
                    let v = (0..len)
                        .map(|i| arith(op, num_at(a, &ws, i), num_at(b, &ws, i)))
                        .collect();
                    ws.num[out] = v;
                }
                _ => run_node(node, cols, &mut ws, len).unwrap(),
            }
        }
        let outputs = p
            .output_bufs
            .iter()
            .map(|&b| ws.bools[b as usize].clone())
            .collect();
        let indicators = p
            .indicator_bufs
            .iter()
            .map(|&b| ws.num[b as usize].clone())
            .collect();
        (outputs, indicators)
    }

    fn check_same(p: &Program, cols: &[&[f64]]) -> Result<(), TestCaseError> {
        let (want_out, want_ind) = evaluate_by_nodes(p, cols);
        let mut ws = Workspace::new();
        // Twice with one workspace: buffers left from a longer evaluation must not leak through.
        for _ in 0..2 {
            let e = p.evaluate(cols, &mut ws).unwrap();
            for (i, want) in want_out.iter().enumerate() {
                prop_assert_eq!(e.output(i), &want[..], "output {}\n{}", i, p.explain());
            }
            for (i, want) in want_ind.iter().enumerate() {
                let got: Vec<u64> = e.indicator(i).iter().map(|v| v.to_bits()).collect();
                let want: Vec<u64> = want.iter().map(|v| v.to_bits()).collect();
                prop_assert_eq!(got, want, "indicator {}", i);
            }
        }
        Ok(())
    }

    /// Series with ties, zeros, negative values and NaNs (at the start and inside).
    fn series(len: usize) -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(
            prop_oneof![
                8 => (0i32..8).prop_map(f64::from),
                4 => -5.0f64..5.0,
                1 => Just(f64::NAN),
                1 => Just(-0.0),
            ],
            len,
        )
    }

    fn number() -> impl Strategy<Value = String> {
        let leaf = prop::sample::select(vec!["close", "open", "volume", "2", "$p", "-1", "0"])
            .prop_map(String::from);
        leaf.prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (
                    inner.clone(),
                    inner.clone(),
                    prop::sample::select(vec!["+", "-", "*", "/"])
                )
                    .prop_map(|(a, b, op)| format!("({a} {op} {b})")),
                (
                    inner.clone(),
                    prop::sample::select(vec!["+", "-", "*", "/"]),
                    -3i32..4
                )
                    .prop_map(|(a, op, k)| format!("({k} {op} {a})")),
                inner.clone().prop_map(|a| format!("sma({a}, 3)")),
                inner.clone().prop_map(|a| format!("rsi({a}, 2)")),
                inner.clone().prop_map(|a| format!("{a}[1]")),
                inner.clone().prop_map(|a| format!("min({a}, 1)")),
            ]
        })
    }

    fn condition() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            6 => (
                number(),
                number(),
                prop::sample::select(vec!["<", "<=", ">", ">=", "==", "!="])
            )
                .prop_map(|(a, b, op)| format!("{a} {op} {b}")),
            1 => (number(), number()).prop_map(|(a, b)| format!("crosses_above({a}, {b})")),
            1 => number().prop_map(|a| format!("rising({a}, 2)")),
            1 => prop::sample::select(vec!["c", "x > 1"]).prop_map(String::from),
        ];
        leaf.prop_recursive(4, 16, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..5)
                    .prop_map(|v| format!("({})", v.join(" and "))),
                prop::collection::vec(inner.clone(), 2..5)
                    .prop_map(|v| format!("({})", v.join(" or "))),
                inner.clone().prop_map(|a| format!("not ({a})")),
                inner.clone().prop_map(|a| format!("({a})[1]")),
            ]
        })
    }

    fn compile_ok(src: &str) -> Option<Program> {
        let params: Params = if src.contains("$p") {
            [("p".to_string(), 2.5)].into()
        } else {
            Params::new()
        };
        compile(src, &Schema::ohlcv(), &params).ok()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn fused_evaluation_matches_node_by_node(
            body in condition(),
            len in 0usize..70,
            seed in series(70),
            seed2 in series(70),
            seed3 in series(70),
        ) {
            // `x` and `c` are lets: a shared number and a condition reported as an indicator,
            // so some nodes have several readers.
            let src = format!("let x = close * 2;\nlet c = close > open;\nx > 0 or c or x < 0 or not c or {body}");
            let p = compile_ok(&src);
            prop_assert!(p.is_some(), "does not compile: {}", src);
            let p = p.unwrap();
            let cols: Vec<&[f64]> = p
                .columns()
                .iter()
                .map(|c| match c.as_str() {
                    "close" => &seed[..len],
                    "open" => &seed2[..len],
                    _ => &seed3[..len],
                })
                .collect();
            check_same(&p, &cols)?;
            let Some(p) = compile_ok(&body) else { return Ok(()) };
            let cols: Vec<&[f64]> = p
                .columns()
                .iter()
                .map(|c| match c.as_str() {
                    "close" => &seed[..len],
                    "open" => &seed2[..len],
                    _ => &seed3[..len],
                })
                .collect();
            check_same(&p, &cols)?;
        }
    }

    #[test]
    fn reference_scanner_is_one_chain_with_the_scaling_folded() {
        let src = "close < sma(close, 50) and rsi(close, 14) < 30 and volume > 2 * sma(volume, 20)";
        let p = compile(src, &Schema::ohlcv(), &Params::new()).unwrap();
        let chains: Vec<&Step> = p
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Chain { .. }))
            .collect();
        assert_eq!(chains.len(), 1, "{:?}", p.steps);
        let Step::Chain {
            and, skip, leaves, ..
        } = chains[0]
        else {
            unreachable!()
        };
        assert!(*and);
        assert_eq!(*skip, 49);
        assert_eq!(leaves.len(), 3);
        // `2 * sma(volume, 20)` is not stored: its node is folded into the comparison.
        assert_eq!(p.steps.len(), 4, "{:?}", p.steps);
        let n = 300;
        let close: Vec<f64> = (0..n)
            .map(|i| 100.0 + (i as f64 * 0.7).sin() * 5.0)
            .collect();
        let volume: Vec<f64> = (0..n)
            .map(|i| 1000.0 + ((i * 7919) % 97) as f64 * 40.0)
            .collect();
        let cols = [&close[..], &volume[..]];
        let (want, _) = evaluate_by_nodes(&p, &cols);
        let mut ws = Workspace::new();
        assert_eq!(p.evaluate(&cols, &mut ws).unwrap().output(0), &want[0][..]);
    }

    #[test]
    fn hits_are_the_true_bars_of_the_range() {
        let p = compile("close > open", &Schema::ohlcv(), &Params::new()).unwrap();
        let n = 75;
        let open = vec![0.0; n];
        let close: Vec<f64> = (0..n)
            .map(|i| {
                if (i * 7) % 11 < 3 || i == 74 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        let mut ws = Workspace::new();
        let e = p.evaluate(&[&open, &close], &mut ws).unwrap();
        let mask = e.output(0).to_vec();
        for (from, to) in [
            (0, n),
            (0, 0),
            (3, 17),
            (16, 48),
            (5, 74),
            (40, 200),
            (90, 95),
        ] {
            let want: Vec<usize> = (from..to.min(n)).filter(|&i| mask[i]).collect();
            let got: Vec<usize> = e.hits(0, from..to).collect();
            assert_eq!(got, want, "rows {from}..{to}");
        }
    }

    #[test]
    fn sets_share_chains_only_where_nothing_else_reads_them() {
        let srcs = [
            ("a", "close > 1 and open < 3 and volume > 2 * close"),
            ("b", "(close > 1 and open < 3) or volume == 2"),
        ];
        let p = compile_set(&srcs, &Schema::ohlcv(), &Params::new()).unwrap();
        let n = 40;
        let close: Vec<f64> = (0..n).map(|i| (i % 5) as f64).collect();
        let open: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
        let volume: Vec<f64> = (0..n).map(|i| (i % 4) as f64).collect();
        let cols = [&open[..], &close[..], &volume[..]];
        let (want, _) = evaluate_by_nodes(&p, &cols);
        let mut ws = Workspace::new();
        let e = p.evaluate(&cols, &mut ws).unwrap();
        assert_eq!(e.output(0), &want[0][..]);
        assert_eq!(e.output(1), &want[1][..]);
    }
}
