// The phone page: asks over server-sent events, shows the answer as it is written, citations open their passage.
"use strict";

const TOKEN_KEY = "frontline-assist-token";
const $ = (id) => document.getElementById(id);

const state = { question: "", requestId: null, answer: null, lastCite: null, busy: false };
// Sign-in with the city's accounts (when the service has it): the session cookie is HttpOnly, so the page asks
// /auth/session who is signed in. A saved token, when there is one, is sent instead and decides alone.
const session = { oidc: false, signedIn: false, role: null };

function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

function signedIn() { return Boolean(token()) || session.signedIn; }

function authHeaders() { return token() ? { Authorization: `Bearer ${token()}` } : {}; }

async function loadSession() {
  try {
    const resp = await fetch("/auth/session", { headers: { Accept: "application/json" } });
    if (!resp.ok) return; // no sign-in with city accounts here: tokens only
    const body = await resp.json();
    session.oidc = Boolean(body.oidc);
    session.signedIn = Boolean(body.signed_in);
    session.role = body.role || null;
  } catch {
    // Offline: a saved token still works once the connection is back.
  }
}

function renderSession() {
  $("city-signin").hidden = !session.oidc;
  $("logout").hidden = !session.signedIn;
  $("who").hidden = !session.signedIn;
  $("who").textContent = session.signedIn ? `Signed in with your city account (${session.role}).` : "";
  showSignin(!signedIn());
}

async function logout() {
  let body = {};
  try {
    const resp = await fetch("/auth/logout", { method: "POST", headers: { Accept: "application/json" } });
    body = await resp.json().catch(() => ({}));
  } catch {
    setStatus("Could not sign out: you seem to be offline.", true);
    return;
  }
  session.signedIn = false;
  session.role = null;
  renderSession();
  // Signing out at the city's sign-in service too, so the next person on a shared phone must sign in again.
  if (body.end_session_url) location.assign(body.end_session_url);
  else setStatus("Signed out.");
}

function takeTokenFromLink() {
  // `assist token create` prints a link with #token=...; the fragment never reaches the server or its logs.
  if (location.hash.startsWith("#token=")) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(location.hash.slice(7)));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function showSignin(show) {
  $("signin").hidden = !show;
  if (show) $("token").focus();
}

function setStatus(text, isError = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

function setBusy(busy) {
  state.busy = busy;
  $("ask").disabled = busy;
  $("plain").disabled = busy;
  $("answer").setAttribute("aria-busy", String(busy));
}

function updateOnline() { $("offline").hidden = navigator.onLine; }

// --- rendering ----------------------------------------------------------------------------------------------------

// How the page states an answer that is not an answer, in the answer's language (English when there is none).
// The same phrases as assist/states.py uses for the CLI, the terminal client and the OpenAI-compatible route.
const PHRASES = {
  sv: {
    noDirect: "Rutinerna svarar inte direkt på detta.",
    notMentioned: "Ingen rutin nämner:",
    closest: "Närmaste rutiner",
  },
  en: {
    noDirect: "The routines do not answer this directly.",
    notMentioned: "No routine mentions:",
    closest: "Closest routines",
  },
};
const TITLES = {
  pending: "Checking the routines…",
  answered: "Answer",
  closest: "No direct answer",
  refused: "Not in the routines",
  failed: "No answer",
};

function phrases(language) { return PHRASES[language] || PHRASES.en; }

function answerState(answer) {
  // Older servers send only `refused`; without a status an answer that is not refused is an answer.
  if (["answered", "closest", "refused"].includes(answer.status)) return answer.status;
  return answer.refused ? "refused" : "answered";
}

function setState(state) {
  // The whole result is styled from this one attribute: streamed text is a draft ("pending") until the final
  // answer says whether it answers the question.
  $("result").dataset.state = state;
  $("answer-title").textContent = TITLES[state];
}

function renderAnswerText(text, citations) {
  const box = $("answer");
  box.replaceChildren();
  const known = new Set(citations.map((c) => c.n));
  const parts = text.split(/(\[\d{1,2}\])/);
  for (const part of parts) {
    const m = part.match(/^\[(\d{1,2})\]$/);
    if (m && known.has(Number(m[1]))) {
      const n = Number(m[1]);
      const b = document.createElement("button");
      b.type = "button";
      b.className = "cite";
      b.textContent = String(n);
      b.setAttribute("aria-label", `Source ${n}: ${citations.find((c) => c.n === n).title}`);
      b.addEventListener("click", () => showPassage(n, b));
      box.append(b);
    } else if (part) {
      box.append(document.createTextNode(part));
    }
  }
}

function renderSources(citations) {
  const list = $("sources");
  list.replaceChildren();
  for (const c of citations) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.n = String(c.n);
    b.textContent = `[${c.n}] ${c.title}${c.page ? `, page ${c.page}` : ""}`;
    b.addEventListener("click", () => showPassage(c.n, b));
    li.append(b);
    list.append(li);
  }
  $("sources-block").hidden = citations.length === 0;
}

function renderClosest(answer, state) {
  const banner = $("closest-banner");
  banner.hidden = state !== "closest";
  const p = phrases(answer.language);
  const help = $("sources-help");
  if (state !== "closest") {
    $("sources-title").textContent = "Sources";
    $("sources-title").removeAttribute("lang");
    help.textContent = "Tap a source to read the passage.";
    return;
  }
  banner.lang = PHRASES[answer.language] ? answer.language : "en";
  $("closest-line").textContent = p.noDirect;
  const uncovered = $("uncovered");
  uncovered.replaceChildren();
  const terms = answer.uncovered || [];
  uncovered.hidden = terms.length === 0;
  if (terms.length) {
    uncovered.append(document.createTextNode(`${p.notMentioned} `));
    terms.forEach((term, i) => {
      const t = document.createElement("strong");
      t.className = "term";
      t.textContent = term;
      uncovered.append(t, document.createTextNode(i < terms.length - 1 ? ", " : ""));
    });
  }
  $("sources-title").textContent = p.closest;
  $("sources-title").lang = banner.lang;
  help.textContent = "Near your question, but they do not answer it. Tap one to read what it says.";
}

function renderNotice(answer) {
  const notes = [];
  if (answer.fallback) {
    notes.push("The language model could not be reached, so this answer quotes the routines directly.");
  }
  for (const n of answer.notices || []) if (!notes.includes(n)) notes.push(n);
  if (answer.refused) notes.push("Ask your manager or the routine's owner if you need an answer.");
  const box = $("notice");
  box.textContent = notes.join(" ");
  box.hidden = notes.length === 0;
}

function renderAnswer(answer) {
  state.answer = answer;
  state.requestId = answer.request_id;
  const kind = answerState(answer);
  setState(kind);
  renderClosest(answer, kind);
  renderAnswerText(answer.answer, answer.citations);
  const box = $("answer");
  box.lang = answer.language || "";
  box.dir = ["ar", "fa"].includes(answer.language) ? "rtl" : "auto";
  renderSources(answer.citations);
  renderNotice(answer);
  resetFeedback();
}

function showPassage(n, from) {
  const c = state.answer && state.answer.citations.find((x) => x.n === n);
  if (!c) return;
  state.lastCite = from;
  $("passage-title").textContent = `[${c.n}] ${c.title}`;
  const where = [c.page ? `Page ${c.page}` : "", c.section].filter(Boolean).join(" · ");
  $("passage-where").textContent = where;
  renderQuote($("passage-quote"), c.quote);
  $("passage-source").textContent = c.source ? `File: ${c.source}` : "";
  const panel = $("passage");
  panel.hidden = false;
  panel.focus();
  panel.scrollIntoView({ block: "nearest" });
}

const TABLE_SEPARATOR = /^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$/;

function cells(line) { return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim()); }

function quoteTable(lines) {
  // A table row quoted with its headers ("Böcker | Lånetid: 28 dagar") or a Markdown table, as a small table
  // whose first column names the row; a wrapper scrolls a wide one instead of the page.
  let header = null;
  let rows = lines;
  if (lines.length > 1 && TABLE_SEPARATOR.test(lines[1].trim())) {
    header = cells(lines[0]);
    rows = lines.slice(2);
  }
  const table = document.createElement("table");
  table.className = "quote-table";
  if (header) {
    const tr = table.createTHead().insertRow();
    for (const h of header) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      tr.append(th);
    }
  }
  const body = table.createTBody();
  for (const line of rows) {
    if (TABLE_SEPARATOR.test(line.trim())) continue;
    const tr = body.insertRow();
    cells(line).forEach((text, i) => {
      const cell = document.createElement(i === 0 ? "th" : "td");
      if (i === 0) cell.scope = "row";
      cell.textContent = text;
      tr.append(cell);
    });
  }
  const wrap = document.createElement("div");
  wrap.className = "table-wrap";
  wrap.append(table);
  return wrap;
}

function renderQuote(box, quote) {
  box.replaceChildren();
  const lines = quote.split(/\r?\n/);
  let text = [];
  const flush = () => {
    if (text.length) box.append(document.createTextNode(text.join("\n")));
    text = [];
  };
  for (let i = 0; i < lines.length;) {
    if (!lines[i].includes("|")) { text.push(lines[i]); i += 1; continue; }
    flush();
    const block = [];
    while (i < lines.length && lines[i].includes("|")) { block.push(lines[i]); i += 1; }
    box.append(quoteTable(block));
  }
  flush();
}

function closePassage() {
  $("passage").hidden = true;
  if (state.lastCite) state.lastCite.focus();
}

// --- asking ---------------------------------------------------------------------------------------------------------

function* sseEvents(buffer) {
  // Yields [event, data] for each complete block; returns the unparsed rest through the last value.
  const blocks = buffer.split(/\r?\n\r?\n/);
  const rest = blocks.pop();
  for (const block of blocks) {
    let event = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (data.length) yield [event, data.join("\n")];
  }
  return rest;
}

async function ask(plain) {
  const question = $("question").value.trim();
  if (!question) {
    setStatus("Type a question first.", true);
    $("question").focus();
    return;
  }
  if (!signedIn()) {
    showSignin(true);
    setStatus(session.oidc ? "Sign in first." : "Enter your access token first.", true);
    return;
  }
  if (state.busy) return;
  state.question = question;
  setBusy(true);
  setStatus(plain ? "Asking for plain language…" : "Looking in the routines…");
  $("result").hidden = false;
  setState("pending");
  $("answer").textContent = "";
  $("closest-banner").hidden = true;
  $("notice").hidden = true;
  $("passage").hidden = true;
  $("sources-block").hidden = true;

  let resp;
  try {
    resp = await fetch("/api/ask/stream", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "text/event-stream",
        ...authHeaders(),
      },
      body: JSON.stringify({ question, language: $("language").value || null, plain: Boolean(plain) }),
    });
  } catch {
    setBusy(false);
    setState("failed");
    updateOnline();
    setStatus("The service cannot be reached. Check your connection and ask again.", true);
    return;
  }
  if (!resp.ok) {
    setBusy(false);
    setState("failed");
    const body = await resp.json().catch(() => ({}));
    const message = (body.error && body.error.message) || `The service answered ${resp.status}.`;
    if (resp.status === 401 && !token() && session.signedIn) {
      session.signedIn = false;
      renderSession();
      setStatus("Your session has ended: sign in again.", true);
    } else if (resp.status === 401) {
      showSignin(true);
      setStatus("Your token was not accepted: enter it again.", true);
    } else setStatus(message, true);
    return;
  }

  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let streamed = "";
  let done = false;
  try {
    while (!done) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      const it = sseEvents(buffer);
      let step = it.next();
      while (!step.done) {
        const [event, data] = step.value;
        if (event === "delta") {
          streamed += JSON.parse(data).text;
          $("answer").textContent = streamed;
          setStatus("Writing the answer…");
        } else if (event === "answer") {
          renderAnswer(JSON.parse(data));
          setStatus({
            answered: "Answer ready.",
            closest: "No routine answers this directly: the closest routines are shown.",
            refused: "The routines do not cover this question.",
          }[answerState(state.answer)]);
          done = true;
        } else if (event === "error") {
          const err = JSON.parse(data).error || {};
          setStatus(err.message || "The answer failed. Ask again.", true);
          done = true;
        }
        step = it.next();
      }
      buffer = step.value || "";
    }
  } catch {
    updateOnline();
    setStatus("The connection broke while the answer was written. Ask again.", true);
  } finally {
    setBusy(false);
    // Text streamed before an error never became an answer: it stays styled as a draft under "No answer".
    if ($("result").dataset.state === "pending") setState("failed");
  }
  if (!done && !$("status").classList.contains("error")) {
    setStatus("The answer was cut off. Ask again.", true);
  }
}

// --- feedback -------------------------------------------------------------------------------------------------------

function resetFeedback() {
  $("thumb-up").setAttribute("aria-pressed", "false");
  $("thumb-down").setAttribute("aria-pressed", "false");
  $("reason-block").hidden = true;
  $("reason").value = "";
  $("feedback-status").textContent = "";
}

async function sendFeedback(rating, reason) {
  if (!state.requestId) return;
  try {
    const resp = await fetch("/api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeaders() },
      body: JSON.stringify({ request_id: state.requestId, rating, reason: reason || "" }),
    });
    $("feedback-status").textContent = resp.ok ? "Thank you: your feedback was saved." : "Feedback could not be saved.";
  } catch {
    $("feedback-status").textContent = "Feedback could not be sent: you seem to be offline.";
  }
}

// --- wiring ---------------------------------------------------------------------------------------------------------

function init() {
  takeTokenFromLink();
  showSignin(!token());
  loadSession().then(renderSession);
  updateOnline();
  window.addEventListener("online", updateOnline);
  window.addEventListener("offline", updateOnline);

  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("token").value.trim();
    if (!value) return;
    localStorage.setItem(TOKEN_KEY, value);
    $("token").value = "";
    showSignin(false);
    setStatus("Token saved.");
    $("question").focus();
  });
  $("ask-form").addEventListener("submit", (e) => { e.preventDefault(); ask(false); });
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); ask(false); }
  });
  $("plain").addEventListener("click", () => {
    if (state.question) $("question").value = state.question;
    ask(true);
  });
  $("passage-close").addEventListener("click", closePassage);
  $("passage").addEventListener("keydown", (e) => { if (e.key === "Escape") closePassage(); });
  $("thumb-up").addEventListener("click", () => {
    resetFeedback();
    $("thumb-up").setAttribute("aria-pressed", "true");
    sendFeedback("up");
  });
  $("thumb-down").addEventListener("click", () => {
    resetFeedback();
    $("thumb-down").setAttribute("aria-pressed", "true");
    $("reason-block").hidden = false;
    $("reason").focus();
  });
  $("send-reason").addEventListener("click", () => sendFeedback("down", $("reason").value.trim()));
  $("signout").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    showSignin(!signedIn());
    setStatus("Token removed from this phone.");
  });
  $("logout").addEventListener("click", logout);
}

document.addEventListener("DOMContentLoaded", init);
