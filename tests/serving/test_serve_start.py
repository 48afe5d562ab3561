"""`assist serve` that cannot start (a port out of range, a port in use, no store) says so in one line, exits 2 and
leaves serve.json as it was, so that `assist token create` keeps linking to the service that runs."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from serving.cli import ADDRESS_FILE
from tests.conftest import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RUNNING = {"url": "http://127.0.0.1:8123/"}  # what the service that does run wrote


def serve(data_dir: Path, store: Path, port: int) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"ASSIST_DATA_DIR": str(data_dir), "ASSIST_QDRANT__PATH": str(store), "HF_HUB_OFFLINE": "1",
                        "PYTHONPATH": str(REPO)}
    env.pop("ASSIST_SERVE__PORT", None)
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "assist.cli", "serve", "--port", str(port)], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=300, check=False,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / ADDRESS_FILE).write_text(json.dumps(RUNNING), encoding="utf-8")
    return tmp_path


def assert_one_line_and_address_kept(out: subprocess.CompletedProcess[str], data_dir: Path, *words: str) -> None:
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, out.stderr
    for word in words:
        assert word in errors[0], out.stderr
    assert "Traceback" not in out.stderr
    assert "Frontline Assist on" not in out.stderr
    assert json.loads((data_dir / ADDRESS_FILE).read_text(encoding="utf-8")) == RUNNING


def test_a_port_out_of_range_is_one_line_and_serve_json_is_kept(built_store: Path, data_dir: Path) -> None:
    out = serve(data_dir, built_store, 99999)
    assert_one_line_and_address_kept(out, data_dir, "99999 is not a port number")


def test_a_port_in_use_is_one_line_and_serve_json_is_kept(built_store: Path, data_dir: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        out = serve(data_dir, built_store, port)
    assert_one_line_and_address_kept(out, data_dir, f"127.0.0.1:{port}", "in use")


def test_a_missing_store_is_one_line_and_serve_json_is_kept(data_dir: Path) -> None:
    out = serve(data_dir, data_dir / "none", free_port())
    assert_one_line_and_address_kept(out, data_dir, "No document store", "assist ingest")
