// Tollgate admin UI: live refresh of the dashboard and the active-calls
// table. Plain JavaScript, no build step; the pages work without it.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const page = document.body.dataset.page;
  const csrf = document.body.dataset.csrf;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  async function getJSON(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); throw new Error("logged out"); }
    if (!r.ok) throw new Error(url + ": " + r.status);
    return r.json();
  }
  function dur(sec) {
    sec = Math.max(0, Math.floor(sec));
    const h = Math.floor(sec / 3600), m = Math.floor(sec / 60) % 60, s = sec % 60;
    const mm = (h > 0 && m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return (h > 0 ? h + ":" : "") + mm + ":" + ss;
  }

  // chart draws values (numbers) with x labels into a box, as a line or bars.
  function chart(id, points, opts) {
    const box = document.getElementById(id);
    if (!box) return;
    const W = box.clientWidth || 400, H = box.clientHeight || 170, L = 36, B = 18, T = 8;
    const s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img" });
    const vals = points.map(p => p.v);
    let max = Math.max(opts.min || 1, ...vals);
    if (opts.max) max = opts.max;
    const x = i => L + (points.length <= 1 ? 0 : i * (W - L - 4) / (points.length - 1));
    const y = v => T + (H - T - B) * (1 - v / max);
    for (const f of [0, 0.5, 1]) {
      s.appendChild(svg("line", { x1: L, x2: W, y1: y(max * f), y2: y(max * f), class: "axis" }));
      const t = svg("text", { x: L - 4, y: y(max * f) + 3, "text-anchor": "end" });
      t.textContent = (Math.round(max * f * 10) / 10) + (opts.unit || "");
      s.appendChild(t);
    }
    if (points.length) {
      for (const i of [0, points.length - 1]) {
        const t = svg("text", { x: x(i), y: H - 4, "text-anchor": i ? "end" : "start" });
        t.textContent = points[i].label;
        s.appendChild(t);
      }
    }
    if (opts.bars) {
      const bw = Math.max(2, (W - L) / Math.max(points.length, 1) - 3);
      points.forEach((p, i) => {
        const xi = L + i * (W - L) / Math.max(points.length, 1);
        s.appendChild(svg("rect", { x: xi, y: y(p.v), width: bw, height: Math.max(0, H - B - y(p.v)), fill: opts.color, rx: 2 }));
      });
    } else if (points.length) {
      const d = points.map((p, i) => (i ? "L" : "M") + x(i).toFixed(1) + " " + y(p.v).toFixed(1)).join(" ");
      s.appendChild(svg("path", { d: d + " L" + x(points.length - 1) + " " + (H - B) + " L" + L + " " + (H - B) + " Z", fill: opts.color, "fill-opacity": "0.12" }));
      s.appendChild(svg("path", { d: d, fill: "none", stroke: opts.color, "stroke-width": 2 }));
    }
    box.replaceChildren(s);
  }
  const hhmm = t => new Date(t).toISOString().substring(11, 16);

  // lastHours places the hours that had calls on the last n hours (the
  // dashboard's picked range), empty hours at 0, so that a bar's place and
  // width say when: the server sends only the hours with calls.
  function lastHours(hours, field, n) {
    const H = 3600e3, at = new Map(hours.map(h => [Math.floor(Date.parse(h.t) / H), h[field]]));
    const end = Math.max(Math.floor(Date.now() / H), ...at.keys());
    const label = n > 24 ? (t => new Date(t).toISOString().substring(5, 13).replace("T", " ")) : hhmm;
    const out = [];
    for (let i = end - n + 1; i <= end; i++) out.push({ v: at.get(i) || 0, label: label(i * H) });
    return out;
  }

  async function dashboard() {
    try {
      const n = Number(document.getElementById("tiles").dataset.hours) || 24;
      const st = await getJSON("/api/v1/stats?minutes=15&hours=" + n);
      document.getElementById("t-active").textContent = st.active_calls;
      document.getElementById("t-cps").textContent = st.cps.toFixed(1);
      chart("chart-active", st.series.map(p => ({ v: p.active, label: hhmm(p.t) })), { color: "#0b5cad", min: 5 });
      chart("chart-cps", st.series.map(p => ({ v: p.cps, label: hhmm(p.t) })), { color: "#1f8a4c", min: 1 });
      if (st.cdr) {
        const c = st.cdr, set = (id, v) => { const e = document.getElementById(id); if (e) e.textContent = v; };
        set("t-asr", c.asr.toFixed(1) + "%"); set("t-acd", Math.round(c.acd_sec) + " s");
        set("t-pdd", Math.round(c.pdd_ms) + " ms"); set("t-calls", c.calls);
        const hours = c.hourly || [];
        chart("chart-asr", lastHours(hours, "asr", n), { color: "#6b46c1", bars: true, max: 100, unit: "%" });
        chart("chart-calls", lastHours(hours, "calls", n), { color: "#0b5cad", bars: true, min: 5 });
      }
      for (const a of st.gateway_attempts || []) {
        const tr = document.querySelector('#attempts-by-outcome tr[data-outcome="' + a.outcome + '"]');
        if (tr) { tr.cells[1].textContent = a.attempts; tr.cells[2].textContent = a.percent.toFixed(1) + "%"; }
      }
      for (const l of st.calls_refused_by_limit || []) {
        const e = document.querySelector('#limit-refusals [data-limit="' + l.limit + '"]');
        if (e) e.textContent = l.calls;
      }
      if (st.nodes) nodeRows(st.nodes);
      const ov = document.getElementById("c-overload");
      if (ov) ov.textContent = st.calls_refused;
    } catch (e) { console.warn(e); }
  }

  function callRow(c, canKill, inCluster) {
    const tr = el("tr", { "data-id": c.id });
    if (inCluster) tr.appendChild(el("td", {}, c.node || ""));
    const cells = [[c.caller], [c.called], [c.account], [c.source, "mono"], [c.route], [c.gateway, "mono"], [c.media_relay], [c.codec]];
    for (const [v, cls] of cells) tr.appendChild(el("td", cls ? { class: cls } : {}, v));
    const st = el("td");
    const cls = c.state === "connected" ? "ok" : (c.state === "ringing" || c.state === "trying") ? "warn" : "muted";
    st.appendChild(el("span", { class: "state " + cls }, c.state));
    tr.appendChild(st);
    tr.appendChild(el("td", { class: "num" }, String(c.attempts)));
    tr.appendChild(el("td", { class: "num" }, dur((Date.now() - Date.parse(c.setup_time)) / 1000)));
    tr.appendChild(el("td", { class: "num" }, c.duration_seconds || c.state === "connected" ? dur(c.duration_seconds) : "—"));
    const act = el("td");
    act.appendChild(el("a", { class: "button small", href: "/calls/" + encodeURIComponent(c.id) }, "Detail"));
    if (canKill) {
      const f = el("form", { method: "post", action: "/calls/" + c.id + "/kill", class: "inline kill" });
      f.appendChild(el("input", { type: "hidden", name: "csrf", value: csrf }));
      if (c.node) f.appendChild(el("input", { type: "hidden", name: "node", value: c.node }));
      f.appendChild(el("button", { type: "submit", class: "danger small" }, "Kill"));
      act.appendChild(f);
    }
    tr.appendChild(act);
    return tr;
  }

  // nodeRows refreshes the cluster's nodes table (calls page, dashboard).
  function nodeRows(nodes) {
    const t = document.getElementById("nodes");
    if (!t) return;
    t.tBodies[0].replaceChildren(...nodes.map(n => {
      const tr = el("tr", { "data-node": n.node });
      tr.appendChild(el("td", {}, n.node));
      const adm = el("td");
      if (n.error) adm.appendChild(el("span", { class: "state bad" }, "no answer"));
      else adm.appendChild(el("span", { class: "state " + (n.admission === "admitting" ? "ok" : "warn") }, n.admission));
      tr.appendChild(adm);
      tr.appendChild(el("td", { class: "num" }, String(n.calls)));
      tr.appendChild(el("td", { class: "num" }, n.calls_per_second.toFixed(1)));
      tr.appendChild(el("td", { class: "muted small" }, n.error || ""));
      return tr;
    }));
  }

  async function calls() {
    const table = document.getElementById("calls");
    const q = new URLSearchParams(location.search).get("q") || "";
    try {
      const r = await getJSON("/api/v1/calls?q=" + encodeURIComponent(q));
      const canKill = table.dataset.canKill === "true";
      const inCluster = table.dataset.cluster === "true";
      const rows = r.calls.map(c => callRow(c, canKill, inCluster));
      if (r.nodes) nodeRows(r.nodes);
      if (!rows.length) {
        const tr = el("tr", { class: "empty" });
        tr.appendChild(el("td", { colspan: "14", class: "muted" }, "No calls up."));
        rows.push(tr);
      }
      table.tBodies[0].replaceChildren(...rows);
      document.getElementById("call-count").textContent = r.count;
    } catch (e) { console.warn(e); }
  }

  // Kill and delete buttons ask first: neither can be undone.
  document.addEventListener("submit", ev => {
    if (ev.target.classList.contains("kill") && !confirm("Hang up this call?")) ev.preventDefault();
    if (ev.target.classList.contains("delete-user") && !confirm("Delete this user and its API tokens?")) ev.preventDefault();
  });

  if (page === "dashboard") { dashboard(); setInterval(dashboard, 5000); }
  if (page === "calls") { setInterval(calls, 2000); }
})();
