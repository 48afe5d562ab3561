"""Slow-header clients (slowloris) against a real `assist serve` on loopback: while hundreds of connections trickle
their headers, and reconnect as soon as the header deadline cuts them off, real requests are still answered.

The slow connections count against a cap of their own, not against the cap on requests being answered
(`LIMIT_CONCURRENCY`): before that, 300 of them held every /healthz and /api/ask at 503. Nothing asserts on how
long anything took; every loop is bounded and the slow clients stop by themselves after `SAFETY_S`.
"""

import asyncio
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import LiveServer, serve_process

pytestmark = pytest.mark.integration

SAFETY_S = 90.0  # the slow clients give up by themselves after this, whatever the test does
SLOW = 300
PARTIAL_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
QUESTION = {"question": "Vad gör jag om en brukare har ramlat?"}


class SlowClients:
    """`count` connections to 127.0.0.1:`port` that each send part of a request's headers, then one more byte every
    `pause` s, and (with `reconnect`) reconnect as soon as the server closes them: a slowloris that keeps its
    numbers up.

    Runs its own event loop in a thread, until the `with` block ends or `SAFETY_S` after it started.
    """

    def __init__(self, port: int, count: int, pause: float = 0.5, *, reconnect: bool = True) -> None:
        self.port, self.count, self.pause, self.reconnect = port, count, pause, reconnect
        self.open = 0  # connections held right now
        self.connected = 0  # connections made in all
        self.cut_off = 0  # connections the server closed (with 408 or without a word)
        self.timeouts = 0  # of which with 408
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> "SlowClients":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the slow clients did not stop"

    def wait(self, done: Callable[["SlowClients"], bool], what: str) -> None:
        """Until `done(self)` (bounded)."""
        deadline = time.monotonic() + SAFETY_S / 3
        while not done(self):
            assert time.monotonic() < deadline, (
                f"never {what}: {self.open} open, {self.connected} made, {self.cut_off} cut off")
            time.sleep(0.05)

    async def _main(self) -> None:
        deadline = time.monotonic() + SAFETY_S
        await asyncio.gather(*(self._one(deadline) for _ in range(self.count)))

    def _done(self, deadline: float) -> bool:
        return self._stop.is_set() or time.monotonic() > deadline

    async def _one(self, deadline: float) -> None:
        while not self._done(deadline):
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 5)
            except (OSError, TimeoutError):
                await asyncio.sleep(self.pause)
                continue
            self.open += 1
            self.connected += 1
            try:
                await self._trickle(reader, writer, deadline)
            finally:
                self.open -= 1
                writer.close()
            if not self.reconnect:
                return

    async def _trickle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadline: float) -> None:
        try:
            writer.write(PARTIAL_HEADERS)
            while not self._done(deadline):
                try:
                    received = await asyncio.wait_for(reader.read(4096), self.pause)
                except TimeoutError:
                    writer.write(b"a")
                    await writer.drain()
                    continue
                self.cut_off += 1
                self.timeouts += received.startswith(b"HTTP/1.1 408")
                return
        except OSError:
            self.cut_off += 1


@contextmanager
def server(built_store: Path, data_dir: Path, **serve: str) -> Iterator[LiveServer]:
    """`assist serve` over a copy of the store, with `serve` as ASSIST_SERVE__* settings."""
    shutil.copytree(built_store, data_dir / "qdrant")
    with serve_process(data_dir, {f"ASSIST_SERVE__{k.upper()}": v for k, v in serve.items()}) as live:
        yield live


def port_of(live: LiveServer) -> int:
    return int(live.base_url.rsplit(":", 1)[1])


def probe(live: LiveServer, token: str, slow: SlowClients) -> list[tuple[str, int, int]]:
    """/healthz and an authenticated /api/ask, each on a new connection, until every slow client has been cut off
    and reconnected at least once: (path, status, slow connections held when it was sent) of each."""
    results: list[tuple[str, int, int]] = []
    start = slow.connected
    deadline = time.monotonic() + SAFETY_S / 2
    while slow.connected - start < slow.count or len(results) < 12:  # noqa: PLR2004 - a dozen probes at least
        assert time.monotonic() < deadline, f"the slow clients reconnected only {slow.connected - start} times"
        held = slow.open
        health = httpx.get(f"{live.base_url}/healthz", timeout=30)
        results.append(("/healthz", health.status_code, held))
        held = slow.open
        ask = httpx.post(f"{live.base_url}/api/ask", json=QUESTION, headers={"Authorization": f"Bearer {token}"},
                         timeout=60)
        results.append(("/api/ask", ask.status_code, held))
        time.sleep(0.2)
    return results


def test_requests_are_answered_while_300_slow_clients_hold_connections(built_store: Path, tmp_path: Path) -> None:
    # The default caps; a 2 s header deadline so that the slow clients are cut off and come back within the test.
    with server(built_store, tmp_path, header_timeout_s="2") as live, SlowClients(port_of(live), SLOW) as slow:
        token = live.token("home-care")
        slow.wait(lambda s: s.open >= SLOW, f"held {SLOW} slow connections at once")
        results = probe(live, token, slow)
        cut_off = slow.timeouts
        after = httpx.get(f"{live.base_url}/healthz", timeout=30).status_code

    refused = [r for r in results if r[1] != 200]  # noqa: PLR2004
    assert refused == [], f"{len(refused)} of {len(results)} probes were not answered: {refused[:6]}"
    # The probes ran while more slow connections were open than the request cap (200) allows requests, and the
    # slow clients were really being cut off with 408 and coming back.
    assert sum(held > 200 for _, _, held in results) >= len(results) // 2, results  # noqa: PLR2004
    assert cut_off >= SLOW
    assert after == 200  # noqa: PLR2004


def test_past_the_pending_cap_the_connection_waiting_longest_is_closed(built_store: Path, tmp_path: Path) -> None:
    # A header deadline far beyond the test's bounds: every slow connection closed here was closed by the cap.
    cap, count = 50, 100
    with (server(built_store, tmp_path, header_timeout_s="600", max_pending_connections=str(cap)) as live,
          SlowClients(port_of(live), count, reconnect=False) as slow):
        slow.wait(lambda s: s.connected == count and s.cut_off == count - cap and s.open == cap,
                  f"held {cap} of {count} slow connections, the others cut off")
        timeouts = slow.timeouts
        health = httpx.get(f"{live.base_url}/healthz", timeout=30)
        ask = httpx.post(f"{live.base_url}/api/ask", json=QUESTION, timeout=60,
                         headers={"Authorization": f"Bearer {live.token('home-care')}"})
        # The first probe came in over a full cap and took the place of the slow connection waiting longest; the
        # second found the first's place free.
        slow.wait(lambda s: s.cut_off == count - cap + 1 and s.open == cap - 1,
                  "closed one slow connection for the first probe, and no more")

    assert timeouts == count - cap  # each was told 408, having begun a request
    assert (health.status_code, ask.status_code) == (200, 200)
