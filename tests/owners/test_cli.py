"""`assist docs` as an operator runs it: one JSON array with --json, a table per collection without."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from assist.settings import Settings
from owners.uploads import Actor, RoutineDesk, RoutineFields
from tests.conftest import ROLES_CITY
from tests.owners.docs import ICE, ICE_QUESTION, ICE_TITLE, docx_bytes

REPO = Path(__file__).resolve().parents[2]
CONTRACT = {"doc_id", "collection", "title", "owner", "review_date", "review_overdue", "valid_from", "replaces",
            "replaced_by", "status"}


def _assist(settings: Settings, *args: str, command: str = "docs") -> subprocess.CompletedProcess[str]:
    env = os.environ | {"ASSIST_ROLES_FILE": str(ROLES_CITY), "ASSIST_DATA_DIR": str(settings.data_dir),
                        "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "assist.cli", command, *args], capture_output=True, text=True,
                          timeout=300, check=False, cwd=REPO, env=env)


def test_docs_json_lists_every_routine_with_the_contract_fields(settings: Settings) -> None:
    RoutineDesk(settings=settings).add(docx_bytes(ICE_TITLE, ICE), "halka.docx", "home_care",
                                       RoutineFields(review_date=date(2025, 1, 31)), Actor("t_1", "owner-home-care"))
    out = _assist(settings, "--json", "--store", str(settings.store_path))
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert isinstance(rows, list)
    assert all(set(r) >= CONTRACT for r in rows)
    by_id = {r["doc_id"]: r for r in rows}
    assert set(by_id) >= {"fall", "keys", "illness", "opening-hours", "contacts", "halka"}
    halka = by_id["halka"]
    assert (halka["collection"], halka["title"], halka["review_overdue"], halka["status"], halka["format"]) == (
        "home_care", ICE_TITLE, True, "indexed", "docx")
    assert halka["file"] == "knowledge/home_care/halka.docx" and halka["ingested_at"]

    # `assist ask` answers from the overdue routine and says it was due for review.
    asked = _assist(settings, ICE_QUESTION, "--role", "home-care", "--store", str(settings.store_path),
                    command="ask")
    assert asked.returncode == 0, asked.stderr
    assert "2025-01-31" in asked.stdout and ICE_TITLE in asked.stdout

    overdue = json.loads(_assist(settings, "--json", "--overdue", "--collection", "home_care",
                                 "--store", str(settings.store_path)).stdout)
    assert "halka" in {r["doc_id"] for r in overdue}
    assert all(r["review_overdue"] and r["collection"] == "home_care" for r in overdue)


def test_docs_prints_a_table_and_a_missing_store_is_one_clear_line(settings: Settings, tmp_path: Path) -> None:
    out = _assist(settings, "--store", str(settings.store_path))
    assert out.returncode == 0, out.stderr
    assert "home_care" in out.stdout and "Fall" in out.stdout
    missing = _assist(settings, "--store", str(tmp_path / "none"))
    assert missing.returncode == 2
    assert "assist ingest" in missing.stderr and "Traceback" not in missing.stderr
