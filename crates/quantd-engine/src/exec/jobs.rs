//! Jobs: what an execution does with one shard. Each kind's module ([`super::kinds`]) builds its
//! job once per execution and process from the stored spec (compiling code, mapping the pack);
//! the job plans the shards and then runs them. Shared here: the [`Job`] trait, the
//! [`ShardControl`] a running shard shares with the engine, and ticker-batch payloads.

use crate::error::EngineError;
use crate::scan;
use quantd_core::ErrorClass;
use quantd_data::PackReader;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bars per native scan shard at most, by default: about 25 ms of work on 2 cores, so the fixed
/// cost of a shard (claim, commit of results and events: a few store round trips, well under a
/// millisecond) stays a few per cent of it, while a crash loses little and progress moves on long
/// scans. A scan gets as few shards as cover it at this size, of equal bars; the reference
/// full-market scan (5,000 tickers × 2,520 days, 12.6 M bars) is one shard. A scan shard is itself
/// parallel (rayon over its tickers on every core); the engine runs such shards one after another,
/// claiming the next and committing the previous one while a shard computes. Cancellation also
/// works inside a shard (checked between tickers). Measured on the reference scan (2 cores,
/// `quantd-bench scan`): one shard is faster than two by 1–2 % of the scan (docs/PERFORMANCE.md).
pub const SCAN_SHARD_BARS: u64 = 1 << 24;

/// What a running shard shares with the engine that runs it: the stop flag (set by a cancel
/// or a pause of its execution; jobs check it between tickers, parameter sets, or while a
/// Python job runs) and the bars it has processed so far, which the engine reports as progress
/// while the shard runs.
#[derive(Debug, Default)]
pub struct ShardControl {
    stop: Arc<AtomicBool>,
    bars: AtomicU64,
    /// The attempt this run is (1-based): retries may run with a longer timeout.
    attempt: u32,
}

impl ShardControl {
    /// A control whose stop flag is `stop` (the execution's).
    pub fn new(stop: Arc<AtomicBool>) -> ShardControl {
        ShardControl {
            stop,
            bars: AtomicU64::new(0),
            attempt: 1,
        }
    }

    /// The same control for attempt `attempt` of its shard.
    pub fn at_attempt(mut self, attempt: u32) -> ShardControl {
        self.attempt = attempt.max(1);
        self
    }

    /// The attempt this run is (1-based).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Whether the shard should stop now.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The stop flag, for code that polls it itself (a Python job's supervisor).
    pub fn stop_flag(&self) -> &AtomicBool {
        &self.stop
    }

    /// Counts `n` more bars processed.
    pub fn add_bars(&self, n: u64) {
        self.bars.fetch_add(n, Ordering::Relaxed);
    }

    /// Bars processed so far.
    pub fn bars(&self) -> u64 {
        self.bars.load(Ordering::Relaxed)
    }
}

/// A shard's committed output.
#[derive(Debug, Clone)]
pub struct ShardOutput {
    /// Bars processed.
    pub bars: u64,
    /// Result rows.
    pub rows: u64,
    /// The encoded results.
    pub body: Vec<u8>,
    /// A scan shard's summary counts, computed while its rows are at hand so that finishing
    /// the execution merges small counts instead of decoding every shard again.
    pub scan_summary: Option<scan::SummaryBuilder>,
    /// The execution's summary, from a job of one shard whose result is its summary (imports):
    /// stored by the commit that completes the execution, so a completed execution always has it.
    pub summary: Option<serde_json::Value>,
}

/// Why a shard did not finish.
#[derive(Debug, Clone, PartialEq)]
pub enum ShardFailure {
    /// Its execution was cancelled (or paused: the shard goes back to the queue).
    Cancelled,
    /// The work goes on in a later job, claimable from this time (milliseconds since the epoch,
    /// the engine clock's), without counting an attempt: a paper session handing over before
    /// its job's wall limit, or giving its worker back until its next bar is due.
    Later(i64),
    /// An error of this class.
    Error(ErrorClass, String),
    /// The work panicked (a bug, or input the code did not expect): class `internal`, and it
    /// counts towards the shard's quarantine.
    Crash(String),
}

impl From<quantd_data::DataError> for ShardFailure {
    fn from(e: quantd_data::DataError) -> Self {
        ShardFailure::Error(e.class(), e.to_string())
    }
}

impl From<EngineError> for ShardFailure {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Cancelled => ShardFailure::Cancelled,
            other => ShardFailure::Error(other.class(), other.to_string()),
        }
    }
}

/// The pack ticker positions a ticker-batch shard covers, the payload of every ticker-sharded
/// job: `{"tickers": [..]}`, or `{"ticker_range": [first, end)}` for a run of consecutive
/// positions (a whole-market shard stays a few bytes to store, claim and read).
pub fn payload_tickers(payload: &Value) -> std::result::Result<Vec<usize>, ShardFailure> {
    let bad =
        |e: String| ShardFailure::Error(ErrorClass::Internal, format!("bad shard payload: {e}"));
    if let Some(range) = payload.get("ticker_range") {
        let [first, end]: [usize; 2] =
            serde_json::from_value(range.clone()).map_err(|e| bad(e.to_string()))?;
        if first > end {
            return Err(bad(format!("empty ticker range {first}..{end}")));
        }
        return Ok((first..end).collect());
    }
    serde_json::from_value(payload["tickers"].clone()).map_err(|e| bad(e.to_string()))
}

/// The payload of a shard covering `tickers` (pack positions, ascending): a range when they are
/// consecutive, else the list.
pub fn ticker_payload(tickers: &[usize]) -> Value {
    match (tickers.first(), tickers.last()) {
        (Some(&first), Some(&last)) if last - first + 1 == tickers.len() => {
            serde_json::json!({ "ticker_range": [first, last + 1] })
        }
        _ => serde_json::json!({ "tickers": tickers }),
    }
}

/// Ticker-batch shard payloads of at most `per_shard` tickers each.
pub fn ticker_batches(tickers: &[usize], per_shard: usize) -> Vec<Value> {
    tickers
        .chunks(per_shard.max(1))
        .map(ticker_payload)
        .collect()
}

/// Ticker-batch shard payloads of about `shard_bars` bars each (a batch closes at the ticker
/// that reaches it).
pub fn bar_batches(reader: &PackReader, tickers: &[usize], shard_bars: u64) -> Vec<Value> {
    let entries = &reader.manifest().tickers;
    let mut shards = Vec::new();
    let mut start = 0;
    let mut bars = 0;
    for (i, &t) in tickers.iter().enumerate() {
        bars += entries[t].rows;
        if bars >= shard_bars {
            shards.push(ticker_payload(&tickers[start..=i]));
            start = i + 1;
            bars = 0;
        }
    }
    if start < tickers.len() {
        shards.push(ticker_payload(&tickers[start..]));
    }
    shards
}

/// What every kind of job does.
pub trait Job: Send + Sync {
    /// The shard payloads, in order. Must depend only on the spec and the pack, so that a plan
    /// made again after a crash is the same plan.
    fn plan(&self) -> Vec<Value>;
    /// Runs one shard, stopping when `ctl` says so and counting its bars on it.
    fn run(
        &self,
        payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure>;
    /// For scans: an empty set of signal rows with the pack's tickers and the program's
    /// indicator names, to decode stored shard results into.
    fn signals_template(&self) -> Option<scan::Signals> {
        None
    }
    /// For scans whose indicator names are only known from their output (Python scanners):
    /// stored bodies carry the names, and readers take the union of every shard's names.
    fn indicators_from_results(&self) -> bool {
        false
    }
    /// Whether one shard already keeps every core busy (a native scan runs its tickers on rayon):
    /// such shards run one after another instead of side by side.
    fn parallel_inside(&self) -> bool {
        false
    }
    /// Whether a shard may start computing before the transaction that claims it commits: its
    /// run only reads the pack and returns its output (nothing outside is touched, so work whose
    /// claim never commits is simply dropped).
    fn may_run_ahead(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_tickers_are_stored_as_a_range_and_read_back_the_same() {
        for tickers in [vec![0, 1, 2, 3], vec![7], vec![2, 3, 5], vec![]] {
            let payload = ticker_payload(&tickers);
            let consecutive = tickers.windows(2).all(|w| w[1] == w[0] + 1) && !tickers.is_empty();
            assert_eq!(
                payload.get("ticker_range").is_some(),
                consecutive,
                "{payload}"
            );
            assert_eq!(payload_tickers(&payload).unwrap(), tickers);
        }
        assert_eq!(
            ticker_payload(&(100..5100).collect::<Vec<_>>()).to_string(),
            r#"{"ticker_range":[100,5100]}"#
        );
        assert!(payload_tickers(&serde_json::json!({ "ticker_range": [5, 2] })).is_err());
        assert!(payload_tickers(&serde_json::json!({ "ticker_range": [1] })).is_err());
    }

    #[test]
    fn batches_split_on_the_count_and_keep_every_ticker_once() {
        let tickers: Vec<usize> = (0..10).chain([12, 13, 20]).collect();
        let batches = ticker_batches(&tickers, 4);
        let back: Vec<usize> = batches
            .iter()
            .flat_map(|p| payload_tickers(p).unwrap())
            .collect();
        assert_eq!(back, tickers);
        assert_eq!(batches.len(), 4);
        assert_eq!(batches[0], serde_json::json!({ "ticker_range": [0, 4] }));
        assert_eq!(batches[2], serde_json::json!({ "tickers": [8, 9, 12, 13] }));
        assert_eq!(batches[3], serde_json::json!({ "ticker_range": [20, 21] }));
    }
}
