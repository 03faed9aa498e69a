//! The circuit breaker against a model: random configurations and random sequences of
//! operations (time passing, calls asked for, calls finishing as success, failure, slow or not
//! recorded) on a manual clock, checked step by step against a plain re-implementation of the
//! rules of docs/agents.md written here — states, permitted and refused calls, reopening
//! instants and metrics must agree at every step.

use proptest::prelude::*;
use quantd_agents::{BreakerState, CallNotPermitted, CircuitBreaker, CircuitBreakerConfig, Permit};

/// The model's view of the state.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ModelState {
    Closed,
    /// Refusing calls until `until`.
    Open {
        until: i64,
    },
    /// Probing since `started`, having let `given` probes through.
    HalfOpen {
        started: i64,
        given: u32,
    },
}

/// The rules, written out plainly: a Vec for the window, integer percent comparisons, the
/// reopening instant stored rather than the opening one.
#[derive(Debug)]
struct Model {
    window: usize,
    minimum: usize,
    failure_threshold: u32,
    slow_threshold: u32,
    wait: i64,
    probes: u32,
    max_half_open: i64,
    state: ModelState,
    /// Which state a permit belongs to: bumped at every change of state.
    epoch: u64,
    /// (failed, slow) of the calls the current state judges by, oldest first.
    calls: Vec<(bool, bool)>,
    /// How many calls `calls` must hold before its rates count.
    judge_from: usize,
    refused: u64,
}

impl Model {
    fn new(config: &CircuitBreakerConfig) -> Self {
        Self {
            window: config.sliding_window_size as usize,
            minimum: config.minimum_number_of_calls as usize,
            failure_threshold: config.failure_rate_threshold as u32,
            slow_threshold: config.slow_call_rate_threshold as u32,
            wait: config.wait_duration_in_open_state_ms as i64,
            probes: config.permitted_number_of_calls_in_half_open_state,
            max_half_open: config.max_wait_duration_in_half_open_state_ms as i64,
            state: ModelState::Closed,
            epoch: 0,
            calls: Vec::new(),
            judge_from: config.minimum_number_of_calls as usize,
            refused: 0,
        }
    }

    fn change(&mut self, to: ModelState) {
        self.state = to;
        self.epoch += 1;
        self.refused = 0;
        match to {
            ModelState::Closed => {
                self.calls.clear();
                self.judge_from = self.minimum;
            }
            ModelState::HalfOpen { .. } => {
                self.calls.clear();
                self.judge_from = self.probes as usize;
            }
            ModelState::Open { .. } => {}
        }
    }

    /// Half-open for too long opens, as of when the time ran out.
    fn tick(&mut self, now: i64) {
        if let ModelState::HalfOpen { started, .. } = self.state
            && self.max_half_open > 0
            && now >= started + self.max_half_open
        {
            self.change(ModelState::Open {
                until: started + self.max_half_open + self.wait,
            });
        }
    }

    fn acquire(&mut self, now: i64) -> Result<u64, Option<i64>> {
        self.tick(now);
        match self.state {
            ModelState::Closed => Ok(self.epoch),
            ModelState::Open { until } if now < until => {
                self.refused += 1;
                Err(Some(until))
            }
            ModelState::Open { .. } => {
                self.change(ModelState::HalfOpen {
                    started: now,
                    given: 1,
                });
                Ok(self.epoch)
            }
            ModelState::HalfOpen { started, given } if given < self.probes => {
                self.state = ModelState::HalfOpen {
                    started,
                    given: given + 1,
                };
                Ok(self.epoch)
            }
            ModelState::HalfOpen { .. } => {
                self.refused += 1;
                Err(None)
            }
        }
    }

    fn too_bad(&self) -> bool {
        let n = self.calls.len() as u32;
        let failed = self.calls.iter().filter(|c| c.0).count() as u32;
        let slow = self.calls.iter().filter(|c| c.1).count() as u32;
        self.calls.len() >= self.judge_from
            && (failed * 100 >= self.failure_threshold * n || slow * 100 >= self.slow_threshold * n)
    }

    fn finish(&mut self, epoch: u64, now: i64, failed: bool, slow: bool) {
        self.tick(now);
        if epoch != self.epoch {
            return;
        }
        match self.state {
            ModelState::Closed => {
                self.calls.push((failed, slow));
                if self.calls.len() > self.window {
                    self.calls.remove(0);
                }
                if self.too_bad() {
                    self.change(ModelState::Open {
                        until: now + self.wait,
                    });
                }
            }
            ModelState::HalfOpen { .. } => {
                self.calls.push((failed, slow));
                if self.calls.len() == self.probes as usize {
                    let next = if self.too_bad() {
                        ModelState::Open {
                            until: now + self.wait,
                        }
                    } else {
                        ModelState::Closed
                    };
                    self.change(next);
                }
            }
            ModelState::Open { .. } => {}
        }
    }

    fn release(&mut self, epoch: u64, now: i64) {
        self.tick(now);
        if let ModelState::HalfOpen { started, given } = self.state
            && epoch == self.epoch
        {
            self.state = ModelState::HalfOpen {
                started,
                given: given - 1,
            };
        }
    }

    fn state(&mut self, now: i64) -> BreakerState {
        self.tick(now);
        match self.state {
            ModelState::Closed => BreakerState::Closed,
            ModelState::Open { .. } => BreakerState::Open,
            ModelState::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn rate(&self, count: usize) -> f64 {
        if self.calls.len() < self.judge_from {
            -1.0
        } else {
            count as f64 * 100.0 / self.calls.len() as f64
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Advance(i64),
    Acquire,
    /// Finish the outstanding call `pick` (modulo their number).
    Finish {
        pick: usize,
        failed: bool,
        slow: bool,
    },
    /// Hand back the outstanding call `pick` unrecorded.
    Release {
        pick: usize,
    },
}

/// Slow means above this many ms.
const SLOW_MS: u64 = 10;

fn configs() -> impl Strategy<Value = CircuitBreakerConfig> {
    let percent = || prop::sample::select(vec![1.0, 25.0, 33.0, 50.0, 67.0, 100.0]);
    (1u32..=6)
        .prop_flat_map(|window| (Just(window), 1..=window))
        .prop_flat_map(move |(window, minimum)| {
            (
                percent(),
                percent(),
                1u64..50,
                1u32..=4,
                prop_oneof![Just(0u64), 1u64..60],
            )
                .prop_map(move |(failure, slow, wait, probes, max_wait)| {
                    CircuitBreakerConfig {
                        failure_rate_threshold: failure,
                        slow_call_rate_threshold: slow,
                        slow_call_duration_threshold_ms: SLOW_MS,
                        sliding_window_size: window,
                        minimum_number_of_calls: minimum,
                        wait_duration_in_open_state_ms: wait,
                        permitted_number_of_calls_in_half_open_state: probes,
                        max_wait_duration_in_half_open_state_ms: max_wait,
                    }
                })
        })
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        2 => (0i64..30).prop_map(Op::Advance),
        4 => Just(Op::Acquire),
        4 => (any::<usize>(), any::<bool>(), any::<bool>())
            .prop_map(|(pick, failed, slow)| Op::Finish { pick, failed, slow }),
        1 => any::<usize>().prop_map(|pick| Op::Release { pick }),
    ];
    prop::collection::vec(op, 1..300)
}

fn check(config: CircuitBreakerConfig, ops: Vec<Op>) -> Result<(), TestCaseError> {
    config.validate().expect("generated configs are valid");
    let mut breaker = CircuitBreaker::new("model", config.clone());
    let mut model = Model::new(&config);
    let mut now = 1_700_000_000_000_i64;
    let mut outstanding: Vec<(Permit, u64)> = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Advance(ms) => now += ms,
            Op::Acquire => {
                let got = breaker.try_acquire(now);
                let want = model.acquire(now);
                match (got, want) {
                    (Ok(permit), Ok(epoch)) => outstanding.push((permit, epoch)),
                    (Err(refused), Err(until)) => {
                        let state = if until.is_some() {
                            BreakerState::Open
                        } else {
                            BreakerState::HalfOpen
                        };
                        prop_assert_eq!(
                            refused,
                            CallNotPermitted {
                                state,
                                reopens_at_ms: until
                            },
                            "step {}",
                            step
                        );
                    }
                    (got, want) => {
                        prop_assert!(false, "step {step}: breaker {got:?}, model {want:?}")
                    }
                }
            }
            Op::Finish { pick, failed, slow } if !outstanding.is_empty() => {
                let (permit, epoch) = outstanding.swap_remove(pick % outstanding.len());
                let duration = if slow { SLOW_MS + 1 } else { SLOW_MS } as i64;
                if failed {
                    breaker.on_error(permit, now, duration);
                } else {
                    breaker.on_success(permit, now, duration);
                }
                model.finish(epoch, now, failed, slow);
            }
            Op::Release { pick } if !outstanding.is_empty() => {
                let (permit, epoch) = outstanding.swap_remove(pick % outstanding.len());
                breaker.release(permit, now);
                model.release(epoch, now);
            }
            Op::Finish { .. } | Op::Release { .. } => {}
        }
        let state = model.state(now);
        prop_assert_eq!(breaker.state(now), state, "step {}: {:?}", step, model);
        let until = match model.state {
            ModelState::Open { until } => Some(until),
            _ => None,
        };
        prop_assert_eq!(breaker.reopens_at_ms(now), until, "step {}", step);
        let m = breaker.metrics(now);
        let failed = model.calls.iter().filter(|c| c.0).count();
        let slow = model.calls.iter().filter(|c| c.1).count();
        prop_assert_eq!(
            (
                m.number_of_buffered_calls as usize,
                m.number_of_failed_calls as usize,
                m.number_of_successful_calls as usize,
                m.number_of_slow_calls as usize,
                m.number_of_not_permitted_calls,
            ),
            (
                model.calls.len(),
                failed,
                model.calls.len() - failed,
                slow,
                model.refused
            ),
            "step {}",
            step
        );
        prop_assert_eq!(m.failure_rate, model.rate(failed), "step {}", step);
        prop_assert_eq!(m.slow_call_rate, model.rate(slow), "step {}", step);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn the_breaker_follows_the_model(config in configs(), ops in ops()) {
        check(config, ops)?;
    }
}

/// The walk every state takes in one sequence, so a change that made the model and the breaker
/// agree by never leaving closed would fail here.
#[test]
fn one_sequence_visits_every_state() {
    let config = CircuitBreakerConfig {
        sliding_window_size: 2,
        minimum_number_of_calls: 2,
        wait_duration_in_open_state_ms: 10,
        permitted_number_of_calls_in_half_open_state: 1,
        ..CircuitBreakerConfig::default()
    };
    let fail = |pick| Op::Finish {
        pick,
        failed: true,
        slow: false,
    };
    let succeed = Op::Finish {
        pick: 0,
        failed: false,
        slow: false,
    };
    let ops = vec![
        Op::Acquire,
        fail(0),
        Op::Acquire,
        fail(0),     // open
        Op::Acquire, // refused
        Op::Advance(10),
        Op::Acquire, // half-open probe
        fail(0),     // open again
        Op::Advance(10),
        Op::Acquire,
        succeed, // closed
    ];
    check(config.clone(), ops.clone()).unwrap();
    let mut b = CircuitBreaker::new("walk", config);
    let mut seen = vec![b.state(0)];
    let mut now = 0;
    let mut held = Vec::new();
    for op in ops {
        match op {
            Op::Advance(ms) => now += ms,
            Op::Acquire => held.extend(b.try_acquire(now).ok()),
            Op::Finish { failed, .. } => {
                let p = held.pop().unwrap();
                if failed {
                    b.on_error(p, now, 1);
                } else {
                    b.on_success(p, now, 1);
                }
            }
            Op::Release { .. } => {}
        }
        let s = b.state(now);
        if seen.last() != Some(&s) {
            seen.push(s);
        }
    }
    use BreakerState::*;
    assert_eq!(seen, [Closed, Open, HalfOpen, Open, HalfOpen, Closed]);
}
