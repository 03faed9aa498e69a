//! Errors in expression source: where they are ([`Span`], line and column), what is wrong,
//! how to fix it ([`Diagnostic`]), and how they look to a user ([`Diagnostic::render`]).

use std::fmt;

/// Diagnostics kept at most by each pass (lexing, parsing, checking): the first ones are the
/// useful ones, and no input can make the list (or the time spent on it) grow without bound.
pub(crate) const MAX_ERRORS: usize = 20;

/// A byte range `start..end` in the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte of the range.
    pub start: usize,
    /// One past the last byte of the range (equal to `start` for a point, e.g. the end of input).
    pub end: usize,
}

impl Span {
    /// The range `start..end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// Where a diagnostic points in its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// Byte range of the offending text.
    pub span: Span,
    /// 1-based line of `span.start`.
    pub line: usize,
    /// 1-based column (in characters) of `span.start`.
    pub column: usize,
}

/// One problem found in expression source, with enough detail to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, in one sentence (no trailing period).
    pub message: String,
    /// Where, when the problem is at a place in the source (an unused parameter, for example, is not).
    pub location: Option<Location>,
    /// How to fix it, when there is something useful to say.
    pub help: Option<String>,
    /// Which expression of a set ([`crate::compile_set`]) the location refers to; `None` for a single source.
    pub origin: Option<String>,
    /// The field of [`crate::Limits`] the code is over, when that is the problem (e.g.
    /// `"max_lets"`); `None` for every other error.
    pub limit: Option<&'static str>,
}

impl Diagnostic {
    /// A diagnostic at `span` of `source`.
    pub(crate) fn at(source: &str, span: Span, message: impl Into<String>) -> Self {
        let (line, column) = line_col(source, span.start);
        Diagnostic {
            message: message.into(),
            location: Some(Location { span, line, column }),
            help: None,
            origin: None,
            limit: None,
        }
    }

    /// A diagnostic about the program as a whole, without a place in the source.
    pub(crate) fn general(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            location: None,
            help: None,
            origin: None,
            limit: None,
        }
    }

    /// Adds a help line.
    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Marks the diagnostic as the code being over limit `name` (a field of [`crate::Limits`]).
    pub(crate) fn with_limit(mut self, name: &'static str) -> Self {
        self.limit = Some(name);
        self
    }

    /// Adds a help line when there is one.
    pub(crate) fn with_help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// The byte span, if the diagnostic points into the source.
    pub fn span(&self) -> Option<Span> {
        self.location.as_ref().map(|l| l.span)
    }

    /// Renders the diagnostic for a terminal: the message, the position, the source line with the
    /// span underlined, and the help.
    ///
    /// ```text
    /// error: unknown function `smaa`
    ///  --> 1:1
    ///   |
    /// 1 | smaa(close, 20) > close
    ///   | ^^^^
    ///   |
    ///   = help: did you mean `sma`?
    /// ```
    pub fn render(&self, source: &str) -> String {
        let mut out = format!("error: {}\n", self.message);
        if let Some(loc) = &self.location {
            let origin = self
                .origin
                .as_ref()
                .map(|o| format!("{o}:"))
                .unwrap_or_default();
            let line_text = source.lines().nth(loc.line - 1).unwrap_or("");
            let number = loc.line.to_string();
            let pad = " ".repeat(number.len());
            out.push_str(&format!("{pad}--> {origin}{}:{}\n", loc.line, loc.column));
            out.push_str(&format!("{pad} |\n"));
            let (shown, caret_at, caret_len) = underline(line_text, loc, source);
            out.push_str(&format!("{number} | {shown}\n"));
            out.push_str(&format!(
                "{pad} | {}{}\n",
                " ".repeat(caret_at),
                "^".repeat(caret_len)
            ));
            if let Some(help) = &self.help {
                out.push_str(&format!("{pad} |\n{pad} = help: {help}\n"));
            }
        } else {
            if let Some(origin) = &self.origin {
                out.push_str(&format!(" --> {origin}\n"));
            }
            if let Some(help) = &self.help {
                out.push_str(&format!("  = help: {help}\n"));
            }
        }
        out
    }
}

/// Columns of a source line shown at most by [`Diagnostic::render`]: a longer line is cut to a
/// window around the caret, marked with `…` where it is cut, so that a diagnostic stays a few lines
/// long whatever the source.
const MAX_SHOWN_COLUMNS: usize = 100;
/// Columns shown before the caret when a long line is cut.
const SHOWN_BEFORE_CARET: usize = 30;

/// The line shown (tabs expanded, cut to a window around the caret if long), where the underline
/// starts and how long it is, in columns.
fn underline(line_text: &str, loc: &Location, source: &str) -> (String, usize, usize) {
    let line_start = source[..floor_char_boundary(source, loc.span.start)]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line_end = line_start + line_text.len();
    let mut shown: Vec<char> = Vec::new();
    let mut caret_at = None;
    let mut caret_end = None;
    // Whether the line goes on past what was read: a line is read up to a window's width past
    // the caret, however long it is.
    let mut more = false;
    for (offset, ch) in line_text.char_indices() {
        if caret_at.is_some_and(|at| shown.len() >= at + MAX_SHOWN_COLUMNS) {
            more = true;
            break;
        }
        let byte = line_start + offset;
        if byte == loc.span.start {
            caret_at = Some(shown.len());
        }
        if byte == loc.span.end.max(loc.span.start + 1) && caret_end.is_none() {
            caret_end = Some(shown.len());
        }
        if ch == '\t' {
            shown.extend([' '; 4]);
        } else {
            shown.push(ch);
        }
    }
    let col = shown.len();
    // A span at the end of the line (or of input) points just past the last character.
    let caret_at = caret_at.unwrap_or(col);
    let caret_end = if loc.span.end > line_end {
        col.max(caret_at + 1)
    } else {
        caret_end.unwrap_or(col).max(caret_at + 1)
    };
    if col <= MAX_SHOWN_COLUMNS && !more {
        return (shown.into_iter().collect(), caret_at, caret_end - caret_at);
    }
    let from = caret_at
        .saturating_sub(SHOWN_BEFORE_CARET)
        .min(col.saturating_sub(MAX_SHOWN_COLUMNS));
    let to = (from + MAX_SHOWN_COLUMNS).min(col);
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    out.extend(&shown[from..to]);
    if to < col || more {
        out.push('…');
    }
    let lead = usize::from(from > 0);
    let start = caret_at.clamp(from, to) - from + lead;
    let end = caret_end.clamp(from, to + 1) - from + lead;
    (out, start, end.saturating_sub(start).max(1))
}

/// The largest char boundary of `s` at or before `i` (`s.len()` if `i` is past the end).
pub(crate) fn floor_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Source text quoted in a message: as it is if short, else its first characters and `…`, so that
/// no message grows with the source.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    const KEPT: usize = 32;
    if text.chars().count() <= MAX_CHARS {
        return text.to_string();
    }
    let mut out: String = text.chars().take(KEPT).collect();
    out.push('…');
    out
}

/// 1-based line and character column of byte `offset` in `source`.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The source failed to parse, check or compile; holds every problem found, the first one precise.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ExprError {
    /// The problems, in source order where possible; never empty.
    pub diagnostics: Vec<Diagnostic>,
}

impl ExprError {
    pub(crate) fn new(diagnostics: Vec<Diagnostic>) -> Self {
        debug_assert!(!diagnostics.is_empty());
        ExprError { diagnostics }
    }

    /// Renders every diagnostic against `source` (see [`Diagnostic::render`]), separated by blank lines.
    pub fn render(&self, source: &str) -> String {
        self.render_with(|_| source)
    }

    /// Renders every diagnostic of a [`crate::compile_set`] failure, each against its own source.
    pub fn render_set(&self, sources: &[(&str, &str)]) -> String {
        self.render_with(|origin| {
            origin
                .and_then(|o| sources.iter().find(|(name, _)| *name == o))
                .map_or(sources.first().map_or("", |s| s.1), |s| s.1)
        })
    }

    fn render_with<'s>(&self, source_of: impl Fn(Option<&str>) -> &'s str) -> String {
        let mut out = String::new();
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&d.render(source_of(d.origin.as_deref())));
        }
        out
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(first) = self.diagnostics.first() else {
            return f.write_str("invalid expression");
        };
        if let Some(origin) = &first.origin {
            write!(f, "{origin}: ")?;
        }
        if let Some(loc) = &first.location {
            write!(f, "{}:{}: ", loc.line, loc.column)?;
        }
        f.write_str(&first.message)?;
        match self.diagnostics.len() {
            1 => Ok(()),
            2 => f.write_str(" (and 1 more error)"),
            n => write!(f, " (and {} more errors)", n - 1),
        }
    }
}

/// Edit distance between two short names: insertions, deletions, substitutions and swaps of two
/// adjacent characters each cost 1 (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            d[i * w + j] = if i == 0 {
                j
            } else if j == 0 {
                i
            } else {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (d[(i - 1) * w + j - 1] + cost)
                    .min(d[(i - 1) * w + j] + 1)
                    .min(d[i * w + j - 1] + 1);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(d[(i - 2) * w + j - 2] + 1);
                }
                v
            };
        }
    }
    d[a.len() * w + b.len()]
}

/// The candidate closest to `name` by edit distance, if it is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = name.chars().count();
    let limit = (len / 3).max(1);
    let lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| {
            // A difference in case alone is the likeliest typo of all; an abbreviation
            // (`sig` for `signal`) is as likely as one wrong letter.
            let d = if c.eq_ignore_ascii_case(name) {
                0
            } else if lower.len() >= 2 && c.starts_with(&lower) {
                limit
            } else if c.chars().count().abs_diff(len) > limit {
                // The distance is at least the difference in length: too far, and not worth
                // a table of `len × c.len()` cells (a name can be as long as the caller likes).
                limit + 1
            } else {
                edit_distance(&lower, c)
            };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "did you mean `x`?" for the closest candidate, if any.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(name, candidates).map(|s| format!("did you mean `{s}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("smaa", "sma"), 1);
        assert_eq!(edit_distance("clsoe", "close"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("rsi", "rsi"), 0);
    }

    #[test]
    fn suggestions() {
        let names = ["sma", "ema", "wma", "rsi", "close"];
        assert_eq!(suggest("smaa", names), Some("sma"));
        assert_eq!(suggest("SMA", names), Some("sma"));
        assert_eq!(suggest("clse", names), Some("close"));
        assert_eq!(suggest("volume", names), None);
        assert_eq!(suggest("sig", ["macd", "signal", "hist"]), Some("signal"));
        assert_eq!(suggest("s", ["macd", "signal", "hist"]), None);
    }

    #[test]
    fn line_and_column() {
        let src = "let a = 1;\n  close > a";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 13), (2, 3));
        assert_eq!(line_col(src, src.len()), (2, 12));
        assert_eq!(line_col("é x", 3), (1, 3));
    }

    #[test]
    fn render_points_at_span() {
        let src = "close > smaa(close, 3)";
        let d = Diagnostic::at(src, Span::new(8, 12), "unknown function `smaa`")
            .with_help("did you mean `sma`?");
        let r = d.render(src);
        assert!(r.contains(" --> 1:9\n"), "{r}");
        assert!(
            r.contains("1 | close > smaa(close, 3)\n  |         ^^^^\n"),
            "{r}"
        );
        assert!(r.ends_with("  = help: did you mean `sma`?\n"), "{r}");
    }

    #[test]
    fn render_end_of_input() {
        let src = "sma(close, 3";
        let d = Diagnostic::at(src, Span::new(12, 12), "expected `)`");
        let r = d.render(src);
        assert!(r.contains("  |             ^\n"), "{r}");
    }
}
