"""`assist serve --workers N`: N processes answer on one listening socket, so that every core answers.

One process answers at most about one core's worth of questions: the pipeline is Python, and the GIL serializes it.
The parent binds the socket, then starts N worker processes (spawned: a fresh interpreter each, nothing half-locked
inherited); each builds its own app (models, pipeline, its own open store version) and runs uvicorn on the inherited
socket, and the kernel hands each new connection to one of them. The parent records the address once every worker
answers, starts again a worker that dies, and stops them all on SIGINT or SIGTERM.

Shared by the workers:
- the database: tokens, sessions, the audit log, feedback, the gaps' questions;
- the store's published version: each worker notices a new one and switches on its own (the first worker reads the
  version in place; the others read private copies, as any second process does, since Qdrant Edge lets one process
  open a shard);
- the per-token counters (questions in flight, rates, answers in flight to the LLM): a SQLite file in the data dir,
  or Redis when ASSIST_REDIS__URL is set;
- the metrics: prometheus_client's multiprocess files in a private temporary folder; /metrics sums every worker's.

Each worker's own, as each replica's: the token lookup cache (a token revoked through one worker is refused by the
others within ASSIST_SERVE__TOKEN_CACHE_S), the per-address buckets of the public paths, and the confident answers
held in memory for a thumbs-down (feedback that reaches another worker is stored, but adds no gap question).
"""

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from pathlib import Path

from assist.settings import Settings
from serving.config import ServingSettings

logger = logging.getLogger(__name__)

#: The workers' shared counters, in the data dir (emptied at each start).
COUNTERS_FILE = "serve_counters.sqlite"
STOP_GRACE_S = 15.0  # a worker gets this long to finish its requests after SIGTERM before it is killed
STARTUP_FAILURE = 3  # uvicorn's exit status for an app that failed to start (uvicorn.main.STARTUP_FAILURE)


def worker_count(serving: ServingSettings, settings: Settings) -> int:
    """ASSIST_SERVE__WORKERS, else the CPUs this process may use; one for an in-process llama.cpp model, which
    already uses every core for each answer (and would be loaded once per worker)."""
    if serving.workers is not None:
        return serving.workers
    if settings.generator.backend == "llamacpp":
        return 1
    from serving.service import usable_cpus  # noqa: PLC0415

    return usable_cpus()


def _worker_main(  # noqa: PLR0913 - what a spawned process needs, passed explicitly
    sock: socket.socket,
    settings: Settings,
    serving: ServingSettings,
    log_level: str,
    counters: Path,
    ready: Event,
) -> None:
    """One worker: the app on the inherited socket, `ready` set once it answers; exit 3 when it cannot start."""
    os.umask(0o077)  # the counters' and the store copy's files are this user's only
    from serving.app import create_app  # noqa: PLC0415
    from serving.cli import _server  # noqa: PLC0415
    from serving.server import server_config  # noqa: PLC0415

    config = server_config(create_app(settings, serving, shared_counters=counters), serving, log_level=log_level)
    server = _server(config, ready.set)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


@dataclass
class _Worker:
    process: BaseProcess
    ready: Event


class Supervisor:
    """Starts the workers, keeps them running, and stops them."""

    def __init__(  # noqa: PLR0913 - the service's settings and the bound socket
        self,
        sock: socket.socket,
        settings: Settings,
        serving: ServingSettings,
        *,
        count: int,
        log_level: str = "info",
    ) -> None:
        self.sock, self.settings, self.serving, self.count, self.log_level = sock, settings, serving, count, log_level
        self.context = multiprocessing.get_context("spawn")
        self.counters = Path(settings.data_dir) / COUNTERS_FILE
        self.workers: list[_Worker] = []
        self.stopping = threading.Event()

    def _start(self) -> _Worker:
        ready = self.context.Event()
        process = self.context.Process(
            target=_worker_main, name="assist-worker", daemon=False,
            args=(self.sock, self.settings, self.serving, self.log_level, self.counters, ready),
        )
        process.start()
        logger.info("Started worker process [%s]", process.pid)
        return _Worker(process, ready)

    def _reset_counters(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.counters}{suffix}").unlink()

    def run(self, on_started: Callable[[], None]) -> int:
        """Serve until SIGINT or SIGTERM; the exit status (3 when the workers could not start)."""
        multiprocessing.allow_connection_pickling()  # the listening socket goes to each worker
        previous = {sig: signal.signal(sig, lambda *_: self.stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        self._reset_counters()
        metrics = tempfile.mkdtemp(prefix="assist-metrics-")  # 0700
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics  # read by prometheus_client when a worker imports it
        try:
            self.workers = [self._start() for _ in range(self.count)]
            status = self._wait_ready()
            if status is None:
                on_started()
                self._keep_running()
                status = 0
            return status
        finally:
            self._stop_all()
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            shutil.rmtree(metrics, ignore_errors=True)
            self._reset_counters()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _wait_ready(self) -> int | None:
        """None once every worker answers; the exit status when one could not start or a stop came first."""
        while not all(w.ready.is_set() for w in self.workers):
            if self.stopping.wait(0.2):
                return 0
            for w in self.workers:
                if not w.process.is_alive() and not w.ready.is_set():
                    logger.error("A worker process [%s] failed to start (its error is above); stopping",
                                 w.process.pid)
                    return STARTUP_FAILURE
        logger.info("%d worker processes answering", len(self.workers))
        return None

    def _keep_running(self) -> None:
        while not self.stopping.wait(0.5):
            for i, w in enumerate(self.workers):
                if w.process.is_alive():
                    continue
                self._mark_dead(w)
                logger.warning("Worker process [%s] ended (exit status %s); starting another", w.process.pid,
                               w.process.exitcode)
                self.workers[i] = self._start()

    @staticmethod
    def _mark_dead(w: _Worker) -> None:
        from prometheus_client import multiprocess  # noqa: PLC0415

        if w.process.pid is not None:
            multiprocess.mark_process_dead(w.process.pid)

    def _stop_all(self) -> None:
        for w in self.workers:
            if w.process.is_alive() and w.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for w in self.workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                logger.warning("Worker process [%s] did not stop in %.0f s: killed", w.process.pid, STOP_GRACE_S)
                w.process.kill()
                w.process.join()


def run_workers(  # noqa: PLR0913 - the service's settings and the bound socket
    sock: socket.socket,
    settings: Settings,
    serving: ServingSettings,
    *,
    count: int,
    log_level: str,
    on_started: Callable[[], None],
) -> int:
    """Serve with `count` worker processes (see the module's text); the exit status."""
    return Supervisor(sock, settings, serving, count=count, log_level=log_level).run(on_started)

