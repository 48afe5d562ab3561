"""`assist serve --workers 2`: two processes answer on one port. Each test talks to one worker at a time by pausing
the other (SIGSTOP: a paused process accepts no connection, so the kernel hands every new one to the other), and
checks what the workers must share: tokens, the per-token rate, the store switch after an owner's upload, the
metrics; and that a worker that dies is replaced while the other answers.
"""

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROLES_CITY
from tests.owners.docs import ICE, ICE_QUESTION, ICE_TITLE, docx_bytes
from tests.serving.conftest import LiveServer, serve_process
from tests.serving.test_owners_page import token

pytestmark = pytest.mark.integration

FALL = "Vad gör jag om en brukare har ramlat?"
BURST = 6  # requests a token may make at once, on all workers together (no refill within a test: 1 a minute)
SAFETY_S = 120  # only so that a broken build fails instead of hanging; nothing asserts on time


def children(pid: int) -> list[int]:
    """The worker processes of the supervisor `pid` (its children running the spawned interpreter)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"spawn_main" in cmdline:
            out.append(int(entry.name))
    return sorted(out)


@pytest.fixture(scope="module")
def workers(built_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    import shutil  # noqa: PLC0415

    data = tmp_path_factory.mktemp("workers")
    shutil.copytree(built_store, data / "qdrant")
    (data / "knowledge").mkdir()
    env = {
        "ASSIST_SERVE__WORKERS": "2",
        "ASSIST_SERVE__RATE_PER_MINUTE": "1",
        "ASSIST_SERVE__RATE_BURST": str(BURST),
        "ASSIST_ROLES_FILE": str(ROLES_CITY),
        "ASSIST_KNOWLEDGE_DIR": str(data / "knowledge"),
    }
    with serve_process(data, env) as server:
        assert server.process is not None
        deadline = time.monotonic() + SAFETY_S
        while len(children(server.process.pid)) != 2:  # noqa: PLR2004
            assert time.monotonic() < deadline, "the supervisor did not start two workers"
            time.sleep(0.2)
        yield server


@contextmanager
def only(worker: int, all_workers: list[int]) -> Iterator[None]:
    """Every other worker paused: new connections reach `worker` only."""
    paused = [p for p in all_workers if p != worker]
    for p in paused:
        os.kill(p, signal.SIGSTOP)
    try:
        yield
    finally:
        for p in paused:
            os.kill(p, signal.SIGCONT)


def ask(server: LiveServer, bearer: str, question: str = FALL) -> httpx.Response:
    # A new connection per request: a kept-alive one would stay with the worker that accepted it.
    return httpx.post(f"{server.base_url}/api/ask", json={"question": question},
                      headers={"Authorization": f"Bearer {bearer}"}, timeout=SAFETY_S)


def test_a_token_works_on_each_worker_and_its_rate_is_counted_once(workers: LiveServer) -> None:
    assert workers.process is not None
    pids = children(workers.process.pid)
    staff = token(workers, "home-care")
    for pid in pids:
        with only(pid, pids):
            answer = ask(workers, staff)
            assert answer.status_code == 200, answer.text
            assert answer.json()["citations"][0]["doc_id"] == "fall"
    # The burst is the token's on both workers together: per-process buckets would let each take BURST.
    models = {"Authorization": f"Bearer {staff}"}
    codes = []
    for i in range(BURST):
        with only(pids[i % 2], pids):
            codes.append(httpx.get(f"{workers.base_url}/v1/models", headers=models, timeout=30).status_code)
    assert codes[: BURST - 2] == [200] * (BURST - 2)  # two of the burst went to the answers above
    assert codes[BURST - 2 :] == [429, 429]


def test_an_upload_through_one_worker_is_answered_by_the_other(workers: LiveServer) -> None:
    assert workers.process is not None
    pids = children(workers.process.pid)
    staff = token(workers, "home-care")
    owner = token(workers, "owner-home-care")
    with only(pids[0], pids):
        made = httpx.post(f"{workers.base_url}/api/owners/documents?collection=home_care&filename=Halka.docx",
                          content=docx_bytes(ICE_TITLE, ICE), headers={"Authorization": f"Bearer {owner}"},
                          timeout=SAFETY_S)
        assert made.status_code == 201, made.text
    for pid in reversed(pids):  # the other worker first: it switches to the version the first one published
        with only(pid, pids):
            answer = ask(workers, staff, ICE_QUESTION)
            assert answer.status_code == 200, answer.text
            assert answer.json()["citations"][0]["doc_id"] == "halka", pid


def test_metrics_sum_the_workers_and_a_worker_that_dies_is_replaced(workers: LiveServer) -> None:
    assert workers.process is not None
    pids = children(workers.process.pid)
    staff = token(workers, "home-care")
    admin = {"Authorization": f"Bearer {token(workers, 'admin')}"}

    def answers() -> float:
        text = httpx.get(f"{workers.base_url}/metrics", headers=admin, timeout=30).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("assist_answers_total{"))

    before = answers()
    for pid in pids:
        with only(pid, pids):
            assert ask(workers, staff).status_code == 200
    assert answers() == before + 2
    os.kill(pids[0], signal.SIGKILL)
    assert ask(workers, staff).status_code == 200  # the other answers meanwhile
    deadline = time.monotonic() + SAFETY_S
    while len(now := children(workers.process.pid)) != 2 or pids[0] in now:  # noqa: PLR2004
        assert time.monotonic() < deadline, f"the dead worker was not replaced: {now}"
        time.sleep(0.2)
    replacement = next(p for p in now if p not in pids)
    deadline = time.monotonic() + SAFETY_S
    while True:  # the replacement answers once its models are loaded
        with only(replacement, now):
            try:
                if ask(workers, staff).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
        assert time.monotonic() < deadline, "the replacement worker never answered"
        time.sleep(1)
