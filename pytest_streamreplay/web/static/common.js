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
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(data === undefined ? {} : data),
    });
  },
  /** A cassette name as a URL path: each segment encoded, slashes kept. */
  encodeName(name) { return name.split("/").map(encodeURIComponent).join("/"); },
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
