"""The owners' page in headless Chromium at 1280 px, over a stand-in API (the page's own files, the inventory built by
owners.inventory): every column on screen, a replaced routine neither flagged overdue nor offered replace or retire,
a new action clears the old message and the retire confirmation stays until it is answered.
"""

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from owners.inventory import build_inventory
from serving.routes.pages import STATIC_DIR
from tests.owners.test_inventory import chunk
from tests.serving.test_phone_page import CHROMIUM_ARGS, chromium  # noqa: F401 - the fixture, shared

pytestmark = pytest.mark.integration
BASE = "http://owners.test"
TODAY = date(2026, 12, 6)
#: Long ids, titles and files as a real city's, a replaced routine past its review date and its replacement.
PAYLOADS = [
    chunk("fall", title="Fall och fallprevention hos brukare i ordinärt boende", review_date="2026-03-01",
          valid_from="2024-01-01", owner="Enhetschef hemtjänst Norra", page=1),
    chunk("fall-2026-06-01", title="Fall och fallprevention hos brukare (reviderad)", replaces="fall",
          valid_from="2026-06-01", review_date="2027-06-01", owner="Enhetschef hemtjänst Norra",
          source="knowledge/home_care/fall-och-fallprevention-hos-brukare-reviderad-2026.docx"),
    chunk("nyckelhantering-och-nyckelkvittens", title="Nyckelhantering", review_date="2026-01-15",
          owner="Samordnare", source="knowledge/home_care/nyckelhantering-och-nyckelkvittens-i-hemtjansten.pdf",
          page=12),
]
STATUS = {"knowledge/home_care/fall.md": {"doc_id": "fall", "status": "unchanged",
                                          "ingested_at": "2026-11-01T08:00:00Z"}}


class StandIn:
    """Answers the page's requests: its static files from serving/static, the owners' API from fixtures."""

    def __init__(self) -> None:
        rows = build_inventory(PAYLOADS, STATUS, today=TODAY)
        self.rows = [r.model_dump(mode="json") for r in rows]
        self.calls: list[tuple[str, str]] = []

    def handle(self, route: Any) -> None:
        request = route.request
        path = urlsplit(request.url).path
        self.calls.append((request.method, path))
        if path == "/owners":
            route.fulfill(status=200, content_type="text/html", body=(STATIC_DIR / "owners.html").read_text())
        elif path.startswith("/static/"):
            file = STATIC_DIR / path.removeprefix("/static/")
            kind = {".js": "text/javascript", ".css": "text/css"}.get(file.suffix, "text/plain")
            route.fulfill(status=200, content_type=kind, body=file.read_text() if file.is_file() else "")
        elif path == "/api/owners/me":
            self.json(route, {"role": "owner-home-care", "collections": ["home_care"], "admin": False})
        elif path == "/api/owners/changes":
            self.json(route, [])
        elif path == "/api/owners/documents" and request.method == "GET":
            self.json(route, self.rows)
        elif path == "/api/owners/documents" and request.method == "POST":
            self.json(route, {"action": "add", "doc_id": "ny-rutin", "title": "Ny rutin", "detail": {"chunks": 3}},
                      201)
        elif path.endswith("/retire") and request.method == "POST":
            doc_id = path.split("/")[-2]
            self.json(route, {"action": "retire", "doc_id": doc_id, "title": doc_id, "detail": {}})
        else:
            route.fulfill(status=404, body="")

    @staticmethod
    def json(route: Any, body: object, status: int = 200) -> None:
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    def retired(self) -> list[str]:
        return [p for m, p in self.calls if m == "POST" and p.endswith("/retire")]


@pytest.fixture
def owners_page(chromium: str) -> Iterator[tuple[Any, StandIn]]:  # noqa: F811 - the imported fixture
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    stand_in = StandIn()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page = context.new_page()
        page.route("**/*", stand_in.handle)
        page.goto(f"{BASE}/owners#token=t0ken")
        page.wait_for_selector("#inventory tr[data-doc-id='fall']")
        yield page, stand_in
        context.close()
        browser.close()


def test_every_column_is_on_screen_at_1280_px(owners_page: tuple[Any, StandIn], tmp_path: Path) -> None:
    page, _ = owners_page
    width = page.evaluate("document.documentElement.clientWidth")
    headers = page.locator("#inventory thead th")
    names = headers.all_inner_texts()
    assert {"Review", "Status", "Actions"} <= {n.strip() for n in names}
    off = []
    for i, name in enumerate(names):
        box = headers.nth(i).bounding_box()
        if box is None or box["x"] < 0 or box["x"] + box["width"] > width:
            off.append((name, box))
    page.screenshot(path=str(tmp_path / "owners-1280.png"), full_page=True)
    assert off == [], f"columns off screen at {width} px: {off}"
    # The table fits its box (nothing hidden to scroll sideways to), and so do the actions, not only their header.
    overflow = page.evaluate("(() => { const w = document.querySelector('.table-wrap'); "
                             "return w.scrollWidth - w.clientWidth; })()")
    assert overflow <= 0, f"the table is {overflow} px wider than its box"
    wrap = page.locator(".table-wrap").bounding_box()
    for name in ("Replace Nyckelhantering", "Retire Nyckelhantering"):
        box = page.get_by_role("button", name=name).bounding_box()
        assert box is not None and box["x"] + box["width"] <= min(width, wrap["x"] + wrap["width"]), name


def test_a_replaced_routine_is_not_flagged_overdue_and_offers_no_actions(owners_page: tuple[Any, StandIn]) -> None:
    page, _ = owners_page
    old = page.locator("#inventory tr[data-doc-id='fall']")
    assert "replaced by fall-2026-06-01" in old.inner_text()
    assert "overdue" not in old.inner_text() and old.locator("td.overdue").count() == 0
    assert old.locator("button").count() == 0
    # A routine in force past its review date is still flagged and can be replaced or retired.
    live = page.locator("#inventory tr[data-doc-id='nyckelhantering-och-nyckelkvittens']")
    assert "2026-01-15 (overdue)" in live.inner_text()
    assert live.get_by_role("button", name="Replace Nyckelhantering").is_visible()


def test_a_new_action_clears_the_old_message_and_the_retire_confirmation_stays(
    owners_page: tuple[Any, StandIn],
) -> None:
    page, stand_in = owners_page
    page.set_input_files("#file", files=[{"name": "ny.md", "mimeType": "text/markdown", "buffer": b"# Ny rutin\n"}])
    page.get_by_role("button", name="Add routine").click()
    page.wait_for_selector("#upload-status:has-text('Added ny-rutin')")

    page.get_by_role("button", name="Retire Nyckelhantering").click()
    confirm = page.get_by_role("dialog")
    confirm.wait_for(state="visible")
    assert "Nyckelhantering" in confirm.inner_text()
    assert page.locator("#upload-status").inner_text() == ""  # the upload's message belongs to the last action
    # The inventory refreshes (a filter typed before, a timer): the question is still there, still unanswered.
    page.evaluate("loadInventory()")
    page.wait_for_timeout(700)
    assert confirm.is_visible() and stand_in.retired() == []

    confirm.get_by_role("button", name="Keep it").click()
    confirm.wait_for(state="hidden")
    assert stand_in.retired() == []

    page.get_by_role("button", name="Retire Nyckelhantering").click()
    confirm.wait_for(state="visible")
    confirm.get_by_label("Why is it retired? (optional)").fill("Ersatt av nya nyckelrutinen")
    confirm.get_by_role("button", name="Retire", exact=True).click()
    page.wait_for_selector("#status:has-text('Retired nyckelhantering-och-nyckelkvittens')")
    assert stand_in.retired() == ["/api/owners/documents/nyckelhantering-och-nyckelkvittens/retire"]
    assert confirm.is_hidden()

    # The next upload clears the retire message.
    page.set_input_files("#file", files=[{"name": "ny.md", "mimeType": "text/markdown", "buffer": b"# Ny rutin\n"}])
    page.get_by_role("button", name="Add routine").click()
    page.wait_for_selector("#upload-status:has-text('Added ny-rutin')")
    assert page.locator("#status").inner_text() == ""
