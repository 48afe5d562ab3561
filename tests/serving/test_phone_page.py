"""The phone page in headless Chromium at 360 px: ask, watch the answer stream in, tap a citation, read the passage."""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving.closest import ClosestServer, serve_closest
from tests.serving.conftest import REPO, LiveServer, serve_process

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
# Records streamed text (raw [n] markers) put into the answer while it is still being written (aria-busy="true").
# The mutation records are replayed in order, because delta and final answer may arrive in one network chunk and
# be applied in one task: by the time the observer runs, aria-busy is already false, but the records still say
# what was shown while busy.
STREAM_WATCH = r"""
window.__whileBusy = [];
document.addEventListener("DOMContentLoaded", () => {
  const a = document.getElementById("answer");
  let busy = a.getAttribute("aria-busy") === "true";
  new MutationObserver((records) => {
    // The value an attribute record set is the next attribute record's old value, or the current one for the last.
    const sets = records.filter((r) => r.type === "attributes");
    for (const r of records) {
      if (r.type === "attributes") {
        const next = sets[sets.indexOf(r) + 1];
        busy = (next ? next.oldValue : a.getAttribute("aria-busy")) === "true";
        continue;
      }
      // Raw "[n]" markers are streamed text: the final render turns every known marker into a button.
      const text = [...r.addedNodes].map((n) => n.textContent).join("");
      if (busy && /\[\d{1,2}\]/.test(text)) window.__whileBusy.push(text);
    }
  }).observe(a, { childList: true, characterData: true, subtree: true,
                  attributes: true, attributeFilter: ["aria-busy"], attributeOldValue: true });
});
"""
# Records every state the result takes, and whether streamed text was in the answer box while the state was
# "pending": it must be shown as a draft until the final answer's status is known, never as "answered" on the way
# to "closest". As in STREAM_WATCH, the records are replayed in order (the value an attribute record set is the
# next attribute record's old value), since the last delta and the final answer may be applied in one task.
STATE_WATCH = r"""
window.__states = [];
window.__textWhilePending = false;
document.addEventListener("DOMContentLoaded", () => {
  const result = document.getElementById("result");
  const answer = document.getElementById("answer");
  let state = result.dataset.state;
  new MutationObserver((records) => {
    const sets = records.filter((r) => r.type === "attributes");
    for (const r of records) {
      if (r.type === "attributes") {
        const next = sets[sets.indexOf(r) + 1];
        state = next ? next.oldValue : result.dataset.state;
        window.__states.push(state);
      } else if (state === "pending" && answer.contains(r.target)
                 && [...r.addedNodes].some((n) => n.textContent.trim())) {
        window.__textWhilePending = true;
      }
    }
  }).observe(result, { subtree: true, childList: true, characterData: true,
                       attributes: true, attributeFilter: ["data-state"], attributeOldValue: true });
});
"""
#: The fall question at 390 x 844, page text in Swedish and in Arabic (test_fall_question_pictures writes them).
SCREENSHOTS = {"sv-SE": REPO / "docs" / "phone-page.png", "ar": REPO / "docs" / "phone-page-ar.png"}


def install_chromium() -> str | None:
    """Debian's chromium, installed with apt-get when missing; None with the reason printed when it cannot be."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        return None
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603
        if done.returncode != 0:
            return None
    return CHROMIUM if Path(CHROMIUM).exists() else None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = install_chromium()
    if path is None:
        pytest.skip("Debian's chromium is not installed and `apt-get install chromium` failed (needs root and "
                    "the Debian mirror): the phone page was not tested in a browser.")
    return path


@pytest.fixture
def page(chromium: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        # English page text (the tests below name controls by their English labels); the answers stay Swedish.
        context = browser.new_context(viewport={"width": 360, "height": 780}, device_scale_factor=2,
                                      is_mobile=True, has_touch=True, locale="en-GB")
        yield context.new_page()
        context.close()
        browser.close()


def test_ask_stream_and_open_a_citation(live_server: LiveServer, page, tmp_path: Path) -> None:  # noqa: ANN001
    token = live_server.token("home-care")
    page.add_init_script(STREAM_WATCH)
    page.goto(f"{live_server.base_url}/#token={token}")
    assert "#token" not in page.url  # the token leaves the address bar at once
    assert page.locator("#signin").is_hidden()

    page.get_by_label("Your question").fill("Vad gör jag om en brukare har ramlat?")
    with page.expect_response("**/api/ask/stream") as streamed:
        page.get_by_role("button", name="Ask", exact=True).tap()
    assert streamed.value.headers["content-type"].startswith("text/event-stream")
    page.wait_for_selector("#status:has-text('Answer ready')")
    # Text appeared while the answer was still being written (aria-busy), before the final answer event.
    assert page.evaluate("window.__whileBusy.length") >= 1
    assert "ramlat" in page.locator("#answer").inner_text()

    cite = page.locator("#answer button.cite").first
    cite.tap()
    passage = page.locator("#passage")
    passage.wait_for(state="visible")
    assert "Fall hos brukare" in page.locator("#passage-title").inner_text()
    assert "ramlat" in page.locator("#passage-quote").inner_text()
    assert page.evaluate("document.activeElement.id") == "passage"

    # Readable at 360 px: nothing scrolls sideways; every control is a large touch target with a label.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    small = page.evaluate("""[...document.querySelectorAll('button, select, textarea, input')]
        .filter(e => e.offsetParent !== null)
        .map(e => [e.id || e.textContent.trim(), e.getBoundingClientRect().height])
        .filter(([, h]) => h < 44)""")
    assert small == []
    unlabelled = page.evaluate("""[...document.querySelectorAll('select, textarea, input')]
        .filter(e => e.labels.length === 0).map(e => e.id)""")
    assert unlabelled == []

    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)  # docs/' pictures: test_fall_question_pictures

    page.get_by_role("button", name="Close passage").tap()
    assert passage.is_hidden()
    page.get_by_role("button", name="Yes").tap()
    page.wait_for_selector("#feedback-status:has-text('Thank you')")


def test_offline_message(live_server: LiveServer, page) -> None:  # noqa: ANN001
    page.goto(f"{live_server.base_url}/#token={live_server.token('home-care')}")
    page.context.set_offline(True)
    page.wait_for_selector("#offline", state="visible")
    page.get_by_label("Your question").fill("Vad gör jag om en brukare har ramlat?")
    page.get_by_role("button", name="Ask", exact=True).tap()
    page.wait_for_selector("#status.error")
    assert "cannot be reached" in page.locator("#status").inner_text()
    page.context.set_offline(False)
    page.wait_for_selector("#offline", state="hidden")


@pytest.fixture
def closest_server(make_settings) -> Iterator[ClosestServer]:  # noqa: ANN001
    """The service on loopback whose answers come back as `closest` (see tests/serving/closest.py)."""
    with serve_closest(make_settings(), ["semesterdagar"]) as server:
        yield server


def test_closest_answer_is_never_shown_as_an_answer(closest_server: ClosestServer, page, tmp_path: Path) -> None:  # noqa: ANN001
    """A `closest` answer: amber banner, the uncovered term, the citations under "Closest routines", de-emphasised.

    The real service answers over the real store (citations, streamed text); the test double at the serving
    boundary only reports the final answer as `closest` with uncovered ["semesterdagar"].
    """
    page.add_init_script(STATE_WATCH)
    page.goto(f"{closest_server.base_url}/#token={closest_server.token('home-care')}")
    page.get_by_label("Your question").fill("Hur många semesterdagar får jag när en brukare har ramlat?")
    page.get_by_role("button", name="Ask", exact=True).tap()
    page.wait_for_selector("#status:has-text('closest routines are shown')")
    original = closest_server.double.originals[-1]
    assert original.status == "answered"  # what the real core gave; the page got it as closest
    # The text was on screen only as a draft, then as the closest routines; never in the answer's state.
    assert page.evaluate("window.__states") == ["pending", "closest"]
    assert page.evaluate("window.__textWhilePending")  # streamed text was shown, as a draft

    result = page.locator("#result")
    assert result.get_attribute("data-state") == "closest"
    assert page.locator("#answer-title").inner_text() == "No direct answer"
    banner = page.locator("#closest-banner")
    assert banner.is_visible()
    assert banner.get_attribute("lang") == "sv"
    assert page.locator("#closest-line").inner_text() == "Rutinerna svarar inte direkt på detta."
    assert page.locator("#uncovered").inner_text() == "Ingen rutin nämner: semesterdagar"
    assert page.locator("#sources-title").inner_text() == "Närmaste rutiner"
    titles = page.locator("#sources button").all_inner_texts()
    assert titles and all(any(c.title in t for c in original.citations) for t in titles)

    # Not the answer's look: no panel and no green edge on the text, the banner amber, the sources muted.
    style = page.evaluate("""() => {
        const s = (id) => getComputedStyle(document.getElementById(id));
        const src = getComputedStyle(document.querySelector('#sources button'));
        return {bg: s('answer').backgroundColor, edge: s('answer').borderLeftColor,
                edgeStyle: s('answer').borderLeftStyle, color: s('answer').color,
                banner: s('closest-banner').backgroundColor,
                sourceColor: src.color, sourceBorder: src.borderTopStyle, sourceWeight: src.fontWeight};
    }""")
    assert style["bg"] == "rgb(255, 255, 255)"  # the answer panel is #f3f5f8
    assert style["edgeStyle"] == "dashed"
    assert style["edge"] != "rgb(30, 107, 52)"  # the answered edge
    assert style["color"] == "rgb(74, 74, 74)"  # muted, not the answer's #1a1a1a
    assert style["banner"] == "rgb(255, 244, 214)"
    assert style["sourceColor"] == "rgb(74, 74, 74)"
    assert style["sourceBorder"] == "dashed"
    assert int(style["sourceWeight"]) < 600

    page.locator("#sources button").first.tap()
    page.locator("#passage").wait_for(state="visible")
    assert page.evaluate("getComputedStyle(document.getElementById('passage')).borderTopStyle") == "dashed"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # For a person to look at (pytest --basetemp=DIR keeps it): the closest state as a phone shows it.
    page.screenshot(path=str(tmp_path / "phone-page-closest.png"), full_page=True)


def test_answered_keeps_the_answer_look(live_server: LiveServer, page) -> None:  # noqa: ANN001
    page.goto(f"{live_server.base_url}/#token={live_server.token('home-care')}")
    page.get_by_label("Your question").fill("Vad gör jag om en brukare har ramlat?")
    page.get_by_role("button", name="Ask", exact=True).tap()
    page.wait_for_selector("#status:has-text('Answer ready')")
    assert page.locator("#result").get_attribute("data-state") == "answered"
    assert page.locator("#closest-banner").is_hidden()
    assert page.locator("#sources-title").inner_text() == "Sources"
    edge = page.evaluate("getComputedStyle(document.getElementById('answer')).borderLeftColor")
    assert edge == "rgb(30, 107, 52)"


def test_table_row_in_a_quote_is_a_small_table(live_server: LiveServer, page) -> None:  # noqa: ANN001
    """A quoted table row keeps its column headers: rendered as a table whose first column names the row."""
    page.goto(f"{live_server.base_url}/")
    quote = "Lånetider:\n| Medietyp | Lånetid | Omlån |\n|---|---|---|\n| Böcker och ljudböcker | 28 dagar | 3 gånger |"
    row = page.evaluate("""(quote) => {
        const box = document.createElement('blockquote');
        renderQuote(box, quote);
        document.body.append(box);
        const t = box.querySelector('table');
        return {text: box.firstChild.textContent, heads: [...t.querySelectorAll('thead th')].map(e => e.textContent),
                row: [...t.querySelectorAll('tbody tr')[0].children].map(e => [e.tagName, e.textContent])};
    }""", quote)
    assert row["text"] == "Lånetider:"
    assert row["heads"] == ["Medietyp", "Lånetid", "Omlån"]
    assert row["row"] == [["TH", "Böcker och ljudböcker"], ["TD", "28 dagar"], ["TD", "3 gånger"]]
    headed = page.evaluate("""() => {
        const box = document.createElement('blockquote');
        renderQuote(box, 'Böcker och ljudböcker | Lånetid: 28 dagar');
        return [...box.querySelectorAll('tbody td, tbody th')].map(e => e.textContent);
    }""")
    assert headed == ["Böcker och ljudböcker", "Lånetid: 28 dagar"]
    # A wide table scrolls inside its own box; the page itself never scrolls sideways at 360 px.
    wide = page.evaluate("""() => {
        const box = document.getElementById('passage-quote');
        renderQuote(box, '| ' + Array.from({length: 8}, (_, i) => 'Kolumnrubrik' + i).join(' | ') + ' |');
        document.getElementById('result').hidden = false;
        document.getElementById('passage').hidden = false;
        const wrap = box.querySelector('.table-wrap');
        return [document.documentElement.scrollWidth, wrap.scrollWidth > wrap.clientWidth];
    }""")
    assert wide == [360, True]


def test_refused_answer_says_who_to_ask(live_server: LiveServer, page) -> None:  # noqa: ANN001
    page.goto(f"{live_server.base_url}/#token={live_server.token('preschool')}")
    page.get_by_label("Your question").fill("Vad kostar en månadsbiljett på bussen?")
    page.get_by_role("button", name="Ask", exact=True).tap()
    page.wait_for_selector("#status:has-text('do not cover')")
    assert page.locator("#result").get_attribute("data-state") == "refused"
    assert page.locator("#answer-title").inner_text() == "Not in the routines"
    assert page.locator("#closest-banner").is_hidden()
    assert "Rutinerna svarar inte på den frågan" in page.locator("#answer").inner_text()
    assert "Ask your manager" in page.locator("#notice").inner_text()
    # With a contact from the routines (cited in the refusal), that contact is the next step, not "your manager".
    general = page.evaluate("""() => [
        noticeLines({refused: true, notices: [], citations: [{n: 1, doc_id: 'general-kontakter'}]}).length,
        noticeLines({refused: true, notices: [], citations: []}).length]""")
    assert general == [0, 1]


def test_sign_in_with_a_city_account_ask_and_sign_out(built_store: Path, tmp_path: Path, page) -> None:  # noqa: ANN001
    """The whole sign-in in Chromium over plain http on loopback: the provider's login form, the Secure session
    cookie kept by the browser, a question asked with the cookie alone (the browser's own Origin header passes the
    check), and sign-out here and at the provider.
    """
    from tests.conftest import ROLES_CITY, free_port  # noqa: PLC0415
    from tests.serving.oidc import CLIENT_ID, CLIENT_SECRET, provider  # noqa: PLC0415

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    shutil.copytree(built_store, tmp_path / "qdrant")
    with provider(redirect_base=base) as issuer:
        env = {
            "ASSIST_ROLES_FILE": str(ROLES_CITY),
            "ASSIST_OIDC__ISSUER": issuer,
            "ASSIST_OIDC__CLIENT_ID": CLIENT_ID,
            "ASSIST_OIDC__CLIENT_SECRET": CLIENT_SECRET,
            "ASSIST_OIDC__SCOPES": '["openid", "groups"]',
            "ASSIST_OIDC__REDIRECT_BASE_URL": base,
        }
        with serve_process(tmp_path, extra_env=env, port=port) as server:
            page.goto(server.base_url)
            page.get_by_role("link", name="Sign in with your city account").click()
            page.wait_for_url(f"{issuer}/**")
            page.fill("input[name=login]", "anna")
            page.fill("input[name=password]", "any")
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.wait_for_selector("#who:has-text('Signed in with your city account (home-care)')")
            cookie = next(c for c in page.context.cookies() if c["name"] == "__Host-fa_session")
            assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
            assert page.evaluate("document.cookie") == ""  # the page's scripts never see it
            assert page.locator("#signin").is_hidden()

            page.get_by_label("Your question").fill("Vad gör jag om en brukare har ramlat?")
            page.get_by_role("button", name="Ask", exact=True).tap()
            page.wait_for_selector("#status:has-text('Answer ready')")
            assert "ramlat" in page.locator("#answer").inner_text()
            page.get_by_role("button", name="Yes").tap()  # feedback: a cookie-authenticated POST too
            page.wait_for_selector("#feedback-status:has-text('Thank you')")

            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(f"{issuer}/session/end**")
            page.get_by_role("button", name="Yes, sign me out").click()
            page.wait_for_url(f"{base}/")
            page.get_by_role("link", name="Sign in with your city account").wait_for()
            assert not [c for c in page.context.cookies() if c["name"] == "__Host-fa_session"]


# --- on a 390 x 844 phone (issue 24) ---------------------------------------------------------------------------------

#: The status line once an answer (of any state) or an error is in.
ANSWERED = ("#status:has-text('Answer ready'), #status:has-text('closest routines are shown'), "
            "#status:has-text('do not cover'), #status.error, "
            "#result:is([data-state=answered], [data-state=closest], [data-state=refused]) #answer[aria-busy=false]")
FALL = "Vad gör jag om en brukare har ramlat?"


@pytest.fixture
def phone_in(chromium: str) -> Iterator[object]:
    """Opens the page on a 390 x 844 phone, as the issue reproduced it, whose browser asks for `locale`."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        contexts = []

        def open_phone(locale: str = "sv-SE") -> object:
            context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                          is_mobile=True, has_touch=True, locale=locale)
            contexts.append(context)
            return context.new_page()

        yield open_phone
        for context in contexts:
            context.close()
        browser.close()


@pytest.fixture
def phone(phone_in) -> object:  # noqa: ANN001
    """The phone with English page text (the tests name controls by their English labels)."""
    return phone_in("en-GB")


def ask_on(page, question: str, button: str = "Ask") -> dict:  # noqa: ANN001
    """Type `question`, tap `button`, wait for the answer; the request body the page sent."""
    page.locator("#question").fill(question)
    with page.expect_request("**/api/ask/stream") as request:
        page.get_by_role("button", name=button, exact=True).tap()
    page.wait_for_selector(ANSWERED)
    return json.loads(request.value.post_data)


def answer_with(page, text: str, citations: list[dict], **fields: object) -> None:  # noqa: ANN001
    """Make /api/ask/stream answer `text` with `citations` (streamed, then the final answer), as the service does."""
    answer = {"answer": text, "status": "answered", "refused": False, "language": "sv", "notices": [],
              "uncovered": [], "fallback": False, "request_id": "req-test", "timings": {},
              "citations": [{"doc_id": c["title"], "source": "", "page": None, "section": "", "quote": c["title"],
                             **c} for c in citations], **fields}
    events = [("meta", {"request_id": "req-test"}), ("delta", {"text": text}), ("answer", answer)]
    body = "".join(f"event: {e}\ndata: {json.dumps(d, ensure_ascii=False)}\n\n" for e, d in events)
    page.route("**/api/ask/stream", lambda route: route.fulfill(
        status=200, headers={"content-type": "text/event-stream"}, body=body))


FIRST_LINE = """() => {
    // The first line of the answer's text, where the phone shows it; and where the notices begin.
    const a = document.getElementById('answer');
    const walk = document.createTreeWalker(a, NodeFilter.SHOW_TEXT,
        {acceptNode: (n) => n.textContent.trim() ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP});
    const range = document.createRange();
    range.selectNodeContents(walk.nextNode());
    const line = range.getClientRects()[0];
    return {bottom: line.bottom, fold: innerHeight, scrolled: scrollY,
            answerBottom: a.getBoundingClientRect().bottom,
            noticeTop: document.getElementById('notice').getBoundingClientRect().top};
}"""


def test_answer_is_on_the_first_screen_and_notices_follow_it(live_server: LiveServer, phone) -> None:  # noqa: ANN001
    """Item 1: notices (the fall routine's review is overdue) come after the answer, one short line each; the
    answer's first line is on the first screen of a 390 x 844 phone without scrolling.
    """
    phone.goto(f"{live_server.base_url}/#token={live_server.token('home-care')}")
    ask_on(phone, FALL)
    assert "granskats" in " ".join(phone.evaluate("state.answer.notices"))  # review date 2026-01-01 has passed
    where = phone.evaluate(FIRST_LINE)
    assert where["scrolled"] == 0
    assert where["bottom"] <= where["fold"]
    assert where["noticeTop"] >= where["answerBottom"]
    assert phone.locator("#notice p").all_inner_texts() == [
        "Granskning försenad sedan 2026-01-01: ”Fall hos brukare”. Kontrollera med ägaren att den gäller."]

    # Several overdue routines: one line naming them all, beside the other notices, still under the answer.
    overdue = "Rutinen ”{}” skulle ha granskats senast 2025-03-01: kontrollera med rutinens ägare att den gäller."
    titles = ["Fall hos brukare – natt", "Fall hos brukare – dagtid", "Trygghetslarm"]
    other = "Personuppgifter i frågan ersattes innan den behandlades: namn."
    answer_with(phone, "- Ring nattsjuksköterskan. [1]\n- Dokumentera fallet. [2]",
                [{"n": 1, "title": titles[0]}, {"n": 2, "title": titles[1]}],
                notices=[overdue.format(t) for t in titles] + [other])
    ask_on(phone, FALL)
    lines = phone.locator("#notice p").all_inner_texts()
    assert lines == [other, "Granskning försenad: ”Fall hos brukare – natt”, ”Fall hos brukare – dagtid”, "
                            "”Trygghetslarm”. Kontrollera med ägarna att de gäller."]
    where = phone.evaluate(FIRST_LINE)
    assert where["bottom"] <= where["fold"]
    assert where["noticeTop"] >= where["answerBottom"]


def test_answer_markdown_is_shown_as_lists_bold_and_tables_never_as_html(live_server: LiveServer, phone) -> None:  # noqa: ANN001
    """Item 2: the answer's Markdown (bold phone numbers, "- " items, table rows quoted with their headers) is
    shown as lists, bold and a small table; markup in a routine's text stays text.
    """
    text = ("- Ring nattsjuksköterskan på **08-123 40 99** inom **5 minuter**. [1]\n"
            "- Böcker och ljudböcker | Lånetid: 28 dagar | Omlån: 3 gånger [2]\n"
            "- Filmer och tv-spel | Lånetid: 14 dagar | Omlån: 1 gång [2]\n"
            "\n"
            "1. Skriv en avvikelse <img src=x onerror=\"window.__injected = 1\"> samma dag. [1]\n"
            "2. **<b>Ring</b>** sjuksköterskan.")
    phone.goto(f"{live_server.base_url}/#token={live_server.token('home-care')}")
    answer_with(phone, text, [{"n": 1, "title": "Fall hos brukare – natt"}, {"n": 2, "title": "Lån"}])
    ask_on(phone, FALL)
    shown = phone.locator("#answer").inner_text()
    assert "**" not in shown
    assert not [line for line in shown.splitlines() if line.lstrip().startswith(("- ", "|"))]
    assert "|" not in shown
    got = phone.evaluate("""() => {
        const a = document.getElementById('answer');
        const texts = (sel) => [...a.querySelectorAll(sel)].map((e) => e.textContent.trim());
        return {bold: texts('strong'), bullets: texts('ul > li'), steps: texts('ol > li'),
                head: texts('table thead th, table thead td'),
                rows: [...a.querySelectorAll('table tbody tr')]
                    .map((r) => [...r.children].map((c) => c.textContent.trim())),
                rowHeads: texts('table tbody th[scope=row]'), cites: texts('button.cite'),
                markup: a.querySelectorAll('img, b').length, injected: window.__injected === 1};
    }""")
    assert got["bold"] == ["08-123 40 99", "5 minuter", "<b>Ring</b>"]
    assert got["bullets"] == ["Ring nattsjuksköterskan på 08-123 40 99 inom 5 minuter. 1"]
    assert got["head"] == ["", "Lånetid", "Omlån"]
    assert got["rows"] == [["Böcker och ljudböcker", "28 dagar", "3 gånger 2"],
                           ["Filmer och tv-spel", "14 dagar", "1 gång 2"]]
    assert got["rowHeads"] == ["Böcker och ljudböcker", "Filmer och tv-spel"]
    assert got["steps"] == ['Skriv en avvikelse <img src=x onerror="window.__injected = 1"> samma dag. 1',
                            "<b>Ring</b> sjuksköterskan."]
    assert got["cites"] == ["1", "2", "2", "1"]  # citation markers inside list items and table cells stay buttons
    assert got["markup"] == 0
    assert not got["injected"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_plain_language_rewrites_the_question_in_the_box(live_server: LiveServer, phone) -> None:  # noqa: ANN001
    """Item 3: a new question typed after an answer is the one "Plain language for a parent" asks, not the
    previous question; with the box left as it is, the button asks the question just answered again.
    """
    first = "Kan vi få en tolk till utvecklingssamtalet?"
    second = "Mitt barn har feber, när får hon komma tillbaka till förskolan?"
    phone.goto(f"{live_server.base_url}/#token={live_server.token('preschool')}")
    phone.evaluate("CONFIG.llm = true; showWhatAnswersCanDo()")  # as with an LLM generator (item 4 disables it)
    ask_on(phone, first)
    sent = ask_on(phone, second, button="Plain language for a parent")
    assert (sent["question"], sent["plain"]) == (second, True)
    assert phone.get_by_label("Your question").input_value() == second
    assert [m["content"] for m in sent["history"] if m["role"] == "user"] == [first]
    # The same question again in plain words: its own earlier answer is not sent as the conversation.
    again = phone.get_by_role("button", name="Plain language for a parent")
    with phone.expect_request("**/api/ask/stream") as request:
        again.tap()
    phone.wait_for_selector(ANSWERED)
    sent = json.loads(request.value.post_data)
    assert (sent["question"], sent["plain"]) == (second, True)
    assert [m["content"] for m in sent["history"] if m["role"] == "user"] == [first]


def test_follow_up_is_asked_with_the_conversation(live_server: LiveServer, phone) -> None:  # noqa: ANN001
    """Item 6: "and at night?" after a fall question is sent with the earlier turns (`history`, as the terminal
    client sends it), so it is answered from the fall routine; "New conversation" starts afresh.
    """
    phone.goto(f"{live_server.base_url}/#token={live_server.token('home-care')}")
    assert ask_on(phone, FALL)["history"] == []
    answered = phone.evaluate("state.answer.answer")
    sent = ask_on(phone, "Och om det händer på natten?")
    assert sent["history"] == [{"role": "user", "content": FALL}, {"role": "assistant", "content": answered}]
    assert phone.locator("#result").get_attribute("data-state") == "answered"
    assert "Fall hos brukare" in phone.locator("#sources").inner_text()

    phone.get_by_role("button", name="New conversation").tap()
    assert phone.get_by_label("Your question").input_value() == ""
    assert ask_on(phone, "Var hämtar jag nyckeln till brukaren?")["history"] == []


def test_closest_says_not_answered_once(live_server: LiveServer, phone) -> None:  # noqa: ANN001
    """Item 8: a closest answer says once that the routines do not answer the question (the banner), and names
    the terms no routine mentions once.
    """
    phone.goto(f"{live_server.base_url}/#token={live_server.token('home-care')}")
    ask_on(phone, "Och om det händer på natten?")  # alone, no routine answers it
    assert phone.locator("#result").get_attribute("data-state") == "closest"
    page_text = phone.locator("body").inner_text()
    said = [line for line in page_text.splitlines()
            if any(p in line.lower() for p in ("svarar inte direkt", "answer this directly", "answers this directly"))]
    assert said == ["Rutinerna svarar inte direkt på detta."]
    assert page_text.count("Ingen rutin nämner") == 1
    assert phone.locator("#answer li").count() >= 1  # the closest routines, as a list


def test_citations_are_numbered_in_the_order_shown(live_server: LiveServer, phone) -> None:  # noqa: ANN001
    """Item 8: the service's citation numbers ([5], [13], [16]) are shown as 1..n in the order the text cites
    them; sources and passages follow the new numbers.
    """
    phone.goto(f"{live_server.base_url}/#token={live_server.token('home-care')}")
    answer_with(phone, "- Ring sjuksköterskan. [13]\n- Dokumentera fallet. [5]\n- Ring igen [13] och larma. [16]",
                [{"n": 5, "title": "Dagtid"}, {"n": 13, "title": "Natt"}, {"n": 16, "title": "Trygghetslarm"}])
    ask_on(phone, FALL)
    assert phone.locator("#answer button.cite").all_inner_texts() == ["1", "2", "1", "3"]
    assert "[" not in phone.locator("#answer").inner_text()
    assert phone.locator("#sources button").all_inner_texts() == ["[1] Natt", "[2] Dagtid", "[3] Trygghetslarm"]
    phone.locator("#answer button.cite").nth(1).tap()
    assert phone.locator("#passage-title").inner_text() == "[2] Dagtid"


# --- the page's own language, what answers can do, the whole routine (issue 24, items 4, 5 and 9) -------------------

FALL_AR = "ماذا أفعل إذا سقط أحد المستفيدين؟"


def test_page_text_is_swedish_by_default_and_arabic_right_to_left_on_request(live_server: LiveServer, phone_in) -> None:  # noqa: ANN001
    """Item 5: a Swedish phone gets the page in Swedish, an English one in English; the page's switch turns it to
    Arabic, right to left and mirrored, and the choice is remembered on the phone.
    """
    swedish = phone_in("sv-SE")
    swedish.goto(f"{live_server.base_url}/#token={live_server.token('home-care')}")
    assert swedish.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["sv", "ltr"]
    assert swedish.locator("label[for=question]").inner_text() == "Din fråga"
    assert swedish.get_by_role("button", name="Fråga", exact=True).is_visible()
    assert "Your question" not in swedish.locator("body").inner_text()

    english = phone_in("en-GB")
    english.goto(live_server.base_url)
    assert english.locator("label[for=question]").inner_text() == "Your question"

    swedish.select_option("#ui-language", "ar")
    swedish.wait_for_url("**/?lang=ar")
    swedish.wait_for_selector("html[lang=ar][dir=rtl]")
    assert swedish.locator("label[for=question]").inner_text() == "سؤالك"
    # Mirrored: the question's label text sits at the right edge, as does the header's title.
    for selector in ("label[for=question]", "h1"):
        text = swedish.evaluate(f"""() => {{
            const range = document.createRange();
            range.selectNodeContents(document.querySelector('{selector}'));
            const r = range.getBoundingClientRect();
            return {{left: r.left, right: r.right}};
        }}""")
        assert text["right"] > 390 - 40
        assert text["left"] > 100  # left to right it would start at the left margin (18 px)
    swedish.goto(live_server.base_url)  # a later visit without ?lang=: the phone remembers the choice
    swedish.wait_for_selector("html[lang=ar][dir=rtl]")
    assert swedish.evaluate("document.documentElement.scrollWidth") <= 390


def test_without_an_llm_the_language_controls_say_so_before_a_tap(live_server: LiveServer, phone_in) -> None:  # noqa: ANN001
    """Item 4: with the extractive generator (the default install), the answer language and "plain language" are
    disabled before anyone taps them, with the reason in the page's language; the question is asked without them.
    """
    page = phone_in("sv-SE")
    page.goto(f"{live_server.base_url}/#token={live_server.token('preschool')}")
    assert page.locator("#language").is_disabled()
    assert page.locator("#plain").is_disabled()
    reasons = page.locator(".no-llm").all_inner_texts()
    assert len(reasons) == 2
    assert all("språkmodell" in r for r in reasons)
    assert page.locator("#language").get_attribute("aria-describedby") == "no-llm-language"
    sent = ask_on(page, "Mitt barn har feber, när får hon komma tillbaka till förskolan?", button="Fråga")
    assert (sent["language"], sent["plain"]) == (None, False)
    assert page.locator("#plain").is_disabled()  # still, once the answer is in
    assert "needs the LLM generator" not in page.locator("body").inner_text()

    english = phone_in("en-GB")
    english.goto(live_server.base_url)
    assert "language model" in english.locator("#no-llm-plain").inner_text()


def test_a_citation_opens_the_whole_routine_at_its_section(live_server: LiveServer, phone) -> None:  # noqa: ANN001
    """Item 9: from a cited passage the whole routine opens, rendered (headings, no Markdown marks), at the cited
    section; "Back to the answer" returns to it.
    """
    phone.goto(f"{live_server.base_url}/#token={live_server.token('home-care')}")
    ask_on(phone, FALL)
    phone.locator("#answer button.cite").first.tap()
    phone.get_by_role("button", name="Read the whole routine").tap()
    routine = phone.locator("#routine")
    routine.wait_for(state="visible")
    assert phone.locator("#routine-title").inner_text() == "Fall hos brukare"
    cited = phone.locator("#routine-body .cited")
    assert cited.count() == 1
    assert "Arbetsgång" in cited.locator("h3").inner_text()
    assert "ramlat" in cited.inner_text()
    text = phone.locator("#routine-body").inner_text()
    assert "**" not in text
    assert "##" not in text
    box = cited.bounding_box()
    assert 0 <= box["y"] < 844
    assert phone.locator("#result").is_hidden()
    phone.get_by_role("button", name="Back to the answer").tap()
    assert phone.locator("#result").is_visible()


FOLD = """() => {
    const a = document.getElementById('answer');
    const walk = document.createTreeWalker(a, NodeFilter.SHOW_TEXT,
        {acceptNode: (n) => n.textContent.trim() ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP});
    const range = document.createRange();
    range.selectNodeContents(walk.nextNode());
    return {bottom: range.getClientRects()[0].bottom, fold: innerHeight, text: a.innerText,
            lang: document.documentElement.lang, dir: document.documentElement.dir};
}"""


@pytest.mark.parametrize(("locale", "question"), [("sv-SE", FALL), ("ar", FALL_AR)])
def test_fall_question_pictures(live_server: LiveServer, phone_in, locale: str, question: str, tmp_path: Path) -> None:  # noqa: ANN001
    """The issue's picture: at 390 x 844 a fall question's first answer line is above the fold, in the page's
    language (Swedish; Arabic, right to left), without Markdown marks. docs/ gets new pictures only when asked
    (ASSIST_UPDATE_SCREENSHOT=1) or when it has none, so a test run leaves the tree clean.
    """
    page = phone_in(locale)
    page.goto(f"{live_server.base_url}/#token={live_server.token('home-care')}")
    button = "Fråga" if locale == "sv-SE" else "اسأل"
    ask_on(page, question, button=button)
    where = page.evaluate(FOLD)
    # The Swedish question is answered; the fixture routines refuse the Arabic one (the core's cross-language
    # answerability, not the page): its first line, the refusal in Arabic, is what must be on the first screen.
    assert page.locator("#result").get_attribute("data-state") == ("answered" if locale == "sv-SE" else "refused")
    assert where["bottom"] <= where["fold"]
    assert "**" not in where["text"]
    assert not [line for line in where["text"].splitlines() if line.lstrip().startswith(("- ", "|", "#"))]
    assert (where["lang"], where["dir"]) == (("sv", "ltr") if locale == "sv-SE" else ("ar", "rtl"))
    target = SCREENSHOTS[locale]
    update = os.environ.get("ASSIST_UPDATE_SCREENSHOT") or not target.exists()
    page.screenshot(path=str(target if update else tmp_path / target.name))
