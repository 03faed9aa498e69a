//! Checked programs to a [`Program`]: constants folded, parameters substituted, identical
//! sub-expressions merged (hash-consing on [`Op`]), and the warm-up bound computed.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::ast::{BinOp, LogicOp};
mod time;

use crate::check::{Checked, TExpr, TKind, TLet, check_ast, const_value};
use crate::clock::ClockCol;
use crate::cost::cost_of;
use crate::diagnostic::{
    Diagnostic, ExprError, MAX_ERRORS, Span, excerpt, floor_char_boundary, suggest,
};
use crate::functions::Func;
use crate::limits::{self, Limits, thousands};
use crate::parser::parse;
use crate::plan::{Arith, Bool, Cmp, Hlc, Node, Num, Op, Ta, Window};
use crate::program::Program;
use crate::schedule::schedule;
use crate::ta::lookback;
use crate::{CheckInfo, Params, Schema};

/// What [`check_all`] found.
struct CheckedSet {
    checked: Vec<Checked>,
    diags: Vec<Diagnostic>,
    /// The parameters used, if every source parsed (checking errors do not hide them).
    used: Option<BTreeSet<String>>,
}

/// Parses and checks each source; diagnostics carry the source's name when `named`.
fn check_all(
    srcs: &[(&str, &str)],
    schema: &Schema,
    params: Option<&Params>,
    named: bool,
    limits: &Limits,
) -> CheckedSet {
    let mut set = CheckedSet {
        checked: Vec::new(),
        diags: Vec::new(),
        used: Some(BTreeSet::new()),
    };
    let origin = |name: &str, mut d: Diagnostic| {
        if named {
            d.origin = Some(name.to_string());
        }
        d
    };
    if let Some(d) = over_source_bytes(srcs, limits) {
        set.diags.push(d);
        set.used = None;
        return set;
    }
    let mut nodes = 0;
    for (name, src) in srcs {
        let (ds, params_used) = match parse(src, limits, nodes) {
            Err(ds) => {
                let stop = ds.iter().any(|d| d.limit.is_some());
                set.diags.extend(ds.into_iter().map(|d| origin(name, d)));
                set.used = None;
                if stop {
                    break;
                }
                continue;
            }
            Ok(ast) => {
                nodes = ast.nodes;
                match check_ast(src, &ast, schema, params) {
                    Ok(c) => {
                        let p = c.params.keys().cloned().collect();
                        set.checked.push(c);
                        (Vec::new(), p)
                    }
                    Err(failed) => (failed.diags, failed.params),
                }
            }
        };
        if let Some(u) = &mut set.used {
            u.extend(params_used);
        }
        set.diags.extend(ds.into_iter().map(|d| origin(name, d)));
        if set.diags.len() >= MAX_ERRORS {
            // Enough to report; the expressions after this one are not looked at.
            set.used = None;
            break;
        }
    }
    set
}

/// The diagnostic for sources longer than [`Limits::max_source_bytes`] together, pointing where
/// the limit is crossed.
fn over_source_bytes(srcs: &[(&str, &str)], limits: &Limits) -> Option<Diagnostic> {
    let max = limits.max_source_bytes;
    let total = srcs
        .iter()
        .fold(0usize, |acc, (_, src)| acc.saturating_add(src.len()));
    if total <= max {
        return None;
    }
    let mut before = 0usize;
    for (name, src) in srcs {
        if before + src.len() > max {
            let at = floor_char_boundary(src, max - before);
            let mut d = Diagnostic::at(
                src,
                Span::new(at, at),
                format!(
                    "the code is {} bytes, more than the limit of {} bytes; it goes over here",
                    thousands(total),
                    thousands(max)
                ),
            );
            if srcs.len() > 1 {
                d.origin = Some(name.to_string());
            }
            return Some(
                d.with_help(limits::help(
                    "shorten it (comments count too), or split the work into several scanners",
                    limits::name::SOURCE_BYTES,
                ))
                .with_limit(limits::name::SOURCE_BYTES),
            );
        }
        before += src.len();
    }
    None
}

/// The diagnostic for a `let` that makes the set's distinct `let` names more than
/// [`Limits::max_lets`].
fn too_many_indicators(src: &str, l: &TLet, limits: &Limits) -> Diagnostic {
    Diagnostic::at(
        src,
        l.name_span,
        format!(
            "too many `let` names in the expressions together: more than the limit of {}",
            thousands(limits.max_lets)
        ),
    )
    .with_help(limits::help(
        "each `let` is an indicator column of every signal; share names between the \
         expressions, or remove the ones you do not need to see",
        limits::name::LETS,
    ))
    .with_limit(limits::name::LETS)
}

/// [`crate::check_with`] and [`crate::check_set_with`].
pub(crate) fn check_sources(
    srcs: &[(&str, &str)],
    schema: &Schema,
    named: bool,
    limits: &Limits,
) -> Result<CheckInfo, ExprError> {
    let CheckedSet {
        checked, mut diags, ..
    } = check_all(srcs, schema, None, named, limits);
    if !diags.is_empty() {
        return Err(ExprError::new(diags));
    }
    let mut params = BTreeSet::new();
    let mut columns = BTreeSet::new();
    let mut clock = BTreeSet::new();
    let mut lets = Vec::new();
    let mut seen = HashSet::new();
    for ((name, src), c) in srcs.iter().zip(&checked) {
        params.extend(c.params.keys().cloned());
        columns.extend(c.columns.iter().copied());
        clock.extend(c.clock.iter().copied());
        for l in &c.lets {
            if seen.insert(l.name.as_str()) {
                if lets.len() == limits.max_lets {
                    let mut d = too_many_indicators(src, l, limits);
                    if named {
                        d.origin = Some(name.to_string());
                    }
                    diags.push(d);
                    return Err(ExprError::new(diags));
                }
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
            .chain(clock.into_iter().map(|c| c.name().to_string()))
            .collect(),
    })
}

/// Problems of a set as a whole: names given twice, and parameter values the code does not use
/// (known only when every source parsed).
fn set_diagnostics(
    srcs: &[(&str, &str)],
    params: &Params,
    used: Option<&BTreeSet<String>>,
) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut names = HashSet::new();
    for (name, _) in srcs {
        if !names.insert(*name) && diags.len() < MAX_ERRORS {
            diags.push(Diagnostic::general(format!(
                "two expressions are named `{}`",
                excerpt(name)
            )));
        }
    }
    let Some(used) = used else { return diags };
    let used: BTreeSet<&str> = used.iter().map(String::as_str).collect();
    let unused: Vec<&String> = params
        .keys()
        .filter(|p| !used.contains(p.as_str()))
        .collect();
    for name in unused.iter().take(MAX_ERRORS) {
        let help = suggest(name, used.iter().copied())
            .map(|s| format!("did you mean `{s}`? the code uses `${s}`"))
            .unwrap_or_else(|| {
                let name = excerpt(name);
                format!("remove `--param {name}`, or use `${name}` in the code")
            });
        diags.push(
            Diagnostic::general(format!(
                "parameter `{}` is given but not used by the code",
                excerpt(name)
            ))
            .with_help(help),
        );
    }
    if unused.len() > MAX_ERRORS {
        diags.push(Diagnostic::general(format!(
            "... and {} more parameters given but not used",
            thousands(unused.len() - MAX_ERRORS)
        )));
    }
    diags
}

/// [`crate::compile_with`] and [`crate::compile_set_with`].
pub(crate) fn compile_sources(
    srcs: &[(&str, &str)],
    schema: &Schema,
    params: &Params,
    named: bool,
    limits: &Limits,
) -> Result<Program, ExprError> {
    if srcs.is_empty() {
        return Err(ExprError::new(vec![Diagnostic::general(
            "no expressions to compile",
        )]));
    }
    let CheckedSet {
        checked,
        mut diags,
        used,
    } = check_all(srcs, schema, Some(params), named, limits);
    diags.extend(set_diagnostics(srcs, params, used.as_ref()));
    if !diags.is_empty() {
        return Err(ExprError::new(diags));
    }

    let used_columns: BTreeSet<usize> = checked
        .iter()
        .flat_map(|c| c.columns.iter().copied())
        .collect();
    let clock: BTreeSet<ClockCol> = checked
        .iter()
        .flat_map(|c| c.clock.iter().copied())
        .collect();
    let mut columns: Vec<usize> = used_columns.into_iter().collect();
    if columns.is_empty() && clock.is_empty() && !schema.columns().is_empty() {
        // Nothing reads a column, but the evaluation still needs to know how many bars there are.
        columns.push(0);
    }
    let mut col_map = vec![None; schema.columns().len()];
    for (k, &i) in columns.iter().enumerate() {
        col_map[i] = Some(k as u32);
    }
    // The clock columns come after the pack's, in their fixed order.
    let mut clock_map = [None; 3];
    for (k, &c) in clock.iter().enumerate() {
        clock_map[c as usize] = Some((columns.len() + k) as u32);
    }
    let mut b = Builder {
        params,
        schema,
        col_map,
        clock_map,
        nodes: Vec::new(),
        memo: HashMap::new(),
        num_lb: Vec::new(),
        bool_lb: Vec::new(),
        limits,
        kernels: 0,
        over: None,
    };

    let mut indicators: Vec<String> = Vec::new();
    let mut indicator_index: HashMap<String, usize> = HashMap::new();
    let mut indicator_bufs = Vec::new();
    let mut outputs = Vec::new();
    let mut output_bufs = Vec::new();
    let mut used_params = BTreeSet::new();
    let mut diags = Vec::new();
    for ((name, src), c) in srcs.iter().zip(&checked) {
        let origin = |mut d: Diagnostic| {
            if named {
                d.origin = Some(name.to_string());
            }
            d
        };
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
            if let Some(&k) = indicator_index.get(&l.name) {
                if indicator_bufs[k] != buf {
                    let d = Diagnostic::at(src, l.name_span, format!("`{}` is defined differently in two expressions", l.name))
                        .with_help("a `let` name shared by expressions of one set must have the same definition in each; rename one of them");
                    diags.push(origin(d));
                }
                continue;
            }
            if indicators.len() == limits.max_lets {
                diags.push(origin(too_many_indicators(src, l, limits)));
                return Err(ExprError::new(diags));
            }
            indicator_index.insert(l.name.clone(), indicators.len());
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
        if let Some((limit, span)) = b.over.take() {
            diags.push(origin(over_plan_limit(src, span, limit, limits)));
            return Err(ExprError::new(diags));
        }
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
    let cost = cost_of(
        &b.nodes,
        &steps,
        &b.num_lb,
        &b.bool_lb,
        indicators.len(),
        columns.len() + clock.len(),
    );
    Ok(Program {
        columns: columns
            .iter()
            .map(|&i| schema.columns()[i].clone())
            .chain(clock.iter().map(|c| c.name().to_string()))
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
        cost,
    })
}

/// The diagnostic for the expression at `span`, whose compiled form takes the program over
/// `limit` ([`Limits::max_kernel_calls`] or [`Limits::max_slots`]).
fn over_plan_limit(src: &str, span: Span, limit: &'static str, limits: &Limits) -> Diagnostic {
    let (what, max) = if limit == limits::name::KERNEL_CALLS {
        ("distinct indicator calls", limits.max_kernel_calls)
    } else {
        ("distinct values per bar (compiled slots)", limits.max_slots)
    };
    Diagnostic::at(
        src,
        span,
        format!(
            "the program needs too many {what}: more than the limit of {} (reached here)",
            thousands(max)
        ),
    )
    .with_help(limits::help(
        "identical calls are computed once: reuse the same periods, or compute fewer indicators",
        limit,
    ))
    .with_limit(limit)
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
    /// The pack's columns (the functions of time find theirs by name).
    schema: &'p Schema,
    limits: &'p Limits,
    /// Distinct kernel nodes ([`Op::Ta`]) so far.
    kernels: usize,
    /// The first limit the plan went over, and the expression that took it over.
    over: Option<(&'static str, Span)>,
    /// Schema column index to input index.
    col_map: Vec<Option<u32>>,
    /// Clock column ([`ClockCol`] as an index) to input index.
    clock_map: [Option<u32>; 3],
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
        if matches!(op, Op::Ta(_)) {
            self.kernels += 1;
        }
        self.memo.insert(op, out);
        self.nodes.push(Node { op, out });
        out
    }

    /// Records `span` as where the plan went over a limit, if it just did.
    fn check_limits(&mut self, span: Span) {
        if self.over.is_some() {
            return;
        }
        if self.kernels > self.limits.max_kernel_calls {
            self.over = Some((limits::name::KERNEL_CALLS, span));
        } else if self.num_lb.len() + self.bool_lb.len() > self.limits.max_slots {
            self.over = Some((limits::name::SLOTS, span));
        }
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
                let (inputs, n) = ta.inputs();
                let begin = inputs[..n].iter().map(|&x| self.lb(x)).max().unwrap_or(0);
                begin.saturating_add(lookback(&ta))
            }
            Op::WallClock(_, x) => self.lb(x),
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
        let v = self.lower_kind(t, values, lets);
        self.check_limits(t.span);
        v
    }

    fn lower_kind(&mut self, t: &TExpr, values: &[Val], lets: &[TLet]) -> Val {
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
            Func::Hour
            | Func::Minute
            | Func::DayOfWeek
            | Func::TimeOfDay
            | Func::BarsSinceOpen
            | Func::FirstBarOfDay
            | Func::Vwap
            | Func::DayOpen
            | Func::DayHigh
            | Func::DayLow
            | Func::PrevDayClose => self.time(func),
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
