// quantd dashboard: the little the server cannot render. Times in the viewer's zone, the live
// badge, the live event log of an execution (EventSource on the API's own stream, which resumes
// with Last-Event-ID), and the charts (uPlot: equity and drawdown; Lightweight Charts: candles
// with entry and exit markers). No inline script anywhere: the CSP allows only this file.
"use strict";

(function () {
  const fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });

  // Times: local on the page, UTC in the title (set by the server).
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach((t) => {
      if (t.dataset.local) return;
      const d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) { t.textContent = fmt.format(d); t.dataset.local = "1"; }
    });
  }

  function setLive(state, label) {
    const b = document.getElementById("live");
    if (!b) return;
    b.dataset.state = state;
    b.querySelector(".label").textContent = label || state;
    b.title = "Live updates: " + (label || state);
  }

  // The executions list: htmx's SSE extension tells us about its connection.
  document.addEventListener("htmx:sseOpen", () => setLive("open", "live"));
  document.addEventListener("htmx:sseError", () => setLive("connecting", "reconnecting…"));
  document.addEventListener("htmx:sseClose", () => setLive("closed", "offline"));
  document.addEventListener("htmx:load", (e) => localTimes(e.target));
  // Rows swapped in by the live stream (out of band) carry the server's UTC text again.
  document.addEventListener("htmx:oobAfterSwap", () => localTimes(document));
  document.addEventListener("htmx:sseMessage", () => localTimes(document));

  // A field of an event as the log shows it: text as it is, amounts without float noise
  // (55711.15000000003 reads 55711.15).
  function fieldText(v) {
    if (typeof v === "string") return v;
    if (typeof v === "number" && !Number.isInteger(v)) return String(Math.round(v * 1e4) / 1e4);
    return JSON.stringify(v);
  }

  // One execution: its events, live.
  function eventLine(e) {
    const li = document.createElement("li");
    li.dataset.seq = e.seq;
    li.dataset.type = e.type;
    const t = document.createElement("time");
    t.setAttribute("datetime", e.at);
    t.title = e.at;
    t.textContent = e.at;
    const type = document.createElement("span");
    type.className = "type";
    type.textContent = e.type;
    const fields = document.createElement("span");
    fields.className = "fields";
    fields.textContent = Object.keys(e)
      .filter((k) => !["type", "seq", "at", "execution"].includes(k) && e[k] !== null)
      .sort()
      .map((k) => k + "=" + fieldText(e[k]))
      .join(" ");
    li.append(t, " ", type, " ", fields);
    localTimes(li);
    return li;
  }

  async function refreshParts(id, selectors) {
    const r = await fetch(location.pathname + location.search, { credentials: "same-origin" });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    for (const s of selectors) {
      const now = document.querySelector(s), next = doc.querySelector(s);
      if (now && next) { now.replaceWith(document.importNode(next, true)); }
    }
    localTimes(document);
    drawCharts();
  }

  function followExecution(log) {
    const id = log.dataset.execution;
    const url = "/v1/executions/" + encodeURIComponent(id) + "/events?after=" + (log.dataset.after || "0");
    const src = new EventSource(url);
    let headTimer = null;
    const refreshHead = () => {
      if (headTimer) return;
      headTimer = setTimeout(async () => {
        headTimer = null;
        const r = await fetch("/executions/" + encodeURIComponent(id) + "/head", { credentials: "same-origin" });
        if (r.ok) { document.getElementById("head").innerHTML = await r.text(); localTimes(document.getElementById("head")); }
      }, 150);
    };
    setLive("connecting", "connecting…");
    src.onopen = () => setLive("open", "live");
    src.onerror = () => setLive(src.readyState === EventSource.CLOSED ? "closed" : "connecting",
      src.readyState === EventSource.CLOSED ? "offline" : "reconnecting…");
    src.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (log.querySelector('li[data-seq="' + e.seq + '"]')) return;
      log.append(eventLine(e));
      log.dataset.after = e.seq;
      if (log.children.length > 2000) log.firstElementChild.remove();
      refreshHead();
    };
    src.addEventListener("done", () => {
      src.close();
      setLive("ended", "ended");
      refreshParts(id, ["#head", ".controls", ".results", ".summary", ".shards", ".steps"]);
    });
    for (const end of ["revoked", "shutdown"]) {
      src.addEventListener(end, () => { src.close(); setLive("closed", end); });
    }
  }

  // Charts.
  const palette = { up: "#1a7f37", down: "#cf222e", line: "#0969da", dd: "#cf222e" };

  async function json(url) {
    const r = await fetch(url, { credentials: "same-origin" });
    if (!r.ok) throw new Error(url + ": " + r.status);
    const v = await r.json();
    // A watermarked export wraps its rows: {watermark, rows} (docs/rights.md).
    return v && v.watermark && Array.isArray(v.rows) ? v.rows : v;
  }

  // A bar's time as the API writes it: `YYYY-MM-DD` (a daily bar) or RFC 3339 with an offset.
  function toUnix(t) { return Date.parse(t.length === 10 ? t + "T00:00:00Z" : t) / 1000; }
  // Lightweight Charts takes business days as `YYYY-MM-DD` and instants as UTC seconds.
  function chartTime(t) { return t.length === 10 ? t : toUnix(t); }

  async function drawEquity(el) {
    if (el.dataset.drawn) return;
    el.dataset.drawn = "pending";
    try {
      const all = await json(el.dataset.equity);
      const one = all.find((t) => t.ticker === el.dataset.ticker) || all[0];
      const pts = (one && one.points) || [];
      if (!pts.length) { el.textContent = "No equity curve kept for this backtest."; el.dataset.drawn = "empty"; return; }
      const data = [pts.map((p) => toUnix(p.date)), pts.map((p) => p.equity), pts.map((p) => -100 * Math.abs(p.drawdown))];
      const opts = {
        width: (el.clientWidth || 600) - 10, height: 260,
        series: [{}, { label: "Equity", stroke: palette.line, width: 1.5, scale: "eq" },
          { label: "Drawdown %", stroke: palette.dd, fill: "rgba(207,34,46,0.12)", scale: "dd" }],
        axes: [{}, { scale: "eq", size: 64 }, { scale: "dd", side: 1, size: 48, grid: { show: false } }],
      };
      new uPlot(opts, data, el);
      el.dataset.points = String(pts.length);
      el.dataset.drawn = "1";
    } catch (err) { el.textContent = "Could not draw the equity chart: " + err.message; el.dataset.drawn = "error"; }
  }

  async function drawCandles(el) {
    if (el.dataset.drawn) return;
    el.dataset.drawn = "pending";
    try {
      const c = await json(el.dataset.candles);
      const chart = LightweightCharts.createChart(el, {
        width: (el.clientWidth || 600) - 10, height: 320,
        layout: { attributionLogo: true },
        timeScale: { borderVisible: false },
      });
      const series = chart.addSeries(LightweightCharts.CandlestickSeries, {
        upColor: palette.up, downColor: palette.down, borderVisible: false,
        wickUpColor: palette.up, wickDownColor: palette.down,
      });
      series.setData(c.bars.map((b) => ({ time: chartTime(b.time), open: b.open, high: b.high, low: b.low, close: b.close })));
      let entries = 0, exits = 0;
      if (el.dataset.trades) {
        const all = await json(el.dataset.trades);
        const one = all.find((t) => t.ticker === el.dataset.ticker);
        const markers = [];
        for (const t of (one && one.trades) || []) {
          const long = t.Size > 0;
          markers.push({ time: chartTime(t.EntryTime), position: long ? "belowBar" : "aboveBar", color: long ? palette.up : palette.down,
            shape: long ? "arrowUp" : "arrowDown", text: long ? "buy" : "sell" });
          markers.push({ time: chartTime(t.ExitTime), position: long ? "aboveBar" : "belowBar", color: "#6e7781", shape: "circle", text: "exit" });
        }
        markers.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
        // Count what the chart holds, not what was asked for.
        const drawn = LightweightCharts.createSeriesMarkers(series, markers).markers();
        entries = drawn.filter((m) => m.text !== "exit").length;
        exits = drawn.length - entries;
      }
      chart.timeScale().fitContent();
      el.dataset.bars = String(c.bars.length);
      el.dataset.markers = String(entries);
      el.dataset.exits = String(exits);
      el.dataset.drawn = "1";
    } catch (err) { el.textContent = "Could not draw the candles: " + err.message; el.dataset.drawn = "error"; }
  }

  function drawCharts() {
    document.querySelectorAll("[data-equity]").forEach(drawEquity);
    document.querySelectorAll("[data-candles]").forEach(drawCandles);
  }

  document.addEventListener("DOMContentLoaded", () => {
    localTimes(document);
    drawCharts();
    const log = document.querySelector("ol#events[data-live=on]");
    if (log) followExecution(log);
    else if (document.querySelector("#events")) setLive("ended", "ended");
  });
})();
