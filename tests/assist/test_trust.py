"""The three answer states on a small real corpus: answered with the right citation, closest when relevant routines
do not answer, refused when none is relevant; tables, the glossary, repeatability, the LLM answerability check and
the calibration script."""

import json
import shutil
from pathlib import Path

import pytest
from haystack import Document
from haystack.components.generators.chat import MockChatGenerator

from assist.components.answer_builder import NOT_COVERED_MARK, CitedAnswerBuilder
from assist.components.answer_generator import GuardedAnswerGenerator, prompt_template, says_no
from assist.pipeline import Assistant
from tests.conftest import DATA, make_settings

LOAN_RULES = """---
title: Lån och omlån
owner: Biblioteket
valid_from: 2024-01-01
review_date: 2026-12-31
language: sv
---
# Lån och omlån

## Låneregler
| Medietyp | Lånetid | Omlån |
| --- | --- | --- |
| Böcker och ljudböcker | 28 dagar | Upp till 3 gånger om ingen har reserverat |
| Filmer och tv-spel | 14 dagar | 1 gång |

## Reservationer
1. Reservationer görs i appen, på webben eller i disken.
2. Boken står kvar på reservationshyllan i 7 dagar.
"""

GLOSSARY = '[terms]\n"ssk" = ["sjuksköterska"]\n"brukare" = ["kund"]\n'


@pytest.fixture(scope="module")
def trust_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The shared fixture routines plus a loan-rules table, ingested; a glossary folder beside it."""
    from ingest.pipeline import Ingestor

    root = tmp_path_factory.mktemp("trust")
    corpus = root / "corpus"
    shutil.copytree(DATA, corpus)
    (corpus / "library" / "lan.md").write_text(LOAN_RULES, encoding="utf-8")
    glossaries = root / "glossaries"
    (glossaries / "home_care").mkdir(parents=True)
    (glossaries / "home_care" / "glossary.toml").write_text(GLOSSARY, encoding="utf-8")
    data = root / "data"
    ingestor = Ingestor(make_settings(data))
    report = ingestor.ingest([corpus])
    ingestor.close()
    assert not report.failed, report.failed
    return data, glossaries


@pytest.fixture
def trust_assistant(trust_store):
    data, glossaries = trust_store
    made: list[Assistant] = []

    def make(glossary: bool = True) -> Assistant:
        a = Assistant(make_settings(data, knowledge_dir=glossaries if glossary else None))
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def test_covered_question_is_answered_with_the_right_citation(trust_assistant):
    answer = trust_assistant().ask("Vem ringer jag när en brukare har ramlat?", role="home-care")
    assert answer.status == "answered"
    assert not answer.refused
    assert answer.citations[0].doc_id == "fall-dag"
    assert "08-123" in answer.answer


def test_question_next_to_a_covered_topic_gets_the_closest_routines_never_an_answer(trust_assistant):
    answer = trust_assistant().ask("hur många semesterdagar har jag?", role="home-care")
    assert answer.status != "answered"
    assert answer.refused
    if answer.status == "closest":
        assert answer.answer.startswith("Rutinerna svarar inte direkt på frågan. Närmaste rutiner:")
        assert "semester" in answer.uncovered
        assert "Ingen rutin nämner: semester" in answer.answer
        # Each nearest routine is named, cited and shown by its sentence nearest the question, quoted under its
        # title: never written as the answer.
        for c in answer.citations:
            assert f"[{c.n}]" in answer.answer
        for line in answer.answer.splitlines()[1:]:
            if line.startswith("- "):
                title, _, quoted = line[2:].partition(": ")
                assert title in {c.title for c in answer.citations}
                assert quoted.startswith("\u201c")


def test_english_closest_answer_says_so_in_english(trust_assistant):
    answer = trust_assistant().ask("How many vacation days do I get as a home care worker?", role="home-care")
    assert answer.status != "answered"
    if answer.status == "closest":
        assert answer.answer.startswith("The routines do not answer this directly; closest routines:")


def test_question_nothing_is_relevant_to_is_refused_with_who_to_ask(trust_assistant):
    answer = trust_assistant().ask("Hur lång är Eiffeltornet i meter?", role="home-care")
    assert answer.status == "refused"
    assert [c.doc_id for c in answer.citations] == ["general-kontakter"]


def test_table_row_is_quoted_with_its_column_headers(trust_assistant):
    answer = trust_assistant().ask("Hur länge får man låna en bok?", role="library")
    assert answer.status == "answered"
    assert answer.citations[0].doc_id == "lan"
    assert "Böcker och ljudböcker | Lånetid: 28 dagar" in answer.answer


def test_glossary_lets_staff_jargon_find_and_ground_the_routine(trust_assistant):
    question = "brukaren har ramlat, när ringer jag ssk?"
    scope = ["home_care", "general"]
    assistant = trust_assistant()
    answer, docs = assistant.answer_with_sources(question, role="home-care")
    assert answer.status == "answered"
    assert answer.citations[0].doc_id == "fall-dag"
    assert "08-123 40 20" in answer.answer
    glossed = assistant.pipeline.get_component("gate").assess(question, docs, "sv", scope)
    assistant.close()  # the embedded shard is one handle's at a time
    # Without the glossary no routine mentions "ssk": the grounding check cannot find it in the same passages.
    without = trust_assistant(glossary=False).pipeline.get_component("gate").assess(question, docs, "sv", scope)
    assert "ssk" in without.uncovered
    assert "ssk" not in glossed.uncovered
    assert glossed.features["absent_terms"] < without.features["absent_terms"]


def test_the_same_question_always_gets_the_same_answer(trust_assistant):
    assistant = trust_assistant()
    questions = ["Vem ringer jag när en brukare har ramlat?", "hur många semesterdagar har jag?"]
    for q in questions:
        answers = {assistant.ask(q, role="home-care").model_dump_json(exclude={"timings"}) for _ in range(4)}
        assert len(answers) == 1, q


PASSAGES = [
    Document(content="Ring sjuksköterskan på 08-123 40 20 inom 15 minuter.", meta={"doc_id": "fall", "title": "Fall"})
]


def test_llm_answerability_no_gives_closest_and_skips_generation():
    mock = MockChatGenerator(responses=["NO", "Ring sjuksköterskan. [1]"])
    generator = GuardedAnswerGenerator(chat_generator=mock, name="mock")
    out = generator.run(messages=prompt_template(), question="Hur många semesterdagar har jag?", documents=PASSAGES)
    assert out["replies"] == [NOT_COVERED_MARK]
    answer = CitedAnswerBuilder().run(
        replies=out["replies"], documents=PASSAGES, question="Hur många semesterdagar har jag?", generator="mock"
    )["answer"]
    assert answer.status == "closest"
    assert answer.citations[0].doc_id == "fall"
    # The routine's sentence is quoted under its title, never written as the answer.
    assert f"- Fall: \u201c{answer.citations[0].quote}\u201d [1]" in answer.answer.splitlines()


def test_llm_answerability_yes_lets_the_model_answer():
    mock = MockChatGenerator(responses=["YES", "Ring sjuksköterskan på 08-123 40 20. [1]"])
    generator = GuardedAnswerGenerator(chat_generator=mock, name="mock")
    out = generator.run(messages=prompt_template(), question="Vem ringer jag vid fall?", documents=PASSAGES)
    assert out["replies"] == ["Ring sjuksköterskan på 08-123 40 20. [1]"]
    assert out["generator"] == "mock"


@pytest.mark.parametrize(("reply", "no"), [("NO", True), ("No.", True), ("nej", True), ("YES", False), ("", False)])
def test_answerability_verdict(reply, no):
    assert says_no(reply) is no


@pytest.mark.integration
def test_answerability_check_against_llama_cpp_server(llama_server):
    """One short extra call to the real OpenAI-compatible server: its verdict routes to generation or closest."""
    from haystack.components.generators.chat import OpenAIChatGenerator
    from haystack.utils import Secret

    calls: list[dict] = []

    chat = OpenAIChatGenerator(api_key=Secret.from_token("none"), model="smollm2", api_base_url=llama_server,
                               max_retries=0)
    real_run = chat.run

    def counting_run(messages, streaming_callback=None, generation_kwargs=None, tools=None):  # noqa: ANN001, ANN202
        calls.append(generation_kwargs or {})
        return real_run(messages, streaming_callback=streaming_callback, generation_kwargs=generation_kwargs)

    chat.run = counting_run  # type: ignore[method-assign]
    generator = GuardedAnswerGenerator(chat_generator=chat, name="openai:smollm2")
    out = generator.run(messages=prompt_template(), question="Vem ringer jag vid fall?", documents=PASSAGES)
    assert calls[0]["max_tokens"] <= 3
    assert len(calls) == (1 if out["replies"] == [NOT_COVERED_MARK] else 2)


def test_calibration_script_fits_on_a_tiny_subset(trust_store, tmp_path, monkeypatch):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import calibrate

    data, _ = trust_store
    rows = [
        {"id": "t-1", "question": "Vem ringer jag när en brukare har ramlat?", "language": "sv", "role": "home-care",
         "reference_answer": "Ring sjuksköterskan.", "reference_sources": ["fall-dag"], "answerable": True},
        {"id": "t-2", "question": "Var förvaras brukarnas nycklar?", "language": "sv", "role": "home-care",
         "reference_answer": "I nyckelskåpet.", "reference_sources": ["nycklar"], "answerable": True},
        {"id": "t-3", "question": "Hur länge får man låna en bok?", "language": "sv", "role": "library",
         "reference_answer": "28 dagar.", "reference_sources": ["lan"], "answerable": True},
        {"id": "t-4", "question": "Hur många semesterdagar har jag?", "language": "sv", "role": "home-care",
         "reference_answer": "", "reference_sources": [], "answerable": False},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "calibration.json"
    monkeypatch.setattr(
        sys, "argv", ["calibrate.py", "--store", str(data / "qdrant"), "--rows", str(path), "--out", str(out)]
    )
    calibrate.main()
    fitted = json.loads(out.read_text(encoding="utf-8"))
    assert fitted["fitted_on"]["source_left_out"] >= 1
    assert fitted["fitted_on"]["positives"] >= 1
    from assist.grounding import load_calibration

    assert load_calibration(out).features == tuple(fitted["features"])


def test_question_in_a_language_no_routine_uses_is_grounded_by_sentence_meaning(trust_assistant):
    a = trust_assistant()
    question = "Klientka upadła, do kogo dzwonię?"
    _, docs = a.answer_with_sources(question, role="home-care")
    gate = a.pipeline.get_component("gate")
    embedding = a.pipeline.get_component("text_embedder").run(text=question)["embedding"]
    assessment = gate.assess(question, docs, "pl", ["home_care", "general"], embedding)
    assert assessment.features["foreign"] == 1.0
    assert assessment.unit_scores, "no sentence was compared with the question"
    assert assessment.features["foreign_sentence_cosine"] == max(assessment.unit_scores.values())
    swedish = gate.assess("Vem ringer jag när en brukare har ramlat?", docs, "sv", ["home_care", "general"], embedding)
    assert swedish.features["foreign"] == 0.0 and not swedish.unit_scores  # words match: no embedding cost
