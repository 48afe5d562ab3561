"""The owners' page in headless Chromium: a content owner uploads a Word routine and staff are answered from it on
the phone page (with its overdue-review notice); a replacement from a future day leaves the old routine in force;
a bad file is refused with a clear message and the store does not change."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from assist.roles import load_roles
from assist.store import CURRENT_FILE
from serving.app import SQLITE_FILE
from serving.tokens import TokenStore
from tests.conftest import ROLES_CITY
from tests.owners.docs import ICE, ICE_NEW, ICE_NEW_TITLE, ICE_QUESTION, ICE_TITLE, docx_bytes
from tests.serving.conftest import LiveServer, serve_process
from tests.serving.test_phone_page import CHROMIUM_ARGS, chromium  # noqa: F401 - the fixture, shared

pytestmark = pytest.mark.integration
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def owners_server(built_store: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """`assist serve` over its own copy of the store, the city's roles and a knowledge folder to upload into."""
    shutil.copytree(built_store, tmp_path / "qdrant")
    (tmp_path / "knowledge").mkdir()
    env = {"ASSIST_ROLES_FILE": str(ROLES_CITY), "ASSIST_KNOWLEDGE_DIR": str(tmp_path / "knowledge")}
    with serve_process(tmp_path, env) as server:
        yield server


def token(server: LiveServer, role: str) -> str:
    store = TokenStore(server.data_dir / SQLITE_FILE, roles=load_roles(ROLES_CITY))
    try:
        return store.create(role)[1]
    finally:
        store.close()


@pytest.fixture
def browser(chromium: str) -> Iterator[object]:  # noqa: F811 - the imported fixture is this one's argument
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


def ask_on_the_phone(browser, server: LiveServer, staff: str) -> dict[str, str]:  # noqa: ANN001
    """Ask the ice question on the phone page as staff: the answer's text, sources and notice as shown."""
    context = browser.new_context(viewport={"width": 360, "height": 780}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{server.base_url}/#token={staff}")
    page.get_by_label("Your question").fill(ICE_QUESTION)
    page.get_by_role("button", name="Ask", exact=True).tap()
    page.wait_for_selector("#status:has-text('Answer ready')")
    shown = {
        "answer": page.locator("#answer").inner_text(),
        "sources": page.locator("#sources").inner_text(),
        "notice": page.locator("#notice").inner_text() if page.locator("#notice").is_visible() else "",
    }
    context.close()
    return shown


def test_an_owner_adds_and_replaces_a_routine_and_a_bad_file_changes_nothing(
    owners_server: LiveServer, browser, tmp_path: Path  # noqa: ANN001
) -> None:
    staff = token(owners_server, "home-care")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{owners_server.base_url}/owners#token={token(owners_server, 'owner-home-care')}")
    page.wait_for_selector("#desk", state="visible")
    assert "owner-home-care: home_care" in page.locator("#who").inner_text()
    page.wait_for_selector("#inventory tr[data-doc-id='fall']")
    assert page.locator("#inventory tr[data-doc-id='illness']").count() == 0  # preschool's: not this owner's

    # 1. Add a Word routine, due for review last January.
    page.set_input_files("#file", files=[{"name": "Halka entré.docx", "mimeType": DOCX_TYPE,
                                          "buffer": docx_bytes(ICE_TITLE, ICE)}])
    page.get_by_label("Review by").fill("2026-01-15")
    page.get_by_role("button", name="Add routine").click()
    page.wait_for_selector("#upload-status:has-text('Added halka-entre')", timeout=120_000)
    row = page.locator("#inventory tr[data-doc-id='halka-entre']")
    assert "2026-01-15 (overdue)" in row.inner_text()
    assert "knowledge/home_care/halka-entre.docx" in row.inner_text()

    shown = ask_on_the_phone(browser, owners_server, staff)
    assert ICE_TITLE in shown["sources"]
    assert "sand" in shown["answer"]
    assert "2026-01-15" in shown["notice"]  # the review notice, on the phone page

    # 2. Replace it from a day far ahead: the old routine stays the one answered from.
    page.get_by_role("button", name=f"Replace {ICE_TITLE}").click()
    assert page.locator("#replacing").is_visible()
    page.set_input_files("#file", files=[{"name": "Halka entré.docx", "mimeType": DOCX_TYPE,
                                          "buffer": docx_bytes(ICE_NEW_TITLE, ICE_NEW)}])
    page.get_by_label("Valid from").fill("2099-01-01")
    page.get_by_role("button", name="Upload replacement").click()
    page.wait_for_selector("#upload-status:has-text('Replacement halka-entre-2099-01-01 saved')", timeout=120_000)
    new_row = page.locator("#inventory tr[data-doc-id='halka-entre-2099-01-01']")
    assert "scheduled (from 2099-01-01)" in new_row.inner_text()
    assert "halka-entre-2099-01-01" in page.locator("#inventory tr[data-doc-id='halka-entre']").inner_text()

    shown = ask_on_the_phone(browser, owners_server, staff)
    assert ICE_TITLE in shown["sources"] and ICE_NEW_TITLE not in shown["sources"]
    assert "sand" in shown["answer"] and "salt" not in shown["answer"]

    # 3. A picture named like a Word file: refused in words, and the store and the folder stay as they were.
    current = (owners_server.data_dir / "qdrant" / CURRENT_FILE).read_text()
    files = sorted(p.name for p in (owners_server.data_dir / "knowledge").rglob("*"))
    rows = page.locator("#inventory tbody tr").count()
    page.set_input_files("#file", files=[{"name": "rutin.docx", "mimeType": DOCX_TYPE,
                                          "buffer": b"\x89PNG\r\n\x1a\n" + bytes(500)}])
    page.get_by_role("button", name="Add routine").click()
    page.wait_for_selector("#upload-status.error")
    message = page.locator("#upload-status").inner_text()
    assert "Refused: The file is a PNG image, not a routine" in message
    assert (owners_server.data_dir / "qdrant" / CURRENT_FILE).read_text() == current
    assert sorted(p.name for p in (owners_server.data_dir / "knowledge").rglob("*")) == files
    page.reload()
    page.wait_for_selector("#inventory tr[data-doc-id='halka-entre']")
    assert page.locator("#inventory tbody tr").count() == rows
    page.screenshot(path=str(tmp_path / "owners-page.png"), full_page=True)
    context.close()


def test_staff_on_the_owners_page_are_told_it_is_not_for_them(owners_server: LiveServer, browser) -> None:  # noqa: ANN001
    page = browser.new_page()
    page.goto(f"{owners_server.base_url}/owners#token={token(owners_server, 'home-care')}")
    page.wait_for_selector("#status.error")
    assert "owns no collection" in page.locator("#status").inner_text()
    assert page.locator("#desk").is_hidden()


def test_a_link_from_the_gaps_page_opens_the_owners_page_at_that_routine(owners_server: LiveServer, browser) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    owner = token(owners_server, "owner-home-care")
    page.goto(f"{owners_server.base_url}/owners?q=keys&collection=home_care#token={owner}")
    page.wait_for_selector("#inventory tr[data-doc-id='keys']")
    assert page.locator("#search").input_value() == "keys"
    assert page.locator("#inventory tr[data-doc-id='fall']").count() == 0  # filtered to the linked routine
    context.close()
