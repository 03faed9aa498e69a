//! The retry policy, with Temporal's field names: a failed shard is retried after
//! `initial_interval × backoff_coefficient^(attempt-1)` (capped at `maximum_interval`, with ±jitter)
//! until `maximum_attempts`, unless its error class is in `non_retryable`.

use quantd_core::ErrorClass;
use serde::{Deserialize, Serialize};

/// How failed shards are retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Delay before the first retry, in milliseconds.
    pub initial_interval: u64,
    /// Factor applied to the delay after each retry.
    pub backoff_coefficient: f64,
    /// Longest delay, in milliseconds.
    pub maximum_interval: u64,
    /// Attempts in all, the first included (1 = no retry).
    pub maximum_attempts: u32,
    /// Error classes never retried.
    pub non_retryable: Vec<ErrorClass>,
    /// Relative jitter: each delay is scaled by a factor in `[1 - jitter, 1 + jitter]`.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_interval: 1_000,
            backoff_coefficient: 2.0,
            maximum_interval: 60_000,
            maximum_attempts: 3,
            non_retryable: vec![
                ErrorClass::Validation,
                ErrorClass::Data,
                ErrorClass::Policy,
                ErrorClass::Timeout,
                ErrorClass::Resource,
                ErrorClass::Execution,
            ],
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt after `attempt` failed with `class`, or `None` when the
    /// shard fails for good. `unit` is a uniform random number in [0, 1) for the jitter.
    pub fn next_delay(&self, class: ErrorClass, attempt: u32, unit: f64) -> Option<u64> {
        if self.non_retryable.contains(&class) || attempt >= self.maximum_attempts {
            return None;
        }
        let base = self.initial_interval as f64
            * self
                .backoff_coefficient
                .powi(attempt.saturating_sub(1) as i32);
        let capped = base.min(self.maximum_interval as f64);
        let factor = 1.0 + self.jitter * (2.0 * unit - 1.0);
        Some((capped * factor).max(0.0).round() as u64)
    }

    /// Checks the fields make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.maximum_attempts == 0 {
            return Err("maximum_attempts must be at least 1".into());
        }
        if self.backoff_coefficient.is_nan() || self.backoff_coefficient < 1.0 {
            return Err("backoff_coefficient must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err("jitter must be between 0 and 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_cap_and_stop() {
        let p = RetryPolicy {
            jitter: 0.0,
            maximum_attempts: 5,
            maximum_interval: 3_000,
            ..Default::default()
        };
        let d: Vec<_> = (1..=5)
            .map(|a| p.next_delay(ErrorClass::Network, a, 0.5))
            .collect();
        assert_eq!(
            d,
            [Some(1_000), Some(2_000), Some(3_000), Some(3_000), None]
        );
        assert_eq!(
            p.next_delay(ErrorClass::Validation, 1, 0.5),
            None,
            "non-retryable"
        );
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let p = RetryPolicy::default();
        assert_eq!(p.next_delay(ErrorClass::Network, 1, 0.0), Some(800));
        assert_eq!(
            p.next_delay(ErrorClass::Network, 1, 0.999_999_9),
            Some(1_200)
        );
        assert!(
            RetryPolicy {
                backoff_coefficient: 0.5,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}
