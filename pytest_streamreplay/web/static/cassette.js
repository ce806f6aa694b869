// One cassette: summary, zoomable timeline (server-side bins; a waterfall of the calls for an
// HTTP-only cassette), HTTP calls with their headers and bodies on demand, filtered and paged
// messages (one line each until opened), a gRPC call's messages (both directions, like a
// WebSocket connection's), "create filtered cassette", and replay control.
"use strict";

(function () {
  const name = location.pathname.replace(/^\/cassette\//, "").split("/").map(decodeURIComponent).join("/");
  const base = `/api/cassettes/${SR.encodeName(name)}`;
  const PAGE = 50;
  const state = { offset: 0, total: 0, range: null, details: null, items: [], expanded: false, httpOffset: 0, waterfall: false };
  const form = document.getElementById("filters");
  const httpForm = document.getElementById("http-filters");
  const list = document.getElementById("messages");

  document.title = `streamreplay · ${name}`;
  document.getElementById("crumb").textContent = name;

  // -- filters: the same fields the API (and "create filtered") takes ----------------------

  function filters() {
    const data = new FormData(form);
    const out = {};
    for (const key of ["dir", "channel", "text", "path", "value", "where"]) {
      const value = String(data.get(key) || "").trim();
      if (value) out[key] = value;
    }
    const conn = String(data.get("conn") || "");
    if (conn) out.conn = [Number(conn)];
    if (state.range) { out.t_from = state.range[0]; out.t_to = state.range[1]; }
    return out;
  }

  function queryString(params) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (Array.isArray(value)) value.forEach((v) => search.append(key, v));
      else search.append(key, value);
    }
    return search.toString();
  }

  // -- summary --------------------------------------------------------------------------

  function card(label, value, extra) {
    const title = typeof value === "string" || typeof value === "number" ? String(value) : "";
    return SR.html`<div class="card${extra ? ` ${extra}` : ""}"><span class="muted">${label}</span><b title="${title}">${value}</b></div>`;
  }

  function renderDetails(d) {
    const n = d.counts;
    document.getElementById("summary").innerHTML = [
      card("test", d.test || "—", "test"),
      card("kind", d.kind.length ? d.kind.map((k) => SR.html`<span class="tag ${k}">${k}</span>`) : "—"),
      card("HTTP", n.http), card("connections", n.ws), card("messages", n.messages),
      card("events", n.events), card("duration", SR.ms(d.duration_ms)), card("size", SR.size(d.size)),
      card("recorded", `${d.age} ago`), card("format", `v${d.version}`),
    ].join("");
    document.querySelector("#connections tbody").innerHTML = d.connections.map((c) => {
      const close = c.close ? `${c.close.code ?? "no code"}${c.close.reason ? ` "${c.close.reason}"` : ""} by ${c.close.by} at ${SR.ms(c.close.t)}` : "open";
      return SR.html`<tr><td class="num">${c.id}</td><td class="wrap">${c.url}</td><td class="num">${SR.ms(c.t)}</td><td class="num">${c.sent}</td><td class="num">${c.received}</td><td class="wrap">${close}</td></tr>`;
    }).join("") || SR.html`<tr><td colspan="6" class="muted">none</td></tr>`;
    document.querySelector("#events tbody").innerHTML = d.events.map((e) =>
      SR.html`<tr><td class="wrap">${e.name}</td><td class="num">${e.count}</td><td class="num">${SR.ms(e.first)}</td><td class="num">${SR.ms(e.last)}</td></tr>`
    ).join("") || SR.html`<tr><td colspan="4" class="muted">none</td></tr>`;
    const conn = form.elements.namedItem("conn");
    for (const c of d.connections) conn.insertAdjacentHTML("beforeend", SR.html`<option value="${c.id}">#${c.id} ${c.url}</option>`);
    const channel = form.elements.namedItem("channel");
    for (const [ch, count] of Object.entries(d.channels)) channel.insertAdjacentHTML("beforeend", SR.html`<option value="${ch}">${ch} (${count})</option>`);
    document.getElementById("replay").hidden = !n.events;
    // empty sections say nothing: hide them, and let the others use the width
    document.getElementById("events-block").hidden = !n.events;
    document.getElementById("ws-block").hidden = !n.ws;
    document.getElementById("tables").hidden = !n.ws && !n.events;
    document.getElementById("tables").classList.toggle("single", !n.ws || !n.events);
    document.getElementById("http-view").hidden = !n.http;
    // an HTTP-only cassette has no messages: its calls are the HTTP view, on a waterfall
    state.waterfall = Boolean(n.http) && !n.ws && !n.messages && !n.events;
    document.getElementById("messages-section").hidden = state.waterfall;
    if (state.waterfall) {
      // no message list: the calls in view (the waterfall's zoom) can still be cut
      document.querySelector("#http-view .toolbar").append(document.getElementById("create"), document.getElementById("created"));
    }
    const shown = d.http.length < n.http ? ` (the first ${d.http.length} of ${n.http})` : "";
    document.getElementById("timeline-title").textContent = state.waterfall ? `HTTP calls${shown}` : "Timeline";
    for (const [field, shown] of [["conn", n.ws], ["dir", n.messages]]) {
      form.elements.namedItem(field).closest("label").hidden = !shown;
    }
    httpForm.hidden = !n.grpc;
    if (n.grpc) {
      document.getElementById("http-hint").textContent = n.grpc < n.http
        ? "open a call for its headers and bodies, a gRPC call for its messages" : "open a call for its messages";
      const methods = [...new Set(d.http.filter((h) => h.grpc).map((h) => h.grpc.method))].sort();
      document.getElementById("grpc-methods").innerHTML = methods.map((m) => SR.html`<option value="${m}"></option>`).join("");
      httpForm.elements.namedItem("grpc_status").insertAdjacentHTML("beforeend",
        STATUS_NAMES.map((name, code) => SR.html`<option value="${name}">${code} ${name}</option>`).join(""));
    }
  }

  /** gRPC status codes by number, as the protocol names them (the status filter's choices). */
  const STATUS_NAMES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"];

  // -- timeline -----------------------------------------------------------------------------

  const chart = document.getElementById("timeline");
  let drawing = false;
  // Answers can arrive out of order (filters changed while a request was in flight): each
  // loader draws only the answer to its latest request.
  let timelineSeq = 0;
  let messagesSeq = 0;

  async function loadTimeline() {
    const params = filters();
    delete params.t_from; delete params.t_to;
    if (state.range) { params.start = state.range[0]; params.end = state.range[1]; }
    params.bins = 200;
    const seq = ++timelineSeq;
    const body = await SR.api(`${base}/timeline?${queryString(params)}`);
    if (seq !== timelineSeq) return; // a newer request was sent meanwhile: its answer wins
    const x = body.series.length ? body.series[0].counts.map((_, i) => (body.start + (i + 0.5) * body.bin_ms) / 1000) : [];
    const traces = body.series.map((s) => ({
      // plotly reads a few tags in names (<b>, <a href>): escaped, the label is text only
      type: "bar", name: SR.escape(`${s.key === "http" ? "HTTP calls" : cut(s.label, 60)} (${s.total})`), x, y: s.counts,
      width: body.bin_ms / 1000, hovertemplate: "%{y} at %{x:.3f}s<extra>%{fullData.name}</extra>",
    }));
    // say what the bars count: messages, events, HTTP calls, or a mix of them
    const counted = [["conn ", "messages"], ["event ", "events"], ["http", "HTTP calls"]]
      .filter(([prefix]) => body.series.some((s) => s.key.startsWith(prefix))).map(([, what]) => what);
    const bin = body.bin_ms >= 1 ? body.bin_ms.toFixed(1) : body.bin_ms.toFixed(3);
    const layout = {
      barmode: "stack", bargap: 0, margin: { l: 50, r: 20, t: 10, b: 40 },
      xaxis: { title: { text: "seconds from the cassette's start" }, range: [body.start / 1000, body.end / 1000] },
      yaxis: { title: { text: `${counted.join(" and ") || "records"} per ${bin} ms` }, fixedrange: true },
      legend: { orientation: "h", y: -0.22 }, dragmode: "zoom",
    };
    drawing = true;
    try {
      await Plotly.react(chart, traces, layout, { displaylogo: false, responsive: true });
    } finally {
      drawing = false;
    }
    chart.dataset.series = String(body.series.length);
    chart.dataset.points = String(body.series.reduce((a, s) => a + s.total, 0));
  }

  /** A label for the legend or an axis: one line, ``n`` characters at most. */
  function cut(text, n) { return text.length > n ? `${text.slice(0, n - 1)}…` : text; }

  /** HTTP-only: one bar per call from its start to its end (the first 500 calls). */
  async function drawWaterfall(calls) {
    const label = (h) => `#${h.id} ${h.method} ${h.grpc ? h.grpc.method : pathOf(h.url)}`;
    const y = calls.map((h, i) => `${i}`);
    const trace = {
      type: "bar", orientation: "h", y, base: calls.map((h) => h.t / 1000),
      x: calls.map((h) => Math.max(h.duration_ms, 0.2) / 1000),
      marker: { color: calls.map((h) => (h.status >= 400 || (h.grpc && h.grpc.status) ? "#b3261e" : "#2d6cdf")) },
      text: calls.map((h) => SR.escape(`${label(h)} → ${h.status}, ${duration(h.duration_ms)}`)),
      hovertemplate: "%{text}<extra></extra>", textposition: "none",
    };
    const layout = {
      margin: { l: 20, r: 20, t: 10, b: 40 }, showlegend: false, dragmode: "zoom",
      // redrawn for the gRPC filters: the zoom stays
      xaxis: { title: { text: "seconds from the cassette's start" }, ...(state.range ? { range: state.range.map((t) => t / 1000) } : {}) },
      yaxis: {
        title: { text: "" }, autorange: "reversed", fixedrange: true, automargin: true,
        tickmode: "array", tickvals: y, ticktext: calls.map((h) => SR.escape(cut(label(h), 48))),
      },
    };
    drawing = true;
    try {
      await Plotly.react(chart, [trace], layout, { displaylogo: false, responsive: true });
    } finally {
      drawing = false;
    }
    chart.dataset.series = "1";
    chart.dataset.points = String(calls.length);
  }

  function bindZoom() {
    chart.on("plotly_relayout", (event) => {
      if (drawing) return;
      const range = event["xaxis.range"] || (event["xaxis.range[0]"] !== undefined ? [event["xaxis.range[0]"], event["xaxis.range[1]"]] : null);
      if (event["xaxis.autorange"]) state.range = null;
      else if (range) state.range = [Math.max(0, Number(range[0]) * 1000), Number(range[1]) * 1000];
      else return;
      state.offset = 0;
      refresh();
    });
  }

  // -- messages ---------------------------------------------------------------------------

  /** Markup pieces with a separator between them (still markup). */
  function join(pieces, separator) {
    return pieces.flatMap((piece, i) => (i ? [separator, piece] : [piece]));
  }

  function jsonHtml(value, indent, path, marked) {
    const pad = "  ".repeat(indent + 1), end = "  ".repeat(indent);
    if (value === null) return SR.html`<span class="j-lit">null</span>`;
    if (typeof value === "string") {
      const text = JSON.stringify(value);
      return marked.has(path) || value === "REDACTED" ? SR.html`<span class="redacted" title="redacted">${text}</span>` : SR.html`<span class="j-str">${text}</span>`;
    }
    if (typeof value === "number") return SR.html`<span class="j-num">${value}</span>`;
    if (typeof value === "boolean") return SR.html`<span class="j-lit">${value}</span>`;
    const comma = SR.html`,\n`;
    if (Array.isArray(value)) {
      if (!value.length) return SR.html`[]`;
      const items = value.map((v, i) => SR.html`${pad}${jsonHtml(v, indent + 1, `${path}[${i}]`, marked)}`);
      return SR.html`[\n${join(items, comma)}\n${end}]`;
    }
    const keys = Object.keys(value);
    if (!keys.length) return SR.html`{}`;
    const items = keys.map((k) => SR.html`${pad}<span class="j-key">${JSON.stringify(k)}</span>: ${jsonHtml(value[k], indent + 1, path ? `${path}.${k}` : k, marked)}`);
    return SR.html`{\n${join(items, comma)}\n${end}}`;
  }

  function bodyHtml(item) {
    const b = item.body;
    if ("json" in b) return jsonHtml(b.json, 0, "", new Set(item.redacted));
    if ("text" in b) {
      const parts = String(b.text).split("REDACTED");
      return item.redacted.length ? join(parts.map((p) => SR.html`${p}`), SR.html`<span class="redacted">REDACTED</span>`) : SR.html`${b.text}`;
    }
    // binary: its printable bytes (as `strings` would), a placeholder in them highlighted
    const text = printable(b.base64, 4096);
    const marked = item.redacted.length ? join(text.split(PLACEHOLDER).map((p, i) => (i % 2 ? SR.html`<span class="redacted" title="redacted">${p}</span>` : SR.html`${p}`)), "") : SR.html`${text}`;
    return SR.html`<span class="muted">binary, ${item.size} bytes; printable bytes shown, others as ·</span>\n${marked}`;
  }

  const PLACEHOLDER = /(REDACTED(?:-[a-z]+-\d+)?_*)/;

  /** Up to ``limit`` bytes of a base64 body, printable ASCII as itself and the rest as "·". */
  function printable(b64, limit) {
    let bytes;
    try { bytes = atob(String(b64).slice(0, Math.ceil(limit / 3) * 4)); } catch (e) { return "(not valid base64)"; }
    let out = "";
    for (let i = 0; i < Math.min(bytes.length, limit); i += 1) {
      const c = bytes.charCodeAt(i);
      out += (c >= 0x20 && c < 0x7f) || c === 0x0a ? bytes[i] : "·";
    }
    return out + (bytes.length > limit ? "…" : "");
  }

  function pathOf(url) {
    try { const u = new URL(url); return u.pathname + u.search; } catch (e) { return url; }
  }

  function duration(ms) { return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Number(ms).toFixed(1)} ms`; }

  /** One line of a body: compact JSON, the text's first line, or what binary it is. */
  function preview(item) {
    const b = item.body;
    let text;
    if ("json" in b) text = JSON.stringify(b.json);
    else if ("text" in b) text = String(b.text).replace(/\s+/g, " ");
    else return `binary, ${item.size} bytes: ${printable(b.base64, 240).replace(/\s+/g, " ")}`;
    return text.length > 240 ? `${text.slice(0, 240)}…` : text;
  }

  function itemHtml(item, index) {
    let what;
    if (item.kind === "ws_msg") {
      const arrow = item.dir === "send" ? "→ send" : "← recv";
      what = SR.html`<span class="dir-${item.dir === "send" ? "send" : "recv"}">${arrow}</span><span>conn #${item.conn}</span>`;
    } else if (item.kind === "event") {
      what = SR.html`<span class="tag events">event</span><span>${item.name}</span>`;
    } else {
      what = SR.html`<span class="tag">HTTP</span><span>${item.method} → ${item.status}</span>`;
    }
    const channel = item.channel ? SR.html`<span class="tag">${item.channel}</span>` : "";
    const redacted = item.redacted.length ? SR.html`<span class="badge-redacted" title="${item.redacted.join(", ")}">redacted: ${item.redacted.join(", ")}</span>` : "";
    const line = item.kind === "http" ? SR.html`${item.url}` : preview(item);
    // fixed-width columns, so the previews line up
    return SR.html`<li data-line="${item.line}" data-index="${index}"><details${state.expanded ? SR.html` open` : ""}><summary>`
      + SR.html`<span class="meta"><span class="col-n">#${state.offset + index + 1}</span><span class="col-t">${SR.ms(item.t)}</span>`
      + SR.html`<span class="col-what">${what}</span><span class="col-ch">${channel}</span><span class="col-size">${SR.size(item.size)}</span><span class="col-line">line ${item.line}</span>${redacted}</span>`
      + SR.html`<span class="preview">${line}</span></summary></details></li>`;
  }

  /** The full body of an opened message (an HTTP call's: fetched, with its headers). */
  function openItem(li) {
    const details = li.querySelector("details");
    if (!details.open || details.dataset.filled) return;
    details.dataset.filled = "1";
    const item = state.items[Number(li.dataset.index)];
    if (!item) return;
    if (item.kind === "http") { fillCall(details, item.line); return; }
    details.insertAdjacentHTML("beforeend", SR.html`<pre class="body">${bodyHtml(item)}</pre>`);
  }

  list.addEventListener("toggle", (event) => {
    const li = event.target.closest && event.target.closest("#messages > li");
    if (li) openItem(li);
  }, true);

  function setExpanded(expanded) {
    state.expanded = expanded;
    const button = document.getElementById("expand-all");
    button.setAttribute("aria-pressed", String(expanded));
    button.textContent = expanded ? "Collapse all" : "Expand all";
    for (const details of list.querySelectorAll(":scope > li > details")) details.open = expanded;
  }

  document.getElementById("expand-all").addEventListener("click", () => setExpanded(!state.expanded));

  async function loadMessages() {
    if (state.waterfall) return;
    const params = { ...filters(), offset: state.offset, limit: PAGE };
    const seq = ++messagesSeq;
    const body = await SR.api(`${base}/messages?${queryString(params)}`);
    if (seq !== messagesSeq) return;
    state.total = body.total;
    state.items = body.items;
    list.innerHTML = body.items.map(itemHtml).join("") || SR.html`<li class="muted">no messages match</li>`;
    if (state.expanded) for (const li of list.querySelectorAll(":scope > li[data-index]")) openItem(li);
    const first = body.items.length ? body.offset + 1 : 0;
    const total = body.total === null ? "many" : body.total;
    document.getElementById("range").textContent = `${first}–${body.offset + body.items.length} of ${total}${state.range ? ` in ${SR.ms(state.range[0])} … ${SR.ms(state.range[1])}` : ""}`;
    document.getElementById("prev").disabled = body.offset === 0;
    document.getElementById("next").disabled = !body.has_more;
    list.dataset.total = String(body.total);
  }

  // -- HTTP calls -------------------------------------------------------------------------

  const calls = document.getElementById("http-list");
  let httpSeq = 0;

  function statusClass(h) {
    if (h.grpc ? h.grpc.status : h.status >= 400) return "status bad";
    return h.status >= 300 || !h.status ? "status odd" : "status ok";
  }

  function callHtml(h) {
    const grpc = h.grpc;
    const where = grpc ? grpc.method : h.url;
    const status = SR.html`<span class="${statusClass(h)}">${h.status || "no answer"}${h.reason ? ` ${h.reason}` : ""}</span>`;
    const grpcStatus = grpc && grpc.status !== null
      ? SR.html`<span class="grpc-status${grpc.status ? "" : " ok"}">grpc-status ${grpc.status} ${grpc.status_name || ""}</span>` : "";
    const chunks = h.chunks !== null ? SR.html`<span>${h.chunks} chunk${h.chunks === 1 ? "" : "s"}</span>` : "";
    const end = h.end ? SR.html`<span class="tag bad">${h.end}</span>` : "";
    return SR.html`<li data-line="${h.line}"><details><summary>`
      + SR.html`<span class="meta"><span class="num">#${h.id}</span><span>${SR.ms(h.t)}</span>${grpc ? SR.html`<span class="tag grpc">gRPC</span>` : ""}<b class="method">${h.method}</b></span>`
      + SR.html`<span class="url" title="${h.url}">${where}</span>`
      + SR.html`<span class="meta">${status}${grpcStatus}<span class="duration">${duration(h.duration_ms)}</span><span>${SR.size(h.size)}</span>${chunks}${end}</span>`
      + SR.html`</summary></details></li>`;
  }

  function headersHtml(headers, which) {
    if (!headers || !headers.length) return SR.html`<p class="muted">no ${which} headers</p>`;
    const value = (v) => (String(v).includes("REDACTED") ? SR.html`<span class="redacted" title="redacted">${v}</span>` : SR.html`${v}`);
    return SR.html`<table class="grid headers ${which}"><tbody>${headers.map(([k, v]) => SR.html`<tr><th>${k}</th><td class="wrap">${value(v)}</td></tr>`)}</tbody></table>`;
  }

  function partBody(part, which) {
    const item = { body: part.body, redacted: part.redacted || [], size: part.size };
    const empty = ("text" in part.body && part.body.text === "") ? SR.html`<span class="muted">(no body)</span>` : bodyHtml(item);
    return SR.html`<pre class="body ${which}">${empty}</pre>${part.truncated ? SR.html`<p class="muted">cut at 64 KiB</p>` : ""}`;
  }

  function callDetailHtml(d) {
    const req = d.request, res = d.response;
    let answer;
    if (res.chunks) {
      const more = res.chunks_total > res.chunks.length ? SR.html`<p class="muted">first ${res.chunks.length} of ${res.chunks_total} chunks</p>` : "";
      answer = SR.html`<h4>${res.chunks_total} chunk${res.chunks_total === 1 ? "" : "s"} (time from the response headers, byte offset)</h4><ol class="chunks">${res.chunks.map((c) =>
        SR.html`<li><span class="offset">+${Number(c.t).toFixed(1)} ms · byte ${c.offset} · ${SR.size(c.size)}</span>${partBody(c, "chunk")}</li>`)}</ol>${more}`;
    } else {
      answer = SR.html`<h4>body</h4>${partBody(res, "response")}`;
    }
    const trailers = res.trailers ? SR.html`<h4>trailers</h4>${headersHtml(res.trailers, "trailers")}` : "";
    return SR.html`<div class="http-detail"><div class="part"><h3>Request</h3><p class="wrap"><b>${req.method}</b> ${req.url}</p>`
      + SR.html`<h4>headers</h4>${headersHtml(req.headers, "request")}<h4>body</h4>${partBody(req, "request")}</div>`
      + SR.html`<div class="part"><h3>Response</h3><p>${res.http_version} <b>${res.status}</b> ${res.reason} · ${duration(d.duration_ms)}${res.end ? ` · ${res.end}` : ""}</p>`
      + SR.html`<h4>headers</h4>${headersHtml(res.headers, "response")}${answer}${trailers}</div></div>`;
  }

  async function fillCall(details, line) {
    try {
      const detail = await SR.api(`${base}/records/${line}`);
      if (!detail.grpc) {
        details.insertAdjacentHTML("beforeend", callDetailHtml(detail));
        return;
      }
      // a gRPC call is its messages and its status; the HTTP/2 exchange is one click away
      const call = await SR.api(`${base}/grpc/${detail.id}?offset=0&limit=${PAGE}`);
      details.insertAdjacentHTML("beforeend", grpcCallHtml(call)
        + SR.html`<details class="raw"><summary>HTTP/2 request and response: headers, framed bodies</summary>` + callDetailHtml(detail) + "</details>");
      showGrpcPage(details.querySelector(".grpc-call"), call);
    } catch (error) {
      details.insertAdjacentHTML("beforeend", SR.html`<p class="error">${String(error.message || error)}</p>`);
    }
  }

  // -- a gRPC call's messages --------------------------------------------------------------

  /** Each drawn call's page of messages, for the rows opened later. */
  const grpcPages = new WeakMap();

  function grpcCallHtml(call) {
    const s = call.status;
    const status = s.code === null
      ? SR.html`<span class="grpc-status">no status</span> <span class="muted">(the call ended without one)</span>`
      : SR.html`<span class="${s.code ? "grpc-status" : "status ok"}">status ${s.code} ${s.name || ""}</span>`;
    const message = s.message ? SR.html` · message "${s.message}"` : "";
    const end = call.end ? SR.html` <span class="tag bad">${call.end}</span>` : "";
    let trailers;
    if (call.trailers) trailers = SR.html`<h4>trailers</h4>${headersHtml(call.trailers, "trailers")}`;
    else if (s.code !== null) trailers = SR.html`<p class="muted">no trailers: a trailers-only answer (its status came in the response headers)</p>`;
    else trailers = SR.html`<p class="muted">no trailers</p>`;
    return SR.html`<div class="grpc-call" data-id="${call.id}"><div class="toolbar"><h4>Messages</h4>`
      + SR.html`<span class="muted">both directions in the order they passed; time from the call's start</span><span class="spacer"></span>`
      + SR.html`<button class="grpc-prev" type="button">← Prev</button><span class="grpc-range muted"></span><button class="grpc-next" type="button">Next →</button></div>`
      + SR.html`<ol class="rows messages grpc-messages"></ol><div class="grpc-end"><p>${status}${message}${end}</p>${trailers}</div></div>`;
  }

  /** The bytes of a base64 string (empty when it is not base64). */
  function bytesOf(b64) {
    try { return atob(String(b64)); } catch (e) { return ""; }
  }

  function hexOf(bytes) {
    return Array.from(bytes, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(" ");
  }

  /** One line: the JSON form, compact; else the protobuf bytes in hex. */
  function grpcPreview(m) {
    if ("json" in m) {
      const text = JSON.stringify(m.json);
      return text.length > 240 ? `${text.slice(0, 240)}…` : text;
    }
    const bytes = bytesOf(m.base64);
    return `hex ${hexOf(bytes.slice(0, 64))}${m.size > 64 ? " …" : ""}`;
  }

  const DUMP_LIMIT = 4096;

  /** Offset, 16 bytes in hex, and those bytes as ASCII (others as "."), as ``hexdump -C``. */
  function hexDump(bytes) {
    const lines = [];
    for (let at = 0; at < Math.min(bytes.length, DUMP_LIMIT); at += 16) {
      const row = bytes.slice(at, at + 16);
      const ascii = Array.from(row, (c) => (c >= " " && c <= "~" ? c : ".")).join("");
      lines.push(`${at.toString(16).padStart(8, "0")}  ${hexOf(row).padEnd(47)}  |${ascii}|`);
    }
    return lines.join("\n");
  }

  function grpcMessageHtml(m, k, offset) {
    const send = m.dir === "send";
    const marked = (m.redacted && m.redacted.length) || (!("json" in m) && bytesOf(m.base64).includes("REDACTED"));
    const redacted = marked ? SR.html`<span class="badge-redacted" title="${(m.redacted || ["$"]).join(", ")}">redacted</span>` : "";
    return SR.html`<li data-dir="${send ? "send" : "recv"}" data-k="${k}"><details><summary><span class="meta">`
      + SR.html`<span class="col-n">#${offset + k + 1}</span><span class="col-t">+${Number(m.t).toFixed(1)} ms</span>`
      + SR.html`<span class="col-what"><span class="dir-${send ? "send" : "recv"}">${send ? "→ send" : "← recv"}</span></span>`
      + SR.html`<span class="col-type" title="${m.type || "type not known (no descriptors)"}">${m.type || "—"}</span>`
      + SR.html`<span class="col-size">${SR.size(m.size)}</span>${redacted}</span>`
      + SR.html`<span class="preview">${grpcPreview(m)}</span></summary></details></li>`;
  }

  /** An opened message: its JSON form pretty-printed, else its bytes as a hex dump. */
  function grpcBodyHtml(m) {
    if ("json" in m) return SR.html`<pre class="body">${jsonHtml(m.json, 0, "", new Set(m.redacted || []))}</pre>`;
    const bytes = bytesOf(m.base64);
    const cut = m.size > DUMP_LIMIT ? SR.html`<p class="muted">the first 4 KiB of ${SR.size(m.size)}</p>` : "";
    return SR.html`<pre class="body hex">${hexDump(bytes)}</pre>${cut}`;
  }

  function showGrpcPage(block, call) {
    grpcPages.set(block, call);
    block.dataset.offset = String(call.offset);
    block.querySelector(".grpc-messages").innerHTML = call.messages.map((m, k) => grpcMessageHtml(m, k, call.offset)).join("")
      || SR.html`<li class="muted">no messages</li>`;
    const first = call.messages.length ? call.offset + 1 : 0;
    block.querySelector(".grpc-range").textContent = `${first}–${call.offset + call.messages.length} of ${call.total} messages`;
    block.querySelector(".grpc-prev").disabled = call.offset === 0;
    block.querySelector(".grpc-next").disabled = call.next_offset === null;
  }

  async function loadGrpcPage(block, offset) {
    const seq = String(Number(block.dataset.seq || 0) + 1);
    block.dataset.seq = seq;
    const call = await SR.api(`${base}/grpc/${block.dataset.id}?offset=${offset}&limit=${PAGE}`);
    if (block.dataset.seq === seq) showGrpcPage(block, call); // the latest request's answer
  }

  // Calls open in the HTTP section and in the message list (a mixed cassette's): one handler
  // for both, for the message rows and the page buttons of every drawn call.
  document.addEventListener("toggle", (event) => {
    const details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.open || details.dataset.filled) return;
    const li = details.parentElement;
    if (!li || !li.parentElement || !li.parentElement.classList.contains("grpc-messages")) return;
    const call = grpcPages.get(li.closest(".grpc-call"));
    const m = call && call.messages[Number(li.dataset.k)];
    if (!m) return;
    details.dataset.filled = "1";
    details.insertAdjacentHTML("beforeend", grpcBodyHtml(m));
  }, true);

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest(".grpc-prev, .grpc-next");
    if (!button) return;
    const block = button.closest(".grpc-call");
    const offset = Number(block.dataset.offset);
    const next = button.classList.contains("grpc-next") ? offset + PAGE : Math.max(0, offset - PAGE);
    loadGrpcPage(block, next).catch(SR.showError);
  });

  calls.addEventListener("toggle", (event) => {
    const details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.open || details.dataset.filled) return;
    const li = details.closest("#http-list > li");
    if (!li || details.parentElement !== li) return;
    details.dataset.filled = "1";
    fillCall(details, li.dataset.line);
  }, true);

  /** The HTTP section's own filters: a gRPC call's method (substring) and status. */
  function httpFilters() {
    const data = new FormData(httpForm);
    const out = {};
    for (const key of ["grpc_method", "grpc_status"]) {
      const value = String(data.get(key) || "").trim();
      if (value) out[key] = value;
    }
    return out;
  }

  /** The waterfall's calls (the first 500) that the HTTP section's filters keep. */
  function waterfallCalls() {
    const f = httpFilters();
    if (!f.grpc_method && !f.grpc_status) return state.details.http;
    return state.details.http.filter((h) => h.grpc
      && (!f.grpc_method || h.grpc.method.includes(f.grpc_method))
      && (!f.grpc_status || h.grpc.status_name === f.grpc_status));
  }

  async function loadHttp() {
    if (!state.details || !state.details.counts.http) return;
    const filtered = httpFilters();
    const params = { ...filtered, offset: state.httpOffset, limit: PAGE };
    if (state.range) { params.t_from = state.range[0]; params.t_to = state.range[1]; }
    const seq = ++httpSeq;
    const body = await SR.api(`${base}/http?${queryString(params)}`);
    if (seq !== httpSeq) return;
    const none = Object.keys(filtered).length ? "no calls match the filters" : "no calls";
    calls.innerHTML = body.items.map(callHtml).join("") || SR.html`<li class="muted">${none}${state.range ? " in this range" : ""}</li>`;
    const first = body.items.length ? body.offset + 1 : 0;
    document.getElementById("http-range").textContent = `${first}–${body.offset + body.items.length} of ${body.total}`;
    document.getElementById("http-prev").disabled = body.offset === 0;
    document.getElementById("http-next").disabled = !body.has_more;
    calls.dataset.total = String(body.total);
  }

  /** Messages and chart for the current filters and zoom range, side by side. */
  async function refresh() {
    try {
      SR.showError(null);
      state.httpOffset = 0;
      await Promise.all([loadMessages(), loadHttp(), state.waterfall ? null : loadTimeline()]);
    } catch (error) {
      SR.showError(error);
    }
    document.body.dataset.loaded = "1";
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); state.offset = 0; refresh(); });
  form.addEventListener("reset", () => { setTimeout(() => { state.offset = 0; refresh(); }, 0); });
  document.getElementById("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); loadMessages().catch(SR.showError); });
  document.getElementById("next").addEventListener("click", () => { state.offset += PAGE; loadMessages().catch(SR.showError); });
  /** The HTTP section's filters changed: its list, and the waterfall when it is the chart. */
  function refreshHttp() {
    state.httpOffset = 0;
    const waterfall = state.waterfall ? drawWaterfall(waterfallCalls()) : null;
    Promise.all([loadHttp(), waterfall]).then(() => SR.showError(null), SR.showError);
  }

  httpForm.addEventListener("submit", (event) => { event.preventDefault(); refreshHttp(); });
  httpForm.addEventListener("reset", () => { setTimeout(refreshHttp, 0); });
  document.getElementById("http-prev").addEventListener("click", () => { state.httpOffset = Math.max(0, state.httpOffset - PAGE); loadHttp().catch(SR.showError); });
  document.getElementById("http-next").addEventListener("click", () => { state.httpOffset += PAGE; loadHttp().catch(SR.showError); });
  document.getElementById("reset-zoom").addEventListener("click", () => {
    if (state.waterfall) { Plotly.relayout(chart, { "xaxis.autorange": true }); return; } // the zoom handler refreshes
    state.range = null;
    refresh();
  });

  document.getElementById("create").addEventListener("submit", async (event) => {
    event.preventDefault();
    const output = event.target.elements.namedItem("output").value.trim();
    const created = document.getElementById("created");
    try {
      // without a message list (the waterfall), the cut is the calls in view: the HTTP filters too
      const body = await SR.post(`${base}/filter`, { ...filters(), ...(state.waterfall ? httpFilters() : {}), output });
      created.innerHTML = SR.html`wrote <a href="/cassette/${SR.encodeName(body.name)}">${body.name}</a>: kept ${body.kept} of ${body.total} records`;
      SR.showError(null);
    } catch (error) {
      created.textContent = "";
      SR.showError(error);
    }
  });

  // -- replay -----------------------------------------------------------------------------

  let polling = null;
  const status = document.getElementById("replay-status");

  function showReplay(s) {
    const progress = document.getElementById("replay-progress");
    progress.value = s.progress || 0;
    const last = s.last ? `, last ${s.last.name} at ${SR.ms(s.last.t)}` : "";
    status.textContent = s.state === "idle" ? "idle"
      : `${s.state}: ${s.published} of ${s.total} events at ${s.speed}×, ${SR.ms(s.position_ms)}${last}${s.error ? ` — ${s.error}` : ""}`;
    status.dataset.state = s.state;
    const active = s.state === "running" || s.state === "paused";
    document.getElementById("replay-start").disabled = active;
    document.getElementById("replay-pause").disabled = s.state !== "running";
    document.getElementById("replay-resume").disabled = s.state !== "paused";
    document.getElementById("replay-stop").disabled = !active;
    if (active && !polling) polling = setInterval(poll, 250);
    if (!active && polling) { clearInterval(polling); polling = null; }
  }

  async function poll() {
    try { showReplay(await SR.api(`${base}/replay`)); } catch (error) { SR.showError(error); }
  }

  async function control(action, data) {
    try { showReplay(await SR.post(`${base}/replay/${action}`, data)); SR.showError(null); } catch (error) { SR.showError(error); }
  }

  const speed = () => Number(document.getElementById("replay-speed").value) || 1;
  document.getElementById("replay-start").addEventListener("click", () => control("start", { speed: speed() }));
  document.getElementById("replay-pause").addEventListener("click", () => control("pause"));
  document.getElementById("replay-resume").addEventListener("click", () => control("resume"));
  document.getElementById("replay-stop").addEventListener("click", () => control("stop"));
  document.getElementById("replay-speed-set").addEventListener("click", () => control("speed", { speed: speed() }));

  // -- start ------------------------------------------------------------------------------

  (async function init() {
    try {
      state.details = await SR.api(base);
      renderDetails(state.details);
      if (state.waterfall) await drawWaterfall(state.details.http);
      SR.api(`${base}/fields`).then((body) => {
        document.getElementById("fields").innerHTML = body.fields.map((f) => SR.html`<option value="${f.path}">${f.count}×</option>`).join("");
      }).catch(() => {});
      await refresh();
      bindZoom();
      if (state.details.counts.events) poll();
    } catch (error) {
      SR.showError(error);
      document.body.dataset.loaded = "1";
    }
  })();
})();
