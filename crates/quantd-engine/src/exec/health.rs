//! Execution health: how well an execution is going, as a score and a band.
//!
//! `error_rate = failed attempts / attempts`; `score = 100 × (1 − error_rate) × (1 − failed
//! shards / shards)`, rounded; bands: excellent ≥ 80, good ≥ 60, degraded ≥ 40, else critical.

use quantd_store::{ExecutionRecord, ShardRecord};
use serde::Serialize;

/// A health snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// Shards finished (done or failed) / shards.
    pub completion_rate: f64,
    /// Failed attempts / attempts.
    pub error_rate: f64,
    /// Mean duration of finished shards, in milliseconds.
    pub avg_shard_ms: Option<f64>,
    /// 0–100.
    pub score: u8,
    /// `excellent`, `good`, `degraded` or `critical`.
    pub band: &'static str,
}

/// The band of a score.
pub fn band(score: u8) -> &'static str {
    match score {
        80.. => "excellent",
        60..=79 => "good",
        40..=59 => "degraded",
        _ => "critical",
    }
}

impl Health {
    /// Health of an execution from its counters and shards.
    pub fn of(rec: &ExecutionRecord, shards: &[ShardRecord], _now: i64) -> Health {
        let total = rec.shards_total.max(1) as f64;
        let completion_rate = (rec.shards_done + rec.shards_failed) as f64 / total;
        let error_rate = if rec.attempts == 0 {
            0.0
        } else {
            rec.failed_attempts as f64 / rec.attempts as f64
        };
        let durations: Vec<f64> = shards
            .iter()
            .filter_map(|s| Some((s.finished_at? - s.started_at?) as f64))
            .collect();
        let avg_shard_ms =
            (!durations.is_empty()).then(|| durations.iter().sum::<f64>() / durations.len() as f64);
        let score = (100.0 * (1.0 - error_rate) * (1.0 - rec.shards_failed as f64 / total))
            .round()
            .clamp(0.0, 100.0) as u8;
        Health {
            completion_rate,
            error_rate,
            avg_shard_ms,
            score,
            band: band(score),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bands_follow_the_thresholds() {
        assert_eq!(
            [100, 80, 79, 60, 59, 40, 39, 0].map(super::band),
            [
                "excellent",
                "excellent",
                "good",
                "good",
                "degraded",
                "degraded",
                "critical",
                "critical"
            ]
        );
    }
}
