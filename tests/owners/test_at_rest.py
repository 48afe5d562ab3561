"""A question full of personal data, asked on the phone API and in the terminal client: nothing the product writes
under its data dir (SQLite files, their WAL and SHM included) holds the name or the street, while it runs or after.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from assist.settings import QdrantSettings, Settings
from tests.conftest import ROLES_CITY
from tests.serving.conftest import started
from tui.app import AssistApp
from tui.backends import LocalBackend
from tui.history import HistoryStore

pytestmark = pytest.mark.anyio

#: The question of issue 23, seen at rest in serving.sqlite's WAL and in tui.sqlite.
QUESTION = "Anna Zetterqvist på Kvarnbäcksvängen 7 har ramlat i badrummet, vad gör jag?"
SECRETS = ["Zetterqvist", "Kvarnbäcksvängen", "Kvarnb"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def data_dir(built_store: Path, tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    data.mkdir()
    # The store's own copy lives in the data dir too, as `assist ingest` lays it out by default.
    shutil.copytree(built_store, data / "qdrant")
    yield data


def leaks(root: Path) -> list[str]:
    """Files under `root` whose bytes hold a secret, in UTF-8 or UTF-16 (SQLite may store either)."""
    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for secret in SECRETS:
            if any(secret.encode(enc) in data for enc in ("utf-8", "utf-16-le", "utf-16-be")):
                out.append(f"{path.relative_to(root)}: {secret}")
    return out


def test_the_service_writes_no_name_or_street_anywhere(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, qdrant=QdrantSettings(path=data_dir / "qdrant"), roles_file=ROLES_CITY)
    with started(settings) as api:
        headers = api.token("home-care")
        resp = api.client.post("/api/ask", json={"question": QUESTION}, headers=headers)
        assert resp.status_code == 200, resp.text
        # A thumbs-down writes an answered question too, and the reason is free text.
        rated = api.client.post("/api/feedback", headers=headers, json={
            "request_id": resp.json()["request_id"], "rating": "down", "reason": "Anna Zetterqvist blev inte hjälpt"})
        assert rated.status_code == 201, rated.text
        assert list(data_dir.glob("*.sqlite-wal")), "the test reads the WAL while the service runs"
        assert leaks(data_dir) == []
    assert leaks(data_dir) == []


async def test_the_terminal_client_writes_no_name_or_street_anywhere(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, qdrant=QdrantSettings(path=data_dir / "qdrant"), roles_file=ROLES_CITY)
    history = HistoryStore.in_data_dir(data_dir)
    backend = LocalBackend(settings)
    app = AssistApp(backend, history)
    async with app.run_test() as pilot:
        from textual.widgets import Input  # noqa: PLC0415

        app.query_one("#question", Input).focus()
        app.query_one("#question", Input).value = QUESTION
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert history.search(""), "the turn was saved"
        conversation = history.search("")[0].conversation_id
        turn = history.conversation(conversation)[0]
        assert "[NAMN]" in turn.question and "[ADRESS]" in turn.question
        history.add_feedback(turn.id, "down", "home-care", turn.answer, reason="Zetterqvist fick fel svar")
        assert leaks(data_dir) == []
    backend.close()
    history.close()
    assert leaks(data_dir) == []
