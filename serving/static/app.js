// The phone page: asks over server-sent events, shows the answer as it is written, citations open their passage.
"use strict";

const TOKEN_KEY = "frontline-assist-token";
const $ = (id) => document.getElementById(id);
const UI_LANGUAGE_KEY = "frontline-assist-ui-language";

// The page's own words come from the server's catalogue for the page's language (serving/locales/*.po, rendered into
// the page); a message missing there is shown in English, its id. "{name}" in a message is filled from `vars`.
const CONFIG = JSON.parse((document.getElementById("page-config") || {}).textContent || "{}");

function t(message, vars) {
  const text = (CONFIG.messages || {})[message] || message;
  return vars ? text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : text;
}

// `turns` is the conversation so far (question and answer text), sent as `history` so that a follow-up ("and at
// night?") is read with the question it continues, as the terminal client does. `answer` is the answer as shown:
// citations numbered 1..n in the order they appear.
const state = { question: "", requestId: null, answer: null, lastCite: null, busy: false, turns: [] };
// As the terminal client (tui/app.py): the last six exchanges; the API takes at most 20 messages of 4,000 characters.
const HISTORY_TURNS = 6;
const HISTORY_CHARS = 4000;
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
  $("who").textContent = session.signedIn ? t("Signed in with your city account ({role}).", { role: session.role }) : "";
  showSignin(!signedIn());
}

async function logout() {
  let body = {};
  try {
    const resp = await fetch("/auth/logout", { method: "POST", headers: { Accept: "application/json" } });
    body = await resp.json().catch(() => ({}));
  } catch {
    setStatus(t("Could not sign out: you seem to be offline."), true);
    return;
  }
  session.signedIn = false;
  session.role = null;
  newConversation();
  renderSession();
  // Signing out at the city's sign-in service too, so the next person on a shared phone must sign in again.
  if (body.end_session_url) location.assign(body.end_session_url);
  else setStatus(t("Signed out."));
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
  $("plain").disabled = busy || noLlm();
  $("answer").setAttribute("aria-busy", String(busy));
}

function updateOnline() { $("offline").hidden = navigator.onLine; }

// --- the page's language, and what the answers can do ---------------------------------------------------------------

function pageLanguageFromMemory() {
  // The language chosen with the page's switch is remembered on this phone; the server renders the page in it when
  // asked with ?lang= (its default is the browser's language, else Swedish).
  const stored = localStorage.getItem(UI_LANGUAGE_KEY);
  const asked = new URLSearchParams(location.search).get("lang");
  if (stored && !asked && stored !== document.documentElement.lang) {
    location.replace(`/?lang=${encodeURIComponent(stored)}${location.hash}`);
    return true;
  }
  return false;
}

function choosePageLanguage(code) {
  localStorage.setItem(UI_LANGUAGE_KEY, code);
  location.assign(`/?lang=${encodeURIComponent(code)}`);
}

function noLlm() { return CONFIG.llm === false; }

function showWhatAnswersCanDo() {
  // Without a language model the answers quote the routines as written: no translation, no plain language. The
  // controls say so before anyone taps them, in the page's language.
  const none = noLlm();
  $("language").disabled = none;
  $("plain").disabled = none;
  $("no-llm-language").hidden = !none;
  $("no-llm-plain").hidden = !none;
  if (none) $("language").value = "";
}

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
  pending: () => t("Checking the routines…"),
  answered: () => t("Answer"),
  closest: () => t("No direct answer"),
  refused: () => t("Not in the routines"),
  failed: () => t("No answer"),
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
  $("answer-title").textContent = TITLES[state]();
}

// The answer's text is Markdown (the generator writes it; extractive answers quote the routines' lists, bold and
// tables). A small subset is shown as lists, bold and small tables, built as DOM nodes whose text is set with text
// nodes and textContent: nothing in an answer or a routine is ever parsed as HTML.
const LIST_ITEM = /^\s*([-*+•]|\d{1,3}[.)])\s+(.*)$/;
const HEADING = /^\s*#{1,6}\s+(.*)$/;
const CITE_MARK = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;

function isTableLine(line) { return line.includes("|") && !LIST_ITEM.test(line); }

function appendInline(el, text, cite) {
  // **bold**, *emphasis* and citation markers ([3], [1, 2]); stray ** of a cut-off quote are dropped, not shown.
  const pattern = /\*\*(.+?)\*\*|(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])|\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;
  let last = 0;
  const plain = (t) => { if (t) el.append(document.createTextNode(t.replaceAll("**", ""))); };
  for (const m of text.matchAll(pattern)) {
    if (m[3] !== undefined) {
      const numbers = m[3].split(",").map((x) => Number(x.trim()));
      if (!cite || !numbers.every((n) => cite.known(n))) continue; // not a citation: left in the text as it is
      plain(text.slice(last, m.index));
      for (const n of numbers) el.append(cite.button(n));
    } else {
      plain(text.slice(last, m.index));
      const span = document.createElement(m[1] !== undefined ? "strong" : "em");
      appendInline(span, m[1] !== undefined ? m[1] : m[2], cite);
      el.append(span);
    }
    last = m.index + m[0].length;
  }
  plain(text.slice(last));
}

function renderMarkdown(box, text, cite) {
  // Blocks: paragraphs (a line break kept inside one), "- " and "1. " lists, "#" headings, table rows.
  box.replaceChildren();
  const lines = text.split(/\r?\n/);
  let para = [];
  let list = null;
  const flushPara = () => {
    if (!para.length) return;
    const p = document.createElement("p");
    appendInline(p, para.join("\n"), cite);
    box.append(p);
    para = [];
  };
  for (let i = 0; i < lines.length;) {
    const line = lines[i];
    const item = line.match(LIST_ITEM);
    if (item && item[2].includes("|")) {
      // List items holding table rows ("- Böcker | Lånetid: 28 dagar [3]"): one small table.
      flushPara();
      list = null;
      const block = [];
      for (let m = item; m && m[2].includes("|"); m = (lines[i] || "").match(LIST_ITEM)) { block.push(m[2]); i += 1; }
      box.append(answerTable(block, (cell, t) => appendInline(cell, t, cite)));
    } else if (!line.trim()) {
      flushPara();
      list = null;
      i += 1;
    } else if (item) {
      flushPara();
      const ordered = /\d/.test(item[1]);
      const tag = ordered ? "ol" : "ul";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = document.createElement(tag);
        if (ordered && parseInt(item[1], 10) !== 1) list.start = parseInt(item[1], 10);
        box.append(list);
      }
      const li = document.createElement("li");
      appendInline(li, item[2], cite);
      list.append(li);
      i += 1;
    } else if (list && /^\s{2,}\S/.test(line)) {
      // An indented line continues the list item above it.
      appendInline(list.lastElementChild, ` ${line.trim()}`, cite);
      i += 1;
    } else if (isTableLine(line)) {
      flushPara();
      list = null;
      const block = [];
      while (i < lines.length && isTableLine(lines[i])) { block.push(lines[i]); i += 1; }
      box.append(answerTable(block, (cell, t) => appendInline(cell, t, cite)));
    } else if (HEADING.test(line)) {
      flushPara();
      list = null;
      const h = document.createElement("p");
      h.className = "answer-heading";
      const strong = document.createElement("strong");
      appendInline(strong, line.match(HEADING)[1], cite);
      h.append(strong);
      box.append(h);
      i += 1;
    } else {
      list = null;
      para.push(line.trim());
      i += 1;
    }
  }
  flushPara();
}

function citeButtons(citations) {
  // Citation markers become buttons that open their passage; numbers no citation has stay plain text.
  const byN = new Map(citations.map((c) => [c.n, c]));
  return {
    known: (n) => byN.has(n),
    button: (n) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "cite";
      b.textContent = String(n);
      b.setAttribute("aria-label", t("Source {n}: {title}", { n, title: byN.get(n).title }));
      b.addEventListener("click", () => showPassage(n, b));
      return b;
    },
  };
}

function renderAnswerText(text, citations) {
  renderMarkdown($("answer"), text, citeButtons(citations));
}

function renderDraft(text) {
  // Streamed text before the final answer: the same lists and bold, its markers still plain "[n]" (the sources
  // are known only from the final answer).
  renderMarkdown($("answer"), text, null);
}

function numberedInOrder(answer) {
  // The server numbers citations by the passages it retrieved ([5], [13], [16]); the page shows 1..n in the order
  // the text cites them, then the sources the text does not cite, in their order.
  const known = new Set(answer.citations.map((c) => c.n));
  const order = [];
  for (const m of answer.answer.matchAll(CITE_MARK)) {
    for (const n of m[1].split(",").map((x) => Number(x.trim()))) {
      if (known.has(n) && !order.includes(n)) order.push(n);
    }
  }
  for (const c of [...answer.citations].sort((a, b) => a.n - b.n)) if (!order.includes(c.n)) order.push(c.n);
  const shown = new Map(order.map((n, i) => [n, i + 1]));
  const text = answer.answer.replace(CITE_MARK, (mark, list) => {
    const numbers = list.split(",").map((x) => Number(x.trim()));
    if (!numbers.every((n) => shown.has(n))) return mark;
    return `[${numbers.map((n) => shown.get(n)).join(", ")}]`;
  });
  const citations = answer.citations.map((c) => ({ ...c, n: shown.get(c.n) })).sort((a, b) => a.n - b.n);
  return { ...answer, answer: text, citations };
}

// Lines of a closest answer's text that the amber banner already says ("does not answer directly", and the terms
// no routine mentions): said once, in the banner.
const CLOSEST_OPENINGS = [/^rutinerna svarar inte direkt\b/i, /^the routines do not answer this directly\b/i];
const UNCOVERED_OPENINGS = [/^ingen rutin nämner:/i, /^no routine mentions:/i];

function withoutBannerLines(answer) {
  const drop = [...CLOSEST_OPENINGS, ...((answer.uncovered || []).length ? UNCOVERED_OPENINGS : [])];
  const lines = answer.answer.split(/\r?\n/).filter((line) => !drop.some((re) => re.test(line.trim())));
  return { ...answer, answer: lines.join("\n").trim() };
}

function renderSources(citations) {
  const list = $("sources");
  list.replaceChildren();
  for (const c of citations) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.n = String(c.n);
    b.textContent = c.page ? t("[{n}] {title}, page {page}", { n: c.n, title: c.title, page: c.page }) : `[${c.n}] ${c.title}`;
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
    $("sources-title").textContent = t("Sources");
    $("sources-title").removeAttribute("lang");
    help.textContent = t("Tap a source to read the passage.");
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
  help.textContent = t("Near your question, but they do not answer it. Tap one to read what it says.");
}

// The core's review notice, one per overdue routine (assist/review.py, Swedish or English): the page folds them into
// one line naming the routines, so that three overdue routines do not take three banners.
const REVIEW_NOTICES = [
  { re: /^Rutinen ”(.+)” skulle ha granskats senast (\d{4}-\d{2}-\d{2}):/, title: 1, day: 2, lang: "sv" },
  { re: /^This routine was due for review on (\d{4}-\d{2}-\d{2}) \(“(.+)”\):/, title: 2, day: 1, lang: "en" },
];
const REVIEW_LINE = {
  sv: {
    one: (r) => `Granskning försenad sedan ${r.day}: ”${r.title}”. Kontrollera med ägaren att den gäller.`,
    many: (titles) => `Granskning försenad: ${titles.map((t) => `”${t}”`).join(", ")}. Kontrollera med ägarna att de gäller.`,
  },
  en: {
    one: (r) => `Review overdue since ${r.day}: “${r.title}”. Check with its owner that it still applies.`,
    many: (titles) => `Review overdue: ${titles.map((t) => `“${t}”`).join(", ")}. Check with their owners that they still apply.`,
  },
};

function noticeLines(answer) {
  const lines = [];
  const overdue = [];
  let lang = "en";
  if (answer.fallback) {
    lines.push(t("The language model could not be reached, so this answer quotes the routines directly."));
  }
  for (const n of answer.notices || []) {
    const kind = REVIEW_NOTICES.find((k) => k.re.test(n));
    if (kind) {
      const m = n.match(kind.re);
      lang = kind.lang;
      if (!overdue.some((r) => r.title === m[kind.title])) overdue.push({ title: m[kind.title], day: m[kind.day] });
    } else if (!lines.includes(n)) lines.push(n);
  }
  if (overdue.length === 1) lines.push(REVIEW_LINE[lang].one(overdue[0]));
  else if (overdue.length > 1) lines.push(REVIEW_LINE[lang].many(overdue.map((r) => r.title)));
  // A refusal names the contact the routines give (cited); only when they give none is the reader sent on in general.
  if (answer.refused && !(answer.citations || []).length) {
    lines.push(t("Ask your manager or the routine's owner if you need an answer."));
  }
  return lines;
}

function renderNotice(answer) {
  const box = $("notice");
  box.replaceChildren();
  for (const line of noticeLines(answer)) {
    const p = document.createElement("p");
    p.textContent = line;
    box.append(p);
  }
  box.lang = answer.language || "";
  box.hidden = box.childElementCount === 0;
}

function renderAnswer(received) {
  const kind = answerState(received);
  const answer = numberedInOrder(kind === "closest" ? withoutBannerLines(received) : received);
  state.answer = answer;
  state.requestId = answer.request_id;
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
  state.passage = c;
  $("passage-open").hidden = !(c.doc_id && c.collection);
  $("passage-title").textContent = `[${c.n}] ${c.title}`;
  const where = [c.page ? t("Page {page}", { page: c.page }) : "", c.section].filter(Boolean).join(" · ");
  $("passage-where").textContent = where;
  renderQuote($("passage-quote"), c.quote);
  $("passage-source").textContent = c.source ? t("File: {source}", { source: c.source }) : "";
  const panel = $("passage");
  panel.hidden = false;
  panel.focus();
  panel.scrollIntoView({ block: "nearest" });
}

const TABLE_SEPARATOR = /^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$/;

function cells(line) { return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim()); }

function tableParts(lines) {
  // A Markdown table's header (the line above its separator) and its rows' cells.
  let header = null;
  let rows = lines;
  if (lines.length > 1 && TABLE_SEPARATOR.test(lines[1].trim())) {
    header = cells(lines[0]);
    rows = lines.slice(2);
  }
  return { header, rows: rows.filter((line) => !TABLE_SEPARATOR.test(line.trim())).map(cells) };
}

function labelledColumns(rows) {
  // Rows quoted with their column header in each cell ("Böcker | Lånetid: 28 dagar | Omlån: 3 gånger"): when every
  // row names the same columns in the same places, the names go to the table's head and the cells keep the values.
  const width = rows[0].length;
  if (width < 2 || rows.some((r) => r.length !== width)) return null;
  const labels = [];
  for (let j = 1; j < width; j += 1) {
    const m = rows[0][j].match(/^([^:|]{1,40}):\s/);
    if (!m || rows.some((r) => !r[j].startsWith(`${m[1]}: `))) return null;
    labels.push(m[1]);
  }
  return { header: ["", ...labels], rows: rows.map((r) => [r[0], ...labels.map((l, j) => r[j + 1].slice(l.length + 2))]) };
}

function smallTable({ header, rows }, fill) {
  // A small table whose first column names the row; a wrapper scrolls a wide one instead of the page.
  const table = document.createElement("table");
  table.className = "quote-table";
  if (header) {
    const tr = table.createTHead().insertRow();
    header.forEach((h, i) => {
      const th = document.createElement(i === 0 && !h ? "td" : "th");
      if (h) th.scope = "col";
      fill(th, h);
      tr.append(th);
    });
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    row.forEach((text, i) => {
      const cell = document.createElement(i === 0 ? "th" : "td");
      if (i === 0) cell.scope = "row";
      fill(cell, text);
      tr.append(cell);
    });
  }
  const wrap = document.createElement("div");
  wrap.className = "table-wrap";
  wrap.append(table);
  return wrap;
}

function quoteTable(lines) {
  // A table row quoted with its headers ("Böcker | Lånetid: 28 dagar") or a Markdown table, as a small table.
  return smallTable(tableParts(lines), (cell, text) => { cell.textContent = text; });
}

function answerTable(lines, fill) {
  // Table rows in an answer, as a Markdown table or as list items ("- Böcker | Lånetid: 28 dagar [3]").
  const parts = tableParts(lines);
  return smallTable((!parts.header && labelledColumns(parts.rows)) || parts, fill);
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

// --- the whole routine ----------------------------------------------------------------------------------------------

function citedSection(sections, c) {
  // The section a citation names (and its page, for a PDF), else the first with its page, else the first.
  return sections.find((s) => s.section === (c.section || "") && (!c.page || s.page === c.page))
    || sections.find((s) => c.page && s.page === c.page) || sections[0];
}

async function openRoutine() {
  const c = state.passage;
  if (!c || !c.doc_id || !c.collection) return;
  setStatus(t("Opening the routine…"));
  let resp;
  try {
    resp = await fetch(`/api/routines/${encodeURIComponent(c.collection)}/${encodeURIComponent(c.doc_id)}`, {
      headers: { Accept: "application/json", ...authHeaders() },
    });
  } catch {
    setStatus(t("The routine could not be opened: you seem to be offline."), true);
    return;
  }
  if (!resp.ok) {
    setStatus(resp.status === 404 ? t("This routine is not among those your role may read.")
      : t("The service answered {status}.", { status: resp.status }), true);
    return;
  }
  renderRoutine(await resp.json(), c);
  setStatus("");
}

function renderRoutine(doc, c) {
  // Each section under its heading, its text through the same Markdown subset as answers (never parsed as HTML).
  $("routine-title").textContent = doc.title;
  $("routine-where").textContent = doc.review_date ? t("Review date: {day}", { day: doc.review_date }) : "";
  const body = $("routine-body");
  body.replaceChildren();
  body.lang = doc.language || "";
  body.dir = ["ar", "fa"].includes(doc.language) ? "rtl" : "auto";
  let heading = null;
  for (const sec of doc.sections) {
    const part = document.createElement("section");
    part.id = `routine-${sec.id}`;
    part.className = "routine-section";
    const name = sec.section.split(" > ").pop();
    if (name && sec.section !== heading) {
      const h = document.createElement("h3");
      h.textContent = name;
      part.append(h);
    }
    heading = sec.section;
    if (sec.page) {
      const where = document.createElement("p");
      where.className = "where";
      where.textContent = t("Page {page}", { page: sec.page });
      part.append(where);
    }
    const text = document.createElement("div");
    renderMarkdown(text, sec.text, null);
    part.append(...text.childNodes);
    body.append(part);
  }
  const target = citedSection(doc.sections, c);
  for (const el of body.querySelectorAll(".cited")) el.classList.remove("cited");
  $("result").hidden = true;
  $("routine").hidden = false;
  const at = target && $(`routine-${target.id}`);
  if (at) {
    at.classList.add("cited");
    at.tabIndex = -1;
    at.scrollIntoView({ block: "start" });
    at.focus({ preventScroll: true });
  } else $("routine").focus();
}

function closeRoutine() {
  $("routine").hidden = true;
  $("result").hidden = false;
  $("passage-open").focus();
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

function historyBefore(turns) {
  // The earlier exchanges as the API's `history` (serving/schemas.py: HistoryMessage), oldest first.
  const cut = (text) => text.slice(0, HISTORY_CHARS);
  return turns.slice(-HISTORY_TURNS).flatMap((t) => [
    { role: "user", content: cut(t.question) },
    { role: "assistant", content: cut(t.answer) },
  ]);
}

function newConversation() {
  state.turns = [];
  state.question = "";
  $("conversation-help").hidden = true;
}

async function ask(plain) {
  const question = $("question").value.trim();
  if (!question) {
    setStatus(t("Type a question first."), true);
    $("question").focus();
    return;
  }
  if (!signedIn()) {
    showSignin(true);
    setStatus(session.oidc ? t("Sign in first.") : t("Enter your access token first."), true);
    return;
  }
  if (state.busy) return;
  // "Plain language" for the question just answered asks it again in plain words, with the same earlier turns, and
  // its answer takes that turn's place; any other question follows the conversation so far.
  const last = state.turns[state.turns.length - 1];
  const again = Boolean(plain && last && last.question === question);
  const earlier = again ? state.turns.slice(0, -1) : state.turns;
  state.question = question;
  setBusy(true);
  setStatus(plain ? t("Asking for plain language…") : t("Looking in the routines…"));
  $("result").hidden = false;
  setState("pending");
  $("answer").textContent = "";
  $("closest-banner").hidden = true;
  $("notice").hidden = true;
  $("passage").hidden = true;
  $("routine").hidden = true;
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
      body: JSON.stringify({
        question, language: $("language").value || null, plain: Boolean(plain), history: historyBefore(earlier),
      }),
    });
  } catch {
    setBusy(false);
    setState("failed");
    updateOnline();
    setStatus(t("The service cannot be reached. Check your connection and ask again."), true);
    return;
  }
  if (!resp.ok) {
    setBusy(false);
    setState("failed");
    const body = await resp.json().catch(() => ({}));
    const message = (body.error && body.error.message) || t("The service answered {status}.", { status: resp.status });
    if (resp.status === 401 && !token() && session.signedIn) {
      session.signedIn = false;
      renderSession();
      setStatus(t("Your session has ended: sign in again."), true);
    } else if (resp.status === 401) {
      showSignin(true);
      setStatus(t("Your token was not accepted: enter it again."), true);
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
          renderDraft(streamed);
          setStatus(t("Writing the answer…"));
        } else if (event === "answer") {
          const answer = JSON.parse(data);
          state.turns = [...earlier, { question, answer: answer.answer }];
          $("conversation-help").hidden = false;
          renderAnswer(answer);
          setStatus({
            answered: t("Answer ready."),
            closest: t("The closest routines are shown."),
            refused: t("The routines do not cover this question."),
          }[answerState(state.answer)]);
          done = true;
        } else if (event === "error") {
          const err = JSON.parse(data).error || {};
          setStatus(err.message || t("The answer failed. Ask again."), true);
          done = true;
        }
        step = it.next();
      }
      buffer = step.value || "";
    }
  } catch {
    updateOnline();
    setStatus(t("The connection broke while the answer was written. Ask again."), true);
  } finally {
    setBusy(false);
    // Text streamed before an error never became an answer: it stays styled as a draft under "No answer".
    if ($("result").dataset.state === "pending") setState("failed");
  }
  if (!done && !$("status").classList.contains("error")) {
    setStatus(t("The answer was cut off. Ask again."), true);
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
    $("feedback-status").textContent = resp.ok ? t("Thank you: your feedback was saved.") : t("Feedback could not be saved.");
  } catch {
    $("feedback-status").textContent = t("Feedback could not be sent: you seem to be offline.");
  }
}

// --- wiring ---------------------------------------------------------------------------------------------------------

function init() {
  takeTokenFromLink();
  if (pageLanguageFromMemory()) return;
  showWhatAnswersCanDo();
  $("ui-language").addEventListener("change", (e) => choosePageLanguage(e.target.value));
  $("passage-open").addEventListener("click", openRoutine);
  $("routine-back").addEventListener("click", closeRoutine);
  $("routine").addEventListener("keydown", (e) => { if (e.key === "Escape") closeRoutine(); });
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
    setStatus(t("Token saved."));
    $("question").focus();
  });
  $("ask-form").addEventListener("submit", (e) => { e.preventDefault(); ask(false); });
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); ask(false); }
  });
  // The question in the box, as typed: an empty box means the question just answered.
  $("plain").addEventListener("click", () => {
    if (!$("question").value.trim() && state.question) $("question").value = state.question;
    ask(true);
  });
  $("new-conversation").addEventListener("click", () => {
    newConversation();
    $("question").value = "";
    $("result").hidden = true;
    setStatus(t("New conversation: the next question starts afresh."));
    $("question").focus();
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
    newConversation();
    showSignin(!signedIn());
    setStatus(t("Token removed from this phone."));
  });
  $("logout").addEventListener("click", logout);
}

document.addEventListener("DOMContentLoaded", init);
