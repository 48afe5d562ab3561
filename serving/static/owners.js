// The owners' page: the inventory of the collections the caller owns; add, replace and retire routines.
"use strict";

const TOKEN_KEY = "frontline-assist-token"; // the phone page's: one sign-in per browser
const $ = (id) => document.getElementById(id);
const state = { me: null, rows: [], replacing: null, retiring: null, loadFailed: false };

function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

function takeTokenFromLink() {
  if (location.hash.startsWith("#token=")) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(location.hash.slice(7)));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function setStatus(el, text, isError = false) {
  el.textContent = text;
  el.classList.toggle("error", isError);
}

// A new action's messages replace the last action's: no old "Added …" beside a new "Retired …".
function clearMessages() {
  setStatus($("status"), "");
  setStatus($("upload-status"), "");
}

async function api(path, options = {}) {
  // A saved token is sent; without one the browser's sign-in session cookie (city account) identifies the caller.
  const auth = token() ? { Authorization: `Bearer ${token()}` } : {};
  const headers = { ...auth, ...(options.headers || {}) };
  const resp = await fetch(path, { ...options, headers });
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  if (!resp.ok) {
    const message = (body && body.error && body.error.message) || `The service answered ${resp.status}.`;
    const err = new Error(message);
    err.status = resp.status;
    throw err;
  }
  return body;
}

function cell(tr, text, cls = "") {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

// A date that never breaks at its hyphens, then the rest of the cell's text (which may wrap).
function dateCell(tr, day, rest = "", cls = "") {
  const td = cell(tr, "", cls);
  const span = document.createElement("span");
  span.className = "day";
  span.textContent = day || "";
  td.append(span, rest);
  return td;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function sizeText(row) {
  const passages = plural(row.chunks, "passage");
  return row.pages ? `${plural(row.pages, "page")}, ${passages}` : passages;
}

// What this routine replaces and what replaces it, in one column (the table fits a 1280 px screen).
function replacementText(row) {
  const parts = [];
  if (row.replaces) parts.push(`replaces ${row.replaces}`);
  if (row.replaced_by) parts.push(`replaced by ${row.replaced_by}`);
  return parts.join("; ");
}

function statusText(row) {
  if (row.status === "failed") return `failed: ${row.reason}`;
  if (row.status === "scheduled") return `scheduled (from ${row.valid_from})`;
  if (row.status === "replaced") return `replaced by ${row.replaced_by}`;
  return row.status;
}

function render() {
  const tbody = $("inventory").querySelector("tbody");
  tbody.replaceChildren();
  for (const row of state.rows) {
    const tr = document.createElement("tr");
    tr.dataset.docId = row.doc_id;
    cell(tr, row.title);
    cell(tr, row.doc_id, "code id");
    cell(tr, row.file, "code file");
    cell(tr, sizeText(row));
    cell(tr, row.language);
    cell(tr, row.owner);
    dateCell(tr, row.valid_from);
    cell(tr, replacementText(row), "code");
    dateCell(tr, row.review_date, row.review_overdue ? " (overdue)" : "", row.review_overdue ? "overdue" : "");
    const ingested = (row.ingested_at || "").replace("T", " ").slice(0, 16);
    dateCell(tr, ingested.slice(0, 10), ingested.slice(10));
    cell(tr, statusText(row), row.status === "failed" ? "failed" : "");
    const actions = cell(tr, "", "actions");
    // A replaced routine is no longer answered from: its replacement is the one to replace or retire.
    if (row.chunks > 0 && !row.replaced) {
      const rep = document.createElement("button");
      rep.type = "button";
      rep.className = "secondary";
      rep.textContent = "Replace";
      rep.setAttribute("aria-label", `Replace ${row.title}`);
      rep.addEventListener("click", () => startReplace(row));
      const ret = document.createElement("button");
      ret.type = "button";
      ret.className = "secondary";
      ret.textContent = "Retire";
      ret.setAttribute("aria-label", `Retire ${row.title}`);
      ret.addEventListener("click", () => retire(row));
      actions.append(rep, ret);
    }
    tbody.appendChild(tr);
  }
  $("count").textContent = `${state.rows.length} routine${state.rows.length === 1 ? "" : "s"}`;
}

async function loadInventory() {
  const params = new URLSearchParams({ collection: $("collection").value, q: $("search").value.trim() });
  if ($("only-overdue").checked) params.set("overdue", "true");
  if ($("only-failed").checked) params.set("failed", "true");
  if ($("only-replaced").checked) params.set("replaced", "true");
  try {
    state.rows = await api(`/api/owners/documents?${params}`);
    render();
    // Clear only a failed load's message: "Retired …" stays after the refresh that follows it.
    if (state.loadFailed) setStatus($("status"), "");
    state.loadFailed = false;
  } catch (err) {
    state.loadFailed = true;
    setStatus($("status"), err.message, true);
  }
}

async function loadChanges() {
  try {
    const changes = await api("/api/owners/changes");
    const list = $("changes");
    list.replaceChildren();
    for (const c of changes.slice(0, 20)) {
      const li = document.createElement("li");
      li.textContent = `${c.time.replace("T", " ").slice(0, 16)} ${c.action} ${c.collection}/${c.doc_id} (${c.title}) by ${c.role}`;
      list.appendChild(li);
    }
  } catch (err) { /* the inventory's status line already says what is wrong */ }
}

function startReplace(row) {
  clearMessages();
  state.replacing = row;
  const note = $("replacing");
  note.textContent = `Replacing “${row.title}” (${row.doc_id}). It stays in force until the new routine's valid-from day.`;
  note.hidden = false;
  $("upload").textContent = "Upload replacement";
  $("cancel-replace").hidden = false;
  $("collection").value = row.collection;
  $("file").focus();
}

function stopReplace() {
  state.replacing = null;
  $("replacing").hidden = true;
  $("upload").textContent = "Add routine";
  $("cancel-replace").hidden = true;
}

async function upload(e) {
  e.preventDefault();
  const file = $("file").files[0];
  if (!file) return;
  const collection = state.replacing ? state.replacing.collection : $("collection").value;
  const params = new URLSearchParams({ collection, filename: file.name });
  if ($("title").value.trim()) params.set("title", $("title").value.trim());
  if ($("valid-from").value) params.set("valid_from", $("valid-from").value);
  if ($("review-date").value) params.set("review_date", $("review-date").value);
  const path = state.replacing
    ? `/api/owners/documents/${encodeURIComponent(state.replacing.doc_id)}/replace?${params}`
    : `/api/owners/documents?${params}`;
  $("upload").disabled = true;
  clearMessages();
  setStatus($("upload-status"), "Uploading and ingesting…");
  try {
    const out = await api(path, { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } });
    const what = out.action === "replace" ? `Replacement ${out.doc_id} saved` : `Added ${out.doc_id}`;
    setStatus($("upload-status"), `${what}: “${out.title}”, ${out.detail.chunks} passages.`);
    $("upload-form").reset();
    stopReplace();
    await Promise.all([loadInventory(), loadChanges()]);
  } catch (err) {
    setStatus($("upload-status"), `Refused: ${err.message}`, true);
  } finally {
    $("upload").disabled = false;
  }
}

// Retiring asks first, in the page (not window.confirm, which a browser may dismiss on its own): the question
// stays open, whatever else refreshes, until the owner answers Retire or Keep it.
function retire(row) {
  clearMessages();
  const dialog = $("retire-dialog");
  state.retiring = row;
  $("retire-question").textContent = `Retire “${row.title}” (${row.doc_id})? It stops being answered from at once.`;
  $("retire-reason").value = "";
  dialog.returnValue = "";
  dialog.showModal();
  $("retire-reason").focus();
}

async function retireAnswered() {
  const row = state.retiring;
  state.retiring = null;
  if (!row || $("retire-dialog").returnValue !== "retire") return;
  const reason = $("retire-reason").value.trim();
  try {
    const path = `/api/owners/documents/${encodeURIComponent(row.doc_id)}/retire?collection=${encodeURIComponent(row.collection)}`;
    await api(path, { method: "POST", body: JSON.stringify({ reason }), headers: { "Content-Type": "application/json" } });
    setStatus($("status"), `Retired ${row.doc_id}.`);
    await Promise.all([loadInventory(), loadChanges()]);
  } catch (err) {
    setStatus($("status"), err.message, true);
  }
}

async function start() {
  takeTokenFromLink();
  try {
    state.me = await api("/api/owners/me");
  } catch (err) {
    if (err.status === 401) $("signin").hidden = false;
    setStatus($("status"), err.message, true);
    return;
  }
  $("signin").hidden = true;
  $("who").textContent = `Signed in as ${state.me.role}: ${state.me.collections.join(", ")}`;
  const select = $("collection");
  select.replaceChildren();
  for (const c of state.me.collections) select.appendChild(new Option(c, c));
  // A link from the gaps page opens the routine it names: /owners?q=<doc id>&collection=<collection>.
  const wanted = new URLSearchParams(location.search);
  if (wanted.get("collection") && state.me.collections.includes(wanted.get("collection"))) {
    select.value = wanted.get("collection");
  }
  if (wanted.get("q")) $("search").value = wanted.get("q");
  $("desk").hidden = false;
  await Promise.all([loadInventory(), loadChanges()]);
}

document.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("token").value.trim();
    if (value) localStorage.setItem(TOKEN_KEY, value);
    $("token").value = "";
    start();
  });
  let timer = null;
  $("filters").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(loadInventory, 250); });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); loadInventory(); });
  $("upload-form").addEventListener("submit", upload);
  $("cancel-replace").addEventListener("click", stopReplace);
  $("retire-dialog").addEventListener("close", retireAnswered);
  start();
});
