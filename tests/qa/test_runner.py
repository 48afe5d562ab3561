"""The runner: every question stored as it finishes, errors recorded without stopping, a killed run resumed."""

import pytest

from qa.runner import load_sets, open_run, run_eval, set_paths
from tests.qa.conftest import ScriptedAssistant, good, refusal, row


def _rows(n: int) -> list:
    return [("dev", row(f"q{i}", question=f"fråga {i}")) for i in range(n)]


def test_each_question_is_stored_with_its_scores(run_store):
    rows = _rows(2)
    assistant = ScriptedAssistant({"fråga 0": good, "fråga 1": refusal})
    run = run_store.create({"label": "t"})

    summary = run_eval(assistant=assistant, rows=rows, run=run)

    recs = {r["id"]: r for r in run.results()}
    assert recs["q0"]["hit@5"] == 1.0 and recs["q0"]["cited"] == ["fall"]
    assert recs["q1"]["refused"] is True
    assert summary["all"]["false_refusal_rate"] == 0.5  # q1 is answerable and was refused: 1 of 2
    assert run_store.get(run.run_id).meta["status"] == "done"


def test_a_failing_question_is_recorded_and_the_run_goes_on(run_store):
    def broken():
        raise ValueError("store went away")

    assistant = ScriptedAssistant({"fråga 0": broken, "fråga 1": good})
    run = run_store.create({})
    summary = run_eval(assistant=assistant, rows=_rows(2), run=run)

    recs = {r["id"]: r for r in run.results()}
    assert recs["q0"]["error"] == "ValueError: store went away"
    assert recs["q1"]["error"] is None
    assert summary["all"]["errors"] == 1
    assert summary["all"]["hit@5"] == 1.0  # the failed question is out of the mean


def test_a_killed_run_resumes_without_redoing_finished_questions(run_store):
    rows = _rows(5)
    script = {f"fråga {i}": good for i in range(5)}
    killed = ScriptedAssistant(script, fail_after=3)
    run = run_store.create({"label": "killed"})
    with pytest.raises(KeyboardInterrupt):
        run_eval(assistant=killed, rows=rows, run=run)
    assert run.done_ids() == {"q0", "q1", "q2"}
    assert run_store.get(run.run_id).meta["status"] == "running"

    again = ScriptedAssistant(script)
    resumed = open_run(run_store, run.run_id, meta={})
    summary = run_eval(assistant=again, rows=rows, run=resumed)

    assert again.asked == ["fråga 3", "fråga 4"]
    assert summary["all"]["rows"] == 5
    assert resumed.meta["status"] == "done" and resumed.meta["resumed"]


def test_a_torn_last_line_is_skipped_and_that_question_redone(run_store):
    run = run_store.create({})
    run_eval(assistant=ScriptedAssistant({"fråga 0": good}), rows=_rows(1), run=run)
    with run.rows_path.open("a", encoding="utf-8") as f:
        f.write('{"id": "q1", "set": "de')  # killed mid-write
    assert run.done_ids() == {"q0"}
    again = ScriptedAssistant({"fråga 1": good})
    run_eval(assistant=again, rows=_rows(2), run=run)
    assert again.asked == ["fråga 1"]


def test_multi_turn_rows_pass_their_history(run_store):
    from assist.evaluation import EvalRow

    r = EvalRow.model_validate({
        "id": "m1", "question": "och på natten?", "language": "sv", "role": "home-care", "reference_answer": "x",
        "reference_sources": ["fall"], "answerable": True,
        "turns": [{"role": "user", "content": "brukare ramlat"}, {"role": "assistant", "content": "Ring ssk."}],
    })
    assistant = ScriptedAssistant({"och på natten?": good})
    run_eval(assistant=assistant, rows=[("dev", r)], run=run_store.create({}))
    assert assistant.histories == [[{"role": "user", "content": "brukare ramlat"},
                                    {"role": "assistant", "content": "Ring ssk."}]]


def test_eval_sets_by_name_and_limit():
    paths = set_paths(["dev", "test"])
    assert [p.stem for p in paths] == ["dev", "test"]
    assert [p.stem for p in set_paths([])] == ["dev", "test"]  # the default: every eval set, never the training rows
    rows = load_sets(paths, limit=2)
    assert [s for s, _ in rows] == ["dev", "dev", "test", "test"]
    # A smoke run holds must-refuse rows too, and several languages: not the first N rows, all answerable Swedish.
    assert [r.answerable for _, r in rows] == [True, False, True, False]
    ten = [r for _, r in load_sets(paths[:1], limit=10)]
    assert len({r.language for r in ten}) >= 5
    assert [r.id for r in ten] == sorted(r.id for r in ten)  # file order, and the same rows on every run
    assert ten == [r for _, r in load_sets(paths[:1], limit=10)]
    with pytest.raises(FileNotFoundError, match="dev, test"):
        set_paths(["nope"])


def test_the_real_pipeline_on_a_small_store(assistant_factory, run_store):
    """Two questions through the real assistant and store: the answerable one is found, the other refused."""
    from assist.evaluation import EvalRow

    rows = [
        ("t", EvalRow(id="r1", question="Vem ringer jag när en brukare har ramlat?", language="sv", role="home-care",
                      reference_answer="Ring sjuksköterskan.", reference_sources=["fall-dag"], answerable=True)),
        ("t", EvalRow(id="r2", question="Hur lång är Eiffeltornet i meter?", language="sv", role="admin",
                      reference_answer="Inte i rutinerna.", reference_sources=[], answerable=False)),
    ]
    run = run_store.create({})
    summary = run_eval(assistant=assistant_factory(), rows=rows, run=run)
    assert summary["all"]["errors"] == 0
    assert summary["all"]["hit@5"] == 1.0
    assert summary["all"]["refusal_accuracy"] == 1.0
    recs = {r["id"]: r for r in run.results()}
    assert recs["r1"]["status"] == "answered" and recs["r2"]["status"] in ("closest", "refused")


def test_the_real_store_gives_source_languages_and_ragas_figures(assistant_factory, run_store):
    """The store's own payloads say each reference source's language (all Swedish here) and hold the passages
    the no-LLM RAGAS metrics compare the retrieved ones with."""
    from assist.evaluation import EvalRow

    def ask(id_: str, question: str, language: str) -> tuple[str, EvalRow]:
        return ("t", EvalRow(id=id_, question=question, language=language, role="home-care",
                             reference_answer="Ring sjuksköterskan på 08-123 40 20 inom 15 minuter.",
                             reference_sources=["fall-dag"], answerable=True))

    rows = [ask("sv1", "Vem ringer jag när en brukare har ramlat?", "sv"),
            ask("en1", "Who do I call when a client has fallen?", "en")]
    run = run_store.create({})
    summary = run_eval(assistant=assistant_factory(), rows=rows, run=run)
    recs = {r["id"]: r for r in run.results()}
    assert recs["sv1"]["reference_languages"] == ["sv"] and recs["sv1"]["cross_language"] is False
    assert recs["en1"]["reference_languages"] == ["sv"] and recs["en1"]["cross_language"] is True
    assert summary["all"]["cross_language_rows"] == 1
    assert summary["all"]["hit@5_same_language"] == recs["sv1"]["hit@5"]
    assert summary["all"]["hit@5_cross_language"] == recs["en1"]["hit@5"]
    for rec in recs.values():
        assert rec["status"] in ("answered", "closest", "refused")
        ragas = rec["ragas"]
        assert set(ragas) == {"ragas_context_precision", "ragas_context_recall", "ragas_string_similarity"}
        # fall-dag is one short routine: when it is retrieved, its passage matches itself exactly
        if recs["sv1"]["hit@5"] == 1.0 and rec["id"] == "sv1":
            assert ragas["ragas_context_recall"] == 1.0 and ragas["ragas_context_precision"] > 0
        assert all(v is None or 0.0 <= v <= 1.0 for v in ragas.values())
    assert recs["sv1"]["key_facts"] is not None  # the reference names a phone number and 15 minutes


class _PayloadStore:
    """Payload reads as the embedded store answers them (filter_payloads with `fields`)."""

    def __init__(self, payloads):
        self.payloads = payloads
        self.asked: list = []

    def filter_payloads(self, filters=None, fields=None):
        self.asked.append(fields)
        return self.payloads


def test_source_index_reads_languages_and_passages_from_payloads():
    from qa.runner import SourceIndex

    store = _PayloadStore([
        {"content": "Ring ssk.", "meta": {"doc_id": "fall", "language": "sv"}},
        {"content": "Ring natt-ssk.", "meta": {"doc_id": "fall", "language": "sv"}},
        {"content": "Lift with two.", "meta": {"doc_id": "lifting", "language": "en"}},
    ])
    index = SourceIndex.from_store(store)
    assert store.asked == [["content", "meta.doc_id", "meta.language"]]
    assert index.languages == {"fall": "sv", "lifting": "en"}
    assert index.passages["fall"] == ["Ring ssk.", "Ring natt-ssk."]
    assert index.languages_of(["fall", "lifting"]) == ["en", "sv"]
    assert index.languages_of(["fall", "unknown"]) is None


def test_cross_language_needs_the_question_in_none_of_its_sources_languages(run_store):
    from qa.runner import source_fields

    store = _PayloadStore([{"content": "x", "meta": {"doc_id": "fall", "language": "sv"}},
                   {"content": "y", "meta": {"doc_id": "lifting", "language": "en"}}])
    from qa.runner import SourceIndex

    index = SourceIndex.from_store(store)
    sv = row("a", sources=["fall"], language="sv")
    so = row("b", sources=["fall"], language="so")
    en_mixed = row("c", sources=["fall", "lifting"], language="en")
    assert source_fields(sv, index) == {"reference_languages": ["sv"], "cross_language": False,
                                        "language_pairing": "same"}
    assert source_fields(so, index)["cross_language"] is True
    assert source_fields(en_mixed, index)["cross_language"] is False  # one source is in English
    assert source_fields(row("d", answerable=False), index) == {"reference_languages": None, "cross_language": None,
                                                                 "language_pairing": None}


def test_scripted_runs_record_the_state_and_take_languages_from_retrieved_passages(run_store):
    from tests.qa.conftest import answer, closest, docs

    def english_source():
        return answer("Lift with two people. [1]", ["fall"], language="en"), docs("fall", language="en")

    rows = [("dev", row("q0", question="fråga 0")), ("dev", row("q1", question="fråga 1", sources=["hygien"])),
            ("dev", row("q2", answerable=False, question="fråga 2"))]
    assistant = ScriptedAssistant({"fråga 0": english_source, "fråga 1": closest, "fråga 2": closest})
    run = run_store.create({})
    summary = run_eval(assistant=assistant, rows=rows, run=run)
    recs = {r["id"]: r for r in run.results()}
    # q0: a Swedish question whose source the retrieved passage says is English
    assert recs["q0"]["cross_language"] is True and recs["q0"]["status"] == "answered"
    # q1: the retrieved passages carry no language and fall was not retrieved: unknown, in neither split
    assert recs["q1"]["cross_language"] is None and recs["q1"]["status"] == "closest"
    assert recs["q2"]["uncovered"] == []
    s = summary["all"]
    assert (s["answered_rows"], s["closest_rows"], s["refused_rows"]) == (1, 2, 0)
    assert s["refusal_accuracy"] == 1.0 and s["false_refusal_rate"] == 0.5
    assert s["hit@5_cross_language"] == 1.0 and s["hit@5_same_language"] is None  # q1's hit@5 (0) is in neither


def test_each_row_is_paired_with_its_routines_language():
    """Same or cross language: the reference source's language; for a must-refuse row without one, the language of
    the routines its answer cites (the closest ones, the contacts list); unknown when neither is known."""
    from qa.runner import SourceIndex, source_fields

    index = SourceIndex(languages={"fall": "sv", "lifting-en": "en", "kontakter": "sv"})
    english = row("e1", sources=["fall"], language="en")
    assert source_fields(english, index, ["fall"]) == {
        "reference_languages": ["sv"], "cross_language": True, "language_pairing": "cross"}
    assert source_fields(row("s1", sources=["fall"]), index)["language_pairing"] == "same"
    # a role-blocked row names the routine the role may not read: paired with it, though it is no answerable row
    blocked = row("b1", answerable=False, sources=["lifting-en"], language="en")
    assert source_fields(blocked, index, ["kontakter"]) == {
        "reference_languages": None, "cross_language": None, "language_pairing": "same"}
    # nothing covers it: the routines the answer cites decide
    nothing = row("n1", answerable=False, language="so")
    assert source_fields(nothing, index, ["kontakter", "kontakter"])["language_pairing"] == "cross"
    assert source_fields(row("n2", answerable=False, language="en"), index, ["lifting-en"])["language_pairing"] == (
        "same")
    assert source_fields(nothing, index, [])["language_pairing"] is None
    assert source_fields(nothing, index, ["unknown-doc"])["language_pairing"] is None
