"""The service stops answering from a store version whose file changed in place (size and time kept), and says so on
/readyz to admins; the check runs in the background at ASSIST_QDRANT__VERIFY_INTERVAL_S."""

import time
from pathlib import Path

from assist.settings import DatabaseSettings, QdrantSettings, Settings
from tests.assist.test_store_freshness import change_in_place, docs, publish  # noqa: F401 - docs is a fixture
from tests.serving.conftest import started

QUESTION = "Hur länge får man boka ett grupprum?"


def test_the_service_stops_answering_from_a_version_changed_in_place(tmp_path: Path, docs) -> None:  # noqa: F811
    root = tmp_path / "qdrant"
    name = publish(root, docs)
    settings = Settings(
        data_dir=tmp_path,
        qdrant=QdrantSettings(path=root, verify_interval_s=0.1),
        database=DatabaseSettings(url=None),
    )
    with started(settings) as a:
        admin, staff = a.token("admin"), a.token("home-care")
        assert a.client.get("/readyz", headers=admin).status_code == 200
        assert a.client.post("/api/ask", json={"question": QUESTION}, headers=staff).status_code == 200
        change_in_place(root, name)
        deadline = time.monotonic() + 60
        while (ready := a.client.get("/readyz", headers=admin)).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.status_code == 503
        detail = ready.json()["checks"]["store"]["detail"]
        assert "do not match their checksum" in detail
        assert "--rebuild" in detail
        assert str(root) not in detail
        resp = a.client.post("/api/ask", json={"question": QUESTION}, headers=staff)
        assert resp.status_code == 503
        assert "damaged" in resp.json()["error"]["message"]
        assert a.client.get("/readyz").json()["checks"]["store"] == {"ok": False}  # no detail for anyone else
