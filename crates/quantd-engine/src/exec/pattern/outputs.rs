//! What each kind's completed execution gives the pattern step that ran it
//! (`state.<step>.outputs`), documented with a schema in docs/patterns.md. Names are snake-case
//! so templates can read them (`state.bt.outputs.stats.sharpe_ratio`).

use crate::error::Result;
use crate::exec::Engine;
use quantd_backtest::Metric;
use quantd_store::{ExecutionRecord, Store};
use serde_json::{Map, Value, json};

/// How many tickers `top_tickers` lists, and rows `top` lists for a sweep.
pub const TOP: usize = 20;

/// A finite number as JSON, else null.
fn number(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

impl<S: Store> Engine<S> {
    /// A scan's outputs: `signals` (rows), `tickers` (every ticker that fired, most signals
    /// first), `top_tickers` (the first 20 of them), `by_ticker` (`{ticker, signals}` for each)
    /// and `pack_id`.
    pub(crate) async fn scan_outputs(&self, rec: &ExecutionRecord) -> Result<Value> {
        let mut counts: Vec<u64> = Vec::new();
        let mut names: Option<std::sync::Arc<[String]>> = None;
        let mut signals = 0u64;
        self.scan_results(&rec.id, |s| {
            if names.is_none() {
                names = Some(s.tickers.clone());
                counts = vec![0; s.tickers.len()];
            }
            for &t in &s.ticker {
                counts[t as usize] += 1;
            }
            signals += s.len() as u64;
            Ok(())
        })
        .await?;
        let names = names.unwrap_or_else(|| std::sync::Arc::from(Vec::new()));
        let mut fired: Vec<(usize, u64)> = counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (i, *n))
            .collect();
        fired.sort_by(|a, b| b.1.cmp(&a.1).then(names[a.0].cmp(&names[b.0])));
        let tickers: Vec<&str> = fired.iter().map(|(i, _)| names[*i].as_str()).collect();
        let by_ticker: Vec<Value> = fired
            .iter()
            .map(|(i, n)| json!({"ticker": names[*i], "signals": n}))
            .collect();
        Ok(json!({
            "signals": signals,
            "tickers": tickers,
            "top_tickers": &tickers[..tickers.len().min(TOP)],
            "by_ticker": by_ticker,
            "pack_id": rec.pack_id,
        }))
    }

    /// An A+ test's outputs: `precision`, `recall`, `accuracy`, `matched`, `missed`,
    /// `unexpected`.
    pub(crate) async fn test_outputs(&self, rec: &ExecutionRecord) -> Result<Value> {
        let r = self.test_report(&rec.id).await?;
        Ok(json!({
            "precision": r.precision, "recall": r.recall, "accuracy": r.accuracy,
            "matched": r.matched, "missed": r.missed, "unexpected": r.unexpected,
        }))
    }

    /// A backtest's outputs: `stats` (every statistic's mean over the tickers, by snake-case
    /// name), `tickers`, `tickers_failed`, `trades`, and `per_ticker` (`{ticker, <statistic>…}`
    /// or `{ticker, error}`).
    pub(crate) async fn backtest_outputs(&self, rec: &ExecutionRecord) -> Result<Value> {
        let results = self.backtest_results(&rec.id).await?;
        let mut stats = Map::new();
        for &m in Metric::ALL {
            let vals: Vec<f64> = results
                .iter()
                .filter_map(|r| r.stats.as_ref())
                .map(|s| s.get(m))
                .filter(|v| v.is_finite())
                .collect();
            let mean = if vals.is_empty() {
                f64::NAN
            } else {
                vals.iter().sum::<f64>() / vals.len() as f64
            };
            stats.insert(m.key().into(), number(mean));
        }
        let per_ticker: Vec<Value> = results
            .iter()
            .map(|r| {
                let mut row = Map::new();
                row.insert("ticker".into(), json!(r.ticker));
                match &r.stats {
                    Some(s) => {
                        for &m in Metric::ALL {
                            row.insert(m.key().into(), number(s.get(m)));
                        }
                    }
                    None => {
                        row.insert("error".into(), json!(r.error));
                    }
                }
                Value::Object(row)
            })
            .collect();
        let failed = results.iter().filter(|r| r.stats.is_none()).count();
        let trades: usize = results.iter().map(|r| r.trades.len()).sum();
        Ok(json!({
            "stats": stats,
            "tickers": results.len(),
            "tickers_failed": failed,
            "trades": trades,
            "per_ticker": per_ticker,
        }))
    }

    /// A sweep's outputs: `best` (the parameter set with the highest mean Sharpe ratio, by
    /// name), `top` (the 20 best sets: `params` and the mean of every statistic), `sets` and
    /// `backtests`.
    pub(crate) async fn sweep_outputs(&self, rec: &ExecutionRecord) -> Result<Value> {
        let view = self.sweep_view(&rec.id).await?;
        let params = |values: &[f64]| -> Map<String, Value> {
            view.names
                .iter()
                .zip(values)
                .map(|(n, v)| (n.clone(), number(*v)))
                .collect()
        };
        let top: Vec<Value> = view
            .ranked(Metric::SharpeRatio, true, TOP)
            .into_iter()
            .map(|cell| {
                let mut row = Map::new();
                row.insert("params".into(), Value::Object(params(&cell.params)));
                for &m in Metric::ALL {
                    row.insert(m.key().into(), number(cell.mean(m)));
                }
                Value::Object(row)
            })
            .collect();
        let best = top
            .first()
            .and_then(|r| r.get("params").cloned())
            .unwrap_or(Value::Null);
        Ok(json!({
            "best": best,
            "top": top,
            "sets": view.cells.len(),
            "backtests": view.backtests,
        }))
    }

    /// A run's outputs: its metrics (the summary `quantd summary` shows).
    pub(crate) async fn run_outputs(&self, rec: &ExecutionRecord) -> Result<Value> {
        Ok(self
            .run_log(&rec.id)
            .await?
            .map_or(Value::Null, |log| log.summary()))
    }
}
