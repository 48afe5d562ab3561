"""Real servers on loopback for the tests and the replica benchmark: a throwaway PostgreSQL cluster, Redis, HAProxy.

Each is a context manager that starts Debian's binary in a temporary folder on a free 127.0.0.1 port and removes
everything on exit; `*_BINARY` says whether the binary is installed (the tests skip only when it is not).
"""

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: Debian's PostgreSQL server binaries (`apt-get install postgresql`).
POSTGRES_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
REDIS_BINARY = shutil.which("redis-server")
HAPROXY_BINARY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
#: The load balancer's configuration that deploy/ ships, run as it is.
HAPROXY_CFG = REPO / "deploy" / "haproxy.cfg"


def free_port() -> int:
    """A loopback port nothing listens on (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: "subprocess.Popen[Any]", timeout: float = 10) -> None:
    """Terminate a server process; kill it when it does not end within `timeout` s (a loaded machine)."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def _wait(  # noqa: PLR0913 - what to poll, and what to say when the server ends or time runs out
    proc: "subprocess.Popen[Any]",
    ready: Callable[[], bool],
    timeout: float,
    pause: float,
    exited: Callable[[], str],
    late: Callable[[], str],
) -> None:
    """Poll `ready()` every `pause` s; RuntimeError(exited()) when `proc` ends first, RuntimeError(late()) after
    `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(exited())
        if ready():
            return
        if time.monotonic() > deadline:
            raise RuntimeError(late())
        time.sleep(pause)


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    """Until something accepts connections on 127.0.0.1:`port`; fails when `proc` exits first."""

    def accepts() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    _wait(
        proc, accepts, timeout, 0.1,
        exited=lambda: f"{what} exited at start-up (status {proc.returncode})",
        late=lambda: f"{what} did not listen on port {port} within {timeout:g} s",
    )


def wait_http(
    url: str, proc: "subprocess.Popen[Any]", what: str, timeout: float, output: Callable[[], str] = str
) -> None:
    """Until `url` answers 200; fails, with the server's `output()`, when `proc` exits first or time runs out."""
    import httpx  # noqa: PLC0415 - only the HTTP servers' fixtures need it

    def answers() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200  # noqa: PLR2004
        except httpx.HTTPError:
            return False

    _wait(
        proc, answers, timeout, 0.2,
        exited=lambda: f"{what} exited at start-up: {output()}",
        late=lambda: f"{what} did not answer {url} within {timeout:g} s: {output()}",
    )


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port, with password sign-in: its base URL, no database.

    Runs as the `postgres` user when called as root (the server refuses to run as root).
    """
    bindir = POSTGRES_BINS[-1].parent
    password = "assist-test-" + secrets.token_hex(4)
    root = Path(tempfile.mkdtemp(prefix="assist-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    pwfile = root / "pw"
    pwfile.write_text(password, encoding="utf-8")
    if as_user:
        shutil.chown(pwfile, "postgres", "postgres")
    port = free_port()
    data = root / "data"

    def run(*argv: object) -> None:
        subprocess.run([*as_user, *map(str, argv)], check=True, capture_output=True, timeout=120)  # noqa: S603

    run(bindir / "initdb", "-D", data, "-U", "assist", f"--pwfile={pwfile}", "--auth=scram-sha-256",
        "--encoding=UTF8", "--no-sync")
    try:
        run(bindir / "pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-t", "60", "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off", "start")
        yield f"postgresql://assist:{password}@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],  # noqa: S603
                       check=False, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def create_database(server_url: str) -> str:
    """A fresh, empty database on the cluster at `server_url`: its URL."""
    import psycopg  # noqa: PLC0415

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server_url}/{name}"


@contextmanager
def redis_server() -> Iterator[str]:
    """Debian's redis-server on a free loopback port, nothing saved to disk: its URL (database 0)."""
    assert REDIS_BINARY is not None  # noqa: S101 - callers skip first
    root = Path(tempfile.mkdtemp(prefix="assist-redis-"))
    port = free_port()
    log = (root / "redis.log").open("w")
    proc = subprocess.Popen(  # noqa: S603 - Debian's binary, loopback only
        [REDIS_BINARY, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(root), "--protected-mode", "yes"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port, proc, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def haproxy_env(lb_port: int, stats_port: int, replicas: list[str]) -> dict[str, str]:
    """The environment deploy/haproxy.cfg reads (the names deploy/haproxy.env sets in production)."""
    env = {"ASSIST_LB_BIND": f"127.0.0.1:{lb_port}", "ASSIST_LB_STATS_BIND": f"127.0.0.1:{stats_port}"}
    env |= {f"ASSIST_API{i}": address for i, address in enumerate(replicas, 1)}
    return env


@contextmanager
def haproxy(replicas: list[str], log_path: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[
        tuple[str, str]]:
    """Debian's haproxy running deploy/haproxy.cfg in the foreground in front of `replicas` (host:port each):
    (the balancer's base URL, its stats CSV URL).
    """
    assert HAPROXY_BINARY is not None  # noqa: S101 - callers skip first
    lb_port, stats_port = free_port(), free_port()
    env = os.environ | haproxy_env(lb_port, stats_port, replicas) | dict(extra_env or {})
    log = log_path.open("w")
    proc = subprocess.Popen(  # noqa: S603 - Debian's binary, loopback only
        [HAPROXY_BINARY, "-db", "-f", str(HAPROXY_CFG)], env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_port(lb_port, proc, "haproxy")
        yield f"http://127.0.0.1:{lb_port}", f"http://127.0.0.1:{stats_port}/stats;csv"
    finally:
        stop(proc)
        log.close()


def server_states(stats_csv: str) -> dict[str, str]:
    """{server name: UP / DOWN / ...} of the backend, from haproxy's stats CSV."""
    lines = stats_csv.lstrip("# ").splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
    return {r["svname"]: r["status"] for r in rows if r.get("pxname") == "assist_api"
            and r["svname"] not in ("FRONTEND", "BACKEND")}
