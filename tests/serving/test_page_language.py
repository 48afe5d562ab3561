"""The phone page's own words: one catalogue per language, chosen by Accept-Language or ?lang=, Swedish by default;
the whole routine behind a citation, within what the role may read.
"""

import re

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from serving import i18n
from tests.serving.conftest import REPO, LiveServer

LOCALES = REPO / "serving" / "locales"


def page_messages() -> set[str]:
    """Every message the page shows: `_()` in index.html, `t()` in app.js, as `serving/locales/update.sh` finds them."""
    found = extract_from_dir(
        str(REPO / "serving" / "static"),
        method_map=[("index.html", "jinja2"), ("app.js", "javascript")],
        keywords={"_": None, "t": None},
    )
    return {str(message) for _, _, message, _, _ in found}


@pytest.mark.parametrize("language", sorted(p.stem for p in LOCALES.glob("*.po") if p.stem != "en"))
def test_every_page_message_is_translated(language: str) -> None:
    """A string added to the page without its translation fails here (English would show through)."""
    with (LOCALES / f"{language}.po").open("rb") as fh:
        catalogue = {str(m.id): str(m.string) for m in read_po(fh) if m.id and m.string and not m.fuzzy}
    messages = page_messages()
    assert len(messages) > 50
    assert sorted(messages - set(catalogue)) == []
    for message in messages:
        assert re.findall(r"\{\w+\}", message) == re.findall(r"\{\w+\}", catalogue[message]), message


def test_accept_language_picks_a_catalogue_or_swedish() -> None:
    assert i18n.negotiate(None, None) == "sv"
    assert i18n.negotiate(None, "en-GB,en;q=0.9") == "en"
    assert i18n.negotiate(None, "zu") == "sv"  # no Zulu catalogue: Swedish, the default
    assert i18n.negotiate(None, "zu,fi;q=0.4") == "fi"
    assert i18n.negotiate(None, "en;q=0.2,ar") == "ar"
    assert i18n.negotiate("fi", "en") == "fi"  # the page's switch wins over the browser
    assert i18n.negotiate("xx", "en") == "en"



def page(server: LiveServer, headers: dict[str, str] | None = None, query: str = "") -> str:
    resp = httpx.get(f"{server.base_url}/{query}", headers=headers or {}, timeout=30)
    assert resp.status_code == 200
    return resp.text


@pytest.mark.integration
def test_page_speaks_swedish_by_default_english_and_arabic_on_request(live_server: LiveServer) -> None:
    swedish = page(live_server)
    assert '<html lang="sv" dir="ltr">' in swedish
    assert ">Din fråga<" in swedish
    assert ">Your question<" not in swedish
    english = page(live_server, {"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en" dir="ltr">' in english
    assert ">Your question<" in english
    arabic = page(live_server, {"Accept-Language": "ar"})
    assert '<html lang="ar" dir="rtl">' in arabic
    assert ">سؤالك<" in arabic
    assert '<html lang="fi" dir="ltr">' in page(live_server, {"Accept-Language": "en"}, "?lang=fi")


@pytest.mark.integration
def test_page_says_what_answers_cannot_do_without_an_llm(live_server: LiveServer) -> None:
    """Item 4: the default install's page carries `llm: false`; the reasons are in the page's language."""
    swedish = page(live_server)
    assert '"llm": false' in swedish
    assert "ett översatt svar kräver en språkmodell" in swedish
    assert "Enkelt språk kräver en språkmodell" in swedish


@pytest.mark.integration
def test_routine_view_is_limited_to_the_role(live_server: LiveServer) -> None:
    """Item 9: the whole routine behind a citation, for a role that may read its collection; any other role gets
    the same 404 as a routine that does not exist, so that its existence is not revealed.
    """
    base = live_server.base_url
    home_care = {"Authorization": f"Bearer {live_server.token('home-care')}"}
    library = {"Authorization": f"Bearer {live_server.token('library')}"}
    asked = httpx.post(f"{base}/api/ask", json={"question": "Vad gör jag om en brukare har ramlat?"},
                       headers=home_care, timeout=120).json()
    cited = next(c for c in asked["citations"] if c["title"] == "Fall hos brukare")
    url = f"{base}/api/routines/{cited['collection']}/{cited['doc_id']}"

    resp = httpx.get(url, headers=home_care, timeout=30)
    assert resp.status_code == 200
    body = resp.json()
    assert body["title"] == "Fall hos brukare"
    assert [s["section"] for s in body["sections"]] == ["Fall hos brukare > Arbetsgång"]
    assert "ramlat" in body["sections"][0]["text"]
    assert body["sections"][0]["id"] == "sec-1"

    denied = httpx.get(url, headers=library, timeout=30)
    missing = httpx.get(f"{base}/api/routines/{cited['collection']}/no-such-routine", headers=home_care, timeout=30)
    other = httpx.get(f"{base}/api/routines/no_such_collection/{cited['doc_id']}", headers=home_care, timeout=30)
    assert denied.status_code == missing.status_code == other.status_code == 404
    # The same reply as for any unknown path (the error handler names the path asked, nothing else).
    replies = [r.json()["error"]["message"].replace(r.request.url.path, "<path>") for r in (denied, missing, other)]
    assert replies[0] == replies[1] == replies[2]
    assert httpx.get(url, timeout=30).status_code == 401
