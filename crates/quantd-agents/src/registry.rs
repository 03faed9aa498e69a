//! [`Agents`]: the registered agents with one circuit breaker each, and the route from a
//! capability to one of them. [`Agents::call`] routes (round robin among the agents with the
//! capability whose breaker lets the call through), sends, and records the outcome in that
//! agent's breaker; [`Agents::states`] is what `/health`, `/metrics` and `quantd agents list`
//! show. The breakers sit behind one std mutex that is never held across an await.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::agent::{AgentClient, AgentConfig, ClientOptions};
use crate::breaker::{BreakerMetrics, BreakerState, CircuitBreaker, Permit};
use crate::clock::Clock;
use crate::error::{AgentError, ConfigError};

/// The registered agents and their circuit breakers. Share it behind an `Arc`.
#[derive(Debug)]
pub struct Agents {
    configs: Vec<AgentConfig>,
    /// Capability → the indices (into `configs`) of the agents that have it, in registration
    /// order; sorted by capability, so its keys are the "known capabilities" of errors.
    by_capability: BTreeMap<String, Vec<usize>>,
    state: Mutex<State>,
    client: AgentClient,
}

/// What changes as calls are made.
#[derive(Debug)]
struct State {
    /// One per agent, in the order of `configs`.
    breakers: Vec<CircuitBreaker>,
    /// Capability → the position (in `by_capability`'s list) the next call starts from.
    cursors: HashMap<String, usize>,
}

/// One routed call: the agent it goes to and its breaker's permit. Hand it back with
/// [`finish`](Self::finish); dropped unfinished (the call was cancelled), the permit is released
/// without recording an outcome.
#[derive(Debug)]
pub struct Route<'a> {
    agents: &'a Agents,
    index: usize,
    permit: Option<Permit>,
}

impl Route<'_> {
    /// The agent the call goes to.
    pub fn agent(&self) -> &AgentConfig {
        &self.agents.configs[self.index]
    }

    /// Records the call's outcome in the agent's breaker: a success; an error that counts
    /// against the agent ([`AgentError::counts_against_agent`]) as a failure; any other error
    /// (a 4xx: the task's fault) as nothing, freeing the permit. Slow when `duration_ms` is over
    /// the breaker's threshold.
    pub fn finish(mut self, now_ms: i64, duration_ms: i64, result: Result<(), &AgentError>) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let mut state = self.agents.lock();
        let breaker = &mut state.breakers[self.index];
        match result {
            Ok(()) => breaker.on_success(permit, now_ms, duration_ms),
            Err(e) if e.counts_against_agent() => breaker.on_error(permit, now_ms, duration_ms),
            Err(_) => breaker.release(permit, now_ms),
        }
    }
}

impl Drop for Route<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            // No clock here: a release only frees a half-open slot, which any time does.
            self.agents.lock().breakers[self.index].release(permit, i64::MIN);
        }
    }
}

/// A call's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallOutcome {
    /// The agent that answered.
    pub agent: String,
    /// Its answer: any JSON value (an object is what agents are asked for).
    pub output: Value,
    /// How long the call took, by the clock passed to [`Agents::call`].
    pub duration_ms: i64,
}

/// One agent as `/health`, `/metrics` and `quantd agents list` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentStatus {
    /// Its name.
    pub name: String,
    /// Where tasks go.
    pub url: String,
    /// What it can do.
    pub capabilities: Vec<String>,
    /// Its breaker's state.
    pub state: BreakerState,
    /// When open: the instant (unix ms) it lets a call through again.
    pub reopens_at_ms: Option<i64>,
    /// What its breaker has seen in its current state.
    pub metrics: BreakerMetrics,
}

impl Agents {
    /// The agents, each checked ([`AgentConfig::validate`]) and with a closed breaker; names
    /// must be unique. Answers are read with the default [`ClientOptions`].
    pub fn new(configs: Vec<AgentConfig>) -> Result<Self, ConfigError> {
        Self::with_options(configs, ClientOptions::default())
    }

    /// As [`new`](Self::new), reading answers as `options` says.
    pub fn with_options(
        configs: Vec<AgentConfig>,
        options: ClientOptions,
    ) -> Result<Self, ConfigError> {
        Self::build(configs, AgentClient::new(options)?, |_| None)
    }

    /// The agents `configs` lists, keeping the breaker (and round robin position) of every
    /// agent whose name, URL and breaker settings are unchanged, and the connection pool: for
    /// adding or removing agents while calls are made. Calls in flight on `self` finish there.
    pub fn updated(&self, configs: Vec<AgentConfig>) -> Result<Self, ConfigError> {
        let state = self.lock();
        let keep = |config: &AgentConfig| {
            let old = self.configs.iter().position(|c| {
                c.name == config.name && c.url == config.url && c.breaker == config.breaker
            })?;
            Some(state.breakers[old].clone())
        };
        let mut agents = Self::build(configs, self.client.clone(), keep)?;
        agents
            .state
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .cursors = state.cursors.clone();
        Ok(agents)
    }

    fn build(
        configs: Vec<AgentConfig>,
        client: AgentClient,
        breaker: impl Fn(&AgentConfig) -> Option<CircuitBreaker>,
    ) -> Result<Self, ConfigError> {
        let mut by_capability: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut breakers = Vec::with_capacity(configs.len());
        for (i, config) in configs.iter().enumerate() {
            config.validate().map_err(|e| e.in_agent(&config.name))?;
            if configs[..i].iter().any(|c| c.name == config.name) {
                return Err(ConfigError::new("name", "is registered twice").in_agent(&config.name));
            }
            for capability in &config.capabilities {
                by_capability.entry(capability.clone()).or_default().push(i);
            }
            breakers.push(
                breaker(config)
                    .unwrap_or_else(|| CircuitBreaker::new(&config.name, config.breaker.clone())),
            );
        }
        Ok(Self {
            configs,
            by_capability,
            state: Mutex::new(State {
                breakers,
                cursors: HashMap::new(),
            }),
            client,
        })
    }

    /// The agents, in registration order.
    pub fn configs(&self) -> &[AgentConfig] {
        &self.configs
    }

    /// Every capability some agent has, sorted.
    pub fn capabilities(&self) -> Vec<String> {
        self.by_capability.keys().cloned().collect()
    }

    /// The agent to call for `capability` now: the next one, round robin, among those with it
    /// whose breaker lets a call through (open ones are skipped). Errors: [`AgentError::NoAgent`]
    /// when none has it, [`AgentError::CircuitOpen`] when every one refuses.
    pub fn route(&self, capability: &str, now_ms: i64) -> Result<Route<'_>, AgentError> {
        let Some(candidates) = self.by_capability.get(capability) else {
            return Err(AgentError::NoAgent {
                capability: capability.to_owned(),
                known: self.capabilities(),
            });
        };
        let mut state = self.lock();
        let start = state.cursors.get(capability).copied().unwrap_or(0);
        let mut reopens_at_ms = Some(i64::MAX);
        for k in 0..candidates.len() {
            let position = (start + k) % candidates.len();
            let index = candidates[position];
            match state.breakers[index].try_acquire(now_ms) {
                Ok(permit) => {
                    state.cursors.insert(capability.to_owned(), position + 1);
                    return Ok(Route {
                        agents: self,
                        index,
                        permit: Some(permit),
                    });
                }
                Err(refused) => {
                    reopens_at_ms = match (reopens_at_ms, refused.reopens_at_ms) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        _ => None,
                    };
                }
            }
        }
        Err(AgentError::CircuitOpen {
            capability: capability.to_owned(),
            agents: candidates
                .iter()
                .map(|&i| self.configs[i].name.clone())
                .collect(),
            reopens_at_ms,
        })
    }

    /// Calls an agent with `capability`: routes ([`route`](Self::route)), POSTs the task, reads
    /// the answer within `timeout`, and records the outcome in the agent's breaker (a timeout
    /// is recorded as taking at least `timeout`). `clock` stamps the request and times the call.
    #[tracing::instrument(
        name = "agent_call",
        skip_all,
        fields(capability = %capability, task_id = %task_id, agent = tracing::field::Empty)
    )]
    pub async fn call(
        &self,
        capability: &str,
        task_id: &str,
        input: &Value,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> Result<CallOutcome, AgentError> {
        let start = clock.now_ms();
        let route = self.route(capability, start).inspect_err(|e| {
            tracing::warn!(class = e.class(), error = %e, "no agent to call");
        })?;
        let agent = route.agent().name.clone();
        tracing::Span::current().record("agent", agent.as_str());
        let result = self
            .client
            .send(route.agent(), task_id, capability, input, timeout, start)
            .await;
        let end = clock.now_ms();
        let mut duration_ms = end.saturating_sub(start);
        if let Err(AgentError::Timeout { timeout_ms, .. }) = &result {
            duration_ms = duration_ms.max(i64::try_from(*timeout_ms).unwrap_or(i64::MAX));
        }
        route.finish(end, duration_ms, result.as_ref().map(|_| ()));
        match result {
            Ok(output) => {
                tracing::debug!(duration_ms, "agent answered");
                Ok(CallOutcome {
                    agent,
                    output,
                    duration_ms,
                })
            }
            Err(e) => {
                tracing::warn!(
                    duration_ms,
                    class = e.class(),
                    retryable = e.retryable(),
                    error = %e,
                    "agent call failed"
                );
                Err(e)
            }
        }
    }

    /// Every agent with its breaker's state and metrics at `now_ms`, in registration order.
    pub fn states(&self, now_ms: i64) -> Vec<AgentStatus> {
        let mut state = self.lock();
        self.configs
            .iter()
            .zip(state.breakers.iter_mut())
            .map(|(config, breaker)| AgentStatus {
                name: config.name.clone(),
                url: config.url.clone(),
                capabilities: config.capabilities.clone(),
                state: breaker.state(now_ms),
                reopens_at_ms: breaker.reopens_at_ms(now_ms),
                metrics: breaker.metrics(now_ms),
            })
            .collect()
    }

    /// The state, whatever a panicking holder left: breakers stay consistent between calls.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::CircuitBreakerConfig;

    fn agent(name: &str, capabilities: &[&str]) -> AgentConfig {
        AgentConfig {
            name: name.into(),
            url: format!("http://127.0.0.1:9/{name}"),
            capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
            secret: None,
            breaker: CircuitBreakerConfig {
                sliding_window_size: 2,
                minimum_number_of_calls: 2,
                wait_duration_in_open_state_ms: 100,
                permitted_number_of_calls_in_half_open_state: 1,
                ..CircuitBreakerConfig::default()
            },
        }
    }

    fn failed(agent: &str) -> AgentError {
        AgentError::Status {
            agent: agent.into(),
            status: 503,
            body_head: String::new(),
        }
    }

    /// Opens `name`'s breaker at `now` by routing calls to it until it is open.
    fn open(agents: &Agents, capability: &str, name: &str, now: i64) {
        for _ in 0..16 {
            let route = agents.route(capability, now).unwrap();
            let to = route.agent().name.clone();
            if to == name {
                route.finish(now, 1, Err(&failed(name)));
            } else {
                route.finish(now, 1, Ok(()));
            }
            let states = agents.states(now);
            if states
                .iter()
                .any(|s| s.name == name && s.state == BreakerState::Open)
            {
                return;
            }
        }
        panic!("{name} never opened");
    }

    #[test]
    fn configs_are_checked_and_names_unique() {
        let bad = agent("a", &[]);
        assert_eq!(
            Agents::new(vec![bad]).unwrap_err().to_string(),
            "agent `a`: `capabilities` must name at least one capability"
        );
        let twice = Agents::new(vec![agent("a", &["x"]), agent("a", &["y"])]);
        assert_eq!(
            twice.unwrap_err().to_string(),
            "agent `a`: `name` is registered twice"
        );
    }

    #[test]
    fn an_unknown_capability_names_the_known_ones() {
        let agents = Agents::new(vec![agent("a", &["x", "y"]), agent("b", &["w"])]).unwrap();
        let e = agents.route("z", 0).unwrap_err();
        assert_eq!(
            e,
            AgentError::NoAgent {
                capability: "z".into(),
                known: vec!["w".into(), "x".into(), "y".into()],
            }
        );
    }

    #[test]
    fn routes_round_robin_per_capability_and_skip_open_breakers() {
        let agents = Agents::new(vec![
            agent("a", &["x"]),
            agent("b", &["x", "y"]),
            agent("c", &["x"]),
        ])
        .unwrap();
        let order: Vec<String> = (0..6)
            .map(|_| {
                let r = agents.route("x", 0).unwrap();
                let name = r.agent().name.clone();
                r.finish(0, 1, Ok(()));
                name
            })
            .collect();
        assert_eq!(order, ["a", "b", "c", "a", "b", "c"]);
        assert_eq!(agents.route("y", 0).unwrap().agent().name, "b");
        open(&agents, "x", "b", 10);
        let order: Vec<String> = (0..4)
            .map(|_| {
                let r = agents.route("x", 20).unwrap();
                let name = r.agent().name.clone();
                r.finish(20, 1, Ok(()));
                name
            })
            .collect();
        assert!(!order.contains(&"b".to_owned()), "{order:?}");
    }

    #[test]
    fn all_open_is_circuit_open_with_the_earliest_reopening() {
        let agents = Agents::new(vec![agent("a", &["x"]), agent("b", &["x"])]).unwrap();
        open(&agents, "x", "a", 10);
        open(&agents, "x", "b", 50);
        let e = agents.route("x", 60).unwrap_err();
        assert_eq!(
            e,
            AgentError::CircuitOpen {
                capability: "x".into(),
                agents: vec!["a".into(), "b".into()],
                reopens_at_ms: Some(110),
            }
        );
        assert!(e.retryable());
        // a goes half-open with its one probe in flight; b is still open: no known instant.
        let probe = agents.route("x", 110).unwrap();
        assert_eq!(probe.agent().name, "a");
        let e = agents.route("x", 111).unwrap_err();
        assert!(
            matches!(
                e,
                AgentError::CircuitOpen {
                    reopens_at_ms: None,
                    ..
                }
            ),
            "{e:?}"
        );
        // A dropped (cancelled) probe frees its slot.
        drop(probe);
        assert_eq!(agents.route("x", 112).unwrap().agent().name, "a");
    }

    #[test]
    fn a_task_error_does_not_count_against_the_agent() {
        let agents = Agents::new(vec![agent("a", &["x"])]).unwrap();
        for _ in 0..5 {
            let r = agents.route("x", 0).unwrap();
            let e = AgentError::Status {
                agent: "a".into(),
                status: 422,
                body_head: String::new(),
            };
            r.finish(0, 1, Err(&e));
        }
        let s = &agents.states(0)[0];
        assert_eq!(s.state, BreakerState::Closed);
        assert_eq!(s.metrics.number_of_buffered_calls, 0);
    }

    #[test]
    fn updated_keeps_the_breakers_of_unchanged_agents() {
        let agents = Agents::new(vec![agent("a", &["x"]), agent("b", &["x"])]).unwrap();
        open(&agents, "x", "a", 10);
        let moved = AgentConfig {
            url: "http://127.0.0.1:9/elsewhere".into(),
            ..agent("b", &["x"])
        };
        let next = agents
            .updated(vec![agent("a", &["x"]), moved, agent("c", &["x"])])
            .unwrap();
        let states: Vec<(String, BreakerState)> = next
            .states(20)
            .into_iter()
            .map(|s| (s.name, s.state))
            .collect();
        assert_eq!(
            states,
            [
                ("a".into(), BreakerState::Open),
                ("b".into(), BreakerState::Closed),
                ("c".into(), BreakerState::Closed),
            ]
        );
    }
}
