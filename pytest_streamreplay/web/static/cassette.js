// One cassette: summary, zoomable timeline (server-side bins), filtered and paged messages,
// "create filtered cassette", and replay control for event cassettes.
"use strict";

(function () {
  const name = location.pathname.replace(/^\/cassette\//, "").split("/").map(decodeURIComponent).join("/");
  const base = `/api/cassettes/${SR.encodeName(name)}`;
  const PAGE = 50;
  const state = { offset: 0, total: 0, range: null, details: null };
  const form = document.getElementById("filters");
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

  function card(label, value, wide) {
    return SR.html`<div class="card${wide ? " wide" : ""}"><span class="muted">${label}</span><b>${value}</b></div>`;
  }

  function renderDetails(d) {
    const n = d.counts;
    document.getElementById("summary").innerHTML = [
      card("test", d.test || "—", true),
      card("kind", d.kind.length ? d.kind.map((k) => SR.html`<span class="tag ${k}">${k}</span>`) : "—"),
      card("HTTP", n.http), card("connections", n.ws), card("messages", n.messages),
      card("events", n.events), card("duration", SR.ms(d.duration_ms)), card("size", SR.size(d.size)),
      card("recorded", `${d.age} ago`), card("format", `v${d.version}`),
    ].join("");
    document.querySelector("#connections tbody").innerHTML = d.connections.map((c) => {
      const close = c.close ? `${c.close.code ?? "no code"}${c.close.reason ? ` "${c.close.reason}"` : ""} by ${c.close.by} at ${SR.ms(c.close.t)}` : "open";
      return SR.html`<tr><td class="num">${c.id}</td><td>${c.url}</td><td class="num">${SR.ms(c.t)}</td><td class="num">${c.sent}</td><td class="num">${c.received}</td><td>${close}</td></tr>`;
    }).join("") || SR.html`<tr><td colspan="6" class="muted">none</td></tr>`;
    document.querySelector("#http tbody").innerHTML = d.http.map((h) =>
      SR.html`<tr><td class="num">${h.id}</td><td class="num">${SR.ms(h.t)}</td><td>${h.method}</td><td>${h.url}</td><td class="num">${h.status}</td></tr>`
    ).join("") || SR.html`<tr><td colspan="5" class="muted">none</td></tr>`;
    document.querySelector("#events tbody").innerHTML = d.events.map((e) =>
      SR.html`<tr><td>${e.name}</td><td class="num">${e.count}</td><td class="num">${SR.ms(e.first)}</td><td class="num">${SR.ms(e.last)}</td></tr>`
    ).join("") || SR.html`<tr><td colspan="4" class="muted">none</td></tr>`;
    const conn = form.elements.namedItem("conn");
    for (const c of d.connections) conn.insertAdjacentHTML("beforeend", SR.html`<option value="${c.id}">#${c.id} ${c.url}</option>`);
    const channel = form.elements.namedItem("channel");
    for (const [ch, count] of Object.entries(d.channels)) channel.insertAdjacentHTML("beforeend", SR.html`<option value="${ch}">${ch} (${count})</option>`);
    document.getElementById("replay").hidden = !n.events;
    // empty tables say nothing: hide them, and let the connections use the width
    document.getElementById("http-block").hidden = !n.http;
    document.getElementById("events-block").hidden = !n.events;
    document.getElementById("ws-block").hidden = !n.ws;
    document.getElementById("tables").classList.toggle("single", [n.http || n.events, n.ws].filter(Boolean).length < 2);
  }

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
      type: "bar", name: SR.escape(`${s.label} (${s.total})`), x, y: s.counts,
      width: body.bin_ms / 1000, hovertemplate: "%{y} at %{x:.3f}s<extra>%{fullData.name}</extra>",
    }));
    const layout = {
      barmode: "stack", bargap: 0, margin: { l: 50, r: 20, t: 10, b: 40 },
      xaxis: { title: { text: "seconds from the cassette's start" }, range: [body.start / 1000, body.end / 1000] },
      yaxis: { title: { text: `messages per ${body.bin_ms >= 1 ? body.bin_ms.toFixed(1) : body.bin_ms.toFixed(3)} ms` }, fixedrange: true },
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
    const b64 = String(b.base64);
    return SR.html`<span class="muted">binary, ${item.size} bytes (base64)</span> ${b64.slice(0, 120)}${b64.length > 120 ? "…" : ""}`;
  }

  function itemHtml(item) {
    let what;
    if (item.kind === "ws_msg") {
      const arrow = item.dir === "send" ? "→ send" : "← recv";
      what = SR.html`<span class="dir-${item.dir === "send" ? "send" : "recv"}">${arrow}</span><span>conn #${item.conn}</span>`;
    } else if (item.kind === "event") {
      what = SR.html`<span class="tag events">event</span><span>${item.name}</span>`;
    } else {
      what = SR.html`<span class="tag">HTTP</span><span>${item.method} ${item.url} → ${item.status}</span>`;
    }
    const channel = item.channel ? SR.html`<span class="tag">${item.channel}</span>` : "";
    const redacted = item.redacted.length ? SR.html`<span class="badge-redacted">redacted: ${item.redacted.join(", ")}</span>` : "";
    return SR.html`<li data-line="${item.line}"><div class="meta"><span>${SR.ms(item.t)}</span>${what}${channel}<span>${SR.size(item.size)}</span><span>line ${item.line}</span>${redacted}</div><pre>${bodyHtml(item)}</pre></li>`;
  }

  async function loadMessages() {
    const params = { ...filters(), offset: state.offset, limit: PAGE };
    const seq = ++messagesSeq;
    const body = await SR.api(`${base}/messages?${queryString(params)}`);
    if (seq !== messagesSeq) return;
    state.total = body.total;
    list.innerHTML = body.items.map(itemHtml).join("") || SR.html`<li class="muted">no messages match</li>`;
    const first = body.items.length ? body.offset + 1 : 0;
    const total = body.total === null ? "many" : body.total;
    document.getElementById("range").textContent = `${first}–${body.offset + body.items.length} of ${total}${state.range ? ` in ${SR.ms(state.range[0])} … ${SR.ms(state.range[1])}` : ""}`;
    document.getElementById("prev").disabled = body.offset === 0;
    document.getElementById("next").disabled = !body.has_more;
    list.dataset.total = String(body.total);
  }

  /** Messages and chart for the current filters and zoom range, side by side. */
  async function refresh() {
    try {
      SR.showError(null);
      await Promise.all([loadMessages(), loadTimeline()]);
    } catch (error) {
      SR.showError(error);
    }
    document.body.dataset.loaded = "1";
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); state.offset = 0; refresh(); });
  form.addEventListener("reset", () => { setTimeout(() => { state.offset = 0; refresh(); }, 0); });
  document.getElementById("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); loadMessages().catch(SR.showError); });
  document.getElementById("next").addEventListener("click", () => { state.offset += PAGE; loadMessages().catch(SR.showError); });
  document.getElementById("reset-zoom").addEventListener("click", () => { state.range = null; refresh(); });

  document.getElementById("create").addEventListener("submit", async (event) => {
    event.preventDefault();
    const output = event.target.elements.namedItem("output").value.trim();
    const created = document.getElementById("created");
    try {
      const body = await SR.post(`${base}/filter`, { ...filters(), output });
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
