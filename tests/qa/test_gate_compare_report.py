"""The quality gate, the list of regressed questions and the report with its charts, on hand-made runs."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.cli import eval_app
from qa.compare import regressions, state_changes
from qa.gate import check, load_thresholds
from qa.metrics import summarize
from qa.report import write_report
from qa.runner import run_eval
from qa.store import ROOT
from tests.qa.conftest import ScriptedAssistant, bad, closest, good, refusal, row

ROWS = [("dev", row("q1", question="fråga 1")), ("dev", row("q2", question="fråga 2")),
        ("dev", row("q3", answerable=False, question="fråga 3"))]


def _run(store, label, script):
    run = store.create({"label": label, "sets": ["dev"]})
    run_eval(assistant=ScriptedAssistant(script), rows=ROWS, run=run)
    return store.get(run.run_id)


@pytest.fixture
def two_runs(run_store):
    a = _run(run_store, "before", {"fråga 1": good, "fråga 2": good, "fråga 3": refusal})
    # q2 now retrieves and cites the wrong routine; q3 is still refused
    b = _run(run_store, "after", {"fråga 1": good, "fråga 2": bad, "fråga 3": refusal})
    return a, b


def _gate_file(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "gate.toml"
    p.write_text(body, encoding="utf-8")
    return p


def test_gate_passes_a_good_run_and_names_each_metric_below_threshold(two_runs, tmp_path):
    a, b = two_runs
    t = load_thresholds(_gate_file(tmp_path, '[min]\n"hit@5" = 0.9\nrefusal_accuracy = 0.9\n[max]\nerrors = 0\n'))
    assert check(summarize(a.results()), t) == []
    failures = check(summarize(b.results()), t)
    # run b: hit@5 = (1 + 0) / 2 = 0.5 < 0.9; refusal accuracy still 1.0
    assert failures == ["hit@5 = 0.5 is below the gate's min 0.9"]


def test_gate_fails_on_an_unmeasured_metric_and_rejects_unknown_tables(two_runs, tmp_path):
    a, _ = two_runs
    t = load_thresholds(_gate_file(tmp_path, "[min]\nfaithfulness = 0.5\n"))
    assert check(summarize(a.results()), t) == ["faithfulness: not measured in this run (gate min 0.5)"]
    with pytest.raises(ValueError, match=r"\[min\] and \[max\]"):
        load_thresholds(_gate_file(tmp_path, "[minimum]\nmrr = 1\n"))


def test_gate_command_exits_non_zero_naming_the_metric(two_runs, run_store, tmp_path):
    gate = _gate_file(tmp_path, '[min]\n"hit@5" = 0.9\n')
    cli = CliRunner()
    ok = cli.invoke(eval_app, ["gate", two_runs[0].run_id, "--thresholds", str(gate), "--runs", str(run_store.root)])
    assert ok.exit_code == 0, ok.output
    bad_run = cli.invoke(eval_app, ["gate", "latest", "--thresholds", str(gate), "--runs", str(run_store.root)])
    assert bad_run.exit_code == 1
    assert "hit@5 = 0.5 is below" in bad_run.output


def test_committed_gate_file_is_valid():
    t = load_thresholds()
    assert t["min"] and t["group"] == "all"
    assert "support" not in t["min"]  # 1.0 on every row by construction: a figure that cannot fail
    # floors and ceilings per language pairing of question and routine, and per language group
    assert {"all/same_language", "all/cross_language", "all/other"} <= set(t["groups"])


def test_gate_checks_each_group_it_names(two_runs, tmp_path):
    a, b = two_runs
    body = ('[min]\nrefusal_accuracy = 0.9\n[groups."dev".min]\n"hit@5" = 0.9\n'
            '[groups."dev/no_such_group".max]\nfalse_refusal_rate = 0.1\n')
    t = load_thresholds(_gate_file(tmp_path, body))
    assert check(summarize(a.results()), t) == [
        "dev/no_such_group: false_refusal_rate: not measured in this run (gate max 0.1)"]
    assert check(summarize(b.results()), t)[0] == "dev: hit@5 = 0.5 is below the gate's min 0.9"
    with pytest.raises(ValueError, match="unknown table"):
        load_thresholds(_gate_file(tmp_path, '[groups."dev".minimum]\nmrr = 1\n'))


def test_compare_lists_the_question_that_got_worse(two_runs):
    a, b = two_runs
    found = regressions(a, b)
    assert {r.id for r in found} == {"q2"}
    metrics = {r.metric: (r.before, r.after) for r in found}
    # q2: hit 1 -> 0, rr 1 -> 0, recall 1 -> 0, citation precision 1 -> 0
    assert metrics["hit@5"] == (1.0, 0.0)
    assert metrics["citation_precision"] == (1.0, 0.0)
    assert "support" not in metrics
    assert regressions(a, a) == []


def test_compare_command_prints_the_regressed_question(two_runs, run_store):
    out = CliRunner().invoke(eval_app, ["compare", "previous", "latest", "--runs", str(run_store.root)])
    assert out.exit_code == 0, out.output
    assert "q2" in out.output and "q1" not in out.output


def test_report_writes_markdown_and_a_png_per_metric(two_runs, tmp_path):
    md = write_report(list(two_runs), tmp_path / "report")
    text = md.read_text(encoding="utf-8")
    assert "before" in text and "after" in text
    png = tmp_path / "report" / "hit_at_5.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![hit@5](hit_at_5.png)" in text
    assert not (tmp_path / "report" / "faithfulness.png").exists()  # no judge in these runs: no empty chart
    assert "## Question and routine in the same language, or languages differ" in text


def test_unknown_first_argument_goes_to_run(run_store):
    out = CliRunner().invoke(eval_app, ["no-such-set", "--runs", str(run_store.root)])
    assert out.exit_code == 2
    assert "No eval set 'no-such-set'" in out.output


@pytest.fixture
def moved_runs(run_store):
    # q1: answered both times; q2 (answerable): answered -> closest, a false refusal;
    # q3 (must refuse): answered -> closest, now right
    a = _run(run_store, "before", {"fråga 1": good, "fråga 2": good, "fråga 3": good})
    b = _run(run_store, "after", {"fråga 1": good, "fråga 2": closest, "fråga 3": closest})
    return a, b


def test_state_changes_list_the_questions_that_moved_between_states(moved_runs):
    a, b = moved_runs
    moved = {m.id: m for m in state_changes(a, b)}
    assert set(moved) == {"q2", "q3"}
    assert (moved["q2"].before, moved["q2"].after, moved["q2"].right, moved["q2"].better) == (
        "answered", "closest", False, False)
    assert (moved["q3"].before, moved["q3"].after, moved["q3"].right, moved["q3"].better) == (
        "answered", "closest", True, True)
    assert state_changes(a, a) == []
    # the false refusal is also a regression of refusal_correct
    assert ("q2", "refusal_correct") in {(r.id, r.metric) for r in regressions(a, b)}


def test_state_changes_read_runs_stored_before_the_three_states(run_store):
    # an old run's records have `refused` only: refused=True reads as `refused`
    old = run_store.create({"label": "old"})
    old.append({"id": "q3", "question": "fråga 3", "answerable": False, "refused": True, "error": None})
    new = _run(run_store, "after", {"fråga 1": good, "fråga 2": good, "fråga 3": closest})
    (m,) = state_changes(old, new)
    assert (m.id, m.before, m.after, m.better) == ("q3", "refused", "closest", False)


def test_compare_command_prints_state_moves(moved_runs, run_store):
    out = CliRunner().invoke(eval_app, ["compare", "previous", "latest", "--runs", str(run_store.root)])
    assert out.exit_code == 0, out.output
    assert "Moved between answer states: 2 question(s), 1 now right, 1 now wrong" in out.output
    as_json = CliRunner().invoke(eval_app, ["compare", "previous", "latest", "--json", "--runs",
                                            str(run_store.root)])
    data = json.loads(as_json.output)
    assert {m["id"]: (m["after"], m["better"]) for m in data["state_changes"]} == {
        "q2": ("closest", False), "q3": ("closest", True)}
    assert {r["id"] for r in data["regressions"]} == {"q2"}


def test_report_has_a_table_per_language_pairing(run_store, tmp_path):
    run = run_store.create({"label": "paired"})
    for i, (language, paired) in enumerate([("sv", "same"), ("so", "cross"), ("en", "cross")]):
        run.append({"id": f"p{i}", "set": "dev", "question": "?", "language": language, "answerable": True,
                    "status": "answered", "error": None, "language_match": 1.0, "untranslated": False,
                    "hit@5": 1.0, "rr": 1.0, "recall@5": 1.0, "citation_precision": 1.0, "language_pairing": paired,
                    "key_fact_first_line": float(paired == "same"), "answer_lines": 3, "fact_question": True})
    text = write_report([run_store.get(run.run_id)], tmp_path / "report").read_text(encoding="utf-8")
    table = text.split("## Question and routine in the same language, or languages differ")[1]
    assert "| run | pairing | rows |" in table and "key_fact_first_line | answer_lines_fact_median |" in table
    same = next(line for line in table.splitlines() if "| same language |" in line)
    cross = next(line for line in table.splitlines() if "| cross language |" in line)
    assert same.split(" | ")[2] == "1" and cross.split(" | ")[2] == "2"  # rows per pairing
    assert same.endswith("| 1.000 | 3.000 |")
    assert cross.endswith("| 0.000 | 3.000 |")


def test_report_has_the_states_per_language_group_and_the_ragas_charts(moved_runs, tmp_path):
    md = write_report(list(moved_runs), tmp_path / "report")
    text = md.read_text(encoding="utf-8")
    assert "## Per language group of the question" in text
    assert "| run | language | rows | answered_share | closest_share | refused_share |" in text
    assert "![refusal_accuracy](refusal_accuracy.png)" in text
    assert "![closest_share](closest_share.png)" in text
    # the scripted passages are not in any store: no reference passages, so no RAGAS context chart
    assert not (tmp_path / "report" / "ragas_context_precision.png").exists()
    # string similarity needs only the answer and the reference answer
    assert "![ragas_string_similarity](ragas_string_similarity.png)" in text


def test_committed_gate_floors_refusal_accuracy_and_false_refusals():
    t = load_thresholds()
    assert 0 < t["min"]["refusal_accuracy"] <= 1
    assert 0 <= t["max"]["false_refusal_rate"] < 1
    assert t["min"]["rows"] == sum(1 for p in ("dev", "test")
                                   for line in (ROOT / "eval_sets" / f"{p}.jsonl").read_text().splitlines()
                                   if line.strip())


def test_gate_fails_a_run_below_the_refusal_floor(moved_runs, tmp_path):
    a, b = moved_runs
    gate = _gate_file(tmp_path, "[min]\nrefusal_accuracy = 0.9\n[max]\nfalse_refusal_rate = 0.05\n")
    t = load_thresholds(gate)
    # a: the must-refuse q3 was answered (0 of 1); b: it is closest (1 of 1), but q2 became a false refusal (1/2)
    assert check(summarize(a.results()), t) == ["refusal_accuracy = 0 is below the gate's min 0.9"]
    assert check(summarize(b.results()), t) == ["false_refusal_rate = 0.5 is above the gate's max 0.05"]
