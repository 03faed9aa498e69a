//! The Trading API v2 over blocking HTTP: one method per documented endpoint this crate uses,
//! each request in a `tracing` span (method, path, status: never a header), each with the
//! configured timeout, and every non-2xx answer turned into an [`Error`] carrying Alpaca's
//! `{"code","message"}`.

use reqwest::Method;
use reqwest::Url;
use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::AlpacaConfig;
use crate::error::{Error, Result};
use crate::wire::{ApiAccount, ApiError, ApiOrder, ApiPosition, OrderBody};

/// The REST client: cheap to clone (one connection pool).
#[derive(Clone)]
pub(crate) struct Rest {
    http: Client,
    base: Url,
}

impl Rest {
    /// A client for `config` (already validated), authenticated by default headers; the secret's
    /// header is marked sensitive so that no `Debug` of a request shows it.
    pub fn new(config: &AlpacaConfig) -> Result<Self> {
        let header = |v: &str, what: &str| {
            HeaderValue::from_str(v).map_err(|_| {
                Error::Config(format!(
                    "the API {what} has characters a header cannot carry"
                ))
            })
        };
        let mut headers = HeaderMap::new();
        headers.insert("APCA-API-KEY-ID", header(&config.key_id, "key id")?);
        let mut secret = header(config.secret.expose(), "secret key")?;
        secret.set_sensitive(true);
        headers.insert("APCA-API-SECRET-KEY", secret);
        let http = Client::builder()
            .default_headers(headers)
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .user_agent(concat!("quantd-alpaca/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: config.base()?,
        })
    }

    /// `GET /v2/account`.
    pub fn account(&self) -> Result<ApiAccount> {
        self.call(Method::GET, "/v2/account", &[], None::<&()>)
    }

    /// `GET /v2/positions`.
    pub fn positions(&self) -> Result<Vec<ApiPosition>> {
        self.call(Method::GET, "/v2/positions", &[], None::<&()>)
    }

    /// `GET /v2/orders?status=...&nested=true&limit=500` (legs nested under their order).
    pub fn orders(&self, status: &str) -> Result<Vec<ApiOrder>> {
        let query = [("status", status), ("nested", "true"), ("limit", "500")];
        self.call(Method::GET, "/v2/orders", &query, None::<&()>)
    }

    /// `GET /v2/orders/{id}`.
    pub fn order(&self, id: &str) -> Result<ApiOrder> {
        self.call(
            Method::GET,
            &format!("/v2/orders/{id}"),
            &[("nested", "true")],
            None::<&()>,
        )
    }

    /// `POST /v2/orders`.
    pub fn submit(&self, body: &OrderBody) -> Result<ApiOrder> {
        self.call(Method::POST, "/v2/orders", &[], Some(body))
    }

    /// `PATCH /v2/orders/{id}`: Alpaca answers with the replacing order (a new id).
    pub fn replace(&self, id: &str, body: &serde_json::Value) -> Result<ApiOrder> {
        self.call(Method::PATCH, &format!("/v2/orders/{id}"), &[], Some(body))
    }

    /// `DELETE /v2/orders/{id}`.
    pub fn cancel(&self, id: &str) -> Result<()> {
        self.send(
            Method::DELETE,
            &format!("/v2/orders/{id}"),
            &[],
            None::<&()>,
        )
        .map(drop)
    }

    /// `DELETE /v2/positions/{symbol}` (all of it, or `percentage` of it): the closing order.
    pub fn close_position(&self, symbol: &str, percentage: Option<f64>) -> Result<ApiOrder> {
        let pct = percentage.map(|p| format!("{}", (p * 1e6).round() / 1e6));
        let query: Vec<(&str, &str)> = pct.iter().map(|p| ("percentage", p.as_str())).collect();
        self.call(
            Method::DELETE,
            &format!("/v2/positions/{symbol}"),
            &query,
            None::<&()>,
        )
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&impl Serialize>,
    ) -> Result<T> {
        let m = method.clone();
        let text = self.send(method, path, query, body)?;
        serde_json::from_str(&text).map_err(|e| Error::Decode {
            method: m.to_string(),
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Sends one request; the 2xx body, or the error for anything else.
    #[tracing::instrument(name = "alpaca.request", level = "debug", skip_all, fields(method = %method, path = path, status))]
    fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&impl Serialize>,
    ) -> Result<String> {
        let unavailable = |reason: String, status: Option<u16>| Error::Unavailable {
            method: method.to_string(),
            path: path.to_owned(),
            reason,
            status,
        };
        let mut url = self
            .base
            .join(path)
            .map_err(|e| Error::Config(format!("bad path {path}: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self.http.request(method.clone(), url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .map_err(|e| unavailable(describe(&e), None))?;
        let status = response.status();
        tracing::Span::current().record("status", status.as_u16());
        let text = read(response).map_err(|e| unavailable(describe(&e), Some(status.as_u16())))?;
        if status.is_success() {
            return Ok(text);
        }
        let (code, message) = match serde_json::from_str::<ApiError>(&text) {
            Ok(e) if !e.message.is_empty() => (e.code, e.message),
            _ => (None, snippet(&text, status.canonical_reason())),
        };
        tracing::debug!(status = status.as_u16(), code, message = %message, "alpaca refused the request");
        let s = status.as_u16();
        Err(if s == 429 || status.is_server_error() {
            unavailable(format!("HTTP {s}: {message}"), Some(s))
        } else if s == 401 {
            Error::Unauthorized { status: s, message }
        } else {
            Error::Refused {
                method: method.to_string(),
                path: path.to_owned(),
                status: s,
                code,
                message,
            }
        })
    }
}

fn read(response: Response) -> reqwest::Result<String> {
    response.text()
}

/// A transport error in words, without its URL (which has no secret, but is noise).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

/// The start of a body that is not Alpaca's error JSON.
fn snippet(text: &str, reason: Option<&str>) -> String {
    let t: String = text.trim().chars().take(200).collect();
    if t.is_empty() {
        reason.unwrap_or("no message").to_owned()
    } else {
        t
    }
}
