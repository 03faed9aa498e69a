//! Plain-text tables and number formatting for people; JSON for machines. Text that came from
//! outside (tickers, pack names, stored messages) goes through [`untrusted`] before it reaches a
//! terminal.

use serde::Serialize;

/// Characters of a name or ticker printed before the rest is cut.
pub const NAME_CHARS: usize = 80;
/// Characters of a stored message (an error, a licence) printed before the rest is cut.
pub const MESSAGE_CHARS: usize = 2_000;

/// Untrusted text as it may be printed to a terminal: control characters (ESC, BEL, NUL, C1)
/// and bidi controls escaped (`\u{1b}`), cut after `max_chars` characters with a count of the
/// bytes left out. Packs imported before tickers were checked may hold any text.
pub fn untrusted(text: &str, max_chars: usize) -> String {
    quantd_engine::data::cut(text, max_chars).into_owned()
}

/// [`untrusted`] for a message of several lines: line breaks are kept, every other control
/// character is escaped.
pub fn untrusted_lines(text: &str, max_chars: usize) -> String {
    let end = text
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(i, _)| i);
    let lines: Vec<_> = text[..end]
        .split('\n')
        .map(quantd_engine::data::escape)
        .collect();
    let mut out = lines.join("\n");
    if end < text.len() {
        out.push_str(&format!("… ({} more bytes)", text.len() - end));
    }
    out
}

/// Prints rows as a left-aligned table with a header, columns separated by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `n` and a regular noun in the right number: `1 shard`, `2 shards`.
pub fn count(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// `12345678` → `12,345,678`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// An amount with two decimals and thousands separators: `-12,345.67`.
pub fn money(v: f64) -> String {
    if !v.is_finite() {
        return "--".into();
    }
    let cents = (v.abs() * 100.0).round() as u64;
    let sign = if v < 0.0 && cents > 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", thousands(cents / 100), cents % 100)
}

/// The line of a paper session's event: a fill, a refusal or a cancel, each trading day's
/// account, a following session's wait for new bars and, with `all`, orders accepted and
/// expired too. `None` for other events.
pub fn session_line(event: &quantd_core::Event, all: bool) -> Option<String> {
    use quantd_core::Event;
    match event {
        Event::Order {
            time,
            status,
            order,
            ticker,
            size,
            price,
            partial,
            reason,
            ..
        } => {
            let what = match (status.as_str(), ticker, size, price) {
                ("filled", Some(t), Some(size), Some(price)) => format!(
                    "{} {} {} @ {}{}",
                    if *size >= 0.0 { "bought" } else { "sold" },
                    size.abs(),
                    untrusted(t, NAME_CHARS),
                    money(*price),
                    if *partial { " (partial)" } else { "" }
                ),
                ("rejected" | "cancelled", ..) => format!(
                    "order {order} {status}: {}",
                    untrusted(reason.as_deref().unwrap_or(""), MESSAGE_CHARS)
                ),
                _ if all => format!("order {order} {}", untrusted(status, NAME_CHARS)),
                _ => return None,
            };
            Some(format!("{time}  {what}"))
        }
        Event::SessionDay {
            date,
            equity,
            cash,
            pnl,
            open_trades,
            fills,
            positions,
            ..
        } => {
            let held: Vec<String> = positions
                .iter()
                .map(|(t, units)| format!("{} {units}", untrusted(t, NAME_CHARS)))
                .collect();
            Some(format!(
                "{date}  day ended: equity {}  P&L {}{}  cash {}  {} open{}  {}",
                money(*equity),
                if *pnl >= 0.0 { "+" } else { "" },
                money(*pnl),
                money(*cash),
                count(u64::from(*open_trades), "trade"),
                if held.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", held.join(", "))
                },
                count(u64::from(*fills), "fill"),
            ))
        }
        Event::Phase { phase, .. } if phase.starts_with("waiting for new bars") => {
            Some(untrusted(phase, MESSAGE_CHARS))
        }
        Event::LiveStart { bar, held, .. } => {
            let held: Vec<String> = held
                .iter()
                .map(|(t, units)| format!("{} {units}", untrusted(t, NAME_CHARS)))
                .collect();
            Some(format!(
                "live from bar {bar}: the account holds {}",
                if held.is_empty() {
                    "nothing of these tickers".to_string()
                } else {
                    held.join(", ")
                }
            ))
        }
        Event::LiveOrder {
            time,
            status,
            ticker,
            size,
            price,
            reason,
            ..
        } => {
            let ticker = untrusted(ticker.as_deref().unwrap_or("?"), NAME_CHARS);
            let what = match (status.as_str(), size, price) {
                ("submitted", Some(size), _) => format!(
                    "broker: {} {} {ticker} at market",
                    if *size >= 0.0 { "buy" } else { "sell" },
                    size.abs()
                ),
                ("filled", Some(size), Some(price)) => format!(
                    "broker: {} {} {ticker} @ {}",
                    if *size >= 0.0 { "bought" } else { "sold" },
                    size.abs(),
                    money(*price)
                ),
                ("rejected" | "cancelled" | "expired", ..) => format!(
                    "broker: order for {ticker} {status}: {}",
                    untrusted(reason.as_deref().unwrap_or(""), MESSAGE_CHARS)
                ),
                _ if all => format!(
                    "broker: order for {ticker} {}",
                    untrusted(status, NAME_CHARS)
                ),
                _ => return None,
            };
            Some(format!("{time}  {what}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_has_separators_two_decimals_and_a_sign() {
        assert_eq!(super::money(1234567.891), "1,234,567.89");
        assert_eq!(super::money(-0.004), "0.00");
        assert_eq!(super::money(-12.5), "-12.50");
        assert_eq!(super::money(f64::NAN), "--");
    }

    #[test]
    fn counts_take_the_plural_except_for_one() {
        assert_eq!(super::count(1, "shard"), "1 shard");
        assert_eq!(super::count(0, "shard"), "0 shards");
        assert_eq!(super::count(2, "shard"), "2 shards");
    }

    #[test]
    fn untrusted_text_cannot_drive_the_terminal() {
        let shown = super::untrusted("\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{202e}EVIL", 80);
        assert_eq!(shown, "\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J\\u{202e}EVIL");
        assert!(!shown.chars().any(char::is_control));
        let long = super::untrusted(&"T".repeat(100_000), 80);
        assert_eq!(long, format!("{}… (99920 more bytes)", "T".repeat(80)));
        let message = super::untrusted_lines("refused:\n  line 2: `\u{1b}[2J`", 80);
        assert_eq!(message, "refused:\n  line 2: `\\u{1b}[2J`");
        let huge = super::untrusted_lines(&"\0".repeat(100_000), 10);
        assert_eq!(huge, format!("{}… (99990 more bytes)", "\\u{0}".repeat(10)));
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(12_600_000), "12,600,000");
    }
}
