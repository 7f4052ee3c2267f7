// The QA console: a snapshot from /_sim/console/rows, then live changes from /_sim/events.
// Plain DOM, no framework: the list is virtualised (only the rows in view exist) and every change
// is applied to the one row it touches, so 20,000 messages stay fluid and a selection survives.
"use strict";

const CFG = window.LYNSMS;
const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
};
const ROW_H = 58;
const OVERSCAN = 8;

// ---- state -------------------------------------------------------------------------------------
const state = {
  view: "messages",
  rows: new Map(),      // id -> row (messages out and in, rejected sends)
  ordered: [],          // every row, oldest first
  shown: [],            // the rows passing the filters, oldest first (index from the end = newest first)
  journal: new Map(),   // seq -> journal entry
  journalOrder: [],     // seqs, oldest first
  journalShown: [],
  selected: null,       // id (messages) or seq (journal)
  handset: null,
  filters: { q: "", num: "", provider: "", status: "", since: "", until: "" },
  unseen: 0,
  gateway: null,
};

// ---- URL: the view, filters and selection, so a link can go into a bug report --------------------
function readUrl() {
  const p = new URLSearchParams(location.search);
  state.view = ["messages", "conversations", "journal", "control"].includes(p.get("view")) ? p.get("view") : "messages";
  for (const key of Object.keys(state.filters)) state.filters[key] = p.get(key) || "";
  state.selected = p.get("id");
  state.handset = p.get("handset");
}
function writeUrl() {
  const p = new URLSearchParams();
  if (state.view !== "messages") p.set("view", state.view);
  for (const [k, v] of Object.entries(state.filters)) if (v) p.set(k, v);
  if (state.selected !== null && state.selected !== undefined && state.view !== "control") p.set("id", state.selected);
  if (state.handset && state.view === "conversations") p.set("handset", state.handset);
  const query = p.toString();
  history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
}

// ---- filters -----------------------------------------------------------------------------------
const digits = (s) => (s || "").replace(/[^0-9]/g, "");
function matcher() {
  const f = state.filters;
  const q = f.q.trim().toLowerCase();
  const num = digits(f.num);
  const since = f.since ? new Date(f.since).getTime() : null;
  const until = f.until ? new Date(f.until).getTime() : null;
  return (r) => {
    if (f.provider && r.provider !== f.provider) return false;
    if (f.status && r.status !== f.status) return false;
    if (num && !digits(r.to).includes(num) && !digits(r.from).includes(num)) return false;
    if (q && !(r.body || "").toLowerCase().includes(q)) return false;
    if (since !== null || until !== null) {
      const t = r._t ?? (r._t = Date.parse(r.at));
      if (since !== null && t < since) return false;
      if (until !== null && t > until) return false;
    }
    return true;
  };
}
function journalMatcher() {
  const f = state.filters;
  const q = f.q.trim().toLowerCase();
  return (e) => (!f.provider || e.provider === f.provider) && (!q || JSON.stringify(e).toLowerCase().includes(q));
}
function refilter() {
  const test = matcher();
  state.shown = state.ordered.filter(test);
  const jtest = journalMatcher();
  state.journalShown = state.journalOrder.filter((s) => jtest(state.journal.get(s)));
  list.reset();
  updateCount();
  if (state.view === "conversations") { renderHandsets(); renderThread(); }
}
function updateCount() {
  const n = state.view === "journal" ? state.journalShown.length : state.shown.length;
  const total = state.view === "journal" ? state.journalOrder.length : state.ordered.length;
  const text = n === total ? `${total} ${state.view === "journal" ? "entries" : "messages"}` : `${n} of ${total}`;
  const count = $("#count"), empty = $("#empty"), hide = n !== 0 || state.view === "control";
  if (count.textContent !== text) count.textContent = text;
  if (empty.hidden !== hide) empty.hidden = hide; // unchanged: no restyle
}

// ---- the virtualised list ------------------------------------------------------------------------
const list = {
  box: null, spacer: null, layer: null, nodes: new Map(), // key -> {node, version, ...}
  init() {
    this.box = $("#list");
    this.spacer = $(".spacer", this.box);
    this.layer = $(".rows", this.box);
    this.box.addEventListener("scroll", () => {
      if (this.box.scrollTop < ROW_H) clearUnseen();
      this.render();
    }, { passive: true });
    this.box.addEventListener("click", (ev) => {
      const row = ev.target.closest(".row");
      if (row) select(row.dataset.key);
    });
    this.box.addEventListener("keydown", (ev) => this.key(ev));
  },
  items() { return state.view === "journal" ? state.journalShown : state.shown; },
  keyAt(i) { // newest first
    const items = this.items();
    const item = items[items.length - 1 - i];
    return state.view === "journal" ? String(item) : item.id;
  },
  indexOf(key) {
    const items = this.items();
    for (let i = items.length - 1; i >= 0; i--) {
      const k = state.view === "journal" ? String(items[i]) : items[i].id;
      if (k === key) return items.length - 1 - i;
    }
    return -1;
  },
  reset() {
    for (const { node } of this.nodes.values()) node.remove();
    this.nodes.clear();
    this.render();
  },
  render() {
    const n = this.items().length;
    const top = this.box.scrollTop, height = this.box.clientHeight || 800; // read before any write
    this.spacer.style.height = n * ROW_H + "px";
    // Rows sit at their place counted from the oldest, inside a layer that moves down as rows are
    // added on top: a new message moves one layer, not every row on screen.
    this.layer.style.transform = `translateY(${(n - 1) * ROW_H}px)`;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(n - 1, Math.ceil((top + height) / ROW_H) + OVERSCAN);
    const wanted = new Set();
    for (let i = first; i <= last; i++) {
      const key = this.keyAt(i);
      wanted.add(key);
      const item = state.view === "journal" ? state.journal.get(Number(key)) : state.rows.get(key);
      const version = state.view === "journal" ? `${item.status}|${item.outcome.result || ""}` : `${item.status}|${item.word}|${item.updated}`;
      let held = this.nodes.get(key);
      if (!held) {
        held = { node: el("div", { class: "row", role: "option", id: "row-" + cssId(key) }), version: null, index: -1 };
        held.node.dataset.key = key;
        this.layer.append(held.node);
        this.nodes.set(key, held);
      }
      if (held.version !== version) { // only a row that changed is rewritten
        if (state.view === "journal") held.node.replaceChildren(...journalRow(item));
        else fillMessageRow(held.node, item);
        held.version = version;
      }
      const fromOldest = n - 1 - i;
      if (held.index !== fromOldest) { held.node.style.transform = `translateY(${-fromOldest * ROW_H}px)`; held.index = fromOldest; }
      const selected = key === String(state.selected);
      if (held.selected !== selected) { held.node.setAttribute("aria-selected", String(selected)); held.selected = selected; }
      if (held.place !== i || held.size !== n) { // attributes rewritten only when they change: no restyle per frame
        held.node.setAttribute("aria-posinset", i + 1);
        held.node.setAttribute("aria-setsize", n);
        held.place = i; held.size = n;
      }
    }
    for (const [key, held] of this.nodes) if (!wanted.has(key)) { held.node.remove(); this.nodes.delete(key); }
    this.box.setAttribute("aria-activedescendant", state.selected !== null && wanted.has(String(state.selected)) ? "row-" + cssId(String(state.selected)) : "");
  },
  // New rows were added on top: keep what the tester is looking at where it is.
  inserted(count, fresh) {
    if (this.box.scrollTop > ROW_H / 2) {
      this.box.scrollTop += count * ROW_H;
      state.unseen += count;
      const ind = $("#new-indicator");
      $("span", ind).textContent = state.unseen;
      ind.hidden = false;
    }
    this.render();
    for (const key of fresh) this.nodes.get(key)?.node.classList.add("fresh");
  },
  key(ev) {
    const n = this.items().length;
    if (!n) return;
    let i = state.selected === null ? -1 : this.indexOf(String(state.selected));
    if (ev.key === "ArrowDown" || ev.key === "j") i = Math.min(n - 1, i + 1);
    else if (ev.key === "ArrowUp" || ev.key === "k") i = Math.max(0, i - 1);
    else if (ev.key === "Home") i = 0;
    else if (ev.key === "End") i = n - 1;
    else if (ev.key === "PageDown") i = Math.min(n - 1, i + Math.floor(this.box.clientHeight / ROW_H));
    else if (ev.key === "PageUp") i = Math.max(0, i - Math.floor(this.box.clientHeight / ROW_H));
    else return;
    ev.preventDefault();
    this.scrollTo(i);
    select(this.keyAt(i));
  },
  scrollTo(i) {
    const top = i * ROW_H, box = this.box;
    if (top < box.scrollTop) box.scrollTop = top;
    else if (top + ROW_H > box.scrollTop + box.clientHeight) box.scrollTop = top + ROW_H - box.clientHeight;
  },
};
const cssId = (key) => key.replace(/[^A-Za-z0-9_-]/g, "_");
function clearUnseen() {
  state.unseen = 0;
  $("#new-indicator").hidden = true;
}
// One formatter for every row: toLocaleTimeString builds a new one per call, the list's costliest step.
const clock = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const time = (iso) => {
  const d = new Date(iso);
  return isNaN(d) ? "" : clock.format(d);
};
const badge = (status) => el("span", { class: `badge s-${status}`, text: status });

// A message row is a clone of this, its texts set in place: cheaper than building its elements
// one by one, for every row that scrolls or is pushed into view.
const MESSAGE_ROW = document.createElement("template");
MESSAGE_ROW.innerHTML = '<div class="who"><span class="badge"></span><span></span><b></b><span></span></div>'
  + '<div class="meta"><time></time></div><div class="body"></div><div class="meta"><span></span> · <span class="word"></span></div>';
function fillMessageRow(node, r) {
  if (!node.firstChild) node.append(MESSAGE_ROW.content.cloneNode(true));
  const [who, when, body, meta] = node.children;
  const [status, arrow, number, other] = who.children;
  const inbound = r.dir === "in";
  const cls = `badge s-${r.status}`;
  if (status.className !== cls) status.className = cls;
  // Only what differs is written: a status move re-lays out its badge and word, not the row.
  setText(status, r.status);
  setText(arrow, inbound ? "⇠ " : "");
  setText(number, (inbound ? r.from : r.to) || "?");
  setText(other, inbound ? " → " + (r.to || "") : r.from ? " ← " + r.from : "");
  const at = when.firstChild;
  if (at.dateTime !== r.at) { at.dateTime = r.at; at.title = r.at; at.textContent = time(r.at); }
  setText(body, r.body || "");
  setText(meta.firstChild, r.provider || "");
  setText(meta.lastChild, r.word);
}
const setText = (node, text) => { if (node.textContent !== text) node.textContent = text; };
function journalRow(e) {
  const status = e.status === null ? "…" : String(e.status);
  const kind = e.outcome.kind + (e.outcome.result ? ` · ${e.outcome.result}` : "") + (e.outcome.rule ? ` · rule ${e.outcome.rule}` : "");
  return [
    el("div", { class: "who" }, el("b", { text: `#${e.seq} ${e.method}` }), " ", el("span", { text: e.path })),
    el("div", { class: "meta" }, el("time", { datetime: e.at, text: time(e.at) })),
    el("div", { class: "body", text: `${kind} · ${e.duration_ms} ms` }),
    el("div", { class: "meta" }, `${status} · ${e.provider || "-"}`),
  ];
}

// ---- applying changes ----------------------------------------------------------------------------
// Changes are recorded into a `Drawn` tally and drawn once per frame (`redraw`): a burst of events
// costs one layout, not one per event.
const drawn = () => ({ added: 0, fresh: [], visible: false, gone: new Set(), refilter: false, journalAdded: 0, journal: false });
const filtering = () => Object.values(state.filters).some(Boolean);
function putRows(rows, test, d) {
  const narrowed = filtering();
  for (const r of rows) {
    const old = state.rows.get(r.id);
    if (!old) {
      state.rows.set(r.id, r);
      state.ordered.push(r);
      if (test(r)) { state.shown.push(r); d.added++; d.fresh.push(r.id); }
      continue;
    }
    if (old.updated > r.updated) continue; // a snapshot older than an event already applied
    const was = narrowed && test(old);
    Object.assign(old, r);
    delete old._t;
    changed(old, was, narrowed, test, d);
  }
}
function putMoves(moves, test, d) {
  const narrowed = filtering();
  for (const [id, status, word, error, updated] of moves) {
    const row = state.rows.get(id);
    if (!row || row.updated > updated) continue;
    const was = narrowed && test(row);
    row.status = status; row.word = word; row.error = error; row.updated = updated;
    changed(row, was, narrowed, test, d);
  }
}
function changed(row, was, narrowed, test, d) {
  if (narrowed) {
    const is = test(row);
    if (was && !is) d.gone.add(row);
    else if (!was && is) d.refilter = true; // it joins the list at its place in time
  }
  if (list.nodes.has(row.id)) d.visible = true;
  if (state.selected === row.id) refreshDetail();
}
function putJournal(entries, d) {
  const jtest = journalMatcher();
  for (const e of entries) {
    if (!state.journal.has(e.seq)) {
      state.journalOrder.push(e.seq);
      if (jtest(e)) { state.journalShown.push(e.seq); d.journalAdded++; }
    }
    state.journal.set(e.seq, e);
    d.journal = true;
    if (state.view === "journal" && String(state.selected) === String(e.seq)) renderJournalDetail(e);
  }
}
function redraw(d, live) {
  if (d.refilter) state.shown = state.ordered.filter(matcher());
  else if (d.gone.size) state.shown = state.shown.filter((r) => !d.gone.has(r));
  const moved = d.added || d.gone.size || d.refilter;
  if (state.view === "messages") {
    if (d.added && live) list.inserted(d.added, d.fresh);
    else if (moved || d.visible) list.render();
    if (moved) updateCount();
  } else if (state.view === "conversations" && (moved || d.visible)) {
    scheduleConversations();
  } else if (state.view === "control" && d.added) {
    scheduleActive(); // a new send may have hit a rule
  }
  if (d.journal) {
    if (state.journalOrder.length > 20000) { // the simulator keeps a bounded journal too
      const gone = state.journalOrder.splice(0, state.journalOrder.length - 20000);
      for (const s of gone) state.journal.delete(s);
      state.journalShown = state.journalShown.filter((s) => state.journal.has(s));
    }
    if (state.view === "journal") { d.journalAdded ? list.inserted(d.journalAdded, []) : list.render(); updateCount(); }
  }
}

// ---- the live stream: events wait in an inbox, applied within a budget once per frame --------------
const BUDGET_MS = 5;  // main thread per frame for live changes: scrolling and typing stay smooth
const SLICE = 100;    // rows, moves or entries applied between two looks at the clock
const inbox = [];     // {kind, data (JSON text), items (parsed, once reached), at (applied so far)}
let frameAsked = false;
let loading = false;  // a snapshot is on its way: changes wait, then apply on top of it
function receive(kind, data) {
  inbox.push({ kind, data, items: null, at: 0 });
  askFrame();
}
function askFrame() {
  if (frameAsked || loading) return;
  frameAsked = true;
  requestAnimationFrame(applyInbox);
  setTimeout(applyInbox, 250); // a hidden tab gets no frames: its changes still apply, less often
}
const EVENT_ITEMS = { rows: "rows", status: "moves", journal: "entries" };
function applyInbox() {
  if (!frameAsked) return; // the frame or the timer came first and did the work
  frameAsked = false;
  const start = performance.now();
  const d = drawn();
  const test = matcher();
  while (inbox.length && !loading) {
    const ev = inbox[0];
    if (ev.kind === "reset") {
      inbox.shift();
      state.selected = null;
      showDetail();
      loadSnapshot();
      break;
    }
    ev.items ??= JSON.parse(ev.data)[EVENT_ITEMS[ev.kind]];
    const slice = ev.items.slice(ev.at, ev.at + SLICE);
    ev.at += slice.length;
    if (ev.kind === "rows") putRows(objects(fields.row, slice), test, d);
    else if (ev.kind === "status") putMoves(slice, test, d);
    else putJournal(objects(fields.journal, slice), d);
    if (ev.at >= ev.items.length) inbox.shift();
    if (performance.now() - start > BUDGET_MS) break;
  }
  redraw(d, true);
  if (inbox.length) askFrame();
}

// ---- loading -------------------------------------------------------------------------------------
let source = null;
let stream = null; // the open stream's number, to ask it for journal entries
// Rows and journal entries travel as arrays; the field names come once, with the snapshot or hello.
const fields = { row: [], journal: [] };
function objects(names, arrays) {
  const out = new Array(arrays.length);
  for (let i = 0; i < arrays.length; i++) {
    const a = arrays[i], o = {};
    for (let j = 0; j < names.length; j++) o[names[j]] = a[j];
    out[i] = o;
  }
  return out;
}
const FIRST_SCREEN = 60; // rows read first, so the newest show at once however many there are
function fill(data) {
  state.gateway = data.gateway;
  state.rows.clear(); state.ordered = []; state.shown = [];
  putRows(objects(data.fields, data.rows), () => false, drawn());
  refilter();
}
// The newest rows, read while the stream connects: shown until the whole snapshot replaces them.
async function showNewest() {
  let first;
  try { first = await fetchJson(`/_sim/console/rows?last=${FIRST_SCREEN}`); } catch { return; }
  if (state.complete) return; // the whole snapshot came first
  fill(first);
  if (first.rows.length === FIRST_SCREEN) $("#count").textContent = "loading all…";
  performance.mark("lynsms:snapshot-shown"); // read by benchmarks/console_bench.py
}
// Every row, read once the stream is open (its hello); changes that arrive meanwhile wait in the
// inbox and apply on top (dropping them would lose what was sent during the load, applying them
// first would let the snapshot undo them).
async function loadSnapshot() {
  loading = true;
  frameAsked = false;
  try {
    const all = await fetchJson("/_sim/console/rows");
    state.journal.clear(); state.journalOrder = []; state.journalShown = []; state.journalLoaded = false;
    fill(all);
    state.complete = true;
    if (!performance.getEntriesByName("lynsms:snapshot-shown").length) performance.mark("lynsms:snapshot-shown");
    performance.mark("lynsms:snapshot-complete");
  } catch (err) {
    toast(`Cannot load the messages: ${err.message}`);
  } finally {
    loading = false;
  }
  askFrame();
  if (state.view === "journal") await loadJournal();
  if (state.selected !== null) {
    const i = list.indexOf(String(state.selected));
    if (i >= 0) list.scrollTo(i);
    showDetail();
  }
}
// The journal is read when its view is first opened: until then the stream does not carry it.
async function loadJournal() {
  if (state.journalLoaded) return;
  state.journalLoaded = true;
  // Asked before the list is read, so no entry falls between the two.
  try { await journalWanted(true); } catch { /* the stream reconnected meanwhile: its hello loads the journal again */ }
  const data = await fetchJson("/_sim/console/journal");
  putJournal(objects(data.fields, data.entries), drawn());
  state.journalOrder.sort((a, b) => a - b);
  refilter();
}
const journalWanted = (on) => fetchJson(`/_sim/events/${stream}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ journal: on }) });
// Leaving the journal: the stream stops carrying it and the page forgets it (read again on return).
function dropJournal() {
  if (!state.journalLoaded) return;
  state.journalLoaded = false;
  state.journal.clear(); state.journalOrder = []; state.journalShown = [];
  journalWanted(false).catch(() => {}); // a stream that is gone carries nothing anyway
}
function connect() {
  source = new EventSource("/_sim/events");
  const live = $("#live");
  source.addEventListener("hello", (ev) => {
    const hello = JSON.parse(ev.data);
    fields.row = hello.fields; fields.journal = hello.journal; stream = hello.stream;
    live.textContent = "live"; live.className = "live on";
    loadSnapshot();
  });
  for (const kind of ["rows", "status", "journal", "reset"]) source.addEventListener(kind, (ev) => receive(kind, ev.data));
  source.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
}
async function fetchJson(url, options) {
  const response = await fetch(url, options);
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    const err = new Error((data && (data.error || data.message || data.detail)) || `${response.status} ${response.statusText}`);
    err.status = response.status;
    err.data = data;
    throw err;
  }
  return data;
}
function toast(text) {
  const t = $("#toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
}

// ---- selection and the detail pane -----------------------------------------------------------------
function select(key) {
  state.selected = key;
  writeUrl();
  list.render();
  showDetail();
}
const detailBox = () => $("#detail");
const sections = new Map(); // section name -> JSON it was drawn from, so an update redraws only what changed
function showDetail() {
  const box = detailBox();
  const split = $("#view-list");
  sections.clear();
  const open = !(state.selected === null || state.selected === undefined || state.view === "control");
  document.body.classList.toggle("detail-open", open);
  if (!open) { // wide screens keep the pane, with a word on what it shows (phones hide it: CSS)
    const what = state.view === "journal" ? "an entry to see its request and answer in full"
      : "a message (click it, or ↑/↓ in the list) to see its provider request and answer, delivery reports, the rule that decided and its segment map";
    box.hidden = false; split.classList.remove("has-detail");
    box.replaceChildren(el("p", { class: "empty", text: `Pick ${what}.` }));
    return;
  }
  box.hidden = false;
  split.classList.add("has-detail");
  box.replaceChildren();
  if (state.view === "journal") {
    const e = state.journal.get(Number(state.selected));
    if (e) renderJournalDetail(e);
    return;
  }
  refreshDetail();
}
let detailTimer = null;
function refreshDetail() { // coalesce bursts of changes to the selected message
  clearTimeout(detailTimer);
  detailTimer = setTimeout(loadDetail, 30);
}
async function loadDetail() {
  const id = state.selected;
  if (id === null || state.view === "journal") return;
  let d;
  try { d = await fetchJson(`/_sim/console/messages/${encodeURIComponent(id)}`); }
  catch (err) { detailBox().replaceChildren(backButton(), el("p", { class: "empty", text: err.message })); return; }
  if (state.selected !== id) return;
  renderDetail(d);
}
function backButton() {
  return el("button", { type: "button", class: "back", onclick: () => { state.selected = null; writeUrl(); list.render(); showDetail(); } }, "← Back");
}
function section(name, data, draw) {
  const box = detailBox();
  const json = JSON.stringify(data);
  let node = box.querySelector(`[data-section="${name}"]`);
  if (node && sections.get(name) === json) return; // unchanged: leave it (and any selection in it) alone
  const fresh = el("section", { "data-section": name }, ...draw(data));
  if (node) node.replaceWith(fresh); else box.append(fresh);
  sections.set(name, json);
}
function renderDetail(d) {
  const r = d.row;
  section("head", r, () => [
    backButton(),
    el("h2", {}, badge(r.status), el("span", { class: "word", text: r.word }), el("span", { text: r.dir === "in" ? `${r.from} → ${r.to}` : `to ${r.to}` })),
    el("dl", { class: "kv" },
      ...kv("Id", r.id), ...kv("Provider", `${r.provider} (account ${r.account || "-"})`), ...kv("From", r.from || "-"),
      ...kv("To", r.to || "-"), ...kv("Created", r.at), ...kv("Updated", r.updated),
      ...(r.error ? kv("Error code", r.error) : []),
      ...(r.segments ? kv("Segments", `${r.segments} (${r.encoding})`) : [])),
  ]);
  section("body", r.body, () => [el("h3", { text: "Body" }), el("div", { class: "msg-body", tabindex: "0", "aria-label": "Message body", text: r.body || "" })]);
  section("actions", { id: r.id, dir: r.dir, has: !!d.message }, () => actions(r, !!d.message));
  section("segments", d.segment_map, segmentMap);
  if (r.dir === "in") { section("pushes", d.pushes || [], (p) => [el("h3", { text: "Pushes to the inbound URL" }), attemptsList(p)]); return; }
  section("timeline", { reports: d.reports, callbacks: d.callbacks }, (t) => timeline(t));
  section("rule", d.rule, (rule) => ruleView(rule, d.request));
  section("raw", d.request, (req) => rawView(req));
  if (state.gateway && d.message) section("gateway", { id: r.id, updated: r.updated }, () => gatewaySide(r.id));
}
const kv = (k, v) => [el("dt", { text: k }), el("dd", { text: String(v) })];
function actions(r, accepted) {
  const buttons = [];
  if (accepted) {
    for (const status of ["delivered", "undelivered", "failed"]) {
      buttons.push(el("button", { type: "button", onclick: () => mark(r.id, status) }, `Mark ${status}`));
    }
  }
  buttons.push(el("a", { href: `/_sim/console/messages/${encodeURIComponent(r.id)}`, download: `${r.id}.json` }, "Message as JSON"));
  if (r.dir === "out" && r.to) buttons.push(el("button", { type: "button", onclick: () => openConversation(r.to) }, "Conversation"));
  return [el("div", { class: "row-actions", role: "group", "aria-label": "Actions" }, ...buttons)];
}
async function mark(id, status) {
  try {
    await fetchJson(`/_sim/console/messages/${encodeURIComponent(id)}/mark`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ status }) });
    toast(`Marked ${status}: the provider's report goes out now`);
  } catch (err) { toast(`Cannot mark: ${err.message}`); }
}
function segmentMap(m) {
  if (!m) return [];
  const parts = m.parts.map((p, i) => el("div", { class: "seg", "aria-label": `Segment ${i + 1}` },
    el("span", { class: "n", text: `segment ${i + 1} of ${m.segments} · ${p.units} ${m.encoding === "GSM-7" ? "septets" : "UTF-16 units"}` }),
    ...p.runs.map((run) => run.kind === "plain" ? run.text
      : el("mark", { class: run.kind, title: run.kind === "escape" ? "GSM-7 extension: ESC + char, 2 septets" : "not in GSM-7: forces UCS-2" }, run.text))));
  return [
    el("h3", { text: `Segments: ${m.segments} × ${m.encoding}, ${m.units} ${m.encoding === "GSM-7" ? "septets" : "units"}` }),
    el("p", { class: "legend" },
      el("span", {}, el("mark", { class: "escape", text: "€" }), " costs 2 septets (escape)"),
      el("span", {}, el("mark", { class: "ucs2", text: "😀" }), " forced UCS-2")),
    el("div", { class: "segmap" }, ...parts),
  ];
}
function timeline(t) {
  const items = [];
  for (const report of t.reports || []) {
    items.push(el("li", {}, el("b", { text: "report " }), el("code", { class: "word", text: reportWord(report) }), el("pre", { text: JSON.stringify(report, null, 2) })));
  }
  const out = [el("h3", { text: "Delivery reports" }), items.length ? el("ol", { class: "timeline" }, ...items) : el("p", { class: "hint", text: "No report yet." })];
  out.push(el("h3", { text: "Callbacks (each attempt and the answer)" }), attemptsList(t.callbacks || []));
  return out;
}
function reportWord(report) {
  for (const key of ["status", "MessageStatus", "SmsStatus", "status_text", "code"]) {
    const v = report[key];
    if (typeof v === "string") return v;
    if (v && typeof v === "object" && v.name) return v.name;
  }
  const results = report.results;
  if (Array.isArray(results) && results[0] && results[0].status) return results[0].status.name || "";
  return "";
}
function attemptsList(entries) {
  if (!entries.length) return el("p", { class: "hint", text: "None." });
  return el("ol", { class: "timeline" }, ...entries.map((e) => el("li", {},
    el("b", { text: `attempt ${e.outcome.attempt || 1}/${e.outcome.attempts || 1}: ${e.outcome.result || "?"}` }),
    el("span", { class: "sub", text: ` · ${e.status === null ? "no answer" : "HTTP " + e.status} · ${e.duration_ms} ms · ${time(e.at)}` }),
    el("div", { class: "sub", text: `${e.method} ${e.path}${e.outcome.error ? " · " + e.outcome.error : ""}` }),
    e.raw ? el("pre", { text: `answer ${e.raw.status}: ${e.raw.answer}` }) : null)));
}
function ruleView(rule, req) {
  const out = [el("h3", { text: "What decided" })];
  const outcome = req ? req.outcome : null;
  if (!rule) out.push(el("p", { class: "hint", text: "No scenario rule: the default (accept, delivered after 1 s, or the loaded scenario's defaults)." }));
  else out.push(el("dl", { class: "kv" }, ...kv("Rule", rule.name), ...kv("Scenario", rule.scenario || "(not loaded any more)"),
    ...(rule.source ? kv("File", `${rule.source}${rule.line ? ":" + rule.line : ""}`) : []),
    ...(rule.hits !== undefined ? kv("Hits", rule.hits) : []), ...(rule.match ? kv("Match", JSON.stringify(rule.match)) : [])));
  if (outcome) out.push(el("pre", { text: JSON.stringify(outcome, null, 2), "aria-label": "Outcome" }));
  return out;
}
function rawView(req) {
  if (!req) return [];
  const raw = req.raw || {};
  return [
    el("h3", { text: "Provider request and answer" }),
    el("div", { class: "sub word", text: `${req.method} ${req.path} · HTTP ${req.status} · ${req.duration_ms} ms · journal #${req.seq}` }),
    el("pre", { "aria-label": "Raw request body", text: raw.request ?? "(not recorded)" }),
    el("pre", { "aria-label": "Raw answer body", text: raw.answer ?? "(not recorded)" }),
  ];
}
function gatewaySide(id) {
  const box = el("div", {}, el("p", { class: "hint", text: "Loading the gateway's side…" }));
  fetchJson(`/_sim/console/messages/${encodeURIComponent(id)}/gateway`).then((g) => {
    if (g.error) { box.replaceChildren(el("p", { class: "hint", text: g.error })); return; }
    const m = g.message;
    const log = m.attempt_log || [];
    box.replaceChildren(
      el("dl", { class: "kv" }, ...kv("Gateway id", m.id), ...kv("Status", m.status), ...kv("Attempts", m.attempts ?? "-"), ...kv("Provider", m.provider ?? "-")),
      log.length ? el("table", { class: "rules" }, el("thead", {}, el("tr", {}, ...["Provider", "Outcome", "HTTP", "Reason", "ms"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ...log.map((a) => el("tr", {}, el("td", { text: a.provider }), el("td", { text: a.outcome }), el("td", { text: a.http_status ?? "" }), el("td", { text: a.reason ?? "" }), el("td", { text: a.duration_ms ?? "" }))))) : null,
      el("h3", { text: "Gateway events (status, reports, webhooks)" }),
      el("ol", { class: "timeline" }, ...(g.events || []).map((e) => el("li", {},
        el("b", { text: e.type || "event" }), el("span", { class: "sub", text: ` ${e.status ?? ""} ${e.provider ?? ""} ${time(e.at)}` }),
        el("details", {}, el("summary", { text: "event" }), el("pre", { text: JSON.stringify(e, null, 2) }))))));
  }).catch((err) => box.replaceChildren(el("p", { class: "hint", text: err.message })));
  return [el("h3", { text: "Gateway's side" }), box];
}
async function renderJournalDetail(summary) {
  const box = detailBox();
  let e = summary;
  try { e = await fetchJson(`/_sim/console/journal/${summary.seq}`); } catch { /* dropped: show what the stream said */ }
  if (String(state.selected) !== String(summary.seq)) return;
  const raw = e.raw;
  box.replaceChildren(backButton(), el("h2", { text: `#${e.seq} ${e.method} ${e.path}` }),
    el("div", { class: "row-actions" }, el("a", { href: `/_sim/console/journal/${e.seq}`, download: `journal-${e.seq}.json` }, "Entry as JSON"),
      ...(e.message_ids || []).map((id) => el("button", { type: "button", onclick: () => { setView("messages"); select(id); } }, `Open ${id}`))),
    ...(raw ? [el("h3", { text: "Request body" }), el("pre", { text: raw.request }), el("h3", { text: `Answer (HTTP ${raw.status})` }), el("pre", { text: raw.answer })] : []),
    el("h3", { text: "Entry" }), el("pre", { text: JSON.stringify({ ...e, raw: undefined }, null, 2) }));
}

// ---- conversations -------------------------------------------------------------------------------
let convTimer = null;
// At most one redraw per 100 ms, however steady the traffic (a debounce would never fire under load).
function scheduleConversations() { convTimer ??= setTimeout(() => { convTimer = null; renderHandsets(); renderThread(); }, 100); }
const handsetOf = (r) => (r._h ??= digits(r.dir === "in" ? r.from : r.to)); // kept: this runs over every row
function renderHandsets() {
  const last = new Map();
  for (const r of state.shown) last.set(handsetOf(r), r);
  const items = [...last.entries()].sort((a, b) => (a[1].at < b[1].at ? 1 : -1)).slice(0, 500);
  $("#handsets").replaceChildren(...items.map(([h, r]) => el("li", {}, el("button", {
    type: "button", "aria-current": String(h === digits(state.handset)), onclick: () => openConversation(r.dir === "in" ? r.from : r.to),
  }, el("b", { text: r.dir === "in" ? r.from : r.to }), el("span", { class: "last", text: `${r.dir === "in" ? "⇠ " : ""}${r.body}` })))));
}
function openConversation(number) {
  state.handset = number;
  setView("conversations");
}
let threadFor = null; // the handset whose thread (and reply box) is on screen
function renderThread() {
  const box = $("#thread");
  const split = $("#view-conversations");
  if (!state.handset) { threadFor = null; split.classList.remove("has-detail"); box.replaceChildren(el("p", { class: "empty", text: "Pick a handset." })); return; }
  split.classList.add("has-detail");
  const h = digits(state.handset);
  const msgs = state.ordered.filter((r) => handsetOf(r) === h);
  const lastOut = msgs.findLast((r) => r.dir === "out");
  if (threadFor !== state.handset || !box.querySelector(".bubbles")) {
    // Built once per handset: live updates redraw the bubbles only, never what is being typed.
    const input = el("input", { id: "reply-body", type: "text", required: true, autocomplete: "off" });
    const form = el("form", { class: "reply", onsubmit: (ev) => { ev.preventDefault(); reply(box.lastOut, input); } },
      el("label", { for: "reply-body" }, el("span", { class: "reply-label" }), input),
      el("button", { type: "submit", class: "primary" }, "Send reply"));
    box.replaceChildren(el("button", { type: "button", class: "back", onclick: () => { state.handset = null; writeUrl(); renderThread(); } }, "← Back"),
      el("h2", { text: state.handset }), el("div", { class: "bubbles", role: "log", "aria-label": `Messages with ${state.handset}` }), form);
    threadFor = state.handset;
    box.drawnAs = null;
  }
  box.lastOut = lastOut;
  $(".reply-label", box).textContent = `Reply as ${state.handset}${lastOut ? ` to ${lastOut.from} via ${lastOut.provider}` : " (no message to reply to yet)"}`;
  $(".reply button", box).disabled = !lastOut;
  // The newest THREAD_MAX bubbles, redrawn only when one of them changed.
  const shown = msgs.slice(-THREAD_MAX);
  const drawnAs = `${msgs.length}|${shown.map((r) => r.id + r.status + r.word).join("|")}`;
  if (box.drawnAs === drawnAs) return;
  box.drawnAs = drawnAs;
  const older = msgs.length - shown.length;
  $(".bubbles", box).replaceChildren(
    ...(older ? [el("p", { class: "hint", text: `${older} older messages not shown: the Messages view with this number as filter has them all.` })] : []),
    ...shown.map((r) => el("div", { class: `bubble ${r.dir}` },
      r.body || "", el("span", { class: "sub", text: `${time(r.at)} · ${r.provider} · ${r.status}${r.word && r.word !== r.status ? " (" + r.word + ")" : ""}` }))));
}
const THREAD_MAX = 100;
async function reply(lastOut, input) {
  if (!lastOut) return;
  const body = { provider: lastOut.provider, from: state.handset, to: lastOut.from, body: input.value, account: lastOut.account };
  try {
    const data = await fetchJson("/_sim/inbound", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    input.value = "";
    toast(`Reply sent${data && data.url ? " to " + data.url : ""}`);
  } catch (err) {
    if (err.status === 404 || err.status === 405) toast("Replying as a handset needs two-way SMS (POST /_sim/inbound), which this simulator does not have yet.");
    else if (err.status === 409) toast(`Nowhere to deliver the reply: ${err.message}. Register an inbound URL for ${lastOut.provider} first.`);
    else toast(`Reply refused: ${err.message}`);
  }
}

// ---- control: switches, library, loaded scenarios -----------------------------------------------
async function renderControl() {
  const [sw, lib] = await Promise.all([fetchJson("/_sim/console/switches"), fetchJson("/_sim/console/library")]);
  drawSwitches(sw);
  $("#library").replaceChildren(...(lib.scenarios.length ? lib.scenarios.map((s) => el("li", {},
    el("b", { text: s.name }), el("span", { class: "desc", text: s.description }),
    el("button", { type: "button", onclick: () => loadLibrary(s.name), "aria-label": `Load ${s.name}` }, "Load"))) : [el("li", { text: `No library folder found (looked in ${lib.folders.join(", ") || "./scenarios"}).` })]));
  drawActive();
}
function drawSwitches(sw) {
  const body = $("#switches tbody");
  body.replaceChildren(...CFG.providers.map((p) => {
    const s = sw.switches[p];
    const toggle = (what, label) => el("button", { type: "button", "aria-pressed": String(!!s[what]), "aria-label": `${p} ${label}`, onclick: () => setSwitch(sw, p, { [what]: !s[what] }) }, label); // pressed = on (its visible word is part of its name)
    const select = el("select", { "aria-label": `${p} rejecting with`, onchange: (ev) => setSwitch(sw, p, { rejecting: ev.target.value || null }) },
      el("option", { value: "", text: "no" }), ...sw.reasons.map((r) => el("option", { value: r, text: r, selected: s.rejecting === r })));
    return el("tr", {}, el("th", { scope: "row", text: p }), el("td", {}, toggle("down", "down")), el("td", {}, toggle("slow", "slow")), el("td", {}, select));
  }));
  $("#switch-yaml").textContent = sw.yaml || "(all switches off: no rule)";
}
async function setSwitch(sw, provider, change) {
  const next = {};
  for (const p of CFG.providers) next[p] = { ...sw.switches[p] };
  Object.assign(next[provider], change);
  try { drawSwitches(await fetchJson("/_sim/console/switches", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(next) })); drawActive(); }
  catch (err) { toast(`Switch refused: ${err.message}`); }
}
async function loadLibrary(name) {
  try { const d = await fetchJson(`/_sim/console/library/${encodeURIComponent(name)}`, { method: "POST" }); toast(`Loaded ${d.scenario.name}`); renderControl(); }
  catch (err) { toast(`Cannot load ${name}: ${err.message}`); }
}
let activeTimer = null;
// At most one redraw of the hit counts per half second, however steady the traffic.
function scheduleActive() { activeTimer ??= setTimeout(() => { activeTimer = null; drawActive(); }, 500); }
async function drawActive() {
  const d = await fetchJson("/_sim/scenario");
  const box = $("#active");
  if (!d.scenarios.length) { box.replaceChildren(el("p", { class: "hint", text: "None: every message is accepted and delivered after 1 s." })); return; }
  box.replaceChildren(...d.scenarios.map((s) => !Object.values(s.rules).some((r) => r.length)
    ? el("div", {}, el("h3", { text: s.name }), el("p", { class: "hint", text: "No rules: its defaults apply to every message." }))
    : el("div", {},
    el("h3", { text: `${s.name}${s.account ? " · account " + JSON.stringify(s.account) : ""}` }),
    el("table", { class: "rules" }, el("thead", {}, el("tr", {}, ...["Provider", "Rule", "Outcome", "Hits"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...Object.entries(s.rules).flatMap(([p, rules]) => rules.map((r) => el("tr", {},
        el("td", { text: p }), el("td", { text: r.name }), el("td", { class: "word", text: JSON.stringify(r.outcome) }),
        el("td", { text: r.times ? `${r.hits} / ${r.times}` : String(r.hits) })))))))));
}

// ---- views ---------------------------------------------------------------------------------------
function setView(view) {
  if (state.view === "journal" && view !== "journal") dropJournal();
  if (state.view !== view && view !== "conversations") state.selected = view === state.view ? state.selected : null;
  state.view = view;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
    tab.tabIndex = tab.dataset.view === view ? 0 : -1; // one stop in the Tab order; arrows for the rest
  }
  $("#view-list").hidden = !(view === "messages" || view === "journal");
  $("#view-conversations").hidden = view !== "conversations";
  $("#view-control").hidden = view !== "control";
  $("#filters").hidden = view === "control";
  $("#list").setAttribute("aria-label", view === "journal" ? "Journal, newest first" : "Messages, newest first");
  writeUrl();
  clearUnseen();
  list.reset();
  updateCount();
  showDetail();
  if (view === "conversations") { renderHandsets(); renderThread(); }
  if (view === "control") renderControl();
  if (view === "journal") loadJournal();
}

function init() {
  readUrl();
  const providerSelect = $("#f-provider");
  for (const p of CFG.providers) providerSelect.append(el("option", { value: p, text: p }));
  const statusSelect = $("#f-status");
  for (const s of CFG.statuses) statusSelect.append(el("option", { value: s, text: s }));
  const inputs = { q: "#f-q", num: "#f-num", provider: "#f-provider", status: "#f-status", since: "#f-since", until: "#f-until" };
  let filterTimer = null;
  for (const [key, sel] of Object.entries(inputs)) {
    const input = $(sel);
    input.value = state.filters[key];
    input.addEventListener("input", () => {
      state.filters[key] = input.value;
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => { writeUrl(); refilter(); }, 80);
    });
  }
  $("#filters").addEventListener("submit", (ev) => ev.preventDefault());
  $("#f-clear").addEventListener("click", () => {
    for (const [key, sel] of Object.entries(inputs)) { state.filters[key] = ""; $(sel).value = ""; }
    writeUrl(); refilter();
  });
  const tabs = [...document.querySelectorAll("[role=tab]")];
  for (const tab of tabs) tab.addEventListener("click", () => setView(tab.dataset.view));
  $("[role=tablist]").addEventListener("keydown", (ev) => { // the tabs pattern: arrows move between views
    const at = tabs.findIndex((t) => t.dataset.view === state.view);
    const to = ev.key === "ArrowRight" ? at + 1 : ev.key === "ArrowLeft" ? at - 1 : ev.key === "Home" ? 0 : ev.key === "End" ? tabs.length - 1 : null;
    if (to === null) return;
    ev.preventDefault();
    const tab = tabs[(to + tabs.length) % tabs.length];
    setView(tab.dataset.view);
    tab.focus();
  });
  $("#new-indicator").addEventListener("click", () => { list.box.scrollTop = 0; clearUnseen(); list.box.focus(); });
  $("#copy-yaml").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText($("#switch-yaml").textContent); toast("YAML copied"); }
    catch { const r = document.createRange(); r.selectNodeContents($("#switch-yaml")); getSelection().removeAllRanges(); getSelection().addRange(r); toast("Selected: press Ctrl+C"); }
  });
  const dialog = $("#confirm-reset");
  $("#reset").addEventListener("click", () => dialog.showModal());
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "reset") return;
    try { await fetchJson("/_sim/reset", { method: "POST" }); toast("Simulator reset"); } catch (err) { toast(`Reset failed: ${err.message}`); }
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "/" && !/INPUT|SELECT|TEXTAREA/.test(document.activeElement.tagName)) { ev.preventDefault(); $("#f-q").focus(); }
    if (ev.key === "Escape" && state.selected !== null && !dialog.open) { state.selected = null; writeUrl(); list.render(); showDetail(); }
  });
  list.init();
  setView(state.view);
  connect();
  showNewest();
}
init();
