// The gaps page: lists the topics /api/gaps gives the caller's token, marks topics handled, downloads the CSV.
"use strict";

const TOKEN_KEY = "frontline-assist-token";
const $ = (id) => document.getElementById(id);

function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

function takeTokenFromLink() {
  if (location.hash.startsWith("#token=")) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(location.hash.slice(7)));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;  // never innerHTML: questions are text typed by staff
  return node;
}

async function call(path, options = {}) {
  const resp = await fetch(path, {
    ...options,
    // A saved token is sent; without one the browser's sign-in session cookie (city account) identifies the caller.
    headers: { ...(options.headers || {}), ...(token() ? { Authorization: `Bearer ${token()}` } : {}) },
  });
  if (resp.status === 401) { $("signin").hidden = false; throw new Error("Sign in with your city account, or enter an access token."); }
  if (!resp.ok) {
    let message = `The service answered ${resp.status}.`;
    try { message = (await resp.json()).error.message || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return resp;
}

function topicCard(t) {
  const li = el("li", { class: "topic", "data-key": t.key, "data-handled": String(t.handled) });
  li.append(el("h2", {}, t.label));
  const state = t.handled ? "handled" : (t.new < t.count ? `${t.new} new since handled` : "new");
  li.append(el("p", { class: "meta" },
    `${t.collection} · ${plural(t.count, "question", "questions")} · ${state} · refused ${t.statuses.refused}, ` +
    `closest ${t.statuses.closest}, thumbs-down ${t.statuses.thumbs_down}` +
    (t.statuses.low_confidence ? `, answered with low confidence ${t.statuses.low_confidence}` : "")));
  const trend = el("span", { class: "trend", "aria-label": `Questions per week: ${t.trend.map((w) => w.count).join(", ")}` });
  const top = Math.max(1, ...t.trend.map((w) => w.count));
  for (const w of t.trend) {
    const bar = el("span", { title: `${w.week}: ${w.count}` });
    bar.style.height = `${Math.round((w.count / top) * 100)}%`;
    trend.append(bar);
  }
  const trendLine = el("p", { class: "meta" }, "Weekly: ");
  trendLine.append(trend);
  li.append(trendLine);
  const nearest = el("p", { class: "meta" }, "Nearest routine: ");
  if (t.nearest_doc_id && t.nearest_url) {
    nearest.append(el("a", { class: "nearest", href: t.nearest_url }, t.nearest_doc_id));
  } else {
    nearest.append(t.nearest_doc_id || "none found");
  }
  li.append(nearest);
  const examples = el("ul", { class: "examples" });
  for (const q of t.examples) examples.append(el("li", {}, q));
  li.append(examples);
  if (!t.handled) {
    const button = el("button", { type: "button", class: "handled" }, "Mark handled");
    button.addEventListener("click", () => markHandled(t, button));
    li.append(button);
  }
  return li;
}

function plural(n, one, many) { return `${n} ${n === 1 ? one : many}`; }

// While recorded questions wait for the service to embed them, the list is read again this often.
const WAITING_RELOAD_MS = 5000;
let reloadTimer = null;

async function load() {
  clearTimeout(reloadTimer);
  if (!$("topics").children.length) setStatus("Loading…");
  try {
    const include = $("show-handled").checked ? "true" : "false";
    const data = await (await call(`/api/gaps?include_handled=${include}`)).json();
    const list = $("topics");
    list.replaceChildren(...data.topics.map(topicCard));
    list.setAttribute("aria-busy", "false");
    let text = data.topics.length
      ? `${plural(data.topics.length, "topic", "topics")} in ${data.collections.join(", ")}.`
      : "No knowledge gaps to show.";
    if (data.waiting) {
      text += ` ${plural(data.waiting, "new question is", "new questions are")} still being prepared and will ` +
        "join the topics shortly.";
      reloadTimer = setTimeout(load, WAITING_RELOAD_MS);
    }
    setStatus(text);
  } catch (e) {
    $("topics").replaceChildren();  // never leave another token's topics on screen
    setStatus(e.message, true);
  }
}

async function markHandled(topic, button) {
  button.disabled = true;
  try {
    await call("/api/gaps/handled", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key: topic.key, until: topic.last_asked }),
    });
    await load();
  } catch (e) {
    button.disabled = false;
    setStatus(e.message, true);
  }
}

async function exportCsv() {
  try {
    const blob = await (await call("/api/gaps/export?format=csv")).blob();
    const link = el("a", { href: URL.createObjectURL(blob), download: "knowledge-gaps.csv" });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (e) {
    setStatus(e.message, true);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  takeTokenFromLink();
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    $("signin").hidden = true;
    load();
  });
  $("show-handled").addEventListener("change", load);
  $("export").addEventListener("click", exportCsv);
  // A sign-in link opened in a tab already on this page changes only the fragment.
  window.addEventListener("hashchange", () => { takeTokenFromLink(); load(); });
  load();
});
