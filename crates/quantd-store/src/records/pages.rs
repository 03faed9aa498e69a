//! Pages of lists: every list of the store is read through an opaque cursor, so a client walks
//! it page by page and sees each item once, whatever the page size.
//!
//! A cursor is whatever the backend hands out in [`Paged::next`]; a backend refuses with
//! [`StoreError::BadCursor`] a cursor that does not parse, and one that parses but names no item
//! of the list (forged, or taken from another list).

use crate::error::{Result, StoreError};

/// Which page of a list to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The `next` cursor of the previous page; `None` for the first page.
    pub after: Option<String>,
    /// At most this many items (at least 1 is read).
    pub limit: u32,
}

impl Page {
    /// The first page of at most `limit` items.
    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }

    /// Every item at once (for small lists such as a name's versions).
    pub fn all() -> Self {
        Self::first(u32::MAX)
    }

    /// The page after `cursor`.
    pub fn after(cursor: impl Into<String>, limit: u32) -> Self {
        Self {
            after: Some(cursor.into()),
            limit,
        }
    }

    /// How many items to fetch: the limit plus one, whose presence tells that a next page
    /// exists (see [`Paged::from_rows`]).
    pub(crate) fn fetch_limit(&self) -> i64 {
        i64::from(self.limit.max(1)) + 1
    }

    /// [`StoreError::BadCursor`] for this page's cursor: it parsed but names no row of the list
    /// (forged, or from another list), so no page can follow it.
    pub(crate) fn unknown_cursor(&self) -> StoreError {
        StoreError::BadCursor(quoted(self.after.as_deref().unwrap_or_default()))
    }

    /// The cursor parsed by `parse`; a cursor it rejects is [`StoreError::BadCursor`].
    pub(crate) fn cursor<T>(&self, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>> {
        self.after
            .as_deref()
            .map(|c| parse(c).ok_or_else(|| StoreError::BadCursor(quoted(c))))
            .transpose()
    }
}

/// A refused cursor as an error quotes it: at most [`QUOTED_CURSOR_CHARS`] characters of it, so
/// a megabyte of garbage is not echoed back.
fn quoted(cursor: &str) -> String {
    match cursor.char_indices().nth(QUOTED_CURSOR_CHARS) {
        Some((end, _)) => format!("{}…", &cursor[..end]),
        None => cursor.to_string(),
    }
}

/// How much of a refused cursor its error quotes.
const QUOTED_CURSOR_CHARS: usize = 100;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Paged<T> {
    /// The items of this page, in the list's order.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` when this page is the last.
    pub next: Option<String>,
}

impl<T> Paged<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says that more exist.
    pub(crate) fn from_rows(mut rows: Vec<T>, page: &Page, cursor: impl Fn(&T) -> String) -> Self {
        let limit = page.limit.max(1) as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(cursor)
        } else {
            None
        };
        Self { items: rows, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_cursor_is_quoted_short() {
        let huge = "é".repeat(1 << 16);
        let Err(StoreError::BadCursor(quoted)) = Page::after(huge, 10).cursor(|_| None::<u8>)
        else {
            panic!("a cursor that does not parse is refused")
        };
        assert_eq!(quoted.chars().count(), QUOTED_CURSOR_CHARS + 1);
        let Err(StoreError::BadCursor(quoted)) = Page::after("x", 10).cursor(|_| None::<u8>) else {
            panic!("a cursor that does not parse is refused")
        };
        assert_eq!(quoted, "x");
    }
}
