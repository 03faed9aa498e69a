//! [`PythonOptions`]: the limits on what Python jobs hand back to the engine (result files, a
//! `run`'s metrics and log). Each limit's error names its field; docs/limits.md ("Python
//! results") lists them with their defaults.

/// Limits on the untrusted output of Python jobs. See docs/limits.md, "Python results".
#[derive(Debug, Clone, PartialEq)]
pub struct PythonOptions {
    /// Indicator (float64) columns a scanner's result may have besides `ticker`, `date` and
    /// `signal`. Default 64. More fails the shard (class `execution`).
    pub max_indicator_columns: usize,
    /// Characters in the name of a result column (indicators included). Default 64. A longer
    /// name, an empty one or one with control or bidirectional-override characters fails the
    /// shard.
    pub max_column_name_chars: usize,
    /// Entries of a run's `QUANTD_RESULT` object that are kept (known metrics first, then the
    /// others in key order). Default 64. The rest are dropped with a warning in the run's log.
    pub max_result_keys: usize,
    /// Characters of a `QUANTD_RESULT` key. Default 64. Longer keys, and keys with control
    /// characters, are dropped with a warning.
    pub max_result_key_chars: usize,
    /// Characters of a `QUANTD_RESULT` string value. Default 256. Longer strings are cut to this
    /// length (with `…`) and a warning.
    pub max_result_string_chars: usize,
    /// Largest magnitude of a number kept from `QUANTD_RESULT` or from a plain metrics line.
    /// Default 1e12. Larger numbers are dropped with a warning.
    pub max_metric_magnitude: f64,
    /// Bytes of a run's stdout, and of its stderr, kept in its stored log (the first and the last
    /// half, with a line saying how much was left out between them). Default 1 MiB. Metrics are
    /// read from the whole output first.
    pub max_log_bytes: usize,
}

impl Default for PythonOptions {
    fn default() -> Self {
        PythonOptions {
            max_indicator_columns: 64,
            max_column_name_chars: 64,
            max_result_keys: 64,
            max_result_key_chars: 64,
            max_result_string_chars: 256,
            max_metric_magnitude: 1e12,
            max_log_bytes: 1 << 20,
        }
    }
}

/// Whether `c` must not appear in a name: a control character (C0, C1, DEL) or a Unicode
/// bidirectional override or isolate, which would make the name print as something else.
pub(crate) fn forbidden_in_name(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Untrusted text for a message: escaped (`\n`, `\u{1b}` ...) and cut to `max` characters, with
/// how much was left out.
pub(crate) fn shown(text: &str, max: usize) -> String {
    let total = text.chars().count();
    let kept: String = text.chars().take(max).collect();
    let mut out: String = kept.escape_debug().collect();
    if total > max {
        out.push_str(&format!("… ({} more characters)", total - max));
    }
    out
}

/// Captured output as stored text: whole when it fits in `max` bytes, else its first and last
/// `max / 2` bytes with a line saying how many bytes of `what` were left out between them.
pub(crate) fn bounded_log(bytes: &[u8], max: usize, what: &str) -> String {
    if bytes.len() <= max {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let half = max / 2;
    let dropped = bytes.len() - 2 * half;
    format!(
        "{}\n[quantd: {dropped} bytes of {what} left out here (limit `max_log_bytes` = {max} of the engine's Python options)]\n{}",
        String::from_utf8_lossy(&bytes[..half]),
        String::from_utf8_lossy(&bytes[bytes.len() - half..]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_is_escaped_and_cut() {
        assert_eq!(shown("abc", 10), "abc");
        assert_eq!(shown("a\u{1b}[2Jb\n", 10), "a\\u{1b}[2Jb\\n");
        assert_eq!(shown(&"x".repeat(100), 5), "xxxxx… (95 more characters)");
    }

    #[test]
    fn names_refuse_controls_and_bidi_overrides() {
        assert!(forbidden_in_name('\0'));
        assert!(forbidden_in_name('\u{7f}'));
        assert!(forbidden_in_name('\u{85}'));
        assert!(forbidden_in_name('\u{202E}'));
        assert!(forbidden_in_name('\u{2067}'));
        assert!(!forbidden_in_name('é'));
        assert!(!forbidden_in_name(' '));
    }

    #[test]
    fn long_logs_keep_their_ends_and_say_what_was_left_out() {
        assert_eq!(bounded_log(b"short", 10, "stdout"), "short");
        let log = bounded_log(&[b'a'; 30], 10, "stdout");
        assert!(log.starts_with("aaaaa\n[quantd: 20 bytes of stdout left out here"));
        assert!(log.ends_with("]\naaaaa"), "{log}");
        assert!(log.contains("max_log_bytes"), "{log}");
    }
}
