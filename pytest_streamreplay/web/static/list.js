// The cassette list: one request per search, rendered as a table.
"use strict";

(function () {
  const tbody = document.querySelector("#cassettes tbody");
  const search = document.getElementById("search");
  const count = document.getElementById("count");
  let pending = 0;

  function row(c) {
    const link = SR.html`<td class="wrap name"><a href="/cassette/${SR.encodeName(c.name)}" title="${c.name}">${c.name}</a></td>`;
    if (c.error) {
      return SR.html`<tr class="unreadable">${link}<td colspan="9" class="wrap"><span class="tag bad">unreadable</span> ${c.error}</td></tr>`;
    }
    const kinds = c.kind.map((k) => SR.html`<span class="tag ${k}">${k}</span>`);
    const n = c.counts;
    return SR.html`<tr>${link}<td class="wrap test" title="${c.test || ""}">${c.test || ""}</td><td class="kinds">${kinds}</td>`
      + SR.html`<td class="num">${n.http}</td><td class="num">${n.ws}</td><td class="num">${n.messages}</td>`
      + SR.html`<td class="num">${n.events}</td><td class="num">${SR.size(c.size)}</td>`
      + SR.html`<td class="num">${c.age}</td><td class="num">${c.version}</td></tr>`;
  }

  async function load() {
    const ticket = ++pending;
    const q = search.value.trim();
    try {
      const body = await SR.api(`/api/cassettes${q ? `?q=${encodeURIComponent(q)}` : ""}`);
      if (ticket !== pending) return;
      SR.showError(null);
      document.getElementById("root").textContent = body.root;
      tbody.innerHTML = body.cassettes.map(row).join("") || SR.html`<tr><td colspan="10" class="muted">no cassettes${q ? " match" : ""}</td></tr>`;
      count.textContent = `${body.count} cassette${body.count === 1 ? "" : "s"}`;
      document.body.dataset.loaded = "1";
    } catch (error) {
      SR.showError(error);
    }
  }

  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(load, 150); });
  load();
})();
