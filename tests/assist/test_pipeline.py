"""The answer pipeline end to end on a real embedded store with the packaged embedding model."""

import pytest

from assist.errors import InvalidQuestionError, StoreNotFoundError, UnknownRoleError
from assist.pipeline import Assistant
from assist.roles import default_roles_file, load_roles
from tests.conftest import ROLES_CITY, free_port, make_settings

#: (roles file, role) for every role that does not read everything: the packaged four and a city's seven.
ROLE_CASES = [
    (path, role)
    for path in (default_roles_file(), ROLES_CITY)
    for role, r in load_roles(path).roles.items()
    if not r.reads_all
]


def test_answer_on_page_two_of_a_pdf_cites_that_page(assistant_factory):
    answer = assistant_factory().ask("vad gör jag om brukaren glömt ta sin medicin?", role="home-care")

    assert not answer.refused
    cited = {(c.doc_id, c.page) for c in answer.citations}
    assert ("medicin-delegering", 2) in cited
    quote = next(c.quote for c in answer.citations if c.doc_id == "medicin-delegering")
    assert "08-123 45 67" in quote


def test_every_citation_number_appears_in_the_text_and_points_at_a_source(assistant_factory):
    answer = assistant_factory().ask("Vem ringer jag när en brukare har ramlat?", role="home-care")

    assert answer.citations
    for c in answer.citations:
        assert f"[{c.n}]" in answer.answer
        assert c.doc_id and c.title and c.source and c.quote
    assert answer.citations[0].doc_id == "fall-dag"


def test_question_nothing_answers_is_refused(assistant_factory):
    answer = assistant_factory().ask("Hur lång är Eiffeltornet i meter?", role="admin")

    assert answer.refused
    assert {c.doc_id for c in answer.citations} <= {"general-kontakter"}


@pytest.mark.parametrize(("roles_file", "role"), ROLE_CASES, ids=[f"{p.stem}-{r}" for p, r in ROLE_CASES])
def test_a_role_never_gets_a_citation_from_a_collection_it_may_not_read(assistant_factory, roles_file, role):
    assistant = assistant_factory(roles_file=roles_file)
    questions = [
        "Vad kostar förskolan per månad?",
        "Hur länge får jag boka ett grupprum?",
        "Var förvaras brukarnas nycklar?",
        "Vem ringer jag när en brukare har ramlat?",
        "Hur långt ska lösenordet vara?",
        "förskola avgift maxtaxa 1 688 kronor",
    ]
    allowed = set(load_roles(roles_file).collections_for(role))
    cited = set()
    for q in questions:
        answer, docs = assistant.answer_with_sources(q, role=role)
        assert {d.meta["collection"] for d in docs} <= allowed, q
        for c in answer.citations:
            assert c.collection in allowed, (q, c.doc_id)
            cited.add(c.collection)
    # The role is not simply refused everything: it gets answers from what it may read.
    assert cited


def test_role_reads_general_collection(assistant_factory):
    answer = assistant_factory().ask("Hur många tecken ska lösenordet ha?", role="library")
    assert [c.doc_id for c in answer.citations][:1] == ["it-sakerhet"]


def test_unknown_role_is_a_clear_error(assistant_factory):
    with pytest.raises(UnknownRoleError, match="home-care"):
        assistant_factory().ask("Var finns nycklarna?", role="janitor")


@pytest.mark.parametrize("question", ["", "   ", "x" * 10_000, "abc\x00\x01\x02"])
def test_empty_huge_or_binary_question_is_a_clear_error(assistant_factory, question):
    with pytest.raises(InvalidQuestionError):
        assistant_factory().ask(question, role="admin")


def test_missing_store_says_run_ingest_first(tmp_path):
    assistant = Assistant(make_settings(tmp_path))
    with pytest.raises(StoreNotFoundError, match="assist ingest"):
        assistant.ask("Var finns nycklarna?", role="home-care")


def test_unreachable_llm_endpoint_falls_back_to_extractive_and_says_so(assistant_factory):
    assistant = assistant_factory(
        generator={"backend": "openai", "api_base_url": f"http://127.0.0.1:{free_port()}/v1", "timeout_s": 5}
    )
    answer = assistant.ask("Vem ringer jag när en brukare har ramlat?", role="home-care")

    assert answer.fallback
    assert answer.generator == "extractive"
    assert answer.citations
    assert any("could not be reached" in n or "kunde inte nås" in n for n in answer.notices)
