//! Results a page at a time, for callers that must read them in bounded pieces: an agent
//! calling MCP's `get_results` cannot take a whole market scan in one answer. A page holds at
//! most `limit` rows and about `max_bytes` of JSON (at least one row); `next` is an opaque
//! cursor for the page after it. Rows are the same as every export's: a scan's signal rows
//! (`ticker`, `date`, then its `let` columns), every other kind's result table.

use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::records::ExecutionRecord;
use crate::rights::{Reader, Watermark};
use quantd_core::ExecutionKind;
use quantd_store::Store;
use serde::Serialize;
use serde_json::{Map, Value};

/// Which rows to read.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    /// Only rows of this ticker (results with a `ticker` column).
    pub ticker: Option<String>,
    /// The `next` of the previous page; `None` for the first.
    pub cursor: Option<String>,
    /// At most this many rows.
    pub limit: usize,
    /// About this many bytes of rows as JSON, at most (a page holds at least one row).
    pub max_bytes: usize,
    /// Text cells longer than this many characters are cut (with `…`); `None` keeps them.
    pub max_text: Option<usize>,
    /// A scan's signals alone (ticker and bar, no `let` columns): readable whatever the rights.
    pub signals_only: bool,
}

/// One page of an execution's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResultPage {
    /// The execution.
    pub execution: String,
    /// Its kind.
    #[cfg_attr(feature = "openapi", schema(value_type = quantd_core::ExecutionKind))]
    pub kind: String,
    /// Its state (results of an unfinished execution are those committed so far).
    #[cfg_attr(feature = "openapi", schema(value_type = quantd_core::ExecutionState))]
    pub state: String,
    /// The columns of the rows, in order.
    pub columns: Vec<String>,
    /// The rows of this page, as objects keyed by column.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub rows: Vec<Value>,
    /// The cursor of the next page, `null` on the last.
    pub next: Option<String>,
    /// The execution's stored summary (totals, statistics), `null` until it completes.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub summary: Option<Value>,
    /// The attribution the data's providers ask to show with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
    /// The watermark of derived data whose provider asks for one (docs/rights.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Watermark>,
}

/// Rows collected for a page, and whether another row follows them.
struct Collector<'a> {
    req: &'a PageRequest,
    skip: usize,
    seen: usize,
    bytes: usize,
    rows: Vec<Value>,
    more: bool,
}

impl Collector<'_> {
    /// Takes the next matching row; `false` once the page is full (and a row follows).
    fn offer(&mut self, row: impl FnOnce() -> Value) -> bool {
        if self.seen < self.skip {
            self.seen += 1;
            return true;
        }
        if self.rows.len() >= self.req.limit {
            self.more = true;
            return false;
        }
        let mut row = row();
        if let Some(max) = self.req.max_text {
            cut_text(&mut row, max);
        }
        let size = serde_json::to_string(&row).map_or(0, |s| s.len());
        if !self.rows.is_empty() && self.bytes + size > self.req.max_bytes {
            self.more = true;
            return false;
        }
        self.bytes += size;
        self.seen += 1;
        self.rows.push(row);
        true
    }

    fn next(&self) -> Option<String> {
        self.more.then(|| format!("o{}", self.seen))
    }
}

fn cut_text(row: &mut Value, max: usize) {
    if let Value::Object(m) = row {
        for v in m.values_mut() {
            if let Value::String(s) = v
                && let Some((end, _)) = s.char_indices().nth(max)
            {
                s.truncate(end);
                s.push('…');
            }
        }
    }
}

/// The row offset a cursor stands for.
fn offset(cursor: Option<&str>) -> Result<usize> {
    let Some(c) = cursor else { return Ok(0) };
    c.strip_prefix('o')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            EngineError::Invalid(format!(
                "cursor `{}` is not one a results page returned; pass the `next` of the previous page, or none for the first",
                quantd_data::text::cut(c, 40)
            ))
        })
}

fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

impl<S: Store> Engine<S> {
    /// One page of what `rec` produced so far (see the module docs).
    /// Data rights decide first, as for every export ([`Engine::release`]).
    pub async fn result_page(
        &self,
        rec: &ExecutionRecord,
        req: &PageRequest,
        reader: &Reader,
    ) -> Result<ResultPage> {
        let (signals_only, release) = self
            .release_results(rec, req.signals_only, "page", reader)
            .await?;
        let mut c = Collector {
            req,
            skip: offset(req.cursor.as_deref())?,
            seen: 0,
            bytes: 0,
            rows: Vec::new(),
            more: false,
        };
        let columns = if rec.kind == ExecutionKind::Scan {
            self.scan_page(rec, &mut c, signals_only).await?
        } else {
            self.table_page(rec, &mut c).await?
        };
        Ok(ResultPage {
            execution: rec.id.to_string(),
            kind: rec.kind.to_string(),
            state: rec.state.to_string(),
            columns,
            next: c.next(),
            rows: c.rows,
            summary: rec.summary.clone(),
            attribution: release.attribution(),
            watermark: release.watermark,
        })
    }

    async fn scan_page(
        &self,
        rec: &ExecutionRecord,
        c: &mut Collector<'_>,
        signals_only: bool,
    ) -> Result<Vec<String>> {
        let mut columns = vec!["ticker".to_string(), "date".to_string()];
        let mut full = false;
        let read = self
            .scan_results(&rec.id, |chunk| {
                let indicators: &[String] = if signals_only { &[] } else { &chunk.indicators };
                if columns.len() == 2 {
                    columns[1] = chunk.calendar.key_name().to_string();
                    columns.extend(indicators.iter().cloned());
                }
                for i in 0..chunk.len() {
                    let ticker = chunk.ticker_of(i);
                    if c.req.ticker.as_deref().is_some_and(|t| t != ticker) {
                        continue;
                    }
                    let take = c.offer(|| {
                        let mut m = Map::new();
                        m.insert("ticker".into(), Value::String(ticker.to_string()));
                        m.insert(
                            chunk.calendar.key_name().into(),
                            Value::String(chunk.time_of(i)),
                        );
                        for (name, v) in indicators.iter().zip(chunk.values_of(i)) {
                            m.insert(name.clone(), number(*v));
                        }
                        Value::Object(m)
                    });
                    if !take {
                        full = true;
                        // Stops the stream: the page is full and a row follows it.
                        return Err(EngineError::Cancelled);
                    }
                }
                Ok(())
            })
            .await;
        match read {
            Err(EngineError::Cancelled) if full => Ok(columns),
            other => other.map(|()| columns),
        }
    }

    async fn table_page(
        &self,
        rec: &ExecutionRecord,
        c: &mut Collector<'_>,
    ) -> Result<Vec<String>> {
        let table = self.result_table(&rec.id).await?;
        let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        let ticker_col = columns.iter().position(|n| n == "ticker");
        if c.req.ticker.is_some() && ticker_col.is_none() {
            return Err(EngineError::Invalid(format!(
                "the results of a {} have no `ticker` column; leave `ticker` out",
                rec.kind
            )));
        }
        for row in &table.rows {
            if let (Some(t), Some(col)) = (c.req.ticker.as_deref(), ticker_col)
                && row[col].json().as_str() != Some(t)
            {
                continue;
            }
            let take = c.offer(|| {
                Value::Object(
                    columns
                        .iter()
                        .zip(row)
                        .map(|(n, v)| (n.clone(), v.json()))
                        .collect(),
                )
            });
            if !take {
                break;
            }
        }
        Ok(columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(limit: usize, max_bytes: usize) -> PageRequest {
        PageRequest {
            ticker: None,
            cursor: None,
            limit,
            max_bytes,
            max_text: Some(5),
            signals_only: false,
        }
    }

    fn collect(req: &PageRequest, skip: usize, n: usize) -> (Vec<Value>, Option<String>) {
        let mut c = Collector {
            req,
            skip,
            seen: 0,
            bytes: 0,
            rows: Vec::new(),
            more: false,
        };
        for i in 0..n {
            if !c.offer(|| serde_json::json!({"i": i, "text": "a long line of text"})) {
                break;
            }
        }
        (c.rows.clone(), c.next())
    }

    #[test]
    fn pages_follow_each_other_without_losing_or_repeating_a_row() {
        let r = req(3, usize::MAX);
        let (rows, next) = collect(&r, 0, 7);
        assert_eq!(rows.len(), 3);
        assert_eq!(next.as_deref(), Some("o3"));
        let (rows, next) = collect(&r, offset(next.as_deref()).unwrap(), 7);
        assert_eq!(rows[0]["i"], 3);
        assert_eq!(next.as_deref(), Some("o6"));
        let (rows, next) = collect(&r, 6, 7);
        assert_eq!(rows.len(), 1);
        assert_eq!(next, None, "the last page has no cursor");
        assert_eq!(rows[0]["text"], "a lon…", "text is cut to max_text");
    }

    #[test]
    fn the_byte_budget_ends_a_page_but_never_before_its_first_row() {
        let (rows, next) = collect(&req(100, 1), 0, 5);
        assert_eq!(rows.len(), 1);
        assert_eq!(next.as_deref(), Some("o1"));
    }

    #[test]
    fn a_foreign_cursor_is_refused_with_what_to_send() {
        let e = offset(Some("page-2")).unwrap_err().to_string();
        assert!(e.contains("pass the `next` of the previous page"), "{e}");
    }
}
