//! The checker's part for the functions of time: values of the bar's clock (`hour`, `vwap`, …)
//! with the columns they read, and times of day written as strings, valid only compared with
//! `time_of_day` (`time_of_day >= "09:45"`, which becomes minutes since midnight).

use super::{Checker, TExpr, TKind, Ty};
use crate::ast::{BinOp, Expr, ExprKind};
use crate::clock::parse_time_of_day;
use crate::diagnostic::{Span, excerpt};
use crate::functions::{Func, Returns, Spec, lookup};

/// How a time of day is compared, for help lines.
const TIME_EXAMPLE: &str = "`time_of_day >= \"09:45\"`";

pub(super) fn is_string(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Str(_))
}

impl<'a> Checker<'a> {
    /// A function of time at `span` (`hour`, `vwap`, …): records the clock and pack columns it
    /// reads, which the pack must have.
    pub(super) fn time_value(&mut self, spec: &'static Spec, span: Span) -> Option<TExpr> {
        let (clock, pack) = spec.func.reads()?;
        let missing: Vec<String> = pack
            .iter()
            .filter(|c| self.schema.index_of(c).is_none())
            .map(|c| format!("`{c}`"))
            .collect();
        if !missing.is_empty() {
            let plural = if missing.len() == 1 { "" } else { "s" };
            self.error(
                span,
                format!(
                    "`{}` needs the pack's {} column{plural}, which this pack does not have",
                    spec.name,
                    missing.join(", ")
                ),
                Some(format!(
                    "the columns are {}",
                    self.schema.columns().join(", ")
                )),
            );
            return None;
        }
        let columns = pack.iter().filter_map(|c| self.schema.index_of(c));
        self.used_columns.extend(columns);
        self.used_clock.extend(clock.iter().copied());
        let ty = match spec.returns {
            Returns::Condition => Ty::Bool,
            _ => Ty::Num,
        };
        Some(TExpr {
            kind: TKind::Call {
                func: spec.func,
                args: Vec::new(),
                field: 0,
            },
            span,
            ty,
            konst: false,
        })
    }

    /// `time_of_day >= "09:45"` (either way round), at `span`: the string becomes its minutes
    /// since midnight. A string compared with anything else, in arithmetic, or that is not a
    /// time of day, is an error.
    pub(super) fn time_comparison(
        &mut self,
        op: BinOp,
        a: &'a Expr,
        b: &'a Expr,
        span: Span,
    ) -> Option<TExpr> {
        let string_left = is_string(a);
        let (s, other) = if string_left { (a, b) } else { (b, a) };
        let ExprKind::Str(text) = &s.kind else {
            return None;
        };
        if is_string(other) {
            self.error(
                span,
                "two strings cannot be compared".to_string(),
                Some(format!(
                    "compare the bar's time of day with a time: {TIME_EXAMPLE}"
                )),
            );
            return None;
        }
        // The other side's own errors first.
        let t = self.value(other);
        if !op.is_comparison() {
            self.error(
                s.span,
                format!(
                    "`{}` needs numbers, but its {} side is a string",
                    op.symbol(),
                    if string_left { "left" } else { "right" }
                ),
                Some(format!(
                    "a time string is only compared with `time_of_day`: {TIME_EXAMPLE}"
                )),
            );
            return None;
        }
        let t = t?;
        if !self.is_time_of_day(&t) {
            let shown = excerpt(&self.src[other.span.start..other.span.end]);
            let quoted = format!("\"{}\"", excerpt(text));
            let help = if shown == "time_of_day" {
                "here `time_of_day` is the `let` or the pack column of that name; write \
                 `time_of_day()` for the bar's time of day"
                    .to_string()
            } else {
                let fixed = if string_left {
                    format!("{quoted} {} time_of_day", op.symbol())
                } else {
                    format!("time_of_day {} {quoted}", op.symbol())
                };
                format!(
                    "only `time_of_day` is compared with a time, e.g. `{fixed}`; compare `{shown}` \
                     with a number"
                )
            };
            self.error(
                s.span,
                format!(
                    "a time string can only be compared with `time_of_day`, not with `{shown}`"
                ),
                Some(help),
            );
            return None;
        }
        let minutes = match parse_time_of_day(text) {
            Ok(m) => m,
            Err(help) => {
                self.error(
                    s.span,
                    format!("invalid time of day `\"{}\"`", excerpt(text)),
                    Some(help),
                );
                return None;
            }
        };
        let time = TExpr {
            kind: TKind::Number(f64::from(minutes)),
            span: s.span,
            ty: Ty::Num,
            konst: true,
        };
        let (l, r) = if string_left { (time, t) } else { (t, time) };
        Some(TExpr {
            kind: TKind::Binary(op, Box::new(l), Box::new(r)),
            span,
            ty: Ty::Bool,
            konst: false,
        })
    }

    /// Whether `t` is `time_of_day`, directly or through `let`s.
    fn is_time_of_day(&self, t: &TExpr) -> bool {
        let mut kind = &t.kind;
        loop {
            match kind {
                TKind::Call {
                    func: Func::TimeOfDay,
                    ..
                } => return true,
                // A `let` refers to an earlier one, so this ends.
                TKind::Let(i) => kind = &self.lets[*i].value.kind,
                _ => return false,
            }
        }
    }

    /// The error for a string where it cannot be (anywhere but compared with `time_of_day`).
    pub(super) fn misplaced_string(&mut self, text: &str, span: Span) {
        let is_name = self.schema.index_of(text).is_some()
            || self.let_names.contains_key(text)
            || lookup(text).is_some();
        let help = if is_name {
            format!("names are written without quotes: `{}`", excerpt(text))
        } else if parse_time_of_day(text).is_ok() {
            format!("write the time where it is compared: `time_of_day >= \"{text}\"`")
        } else {
            format!("strings are times of day compared with `time_of_day`: {TIME_EXAMPLE}")
        };
        self.error(
            span,
            "a string can only be a time of day compared with `time_of_day`".to_string(),
            Some(help),
        );
    }
}
