"""Everything the product writes under the data dir is readable by its own user only (issue 23, item 4).

The routines in a collection may be restricted to one role: a store file another local user can read leaks them all.
"""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from assist.cli import app as cli
from assist.schemas import Answer
from assist.settings import Settings
from owners.uploads import Actor, RoutineDesk, RoutineFields
from serving.app import create_app
from serving.config import ServingSettings
from tests.ingest.conftest import MARKDOWN, SENTENCES, build_kb
from tui.history import HistoryStore


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most accounts have (022): files made without an explicit mode come out world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def readable_by_others(root: Path) -> list[str]:
    """Every path under `root` (itself included) that group or others may read, write or enter."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        if mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {stat.filemode(mode)}")
    return found


@pytest.mark.usefixtures("usual_umask")
def test_no_file_or_folder_under_the_data_dir_is_readable_by_other_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = build_kb(tmp_path)
    (kb / "general").mkdir()
    (kb / "general" / "kontakter.txt").write_text("Kontakter\n\nRing IT-supporten på 08-123 45 00.", encoding="utf-8")
    data = tmp_path / "data"
    monkeypatch.setenv("ASSIST_DATA_DIR", str(data))
    monkeypatch.setenv("ASSIST_KNOWLEDGE_DIR", str(kb))

    result = CliRunner().invoke(cli, ["ingest", str(kb)])
    assert result.exit_code == 0, result.output

    settings = Settings()
    with TestClient(create_app(settings, ServingSettings())) as client:
        _, token = client.app.state.services.tokens.create("home-care")  # type: ignore[attr-defined]
        resp = client.post("/api/ask", json={"question": "Hur rapporteras avvikelser?"},
                           headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        answer = Answer.model_validate(resp.json())

    # An owner adds a routine (checked in the ingest's staging folder first) and retires another.
    desk = RoutineDesk(settings=settings)
    actor = Actor(token_id="t_owner", role="admin")
    added = MARKDOWN.replace("Handhygien", "Skyddskläder").format(body=" ".join(reversed(SENTENCES)))
    desk.add(added.encode(), "skydd.md", "home_care", RoutineFields(), actor)
    retired = desk.retire("nycklar", "home_care", actor)
    assert (data / retired.detail["kept_at"]).is_file()  # given relative to the data dir

    history = HistoryStore.in_data_dir(data)
    conversation = history.start_conversation("home-care")
    history.add_turn(conversation, "home-care", "sv", "Hur rapporteras avvikelser?", answer)
    history.close()

    assert (data / "qdrant" / "CURRENT").exists()
    loose = readable_by_others(data)
    assert not loose, "readable by other users:\n" + "\n".join(loose)
