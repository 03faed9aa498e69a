//! Source text to tokens, each with its byte span. Never panics; a bad character becomes a
//! diagnostic and lexing goes on, so several can be reported at once (up to [`MAX_ERRORS`]).
//! Names longer than [`Limits::max_ident_len`] are refused here, so no later pass (or message)
//! ever handles a long one.
//!
//! Strings (`"09:45"`, double quotes, on one line, no escapes) exist for one use, times of day
//! compared with `time_of_day`; the checker refuses them anywhere else. `@` is refused here, so
//! code can never name the engine's clock columns (`@session`, [`crate::clock`]).

use crate::diagnostic::{Diagnostic, MAX_ERRORS, Span, excerpt};
use crate::limits::{self, Limits, thousands};

/// What a token is. Names and parameters keep their text in the source (see [`Token::span`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Tok {
    Num(f64),
    Ident,
    /// `$name`; the name is the span without its first byte.
    Param,
    /// `"text"`; the text is the span without its quotes.
    Str,
    Let,
    And,
    Or,
    Not,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Semi,
    Assign,
    Plus,
    Minus,
    Star,
    Slash,
    Lt,
    Le,
    Gt,
    Ge,
    EqEq,
    Ne,
    Eof,
}

/// A token and where it is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Splits `src` into tokens ending with [`Tok::Eof`], or reports the bad tokens (the first
/// [`MAX_ERRORS`] of them).
pub(crate) fn lex(src: &str, limits: &Limits) -> Result<Vec<Token>, Vec<Diagnostic>> {
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < bytes.len() && errors.len() < MAX_ERRORS {
        let c = bytes[i];
        let start = i;
        let single = |tok| Some((tok, 1));
        let found = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'0'..=b'9' => {
                let (tok, len) = number(src, start).unwrap_or_else(|(len, d)| {
                    errors.push(*d);
                    (Tok::Num(0.0), len)
                });
                Some((tok, len))
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let len = ident_len(&bytes[start..]);
                if len > limits.max_ident_len {
                    errors.push(too_long(src, Span::new(start, start + len), limits));
                }
                let tok = match &src[start..start + len] {
                    "let" => Tok::Let,
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    _ => Tok::Ident,
                };
                Some((tok, len))
            }
            b'$' => {
                let len = ident_len(&bytes[start + 1..]);
                if len == 0 || bytes[start + 1].is_ascii_digit() {
                    errors.push(
                        Diagnostic::at(
                            src,
                            Span::new(start, start + 1),
                            "expected a parameter name after `$`",
                        )
                        .with_help("parameters look like `$rsi_max`: letters, digits and `_`"),
                    );
                } else if len > limits.max_ident_len {
                    errors.push(too_long(src, Span::new(start + 1, start + 1 + len), limits));
                }
                Some((Tok::Param, 1 + len))
            }
            b'"' => Some(string(src, start).unwrap_or_else(|(len, d)| {
                errors.push(*d);
                (Tok::Str, len)
            })),
            b'(' => single(Tok::LParen),
            b')' => single(Tok::RParen),
            b'[' => single(Tok::LBracket),
            b']' => single(Tok::RBracket),
            b',' => single(Tok::Comma),
            b'.' => single(Tok::Dot),
            b';' => single(Tok::Semi),
            b'+' => single(Tok::Plus),
            b'-' => single(Tok::Minus),
            b'*' => single(Tok::Star),
            b'/' => single(Tok::Slash),
            b'<' if bytes.get(i + 1) == Some(&b'=') => Some((Tok::Le, 2)),
            b'<' => single(Tok::Lt),
            b'>' if bytes.get(i + 1) == Some(&b'=') => Some((Tok::Ge, 2)),
            b'>' => single(Tok::Gt),
            b'=' if bytes.get(i + 1) == Some(&b'=') => Some((Tok::EqEq, 2)),
            b'=' => single(Tok::Assign),
            b'!' if bytes.get(i + 1) == Some(&b'=') => Some((Tok::Ne, 2)),
            _ => None,
        };
        match found {
            Some((tok, len)) => {
                toks.push(Token {
                    tok,
                    span: Span::new(start, start + len),
                });
                i += len;
            }
            None => {
                let ch = src[start..].chars().next().unwrap_or('?');
                let len = ch.len_utf8();
                let doubled = bytes.get(i + 1) == Some(&c) && (c == b'&' || c == b'|');
                let span = Span::new(start, start + if doubled { 2 } else { len });
                let shown = &src[span.start..span.end];
                let help = match c {
                    b'&' => Some("write `and` to combine conditions".to_string()),
                    b'|' => Some("write `or` to combine conditions".to_string()),
                    b'!' => Some("write `not` to negate a condition".to_string()),
                    b'\'' => Some(
                        "strings are written in double quotes, e.g. `time_of_day >= \"09:45\"`; \
                         names are written bare, e.g. `close`"
                            .to_string(),
                    ),
                    b'@' => Some(at_help(&bytes[i + 1..])),
                    b'^' => Some("there is no power operator; multiply, e.g. `x * x`".to_string()),
                    b'%' => Some("there is no remainder operator".to_string()),
                    _ => None,
                };
                errors.push(
                    Diagnostic::at(src, span, format!("unexpected character `{shown}`"))
                        .with_help_opt(help),
                );
                i = span.end;
            }
        }
    }
    if errors.is_empty() {
        toks.push(Token {
            tok: Tok::Eof,
            span: Span::new(src.len(), src.len()),
        });
        Ok(toks)
    } else {
        Err(errors)
    }
}

/// How to read the bar's clock instead of writing `@...` (the engine's clock columns).
fn at_help(after: &[u8]) -> String {
    let name = &after[..ident_len(after)];
    let hint = match name {
        b"session" => {
            "`bars_since_open`, `first_bar_of_day`, `day_open`, `prev_day_close` and \
                       `vwap` follow the session"
        }
        b"minute_of_day" => {
            "`time_of_day` is the minutes since midnight, e.g. \
                             `time_of_day >= \"09:45\"`"
        }
        b"weekday" => "`day_of_week` is the day of the week (Monday 0 … Sunday 6)",
        _ => "the bar's time is read with `hour`, `minute`, `time_of_day` and `day_of_week`",
    };
    format!("`@` names are not part of the language; {hint}")
}

/// Lexes a string starting at the `"` at `start`, up to the next `"` on the same line.
/// On error (no closing quote) returns how many bytes to skip and the diagnostic.
fn string(src: &str, start: usize) -> Result<(Tok, usize), (usize, Box<Diagnostic>)> {
    let rest = &src.as_bytes()[start + 1..];
    match rest.iter().position(|&b| b == b'"' || b == b'\n') {
        Some(k) if rest[k] == b'"' => Ok((Tok::Str, k + 2)),
        end => {
            let len = 1 + end.unwrap_or(rest.len());
            let d = Diagnostic::at(src, Span::new(start, start + len), "unterminated string")
                .with_help("close the string with `\"` on the same line, e.g. `\"09:45\"`");
            Err((len, Box::new(d)))
        }
    }
}

/// The diagnostic for a name longer than [`Limits::max_ident_len`] at `span`.
fn too_long(src: &str, span: Span, limits: &Limits) -> Diagnostic {
    let name = &src[span.start..span.end];
    Diagnostic::at(
        src,
        span,
        format!(
            "name `{}` is {} characters long, more than the limit of {}",
            excerpt(name),
            thousands(name.len()),
            thousands(limits.max_ident_len)
        ),
    )
    .with_help(limits::help("use a shorter name", limits::name::IDENT_LEN))
    .with_limit(limits::name::IDENT_LEN)
}

fn ident_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count()
}

/// Lexes a number starting at `start`: `30`, `2.5`, `1e-3`, `2.5E+4`.
/// On error returns how many bytes to skip and the diagnostic.
fn number(src: &str, start: usize) -> Result<(Tok, usize), (usize, Box<Diagnostic>)> {
    let bytes = &src.as_bytes()[start..];
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut len = digits(0);
    if bytes.get(len) == Some(&b'.') && bytes.get(len + 1).is_some_and(u8::is_ascii_digit) {
        len += 1 + digits(len + 1);
    }
    if matches!(bytes.get(len), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(len + 1), Some(b'+' | b'-')));
        let exp = digits(len + 1 + sign);
        if exp > 0 {
            len += 1 + sign + exp;
        }
    }
    // A number glued to a name (`5x`, `1e`) or to a second dot (`1.2.3`) is a typo, not two tokens.
    let glued = ident_len(&bytes[len..]);
    let trailing_dot =
        bytes.get(len) == Some(&b'.') && bytes.get(len + 1).is_some_and(u8::is_ascii_digit);
    if glued > 0 || trailing_dot {
        let end = len + glued + if trailing_dot { 1 + digits(len + 1) } else { 0 };
        let span = Span::new(start, start + end);
        return Err((
            end,
            Box::new(
                Diagnostic::at(
                    src,
                    span,
                    format!("invalid number `{}`", excerpt(&src[span.start..span.end])),
                )
                .with_help("numbers look like `30`, `2.5` or `1e-3`"),
            ),
        ));
    }
    let text = &src[start..start + len];
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((Tok::Num(v), len)),
        _ => Err((
            len,
            Box::new(Diagnostic::at(
                src,
                Span::new(start, start + len),
                format!("number `{}` is too large", excerpt(text)),
            )),
        )),
    }
}

/// How a token is named in "expected X, found Y" messages.
pub(crate) fn describe(src: &str, t: &Token) -> String {
    let text = excerpt(&src[t.span.start..t.span.end]);
    match t.tok {
        Tok::Eof => "end of input".to_string(),
        Tok::Num(_) => format!("number `{text}`"),
        Tok::Ident => format!("name `{text}`"),
        Tok::Param => format!("parameter `{text}`"),
        Tok::Str => format!("string `{text}`"),
        Tok::Let | Tok::And | Tok::Or | Tok::Not => format!("keyword `{text}`"),
        _ => format!("`{text}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src, &Limits::default())
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn tokens() {
        use Tok::*;
        assert_eq!(
            kinds("let x = sma(close, 20); # comment\n x[1] >= 2.5e1 and not $p != 3"),
            vec![
                Let,
                Ident,
                Assign,
                Ident,
                LParen,
                Ident,
                Comma,
                Num(20.0),
                RParen,
                Semi,
                Ident,
                LBracket,
                Num(1.0),
                RBracket,
                Ge,
                Num(25.0),
                And,
                Not,
                Param,
                Ne,
                Num(3.0),
                Eof
            ],
        );
        assert_eq!(
            kinds("1e-3 < <= > == = . -"),
            vec![Num(0.001), Lt, Le, Gt, EqEq, Assign, Dot, Minus, Eof]
        );
        assert_eq!(kinds("macd(close,12,26,9).signal")[10], Dot);
    }

    #[test]
    fn spans_and_params() {
        let t = lex("  $rsi_max", &Limits::default()).unwrap();
        assert_eq!(t[0].span, Span::new(2, 10));
        assert_eq!(t[1].span, Span::new(10, 10));
    }

    #[test]
    fn bad_tokens_are_all_reported() {
        let errs = lex("close > 3 && x @ 5x 1.2.3 $ 1e999", &Limits::default()).unwrap_err();
        let msgs: Vec<_> = errs.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "unexpected character `&&`",
                "unexpected character `@`",
                "invalid number `5x`",
                "invalid number `1.2.3`",
                "expected a parameter name after `$`",
                "number `1e999` is too large",
            ]
        );
        assert_eq!(
            errs[0].help.as_deref(),
            Some("write `and` to combine conditions")
        );
    }

    #[test]
    fn strings() {
        let t = lex("time_of_day >= \"09:45\"", &Limits::default()).unwrap();
        assert_eq!(t[2].tok, Tok::Str);
        assert_eq!(t[2].span, Span::new(15, 22));
        assert_eq!(
            kinds("\"\" \"a b\"c"),
            vec![Tok::Str, Tok::Str, Tok::Ident, Tok::Eof]
        );
        let errs = lex("x > \"09:45\nand \"", &Limits::default()).unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].message, "unterminated string");
        assert_eq!(errs[0].span(), Some(Span::new(4, 10)));
        assert_eq!(errs[1].span(), Some(Span::new(15, 16)));
        let errs = lex("'a' @session", &Limits::default()).unwrap_err();
        assert!(
            errs[0]
                .help
                .as_deref()
                .unwrap()
                .starts_with("strings are written in double quotes")
        );
        assert_eq!(errs[2].message, "unexpected character `@`");
        assert!(
            errs[2]
                .help
                .as_deref()
                .unwrap()
                .contains("`bars_since_open`")
        );
    }

    #[test]
    fn non_ascii_is_an_error_not_a_panic() {
        let errs = lex("clôse > 1 €", &Limits::default()).unwrap_err();
        assert_eq!(errs[0].message, "unexpected character `ô`");
        assert_eq!(errs[1].message, "unexpected character `€`");
    }
}
