"""A token of this service in a URL is redacted from the access log after percent-decoding (issue 23): `?x=fa%5F...`
as much as `?x=fa_...`.
"""

import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import Api, LiveServer, serve_process

FALL = "Vad gör jag om en brukare har ramlat?"


def access_record(url: str) -> logging.LogRecord:
    """An access-log record as uvicorn writes it."""
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 0, '%s - "%s %s HTTP/%s" %d',
                             ("127.0.0.1:50000", "POST", url, "1.1", 401), None)


class TestPercentEncodedTokensInTheLog:
    @pytest.mark.parametrize("url", [
        "/api/ask?x=fa%5F{rest}",
        "/api/ask?x=%66%61%5F{rest}",
        "/api/ask?%74oken={rest}",
        "/api/ask?q=see+fa%5F{rest}&format=csv",
        "/api/ask?x=fa%255F{rest}",  # encoded twice
        "/api/fa%255F{rest}/x",  # as uvicorn logs a path: decoded once, then quoted again
    ])
    def test_a_token_is_redacted_after_decoding(self, api: Api, url: str) -> None:
        # `api`: an app has started, and its guard has set up the access log's redaction as a server's does.
        rest = "Q" * 10 + "z" * 33
        record = access_record(url.format(rest=rest))
        assert logging.getLogger("uvicorn.access").filter(record)
        line = record.getMessage()
        assert rest[:12] not in line, line
        assert "[redacted]" in line

    def test_other_urls_are_logged_as_sent(self, api: Api) -> None:
        record = access_record("/api/owners/documents?q=fall%20och%20halka&overdue=true")
        logging.getLogger("uvicorn.access").filter(record)
        assert "/api/owners/documents?q=fall%20och%20halka&overdue=true" in record.getMessage()


@pytest.fixture(scope="module")
def logged(built_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`assist serve` with its access log on."""
    data_dir = tmp_path_factory.mktemp("logged")
    shutil.copytree(built_store, data_dir / "qdrant")
    with serve_process(data_dir, log_level="info") as server:
        yield server


@pytest.mark.integration
def test_a_percent_encoded_token_never_reaches_the_access_log(logged: LiveServer) -> None:
    token = logged.token("home-care")
    encoded = "fa%5F" + token[3:]
    for query in (f"x={encoded}", f"%74oken={token}"):
        resp = httpx.post(f"{logged.base_url}/api/ask?{query}", json={"question": FALL}, timeout=60)
        assert resp.status_code == 401
    log = logged.data_dir / "server.log"
    deadline = time.monotonic() + 30  # a bound on waiting for the log, never reached when it is written
    while log.read_text().count("/api/ask?") < 2:
        assert time.monotonic() < deadline, f"the access log never showed the requests: {log.read_text()}"
        time.sleep(0.05)
    text = log.read_text()
    assert token[3:20] not in text
    assert "/api/ask?x=[redacted]" in text
