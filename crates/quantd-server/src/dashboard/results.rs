//! What an execution produced, by kind, on its page: scan rows (paged, by ticker, downloads)
//! and summary; the A+ report; backtest statistics, equity and drawdown chart, candlestick chart
//! with entry and exit markers, and trades; a sweep's heatmap of two parameters and its top
//! table; a run's output and metrics. Tables come from the engine's result pages (the same
//! rows as `GET /v1/executions/{id}/results`); charts are drawn by `app.js` from the API's own
//! JSON (`/equity`, `/trades`) and the pack's candles ([`super::packs::candles`]).

use super::execution::Shown;
use super::page;
use crate::AppState;
use crate::model::ExecutionView;
use maud::{Markup, html};
use quantd_core::{ExecutionKind, ExportPolicy, Terms};
use quantd_engine::backtest::Metric;
use quantd_engine::records::ExecutionRecord;
use quantd_engine::rights::Reader;
use quantd_engine::views::page::{PageRequest, ResultPage};
use serde_json::Value;

/// Rows per results page.
pub const ROWS: usize = 100;

async fn page_of(
    state: &AppState,
    rec: &ExecutionRecord,
    shown: &Shown,
    limit: usize,
    signals_only: bool,
    reader: &Reader,
) -> Result<ResultPage, String> {
    let req = PageRequest {
        ticker: shown.ticker.clone().filter(|t| !t.trim().is_empty()),
        cursor: shown.cursor.clone().filter(|c| !c.is_empty()),
        limit,
        max_bytes: 2 << 20,
        max_text: Some(2_000),
        signals_only,
    };
    state
        .engine()
        .result_page(rec, &req, reader)
        .await
        .map_err(|e| e.to_string())
}

/// What the data's rights let the page show: under `deny`, derived data (scan `let` columns,
/// a run's output, equity, candles, trades) is withheld with this notice.
fn withheld(terms: &Terms) -> Option<String> {
    (terms.export() == ExportPolicy::Deny).then(|| {
        format!(
            "Derived data is withheld: the terms of provider {} deny exporting values computed \
             from its bars (indicator columns, trades, equity, run output). Signals, counts and \
             statistics are shown.",
            terms.binding_names()
        )
    })
}

/// The results section of `rec`.
pub async fn section(
    state: &AppState,
    rec: &ExecutionRecord,
    view: &ExecutionView,
    shown: &Shown,
    reader: &Reader,
) -> Markup {
    if rec.kind == ExecutionKind::Pattern || rec.kind == ExecutionKind::Import {
        return summary(view);
    }
    let terms = match state.engine().terms_of(rec).await {
        Ok(t) => t,
        Err(e) => return html! { (summary(view)) p.problem { (e.to_string()) } },
    };
    let withheld = withheld(&terms);
    let denied = withheld.is_some();
    let page = if denied && rec.kind == ExecutionKind::Run {
        None
    } else {
        let signals_only = denied && rec.kind == ExecutionKind::Scan;
        Some(page_of(state, rec, shown, ROWS, signals_only, reader).await)
    };
    let body = match rec.kind {
        ExecutionKind::Backtest | ExecutionKind::Paper | ExecutionKind::Live if denied => html! {},
        ExecutionKind::Backtest | ExecutionKind::Paper | ExecutionKind::Live => {
            backtest(state, rec, shown).await
        }
        ExecutionKind::Sweep => heatmap(state, rec).await,
        _ => html! {},
    };
    let head = match rec.kind {
        ExecutionKind::Check => check_summary(view),
        ExecutionKind::Evaluate => evaluation_summary(view),
        _ => summary(view),
    };
    html! {
        (head)
        section.results {
            h2 { "Results" }
            @if let Some(n) = &withheld { p.withheld role="note" { (n) } }
            @if let Some(a) = terms.attribution() { p.attribution { "Data: " (a) } }
            (body)
            @match &page {
                Some(Ok(p)) => (table(rec, p, shown)),
                Some(Err(e)) => p.problem { (e) },
                None => {},
            }
            @if !(denied && rec.kind == ExecutionKind::Run) { (downloads(rec, denied)) }
        }
    }
}

/// Download links (the API's own routes); under `deny`, a scan's signals only.
fn downloads(rec: &ExecutionRecord, denied: bool) -> Markup {
    let base = format!("/v1/executions/{}", rec.id);
    let cols = if denied && rec.kind == ExecutionKind::Scan {
        "&columns=signals"
    } else {
        ""
    };
    html! {
        p.downloads {
            "Download" @if !cols.is_empty() { " (signals only)" } ": "
            a href=(format!("{base}/results?format=csv{cols}")) download { "CSV" } " · "
            a href=(format!("{base}/results?format=parquet{cols}")) download { "Parquet" } " · "
            a href=(format!("{base}/results?format=md{cols}")) download { "Markdown" }
            @if rec.kind == ExecutionKind::Test {
                " · " a href=(format!("{base}/report?format=md")) download { "A+ report" }
            }
            @if rec.kind == ExecutionKind::Check {
                " · " a href=(format!("{base}/report?format=md")) download { "Check report" }
            }
        }
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => page::int(u),
            (_, Some(i), _) => page::num(i as f64, 0),
            (_, _, Some(f)) => page::num(f, if f.abs() < 1.0 { 4 } else { 2 }),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn table(rec: &ExecutionRecord, p: &ResultPage, shown: &Shown) -> Markup {
    let has_ticker = p.columns.iter().any(|c| c == "ticker");
    let link = |cursor: Option<&str>| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if let Some(t) = shown.ticker.as_deref().filter(|t| !t.is_empty()) {
            q.append_pair("ticker", t);
        }
        if let Some(c) = cursor {
            q.append_pair("cursor", c);
        }
        format!("/executions/{}?{}#rows", rec.id, q.finish())
    };
    html! {
        @if has_ticker {
            form.ticker-filter method="get" action=(format!("/executions/{}", rec.id)) {
                label { "Ticker " input type="search" name="ticker" value=[shown.ticker.as_deref()] placeholder="all"; }
                button type="submit" { "Show" }
            }
        }
        @if p.rows.is_empty() {
            p.empty { @if p.state == "completed" { "No rows." } @else { "No rows yet." } }
        } @else {
            div.scroll {
                table #rows.results {
                    thead { tr { @for c in &p.columns { th { (c) } } } }
                    tbody {
                        @for r in &p.rows {
                            tr { @for c in &p.columns {
                                @let v = r.get(c).unwrap_or(&Value::Null);
                                @if c == "ticker" && v.is_string() {
                                    td { a href=(format!("/executions/{}?ticker={}", rec.id, page::encode(&cell(v)))) { (cell(v)) } }
                                } @else {
                                    td.num[v.is_number()] { (cell(v)) }
                                }
                            } }
                        }
                    }
                }
            }
        }
        nav.pager {
            @if shown.cursor.as_deref().is_some_and(|c| !c.is_empty()) { a href=(link(None)) { "← First rows" } }
            @if let Some(n) = &p.next { a href=(link(Some(n))) { "More rows →" } }
        }
    }
}

/// The stored summary, as a definition list (totals, statistics, top tickers and dates).
fn summary(view: &ExecutionView) -> Markup {
    let Some(Value::Object(m)) = &view.summary else {
        return html! {};
    };
    html! {
        section.summary {
            h2 { "Summary" }
            dl.facts {
                @for (k, v) in m {
                    div { dt { (k) } dd { (summary_value(v)) } }
                }
            }
        }
    }
}

/// A look-ahead check's report: the verdict, why, the first offending bar, what was checked.
fn check_summary(view: &ExecutionView) -> Markup {
    let Some(r) = &view.summary else {
        return html! {};
    };
    let verdict = r["verdict"].as_str().unwrap_or("?");
    let first = &r["first"];
    html! {
        section.summary.check {
            h2 { "Look-ahead check: " span class=(format!("verdict {verdict}")) { (verdict) } }
            ul.reasons { @for reason in r["reasons"].as_array().into_iter().flatten() {
                li { (reason.as_str().unwrap_or_default()) }
            } }
            @if first.is_object() {
                h3 { "First difference" }
                dl.facts {
                    @for (k, label) in [("ticker", "ticker"), ("date", "bar"), ("column", "column"), ("full", "whole history"),
                        ("cut", "cut"), ("cut_date", "cut after"), ("ahead", "looks ahead (bars)"), ("found_by", "found by")] {
                        div { dt { (label) } dd { (cell(&first[k])) } }
                    }
                }
            }
            dl.facts {
                @for (k, label) in [("tickers_checked", "tickers checked"), ("bars", "bars"), ("cuts", "cut points"),
                    ("signal_bars", "signal bars"), ("signal_cuts", "signal bars cut"), ("perturbations", "perturbed runs"),
                    ("runs", "runs of the code"), ("errors", "runs that raised")] {
                    div { dt { (label) } dd { (cell(&r[k])) } }
                }
            }
            @if let Some(p) = r["static_proof"].as_str() { p.note { (p) } }
        }
    }
}

/// An evaluation: status and score, what cost points, each stage's findings.
fn evaluation_summary(view: &ExecutionView) -> Markup {
    let Some(e) = &view.summary else {
        return html! {};
    };
    let status = e["status"].as_str().unwrap_or("?");
    let verdict = match status {
        "passed" => "clean",
        "warnings" => "inconclusive",
        _ => "biased",
    };
    html! {
        section.summary.check {
            h2 { "Evaluation: " span class=(format!("verdict {verdict}")) { (status) } " " (cell(&e["score"])) "/100" }
            ul.reasons { @for r in e["reasons"].as_array().into_iter().flatten() { li { (r.as_str().unwrap_or_default()) } } }
            @for st in e["stages"].as_array().into_iter().flatten() {
                h3 { (st["name"].as_str().unwrap_or_default()) " — " (st["level"].as_str().unwrap_or_default()) }
                ul.findings { @for f in st["findings"].as_array().into_iter().flatten() {
                    li data-level=(f["level"].as_str().unwrap_or_default()) {
                        b { (f["level"].as_str().unwrap_or_default()) } " " (f["text"].as_str().unwrap_or_default())
                    }
                } }
            }
        }
    }
}

fn summary_value(v: &Value) -> Markup {
    match v {
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
            let cols: Vec<String> = items[0]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            html! {
                table.mini {
                    thead { tr { @for c in &cols { th { (c) } } } }
                    tbody { @for it in items.iter().take(20) { tr { @for c in &cols { td { (cell(&it[c])) } } } } }
                }
            }
        }
        Value::Object(o) => html! {
            dl.inner { @for (k, x) in o { div { dt { (k) } dd { (cell(x)) } } } }
        },
        other => html! { (cell(other)) },
    }
}

async fn backtest(state: &AppState, rec: &ExecutionRecord, shown: &Shown) -> Markup {
    let results = match state.engine().backtest_results(&rec.id).await {
        Ok(r) => r,
        Err(e) => return html! { p.problem { (e.to_string()) } },
    };
    let tickers: Vec<&str> = results.iter().map(|t| t.ticker.as_str()).collect();
    let chosen = shown
        .ticker
        .as_deref()
        .filter(|t| tickers.contains(t))
        .or_else(|| {
            results
                .iter()
                .max_by_key(|t| t.trades.len())
                .map(|t| t.ticker.as_str())
        });
    let Some(ticker) = chosen else {
        return html! { p.empty { "No ticker has a result yet." } };
    };
    let one = results
        .iter()
        .find(|t| t.ticker == ticker)
        .expect("chosen from the results");
    let trades = serde_json::to_value(&one.trades).unwrap_or_default();
    let base = format!("/v1/executions/{}", rec.id);
    html! {
        div.charts {
            figure {
                figcaption { "Equity and drawdown · " (ticker) }
                div #equity.chart data-equity=(format!("{base}/equity")) data-ticker=(ticker) {}
            }
            figure {
                figcaption { "Candles with entries and exits · " (ticker) }
                div #candles.chart
                    data-candles=(format!("/packs/{}/candles?ticker={}", rec.pack_id, page::encode(ticker)))
                    data-trades=(format!("{base}/trades")) data-ticker=(ticker) {}
                p.credit { "Charts by " a href="https://www.tradingview.com/" rel="noopener" { "TradingView Lightweight Charts™" } " and uPlot." }
            }
        }
        h3 #trades-title { "Trades · " (ticker) " (" (one.trades.len()) ")" }
        (trade_table(&trades))
    }
}

/// A parameter value as written: `12`, `0.25`.
fn param(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// backtesting.py's trade columns, in the order a trader reads them.
const TRADE_COLUMNS: [&str; 11] = [
    "EntryTime",
    "ExitTime",
    "Size",
    "EntryPrice",
    "ExitPrice",
    "PnL",
    "ReturnPct",
    "Duration",
    "SL",
    "TP",
    "Commission",
];

fn trade_table(trades: &Value) -> Markup {
    let Some(items) = trades.as_array().filter(|a| !a.is_empty()) else {
        return html! { p.empty { "No closed trades." } };
    };
    html! {
        div.scroll {
            table #trades.results {
                thead { tr { @for c in TRADE_COLUMNS { th { (c) } } } }
                tbody { @for t in items { tr {
                    @for c in TRADE_COLUMNS {
                        @let v = &t[c];
                        @if c == "ReturnPct" {
                            td.num { (v.as_f64().map(|f| page::pct(100.0 * f)).unwrap_or_default()) }
                        } @else {
                            td.num[v.is_number()] { (cell(v)) }
                        }
                    }
                } } }
            }
        }
    }
}

/// A heatmap of a sweep's first two parameters, coloured by the mean return of each set
/// (every set of the grid; further parameters, if any, are averaged over).
async fn heatmap(state: &AppState, rec: &ExecutionRecord) -> Markup {
    let view = match state.engine().sweep_view(&rec.id).await {
        Ok(v) => v,
        Err(_) => return html! {},
    };
    let [x, y, ..] = view.names.as_slice() else {
        return html! {};
    };
    let metric = Metric::Return;
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    let mut sums: std::collections::HashMap<(u64, u64), (f64, u32)> = Default::default();
    for c in &view.cells {
        let (vx, vy, m) = (c.params[0], c.params[1], c.mean(metric));
        if !xs.contains(&vx) {
            xs.push(vx);
        }
        if !ys.contains(&vy) {
            ys.push(vy);
        }
        if m.is_finite() {
            let e = sums.entry((vx.to_bits(), vy.to_bits())).or_default();
            e.0 += m;
            e.1 += 1;
        }
    }
    xs.sort_by(f64::total_cmp);
    ys.sort_by(f64::total_cmp);
    let grid: std::collections::HashMap<(u64, u64), f64> = sums
        .into_iter()
        .map(|(k, (s, n))| (k, s / n as f64))
        .collect();
    let (lo, hi) = grid
        .values()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let shade = |v: f64| {
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        format!(
            "background: hsl({:.0} 65% {:.0}%)",
            10.0 + 120.0 * t,
            90.0 - 32.0 * t
        )
    };
    let top = view.ranked(metric, true, 10);
    let shown = [
        Metric::Return,
        Metric::SharpeRatio,
        Metric::MaxDrawdown,
        Metric::WinRate,
    ];
    html! {
        h3 { "Top " (top.len()) " parameter sets by " (metric.name()) }
        table #top.mini {
            thead { tr { @for n in &view.names { th { (n) } } @for m in shown { th { (m.name()) } } th { "Backtests" } } }
            tbody { @for c in &top { tr {
                @for p in &c.params { td.num { (param(*p)) } }
                @for m in shown { td.num { (page::num(c.mean(m), 2)) } }
                td.num { (page::int(c.backtests)) }
            } } }
        }
        figure.heatmap {
            figcaption { (metric.name()) " (mean over tickers) by " (x) " × " (y) }
            div.scroll {
                table #heatmap {
                    thead { tr { th { (y) " \\ " (x) } @for vx in &xs { th.num { (param(*vx)) } } } }
                    tbody { @for vy in &ys { tr { th.num { (param(*vy)) } @for vx in &xs {
                        @match grid.get(&(vx.to_bits(), vy.to_bits())) {
                            Some(v) => td.num style=(shade(*v)) title=(format!("{x}={}, {y}={}", param(*vx), param(*vy))) { (page::pct(*v)) },
                            None => td {},
                        }
                    } } } }
                }
            }
        }
    }
}
