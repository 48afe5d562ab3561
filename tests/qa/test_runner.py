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
    rows = load_sets(paths, limit=2)
    assert [(s, r.id) for s, r in rows] == [("dev", "dev-001"), ("dev", "dev-002"), ("test", "test-001"),
                                           ("test", "test-002")]
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
