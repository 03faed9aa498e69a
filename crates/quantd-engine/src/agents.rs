//! Agents of a workspace: HTTP endpoints that pattern `call` steps reach by capability
//! (docs/agents.md). They are registered here (stored per workspace, with the name of the
//! environment variable holding a secret, never the secret), and called through
//! quantd-agents: round robin among the healthy ones, each behind its circuit breaker. Breakers
//! live in the process that calls (the server's, or a CLI running a pattern).

use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::exec::clock::Clock;
use quantd_agents::{AgentConfig, AgentStatus, Agents, CircuitBreakerConfig};
use quantd_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// An agent as registered (`quantd agents add`, `POST /v1/agents/{name}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Where tasks are sent (`http://` or `https://`).
    pub url: String,
    /// What it can do: the capabilities `call` steps name.
    pub capabilities: Vec<String>,
    /// The environment variable (of the process that calls) holding the HMAC secret that signs
    /// each request; unsigned without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// Its circuit breaker's settings (resilience4j's names; docs/agents.md); defaults when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub breaker: Option<Value>,
}

/// An agent as listed: how it is registered and its breaker as this process sees it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentView {
    /// Its name.
    pub name: String,
    /// How it is registered.
    pub spec: AgentSpec,
    /// Its breaker: `closed`, `open` or `half_open`.
    pub state: String,
    /// When open: when it lets a call through again (unix ms).
    pub reopens_at_ms: Option<i64>,
    /// What its breaker has seen (failure and slow-call rates, calls).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metrics: Value,
}

/// The agents of each workspace with their breakers, made again (keeping the breakers of
/// agents that did not change) when the stored registry changes.
#[derive(Default)]
pub(crate) struct AgentCache {
    by_workspace: Mutex<HashMap<String, Registered>>,
}

/// A workspace's registry as last read (names and bodies) and the agents made from it.
type Registered = (Vec<(String, Value)>, Arc<Agents>);

/// The engine's clock as quantd-agents reads it.
struct AgentClock<'a>(&'a dyn Clock);

impl quantd_agents::Clock for AgentClock<'_> {
    fn now_ms(&self) -> i64 {
        self.0.now_ms()
    }
}

fn invalid(e: impl std::fmt::Display) -> EngineError {
    EngineError::Invalid(e.to_string())
}

/// The config quantd-agents runs `name` with; its secret read from the environment when
/// `with_secret` (a missing variable is an error naming it).
fn config(name: &str, spec: &AgentSpec, with_secret: bool) -> Result<AgentConfig> {
    let breaker: CircuitBreakerConfig = match &spec.breaker {
        None => CircuitBreakerConfig::default(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| invalid(format!("agent `{name}`: breaker: {e}")))?,
    };
    let secret = match (&spec.secret_env, with_secret) {
        (Some(var), true) => Some(std::env::var(var).map_err(|_| {
            invalid(format!(
                "agent `{name}` signs with the secret in ${var}, which is not set in the process running the pattern"
            ))
        })?),
        _ => None,
    };
    let c = AgentConfig {
        name: name.to_string(),
        url: spec.url.clone(),
        capabilities: spec.capabilities.clone(),
        secret,
        breaker,
    };
    c.validate().map_err(invalid)?;
    Ok(c)
}

impl<S: Store> Engine<S> {
    /// Registers (or replaces) agent `name` of `workspace`; true when it is new.
    pub async fn add_agent(&self, workspace: &str, name: &str, spec: &AgentSpec) -> Result<bool> {
        config(name, spec, false)?;
        if let Some(var) = &spec.secret_env
            && (var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(invalid(format!(
                "agent `{name}`: secret_env `{}` is not an environment variable name (letters, digits, _)",
                quantd_data::text::cut(var, 64)
            )));
        }
        let body = serde_json::to_value(spec).expect("agent specs serialize");
        Ok(self
            .store()
            .put_agent(workspace, name, &body, self.clock().now_ms())
            .await?)
    }

    /// Removes agent `name` of `reader`'s workspace, recorded as `deleted`; false when there
    /// was none.
    pub async fn remove_agent(&self, reader: &crate::rights::Reader, name: &str) -> Result<bool> {
        let removed = self.store().remove_agent(&reader.workspace, name).await?;
        if removed {
            self.record_removal(reader, &format!("agent `{name}`"))
                .await;
        }
        Ok(removed)
    }

    /// The agents of `workspace` with their breakers, as registered now.
    pub(crate) async fn agents_of(&self, workspace: &str) -> Result<Arc<Agents>> {
        let stored = self.store().agents(workspace).await?;
        if let Some((seen, agents)) = self
            .agents
            .by_workspace
            .lock()
            .expect("agents lock")
            .get(workspace)
            && *seen == stored
        {
            return Ok(agents.clone());
        }
        let configs = stored
            .iter()
            .map(|(name, body)| {
                let spec: AgentSpec = serde_json::from_value(body.clone())
                    .map_err(|e| EngineError::Internal(format!("stored agent `{name}`: {e}")))?;
                config(name, &spec, true)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut cache = self.agents.by_workspace.lock().expect("agents lock");
        let agents = match cache.get(workspace) {
            Some((_, old)) => old.updated(configs),
            None => Agents::new(configs),
        }
        .map_err(invalid)?;
        let agents = Arc::new(agents);
        cache.insert(workspace.to_string(), (stored, agents.clone()));
        Ok(agents)
    }

    /// The agents of `workspace` with their breakers as this process sees them.
    pub async fn agent_views(&self, workspace: &str) -> Result<Vec<AgentView>> {
        let stored = self.store().agents(workspace).await?;
        let states: HashMap<String, AgentStatus> = match self.agents_of(workspace).await {
            Ok(agents) => agents
                .states(self.clock().now_ms())
                .into_iter()
                .map(|s| (s.name.clone(), s))
                .collect(),
            // A secret missing here: list the registry without breakers.
            Err(_) => HashMap::new(),
        };
        stored
            .into_iter()
            .map(|(name, body)| {
                let spec: AgentSpec = serde_json::from_value(body)
                    .map_err(|e| EngineError::Internal(format!("stored agent `{name}`: {e}")))?;
                let status = states.get(&name);
                Ok(AgentView {
                    spec,
                    state: status.map_or("closed", |s| s.state.as_str()).to_string(),
                    reopens_at_ms: status.and_then(|s| s.reopens_at_ms),
                    metrics: status
                        .map(|s| serde_json::to_value(&s.metrics).expect("metrics serialize"))
                        .unwrap_or(Value::Null),
                    name,
                })
            })
            .collect()
    }

    /// Every breaker this process holds, by workspace (for `/health` and `/metrics`).
    pub fn breaker_states(&self) -> Vec<(String, AgentStatus)> {
        let now = self.clock().now_ms();
        let cache = self.agents.by_workspace.lock().expect("agents lock");
        let mut out = Vec::new();
        for (ws, (_, agents)) in cache.iter() {
            out.extend(agents.states(now).into_iter().map(|s| (ws.clone(), s)));
        }
        out.sort_by(|a, b| (&a.0, &a.1.name).cmp(&(&b.0, &b.1.name)));
        out
    }

    /// Sends a task to an agent of `workspace` with `capability` (routed, behind its breaker).
    pub(crate) async fn call_capability(
        &self,
        workspace: &str,
        capability: &str,
        task_id: &str,
        input: &Value,
        timeout: std::time::Duration,
    ) -> Result<std::result::Result<quantd_agents::CallOutcome, quantd_agents::AgentError>> {
        let agents = self.agents_of(workspace).await?;
        let clock = AgentClock(self.clock().as_ref());
        Ok(agents
            .call(capability, task_id, input, timeout, &clock)
            .await)
    }
}
