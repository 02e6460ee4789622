// perpwire dashboard: one WebSocket (snapshot, then per-panel updates), tables that sort and
// filter, an SVG chart of one pair's funding over the last day. No build step, no libraries.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token");
const MAX_ROWS = 200; // rendered rows per table: the rest are counted, never drawn
const MAX_EVENTS = 300;
const state = { panels: {}, sort: {}, chart: null, events: [] };
// counts a test or a curious person can read from the console: sockets opened, messages by type
window.perpwireStats = { opens: 0, snapshot: 0, update: 0, append: 0 };

function q(token) { return token ? "?token=" + encodeURIComponent(token) : ""; }

function esc(v) {
  return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function num(v, digits) {
  if (v === null || v === undefined || v === "") return "";
  const n = Number(v);
  return Number.isFinite(n) ? n.toFixed(digits) : esc(v);
}

function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = Number(n), i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i];
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "";
  return seconds < 10 ? seconds.toFixed(1) + " s" : seconds < 120 ? seconds.toFixed(0) + " s"
    : (seconds / 60).toFixed(0) + " min";
}

function when(ms) {
  if (!ms) return "";
  const left = (ms - Date.now()) / 1000;
  return new Date(ms).toISOString().slice(11, 16) + (left > 0 ? " (in " + age(left) + ")" : "");
}

function pct(v) { return v === null || v === undefined ? "" : (Number(v) * 100).toFixed(2) + " %"; }

// --- sorting and filtering ------------------------------------------------------------------------

function sorted(table, rows) {
  const s = state.sort[table];
  if (!s) return rows;
  const dir = s.desc ? -1 : 1;
  return rows.slice().sort((a, b) => {
    const x = a[s.key], y = b[s.key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    const nx = Number(x), ny = Number(y);
    if (Number.isFinite(nx) && Number.isFinite(ny)) return (nx - ny) * dir;
    return String(x).localeCompare(String(y)) * dir;
  });
}

function filtered(id, rows, text) {
  const f = document.getElementById(id).value.trim().toLowerCase();
  return f ? rows.filter((r) => text(r).toLowerCase().includes(f)) : rows;
}

document.querySelectorAll("table.sortable").forEach((table) => {
  table.querySelectorAll("th[data-key]").forEach((th) => {
    th.addEventListener("click", () => {
      const prev = state.sort[table.id];
      state.sort[table.id] = { key: th.dataset.key, desc: prev && prev.key === th.dataset.key ? !prev.desc : true };
      table.querySelectorAll("th").forEach((h) => h.classList.remove("asc", "desc"));
      th.classList.add(state.sort[table.id].desc ? "desc" : "asc");
      render(table.id);
    });
  });
});
document.getElementById("streams-filter").addEventListener("input", () => render("streams"));
document.getElementById("funding-filter").addEventListener("input", () => render("funding"));
document.getElementById("books-all").addEventListener("change", () => render("books"));

function body(id, html) { document.querySelector("#" + id + " tbody").innerHTML = html; }

// --- panels ---------------------------------------------------------------------------------------

const renderers = {
  streams() {
    const rows = filtered("streams-filter", state.panels.streams || [], (r) => r.key + " " + r.state);
    body("streams", sorted("streams", rows).slice(0, MAX_ROWS).map((r) => r.state === "error"
      ? `<tr data-key="${esc(r.key)}" data-state="error"><td>${esc(r.key)}</td><td class="error">error</td>` +
        `<td colspan="8" class="dim">${esc(r.error)}</td></tr>`
      : `<tr data-key="${esc(r.key)}" data-state="${esc(r.state)}"><td>${esc(r.key)}</td>` +
        `<td class="st ${esc(r.state)}" title="${esc(r.last_error || "")}">${esc(r.state)}` +
        (r.paused && r.resumed_symbols && r.resumed_symbols.length
          ? ` <span class="dim">${esc(r.resumed_symbols.join(","))}</span>` : "") + `</td>` +
        `<td class="num">${num(r.msgs_per_s, 1)}</td><td class="num">${r.bytes_per_s === null ? "" : bytes(r.bytes_per_s)}</td>` +
        `<td class="num">${esc(r.messages)}</td><td class="num">${bytes(r.bytes)}</td>` +
        `<td class="num">${esc(r.reconnects)}</td><td class="num">${esc(r.resyncs)}</td>` +
        `<td class="num">${esc(r.decode_errors)}</td><td class="num">${age(r.last_message_age_s)}</td></tr>`).join(""));
  },
  savings() {
    const s = state.panels.savings || {};
    document.getElementById("savings").innerHTML =
      `<dt>received</dt><dd>${bytes(s.received || 0)}</dd>` +
      `<dt>always on (est.)</dt><dd>${bytes(s.always_on_estimate || 0)}</dd>` +
      `<dt>saved</dt><dd id="saved">${bytes(s.saved || 0)} (${pct(s.saved_fraction || 0)})</dd>` +
      `<dt>saved per month</dt><dd id="saved-month">${bytes(s.saved_per_month || 0)}</dd>`;
  },
  books() {
    const all = document.getElementById("books-all").checked;
    const rows = (state.panels.books || []).filter((b) => all || !b.paused);
    body("books", rows.slice(0, MAX_ROWS).map((b) =>
      `<tr data-state="${esc(b.state)}"><td>${esc(b.venue + "/" + b.stream)}</td><td>${esc(b.symbol)}</td>` +
      `<td class="st ${esc(b.state)}">${esc(b.state)}</td>` +
      `<td class="num">${b.age_ms === null || b.age_ms === undefined ? "" : age(b.age_ms / 1000)}</td></tr>`).join("")
      || `<tr><td colspan="4" class="dim">no resumed book${all ? "" : " (market data is paused)"}</td></tr>`);
  },
  funding() {
    const rows = (state.panels.funding || []).map((o) => Object.assign({}, o, {
      long: o.long_venue + ":" + o.long_symbol, short: o.short_venue + ":" + o.short_symbol }));
    const shown = sorted("funding", filtered("funding-filter", rows, (o) => o.asset + " " + o.long + " " + o.short));
    document.getElementById("funding-count").textContent = shown.length > MAX_ROWS
      ? `showing ${MAX_ROWS} of ${shown.length}` : `${shown.length} spreads`;
    body("funding", shown.slice(0, MAX_ROWS).map((o, i) =>
      `<tr data-row="${i}" data-long="${esc(o.long)}" data-short="${esc(o.short)}"><td>${esc(o.asset)}</td>` +
      `<td>${esc(o.long)}</td><td>${esc(o.short)}</td><td class="num">${num(o.spread_per_hour, 6)}</td>` +
      `<td class="num">${num(o.net_per_hour, 6)}</td><td class="num">${pct(o.annualised)}</td>` +
      `<td class="num">${num(o.long_z, 2)}</td><td class="num">${num(o.short_z, 2)}</td>` +
      `<td class="num">${when(o.next_settlement_ms)}</td></tr>`).join(""));
  },
  positions() {
    const p = state.panels.positions || {};
    const l = p.ledger || {};
    document.getElementById("ledger").innerHTML = `opened ${esc(l.opened || 0)}, closed ${esc(l.closed || 0)}; ` +
      `PnL price <b>${num(l.price || 0, 4)}</b>, funding <b>${num(l.funding || 0, 4)}</b>, fees ` +
      `<b>${num(l.fees || 0, 4)}</b>, total <b id="pnl-total">${num(l.total || 0, 4)}</b>` +
      (p.holds && p.holds.length ? `<div class="dim">${p.holds.map((h) => esc(h.position + ": " + h.reason)).join("; ")}</div>` : "");
    const rows = [];
    (p.positions || []).slice().reverse().slice(0, MAX_ROWS).forEach((pos) => {
      const legs = pos.legs || [{ side: "long", venue: pos.long, symbol: "" }, { side: "short", venue: pos.short, symbol: "" }];
      legs.forEach((leg, i) => {
        const first = i === 0;
        const stateText = pos.open ? "open" : "closed: " + (pos.close_reason || "");
        rows.push(`<tr data-position="${esc(pos.id)}" data-leg="${esc(leg.side)}" class="${first ? "first" : "leg"}">` +
          `<td>${first ? esc(pos.id) : ""}</td><td>${first ? esc(pos.asset) : ""}</td><td>${esc(leg.side)}</td>` +
          `<td>${esc(leg.symbol ? leg.venue + ":" + leg.symbol : leg.venue)}</td><td class="num">${esc(leg.qty || pos.qty)}</td>` +
          `<td class="num">${esc(leg.entry_price || "")}</td><td class="num">${esc(leg.exit_price || leg.mark_price || "")}</td>` +
          (first ? `<td>${esc(stateText)}</td><td class="num">${num(pos.price, 4)}</td><td class="num">${num(pos.funding, 4)}</td>` +
            `<td class="num">${num(pos.fees, 4)}</td><td class="num">${num(pos.total, 4)}</td>` : `<td colspan="5"></td>`) + "</tr>");
      });
    });
    body("positions", rows.join("") || `<tr><td colspan="12" class="dim">no positions yet</td></tr>`);
  },
  latency() {
    const lat = state.panels.latency || {};
    document.getElementById("latency").innerHTML = (lat.streams || []).length
      ? `<div>worst stream: p50 <b>${num(lat.worst_p50_ms, 0)} ms</b>, p99 <b>${num(lat.worst_p99_ms, 0)} ms</b></div>` +
        (lat.streams || []).map((s) => `<div class="dim">${esc(s.key)}: ${esc(s.resumes)} resumes, p50 ${num(s.p50_ms, 0)} ms, ` +
          `p99 ${num(s.p99_ms, 0)} ms</div>`).join("")
      : `<div class="dim">no resumes yet</div>`;
    const hist = lat.histogram || {};
    const keys = Object.keys(hist).sort((a, b) => (a === "+Inf" ? 1e12 : Number(a)) - (b === "+Inf" ? 1e12 : Number(b)));
    const svg = document.getElementById("latency-hist");
    const w = svg.clientWidth || 300, h = 90, bw = keys.length ? w / keys.length : w;
    const top = Math.max(1, ...keys.map((k) => hist[k]));
    svg.innerHTML = keys.map((k, i) => {
      const bh = (hist[k] / top) * (h - 28);
      return `<rect x="${i * bw + 2}" y="${h - 16 - bh}" width="${Math.max(1, bw - 4)}" height="${bh}" class="bar"></rect>` +
        `<text x="${i * bw + bw / 2}" y="${h - 3}" text-anchor="middle">${k === "+Inf" ? "more" : "≤" + esc(k)}</text>` +
        `<text x="${i * bw + bw / 2}" y="${h - 19 - bh}" text-anchor="middle">${hist[k] || ""}</text>`;
    }).join("");
  },
  events() {
    const ol = document.getElementById("events");
    ol.innerHTML = state.events.slice().reverse().map((e) =>
      `<li class="ev ${esc(e.kind)}" data-kind="${esc(e.kind)}"><time>${new Date(e.ts_ms).toISOString().slice(11, 19)}</time> ` +
      `<b>${esc(e.kind)}</b> ${esc(e.text)}</li>`).join("");
  },
  meta() {
    const m = state.panels.meta || {};
    document.getElementById("meta").textContent = `rates ${m.rates_ingested || 0}, settlements ${m.settlements || 0}, ` +
      `updated ${m.ts_ms ? new Date(m.ts_ms).toISOString().slice(11, 19) : "-"} UTC`;
  },
};

function render(panel) { if (renderers[panel]) renderers[panel](); }

// --- the chart of one pair ------------------------------------------------------------------------

document.querySelector("#funding tbody").addEventListener("click", (ev) => {
  const tr = ev.target.closest("tr[data-long]");
  if (!tr) return;
  showChart(tr.dataset.long, tr.dataset.short);
});

async function series(leg) {
  const i = leg.indexOf(":");
  const url = "api/funding_history?venue=" + encodeURIComponent(leg.slice(0, i)) + "&symbol=" +
    encodeURIComponent(leg.slice(i + 1)) + (TOKEN ? "&token=" + encodeURIComponent(TOKEN) : "");
  const r = await fetch(url);
  if (!r.ok) throw new Error(leg + ": " + r.status);
  const doc = await r.json();
  // settled rates and the received estimates between them, in time order: one line per leg
  const pts = (doc.settled || []).concat(doc.streamed || []).sort((a, b) => a[0] - b[0]);
  return { leg, since: doc.since_ms, until: doc.until_ms, pts };
}

async function showChart(long, short) {
  state.chart = { long, short };
  const title = document.getElementById("chart-title");
  title.textContent = `loading ${long} / ${short} ...`;
  try {
    const [a, b] = await Promise.all([series(long), series(short)]);
    drawChart([a, b]);
    title.innerHTML = `<span class="l-long">${esc(long)}</span> vs <span class="l-short">${esc(short)}</span>, ` +
      `rate per hour over the last day (${a.pts.length} + ${b.pts.length} points)`;
  } catch (err) {
    title.textContent = "no history: " + err.message;
  }
}

function drawChart(lines) {
  const svg = document.getElementById("chart");
  const w = svg.clientWidth || 600, h = 160, pad = 50;
  const since = Math.min(...lines.map((l) => l.since)), until = Math.max(...lines.map((l) => l.until));
  const vals = lines.flatMap((l) => l.pts.map((p) => p[1]));
  let lo = Math.min(0, ...vals), hi = Math.max(0, ...vals);
  if (hi === lo) hi = lo + 1e-6;
  const x = (t) => pad + ((t - since) / Math.max(1, until - since)) * (w - pad - 8);
  const y = (v) => 8 + (1 - (v - lo) / (hi - lo)) * (h - 28);
  const paths = lines.map((l, i) => `<polyline class="${i ? "l-short" : "l-long"}" fill="none" points="` +
    l.pts.map((p) => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" ") + `"></polyline>`).join("");
  svg.innerHTML = `<line x1="${pad}" x2="${w - 8}" y1="${y(0)}" y2="${y(0)}" class="axis"></line>` +
    `<text x="${pad - 4}" y="${y(hi) + 4}" text-anchor="end">${hi.toExponential(1)}</text>` +
    `<text x="${pad - 4}" y="${y(lo)}" text-anchor="end">${lo.toExponential(1)}</text>` +
    `<text x="${pad}" y="${h - 4}">-24 h</text><text x="${w - 8}" y="${h - 4}" text-anchor="end">now</text>` + paths;
}

// --- the socket -------------------------------------------------------------------------------------

let backoff = 500;
let socket = null;

function setConn(text, up) {
  const el = document.getElementById("conn");
  el.textContent = text;
  el.dataset.state = up ? "live" : text;
  el.className = "conn " + (up ? "up" : "down");
}

function onMessage(ev) {
  const msg = JSON.parse(ev.data);
  window.perpwireStats[msg.type] = (window.perpwireStats[msg.type] || 0) + 1;
  if (msg.type === "snapshot") {
    const boot = msg.panels.meta && msg.panels.meta.boot_ms;
    const fresh = msg.panels.events || [];
    if (state.boot && boot !== state.boot) { // a restarted dashboard: its log starts again, keep ours above it
      state.events = state.events.concat([{ seq: 0, ts_ms: Date.now(), kind: "restart",
        text: "the dashboard restarted: the events above came before" }], fresh).slice(-MAX_EVENTS);
    } else {
      state.events = fresh.slice(-MAX_EVENTS);
    }
    state.boot = boot;
    state.panels = msg.panels;
    Object.keys(renderers).forEach(render);
  } else if (msg.type === "update") {
    state.panels[msg.panel] = msg.data;
    render(msg.panel);
  } else if (msg.type === "append") {
    state.events = state.events.concat(msg.items).slice(-MAX_EVENTS);
    render("events");
  }
}

function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
    location.pathname.replace(/[^/]*$/, "") + "ws" + q(TOKEN);
  socket = new WebSocket(url);
  socket.onopen = () => { backoff = 500; window.perpwireStats.opens++; setConn("live", true); };
  socket.onmessage = onMessage;
  socket.onclose = () => {
    setConn("reconnecting", false);
    setTimeout(connect, backoff);
    backoff = Math.min(5000, backoff * 2);
  };
}

connect();
