"""The quality gate, the list of regressed questions and the report with its charts, on hand-made runs."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.cli import eval_app
from qa.compare import regressions
from qa.gate import check, load_thresholds
from qa.metrics import summarize
from qa.report import write_report
from qa.runner import run_eval
from tests.qa.conftest import ScriptedAssistant, bad, good, refusal, row

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


def test_compare_lists_the_question_that_got_worse(two_runs):
    a, b = two_runs
    found = regressions(a, b)
    assert {r.id for r in found} == {"q2"}
    metrics = {r.metric: (r.before, r.after) for r in found}
    # q2: hit 1 -> 0, rr 1 -> 0, recall 1 -> 0, citation precision 1 -> 0, support 1 -> 0
    assert metrics["hit@5"] == (1.0, 0.0)
    assert metrics["citation_precision"] == (1.0, 0.0)
    assert metrics["support"] == (1.0, 0.0)
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


def test_unknown_first_argument_goes_to_run(run_store):
    out = CliRunner().invoke(eval_app, ["no-such-set", "--runs", str(run_store.root)])
    assert out.exit_code == 2
    assert "No eval set 'no-such-set'" in out.output
