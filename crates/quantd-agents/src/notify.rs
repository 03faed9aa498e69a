//! One-way signed notifications (quantd's webhooks): the agents' HTTP client, URL checks and
//! HMAC-SHA256 signing, for a POST whose answer matters only by its status. The body is sent as
//! given; the answer's body is read only up to [`BODY_HEAD_BYTES`] bytes, to say why a receiver
//! refused. Retries, backoff and the delivery log are the caller's.

use std::time::Duration;

use crate::agent::{AgentClient, SIGNATURE_HEADER, TIMESTAMP_HEADER, check_url, sign};
use crate::error::{BODY_HEAD_BYTES, ConfigError};

/// Why a notification was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// No full answer within the timeout.
    #[error("no answer within {timeout_ms} ms")]
    Timeout {
        /// The timeout.
        timeout_ms: u64,
    },
    /// The request did not get through: connection refused or reset, DNS, TLS.
    #[error("could not be reached: {message}")]
    Transport {
        /// What the HTTP client said, with its causes.
        message: String,
    },
    /// The receiver answered with a status other than 2xx.
    #[error("answered HTTP {status}: {body_head}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of its body (lossy UTF-8).
        body_head: String,
    },
}

impl NotifyError {
    /// The HTTP status, when one came back.
    pub fn status(&self) -> Option<u16> {
        match self {
            NotifyError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One notification to send.
pub struct Notification<'a> {
    /// Where it goes (checked by [`check_notify_url`]).
    pub url: &'a str,
    /// The HMAC-SHA256 key that signs it.
    pub secret: &'a [u8],
    /// Headers besides the content type, timestamp and signature.
    pub headers: &'a [(&'a str, &'a str)],
    /// The exact body bytes (JSON).
    pub body: &'a [u8],
    /// Now, in unix ms: the timestamp header is its seconds.
    pub now_ms: i64,
}

/// Checks a receiver URL as agents' are checked: `http://` or `https://`, a host, no
/// credentials.
pub fn check_notify_url(url: &str) -> Result<(), ConfigError> {
    check_url(url)
}

impl AgentClient {
    /// POSTs `n`, signed (`X-Quantd-Timestamp`, `X-Quantd-Signature: sha256=<hex>` of
    /// `"<timestamp>.<body>"`), and waits up to `timeout` for a 2xx answer; returns its status.
    pub async fn notify(
        &self,
        n: &Notification<'_>,
        timeout: Duration,
    ) -> Result<u16, NotifyError> {
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let timestamp = n.now_ms.div_euclid(1000).to_string();
        let mut request = self
            .http()
            .post(n.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, &timestamp)
            .header(SIGNATURE_HEADER, sign(n.secret, &timestamp, n.body));
        for (name, value) in n.headers {
            request = request.header(*name, *value);
        }
        let exchange = async {
            let mut response = request
                .body(n.body.to_vec())
                .send()
                .await
                .map_err(|e| transport(timeout_ms, &e))?;
            let status = response.status();
            if status.is_success() {
                return Ok(status.as_u16());
            }
            let mut head = Vec::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                let room = BODY_HEAD_BYTES - head.len();
                head.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if head.len() >= BODY_HEAD_BYTES {
                    break;
                }
            }
            Err(NotifyError::Status {
                status: status.as_u16(),
                body_head: String::from_utf8_lossy(&head).trim().to_owned(),
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(NotifyError::Timeout { timeout_ms }),
        }
    }
}

fn transport(timeout_ms: u64, error: &reqwest::Error) -> NotifyError {
    if error.is_timeout() {
        return NotifyError::Timeout { timeout_ms };
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    NotifyError::Transport { message }
}
