"""/transparency publishes the eval run an admin chose (`assist transparency publish RUN_ID`), never whichever run was
last, and no local path; `assist serve` warns at start while the city's file still has `<<FILL IN` placeholders.
"""

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from assist.cli import app
from assist.settings import Settings
from owners.transparency import PLACEHOLDER
from serving import cli as serving_cli
from tests.owners.test_transparency import CITY
from tests.serving.conftest import Api, started

#: The run the city measured on its dev set, and an ad-hoc run of a scratch file made after it.
PUBLISHED = "20261130T101010000000Z-abcd"
AD_HOC = "20261202T090000000000Z-beef"


def write_run(data_dir: Path, run_id: str, *, sets: list[str], rows: int, hit5: float, status: str = "done") -> None:
    run = data_dir / "eval" / run_id
    run.mkdir(parents=True)
    run.joinpath("meta.json").write_text(json.dumps({
        "run_id": run_id, "status": status, "finished": f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T10:20:00Z",
        "commit": "abc123", "sets": sets, "label": "hybrid",
        "summary": {"all": {"rows": rows, "hit@5": hit5, "mrr": 0.8, "refusal_accuracy": 0.62}},
    }), encoding="utf-8")


def assist(data_dir: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["transparency", *args], env={"ASSIST_DATA_DIR": str(data_dir)})


def published_texts(api: Api) -> dict[str, str]:
    texts = {}
    for path in ("/transparency", "/transparency.yaml", "/transparency.md"):
        resp = api.client.get(path)  # anonymous
        assert resp.status_code == 200, path
        texts[path] = resp.text
    return texts


def test_an_ad_hoc_run_after_the_published_one_does_not_change_the_page(
    make_settings: Callable[..., Settings], tmp_path: Path, built_store: Path,
) -> None:
    settings = make_settings()
    sets_dir = tmp_path / "checkout" / "eval_sets"
    write_run(tmp_path, PUBLISHED, sets=[str(sets_dir / "dev.jsonl")], rows=120, hit5=0.91)
    published = assist(tmp_path, "publish", PUBLISHED)
    assert published.exit_code == 0, published.output
    # Made after the published run, newer by its id: what the page showed before.
    write_run(tmp_path, AD_HOC, sets=[str(tmp_path / "scratch" / "my-questions.jsonl")], rows=22, hit5=0.5)

    with started(settings) as api:
        texts = published_texts(api)
    record = yaml.safe_load(texts["/transparency.yaml"])
    assert "run 20261130T101010000000Z-abcd" in record["performance"]
    assert "hit@5 0.910" in record["performance"] and "120 questions of dev:" in record["performance"]
    for path, text in texts.items():
        assert AD_HOC not in text and "0.500" not in text and "my-questions" not in text, path
        # No local path: not the eval set's, the data folder's or the store's.
        assert str(tmp_path) not in text and str(built_store) not in text and "eval_sets/" not in text, path

    listed = assist(tmp_path, "runs")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].startswith(PUBLISHED) and lines[0].endswith("(published)") and "dev" in lines[0]
    assert lines[1].startswith(AD_HOC) and "my-questions" in lines[1] and "published" not in lines[1]
    shown = assist(tmp_path, "show")
    assert shown.exit_code == 0 and f"Published run: {PUBLISHED}" in shown.output, shown.output


def test_with_no_run_published_the_page_says_so_and_shows_no_figures(
    make_settings: Callable[..., Settings], tmp_path: Path,
) -> None:
    settings = make_settings()
    write_run(tmp_path, AD_HOC, sets=["dev"], rows=22, hit5=0.5)
    with started(settings) as api:
        record = yaml.safe_load(published_texts(api)["/transparency.yaml"])
        assert record["performance"].startswith("No evaluation run is published yet")
        assert "0.500" not in record["performance"] and AD_HOC not in record["performance"]
        # Publishing shows at once on the running service (the record's cache follows the choice).
        assert assist(tmp_path, "publish", "latest").exit_code == 0
        record = yaml.safe_load(published_texts(api)["/transparency.yaml"])
        assert "hit@5 0.500" in record["performance"]
        assert assist(tmp_path, "unpublish").exit_code == 0
        record = yaml.safe_load(published_texts(api)["/transparency.yaml"])
        assert record["performance"].startswith("No evaluation run is published yet")


def test_only_a_finished_run_can_be_published(tmp_path: Path) -> None:
    write_run(tmp_path, AD_HOC, sets=["dev"], rows=22, hit5=0.5, status="running")
    for run_id in (AD_HOC, "no-such-run", "latest"):
        result = assist(tmp_path, "publish", run_id)
        assert result.exit_code == 2, result.output
        assert "assist transparency runs" in result.output or "assist eval run" in result.output, result.output
    assert not (tmp_path / "eval" / "published.json").exists()


class _NoServer:
    """Stands in for uvicorn: `assist serve` gets as far as starting it, and no further."""

    started = True

    def run(self, sockets: list[socket.socket]) -> None:
        for sock in sockets:
            sock.close()


@pytest.fixture
def serve_quietly(monkeypatch: pytest.MonkeyPatch) -> Callable[[Settings], None]:
    """`assist serve` up to the moment it would serve: the start-up checks and messages, no app, no models (one
    worker: the stand-ins below replace uvicorn in this process only)."""
    monkeypatch.setenv("ASSIST_SERVE__WORKERS", "1")
    monkeypatch.setattr("serving.app.create_app", lambda settings, serving: None)
    monkeypatch.setattr("serving.server.server_config", lambda *args, **kwargs: None)
    monkeypatch.setattr(serving_cli, "_server", lambda config, on_started: _NoServer())

    def serve(settings: Settings) -> None:
        serving_cli.serve(host="127.0.0.1", port=0, settings=settings)

    return serve


def test_serve_warns_at_start_while_the_transparency_file_has_placeholders(
    make_settings: Callable[..., Settings], serve_quietly: Callable[[Settings], None], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings()  # no ASSIST_TRANSPARENCY_FILE: the shipped example, full of placeholders
    serve_quietly(settings)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "/transparency" in line]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("Warning: ") and PLACEHOLDER in warnings[0]
    assert "organization" in warnings[0] and "ASSIST_TRANSPARENCY_FILE" in warnings[0]

    city = tmp_path / "transparency.toml"
    city.write_text(CITY, encoding="utf-8")
    settings.transparency_file = city
    serve_quietly(settings)
    assert "/transparency" not in capsys.readouterr().err
