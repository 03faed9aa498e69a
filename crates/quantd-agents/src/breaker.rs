//! A count-based circuit breaker with resilience4j's states, rules and field names, as a pure
//! state machine: every method takes the time (`now_ms`, unix ms) as an argument, so tests drive
//! it with a manual clock and nothing in it sleeps, spawns or reads a clock.
//!
//! - **Closed**: every call is permitted; outcomes fill a window of the last
//!   `sliding_window_size` calls. Once it holds at least `minimum_number_of_calls`, a failure
//!   rate ≥ `failure_rate_threshold` or a slow-call rate ≥ `slow_call_rate_threshold` (a call is
//!   slow when it took more than `slow_call_duration_threshold_ms`) opens the breaker.
//! - **Open**: calls are refused ([`CallNotPermitted`], with the instant it reopens) until
//!   `wait_duration_in_open_state_ms` has passed; the next [`try_acquire`] after that moves to
//!   half-open (lazily, as resilience4j does with automatic transition off).
//! - **HalfOpen**: exactly `permitted_number_of_calls_in_half_open_state` probe calls are let
//!   through; when they have all finished, the rates decide: open again, or closed with a fresh
//!   window. With `max_wait_duration_in_half_open_state_ms` > 0, a half-open state that lasts
//!   that long opens again.
//!
//! A [`Permit`] carries the generation of the state that issued it: a call permitted in one state
//! that finishes after the breaker moved on (a closed call finishing after it opened) is ignored.
//!
//! [`try_acquire`]: CircuitBreaker::try_acquire

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The longest duration any field accepts: 7 days, in ms.
pub const MAX_DURATION_MS: u64 = 7 * 24 * 3600 * 1000;

/// The largest window (and half-open probe count) any field accepts.
pub const MAX_CALLS: u32 = 10_000;

/// A circuit breaker's settings: resilience4j's names, in snake_case, durations in ms.
///
/// Defaults are resilience4j's, except the window: agents are called far less often than the
/// in-process calls resilience4j's 100/100 is sized for, so the window is the last 20 calls and
/// the rates are judged from 10 (a dead agent is noticed after 10 calls, not 100).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitBreakerConfig {
    /// The failure rate, in percent (0, 100], at or above which the breaker opens. Default 50.
    pub failure_rate_threshold: f64,
    /// The rate of slow calls, in percent (0, 100], at or above which the breaker opens.
    /// Default 100 (only when every call is slow).
    pub slow_call_rate_threshold: f64,
    /// A call that takes longer than this (ms) is slow, whether it succeeded or failed.
    /// Default 60 000.
    pub slow_call_duration_threshold_ms: u64,
    /// How many of the last calls the closed state judges by (a count-based window).
    /// Default 20 (resilience4j: 100).
    pub sliding_window_size: u32,
    /// How many calls the window must hold before its rates are judged; at most
    /// `sliding_window_size`. Default 10 (resilience4j: 100).
    pub minimum_number_of_calls: u32,
    /// How long (ms) an open breaker refuses calls before letting probe calls through.
    /// Default 60 000.
    pub wait_duration_in_open_state_ms: u64,
    /// How many probe calls the half-open state lets through; their rates decide between closed
    /// and open. Default 10.
    pub permitted_number_of_calls_in_half_open_state: u32,
    /// How long (ms) the half-open state may last before it opens again; 0 waits until the
    /// probe calls finish. Default 0.
    pub max_wait_duration_in_half_open_state_ms: u64,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration_threshold_ms: 60_000,
            sliding_window_size: 20,
            minimum_number_of_calls: 10,
            wait_duration_in_open_state_ms: 60_000,
            permitted_number_of_calls_in_half_open_state: 10,
            max_wait_duration_in_half_open_state_ms: 0,
        }
    }
}

impl CircuitBreakerConfig {
    /// Checks every field's range; the error names the first field out of range and the range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        percent("failure_rate_threshold", self.failure_rate_threshold)?;
        percent("slow_call_rate_threshold", self.slow_call_rate_threshold)?;
        duration(
            "slow_call_duration_threshold_ms",
            self.slow_call_duration_threshold_ms,
            1,
        )?;
        calls("sliding_window_size", self.sliding_window_size)?;
        calls("minimum_number_of_calls", self.minimum_number_of_calls)?;
        if self.minimum_number_of_calls > self.sliding_window_size {
            return Err(ConfigError::new(
                "minimum_number_of_calls",
                format!(
                    "must be at most `sliding_window_size` ({}), got {}",
                    self.sliding_window_size, self.minimum_number_of_calls
                ),
            ));
        }
        duration(
            "wait_duration_in_open_state_ms",
            self.wait_duration_in_open_state_ms,
            1,
        )?;
        calls(
            "permitted_number_of_calls_in_half_open_state",
            self.permitted_number_of_calls_in_half_open_state,
        )?;
        duration(
            "max_wait_duration_in_half_open_state_ms",
            self.max_wait_duration_in_half_open_state_ms,
            0,
        )
    }
}

fn percent(field: &str, value: f64) -> Result<(), ConfigError> {
    if value > 0.0 && value <= 100.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be a percentage in (0, 100], got {value}"),
        ))
    }
}

fn duration(field: &str, value: u64, min: u64) -> Result<(), ConfigError> {
    if (min..=MAX_DURATION_MS).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be in [{min}, {MAX_DURATION_MS}] ms (7 days), got {value}"),
        ))
    }
}

fn calls(field: &str, value: u32) -> Result<(), ConfigError> {
    if (1..=MAX_CALLS).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be in [1, {MAX_CALLS}] calls, got {value}"),
        ))
    }
}

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through; outcomes are recorded in the window.
    Closed,
    /// Calls are refused until the wait has passed.
    Open,
    /// A fixed number of probe calls go through; their outcomes decide.
    HalfOpen,
}

impl BreakerState {
    /// The state's name as serialized: `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// Leave to make one call, from [`CircuitBreaker::try_acquire`]. Hand it back with the call's
/// outcome ([`on_success`](CircuitBreaker::on_success), [`on_error`](CircuitBreaker::on_error)) or
/// without one ([`release`](CircuitBreaker::release)).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a permit must be handed back with the call's outcome"]
pub struct Permit {
    /// The generation of the state that issued it; outcomes from another generation are ignored.
    generation: u64,
}

/// A call refused by an open (or busy half-open) breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CallNotPermitted {
    /// The state that refused it: `Open`, or `HalfOpen` when every probe call is taken.
    pub state: BreakerState,
    /// When open: the instant (unix ms) it lets a call through again (goes half-open). When
    /// half-open: `None`, a call is let through when the probe calls in flight finish.
    pub reopens_at_ms: Option<i64>,
}

/// What a breaker has seen in its current state, in resilience4j's terms. The open state keeps
/// the window (and rates) that opened it; half-open and closed start with an empty one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakerMetrics {
    /// The breaker's state.
    pub state: BreakerState,
    /// Failed calls in the window, in percent; -1 until the window holds the minimum number of
    /// calls.
    pub failure_rate: f64,
    /// Slow calls in the window, in percent; -1 until the window holds the minimum number of
    /// calls.
    pub slow_call_rate: f64,
    /// Calls in the window.
    pub number_of_buffered_calls: u32,
    /// Calls in the window that failed.
    pub number_of_failed_calls: u32,
    /// Calls in the window that succeeded.
    pub number_of_successful_calls: u32,
    /// Calls in the window that were slow (succeeded or failed).
    pub number_of_slow_calls: u32,
    /// Calls refused since the breaker left the closed or half-open state it was last in.
    pub number_of_not_permitted_calls: u64,
}

/// One finished call, as the window records it.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    failed: bool,
    slow: bool,
}

/// The last `size` outcomes, with running counts.
#[derive(Debug, Clone)]
struct Window {
    size: usize,
    minimum: usize,
    outcomes: VecDeque<Outcome>,
    failed: usize,
    slow: usize,
}

impl Window {
    fn new(size: u32, minimum: u32) -> Self {
        Self {
            size: size as usize,
            minimum: minimum as usize,
            outcomes: VecDeque::with_capacity(size as usize),
            failed: 0,
            slow: 0,
        }
    }

    fn push(&mut self, outcome: Outcome) {
        if self.outcomes.len() == self.size
            && let Some(old) = self.outcomes.pop_front()
        {
            self.failed -= usize::from(old.failed);
            self.slow -= usize::from(old.slow);
        }
        self.failed += usize::from(outcome.failed);
        self.slow += usize::from(outcome.slow);
        self.outcomes.push_back(outcome);
    }

    fn judged(&self) -> bool {
        self.outcomes.len() >= self.minimum
    }

    /// `count` of the window in percent, or -1 while the window is below its minimum.
    fn rate(&self, count: usize) -> f64 {
        if self.judged() {
            count as f64 * 100.0 / self.outcomes.len() as f64
        } else {
            -1.0
        }
    }

    /// Whether the window is judged and either rate is at or above its threshold.
    fn exceeded(&self, config: &CircuitBreakerConfig) -> bool {
        self.judged()
            && (self.rate(self.failed) >= config.failure_rate_threshold
                || self.rate(self.slow) >= config.slow_call_rate_threshold)
    }
}

/// The state with what it needs to know.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    Open { opened_at_ms: i64 },
    HalfOpen { since_ms: i64, issued: u32 },
}

/// A circuit breaker for one agent. Not synchronized: the owner keeps it behind a lock.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    /// Who it guards, for the logs of its transitions.
    name: String,
    config: CircuitBreakerConfig,
    phase: Phase,
    /// Bumped at every transition; permits from another generation are ignored.
    generation: u64,
    window: Window,
    not_permitted: u64,
}

impl CircuitBreaker {
    /// A closed breaker guarding `name` (used in its logs). The config should have passed
    /// [`CircuitBreakerConfig::validate`].
    pub fn new(name: impl Into<String>, config: CircuitBreakerConfig) -> Self {
        let window = Window::new(config.sliding_window_size, config.minimum_number_of_calls);
        Self {
            name: name.into(),
            config,
            phase: Phase::Closed,
            generation: 0,
            window,
            not_permitted: 0,
        }
    }

    /// The breaker's settings.
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    /// Leave to make a call now, or why not. An open breaker whose wait has passed goes
    /// half-open here and lets the call through as a probe.
    pub fn try_acquire(&mut self, now_ms: i64) -> Result<Permit, CallNotPermitted> {
        self.advance(now_ms);
        if let Phase::Open { opened_at_ms } = self.phase {
            let reopens_at = self.reopens_at(opened_at_ms);
            if now_ms < reopens_at {
                self.not_permitted += 1;
                return Err(CallNotPermitted {
                    state: BreakerState::Open,
                    reopens_at_ms: Some(reopens_at),
                });
            }
            self.transition(
                Phase::HalfOpen {
                    since_ms: now_ms,
                    issued: 0,
                },
                now_ms,
            );
        }
        let permitted = self.config.permitted_number_of_calls_in_half_open_state;
        match &mut self.phase {
            Phase::Closed => {}
            Phase::HalfOpen { issued, .. } if *issued < permitted => *issued += 1,
            Phase::HalfOpen { .. } | Phase::Open { .. } => {
                self.not_permitted += 1;
                return Err(CallNotPermitted {
                    state: BreakerState::HalfOpen,
                    reopens_at_ms: None,
                });
            }
        }
        Ok(Permit {
            generation: self.generation,
        })
    }

    /// Records a call that succeeded, and took `duration_ms` (slow above the threshold).
    pub fn on_success(&mut self, permit: Permit, now_ms: i64, duration_ms: i64) {
        let slow = self.is_slow(duration_ms);
        self.record(
            permit,
            now_ms,
            Outcome {
                failed: false,
                slow,
            },
        );
    }

    /// Records a call that failed, and took `duration_ms` (slow above the threshold).
    pub fn on_error(&mut self, permit: Permit, now_ms: i64, duration_ms: i64) {
        let slow = self.is_slow(duration_ms);
        self.record(permit, now_ms, Outcome { failed: true, slow });
    }

    /// Hands back a permit whose call is not to be recorded (cancelled, or failed in a way that
    /// says nothing about the agent): a half-open probe slot becomes free again.
    pub fn release(&mut self, permit: Permit, now_ms: i64) {
        self.advance(now_ms);
        if permit.generation != self.generation {
            return;
        }
        if let Phase::HalfOpen { issued, .. } = &mut self.phase {
            *issued = issued.saturating_sub(1);
        }
    }

    /// The state at `now_ms`. An open breaker reports open until a call is attempted after its
    /// wait (the transition to half-open happens in [`try_acquire`](Self::try_acquire)).
    pub fn state(&mut self, now_ms: i64) -> BreakerState {
        self.advance(now_ms);
        match self.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// When open: the instant (unix ms) it lets a call through again.
    pub fn reopens_at_ms(&mut self, now_ms: i64) -> Option<i64> {
        self.advance(now_ms);
        match self.phase {
            Phase::Open { opened_at_ms } => Some(self.reopens_at(opened_at_ms)),
            Phase::Closed | Phase::HalfOpen { .. } => None,
        }
    }

    /// What the breaker has seen in its current state.
    pub fn metrics(&mut self, now_ms: i64) -> BreakerMetrics {
        let state = self.state(now_ms);
        let w = &self.window;
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        BreakerMetrics {
            state,
            failure_rate: w.rate(w.failed),
            slow_call_rate: w.rate(w.slow),
            number_of_buffered_calls: count(w.outcomes.len()),
            number_of_failed_calls: count(w.failed),
            number_of_successful_calls: count(w.outcomes.len() - w.failed),
            number_of_slow_calls: count(w.slow),
            number_of_not_permitted_calls: self.not_permitted,
        }
    }

    fn is_slow(&self, duration_ms: i64) -> bool {
        duration_ms > i64::try_from(self.config.slow_call_duration_threshold_ms).unwrap_or(i64::MAX)
    }

    fn reopens_at(&self, opened_at_ms: i64) -> i64 {
        opened_at_ms.saturating_add_unsigned(self.config.wait_duration_in_open_state_ms)
    }

    /// Applies the one transition time alone causes: half-open past its maximum wait opens, as
    /// of the instant the wait ran out.
    fn advance(&mut self, now_ms: i64) {
        let max_wait = self.config.max_wait_duration_in_half_open_state_ms;
        if let Phase::HalfOpen { since_ms, .. } = self.phase
            && max_wait > 0
        {
            let deadline = since_ms.saturating_add_unsigned(max_wait);
            if now_ms >= deadline {
                self.transition(
                    Phase::Open {
                        opened_at_ms: deadline,
                    },
                    now_ms,
                );
            }
        }
    }

    fn record(&mut self, permit: Permit, now_ms: i64, outcome: Outcome) {
        self.advance(now_ms);
        if permit.generation != self.generation {
            tracing::debug!(
                agent = %self.name,
                "a call permitted in an earlier breaker state finished; not recorded"
            );
            return;
        }
        match self.phase {
            Phase::Closed => {
                self.window.push(outcome);
                if self.window.exceeded(&self.config) {
                    self.transition(
                        Phase::Open {
                            opened_at_ms: now_ms,
                        },
                        now_ms,
                    );
                }
            }
            Phase::HalfOpen { .. } => {
                self.window.push(outcome);
                if self.window.judged() {
                    let next = if self.window.exceeded(&self.config) {
                        Phase::Open {
                            opened_at_ms: now_ms,
                        }
                    } else {
                        Phase::Closed
                    };
                    self.transition(next, now_ms);
                }
            }
            // A permit of the open state's generation cannot exist: open issues none.
            Phase::Open { .. } => {}
        }
    }

    fn transition(&mut self, next: Phase, now_ms: i64) {
        let from = self.phase;
        self.phase = next;
        self.generation += 1;
        let (failure_rate, slow_call_rate) = (
            self.window.rate(self.window.failed),
            self.window.rate(self.window.slow),
        );
        match next {
            Phase::Open { opened_at_ms } => {
                // The open state keeps the window that opened it, and counts refusals anew.
                self.not_permitted = 0;
                tracing::warn!(
                    agent = %self.name,
                    from = ?state_of(from),
                    failure_rate,
                    slow_call_rate,
                    reopens_at_ms = self.reopens_at(opened_at_ms),
                    "circuit breaker opened"
                );
            }
            Phase::HalfOpen { .. } => {
                self.window = Window::new(
                    self.config.permitted_number_of_calls_in_half_open_state,
                    self.config.permitted_number_of_calls_in_half_open_state,
                );
                self.not_permitted = 0;
                tracing::info!(agent = %self.name, now_ms, "circuit breaker half-open: probing");
            }
            Phase::Closed => {
                self.window = Window::new(
                    self.config.sliding_window_size,
                    self.config.minimum_number_of_calls,
                );
                self.not_permitted = 0;
                tracing::info!(
                    agent = %self.name,
                    failure_rate,
                    slow_call_rate,
                    "circuit breaker closed"
                );
            }
        }
    }
}

fn state_of(phase: Phase) -> BreakerState {
    match phase {
        Phase::Closed => BreakerState::Closed,
        Phase::Open { .. } => BreakerState::Open,
        Phase::HalfOpen { .. } => BreakerState::HalfOpen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Window 4, judged from 2, 50 % failures, slow above 100 ms at 50 %, open for 1 s, 2 probes.
    fn config() -> CircuitBreakerConfig {
        CircuitBreakerConfig {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 50.0,
            slow_call_duration_threshold_ms: 100,
            sliding_window_size: 4,
            minimum_number_of_calls: 2,
            wait_duration_in_open_state_ms: 1_000,
            permitted_number_of_calls_in_half_open_state: 2,
            max_wait_duration_in_half_open_state_ms: 0,
        }
    }

    fn ok(b: &mut CircuitBreaker, now: i64) {
        let p = b.try_acquire(now).expect("permitted");
        b.on_success(p, now, 1);
    }

    fn fail(b: &mut CircuitBreaker, now: i64) {
        let p = b.try_acquire(now).expect("permitted");
        b.on_error(p, now, 1);
    }

    /// A breaker opened at t = 10.
    fn opened() -> CircuitBreaker {
        let mut b = CircuitBreaker::new("a", config());
        fail(&mut b, 0);
        fail(&mut b, 10);
        assert_eq!(b.state(10), BreakerState::Open);
        b
    }

    #[test]
    fn defaults_are_valid_and_documented_ones() {
        let c = CircuitBreakerConfig::default();
        c.validate().unwrap();
        assert_eq!((c.sliding_window_size, c.minimum_number_of_calls), (20, 10));
        let parsed: CircuitBreakerConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, c);
        let partial: CircuitBreakerConfig =
            serde_json::from_str(r#"{"failure_rate_threshold": 25}"#).unwrap();
        assert_eq!(partial.failure_rate_threshold, 25.0);
        let unknown = serde_json::from_str::<CircuitBreakerConfig>(r#"{"failureRate": 1}"#);
        assert!(unknown.unwrap_err().to_string().contains("unknown field"));
    }

    /// A change to the default config, and the error it must give.
    type Case = (fn(&mut CircuitBreakerConfig), &'static str);

    #[test]
    fn validate_names_the_field_and_the_range() {
        let cases: Vec<Case> = vec![
            (
                |c| c.failure_rate_threshold = 0.0,
                "`failure_rate_threshold` must be a percentage in (0, 100], got 0",
            ),
            (
                |c| c.slow_call_rate_threshold = 101.0,
                "`slow_call_rate_threshold` must be a percentage in (0, 100], got 101",
            ),
            (
                |c| c.failure_rate_threshold = f64::NAN,
                "`failure_rate_threshold` must be a percentage in (0, 100], got NaN",
            ),
            (
                |c| c.slow_call_duration_threshold_ms = 0,
                "`slow_call_duration_threshold_ms` must be in [1, 604800000] ms (7 days), got 0",
            ),
            (
                |c| c.sliding_window_size = 0,
                "`sliding_window_size` must be in [1, 10000] calls, got 0",
            ),
            (
                |c| c.minimum_number_of_calls = 21,
                "`minimum_number_of_calls` must be at most `sliding_window_size` (20), got 21",
            ),
            (
                |c| c.wait_duration_in_open_state_ms = 0,
                "`wait_duration_in_open_state_ms` must be in [1, 604800000] ms (7 days), got 0",
            ),
            (
                |c| c.permitted_number_of_calls_in_half_open_state = 0,
                "`permitted_number_of_calls_in_half_open_state` must be in [1, 10000] calls, got 0",
            ),
            (
                |c| c.max_wait_duration_in_half_open_state_ms = MAX_DURATION_MS + 1,
                "`max_wait_duration_in_half_open_state_ms` must be in [0, 604800000] ms (7 days), got 604800001",
            ),
        ];
        for (edit, message) in cases {
            let mut c = CircuitBreakerConfig::default();
            edit(&mut c);
            assert_eq!(c.validate().unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn closed_waits_for_the_minimum_number_of_calls() {
        let mut b = CircuitBreaker::new("a", config());
        fail(&mut b, 0);
        let m = b.metrics(0);
        assert_eq!(m.state, BreakerState::Closed);
        assert_eq!((m.failure_rate, m.number_of_failed_calls), (-1.0, 1));
    }

    #[test]
    fn closed_opens_at_the_failure_rate_threshold() {
        let mut b = CircuitBreaker::new("a", config());
        ok(&mut b, 0);
        ok(&mut b, 0);
        fail(&mut b, 0); // 1 of 3: 33 %
        assert_eq!(b.state(0), BreakerState::Closed);
        fail(&mut b, 5); // 2 of 4: 50 %
        assert_eq!(b.state(5), BreakerState::Open);
        let m = b.metrics(5);
        assert_eq!((m.failure_rate, m.number_of_buffered_calls), (50.0, 4));
    }

    #[test]
    fn the_window_forgets_the_oldest_call() {
        let judged_from_4 = CircuitBreakerConfig {
            minimum_number_of_calls: 4,
            ..config()
        };
        let mut b = CircuitBreaker::new("a", judged_from_4);
        fail(&mut b, 0);
        ok(&mut b, 0);
        ok(&mut b, 0);
        ok(&mut b, 0);
        ok(&mut b, 0); // pushes the failure out
        let m = b.metrics(0);
        assert_eq!(
            (m.number_of_buffered_calls, m.number_of_failed_calls),
            (4, 0)
        );
        assert_eq!(m.failure_rate, 0.0);
    }

    #[test]
    fn closed_opens_at_the_slow_call_rate_threshold() {
        let mut b = CircuitBreaker::new("a", config());
        let p = b.try_acquire(0).unwrap();
        b.on_success(p, 0, 100); // exactly the threshold: not slow
        let p = b.try_acquire(0).unwrap();
        b.on_success(p, 0, 101);
        assert_eq!(b.state(0), BreakerState::Open);
        assert_eq!(b.metrics(0).slow_call_rate, 50.0);
    }

    #[test]
    fn open_refuses_until_the_wait_has_passed() {
        let mut b = opened();
        let refused = b.try_acquire(1_009).unwrap_err();
        assert_eq!(
            refused,
            CallNotPermitted {
                state: BreakerState::Open,
                reopens_at_ms: Some(1_010)
            }
        );
        assert_eq!(b.metrics(1_009).number_of_not_permitted_calls, 1);
        // Lazily: still open when nobody asks.
        assert_eq!(b.state(5_000), BreakerState::Open);
        assert!(b.try_acquire(5_000).is_ok());
        assert_eq!(b.state(5_000), BreakerState::HalfOpen);
    }

    #[test]
    fn half_open_permits_exactly_the_probe_calls() {
        let mut b = opened();
        let p1 = b.try_acquire(1_010).unwrap();
        let _p2 = b.try_acquire(1_010).unwrap();
        let refused = b.try_acquire(1_010).unwrap_err();
        assert_eq!(
            refused,
            CallNotPermitted {
                state: BreakerState::HalfOpen,
                reopens_at_ms: None
            }
        );
        // A released probe frees its slot.
        b.release(p1, 1_011);
        assert!(b.try_acquire(1_011).is_ok());
    }

    #[test]
    fn half_open_closes_when_the_probes_succeed() {
        let mut b = opened();
        ok(&mut b, 1_010);
        assert_eq!(b.state(1_010), BreakerState::HalfOpen);
        ok(&mut b, 1_020);
        let m = b.metrics(1_020);
        assert_eq!(m.state, BreakerState::Closed);
        assert_eq!(
            m.number_of_buffered_calls, 0,
            "closed starts with a fresh window"
        );
    }

    #[test]
    fn half_open_opens_again_when_the_probes_fail() {
        let mut b = opened();
        ok(&mut b, 1_010);
        fail(&mut b, 1_500); // 1 of 2: 50 %
        assert_eq!(b.state(1_500), BreakerState::Open);
        assert_eq!(b.reopens_at_ms(1_500), Some(2_500));
    }

    #[test]
    fn half_open_past_its_maximum_wait_opens_again() {
        let mut b = CircuitBreaker::new(
            "a",
            CircuitBreakerConfig {
                max_wait_duration_in_half_open_state_ms: 300,
                ..config()
            },
        );
        fail(&mut b, 0);
        fail(&mut b, 10);
        let probe = b.try_acquire(1_010).unwrap();
        assert_eq!(b.state(1_309), BreakerState::HalfOpen);
        assert_eq!(b.state(1_310), BreakerState::Open);
        // Open as of the instant the wait ran out; the late probe is ignored.
        assert_eq!(b.reopens_at_ms(1_400), Some(2_310));
        b.on_success(probe, 1_400, 1);
        assert_eq!(b.state(1_400), BreakerState::Open);
    }

    #[test]
    fn a_permit_from_an_earlier_state_is_ignored() {
        let mut b = CircuitBreaker::new("a", config());
        let late = b.try_acquire(0).unwrap();
        fail(&mut b, 0);
        fail(&mut b, 10);
        ok(&mut b, 1_010); // half-open, one probe done
        b.on_error(late, 1_011, 1);
        let m = b.metrics(1_011);
        assert_eq!(m.state, BreakerState::HalfOpen);
        assert_eq!(
            (m.number_of_buffered_calls, m.number_of_failed_calls),
            (1, 0)
        );
    }
}
