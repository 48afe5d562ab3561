"""The gaps page in headless Chromium: questions refused through the API show up as a topic; staff are turned away."""

import httpx
import pytest

from tests.serving.conftest import LiveServer
from tests.serving.test_phone_page import chromium, page  # noqa: F401 - the browser fixtures

pytestmark = pytest.mark.integration

#: No fixture routine answers these; every role's question is refused.
BUS = [
    "Vad kostar en månadsbiljett på bussen?",
    "Hur mycket kostar ett månadskort för bussen?",
    "Vad kostar busskortet per månad?",
    "Vad är priset på en månadsbiljett för buss?",
]


def test_refused_questions_appear_as_a_topic_on_the_gaps_page(live_server: LiveServer, page) -> None:  # noqa: ANN001, F811
    # Each question from a token of its own (the floor counts people); each text from three, to be shown.
    for question in [q for q in BUS for _ in range(3)]:
        staff = {"Authorization": f"Bearer {live_server.token('home-care')}"}
        resp = httpx.post(f"{live_server.base_url}/api/ask", json={"question": question}, headers=staff, timeout=60)
        assert resp.status_code == 200 and resp.json()["status"] == "refused", resp.text

    page.goto(f"{live_server.base_url}/gaps#token={live_server.token('admin')}")
    assert "#token" not in page.url
    topic = page.locator(".topic", has_text=BUS[0]).or_(page.locator(".topic", has_text=BUS[1]))
    topic.first.wait_for(state="visible", timeout=60_000)
    card = page.locator(".topic").filter(has=page.locator(".examples li", has_text="buss"))
    assert card.count() == 1
    text = card.inner_text()
    assert "home_care" in text and "12 questions" in text and "refused 12" in text
    assert card.locator(".examples li").count() == 3
    assert all(e in BUS for e in card.locator(".examples li").all_inner_texts())
    # Issue 24: "1 topics", an unlinked routine id, labels of loose words.
    shown = page.locator(".topic").count()
    assert page.locator("#status").inner_text().startswith(f"{shown} {'topic' if shown == 1 else 'topics'} in ")
    assert card.locator("h2").inner_text() in BUS  # the label is the question most typical of the topic
    nearest = card.locator("a.nearest")
    href = nearest.get_attribute("href") or ""
    # The routine's own page where the service has one, else its entry on the owners' page.
    assert href.startswith(("/routines/home_care/", "/owners?")) and nearest.inner_text() in href, href

    # Marking it handled takes it off the list.
    card.get_by_role("button", name="Mark handled").click()
    page.locator(".topic .examples li", has_text="buss").first.wait_for(state="detached")
    assert page.locator(".topic .examples li", has_text="buss").count() == 0

    # A staff token gets the service's 403 message on the same page, and no topic.
    page.goto(f"{live_server.base_url}/gaps#token={live_server.token('home-care')}")
    page.wait_for_selector("#status.error")
    assert "owners" in page.locator("#status").inner_text()
    assert page.locator(".topic").count() == 0
