"""A real `assist serve` on loopback, probed with raw sockets: slow headers and slow bodies are cut off, and a token
sent in a URL is refused and never written to the access log.

The server runs with 1 s deadlines. Nothing asserts on how long anything took: each socket is read until the
server closes it, and a safety bound only turns a connection that is never closed into a failure instead of a hang.
"""

import json
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving.app import SQLITE_FILE
from serving.cli import ADDRESS_FILE, token_create
from serving.tokens import TokenStore
from tests.serving.conftest import LiveServer, serve_process

pytestmark = pytest.mark.integration

SAFETY_S = 30  # the whole wait for every socket of one test; never reached when the deadlines work
CONNECTIONS = 40


@pytest.fixture(scope="module")
def guarded(built_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`assist serve` with 1 s header and body deadlines and its access log on."""
    data_dir = tmp_path_factory.mktemp("guarded")
    shutil.copytree(built_store, data_dir / "qdrant")
    extra = {"ASSIST_SERVE__HEADER_TIMEOUT_S": "1", "ASSIST_SERVE__BODY_TIMEOUT_S": "1"}
    with serve_process(data_dir, extra, log_level="info") as server:
        yield server


def port_of(server: LiveServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def connect(server: LiveServer, first: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port_of(server)))
    if first:
        sock.sendall(first)
    return sock


def read_until_closed(socks: list[socket.socket]) -> list[bytes | None]:
    """What each socket received before the server closed it; None for one still open at the safety bound."""
    deadline = time.monotonic() + SAFETY_S
    out: list[bytes | None] = []
    for sock in socks:
        received = b""
        try:
            while True:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
            out.append(received)
        except TimeoutError:
            out.append(None)
        except ConnectionResetError:
            out.append(received)
        finally:
            sock.close()
    return out


def test_partial_headers_are_cut_off_and_the_service_still_answers(guarded: LiveServer) -> None:
    socks = [connect(guarded, b"POST /api/ask HTTP/1.1\r\nHost: x\r\nX-Slow: ") for _ in range(CONNECTIONS)]
    socks.append(connect(guarded))  # sends nothing at all
    kept = connect(guarded, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    kept.settimeout(SAFETY_S)
    first = b""
    while b'{"status":"ok"}' not in first:
        first += kept.recv(65536)
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHos")
    socks.append(kept)
    for sock in socks[:CONNECTIONS:2]:
        sock.sendall(b"a")  # more bytes do not move the deadline
    results = read_until_closed(socks)
    results[-1] = None if results[-1] is None else first + results[-1]

    still_open = sum(r is None for r in results)
    assert still_open == 0, f"{still_open} of {len(socks)} slow connections were never closed"
    assert all(r.startswith(b"HTTP/1.1 408") for r in results[: CONNECTIONS + 1] if r)
    # A kept-alive connection answered its full request, then was cut off in the middle of the next one's headers.
    assert results[-1] is not None
    assert results[-1].startswith(b"HTTP/1.1 200")
    assert results[-1].count(b"HTTP/1.1 ") == 2
    assert b"408" in results[-1]
    assert httpx.get(f"{guarded.base_url}/healthz", timeout=10).json() == {"status": "ok"}


def test_partial_bodies_get_408_and_are_closed(guarded: LiveServer) -> None:
    token = guarded.token("home-care")
    head = (
        "POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: 200\r\n\r\n"
    ).encode()
    socks = [connect(guarded, head + b'{"question": "Vad g') for _ in range(CONNECTIONS)]
    results = read_until_closed(socks)

    assert sum(r is None for r in results) == 0, "a slow body kept its connection open"
    for r in results:
        assert r is not None
        assert r.startswith(b"HTTP/1.1 408")
        body = json.loads(r.split(b"\r\n\r\n", 1)[1])
        assert body["error"]["type"] == "invalid_request_error"
        assert "did not arrive within 1 s" in body["error"]["message"]
    # Whole bodies still get answers.
    resp = httpx.post(f"{guarded.base_url}/api/ask", json={"question": "Vad gör jag om en brukare har ramlat?"},
                      headers={"Authorization": f"Bearer {token}"}, timeout=SAFETY_S)
    assert resp.status_code == 200


def test_a_token_in_the_url_is_refused_and_never_logged(guarded: LiveServer) -> None:
    token = guarded.token("home-care")
    question = {"question": "Vad gör jag om en brukare har ramlat?"}
    for url, headers in [
        (f"/api/ask?token={token}", {}),
        (f"/api/ask?access_token={token}", {"Authorization": f"Bearer {token}"}),
        (f"/api/ask?x={token}", {}),
    ]:
        resp = httpx.post(guarded.base_url + url, json=question, headers=headers, timeout=SAFETY_S)
        assert resp.status_code == 401
        assert "Authorization header" in resp.json()["error"]["message"]
        assert resp.json()["error"]["type"] == "authentication_error"
    log = guarded.data_dir / "server.log"
    deadline = time.monotonic() + SAFETY_S
    while log.read_text().count("[redacted]") < 3:
        assert time.monotonic() < deadline, f"the access log never showed the requests: {log.read_text()}"
        time.sleep(0.05)
    text = log.read_text()
    assert token not in text
    assert token[3:20] not in text
    assert "/api/ask?token=[redacted]" in text


def test_the_sign_in_link_names_the_port_the_service_listens_on(
    guarded: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ASSIST_SERVE__PORT", raising=False)
    monkeypatch.delenv("ASSIST_SERVE__PUBLIC_URL", raising=False)
    address = guarded.data_dir / ADDRESS_FILE
    assert json.loads(address.read_text())["url"] == f"http://127.0.0.1:{port_of(guarded)}/"
    token = token_create("preschool", data_dir=guarded.data_dir)
    link = capsys.readouterr().err.split("Phone page: ")[1].strip()
    assert link == f"http://127.0.0.1:{port_of(guarded)}/#token={token}"
    # The page signs in from the fragment, which sends the token as a header: the token works from there.
    ask = httpx.post(f"{guarded.base_url}/api/ask", json={"question": "Hur länge ska ett barn med feber stanna hemma?"},
                     headers={"Authorization": f"Bearer {link.split('#token=')[1]}"}, timeout=SAFETY_S)
    assert ask.status_code == 200


def test_files_the_service_writes_are_private(guarded: LiveServer) -> None:
    httpx.post(f"{guarded.base_url}/api/ask", json={"question": "Var förvaras nycklarna?"},
               headers={"Authorization": f"Bearer {guarded.token()}"}, timeout=SAFETY_S)
    store = TokenStore(guarded.data_dir / SQLITE_FILE)
    store.close()
    for name in (SQLITE_FILE, f"{SQLITE_FILE}-wal", ADDRESS_FILE):
        path = guarded.data_dir / name
        if name.endswith("-wal") and not path.exists():
            continue
        assert path.stat().st_mode & 0o777 == 0o600, name
