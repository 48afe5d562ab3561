"""The `assist` command as a user runs it."""

import json
import subprocess
import sys


def _assist(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assist.cli", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_ask_json_prints_exactly_one_json_object(store_dir):
    out = _assist(
        "ask", "Var förvaras nycklarna?", "--role", "home-care", "--json", "--store", str(store_dir / "qdrant")
    )
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)  # fails on anything but one JSON document
    assert set(obj) >= {"answer", "citations", "refused", "language", "timings"}
    assert obj["citations"][0]["doc_id"] == "nycklar"
    assert set(obj["citations"][0]) >= {"n", "doc_id", "title", "source", "page", "section", "quote"}


def test_unknown_role_exits_non_zero_with_one_clear_line(store_dir):
    out = _assist("ask", "Var förvaras nycklarna?", "--role", "janitor", "--store", str(store_dir / "qdrant"))
    assert out.returncode != 0
    assert "Unknown role 'janitor'" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_store_tells_to_ingest_first(tmp_path):
    out = _assist("ask", "Var förvaras nycklarna?", "--role", "home-care", "--store", str(tmp_path / "none"))
    assert out.returncode != 0
    assert "assist ingest" in out.stderr


def test_ingest_reports_and_skips_unchanged(tmp_path, corpus):
    store = str(tmp_path / "q")
    first = _assist("ingest", str(corpus), "--store", store, "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    n_files = sum(1 for p in corpus.rglob("*") if p.is_file())
    assert report["counts"].get("ingested") == n_files
    second = json.loads(_assist("ingest", str(corpus), "--store", store, "--json").stdout)
    assert second["counts"] == {"unchanged": n_files}


def test_help_lists_commands():
    out = _assist("--help")
    assert "ingest" in out.stdout and "ask" in out.stdout


def test_ingest_prints_its_report_to_stdout_and_its_progress_to_stderr(tmp_path):
    kb = tmp_path / "kb" / "general"
    kb.mkdir(parents=True)
    (kb / "lunch.md").write_text("---\ntitle: Lunch\nlanguage: sv\n---\n# Lunch\n\nLunch serveras klockan tolv.\n",
                                 encoding="utf-8")
    out = _assist("ingest", str(tmp_path / "kb"), "--store", str(tmp_path / "q"))
    assert out.returncode == 0, out.stderr
    assert "Ingest report" in out.stdout
    assert "ingested" in out.stdout
    assert "Ingest report" not in out.stderr


def test_help_shows_flags_without_a_value():
    for command in (["doctor"], ["ask"], ["ingest"], ["eval", "run"], ["docs"]):
        out = _assist(*command, "--help")
        assert out.returncode == 0, out.stderr
        assert "--json" in out.stdout, command
        assert "<bool>" not in out.stdout, (command, out.stdout)
