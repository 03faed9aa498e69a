//! The dashboard's static files, embedded in the binary: a plain `cargo build` needs no npm and
//! no network. The chart and htmx libraries come from `web/vendor/` (versions, licences and
//! checksums in its README and SHA256SUMS); `app.css` and `app.js` are ours, in `web/app/`.
//!
//! Each file is served at `/assets/NAME` with a strong `ETag` (the first 16 hex digits of its
//! SHA-256). Pages link it as `/assets/NAME?v=ETAG`, so browsers may cache it for a year: a new
//! build that changes a file changes its link.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// An embedded file: name, media type, bytes.
type Embedded = (&'static str, &'static str, &'static [u8]);

const FILES: &[Embedded] = &[
    (
        "htmx.min.js",
        "text/javascript",
        include_bytes!("../../../../web/vendor/htmx/htmx.min.js"),
    ),
    (
        "sse.min.js",
        "text/javascript",
        include_bytes!("../../../../web/vendor/htmx-ext-sse/sse.min.js"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript",
        include_bytes!("../../../../web/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css",
        include_bytes!("../../../../web/vendor/uplot/uPlot.min.css"),
    ),
    (
        "lightweight-charts.js",
        "text/javascript",
        include_bytes!(
            "../../../../web/vendor/lightweight-charts/lightweight-charts.standalone.production.js"
        ),
    ),
    (
        "app.css",
        "text/css",
        include_bytes!("../../../../web/app/app.css"),
    ),
    (
        "app.js",
        "text/javascript",
        include_bytes!("../../../../web/app/app.js"),
    ),
];

struct Asset {
    name: &'static str,
    media: &'static str,
    bytes: &'static [u8],
    etag: String,
}

fn table() -> &'static [Asset] {
    static TABLE: OnceLock<Vec<Asset>> = OnceLock::new();
    TABLE.get_or_init(|| {
        FILES
            .iter()
            .map(|&(name, media, bytes)| Asset {
                name,
                media,
                bytes,
                etag: Sha256::digest(bytes)[..8]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            })
            .collect()
    })
}

/// The link of asset `name`, versioned by its content.
pub fn url(name: &str) -> String {
    match table().iter().find(|a| a.name == name) {
        Some(a) => format!("/assets/{}?v={}", a.name, a.etag),
        None => format!("/assets/{name}"),
    }
}

/// `GET /assets/{name}`.
pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(a) = table().iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let etag = format!("\"{}\"", a.etag);
    let cache = [
        (header::ETAG, etag.clone()),
        (
            header::CACHE_CONTROL,
            "public, max-age=31536000, immutable".to_string(),
        ),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let mut r = (cache, a.bytes).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(a.media));
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}
