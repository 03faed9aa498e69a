//! Request extractors that fail with problem documents: JSON bodies (not `application/json`
//! → 415, a key twice in one object → 400 naming it, unknown fields → 400, too large → 413),
//! query strings and path ids.

use crate::AppState;
use crate::error::AppError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// A JSON body; an empty body reads as `{}` (every body type here has defaults or says what is
/// missing).
pub struct ApiJson<T>(pub T);

/// Reads a body, mapping the body-limit rejection to 413.
pub async fn body_bytes(req: Request, state: &AppState) -> Result<Bytes, AppError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge(state.options().body_limit)
        } else {
            AppError::BadRequest(format!("reading the request body: {e}"))
        }
    })
}

/// Reads a JSON body: 415 unless it says `application/json` (a request without a body may
/// omit the type), 413 over the limit.
pub async fn json_bytes(req: Request, state: &AppState) -> Result<Bytes, AppError> {
    let typed = req.headers().contains_key(axum::http::header::CONTENT_TYPE);
    if typed {
        crate::guard::json_content_type(req.headers(), false)?;
    }
    let headers = req.headers().clone();
    let bytes = body_bytes(req, state).await?;
    if !typed {
        crate::guard::json_content_type(&headers, is_blank(&bytes))?;
    }
    Ok(bytes)
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Parses JSON with serde's message (line, column, unknown field) as a 400; a key given twice
/// in one object is a 400 naming it (serde_json would keep the last one silently).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let bytes: &[u8] = if is_blank(bytes) { b"{}" } else { bytes };
    let invalid = |e: serde_json::Error| AppError::BadRequest(format!("invalid JSON body: {e}"));
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Unique { at: &At::Root }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(invalid)?;
    serde_json::from_slice(bytes).map_err(invalid)
}

/// A parsed body as `T`, or a 400 saying what is wrong and where (`invalid {what} at
/// options.sandbox: unknown field ...`): the JSON path of the value serde refused.
pub fn body_of<T: DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T, AppError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        AppError::BadRequest(if at == "." {
            format!("invalid {what}: {inner}")
        } else {
            format!("invalid {what} at `{at}`: {inner}")
        })
    })
}

/// Where a value sits in the document, rendered only for an error.
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Root => Ok(()),
            At::Key(At::Root, k) => write!(f, "{k}"),
            At::Key(parent, k) => write!(f, "{parent}.{k}"),
            At::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Walks a JSON document and fails at the first object that has a key twice.
struct Unique<'a> {
    at: &'a At<'a>,
}

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(Unique {
                at: &At::Index(self.at, i),
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(format_args!(
                    "the key `{}` appears twice; give each key once",
                    At::Key(self.at, &key)
                )));
            }
            map.next_value_seed(Unique {
                at: &At::Key(self.at, &key),
            })?;
            seen.insert(key);
        }
        Ok(())
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let bytes = json_bytes(req, state).await?;
        Ok(ApiJson(parse_json(&bytes)?))
    }
}

/// A query string; unknown parameters and bad values are 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, AppError> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded_from_str(q)
            .map(ApiQuery)
            .map_err(|e| AppError::BadRequest(format!("invalid query string: {e}")))
    }
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(q: &str) -> Result<T, String> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{q}")
            .parse()
            .map_err(|e: axum::http::uri::InvalidUri| e.to_string())?,
    )
    .map(|axum::extract::Query(t)| t)
    .map_err(|e| e.body_text())
}
