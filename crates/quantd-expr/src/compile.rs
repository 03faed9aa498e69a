//! Checked programs to a [`Program`]: constants folded, parameters substituted, identical
//! sub-expressions merged (hash-consing on [`Op`]), and the warm-up bound computed.

use std::collections::{BTreeSet, HashMap};

use crate::ast::{BinOp, LogicOp};
use crate::check::{Checked, TExpr, TKind, TLet, check_ast, const_value};
use crate::diagnostic::{Diagnostic, ExprError, suggest};
use crate::functions::Func;
use crate::parser::parse;
use crate::plan::{Arith, Bool, Cmp, Hlc, Leaf, Node, Num, Op, Side, Step, Ta, Window, operands};
use crate::program::Program;
use crate::ta::lookback;
use crate::{CheckInfo, Params, Schema};

/// Parses and checks each source; diagnostics carry the source's name when `named`. Also returns
/// the parameters used, if every source parsed (checking errors do not hide them).
fn check_all(
    srcs: &[(&str, &str)],
    schema: &Schema,
    params: Option<&Params>,
    named: bool,
) -> (Vec<Checked>, Vec<Diagnostic>, Option<BTreeSet<String>>) {
    let mut checked = Vec::new();
    let mut diags = Vec::new();
    let mut used = Some(BTreeSet::new());
    for (name, src) in srcs {
        let (ds, params_used) = match parse(src) {
            Err(ds) => (ds, None),
            Ok(ast) => match check_ast(src, &ast, schema, params) {
                Ok(c) => {
                    let p = c.params.keys().cloned().collect();
                    checked.push(c);
                    (Vec::new(), Some(p))
                }
                Err(failed) => (failed.diags, Some(failed.params)),
            },
        };
        match (&mut used, params_used) {
            (Some(u), Some(p)) => u.extend(p),
            _ => used = None,
        }
        diags.extend(ds.into_iter().map(|mut d| {
            if named {
                d.origin = Some(name.to_string());
            }
            d
        }));
    }
    (checked, diags, used)
}

/// [`crate::check`] and [`crate::check_set`].
pub(crate) fn check_sources(
    srcs: &[(&str, &str)],
    schema: &Schema,
    named: bool,
) -> Result<CheckInfo, ExprError> {
    let (checked, diags, _) = check_all(srcs, schema, None, named);
    if !diags.is_empty() {
        return Err(ExprError::new(diags));
    }
    let mut params = BTreeSet::new();
    let mut columns = BTreeSet::new();
    let mut lets = Vec::new();
    for c in &checked {
        params.extend(c.params.keys().cloned());
        columns.extend(c.columns.iter().copied());
        for l in &c.lets {
            if !lets.contains(&l.name) {
                lets.push(l.name.clone());
            }
        }
    }
    Ok(CheckInfo {
        params: params.into_iter().collect(),
        lets,
        columns: columns
            .into_iter()
            .map(|i| schema.columns()[i].clone())
            .collect(),
    })
}

/// [`crate::compile`] and [`crate::compile_set`].
pub(crate) fn compile_sources(
    srcs: &[(&str, &str)],
    schema: &Schema,
    params: &Params,
    named: bool,
) -> Result<Program, ExprError> {
    if srcs.is_empty() {
        return Err(ExprError::new(vec![Diagnostic::general(
            "no expressions to compile",
        )]));
    }
    let (checked, mut diags, used) = check_all(srcs, schema, Some(params), named);
    for (i, (name, _)) in srcs.iter().enumerate() {
        if srcs[..i].iter().any(|(other, _)| other == name) {
            diags.push(Diagnostic::general(format!(
                "two expressions are named `{name}`"
            )));
        }
    }
    // Only when every source parsed is the set of used parameters known.
    if let Some(used) = &used {
        let used: BTreeSet<&str> = used.iter().map(String::as_str).collect();
        for name in params.keys().filter(|p| !used.contains(p.as_str())) {
            let help = suggest(name, used.iter().copied())
                .map(|s| format!("did you mean `{s}`? the code uses `${s}`"))
                .unwrap_or_else(|| {
                    format!("remove `--param {name}`, or use `${name}` in the code")
                });
            diags.push(
                Diagnostic::general(format!(
                    "parameter `{name}` is given but not used by the code"
                ))
                .with_help(help),
            );
        }
    }
    if !diags.is_empty() {
        return Err(ExprError::new(diags));
    }

    let used_columns: BTreeSet<usize> = checked
        .iter()
        .flat_map(|c| c.columns.iter().copied())
        .collect();
    let mut columns: Vec<usize> = used_columns.into_iter().collect();
    if columns.is_empty() && !schema.columns().is_empty() {
        // Nothing reads a column, but the evaluation still needs to know how many bars there are.
        columns.push(0);
    }
    let mut col_map = vec![None; schema.columns().len()];
    for (k, &i) in columns.iter().enumerate() {
        col_map[i] = Some(k as u32);
    }
    let mut b = Builder {
        params,
        col_map,
        nodes: Vec::new(),
        memo: HashMap::new(),
        num_lb: Vec::new(),
        bool_lb: Vec::new(),
    };

    let mut indicators: Vec<String> = Vec::new();
    let mut indicator_bufs = Vec::new();
    let mut outputs = Vec::new();
    let mut output_bufs = Vec::new();
    let mut used_params = BTreeSet::new();
    let mut diags = Vec::new();
    for ((name, src), c) in srcs.iter().zip(&checked) {
        used_params.extend(c.params.keys().cloned());
        let mut values = Vec::with_capacity(c.lets.len());
        for l in &c.lets {
            let v = b.lower(&l.value, &values, &c.lets);
            values.push(v);
            let buf = match v {
                Val::Num(Num::Buf(buf)) => buf,
                Val::Num(n) => b.intern(Op::Fill(n)),
                Val::Bool(x) => b.intern(Op::BoolToNum(x)),
            };
            if let Some(k) = indicators.iter().position(|n| *n == l.name) {
                if indicator_bufs[k] != buf {
                    let mut d = Diagnostic::at(src, l.name_span, format!("`{}` is defined differently in two expressions", l.name))
                        .with_help("a `let` name shared by expressions of one set must have the same definition in each; rename one of them");
                    if named {
                        d.origin = Some(name.to_string());
                    }
                    diags.push(d);
                }
                continue;
            }
            indicators.push(l.name.clone());
            indicator_bufs.push(buf);
        }
        let out = match b.lower(&c.body, &values, &c.lets) {
            Val::Bool(Bool::Buf(buf)) => buf,
            Val::Bool(Bool::Const(v)) => b.intern(Op::FillBool(v)),
            Val::Num(_) => unreachable!("the checker requires a condition"),
        };
        outputs.push(name.to_string());
        output_bufs.push(out);
    }
    if !diags.is_empty() {
        return Err(ExprError::new(diags));
    }
    let warmup = output_bufs
        .iter()
        .map(|&o| b.bool_lb[o as usize])
        .min()
        .unwrap_or(0);
    // backtesting.py's warm-up: the first bar on which every indicator has a value.
    let indicator_warmup = b
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Ta(_)))
        .map(|n| b.num_lb[n.out as usize])
        .max()
        .unwrap_or(0);
    let steps = schedule(
        &b.nodes,
        &b.num_lb,
        &b.bool_lb,
        &indicator_bufs,
        &output_bufs,
    );
    Ok(Program {
        columns: columns
            .iter()
            .map(|&i| schema.columns()[i].clone())
            .collect(),
        indicators,
        indicator_bufs,
        outputs,
        output_bufs,
        num_bufs: b.num_lb.len(),
        bool_bufs: b.bool_lb.len(),
        nodes: b.nodes,
        steps,
        warmup,
        indicator_warmup,
        params: used_params.into_iter().collect(),
    })
}

/// The evaluation steps for `nodes` (see [`Step`]): every comparison, `and` and `or` that is not
/// folded into another one's chain becomes a chain of its own; other nodes run as they are.
///
/// A comparison, or an `and` inside an `and` (an `or` inside an `or`), is folded into the node
/// that reads it when that is its only reader and it is not an output; an arithmetic node with a
/// constant operand is folded into a comparison on the same terms (see [`Side`]). Folded nodes
/// write no buffer, which is safe because nothing else reads it. An `sma` that only a chain's
/// comparison reads (not the chain's first term) stores its window sums, which the chain divides
/// where it needs them ([`Step::SmaSums`]).
fn schedule(
    nodes: &[Node],
    num_lb: &[usize],
    bool_lb: &[usize],
    indicator_bufs: &[u32],
    output_bufs: &[u32],
) -> Vec<Step> {
    // Readers of each buffer; outputs and indicators count as readers (they are kept).
    let mut num_uses = vec![0u32; num_lb.len()];
    let mut bool_uses = vec![0u32; bool_lb.len()];
    for node in nodes {
        operands(
            &node.op,
            |n| {
                if let Num::Buf(b) = n {
                    num_uses[b as usize] += 1;
                }
            },
            |c| {
                if let Bool::Buf(b) = c {
                    bool_uses[b as usize] += 1;
                }
            },
        );
    }
    for &b in indicator_bufs {
        num_uses[b as usize] += 1;
    }
    for &b in output_bufs {
        bool_uses[b as usize] += 1;
    }
    // The node writing each condition buffer, and each single-output number node's buffer.
    let mut bool_node = vec![usize::MAX; bool_lb.len()];
    let mut num_node = vec![usize::MAX; num_lb.len()];
    for (i, node) in nodes.iter().enumerate() {
        if node.is_bool() {
            bool_node[node.out as usize] = i;
        } else if node.op.num_outputs() == 1 {
            num_node[node.out as usize] = i;
        }
    }
    let s = Scheduler {
        nodes,
        num_uses,
        bool_uses,
        bool_node,
        num_node,
    };
    // Per node: folded into a chain (no step of its own), or an `sma` run up to its sums.
    let mut marks = Marks {
        folded: vec![false; nodes.len()],
        sums: vec![false; nodes.len()],
    };
    let mut steps = Vec::with_capacity(nodes.len());
    // Readers come after what they read, so walking backwards meets a chain's root first.
    for (i, node) in nodes.iter().enumerate().rev() {
        if marks.folded[i] {
            continue;
        }
        let and = match node.op {
            Op::And(..) | Op::Cmp(..) => true,
            Op::Or(..) => false,
            _ if marks.sums[i] => {
                steps.push(Step::SmaSums(i));
                continue;
            }
            _ => {
                steps.push(Step::Node(i));
                continue;
            }
        };
        let mut leaves = Vec::new();
        s.collect(i, and, &mut leaves, &mut marks);
        // Cheapest terms first: blocks a term settles are skipped by the terms after it (and
        // an `sma` side is divided only in the blocks that are left), while `and` / `or` do not
        // depend on the order (nothing has side effects).
        leaves.sort_by_key(|leaf| match leaf {
            Leaf::Bool(_) => 0,
            Leaf::Cmp(_, a, b) => {
                let cost = |s: &Side| match s {
                    Side::Const(_) => 0,
                    Side::Affine { sum_of, .. } => {
                        1 + usize::from(!is_plain(s)) + 2 * usize::from(sum_of.is_some())
                    }
                };
                cost(a) + cost(b)
            }
        });
        // The first term is computed on every bar: its `sma` sides are better divided by the
        // `sma` kernel itself (where the division overlaps the running sum).
        if let Some(Leaf::Cmp(_, a, b)) = leaves.first_mut() {
            for side in [a, b] {
                if let Side::Affine {
                    x: Num::Buf(buf),
                    sum_of: sum_of @ Some(_),
                    ..
                } = side
                {
                    *sum_of = None;
                    marks.sums[s.num_node[*buf as usize]] = false;
                }
            }
        }
        steps.push(Step::Chain {
            and,
            out: node.out,
            skip: bool_lb[node.out as usize],
            leaves,
        });
    }
    steps.reverse();
    steps
}

/// Whether a side is a column as it is (no folded arithmetic).
fn is_plain(s: &Side) -> bool {
    matches!(
        s,
        Side::Affine {
            scale: 1.0,
            shift: 0.0,
            ..
        }
    )
}

struct Scheduler<'a> {
    nodes: &'a [Node],
    num_uses: Vec<u32>,
    bool_uses: Vec<u32>,
    bool_node: Vec<usize>,
    num_node: Vec<usize>,
}

/// What [`schedule`] decided about each node.
struct Marks {
    /// Folded into a chain's leaf: no step of its own.
    folded: Vec<bool>,
    /// An `sma` whose only reader divides its sums itself: runs as [`Step::SmaSums`].
    sums: Vec<bool>,
}

impl Scheduler<'_> {
    /// Appends the leaves of node `i` (a comparison, or an `and` / `or` of the chain's kind) to
    /// `leaves`, marking the nodes folded into them.
    fn collect(&self, i: usize, and: bool, leaves: &mut Vec<Leaf>, marks: &mut Marks) {
        match self.nodes[i].op {
            Op::Cmp(op, a, b) => {
                let a = self.side(a, marks);
                let b = self.side(b, marks);
                leaves.push(Leaf::Cmp(op, a, b));
            }
            Op::And(a, b) | Op::Or(a, b) => {
                for x in [a, b] {
                    match self.foldable_cond(x, and) {
                        Some(j) => {
                            marks.folded[j] = true;
                            self.collect(j, and, leaves, marks);
                        }
                        None => leaves.push(Leaf::Bool(x)),
                    }
                }
            }
            _ => unreachable!("chains are made of comparisons, ands and ors"),
        }
    }

    /// The node of condition `x` if it can be folded into a chain of kind `and`.
    fn foldable_cond(&self, x: Bool, and: bool) -> Option<usize> {
        let Bool::Buf(b) = x else { return None };
        if self.bool_uses[b as usize] != 1 {
            return None;
        }
        let j = self.bool_node[b as usize];
        match self.nodes[j].op {
            Op::Cmp(..) => Some(j),
            Op::And(..) if and => Some(j),
            Op::Or(..) if !and => Some(j),
            _ => None,
        }
    }

    /// A comparison operand, with a single-reader `x op constant` node folded in, and a
    /// single-reader `sma` left to be divided by the chain.
    fn side(&self, n: Num, marks: &mut Marks) -> Side {
        let (x, scale, shift) = match n {
            Num::Const(bits) => return Side::Const(f64::from_bits(bits)),
            Num::In(_) => (n, 1.0, 0.0),
            Num::Buf(b) => self.fold_arith(b as usize, marks).unwrap_or((n, 1.0, 0.0)),
        };
        let mut sum_of = None;
        if let Num::Buf(b) = x {
            let b = b as usize;
            let j = self.num_node[b];
            if j != usize::MAX
                && self.num_uses[b] == 1
                && let Op::Ta(Ta::Window(Window::Sma, _, p)) = self.nodes[j].op
            {
                marks.sums[j] = true;
                sum_of = Some(p);
            }
        }
        Side::Affine {
            x,
            scale,
            shift,
            sum_of,
        }
    }

    /// `x * scale + shift` for number buffer `b` if it is an `x op constant` node that only one
    /// comparison reads (the node is then folded into it).
    fn fold_arith(&self, b: usize, marks: &mut Marks) -> Option<(Num, f64, f64)> {
        let j = self.num_node[b];
        if j == usize::MAX || self.num_uses[b] != 1 {
            return None;
        }
        let Op::Arith(op, x, y) = self.nodes[j].op else {
            return None;
        };
        let affine = match (op, x.as_const(), y.as_const()) {
            (Arith::Mul, Some(k), None) => (y, k, 0.0),
            (Arith::Mul, None, Some(k)) => (x, k, 0.0),
            (Arith::Add, Some(k), None) => (y, 1.0, k),
            (Arith::Add, None, Some(k)) => (x, 1.0, k),
            (Arith::Sub, None, Some(k)) => (x, 1.0, -k),
            (Arith::Sub, Some(k), None) => (y, -1.0, k),
            _ => return None,
        };
        marks.folded[j] = true;
        Some(affine)
    }
}

/// A lowered value.
#[derive(Clone, Copy, Debug)]
enum Val {
    Num(Num),
    Bool(Bool),
}

impl Val {
    fn num(self) -> Num {
        match self {
            Val::Num(n) => n,
            Val::Bool(_) => unreachable!("the checker ensures a number here"),
        }
    }

    fn boolean(self) -> Bool {
        match self {
            Val::Bool(b) => b,
            Val::Num(_) => unreachable!("the checker ensures a condition here"),
        }
    }
}

struct Builder<'p> {
    params: &'p Params,
    /// Schema column index to input index.
    col_map: Vec<Option<u32>>,
    nodes: Vec<Node>,
    memo: HashMap<Op, u32>,
    /// Per number buffer: bars at the start that are certainly NaN.
    num_lb: Vec<usize>,
    /// Per bool buffer: bars at the start that are certainly false.
    bool_lb: Vec<usize>,
}

impl Builder<'_> {
    /// The node computing `op`, created if new; returns its first output buffer.
    fn intern(&mut self, op: Op) -> u32 {
        if let Some(&out) = self.memo.get(&op) {
            return out;
        }
        let n = op.num_outputs();
        let out = if n == 0 {
            let lb = self.bool_warmup(&op);
            self.bool_lb.push(lb);
            self.bool_lb.len() - 1
        } else {
            let lb = self.num_warmup(&op);
            let first = self.num_lb.len();
            self.num_lb.extend((0..n).map(|_| lb));
            first
        } as u32;
        self.memo.insert(op, out);
        self.nodes.push(Node { op, out });
        out
    }

    fn lb(&self, n: Num) -> usize {
        match n {
            Num::Buf(b) => self.num_lb[b as usize],
            Num::In(_) | Num::Const(_) => 0,
        }
    }

    fn blb(&self, b: Bool) -> usize {
        match b {
            Bool::Buf(b) => self.bool_lb[b as usize],
            Bool::Const(true) => 0,
            Bool::Const(false) => usize::MAX,
        }
    }

    /// Bars at the start of a number node's output that are certainly NaN.
    fn num_warmup(&self, op: &Op) -> usize {
        match *op {
            Op::Arith(_, a, b) => self.lb(a).max(self.lb(b)),
            Op::Neg(x) | Op::Abs(x) | Op::Fill(x) => self.lb(x),
            Op::Shift(x, n) | Op::PctChange(x, n) => self.lb(x).saturating_add(n as usize),
            Op::Ta(ta) => {
                let inputs = match ta {
                    Ta::Window(_, x, _)
                    | Ta::Stddev(x, ..)
                    | Ta::Macd(x, ..)
                    | Ta::Bbands(x, ..) => vec![x],
                    Ta::Hlc(_, xs, _) | Ta::Stoch(xs, ..) => xs.to_vec(),
                    Ta::Obv(a, b) => vec![a, b],
                };
                let begin = inputs.into_iter().map(|x| self.lb(x)).max().unwrap_or(0);
                begin.saturating_add(lookback(&ta))
            }
            _ => 0,
        }
    }

    /// Bars at the start of a condition node's output that are certainly false.
    fn bool_warmup(&self, op: &Op) -> usize {
        match *op {
            Op::Cmp(_, a, b) => self.lb(a).max(self.lb(b)),
            Op::And(a, b) => self.blb(a).max(self.blb(b)),
            Op::Or(a, b) => self.blb(a).min(self.blb(b)),
            Op::Not(_) => 0,
            Op::ShiftBool(x, n) => self.blb(x).saturating_add(n as usize),
            Op::Trend(_, x, n) => self.lb(x).saturating_add(n as usize),
            Op::Cross(_, a, b) => self.lb(a).max(self.lb(b)).saturating_add(1),
            Op::FillBool(v) => self.blb(Bool::Const(v)),
            _ => 0,
        }
    }

    fn num_node(&mut self, op: Op) -> Num {
        Num::Buf(self.intern(op))
    }

    fn bool_node(&mut self, op: Op) -> Bool {
        Bool::Buf(self.intern(op))
    }

    /// A series operand for a quantd-ta kernel: constants are broadcast into a buffer.
    fn series(&mut self, n: Num) -> Num {
        match n {
            Num::Const(_) => self.num_node(Op::Fill(n)),
            _ => n,
        }
    }

    fn count(&self, t: &TExpr, lets: &[TLet]) -> u32 {
        // The checker has validated the value: a whole number within the accepted range.
        const_value(t, lets, Some(self.params)).unwrap_or(0.0) as u32
    }

    fn real(&self, t: &TExpr, lets: &[TLet]) -> f64 {
        const_value(t, lets, Some(self.params)).unwrap_or(f64::NAN)
    }

    fn lower(&mut self, t: &TExpr, values: &[Val], lets: &[TLet]) -> Val {
        match &t.kind {
            TKind::Number(v) => Val::Num(Num::constant(*v)),
            TKind::Param(name) => Val::Num(Num::constant(
                self.params.get(name).copied().unwrap_or(f64::NAN),
            )),
            TKind::Column(i) => {
                Val::Num(Num::In(self.col_map[*i].expect("used columns are mapped")))
            }
            TKind::Let(i) => values[*i],
            TKind::Neg(x) => {
                let x = self.lower(x, values, lets).num();
                Val::Num(match x.as_const() {
                    Some(v) => Num::constant(-v),
                    None => self.num_node(Op::Neg(x)),
                })
            }
            TKind::Not(x) => {
                let x = self.lower(x, values, lets).boolean();
                Val::Bool(self.not(x))
            }
            TKind::Binary(op, a, b) => {
                let a = self.lower(a, values, lets).num();
                let b = self.lower(b, values, lets).num();
                match op {
                    BinOp::Add => Val::Num(self.arith(Arith::Add, a, b)),
                    BinOp::Sub => Val::Num(self.arith(Arith::Sub, a, b)),
                    BinOp::Mul => Val::Num(self.arith(Arith::Mul, a, b)),
                    BinOp::Div => Val::Num(self.arith(Arith::Div, a, b)),
                    BinOp::Lt => Val::Bool(self.cmp(Cmp::Lt, a, b)),
                    BinOp::Le => Val::Bool(self.cmp(Cmp::Le, a, b)),
                    BinOp::Gt => Val::Bool(self.cmp(Cmp::Lt, b, a)),
                    BinOp::Ge => Val::Bool(self.cmp(Cmp::Le, b, a)),
                    BinOp::Eq => Val::Bool(self.cmp(Cmp::Eq, a, b)),
                    BinOp::Ne => Val::Bool(self.cmp(Cmp::Ne, a, b)),
                }
            }
            TKind::Logic(op, items) => {
                let mut acc = match op {
                    LogicOp::And => Bool::Const(true),
                    LogicOp::Or => Bool::Const(false),
                };
                for item in items {
                    let x = self.lower(item, values, lets).boolean();
                    acc = self.logic(*op, acc, x);
                }
                Val::Bool(acc)
            }
            TKind::Call { func, args, field } => self.call(*func, args, *field, values, lets),
        }
    }

    fn call(
        &mut self,
        func: Func,
        args: &[TExpr],
        field: usize,
        values: &[Val],
        lets: &[TLet],
    ) -> Val {
        let val = |b: &mut Self, i: usize| b.lower(&args[i], values, lets);
        let window = |b: &mut Self, w: Window| {
            let x = val(b, 0).num();
            let x = b.series(x);
            let p = b.count(&args[1], lets);
            Val::Num(b.num_node(Op::Ta(Ta::Window(w, x, p))))
        };
        let hlc = |b: &mut Self| -> [Num; 3] {
            let mut xs = [Num::In(0); 3];
            for (i, x) in xs.iter_mut().enumerate() {
                let v = val(b, i).num();
                *x = b.series(v);
            }
            xs
        };
        let multi = |b: &mut Self, ta: Ta| Val::Num(Num::Buf(b.intern(Op::Ta(ta)) + field as u32));
        match func {
            Func::Sma => window(self, Window::Sma),
            Func::Ema => window(self, Window::Ema),
            Func::Wma => window(self, Window::Wma),
            Func::Rsi => window(self, Window::Rsi),
            Func::Roc => window(self, Window::Roc),
            Func::Mom => window(self, Window::Mom),
            Func::Highest | Func::Lowest if self.count(&args[1], lets) == 1 => val(self, 0),
            Func::Highest => window(self, Window::Max),
            Func::Lowest => window(self, Window::Min),
            Func::Atr | Func::Natr | Func::Adx | Func::Cci | Func::Willr => {
                let kind = match func {
                    Func::Atr => Hlc::Atr,
                    Func::Natr => Hlc::Natr,
                    Func::Adx => Hlc::Adx,
                    Func::Cci => Hlc::Cci,
                    _ => Hlc::Willr,
                };
                let xs = hlc(self);
                let p = self.count(&args[3], lets);
                Val::Num(self.num_node(Op::Ta(Ta::Hlc(kind, xs, p))))
            }
            Func::Stddev => {
                let x = val(self, 0).num();
                let x = self.series(x);
                let p = self.count(&args[1], lets);
                let nbdev = args.get(2).map_or(1.0, |a| self.real(a, lets));
                Val::Num(self.num_node(Op::Ta(Ta::Stddev(x, p, nbdev.to_bits()))))
            }
            Func::Obv => {
                let c = val(self, 0).num();
                let c = self.series(c);
                let v = val(self, 1).num();
                let v = self.series(v);
                Val::Num(self.num_node(Op::Ta(Ta::Obv(c, v))))
            }
            Func::Macd => {
                let x = val(self, 0).num();
                let x = self.series(x);
                let [fast, slow, signal] = [1, 2, 3].map(|i| self.count(&args[i], lets));
                multi(self, Ta::Macd(x, fast, slow, signal))
            }
            Func::Bbands => {
                let x = val(self, 0).num();
                let x = self.series(x);
                let p = self.count(&args[1], lets);
                let up = self.real(&args[2], lets);
                let dn = args.get(3).map_or(up, |a| self.real(a, lets));
                multi(self, Ta::Bbands(x, p, up.to_bits(), dn.to_bits()))
            }
            Func::Stoch => {
                let xs = hlc(self);
                let [k, slowk, d] = [3, 4, 5].map(|i| self.count(&args[i], lets));
                multi(self, Ta::Stoch(xs, k, slowk, d))
            }
            Func::Shift => {
                let n = self.count(&args[1], lets);
                match val(self, 0) {
                    v if n == 0 => v,
                    Val::Num(x) => Val::Num(self.num_node(Op::Shift(x, n))),
                    Val::Bool(x) => Val::Bool(self.bool_node(Op::ShiftBool(x, n))),
                }
            }
            Func::CrossesAbove | Func::CrossesBelow => {
                let a = val(self, 0).num();
                let b = val(self, 1).num();
                if a.as_const().is_some() && b.as_const().is_some() {
                    // Two constants never cross.
                    return Val::Bool(Bool::Const(false));
                }
                Val::Bool(self.bool_node(Op::Cross(func == Func::CrossesAbove, a, b)))
            }
            Func::Abs => {
                let x = val(self, 0).num();
                Val::Num(match x.as_const() {
                    Some(v) => Num::constant(v.abs()),
                    None => self.num_node(Op::Abs(x)),
                })
            }
            Func::Min | Func::Max => {
                let a = val(self, 0).num();
                let b = val(self, 1).num();
                let op = if func == Func::Min {
                    Arith::Min
                } else {
                    Arith::Max
                };
                Val::Num(self.arith(op, a, b))
            }
            Func::PctChange => {
                let x = val(self, 0).num();
                let n = self.count(&args[1], lets);
                Val::Num(self.num_node(Op::PctChange(x, n)))
            }
            Func::Rising | Func::Falling => {
                let x = val(self, 0).num();
                if x.as_const().is_some() {
                    // A constant is never strictly above (or below) itself.
                    return Val::Bool(Bool::Const(false));
                }
                let n = self.count(&args[1], lets);
                Val::Bool(self.bool_node(Op::Trend(func == Func::Rising, x, n)))
            }
        }
    }

    fn arith(&mut self, op: Arith, a: Num, b: Num) -> Num {
        if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
            return Num::constant(crate::kernels::arith(op, x, y));
        }
        let commutes = matches!(op, Arith::Add | Arith::Mul | Arith::Min | Arith::Max);
        let (a, b) = if commutes && b < a { (b, a) } else { (a, b) };
        self.num_node(Op::Arith(op, a, b))
    }

    fn cmp(&mut self, op: Cmp, a: Num, b: Num) -> Bool {
        if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
            return Bool::Const(crate::kernels::compare(op, x, y));
        }
        let commutes = matches!(op, Cmp::Eq | Cmp::Ne);
        let (a, b) = if commutes && b < a { (b, a) } else { (a, b) };
        self.bool_node(Op::Cmp(op, a, b))
    }

    fn not(&mut self, x: Bool) -> Bool {
        match x {
            Bool::Const(v) => Bool::Const(!v),
            Bool::Buf(_) => self.bool_node(Op::Not(x)),
        }
    }

    fn logic(&mut self, op: LogicOp, a: Bool, b: Bool) -> Bool {
        let absorbing = op == LogicOp::Or;
        match (a, b) {
            (Bool::Const(v), _) | (_, Bool::Const(v)) if v == absorbing => Bool::Const(absorbing),
            (Bool::Const(_), x) | (x, Bool::Const(_)) => x,
            _ if a == b => a,
            _ => {
                let (a, b) = if b < a { (b, a) } else { (a, b) };
                self.bool_node(match op {
                    LogicOp::And => Op::And(a, b),
                    LogicOp::Or => Op::Or(a, b),
                })
            }
        }
    }
}
