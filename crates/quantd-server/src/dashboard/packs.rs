//! The packs page (state, dates, tickers, rights), one pack's page with a candlestick chart of
//! any of its tickers, and the candles themselves (`GET /packs/{key}/candles?ticker=`, JSON for
//! `app.js`).

use super::page::{self, Section, Viewer, html_response, layout};
use crate::AppState;
use crate::model::PackView;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use quantd_engine::records::Page;
use serde::Deserialize;
use serde_json::{Value, json};

/// Bars of one ticker a candles answer holds at most (the newest ones).
pub const MAX_CANDLES: usize = 20_000;

/// `GET /packs`.
pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    let packs = state
        .engine()
        .packs()
        .list(&Page {
            after: None,
            limit: 500,
        })
        .await;
    let packs = match packs {
        Ok(p) => state.engine().pack_views(p.items).await,
        Err(e) => Err(e),
    };
    let main = html! {
        h1 { "Packs" }
        @match packs {
            Err(e) => p.problem { (e.to_string()) },
            Ok(p) if p.is_empty() => p.empty {
                "No packs yet: run " code { "quantd data synth --name demo" } " or " code { "quantd data import FILE" } "."
            },
            Ok(p) => table #packs {
                thead { tr { th { "Name" } th { "State" } th { "Tickers" } th { "Bars" } th { "From" } th { "To" } th { "Rights" } th { "Id" } } }
                tbody { @for v in p {
                    tr data-pack=(v.name) {
                        td { a href=(format!("/packs/{}", page::encode(&v.name))) { (v.name) } }
                        td { (page::state_badge(&v.state)) }
                        td.num { (page::int(v.tickers)) }
                        td.num { (page::int(v.bars)) }
                        td { (v.first_date) } td { (v.last_date) }
                        td { (rights(&v)) }
                        td { code { (&v.id[..12.min(v.id.len())]) } }
                    }
                } }
            },
        }
    };
    html_response(
        StatusCode::OK,
        layout("Packs", Section::Packs, Some(&viewer), main),
    )
}

fn rights(v: &PackView) -> String {
    let r = &v.rights;
    let mut parts = Vec::new();
    if let Some(l) = &r.license {
        parts.push(l.clone());
    }
    if let Some(s) = &r.source {
        parts.push(format!("from {s}"));
    }
    if let Some(p) = &r.provider {
        parts.push(format!("provider {p}"));
    }
    parts.push(
        match r.export {
            quantd_core::ExportPolicy::Allow => "export allowed",
            quantd_core::ExportPolicy::Watermark => "exports watermarked",
            quantd_core::ExportPolicy::Deny => "no export",
        }
        .into(),
    );
    parts.join(" · ")
}

/// The ticker a pack page charts.
#[derive(Debug, Default, Deserialize)]
pub struct TickerQuery {
    ticker: Option<String>,
}

/// `GET /packs/{key}`.
pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
    Query(q): Query<TickerQuery>,
) -> Response {
    let rec = match state.engine().packs().find(Some(&key)).await {
        Ok(r) => r,
        Err(e) => {
            return page::error_page(
                StatusCode::NOT_FOUND,
                &viewer,
                &e.to_string(),
                "See the packs page for the catalog.",
            );
        }
    };
    let tickers: Vec<String> = state
        .engine()
        .packs()
        .reader(&rec)
        .await
        .map(|r| r.ticker_names().to_vec())
        .unwrap_or_default();
    let v = match state.engine().pack_view(rec).await {
        Ok(v) => v,
        Err(e) => {
            return page::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &viewer,
                &e.to_string(),
                "",
            );
        }
    };
    let ticker = q
        .ticker
        .filter(|t| tickers.contains(t))
        .or_else(|| tickers.first().cloned());
    let main = html! {
        div.titlebar { h1 { (v.name) } (page::state_badge(&v.state)) }
        dl.facts {
            div { dt { "Tickers" } dd { (page::int(v.tickers)) } }
            div { dt { "Bars" } dd { (page::int(v.bars)) } }
            div { dt { "Dates" } dd { (v.first_date) " – " (v.last_date) } }
            div { dt { "Columns" } dd { (v.columns.join(", ")) } }
            div { dt { "Rights" } dd { (rights(&v)) } }
            @if let Some(a) = &v.rights.attribution { div { dt { "Attribution" } dd { (a) } } }
            div { dt { "Origin" } dd { (v.origin) } }
            div { dt { "Id" } dd { code { (v.id) } } }
        }
        @if let Some(e) = &v.error { p.problem { (e) } }
        @if !v.rights.export_allowed {
            p.withheld role="note" { "Bars are withheld: the pack's terms deny exporting them (docs/rights.md)." }
        } @else if let Some(t) = &ticker {
            form.ticker-filter method="get" action=(format!("/packs/{}", page::encode(&v.name))) {
                label { "Ticker " select name="ticker" {
                    @for x in &tickers { option value=(x) selected[x == t] { (x) } }
                } }
                button type="submit" { "Chart" }
            }
            figure {
                figcaption { "Candles · " (t) }
                div #candles.chart data-candles=(format!("/packs/{}/candles?ticker={}", v.id, page::encode(t))) data-ticker=(t) {}
                p.credit { "Chart by " a href="https://www.tradingview.com/" rel="noopener" { "TradingView Lightweight Charts™" } "." }
            }
        }
    };
    html_response(
        StatusCode::OK,
        layout(&v.name, Section::Packs, Some(&viewer), main),
    )
}

/// `GET /packs/{key}/candles?ticker=T`: `{ticker, bars: [{time, open, high, low, close,
/// volume}]}`, the newest [`MAX_CANDLES`].
pub async fn candles(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
    Query(q): Query<TickerQuery>,
) -> Response {
    let not_found =
        |what: String| (StatusCode::NOT_FOUND, Json(json!({ "error": what }))).into_response();
    let Ok(rec) = state.engine().packs().find(Some(&key)).await else {
        return not_found(format!("no pack `{}`", quantd_engine::data::cut(&key, 40)));
    };
    let ticker = q.ticker.unwrap_or_default();
    let detail = format!("candles of {}", quantd_engine::data::cut(&ticker, 20));
    let release = match state
        .engine()
        .release_pack(&rec, &viewer.reader(), &detail)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::FORBIDDEN,
                Json(json!({ "error": e.to_string() })),
            )
                .into_response();
        }
    };
    let reader = state.engine().packs().reader(&rec).await;
    let read = tokio::task::spawn_blocking(move || -> Result<Option<Value>, String> {
        let reader = reader.map_err(|e| e.to_string())?;
        let Some(i) = reader.ticker_index(&ticker) else {
            return Ok(None);
        };
        let cols = ["open", "high", "low", "close", "volume"];
        let proj = reader.projection(&cols).map_err(|e| e.to_string())?;
        let bars = reader.read(i, &proj).map_err(|e| e.to_string())?;
        let calendar = reader.manifest().calendar;
        let n = bars.len();
        let from = n.saturating_sub(MAX_CANDLES);
        let rows: Vec<Value> = (from..n)
            .map(|k| {
                json!({
                    "time": calendar.format(bars.stamps()[k]),
                    "open": bars.column(0)[k], "high": bars.column(1)[k], "low": bars.column(2)[k],
                    "close": bars.column(3)[k], "volume": bars.column(4)[k],
                })
            })
            .collect();
        Ok(Some(json!({
            "ticker": ticker, "bars": rows,
            "attribution": release.attribution(), "watermark": release.watermark,
        })))
    })
    .await;
    match read {
        Ok(Ok(Some(v))) => Json(v).into_response(),
        Ok(Ok(None)) => not_found("no such ticker in this pack".into()),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": e })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}
