//! Tokens to a syntax tree, by recursive descent.
//!
//! Precedence, loosest first: `or`, `and`, `not`, comparisons (not chainable), `+ -`, `* /`,
//! unary `-`, then postfix `.field` and `[bars]`. Nesting is limited ([`MAX_NESTING`],
//! [`MAX_DEPTH`]) so no input can overflow the stack; a bad `let` is skipped up to its `;` so
//! that later statements are still checked for errors. The number of `let`s and of nodes is
//! bounded by [`Limits`]; past either, parsing stops at once.

use crate::ast::{Ast, BinOp, Expr, ExprKind, Let, LogicOp};
use crate::diagnostic::{Diagnostic, MAX_ERRORS, Span, excerpt, line_col};
use crate::lexer::{Tok, Token, describe, lex};
use crate::limits::{self, Limits, thousands};

/// How deeply parentheses, calls, `not` and unary minus may nest.
pub(crate) const MAX_NESTING: u32 = 64;
/// How tall an expression tree may be (e.g. `a + b + c + ...` adds a level per term).
pub(crate) const MAX_DEPTH: u32 = 256;

/// The marker that a diagnostic was recorded and the current statement is abandoned.
struct Abandon;

type PResult<T> = Result<T, Abandon>;

/// Parses a whole program, or returns the syntax errors found (the first [`MAX_ERRORS`]).
/// `nodes_before` syntax nodes of other expressions of the same set count against
/// [`Limits::max_nodes`]; [`Ast::nodes`] is the running total.
pub(crate) fn parse(
    src: &str,
    limits: &Limits,
    nodes_before: usize,
) -> Result<Ast, Vec<Diagnostic>> {
    let toks = lex(src, limits)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        nesting: 0,
        errors: Vec::new(),
        limits,
        nodes: nodes_before,
        over_limit: false,
    };
    let ast = p.program();
    match ast {
        Some(ast) if p.errors.is_empty() => Ok(ast),
        _ => Err(p.errors),
    }
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    nesting: u32,
    errors: Vec<Diagnostic>,
    limits: &'s Limits,
    /// Syntax nodes made so far (this expression's and those of the set before it).
    nodes: usize,
    /// A limit of [`Limits`] was crossed: parsing stops.
    over_limit: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Token {
        self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> Token {
        self.toks[(self.pos + ahead).min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, tok: Tok) -> bool {
        if self.peek().tok == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    fn text(&self, span: Span) -> &str {
        &self.src[span.start..span.end]
    }

    fn error(&mut self, d: Diagnostic) -> Abandon {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(d);
        }
        Abandon
    }

    fn error_at(&mut self, span: Span, message: String, help: Option<String>) -> Abandon {
        let d = Diagnostic::at(self.src, span, message).with_help_opt(help);
        self.error(d)
    }

    /// "expected X, found Y" at the next token.
    fn expected(&mut self, what: &str, help: Option<String>) -> Abandon {
        let t = self.peek();
        let found = describe(self.src, &t);
        self.error_at(t.span, format!("expected {what}, found {found}"), help)
    }

    fn where_is(&self, span: Span) -> String {
        let (line, col) = line_col(self.src, span.start);
        format!("{line}:{col}")
    }

    fn program(&mut self) -> Option<Ast> {
        let mut lets = Vec::new();
        let mut count = 0usize;
        while self.peek().tok == Tok::Let {
            count += 1;
            if count > self.limits.max_lets {
                self.too_many_lets();
                return None;
            }
            match self.let_statement() {
                Ok(l) => lets.push(l),
                Err(Abandon) => self.recover_statement(),
            }
            if self.errors.len() >= MAX_ERRORS || self.over_limit {
                return None;
            }
        }
        if self.peek().tok == Tok::Eof {
            let (message, help) = if lets.is_empty() {
                (
                    "empty program: expected an expression",
                    "write a condition, e.g. `rsi(close, 14) < 30`",
                )
            } else {
                (
                    "expected the final expression after the `let` statements",
                    "end the program with the condition to evaluate, e.g. `close > ma` on the last line",
                )
            };
            let span = self.peek().span;
            self.error_at(span, message.to_string(), Some(help.to_string()));
            return None;
        }
        let body = self.expr().ok()?;
        self.eat(Tok::Semi);
        let t = self.peek();
        if t.tok != Tok::Eof {
            let found = describe(self.src, &t);
            let (message, help) = match t.tok {
                Tok::Let => (
                    "`let` must come before the final expression".to_string(),
                    "move this `let` above the final expression".to_string(),
                ),
                Tok::Assign => (
                    "unexpected `=`".to_string(),
                    "to compare, write `==`; to name a value, write `let name = value;`".to_string(),
                ),
                _ => (
                    format!("unexpected {found} after the final expression"),
                    "a program is `let` statements followed by one expression; combine conditions with `and` or `or`".to_string(),
                ),
            };
            self.error_at(t.span, message, Some(help));
            return None;
        }
        Some(Ast {
            lets,
            body,
            nodes: self.nodes,
        })
    }

    /// The `let` at the next token is one more than [`Limits::max_lets`].
    fn too_many_lets(&mut self) {
        let max = self.limits.max_lets;
        let span = self.peek().span;
        let d = Diagnostic::at(
            self.src,
            span,
            format!(
                "too many `let` statements: more than the limit of {}",
                thousands(max)
            ),
        )
        .with_help(limits::help(
            "each `let` is an indicator column of every signal; remove the ones you do not need \
             to see, or write their values inline",
            limits::name::LETS,
        ))
        .with_limit(limits::name::LETS);
        self.over_limit = true;
        self.error(d);
    }

    /// Skips to just after the next `;` or to the next `let`, whichever comes first.
    fn recover_statement(&mut self) {
        loop {
            match self.peek().tok {
                Tok::Eof | Tok::Let => return,
                Tok::Semi => {
                    self.bump();
                    return;
                }
                _ => {
                    self.bump();
                }
            }
        }
    }

    fn let_statement(&mut self) -> PResult<Let> {
        self.bump(); // `let`
        let name_tok = self.peek();
        if name_tok.tok != Tok::Ident {
            let help = match name_tok.tok {
                Tok::Let | Tok::And | Tok::Or | Tok::Not => {
                    Some("keywords cannot be used as names".to_string())
                }
                Tok::Param => {
                    Some("`$` marks parameters; a `let` name is written without it".to_string())
                }
                _ => None,
            };
            return Err(self.expected("a name after `let`", help));
        }
        self.bump();
        let name = self.text(name_tok.span).to_string();
        if !self.eat(Tok::Assign) {
            let help = (self.peek().tok == Tok::EqEq)
                .then(|| format!("write `let {name} = ...;` with a single `=`"));
            return Err(self.expected(&format!("`=` after `let {name}`"), help));
        }
        let value = self.expr()?;
        if !self.eat(Tok::Semi) {
            let help = Some("end each `let` statement with `;`".to_string());
            return Err(self.expected(&format!("`;` after the value of `{name}`"), help));
        }
        Ok(Let {
            name,
            name_span: name_tok.span,
            value,
        })
    }

    /// Enters one level of nesting, refusing past [`MAX_NESTING`].
    fn enter(&mut self) -> PResult<()> {
        if self.nesting >= MAX_NESTING {
            let span = self.peek().span;
            return Err(self.error_at(
                span,
                format!("expression is nested too deeply (more than {MAX_NESTING} levels)"),
                Some("split it into `let` statements".to_string()),
            ));
        }
        self.nesting += 1;
        Ok(())
    }

    /// Builds a node, refusing trees taller than [`MAX_DEPTH`] and more nodes than
    /// [`Limits::max_nodes`].
    fn node(&mut self, kind: ExprKind, span: Span) -> PResult<Expr> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            let max = self.limits.max_nodes;
            let d = Diagnostic::at(
                self.src,
                span,
                format!(
                    "the code is too large: more than the limit of {} syntax nodes (numbers, \
                     names, operators, calls)",
                    thousands(max)
                ),
            )
            .with_help(limits::help(
                "simplify it, or split the work into several scanners",
                limits::name::NODES,
            ))
            .with_limit(limits::name::NODES);
            self.over_limit = true;
            return Err(self.error(d));
        }
        let e = Expr::new(kind, span);
        if e.depth > MAX_DEPTH {
            return Err(self.error_at(
                span,
                format!(
                    "expression is too long to evaluate as one tree (more than {MAX_DEPTH} levels)"
                ),
                Some("split it into `let` statements".to_string()),
            ));
        }
        Ok(e)
    }

    fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let e = self.logic(LogicOp::Or);
        self.nesting -= 1;
        e
    }

    /// A chain of `or` (of `and` operands), or of `and` (of `not` operands).
    fn logic(&mut self, op: LogicOp) -> PResult<Expr> {
        let (tok, operand): (Tok, fn(&mut Self) -> PResult<Expr>) = match op {
            LogicOp::Or => (Tok::Or, |p| p.logic(LogicOp::And)),
            LogicOp::And => (Tok::And, Self::not),
        };
        let first = operand(self)?;
        if self.peek().tok != tok {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(tok) {
            items.push(operand(self)?);
        }
        let span = items[0].span.to(items[items.len() - 1].span);
        self.node(ExprKind::Logic(op, items), span)
    }

    fn not(&mut self) -> PResult<Expr> {
        if self.peek().tok == Tok::Not {
            let start = self.bump().span;
            self.enter()?;
            let inner = self.not();
            self.nesting -= 1;
            let inner = inner?;
            let span = start.to(inner.span);
            return self.node(ExprKind::Not(Box::new(inner)), span);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> PResult<Expr> {
        let lhs = self.additive()?;
        let Some(op) = comparison_op(self.peek().tok) else {
            if self.peek().tok == Tok::Assign && self.peek_at(1).tok != Tok::Eof {
                let span = self.peek().span;
                return Err(self.error_at(
                    span,
                    "unexpected `=`".to_string(),
                    Some(
                        "to compare, write `==`; to name a value, write `let name = value;`"
                            .to_string(),
                    ),
                ));
            }
            return Ok(lhs);
        };
        self.bump();
        let rhs = self.additive()?;
        if let Some(op2) = comparison_op(self.peek().tok) {
            let span = self.peek().span;
            self.bump();
            let (a, b) = (excerpt(self.text(lhs.span)), excerpt(self.text(rhs.span)));
            let errors_before = self.errors.len();
            let c = match self.additive() {
                Ok(c) => excerpt(self.text(c.span)),
                Err(Abandon) if self.over_limit => return Err(Abandon),
                Err(Abandon) => {
                    // The third operand has its own error; the chain is the one to report.
                    self.errors.truncate(errors_before);
                    "...".to_string()
                }
            };
            return Err(self.error_at(
                span,
                "comparisons cannot be chained".to_string(),
                Some(format!(
                    "write two comparisons joined by `and`: `{a} {} {b} and {b} {} {c}`",
                    op.symbol(),
                    op2.symbol()
                )),
            ));
        }
        let span = lhs.span.to(rhs.span);
        self.node(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span)
    }

    fn additive(&mut self) -> PResult<Expr> {
        let mut lhs = self.multiplicative()?;
        loop {
            let op = match self.peek().tok {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.multiplicative()?;
            let span = lhs.span.to(rhs.span);
            lhs = self.node(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span)?;
        }
    }

    fn multiplicative(&mut self) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek().tok {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.unary()?;
            let span = lhs.span.to(rhs.span);
            lhs = self.node(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span)?;
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        match self.peek().tok {
            Tok::Minus => {
                let start = self.bump().span;
                self.enter()?;
                let inner = self.unary();
                self.nesting -= 1;
                let inner = inner?;
                let span = start.to(inner.span);
                // `-3` is a number, not an operation on one.
                if let ExprKind::Number(v) = inner.kind {
                    return self.node(ExprKind::Number(-v), span);
                }
                self.node(ExprKind::Neg(Box::new(inner)), span)
            }
            Tok::Plus => {
                let span = self.peek().span;
                Err(self.error_at(
                    span,
                    "unexpected `+`".to_string(),
                    Some("numbers need no leading `+`".to_string()),
                ))
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            match self.peek().tok {
                Tok::Dot => {
                    self.bump();
                    let t = self.peek();
                    if t.tok != Tok::Ident {
                        return Err(self.expected(
                            "a field name after `.`",
                            Some(
                                "fields select one output, e.g. `macd(close, 12, 26, 9).signal`"
                                    .to_string(),
                            ),
                        ));
                    }
                    self.bump();
                    let span = e.span.to(t.span);
                    let kind = ExprKind::Field {
                        base: Box::new(e),
                        field: self.text(t.span).to_string(),
                        field_span: t.span,
                    };
                    e = self.node(kind, span)?;
                }
                Tok::LBracket => {
                    let open = self.bump().span;
                    let bars = self.expr()?;
                    if !self.eat(Tok::RBracket) {
                        let at = self.where_is(open);
                        return Err(self.expected(
                            &format!("`]` to close the `[` at {at}"),
                            Some("`x[n]` is the value of `x` n bars ago".to_string()),
                        ));
                    }
                    let span = e.span.to(self.toks[self.pos - 1].span);
                    let kind = ExprKind::Index {
                        base: Box::new(e),
                        bars: Box::new(bars),
                    };
                    e = self.node(kind, span)?;
                }
                _ => return Ok(e),
            }
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        match t.tok {
            Tok::Num(v) => {
                self.bump();
                self.node(ExprKind::Number(v), t.span)
            }
            Tok::Param => {
                self.bump();
                let name = self.text(t.span)[1..].to_string();
                self.node(ExprKind::Param(name), t.span)
            }
            Tok::Str => {
                self.bump();
                let text = self.text(t.span);
                let text = text[1..text.len() - 1].to_string();
                self.node(ExprKind::Str(text), t.span)
            }
            Tok::Ident => {
                self.bump();
                let name = self.text(t.span).to_string();
                if self.peek().tok == Tok::LParen {
                    return self.call(name, t.span);
                }
                self.node(ExprKind::Ident(name), t.span)
            }
            Tok::LParen => {
                self.bump();
                let inner = self.expr()?;
                if !self.eat(Tok::RParen) {
                    let at = self.where_is(t.span);
                    return Err(self.expected(&format!("`)` to close the `(` at {at}"), None));
                }
                let span = t.span.to(self.toks[self.pos - 1].span);
                // Parentheses only group: keep the inner node, widened to include them.
                Ok(Expr { span, ..inner })
            }
            Tok::Not => {
                // `a > not b`: `not` binds looser than comparisons, so it needs parentheses here.
                Err(self.expected(
                    "an expression",
                    Some(
                        "put `not ...` in parentheses when it is an operand: `(not x)`".to_string(),
                    ),
                ))
            }
            _ => Err(self.expected("an expression", None)),
        }
    }

    fn call(&mut self, name: String, name_span: Span) -> PResult<Expr> {
        let open = self.bump().span; // `(`
        let mut args = Vec::new();
        if !self.eat(Tok::RParen) {
            loop {
                args.push(self.expr()?);
                if self.eat(Tok::Comma) {
                    if self.peek().tok == Tok::RParen {
                        self.bump();
                        break; // trailing comma
                    }
                    continue;
                }
                if self.eat(Tok::RParen) {
                    break;
                }
                let at = self.where_is(open);
                return Err(self.expected(
                    &format!("`,` or `)` in the arguments of `{name}`"),
                    Some(format!("the `(` at {at} is not closed")),
                ));
            }
        }
        let span = name_span.to(self.toks[self.pos - 1].span);
        self.node(
            ExprKind::Call {
                name,
                name_span,
                args,
            },
            span,
        )
    }
}

fn comparison_op(tok: Tok) -> Option<BinOp> {
    Some(match tok {
        Tok::Lt => BinOp::Lt,
        Tok::Le => BinOp::Le,
        Tok::Gt => BinOp::Gt,
        Tok::Ge => BinOp::Ge,
        Tok::EqEq => BinOp::Eq,
        Tok::Ne => BinOp::Ne,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_default(src: &str) -> Result<Ast, Vec<Diagnostic>> {
        parse(src, &Limits::default(), 0)
    }

    /// A compact rendering of the tree, to test shapes and precedence.
    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Number(v) => format!("{v}"),
            ExprKind::Ident(n) => n.clone(),
            ExprKind::Param(n) => format!("${n}"),
            ExprKind::Str(t) => format!("{t:?}"),
            ExprKind::Neg(x) => format!("(-{})", show(x)),
            ExprKind::Not(x) => format!("(not {})", show(x)),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", show(a), op.symbol(), show(b)),
            ExprKind::Logic(op, xs) => {
                let parts: Vec<_> = xs.iter().map(show).collect();
                format!("({})", parts.join(&format!(" {} ", op.keyword())))
            }
            ExprKind::Call { name, args, .. } => {
                let parts: Vec<_> = args.iter().map(show).collect();
                format!("{name}({})", parts.join(", "))
            }
            ExprKind::Field { base, field, .. } => format!("{}.{field}", show(base)),
            ExprKind::Index { base, bars } => format!("{}[{}]", show(base), show(bars)),
        }
    }

    fn body(src: &str) -> String {
        show(&parse_default(src).unwrap().body)
    }

    fn first_error(src: &str) -> String {
        parse_default(src).unwrap_err()[0].message.clone()
    }

    #[test]
    fn precedence() {
        assert_eq!(body("1 + 2 * 3 - 4 / 5"), "((1 + (2 * 3)) - (4 / 5))");
        assert_eq!(
            body("a > 1 and b < 2 or not c == 3"),
            "(((a > 1) and (b < 2)) or (not (c == 3)))"
        );
        assert_eq!(body("a and b and c"), "(a and b and c)");
        assert_eq!(body("-a * -3"), "((-a) * -3)");
        assert_eq!(body("not not a"), "(not (not a))");
        assert_eq!(body("(a + b) * c"), "((a + b) * c)");
    }

    #[test]
    fn postfix_and_calls() {
        assert_eq!(
            body("macd(close, 12, 26, 9).signal"),
            "macd(close, 12, 26, 9).signal"
        );
        assert_eq!(
            body("close[1] < close[$n + 1]"),
            "(close[1] < close[($n + 1)])"
        );
        assert_eq!(body("f()"), "f()");
        assert_eq!(body("sma(close, 5,)"), "sma(close, 5)");
        assert_eq!(body("hour() >= 10"), "(hour() >= 10)");
        assert_eq!(
            body("time_of_day >= \"09:45\" and hour"),
            "((time_of_day >= \"09:45\") and hour)"
        );
    }

    #[test]
    fn lets_and_comments() {
        let ast = parse_default("# setup\nlet a = sma(close, 5); # fast\nlet b = a * 2;\na < b;")
            .unwrap();
        assert_eq!(ast.lets.len(), 2);
        assert_eq!(ast.lets[1].name, "b");
        assert_eq!(show(&ast.lets[1].value), "(a * 2)");
        assert_eq!(ast.lets[0].name_span, Span::new(12, 13));
    }

    #[test]
    fn spans_cover_the_source() {
        let src = "  (close + 1) > sma(close, 5)  ";
        let ast = parse_default(src).unwrap();
        assert_eq!(
            &src[ast.body.span.start..ast.body.span.end],
            "(close + 1) > sma(close, 5)"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(first_error(""), "empty program: expected an expression");
        assert_eq!(
            first_error("# only a comment"),
            "empty program: expected an expression"
        );
        assert_eq!(
            first_error("let a = 1;"),
            "expected the final expression after the `let` statements"
        );
        assert_eq!(
            first_error("sma(close, 5"),
            "expected `,` or `)` in the arguments of `sma`, found end of input"
        );
        assert_eq!(
            first_error("(close"),
            "expected `)` to close the `(` at 1:1, found end of input"
        );
        assert_eq!(
            first_error("close[1"),
            "expected `]` to close the `[` at 1:6, found end of input"
        );
        assert_eq!(
            first_error("close >"),
            "expected an expression, found end of input"
        );
        assert_eq!(
            first_error("1 < close < 2"),
            "comparisons cannot be chained"
        );
        assert_eq!(
            first_error("let a = 1 close"),
            "expected `;` after the value of `a`, found name `close`"
        );
        assert_eq!(
            first_error("let and = 1; a"),
            "expected a name after `let`, found keyword `and`"
        );
        assert_eq!(
            first_error("close > 1 close < 2"),
            "unexpected name `close` after the final expression"
        );
        assert_eq!(
            first_error("close > 1; let a = 1; a"),
            "`let` must come before the final expression"
        );
        assert_eq!(first_error("x = 5"), "unexpected `=`");
        assert_eq!(
            first_error("close.(1)"),
            "expected a field name after `.`, found `(`"
        );
        assert_eq!(first_error("+1"), "unexpected `+`");
    }

    #[test]
    fn several_let_errors_are_reported() {
        let errs = parse_default("let a = ;\nlet b = 1 +;\nlet c = 2;\nc > 1").unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].location.as_ref().unwrap().line, 1);
        assert_eq!(errs[1].location.as_ref().unwrap().line, 2);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}close{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(first_error(&deep).starts_with("expression is nested too deeply"));
        let negs = format!("{}close > 1", "not ".repeat(10_000));
        assert!(first_error(&negs).starts_with("expression is nested too deeply"));
        let minus = format!("{}close", "- ".repeat(10_000));
        assert!(first_error(&minus).starts_with("expression is nested too deeply"));
        let long = format!("close{} > 1", " + close".repeat(10_000));
        assert!(first_error(&long).starts_with("expression is too long"));
        // Long `and` chains are flat, so they are fine (within the limit on nodes).
        let chain = vec!["close > 1"; 10_000].join(" and ");
        let limits = Limits {
            max_nodes: 100_000,
            ..Limits::default()
        };
        assert!(parse(&chain, &limits, 0).is_ok());
        // Within the limits, nesting works.
        let ok = format!("{}close{} > 1", "(".repeat(50), ")".repeat(50));
        assert!(parse_default(&ok).is_ok());
    }
}
