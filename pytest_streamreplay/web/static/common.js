// Helpers shared by the pages: API calls with readable errors, escaping and formatting.
"use strict";

const SR = {
  /** Fetch JSON from the API; a non-2xx answer throws with the server's "error" text. */
  async api(path, options) {
    const response = await fetch(path, options);
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
      throw new Error(message);
    }
    return body;
  },
  post(path, data) {
    return SR.api(path, {
      method: "POST",
      body: JSON.stringify(data === undefined ? {} : data),
      headers: { "Content-Type": "application/json", "X-StreamReplay-Token": SR.token() },
    });
  },
  /** The same-origin token the server put in the page; write requests must carry it. */
  token() {
    const meta = document.querySelector('meta[name="streamreplay-token"]');
    return meta ? meta.content : "";
  },
  /** A cassette name as a URL path: each segment encoded, slashes kept. */
  encodeName(name) { return name.split("/").map(encodeURIComponent).join("/"); },
  /**
   * Template tag for every piece of markup the pages build: each ${value} is escaped (cassette
   * content is data from anywhere, never markup) unless it is markup made by SR.html itself;
   * arrays are joined. The result is such markup, so templates nest.
   */
  html(strings, ...values) {
    let out = strings[0];
    values.forEach((value, i) => { out += SR.piece(value) + strings[i + 1]; });
    return new SR.Markup(out);
  },
  piece(value) {
    if (value instanceof SR.Markup) return value.markup;
    if (Array.isArray(value)) return value.map(SR.piece).join("");
    return SR.escape(value === undefined || value === null ? "" : value);
  },
  Markup: class Markup {
    constructor(markup) { this.markup = markup; }
    toString() { return this.markup; }
  },
  escape(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  },
  size(n) {
    if (n === undefined || n === null) return "";
    const units = ["B", "KiB", "MiB", "GiB"];
    let value = n, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
  },
  ms(t) { return `+${(t / 1000).toFixed(3)}s`; },
  showError(error) {
    const box = document.getElementById("error");
    if (!box) return;
    box.textContent = error ? String(error.message || error) : "";
    box.hidden = !error;
  },
};
