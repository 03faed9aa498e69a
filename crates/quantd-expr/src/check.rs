//! Names and types: resolves columns, `let`s, functions, fields and parameters; checks that
//! numbers and conditions are used where they belong and that periods are constants in range.
//!
//! A name is looked up as a `let` defined above it, then as a pack column, then as a value of
//! the bar's clock (`hour`, `vwap`, …): a `let` or a column named like a function of time hides
//! it, and the call form (`vwap()`) always means the function. A string is only valid as a time
//! compared with `time_of_day` (`time_of_day >= "09:45"`), where it becomes minutes since
//! midnight.
//! Everything here happens before any data is read. Errors are collected, not stopped at (up to
//! [`MAX_ERRORS`]). Every pass is linear in the size of the program: what a `let` contributes to
//! a constant is worked out once, when the `let` is checked.

use std::collections::{BTreeMap, BTreeSet, HashMap};

mod time;

use crate::ast::{Ast, BinOp, Expr, ExprKind, LogicOp};
use crate::clock::ClockCol;
use crate::diagnostic::{Diagnostic, MAX_ERRORS, Span, did_you_mean, excerpt, line_col, suggest};
use crate::functions::{ArgKind, FUNCTIONS, Func, MAX_COUNT, Returns, Spec, lookup};
use crate::{Params, Schema};

/// The type of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Ty {
    /// Numbers (`f64`, NaN where undefined).
    Num,
    /// Conditions (`bool`).
    Bool,
}

impl Ty {
    fn noun(self) -> &'static str {
        match self {
            Ty::Num => "a number",
            Ty::Bool => "a condition (true/false)",
        }
    }
}

/// A checked expression: names resolved, types known.
#[derive(Clone, Debug)]
pub(crate) struct TExpr {
    pub kind: TKind,
    pub span: Span,
    pub ty: Ty,
    /// Built from numbers and parameters only (no column), so known before data is read.
    pub konst: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum TKind {
    Number(f64),
    Param(String),
    /// Index into the schema's columns.
    Column(usize),
    /// Index into the program's `let`s.
    Let(usize),
    Neg(Box<TExpr>),
    Not(Box<TExpr>),
    Binary(BinOp, Box<TExpr>, Box<TExpr>),
    Logic(LogicOp, Vec<TExpr>),
    /// A function call; `field` selects the output of a multi-output function (0 otherwise).
    /// `x[n]` is checked as `shift(x, n)`.
    Call {
        func: Func,
        args: Vec<TExpr>,
        field: usize,
    },
}

/// A checked `let`.
#[derive(Clone, Debug)]
pub(crate) struct TLet {
    pub name: String,
    pub name_span: Span,
    pub value: TExpr,
    /// The value, when it is a constant whose parameters all have values.
    pub konst_value: Option<f64>,
    /// The alphabetically first parameter a constant value depends on (for "pass --param" hints).
    pub first_param: Option<String>,
}

/// A checked program.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    pub lets: Vec<TLet>,
    pub body: TExpr,
    /// Parameters used, with the span of their first use.
    pub params: BTreeMap<String, Span>,
    /// Schema indices of the columns used (those the functions of time read included).
    pub columns: BTreeSet<usize>,
    /// The clock columns the functions of time read.
    pub clock: BTreeSet<ClockCol>,
}

/// A program that failed to check: its diagnostics, and the parameters it uses all the same
/// (so that an unused parameter can still be told from a misspelled one).
pub(crate) struct Failed {
    pub diags: Vec<Diagnostic>,
    pub params: BTreeSet<String>,
}

/// Checks a parsed program. With `params`, parameter values are looked up (a missing one is an
/// error) and constants that depend on them are range-checked too; without, only their names are
/// collected. The final expression must be a condition.
pub(crate) fn check_ast(
    src: &str,
    ast: &Ast,
    schema: &Schema,
    params: Option<&Params>,
) -> Result<Checked, Failed> {
    let mut c = Checker {
        src,
        schema,
        params,
        lets: Vec::new(),
        let_names: HashMap::new(),
        all_lets: ast
            .lets
            .iter()
            .map(|l| (l.name.as_str(), l.name_span))
            .collect(),
        diags: Vec::new(),
        used_params: BTreeMap::new(),
        used_columns: BTreeSet::new(),
        used_clock: BTreeSet::new(),
    };
    for l in &ast.lets {
        let value = c.value(&l.value);
        if let Some(&(_, first)) = c.let_names.get(l.name.as_str()) {
            let (line, col) = line_col(src, first.start);
            c.error(
                l.name_span,
                format!("`{}` is defined twice", l.name),
                Some(format!(
                    "the first `let {}` is at {line}:{col}; pick another name",
                    l.name
                )),
            );
            continue;
        }
        if schema.index_of(&l.name).is_some() {
            c.error(
                l.name_span,
                format!("`{}` is already a column", l.name),
                Some("pick another name for this `let`".to_string()),
            );
            continue;
        }
        let index = value.map(|value| {
            let (konst_value, first_param) = if value.konst {
                let mut names = BTreeSet::new();
                c.params_in(&value, &mut names);
                (const_value(&value, &c.lets, params), names.pop_first())
            } else {
                (None, None)
            };
            c.lets.push(TLet {
                name: l.name.clone(),
                name_span: l.name_span,
                value,
                konst_value,
                first_param,
            });
            c.lets.len() - 1
        });
        c.let_names.insert(l.name.as_str(), (index, l.name_span));
    }
    let body = c.value(&ast.body);
    if let Some(b) = &body
        && b.ty != Ty::Bool
    {
        c.error(
            b.span,
            "the final expression must be a condition (true/false), but it is a number".to_string(),
            Some("the result marks the bars where a condition holds; compare the number, e.g. `... > 0`".to_string()),
        );
    }
    match body {
        Some(body) if c.diags.is_empty() => Ok(Checked {
            lets: c.lets,
            body,
            params: c.used_params,
            columns: c.used_columns,
            clock: c.used_clock,
        }),
        _ => Err(Failed {
            diags: c.diags,
            params: c.used_params.into_keys().collect(),
        }),
    }
}

struct Checker<'a> {
    src: &'a str,
    schema: &'a Schema,
    params: Option<&'a Params>,
    lets: Vec<TLet>,
    /// `let` names seen so far: index into `lets` (`None` when the value had errors), and span.
    let_names: HashMap<&'a str, (Option<usize>, Span)>,
    /// Every `let` in the source, to tell "defined later" from "unknown".
    all_lets: Vec<(&'a str, Span)>,
    diags: Vec<Diagnostic>,
    used_params: BTreeMap<String, Span>,
    used_columns: BTreeSet<usize>,
    used_clock: BTreeSet<ClockCol>,
}

/// The result of a call before its field is chosen.
enum Raw {
    Value(TExpr),
    /// A multi-output call without a field yet.
    Multi {
        spec: &'static Spec,
        args: Vec<TExpr>,
        span: Span,
    },
}

/// A constant's value: known, unknown until parameter values are given, or unavailable because
/// of an error already reported.
enum ConstVal {
    Known(f64),
    Unknown,
}

impl<'a> Checker<'a> {
    fn error(&mut self, span: Span, message: String, help: Option<String>) {
        if self.diags.len() < MAX_ERRORS {
            self.diags
                .push(Diagnostic::at(self.src, span, message).with_help_opt(help));
        }
    }

    /// Checks `e` as a value: a multi-output call must have chosen its field.
    fn value(&mut self, e: &'a Expr) -> Option<TExpr> {
        match self.raw(e)? {
            Raw::Value(t) => Some(t),
            Raw::Multi { spec, span, .. } => {
                self.error(
                    span,
                    format!(
                        "`{}` returns several series; pick one with a field",
                        spec.name
                    ),
                    Some(format!(
                        "add {}, e.g. `{}.{}`",
                        spec.field_list("or"),
                        excerpt(&self.src[span.start..span.end]),
                        spec.fields[0]
                    )),
                );
                None
            }
        }
    }

    /// Checks `e` and requires type `want`; `what` names the operand in the error.
    fn typed(
        &mut self,
        e: &'a Expr,
        want: Ty,
        what: impl FnOnce(Ty) -> (String, Option<String>),
    ) -> Option<TExpr> {
        let t = self.value(e)?;
        if t.ty != want {
            let (message, help) = what(t.ty);
            self.error(t.span, message, help);
            return None;
        }
        Some(t)
    }

    fn raw(&mut self, e: &'a Expr) -> Option<Raw> {
        if self.diags.len() >= MAX_ERRORS {
            // Enough to report: stop checking (and spending time on suggestions).
            return None;
        }
        let span = e.span;
        let leaf = |kind, ty, konst| {
            Some(Raw::Value(TExpr {
                kind,
                span,
                ty,
                konst,
            }))
        };
        match &e.kind {
            ExprKind::Number(v) => leaf(TKind::Number(*v), Ty::Num, true),
            ExprKind::Param(name) => {
                self.param(name, span);
                leaf(TKind::Param(name.clone()), Ty::Num, true)
            }
            ExprKind::Ident(name) => self.ident(name, span).map(Raw::Value),
            ExprKind::Str(text) => {
                self.misplaced_string(text, span);
                None
            }
            ExprKind::Binary(op, a, b) if time::is_string(a) || time::is_string(b) => {
                self.time_comparison(*op, a, b, span).map(Raw::Value)
            }
            ExprKind::Neg(inner) => {
                let t = self.typed(inner, Ty::Num, |found| {
                    (
                        format!("`-` needs a number, but this is {}", found.noun()),
                        None,
                    )
                })?;
                let konst = t.konst;
                leaf(TKind::Neg(Box::new(t)), Ty::Num, konst)
            }
            ExprKind::Not(inner) => {
                let t = self.typed(inner, Ty::Bool, |_| {
                    (
                        "`not` needs a condition, but this is a number".to_string(),
                        Some("compare the number to get a condition, e.g. `x > 0`".to_string()),
                    )
                })?;
                let konst = t.konst;
                leaf(TKind::Not(Box::new(t)), Ty::Bool, konst)
            }
            ExprKind::Binary(op, a, b) => {
                let op = *op;
                let side = |s: &'static str| {
                    move |found: Ty| {
                        if op.is_comparison() {
                            (
                                format!(
                                    "`{}` compares numbers, but its {s} side is {}",
                                    op.symbol(),
                                    found.noun()
                                ),
                                Some(
                                    "conditions are combined with `and`, `or` and `not`"
                                        .to_string(),
                                ),
                            )
                        } else {
                            (
                                format!("`{}` needs numbers, but its {s} side is {}", op.symbol(), found.noun()),
                                Some("a comparison gives a condition, not a number; conditions are combined with `and`, `or` and `not`".to_string()),
                            )
                        }
                    }
                };
                let ta = self.typed(a, Ty::Num, side("left"));
                let tb = self.typed(b, Ty::Num, side("right"));
                let (ta, tb) = (ta?, tb?);
                let ty = if op.is_comparison() {
                    Ty::Bool
                } else {
                    Ty::Num
                };
                let konst = ta.konst && tb.konst;
                leaf(TKind::Binary(op, Box::new(ta), Box::new(tb)), ty, konst)
            }
            ExprKind::Logic(op, items) => {
                let op = *op;
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in items {
                    let t = self.typed(item, Ty::Bool, |_| {
                        (
                            format!(
                                "`{}` combines conditions, but this is a number",
                                op.keyword()
                            ),
                            Some("compare the number to get a condition, e.g. `x > 0`".to_string()),
                        )
                    });
                    match t {
                        Some(t) => out.push(t),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                let konst = out.iter().all(|t| t.konst);
                leaf(TKind::Logic(op, out), Ty::Bool, konst)
            }
            ExprKind::Call {
                name,
                name_span,
                args,
            } => self.call(name, *name_span, args, span),
            ExprKind::Field {
                base,
                field,
                field_span,
            } => {
                let raw = self.raw(base)?;
                match raw {
                    Raw::Multi { spec, args, .. } => {
                        let Some(index) = spec.fields.iter().position(|f| f == field) else {
                            let help = suggest(field, spec.fields.iter().copied())
                                .map(|s| {
                                    format!(
                                        "did you mean `.{s}`? the fields are {}",
                                        spec.field_list("and")
                                    )
                                })
                                .unwrap_or_else(|| {
                                    format!("the fields are {}", spec.field_list("and"))
                                });
                            self.error(
                                *field_span,
                                format!("`{}` has no field `{field}`", spec.name),
                                Some(help),
                            );
                            return None;
                        };
                        leaf(
                            TKind::Call {
                                func: spec.func,
                                args,
                                field: index,
                            },
                            Ty::Num,
                            false,
                        )
                    }
                    Raw::Value(t) => {
                        let message = match &t.kind {
                            TKind::Call { func, .. } => {
                                format!(
                                    "`{}` has a single output; it has no field `{field}`",
                                    func.spec().name
                                )
                            }
                            _ => format!("this value has no field `{field}`"),
                        };
                        self.error(
                            *field_span,
                            message,
                            Some("fields select one output of `macd` (.macd .signal .hist), `bbands` (.upper .middle .lower) or `stoch` (.k .d)".to_string()),
                        );
                        None
                    }
                }
            }
            ExprKind::Index { base, bars } => {
                let tb = self.value(base);
                let tn = self.count(bars, 0, || "the number of bars in `x[n]`".to_string());
                let (tb, tn) = (tb?, tn?);
                let ty = tb.ty;
                leaf(
                    TKind::Call {
                        func: Func::Shift,
                        args: vec![tb, tn],
                        field: 0,
                    },
                    ty,
                    false,
                )
            }
        }
    }

    fn param(&mut self, name: &str, span: Span) {
        let first_use = !self.used_params.contains_key(name);
        if first_use {
            self.used_params.insert(name.to_string(), span);
        }
        let Some(params) = self.params else { return };
        match params.get(name) {
            None if first_use => {
                let help = suggest(name, params.keys().map(String::as_str))
                    .map(|s| {
                        format!("pass --param {name}=<number> (`{s}` was given: is it misspelled?)")
                    })
                    .unwrap_or_else(|| format!("pass --param {name}=<number>"));
                self.error(
                    span,
                    format!("missing value for parameter `${name}`"),
                    Some(help),
                );
            }
            Some(v) if !v.is_finite() && first_use => {
                self.error(
                    span,
                    format!("parameter `${name}` must be a finite number, but it is {v}"),
                    Some(format!("pass --param {name}=<number>")),
                );
            }
            _ => {}
        }
    }

    fn ident(&mut self, name: &str, span: Span) -> Option<TExpr> {
        if let Some(&(index, _)) = self.let_names.get(name) {
            let index = index?; // its value had errors, already reported
            let l = &self.lets[index];
            return Some(TExpr {
                kind: TKind::Let(index),
                span,
                ty: l.value.ty,
                konst: l.value.konst,
            });
        }
        if let Some(index) = self.schema.index_of(name) {
            self.used_columns.insert(index);
            return Some(TExpr {
                kind: TKind::Column(index),
                span,
                ty: Ty::Num,
                konst: false,
            });
        }
        let spec = lookup(name);
        if let Some(spec) = spec.filter(|s| !s.is_value()) {
            self.error(
                span,
                format!("`{name}` is a function, not a value"),
                Some(format!("call it: `{}`", spec.signature())),
            );
            return None;
        }
        if let Some(&(_, later)) = self.all_lets.iter().find(|(n, _)| *n == name) {
            let (line, col) = line_col(self.src, later.start);
            let builtin = spec
                .map(|_| format!("; for the built-in `{name}`, write `{name}()`"))
                .unwrap_or_default();
            self.error(
                span,
                format!("`{name}` is used before its `let`"),
                Some(format!(
                    "move `let {name} = ...;` (at {line}:{col}) above this use{builtin}"
                )),
            );
            return None;
        }
        if let Some(spec) = spec {
            return self.time_value(spec, span);
        }
        let candidates: Vec<&str> = self
            .schema
            .columns()
            .iter()
            .map(String::as_str)
            .chain(self.let_names.keys().copied())
            .chain(FUNCTIONS.iter().filter(|s| s.is_value()).map(|s| s.name))
            .collect();
        let help = did_you_mean(name, candidates.iter().copied()).unwrap_or_else(|| {
            format!(
                "the columns are {}; names defined with `let` can be used too",
                self.schema.columns().join(", ")
            )
        });
        self.error(span, format!("unknown column `{name}`"), Some(help));
        None
    }

    fn call(&mut self, name: &str, name_span: Span, args: &'a [Expr], span: Span) -> Option<Raw> {
        let Some(spec) = lookup(name) else {
            let help = if self.schema.index_of(name).is_some() || self.let_names.contains_key(name)
            {
                Some(format!(
                    "`{name}` is a value, not a function; for its value n bars ago write `{name}[n]`"
                ))
            } else {
                Some(
                    did_you_mean(name, FUNCTIONS.iter().map(|s| s.name)).unwrap_or_else(|| {
                        let names: Vec<&str> = FUNCTIONS.iter().map(|s| s.name).collect();
                        format!("the functions are {}", names.join(", "))
                    }),
                )
            };
            self.error(name_span, format!("unknown function `{name}`"), help);
            // Check the arguments anyway, for their own errors.
            for a in args {
                self.value(a);
            }
            return None;
        };
        if spec.is_value() && !args.is_empty() {
            self.error(
                span,
                format!(
                    "`{name}` takes no arguments, but {} {} given",
                    args.len(),
                    if args.len() == 1 { "was" } else { "were" }
                ),
                Some(format!(
                    "`{name}` is a value of each bar: write `{name}` (or `{name}()`)"
                )),
            );
            return None;
        }
        if spec.is_value() {
            return self.time_value(spec, span).map(Raw::Value);
        }
        if args.len() < spec.required || args.len() > spec.args.len() {
            let expected = if spec.required == spec.args.len() {
                let n = spec.required;
                format!("{n} argument{}", if n == 1 { "" } else { "s" })
            } else {
                format!("{} or {} arguments", spec.required, spec.args.len())
            };
            self.error(
                span,
                format!(
                    "`{name}` takes {expected}, but {} {} given",
                    args.len(),
                    if args.len() == 1 { "was" } else { "were" }
                ),
                Some(format!("the signature is `{}`", spec.signature())),
            );
            return None;
        }
        let mut out = Vec::with_capacity(args.len());
        let mut ok = true;
        for (arg, &(arg_name, kind)) in args.iter().zip(spec.args) {
            let t = match kind {
                ArgKind::Series => self.typed(arg, Ty::Num, |found| {
                    (
                        format!(
                            "argument `{arg_name}` of `{name}` must be a number, but this is {}",
                            found.noun()
                        ),
                        None,
                    )
                }),
                ArgKind::AnySeries => self.value(arg),
                ArgKind::Count { min } => {
                    self.count(arg, min, || format!("`{arg_name}` of `{name}`"))
                }
                ArgKind::Real => self.real(arg, || format!("`{arg_name}` of `{name}`")),
            };
            match t {
                Some(t) => out.push(t),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        if !spec.fields.is_empty() {
            return Some(Raw::Multi {
                spec,
                args: out,
                span,
            });
        }
        let ty = match spec.returns {
            Returns::Number => Ty::Num,
            Returns::Condition => Ty::Bool,
            Returns::SameAsFirst => out[0].ty,
        };
        Some(Raw::Value(TExpr {
            kind: TKind::Call {
                func: spec.func,
                args: out,
                field: 0,
            },
            span,
            ty,
            konst: false,
        }))
    }

    /// A constant whole number from `min` to [`MAX_COUNT`].
    fn count(&mut self, e: &'a Expr, min: u32, what: impl Fn() -> String) -> Option<TExpr> {
        let t = self.constant(e, &what)?;
        if let ConstVal::Known(v) = self.const_value(&t)
            && (v.fract() != 0.0 || v < f64::from(min) || v > f64::from(MAX_COUNT))
        {
            {
                let help =
                    self.param_hint(&t, &format!("a whole number from {min} to {MAX_COUNT}"));
                self.error(
                    t.span,
                    format!(
                        "{} must be a whole number from {min} to {MAX_COUNT}, but it is {v}",
                        what()
                    ),
                    Some(help),
                );
                return None;
            }
        }
        Some(t)
    }

    /// A constant number.
    fn real(&mut self, e: &'a Expr, what: impl Fn() -> String) -> Option<TExpr> {
        let t = self.constant(e, &what)?;
        if let ConstVal::Known(v) = self.const_value(&t)
            && !v.is_finite()
        {
            let help = self.param_hint(&t, "a finite number");
            self.error(
                t.span,
                format!("{} must be a finite number, but it is {v}", what()),
                Some(help),
            );
            return None;
        }
        Some(t)
    }

    /// A number known before data is read: literals, parameters, and arithmetic on them.
    fn constant(&mut self, e: &'a Expr, what: &impl Fn() -> String) -> Option<TExpr> {
        let t = self.typed(e, Ty::Num, |found| {
            (
                format!("{} must be a number, but this is {}", what(), found.noun()),
                None,
            )
        })?;
        if !t.konst {
            self.error(
                t.span,
                format!("{} must be a constant, not a series", what()),
                Some("write a number or a parameter, e.g. `20` or `$period`".to_string()),
            );
            return None;
        }
        Some(t)
    }

    /// How to fix a bad constant: which parameter to change, or what to write.
    fn param_hint(&self, t: &TExpr, want: &str) -> String {
        let mut names = BTreeSet::new();
        self.params_in(t, &mut names);
        match names.first() {
            Some(name) => format!("the value comes from `${name}`; pass --param {name}=<{want}>"),
            None => format!("write {want}"),
        }
    }

    /// The parameters constant `t` depends on (through its `let`s too).
    fn params_in(&self, t: &TExpr, out: &mut BTreeSet<String>) {
        match &t.kind {
            TKind::Param(n) => {
                out.insert(n.clone());
            }
            TKind::Let(i) => out.extend(self.lets[*i].first_param.iter().cloned()),
            TKind::Neg(x) | TKind::Not(x) => self.params_in(x, out),
            TKind::Binary(_, a, b) => {
                self.params_in(a, out);
                self.params_in(b, out);
            }
            _ => {}
        }
    }

    fn const_value(&self, t: &TExpr) -> ConstVal {
        const_value(t, &self.lets, self.params).map_or(ConstVal::Unknown, ConstVal::Known)
    }
}

/// The value of a constant number expression, if every parameter in it has a value. A `let`'s
/// value is the one worked out when it was checked, so this is linear in the size of `t`.
pub(crate) fn const_value(t: &TExpr, lets: &[TLet], params: Option<&Params>) -> Option<f64> {
    Some(match &t.kind {
        TKind::Number(v) => *v,
        TKind::Param(name) => *params?.get(name)?,
        TKind::Let(i) => lets.get(*i)?.konst_value?,
        TKind::Neg(x) => -const_value(x, lets, params)?,
        TKind::Binary(op, a, b) => {
            let (a, b) = (const_value(a, lets, params)?, const_value(b, lets, params)?);
            match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                _ => return None,
            }
        }
        _ => return None,
    })
}
