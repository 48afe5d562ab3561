// The owners' page: the inventory of the collections the caller owns; add, replace and retire routines.
"use strict";

const TOKEN_KEY = "frontline-assist-token"; // the phone page's: one sign-in per browser
const $ = (id) => document.getElementById(id);
const state = { me: null, rows: [], replacing: null };

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
    cell(tr, row.doc_id);
    cell(tr, row.file);
    cell(tr, row.pages);
    cell(tr, row.chunks);
    cell(tr, row.language);
    cell(tr, row.owner);
    cell(tr, row.valid_from);
    cell(tr, row.replaces);
    cell(tr, row.replaced_by);
    cell(tr, row.review_overdue ? `${row.review_date} (overdue)` : row.review_date, row.review_overdue ? "overdue" : "");
    cell(tr, (row.ingested_at || "").replace("T", " ").slice(0, 16));
    cell(tr, statusText(row), row.status === "failed" ? "failed" : "");
    const actions = cell(tr, "");
    if (row.chunks > 0) {
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
    setStatus($("status"), "");
  } catch (err) {
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

async function retire(row) {
  if (!window.confirm(`Retire “${row.title}”? It stops being answered from at once.`)) return;
  const reason = window.prompt("Why is it retired? (optional)") || "";
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
  start();
});
