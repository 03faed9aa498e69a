//! The agent contract and its client: what an agent is ([`AgentConfig`], checked by
//! [`AgentConfig::validate`]), the request quantd sends ([`TaskRequest`], signed with
//! HMAC-SHA256 by [`sign`], checked by [`verify_signature`]) and [`AgentClient`], which sends one
//! request and reads one bounded JSON answer within a timeout, classifying what went wrong as an
//! [`AgentError`]. Routing and circuit breaking are the registry's ([`crate::Agents`]).
//!
//! The wire contract, for agent authors, is docs/agents.md.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::breaker::CircuitBreakerConfig;
use crate::error::{AgentError, BODY_HEAD_BYTES, ConfigError};

/// The header with the request's time, in unix seconds (what the signature covers).
pub const TIMESTAMP_HEADER: &str = "x-quantd-timestamp";
/// The header with the request's signature, `sha256=<hex>`, when the agent has a secret.
pub const SIGNATURE_HEADER: &str = "x-quantd-signature";
/// The header with the task's id (also in the body), for the agent's logs.
pub const TASK_ID_HEADER: &str = "x-quantd-task-id";
/// The largest answer body read by default: 1 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1 << 20;
/// The longest agent name, and the longest capability name.
pub const MAX_NAME_LEN: usize = 64;

/// One agent: where it is, what it can do, and how it is guarded.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Its name, unique among the registered agents: letters, digits, `-` and `_`, at most 64.
    pub name: String,
    /// Where tasks are POSTed: an `http://` or `https://` URL without credentials.
    pub url: String,
    /// The capabilities `call` steps reach it by (same characters as names), at least one.
    pub capabilities: Vec<String>,
    /// The HMAC-SHA256 key requests are signed with, already read by the caller (from the
    /// environment variable the agent was registered with); `None` sends no signature. Never
    /// serialized, never printed by `Debug`.
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
    /// Its circuit breaker's settings.
    #[serde(default)]
    pub breaker: CircuitBreakerConfig,
}

impl fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("capabilities", &self.capabilities)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("breaker", &self.breaker)
            .finish()
    }
}

impl AgentConfig {
    /// Checks the name, URL, capabilities, secret and breaker settings; the error names the
    /// field and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_name("name", &self.name)?;
        check_url(&self.url)?;
        if self.capabilities.is_empty() {
            return Err(ConfigError::new(
                "capabilities",
                "must name at least one capability",
            ));
        }
        for (i, capability) in self.capabilities.iter().enumerate() {
            let field = format!("capabilities[{i}]");
            check_name(&field, capability)?;
            if self.capabilities[..i].contains(capability) {
                return Err(ConfigError::new(
                    field,
                    format!("repeats capability `{capability}`"),
                ));
            }
        }
        if self.secret.as_deref() == Some("") {
            return Err(ConfigError::new(
                "secret",
                "is empty: give a non-empty key, or no secret to send unsigned requests",
            ));
        }
        self.breaker.validate().map_err(|e| e.under("breaker"))
    }

    /// Whether the agent has `capability`.
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// Checks an agent or capability name: 1–64 letters, digits, `-` or `_`.
pub fn check_name(field: &str, name: &str) -> Result<(), ConfigError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if name.is_empty() || name.len() > MAX_NAME_LEN || !ok_chars {
        return Err(ConfigError::new(
            field,
            format!(
                "must be 1 to {MAX_NAME_LEN} ASCII letters, digits, `-` or `_`, got `{}`",
                name.escape_debug()
            ),
        ));
    }
    Ok(())
}

pub(crate) fn check_url(url: &str) -> Result<(), ConfigError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ConfigError::new("url", format!("is not a URL ({e}): `{url}`")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::new(
            "url",
            format!("must be http:// or https://, got `{}://`", parsed.scheme()),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::new("url", format!("has no host: `{url}`")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ConfigError::new(
            "url",
            "must not carry credentials: sign requests with a secret instead",
        ));
    }
    Ok(())
}

/// The body of the request an agent receives, for agents written in Rust to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRequest {
    /// The task's id: the same for every retry of the same task, so an agent can deduplicate.
    pub task_id: String,
    /// The capability asked for.
    pub capability: String,
    /// The task's input, as the `call` step's template rendered it.
    pub input: Value,
    /// When quantd stops waiting for the answer, in unix ms.
    pub deadline_ms: i64,
}

/// [`TaskRequest`], borrowed, as quantd serializes it.
#[derive(Serialize)]
struct TaskBody<'a> {
    task_id: &'a str,
    capability: &'a str,
    input: &'a Value,
    deadline_ms: i64,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header's value for a request: `sha256=` and the lowercase hex of
/// HMAC-SHA256(`secret`, `"<timestamp>.<body>"`), where `timestamp` is the
/// [`TIMESTAMP_HEADER`]'s value as sent and `body` the exact body bytes.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether `header` (the [`SIGNATURE_HEADER`]'s value) is the signature of `timestamp` and
/// `body` under `secret`, compared in constant time. Agents should also refuse timestamps far
/// from their own clock (say more than 5 minutes), so a captured request cannot be replayed.
pub fn verify_signature(secret: &[u8], timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    mac(secret, timestamp, body).verify_slice(&expected).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// How the client reads answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// The largest answer body read, in bytes; a larger one is a
    /// [`BadResponse`](AgentError::BadResponse). Default [`DEFAULT_MAX_RESPONSE_BYTES`].
    pub max_response_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Sends tasks to agents: one HTTP connection pool for all of them. It follows no redirects and
/// uses no proxy from the environment (agents are reached directly).
#[derive(Debug, Clone)]
pub struct AgentClient {
    http: reqwest::Client,
    options: ClientOptions,
}

impl AgentClient {
    /// A client reading answers as `options` says.
    pub fn new(options: ClientOptions) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("quantd-agents/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::new("client", format!("cannot be built: {e}")))?;
        Ok(Self { http, options })
    }

    /// The options the client reads answers with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The HTTP connection pool (for [`crate::notify`]).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// POSTs one task to `agent` and reads its JSON answer, all within `timeout`; `now_ms` (unix
    /// ms) stamps the request and sets its deadline. No breaker is consulted: see
    /// [`crate::Agents::call`].
    pub async fn send(
        &self,
        agent: &AgentConfig,
        task_id: &str,
        capability: &str,
        input: &Value,
        timeout: Duration,
        now_ms: i64,
    ) -> Result<Value, AgentError> {
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let body = serde_json::to_vec(&TaskBody {
            task_id,
            capability,
            input,
            deadline_ms: now_ms.saturating_add_unsigned(timeout_ms),
        })
        .map_err(|e| AgentError::Transport {
            agent: agent.name.clone(),
            message: format!("the request could not be encoded: {e}"),
        })?;
        let timestamp = now_ms.div_euclid(1000).to_string();
        let mut request = self
            .http
            .post(&agent.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, &timestamp)
            .header(TASK_ID_HEADER, task_id);
        if let Some(secret) = &agent.secret {
            request = request.header(SIGNATURE_HEADER, sign(secret.as_bytes(), &timestamp, &body));
        }
        let exchange = async {
            let response = request
                .body(body)
                .send()
                .await
                .map_err(|e| transport(agent, timeout_ms, &e))?;
            self.read(agent, timeout_ms, response).await
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(AgentError::Timeout {
                agent: agent.name.clone(),
                timeout_ms,
            }),
        }
    }

    /// Reads a 2xx answer as bounded JSON, or any other as a [`AgentError::Status`].
    async fn read(
        &self,
        agent: &AgentConfig,
        timeout_ms: u64,
        mut response: reqwest::Response,
    ) -> Result<Value, AgentError> {
        let status = response.status();
        let limit = if status.is_success() {
            self.options.max_response_bytes
        } else {
            BODY_HEAD_BYTES
        };
        let bad = |message: String| AgentError::BadResponse {
            agent: agent.name.clone(),
            message,
        };
        let too_big = || {
            bad(format!(
                "the body is larger than the limit of {limit} bytes"
            ))
        };
        if status.is_success() && response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_big());
        }
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport(agent, timeout_ms, &e))?
        {
            if body.len() + chunk.len() > limit {
                body.extend_from_slice(&chunk[..limit - body.len()]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(AgentError::Status {
                agent: agent.name.clone(),
                status: status.as_u16(),
                body_head: String::from_utf8_lossy(&body).trim().to_owned(),
            });
        }
        if truncated {
            return Err(too_big());
        }
        serde_json::from_slice(&body).map_err(|e| bad(format!("the body is not JSON: {e}")))
    }
}

/// A client error as an [`AgentError`]: its own timeouts as `Timeout`, the rest as `Transport`
/// with the whole chain of causes (`connection refused` is at the bottom).
fn transport(agent: &AgentConfig, timeout_ms: u64, error: &reqwest::Error) -> AgentError {
    if error.is_timeout() {
        return AgentError::Timeout {
            agent: agent.name.clone(),
            timeout_ms,
        };
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    AgentError::Transport {
        agent: agent.name.clone(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> AgentConfig {
        AgentConfig {
            name: "summarizer-1".into(),
            url: "https://agents.example/task".into(),
            capabilities: vec!["summarize".into(), "classify_news".into()],
            secret: Some("s3cret".into()),
            breaker: CircuitBreakerConfig::default(),
        }
    }

    #[test]
    fn a_good_agent_validates() {
        agent().validate().unwrap();
        let plain = AgentConfig {
            url: "http://127.0.0.1:9000".into(),
            secret: None,
            ..agent()
        };
        plain.validate().unwrap();
    }

    #[test]
    fn validate_names_the_field() {
        let cases: Vec<(AgentConfig, &str)> = vec![
            (
                AgentConfig {
                    name: "a b".into(),
                    ..agent()
                },
                "`name` must be 1 to 64 ASCII letters, digits, `-` or `_`, got `a b`",
            ),
            (
                AgentConfig {
                    name: "x".repeat(65),
                    ..agent()
                },
                "`name` must be 1 to 64 ASCII letters, digits, `-` or `_`",
            ),
            (
                AgentConfig {
                    url: "ftp://h/x".into(),
                    ..agent()
                },
                "`url` must be http:// or https://, got `ftp://`",
            ),
            (
                AgentConfig {
                    url: "localhost:80".into(),
                    ..agent()
                },
                "`url` must be http:// or https://, got `localhost://`",
            ),
            (
                AgentConfig {
                    url: "not a url".into(),
                    ..agent()
                },
                "`url` is not a URL",
            ),
            (
                AgentConfig {
                    url: "https://u:p@h/".into(),
                    ..agent()
                },
                "`url` must not carry credentials",
            ),
            (
                AgentConfig {
                    capabilities: vec![],
                    ..agent()
                },
                "`capabilities` must name at least one capability",
            ),
            (
                AgentConfig {
                    capabilities: vec!["ok".into(), "n/a".into()],
                    ..agent()
                },
                "`capabilities[1]` must be 1 to 64",
            ),
            (
                AgentConfig {
                    capabilities: vec!["a".into(), "a".into()],
                    ..agent()
                },
                "`capabilities[1]` repeats capability `a`",
            ),
            (
                AgentConfig {
                    secret: Some(String::new()),
                    ..agent()
                },
                "`secret` is empty",
            ),
            (
                AgentConfig {
                    breaker: CircuitBreakerConfig {
                        sliding_window_size: 0,
                        ..Default::default()
                    },
                    ..agent()
                },
                "`breaker.sliding_window_size` must be in [1, 10000] calls, got 0",
            ),
        ];
        for (config, message) in cases {
            let error = config.validate().unwrap_err().to_string();
            assert!(
                error.starts_with(message),
                "{error} does not start with {message}"
            );
        }
    }

    #[test]
    fn the_secret_is_never_shown() {
        let a = agent();
        assert!(!format!("{a:?}").contains("s3cret"));
        assert!(!serde_json::to_string(&a).unwrap().contains("s3cret"));
        let back: AgentConfig = serde_json::from_value(serde_json::json!({
            "name": "a", "url": "http://h", "capabilities": ["c"], "secret": "k",
        }))
        .unwrap();
        assert_eq!(back.secret.as_deref(), Some("k"));
        assert_eq!(back.breaker, CircuitBreakerConfig::default());
    }

    #[test]
    fn hmac_sha256_matches_the_rfc_4231_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" (it has no
        // "." to split into "<timestamp>.<body>", so the MAC is checked directly).
        let mut m = HmacSha256::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        let hex: String = m
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn sign_and_verify_agree_on_timestamp_dot_body() {
        // HMAC-SHA256("key", "1700000000.{}") as Python's hmac computes it (docs/agents.md).
        let header = sign(b"key", "1700000000", b"{}");
        assert_eq!(
            header,
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert!(verify_signature(b"key", "1700000000", b"{}", &header));
        assert!(verify_signature(
            b"key",
            "1700000000",
            b"{}",
            &header.to_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!verify_signature(b"key", "1700000001", b"{}", &header));
        assert!(!verify_signature(b"key", "1700000000", b"{ }", &header));
        assert!(!verify_signature(b"other", "1700000000", b"{}", &header));
        assert!(!verify_signature(b"key", "1700000000", b"{}", &header[7..]));
        assert!(!verify_signature(b"key", "1700000000", b"{}", "sha256=zz"));
        assert!(!verify_signature(b"key", "1700000000", b"{}", "sha256=abc"));
        assert!(!verify_signature(b"key", "1700000000", b"{}", ""));
    }

    #[test]
    fn the_body_is_the_documented_task_request() {
        let input = serde_json::json!({"ticker": "AAPL"});
        let body = serde_json::to_value(TaskBody {
            task_id: "t1",
            capability: "summarize",
            input: &input,
            deadline_ms: 5,
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "task_id": "t1", "capability": "summarize", "input": {"ticker": "AAPL"},
                "deadline_ms": 5,
            })
        );
        let back: TaskRequest = serde_json::from_value(body).unwrap();
        assert_eq!(back.input, input);
    }
}
