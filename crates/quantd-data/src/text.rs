//! Untrusted text shown to people: input quoted in error messages, and tickers or names printed to
//! a terminal. Characters a terminal acts on are escaped and long text is cut with a count of what
//! was left out, so a hostile value can neither drive the terminal nor make a message huge.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters of input an error message quotes before cutting the rest.
pub const ECHO_CHARS: usize = 80;

/// Whether a terminal could act on `c`: C0 controls (NUL, ESC, BEL, newline, …), DEL, C1
/// controls, and the Unicode bidi embedding, override and isolate controls (U+202A–U+202E,
/// U+2066–U+2069) that reorder what is displayed.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every [`is_unsafe_char`] character written as a Rust escape (`\u{1b}`); borrowed
/// unchanged when there is none.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    if is_unsafe_char(c) {
        let _ = write!(out, "{}", c.escape_unicode());
    } else {
        out.push(c);
    }
}

/// `text` escaped (see [`escape`]) and cut after `max_chars` characters, followed by
/// `… (N more bytes)` when something was cut. Costs O(`max_chars`), whatever the length of `text`.
pub fn cut(text: &str, max_chars: usize) -> Cow<'_, str> {
    let end = text
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(i, _)| i);
    let head = &text[..end];
    if end == text.len() {
        return escape(head);
    }
    let mut out = String::with_capacity(end + 24);
    for c in head.chars() {
        push_escaped(&mut out, c);
    }
    let _ = write!(out, "… ({} more bytes)", text.len() - end);
    Cow::Owned(out)
}

/// Input quoted in an error message: [`cut`] to [`ECHO_CHARS`] characters.
pub fn echo(text: &str) -> String {
    cut(text, ECHO_CHARS).into_owned()
}

/// Bytes that are not valid UTF-8, quoted in an error message: valid characters as in [`echo`],
/// other bytes as `\xNN`, at most [`ECHO_CHARS`] of either.
pub fn echo_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut shown, mut used) = (0, 0);
    'chunks: for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if shown == ECHO_CHARS {
                break 'chunks;
            }
            push_escaped(&mut out, c);
            (shown, used) = (shown + 1, used + c.len_utf8());
        }
        for &b in chunk.invalid() {
            if shown == ECHO_CHARS {
                break 'chunks;
            }
            let _ = write!(out, "\\x{b:02x}");
            (shown, used) = (shown + 1, used + 1);
        }
    }
    if used < bytes.len() {
        let _ = write!(out, "… ({} more bytes)", bytes.len() - used);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_escaped_and_plain_text_borrowed() {
        assert!(matches!(escape("BRK.A"), Cow::Borrowed("BRK.A")));
        assert_eq!(
            escape("\u{1b}]0;PWNED\u{7}\u{1b}[2J"),
            "\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J"
        );
        assert_eq!(
            escape("a\u{202e}b\u{2066}c\u{85}d\0"),
            "a\\u{202e}b\\u{2066}c\\u{85}d\\u{0}"
        );
        assert_eq!(escape("Société"), "Société");
    }

    #[test]
    fn long_text_is_cut_with_a_count() {
        let long = "x".repeat(100_000);
        let e = echo(&long);
        assert_eq!(e, format!("{}… (99920 more bytes)", "x".repeat(80)));
        assert_eq!(echo("short"), "short");
        let accents = "é".repeat(81);
        assert_eq!(
            echo(&accents),
            format!("{}… (2 more bytes)", "é".repeat(80))
        );
    }

    #[test]
    fn invalid_utf8_is_shown_as_bytes() {
        assert_eq!(echo_bytes(b"\xff\xfeAB"), "\\xff\\xfeAB");
        assert_eq!(echo_bytes(b"A\x1bB\xc3"), "A\\u{1b}B\\xc3");
        let big = vec![0xffu8; 1000];
        let e = echo_bytes(&big);
        assert!(e.ends_with("… (920 more bytes)"), "{e}");
        assert_eq!(e.matches("\\xff").count(), ECHO_CHARS);
    }
}
