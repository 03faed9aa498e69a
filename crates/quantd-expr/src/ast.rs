//! The syntax tree the parser builds: names still unresolved, types still unknown.

use crate::diagnostic::Span;

/// `let` statements, then the final expression.
#[derive(Clone, Debug)]
pub(crate) struct Ast {
    pub lets: Vec<Let>,
    pub body: Expr,
    /// Syntax nodes of this expression and of those parsed before it in the same set.
    pub nodes: usize,
}

/// `let name = value;`
#[derive(Clone, Debug)]
pub(crate) struct Let {
    pub name: String,
    pub name_span: Span,
    pub value: Expr,
}

/// An expression and its source span. `depth` is the height of the tree below it, bounded by the
/// parser so that every recursive pass over the tree stays within a small stack.
#[derive(Clone, Debug)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    pub depth: u32,
}

#[derive(Clone, Debug)]
pub(crate) enum ExprKind {
    Number(f64),
    /// A column or a `let` name.
    Ident(String),
    /// `$name`, without the `$`.
    Param(String),
    /// `"text"`, without the quotes: only valid as a time compared with `time_of_day`.
    Str(String),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// A chain of `and` (or of `or`) as one node, so long chains do not make deep trees.
    Logic(LogicOp, Vec<Expr>),
    Call {
        name: String,
        name_span: Span,
        args: Vec<Expr>,
    },
    Field {
        base: Box<Expr>,
        field: String,
        field_span: Span,
    },
    /// `base[bars]`
    Index {
        base: Box<Expr>,
        bars: Box<Expr>,
    },
}

/// Arithmetic and comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
        }
    }

    pub fn is_comparison(self) -> bool {
        !matches!(self, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div)
    }
}

/// `and` / `or`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum LogicOp {
    And,
    Or,
}

impl LogicOp {
    pub fn keyword(self) -> &'static str {
        match self {
            LogicOp::And => "and",
            LogicOp::Or => "or",
        }
    }
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        let child_depth = match &kind {
            ExprKind::Number(_) | ExprKind::Ident(_) | ExprKind::Param(_) | ExprKind::Str(_) => 0,
            ExprKind::Neg(e) | ExprKind::Not(e) => e.depth,
            ExprKind::Binary(_, a, b) => a.depth.max(b.depth),
            ExprKind::Index { base, bars } => base.depth.max(bars.depth),
            ExprKind::Field { base, .. } => base.depth,
            ExprKind::Logic(_, items) | ExprKind::Call { args: items, .. } => {
                items.iter().map(|e| e.depth).max().unwrap_or(0)
            }
        };
        Expr {
            kind,
            span,
            depth: child_depth + 1,
        }
    }
}
