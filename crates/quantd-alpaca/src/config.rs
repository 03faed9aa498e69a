//! How to reach an Alpaca account: keys, endpoints, timeouts and the reconnect backoff, read from
//! the environment by [`AlpacaConfig::from_env`]. The secret key lives in a [`Secret`], which
//! prints as `***` everywhere.

use std::fmt;
use std::time::Duration;

use reqwest::Url;

use crate::error::{Error, Result};

/// The paper-trading REST endpoint (the default).
pub const PAPER_URL: &str = "https://paper-api.alpaca.markets";
/// The paper-trading trade-updates stream.
pub const PAPER_STREAM_URL: &str = "wss://paper-api.alpaca.markets/stream";
/// The host of the live (real money) endpoint: refused unless [`AlpacaConfig::allow_live`].
pub const LIVE_HOST: &str = "api.alpaca.markets";

/// Environment variable with the API key id (Alpaca's own name for it).
pub const ENV_KEY_ID: &str = "APCA_API_KEY_ID";
/// Environment variable with the API secret key.
pub const ENV_SECRET_KEY: &str = "APCA_API_SECRET_KEY";
/// Optional environment variable with the REST base URL (paper by default).
pub const ENV_BASE_URL: &str = "APCA_API_BASE_URL";

/// A secret string: `Debug` and `Display` print `***`; only the request code reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself: for the authentication header and message only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// Alpaca's `time_in_force` for orders placed in whole units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeInForce {
    /// Good until the end of the trading day.
    Day,
    /// Good until cancelled (closest to backtesting.py, whose orders wait until filled).
    #[default]
    Gtc,
}

impl TimeInForce {
    /// Alpaca's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Day => "day",
            TimeInForce::Gtc => "gtc",
        }
    }
}

/// Everything [`crate::AlpacaBroker`] needs to reach one Alpaca account.
#[derive(Clone, Debug)]
pub struct AlpacaConfig {
    /// The API key id (`APCA-API-KEY-ID`): names the key, is not secret on its own.
    pub key_id: String,
    /// The API secret key (`APCA-API-SECRET-KEY`): never logged, printed or put in an error.
    pub secret: Secret,
    /// The Trading API's base URL, without `/v2` (default [`PAPER_URL`]).
    pub base_url: String,
    /// The trade-updates WebSocket URL (default [`PAPER_STREAM_URL`]).
    pub stream_url: String,
    /// Whether the live endpoint ([`LIVE_HOST`], real money) may be used. `false` by default:
    /// [`crate::AlpacaBroker::new`] refuses a live URL unless this was set on purpose in code;
    /// no environment variable sets it.
    pub allow_live: bool,
    /// Time limit of each REST request, connecting included; also of the stream's handshake,
    /// authentication and subscription.
    pub request_timeout: Duration,
    /// `time_in_force` of whole-unit orders (fractional-size orders are sent as `notional`
    /// amounts, which Alpaca only takes as `day` orders).
    pub time_in_force: TimeInForce,
    /// First wait before reconnecting a dropped stream; doubled after each failed attempt.
    pub reconnect_initial: Duration,
    /// Longest wait between reconnection attempts.
    pub reconnect_max: Duration,
    /// With no frame from the stream for this long, a ping is sent; with none for three times
    /// as long the connection is taken as dead and reopened.
    pub ping_interval: Duration,
}

impl AlpacaConfig {
    /// A paper-trading configuration with the given keys and default settings.
    pub fn paper(key_id: impl Into<String>, secret: Secret) -> Self {
        Self {
            key_id: key_id.into(),
            secret,
            base_url: PAPER_URL.into(),
            stream_url: PAPER_STREAM_URL.into(),
            allow_live: false,
            request_timeout: Duration::from_secs(10),
            time_in_force: TimeInForce::default(),
            reconnect_initial: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(30),
            ping_interval: Duration::from_secs(20),
        }
    }

    /// Reads [`ENV_KEY_ID`], [`ENV_SECRET_KEY`] and the optional [`ENV_BASE_URL`] (paper by
    /// default). The stream URL is derived from the base URL (`wss://<host>/stream`). A live
    /// URL is read as given, and refused later by [`crate::AlpacaBroker::new`] unless
    /// [`AlpacaConfig::allow_live`] is set on the returned value.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`AlpacaConfig::from_env`] over any lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let need = |name: &str| {
            get(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                Error::Config(format!(
                    "{name} is not set: export your Alpaca API key id and secret key"
                ))
            })
        };
        let mut config = Self::paper(
            need(ENV_KEY_ID)?.trim(),
            Secret::new(need(ENV_SECRET_KEY)?.trim()),
        );
        if let Some(base) = get(ENV_BASE_URL).filter(|v| !v.trim().is_empty()) {
            let base = normalize_base(&base)?;
            config.stream_url = stream_url_for(&base)?;
            config.base_url = base;
        }
        Ok(config)
    }

    /// Checks the URLs and refuses the live endpoint unless `allow_live`.
    pub fn validate(&self) -> Result<()> {
        let base = parse(&self.base_url, "base URL")?;
        let stream = parse(&self.stream_url, "stream URL")?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "the base URL {base} must be http(s)"
            )));
        }
        if !matches!(stream.scheme(), "ws" | "wss") {
            return Err(Error::Config(format!(
                "the stream URL {stream} must be ws(s)"
            )));
        }
        if self.key_id.is_empty() || self.secret.expose().is_empty() {
            return Err(Error::Config(format!(
                "the API key id and secret key must not be empty ({ENV_KEY_ID}, {ENV_SECRET_KEY})"
            )));
        }
        for url in [&base, &stream] {
            if url.host_str() == Some(LIVE_HOST) && !self.allow_live {
                return Err(Error::Config(format!(
                    "{url} is Alpaca's live (real money) endpoint: use {PAPER_URL}, or set AlpacaConfig::allow_live in code to trade live"
                )));
            }
        }
        Ok(())
    }

    /// The base URL as a [`Url`] (after [`AlpacaConfig::validate`]).
    pub(crate) fn base(&self) -> Result<Url> {
        parse(&normalize_base(&self.base_url)?, "base URL")
    }
}

fn parse(url: &str, what: &str) -> Result<Url> {
    Url::parse(url).map_err(|e| Error::Config(format!("the {what} {url:?} is not a URL: {e}")))
}

/// The base URL without a trailing `/` or `/v2` (Alpaca's SDKs accept both spellings).
fn normalize_base(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let url = url.strip_suffix("/v2").unwrap_or(url);
    parse(url, "base URL")?;
    Ok(url.to_owned())
}

fn stream_url_for(base: &str) -> Result<String> {
    let mut url = parse(base, "base URL")?;
    let scheme = if url.scheme() == "http" { "ws" } else { "wss" };
    url.set_scheme(scheme)
        .map_err(|()| Error::Config(format!("no stream URL can be derived from {base}")))?;
    url.set_path("/stream");
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn from_env_defaults_to_paper() {
        let c = AlpacaConfig::from_lookup(env(&[
            (ENV_KEY_ID, "PK1"),
            (ENV_SECRET_KEY, "s3cr3t-value"),
        ]))
        .unwrap();
        assert_eq!(c.base_url, PAPER_URL);
        assert_eq!(c.stream_url, PAPER_STREAM_URL);
        assert!(!c.allow_live);
        c.validate().unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
        assert!(debug.contains("***"));
    }

    #[test]
    fn from_env_requires_keys() {
        let e = AlpacaConfig::from_lookup(env(&[(ENV_KEY_ID, "PK1")])).unwrap_err();
        assert!(e.to_string().contains(ENV_SECRET_KEY), "{e}");
    }

    #[test]
    fn live_url_is_refused_unless_allowed() {
        let mut c = AlpacaConfig::from_lookup(env(&[
            (ENV_KEY_ID, "PK1"),
            (ENV_SECRET_KEY, "s3cr3t-value"),
            (ENV_BASE_URL, "https://api.alpaca.markets/v2/"),
        ]))
        .unwrap();
        assert_eq!(c.base_url, "https://api.alpaca.markets");
        assert_eq!(c.stream_url, "wss://api.alpaca.markets/stream");
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("live"), "{e}");
        assert!(!e.to_string().contains("s3cr3t-value"));
        c.allow_live = true;
        c.validate().unwrap();
    }

    #[test]
    fn secret_prints_stars() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?} {s:#?}"), "*** *** ***");
    }
}
