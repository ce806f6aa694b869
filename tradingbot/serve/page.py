"""The candlestick page: plotly (from ``/static/vendor/plotly.min.js``) fed by the WebSocket.

Market and resolution are read from the page's own path, so the HTML is one constant.
"""

from __future__ import annotations

__all__ = ["BARS_PAGE"]

BARS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tradingbot bars</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1rem; background: #fafafa; }
  #status { color: #555; font-size: 0.9rem; }
  #chart { width: 100%; height: 80vh; }
</style>
<script src="/static/vendor/plotly.min.js"></script>
</head>
<body>
<h1 id="title">bars</h1>
<p id="status">connecting...</p>
<div id="chart"></div>
<script>
"use strict";
const parts = location.pathname.split("/").filter(Boolean);
const market = decodeURIComponent(parts[1] || "");
const resolution = decodeURIComponent(parts[2] || "");
document.getElementById("title").textContent = market + " " + resolution;
document.title = "tradingbot " + market + " " + resolution;
const status = document.getElementById("status");
const bars = new Map();  // started_at -> bar (a forming bar is replaced by its next state)
let confirmed = 0;
let pending = false;

function draw() {
  pending = false;
  const rows = Array.from(bars.values()).sort((a, b) => a.started_at < b.started_at ? -1 : 1);
  const trace = {
    type: "candlestick",
    x: rows.map(b => b.started_at),
    open: rows.map(b => Number(b.open)),
    high: rows.map(b => Number(b.high)),
    low: rows.map(b => Number(b.low)),
    close: rows.map(b => Number(b.close)),
    text: rows.map(b => (b.confirmed ? "confirmed" : "forming") + ", " + b.trades + " trades"),
  };
  Plotly.react("chart", [trace], {
    margin: {t: 20, r: 20, b: 40, l: 60},
    xaxis: {rangeslider: {visible: false}},
    uirevision: "keep",
  }, {responsive: true, displaylogo: false});
}

function schedule() {
  if (!pending) { pending = true; requestAnimationFrame(draw); }
}

const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const url = scheme + location.host + "/ws/bars/" + encodeURIComponent(market) + "/" +
  encodeURIComponent(resolution);
const ws = new WebSocket(url);
ws.onopen = () => { status.textContent = "live"; };
ws.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.type === "ERROR") { status.textContent = message.error; return; }
  bars.set(message.bar.started_at, message.bar);
  if (message.type === "BAR_CONFIRMED") confirmed += 1;
  status.textContent = "live: " + confirmed + " confirmed bars, last parity " +
    message.parity.slice(0, 12);
  schedule();
};
ws.onclose = (event) => {
  status.textContent = "disconnected (" + event.code + "); " + confirmed + " confirmed bars";
};
</script>
</body>
</html>
"""
