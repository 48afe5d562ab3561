"""The owners' upload routes under contention: a change that finds another under way is answered at once (503 with
Retry-After), and an upload whose client disconnects is stopped with nothing kept."""

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from assist.settings import IngestSettings, QdrantSettings, Settings
from assist.store import CURRENT_FILE
from serving.config import ServingSettings
from tests.conftest import ROLES_CITY
from tests.owners.test_upload_budget import SMALL, routine_text
from tests.serving.conftest import Api, started


@pytest.fixture(scope="module")
def owners_api(built_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("owner-upload-limits")
    shutil.copytree(built_store, root / "qdrant")
    (root / "knowledge").mkdir()
    settings = Settings(data_dir=root, qdrant=QdrantSettings(path=root / "qdrant"), knowledge_dir=root / "knowledge",
                        roles_file=ROLES_CITY, ingest=IngestSettings(upload_lock_wait_s=0.2, batch_chunks=1))
    serving = ServingSettings(rate_per_minute=6000, rate_burst=1000, max_upload_mb=1.0)
    with started(settings, serving) as api:
        yield api


def _files(api: Api) -> list[Path]:
    return [p for p in api.services.settings.knowledge_dir.rglob("*") if p.is_file()]


def test_an_upload_while_another_change_is_under_way_gets_503_with_retry_after(owners_api: Api) -> None:
    desk = owners_api.client.app.state.routine_desk  # type: ignore[attr-defined]
    with desk._lock:  # another owner's change, under way
        resp = owners_api.client.post("/api/owners/documents?collection=home_care&filename=nycklar.txt",
                                      content=SMALL, headers=owners_api.token("owner-home-care"))
    assert resp.status_code == 503, resp.text
    assert int(resp.headers["Retry-After"]) >= 1
    assert "Another change to the routines is in progress" in resp.json()["error"]["message"]
    assert _files(owners_api) == []


def test_an_upload_whose_client_disconnects_is_stopped_and_leaves_nothing(owners_api: Api) -> None:
    app: Any = owners_api.client.app
    settings = owners_api.services.settings
    before = (settings.store_path / CURRENT_FILE).read_text()
    token = owners_api.token("owner-home-care")["Authorization"].encode()
    body = routine_text(40)
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}  # the client went away as soon as it had sent the file

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/owners/documents", "raw_path": b"/api/owners/documents",
        "query_string": b"collection=home_care&filename=larm.txt", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", token), (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"text/plain")],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    reply = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 400 and b"client went away" in reply, reply
    assert _files(owners_api) == [] and (settings.store_path / CURRENT_FILE).read_text() == before
