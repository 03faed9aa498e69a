//! The retry policy, with Temporal's field names: a failed shard is retried after
//! `initial_interval × backoff_coefficient^(attempt-1)` (capped at `maximum_interval`, with ±jitter)
//! until `maximum_attempts`, unless its error class is in `non_retryable`.
//!
//! Per error class ([`ClassRetry`], `per_class`), a request or a workspace default may set its
//! own attempts (`network` 5, `execution` 1; a class listed there is retried even if it is in
//! `non_retryable`) and, for `timeout`, a `timeout_multiplier`: attempt n runs with the sandbox
//! wall timeout × multiplier^(n-1), within the server's maximum.

use quantd_core::ErrorClass;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most a `timeout_multiplier` may be.
pub const MAX_TIMEOUT_MULTIPLIER: f64 = 10.0;

/// How shards failing with one error class are retried, over the policy's own settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClassRetry {
    /// Attempts in all for a shard failing with this class, the first included (1 = no retry);
    /// a class given attempts here is retried even if the policy does not retry it otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10))]
    pub maximum_attempts: Option<u32>,
    /// `timeout` only: each attempt's sandbox wall timeout is the requested one ×
    /// multiplier^(attempt-1), within the server's maximum (1 to 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1.0, maximum = 10.0))]
    pub timeout_multiplier: Option<f64>,
}

/// Per-class overrides, by class name (`network`, `timeout`, `execution`, …).
pub type ClassPolicies = BTreeMap<ErrorClass, ClassRetry>;

/// `over` laid on `base`, field by field per class.
pub fn merge_classes(base: &ClassPolicies, over: &ClassPolicies) -> ClassPolicies {
    let mut out = base.clone();
    for (class, c) in over {
        let e = out.entry(*class).or_default();
        e.maximum_attempts = c.maximum_attempts.or(e.maximum_attempts);
        e.timeout_multiplier = c.timeout_multiplier.or(e.timeout_multiplier);
    }
    out
}

/// Checks per-class overrides: attempts 1 to `max_attempts`, a multiplier only on `timeout` and
/// within 1 to [`MAX_TIMEOUT_MULTIPLIER`]. `at` names where they are (`options.retry`).
pub fn check_classes(classes: &ClassPolicies, max_attempts: u32, at: &str) -> Result<(), String> {
    for (class, c) in classes {
        if let Some(n) = c.maximum_attempts
            && !(1..=max_attempts).contains(&n)
        {
            return Err(format!(
                "`{at}.{class}.maximum_attempts` is {n}: give 1 to {max_attempts} (the server's `max_attempts`)"
            ));
        }
        if let Some(m) = c.timeout_multiplier {
            if *class != ErrorClass::Timeout {
                return Err(format!(
                    "`{at}.{class}.timeout_multiplier`: only the `timeout` class takes a timeout multiplier"
                ));
            }
            if !(1.0..=MAX_TIMEOUT_MULTIPLIER).contains(&m) {
                return Err(format!(
                    "`{at}.timeout.timeout_multiplier` is {m}: give 1 to {MAX_TIMEOUT_MULTIPLIER}"
                ));
            }
        }
    }
    Ok(())
}

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
    /// Per error class: its own attempts (and, for `timeout`, a timeout multiplier).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub per_class: ClassPolicies,
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
            per_class: ClassPolicies::new(),
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt after `attempt` failed with `class`, or `None` when the
    /// shard fails for good. `unit` is a uniform random number in [0, 1) for the jitter.
    pub fn next_delay(&self, class: ErrorClass, attempt: u32, unit: f64) -> Option<u64> {
        let maximum = match self.per_class.get(&class).and_then(|c| c.maximum_attempts) {
            Some(n) => n,
            None if self.non_retryable.contains(&class) => return None,
            None => self.maximum_attempts,
        };
        if attempt >= maximum {
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

    /// What attempt `attempt` (1-based) multiplies the sandbox wall timeout by:
    /// `timeout_multiplier^(attempt-1)` of the `timeout` class, 1 without one.
    pub fn timeout_scale(&self, attempt: u32) -> f64 {
        let m = self
            .per_class
            .get(&ErrorClass::Timeout)
            .and_then(|c| c.timeout_multiplier)
            .unwrap_or(1.0);
        m.powi(i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX))
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
    fn classes_have_their_own_attempts_and_timeout_scale() {
        let mut p = RetryPolicy {
            jitter: 0.0,
            ..Default::default()
        };
        p.per_class.insert(
            ErrorClass::Network,
            ClassRetry {
                maximum_attempts: Some(5),
                ..Default::default()
            },
        );
        p.per_class.insert(
            ErrorClass::Timeout,
            ClassRetry {
                maximum_attempts: Some(3),
                timeout_multiplier: Some(2.0),
            },
        );
        p.per_class.insert(
            ErrorClass::Internal,
            ClassRetry {
                maximum_attempts: Some(1),
                ..Default::default()
            },
        );
        let tries = |class| {
            (1..=6)
                .take_while(|&a| p.next_delay(class, a, 0.5).is_some())
                .count()
                + 1
        };
        assert_eq!(tries(ErrorClass::Network), 5);
        assert_eq!(
            tries(ErrorClass::Timeout),
            3,
            "retried although non-retryable by default"
        );
        assert_eq!(tries(ErrorClass::Internal), 1);
        assert_eq!(
            tries(ErrorClass::Resource),
            1,
            "no override: the default rules"
        );
        assert_eq!(
            tries(ErrorClass::CircuitOpen),
            3,
            "no override: the policy's attempts"
        );
        assert_eq!([1, 2, 3].map(|a| p.timeout_scale(a)), [1.0, 2.0, 4.0]);
        let json: RetryPolicy = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(json, p);
        assert!(check_classes(&p.per_class, 10, "options.retry").is_ok());
        let mut bad = p.per_class.clone();
        bad.insert(
            ErrorClass::Network,
            ClassRetry {
                maximum_attempts: Some(11),
                ..Default::default()
            },
        );
        assert_eq!(
            check_classes(&bad, 10, "options.retry").unwrap_err(),
            "`options.retry.network.maximum_attempts` is 11: give 1 to 10 (the server's `max_attempts`)"
        );
        bad.insert(
            ErrorClass::Network,
            ClassRetry {
                timeout_multiplier: Some(2.0),
                ..Default::default()
            },
        );
        assert!(
            check_classes(&bad, 10, "options.retry")
                .unwrap_err()
                .contains("only the `timeout` class")
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
