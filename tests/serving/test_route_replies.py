"""What three routes answer (issue 23): a routine's title cannot add Markdown to the OpenAI-compatible footnotes; one
rating per caller and answer; a route's own 404 keeps its message.
"""


from markdown_it import MarkdownIt

from assist.schemas import Answer, Citation
from serving.routes.openai_compat import answer_text
from tests.serving.conftest import Api

FALL = "Vad gör jag om en brukare har ramlat?"


TRAP = "[Klicka här](https://evil.example/x) ![p](https://evil.example/p.png) **brådskande** <img src=x>\n# Rubrik"


def test_markdown_in_a_title_shows_as_written_in_the_footnotes() -> None:
    answer = Answer(answer="Ring 112 [1].", status="answered", language="sv", citations=[
        Citation(n=1, doc_id="d", title=TRAP, source="home_care/fall_rutin.md", section="Steg_1 *", page=2,
                 quote="q")])
    text = answer_text(answer)
    html = MarkdownIt("commonmark").render(text)
    for markup in ("<a ", "<img", "<strong>", "<em>", "<h1>"):
        assert markup not in html, html
    assert "[Klicka här](https://evil.example/x)" in html
    # A client that also links bare URLs (GitHub's flavour) shows an address as itself, never behind other words.
    gfm = MarkdownIt("gfm-like").render(text)
    assert "<img" not in gfm and "Klicka här</a>" not in gfm and "<strong>" not in gfm, gfm
    assert "home_care/fall_rutin.md" in html and "Steg_1 *" in html
    plain = Answer(answer="Ring 112 [1].", status="answered", language="sv", citations=[
        Citation(n=1, doc_id="d", title="Fall hos brukare", source="home_care/fall.md", quote="q")])
    assert answer_text(plain).endswith("\n\nSources:\n[1] Fall hos brukare: home\\_care/fall.md")


def test_one_rating_per_caller_and_answer(api: Api) -> None:
    headers = api.token()
    request_id = api.client.post("/api/ask", json={"question": FALL}, headers=headers).json()["request_id"]
    for rating in ("up", "up", "down", "up", "down"):
        resp = api.client.post("/api/feedback", json={"request_id": request_id, "rating": rating}, headers=headers)
        assert resp.status_code == 201
    other = api.token()  # another caller's rating of the same request id is its own
    api.client.post("/api/feedback", json={"request_id": request_id, "rating": "up"}, headers=other)
    rows = [r for r in api.services.feedback.export() if r["request_id"] == request_id]
    assert sorted(r["rating"] for r in rows) == ["down", "up"]
    mine = [r for r in rows if r["documents"]]
    assert [r["rating"] for r in mine] == ["down"]  # the caller who got the answer: its latest rating


def test_a_routes_own_404_keeps_its_message(city_api: Api) -> None:
    resp = city_api.client.post("/api/gaps/handled", json={"key": "q_missing", "until": "2030-01-01"},
                                headers=city_api.token("owner-home-care"))
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "No such topic among the gaps you may see: reload the page."
    unknown = city_api.client.get("/api/no-such-route", headers=city_api.token())
    assert unknown.status_code == 404 and unknown.json()["error"]["message"].startswith("No route")
