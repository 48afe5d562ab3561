"""Load benchmark of the HTTP service on loopback: N concurrent users asking for a fixed time, extractive generator.

Starts `assist serve` (serving.cli.serve) in a subprocess on 127.0.0.1 over a store built from --corpus, gives each
simulated user its own token, and has every user ask questions back to back for --duration seconds.
Writes bench/results/http.json: requests/s, latency percentiles, errors, the server's CPU use, stage timings
and the machine. Only loopback is ever targeted.

--postgres puts the service's state in a throwaway PostgreSQL cluster (tests/servers.py) instead of SQLite;
--db-delay-ms adds that many milliseconds to each round trip to it (a proxy on loopback holds every packet half the
delay each way), as a database on another host would.

    .venv/bin/python bench/bench_http.py --users 50 --duration 60 [--processes N] [--postgres --db-delay-ms 10]
"""

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # never anything else: this benchmark must not leave the machine

QUESTIONS = {
    "home-care": [
        "Vad gör jag om en brukare har ramlat?",
        "Hur hanterar jag brukarens nycklar?",
        "Vad ska jag göra vid misstänkt vinterkräksjuka?",
        "What do I do if a client has fallen at night?",
        "Hur rapporterar jag en avvikelse?",
        "Vad kostar en månadsbiljett på bussen?",
    ],
    "preschool": [
        "Hur länge ska ett barn med feber stanna hemma?",
        "Vem får hämta barnet på förskolan?",
        "Hur gör vi en brandövning?",
        "How much does preschool cost?",
    ],
    "library": [
        "Hur länge får man låna en bok?",
        "Kan barn få ett eget lånekort?",
        "How do I book a room at the library?",
        "Hur skriver jag ut på biblioteket?",
    ],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    mem_gib = None
    try:
        kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")))
        mem_gib = round(kb / 1024**2, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cpu": cpu, "cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "memory_gib": mem_gib,
        "os": platform.platform(), "python": platform.python_version(), "gpu": None,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its running children (the worker processes of `assist serve --workers N`)."""
    total = cpu_seconds(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    total += cpu_seconds(int(entry.name))
            except (OSError, ValueError):
                continue
    return total


def build_store(corpus: Path, data_dir: Path) -> float:
    from assist.settings import Settings  # noqa: PLC0415
    from ingest.pipeline import Ingestor  # noqa: PLC0415

    started = time.perf_counter()
    ingestor = Ingestor(Settings(data_dir=data_dir))
    report = ingestor.ingest([corpus])
    ingestor.close()
    if report.failed:
        print(f"{len(report.failed)} files failed to ingest (ignored for the benchmark)", file=sys.stderr)
    return time.perf_counter() - started


def make_tokens(data_dir: Path, n: int, database_url: str | None = None) -> list[tuple[str, str]]:
    """`n` tokens spread over the roles, in the data dir's SQLite file or the database at `database_url`."""
    from serving.app import SQLITE_FILE  # noqa: PLC0415
    from serving.state import Database  # noqa: PLC0415
    from serving.tokens import TokenStore  # noqa: PLC0415

    roles = list(QUESTIONS)
    store = TokenStore(Database(database_url) if database_url else data_dir / SQLITE_FILE)
    tokens = [(roles[i % len(roles)], store.create(roles[i % len(roles)])[1]) for i in range(n)]
    store.close()
    return tokens


async def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float, data_dir: Path | None = None) -> None:
    """Until /readyz answers and, with `data_dir`, the service has recorded its address there (it does once every
    worker process answers: /readyz answers as soon as the first does)."""
    deadline = time.monotonic() + timeout
    while data_dir is not None and not (data_dir / "serve.json").exists():
        if proc.poll() is not None:
            raise SystemExit("assist serve exited before it was ready")
        if time.monotonic() > deadline:
            raise SystemExit("assist serve did not get ready in time")
        await asyncio.sleep(0.3)
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit("assist serve exited before it was ready")
            try:
                if (await client.get(f"{base}/readyz", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise SystemExit("assist serve did not get ready in time")


async def user(client: httpx.AsyncClient, role: str, token: str, until: float, rng: random.Random, *,
               out: list[dict[str, Any]], feedback_share: float = 0.0,
               feedback_out: list[dict[str, Any]] | None = None) -> None:
    """Ask back to back until `until`; rate a `feedback_share` of the answers (each rating into `feedback_out`)."""
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < until:
        question = rng.choice(QUESTIONS[role])
        started, began = time.perf_counter(), time.monotonic()
        try:
            resp = await client.post("/api/ask", json={"question": question}, headers=headers)
            status = resp.status_code
            body = resp.json() if status == 200 else {}
            error = "" if status == 200 else resp.text[:200]
        except httpx.HTTPError as exc:
            status, body, error = 0, {}, type(exc).__name__
        out.append({
            "status": status, "latency_s": time.perf_counter() - started, "error": error,
            "refused": body.get("refused"), "timings": body.get("timings", {}),
            "request_id": body.get("request_id"), "began": began, "ended": time.monotonic(),
        })
        if feedback_out is not None and status == 200 and rng.random() < feedback_share:
            await rate(client, headers, body["request_id"], rng, feedback_out)


async def rate(client: httpx.AsyncClient, headers: dict[str, str], request_id: str, rng: random.Random,
               out: list[dict[str, Any]]) -> None:
    """A thumbs up or down on one answer; the row says whether the service acknowledged it (201) and its id."""
    began = time.monotonic()
    try:
        resp = await client.post("/api/feedback", json={"request_id": request_id, "rating": rng.choice(["up", "down"])},
                                 headers=headers)
        status, feedback_id = resp.status_code, (resp.json().get("feedback_id") if resp.status_code == 201 else None)
    except httpx.HTTPError:
        status, feedback_id = 0, None
    out.append({"status": status, "feedback_id": feedback_id, "began": began, "ended": time.monotonic()})


def start_server(work: Path, port: int, args: argparse.Namespace,
                 extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`assist serve` on 127.0.0.1:`port` over the store in `work`, extractive generator, per-token limit raised."""
    env = os.environ | {
        "HF_HUB_OFFLINE": "1", "ASSIST_DATA_DIR": str(work), "ASSIST_QDRANT__PATH": str(work / "qdrant"),
        "ASSIST_GENERATOR__BACKEND": "extractive", "ASSIST_SERVE__HOST": HOST, "ASSIST_SERVE__PORT": str(port),
        # Each simulated user asks back to back, far above a person's pace: the per-token limit is raised so
        # that it measures the service, not the limiter.
        "ASSIST_SERVE__RATE_PER_MINUTE": str(args.rate_per_minute), "ASSIST_SERVE__RATE_BURST": "1000",
        **(extra_env or {}),
    }
    if args.workers:
        env["ASSIST_SERVE__ASK_WORKERS"] = str(args.workers)
    if args.processes:
        env["ASSIST_SERVE__WORKERS"] = str(args.processes)
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", "from serving.cli import serve; serve(log_level='warning')"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


@contextmanager
def delaying_proxy(target_port: int, delay_ms: float) -> Iterator[int]:
    """A TCP proxy on loopback to `target_port` that holds each chunk `delay_ms` / 2 in each direction; its port."""
    loop = asyncio.new_event_loop()
    port = free_port()
    half = delay_ms / 2000

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await asyncio.sleep(half)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(HOST, target_port)
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))

    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(handle, HOST, port))
        started.set()
        loop.run_forever()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started.wait()
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def latency_summary(results: list[dict[str, Any]]) -> dict[str, float | None]:
    """p50, p95, p99 and mean in ms of the answered requests."""
    latencies = [r["latency_s"] * 1000 for r in results if r["status"] == 200]
    return {
        "p50": round(percentile(latencies, 0.50), 1) if latencies else None,
        "p95": round(percentile(latencies, 0.95), 1) if latencies else None,
        "p99": round(percentile(latencies, 0.99), 1) if latencies else None,
        "mean": round(statistics.fmean(latencies), 1) if latencies else None,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        database_url = None
        if args.postgres:
            sys.path.insert(0, str(REPO))
            from tests.servers import create_database, postgres_cluster  # noqa: PLC0415 - only this mode needs them

            database_url = create_database(stack.enter_context(postgres_cluster()))
        return await _run(args, database_url, stack)


async def _run(args: argparse.Namespace, database_url: str | None, stack: ExitStack) -> dict[str, Any]:  # noqa: PLR0915
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    try:
        ingest_s = build_store(args.corpus, work)
        tokens = make_tokens(work, args.users, database_url=database_url)
        served_url = database_url
        if database_url is not None and args.db_delay_ms > 0:
            from sqlalchemy.engine import make_url  # noqa: PLC0415

            url = make_url(database_url)
            proxy = stack.enter_context(delaying_proxy(int(url.port or 5432), args.db_delay_ms))
            served_url = url.set(host=HOST, port=proxy).render_as_string(hide_password=False)
        port = free_port()
        proc = start_server(work, port, args, {"ASSIST_DATABASE__URL": served_url} if served_url else None)
        base = f"http://{HOST}:{port}"
        try:
            await wait_ready(base, proc, timeout=120, data_dir=work)
            results: list[dict[str, Any]] = []
            limits = httpx.Limits(max_connections=args.users, max_keepalive_connections=args.users)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
                # A short warm-up so the first requests do not count page faults of the model.
                await asyncio.gather(*(user(client, r, t, time.monotonic() + 3, random.Random(i), out=[])
                                       for i, (r, t) in enumerate(tokens[:4])))
                cpu_before, wall_before = tree_cpu_seconds(proc.pid), time.perf_counter()
                until = time.monotonic() + args.duration
                tasks = [user(client, role, token, until, random.Random(i), out=results)
                         for i, (role, token) in enumerate(tokens)]
                await asyncio.wait_for(asyncio.gather(*tasks), timeout=args.duration + 90)
                wall = time.perf_counter() - wall_before
                server_cpu = tree_cpu_seconds(proc.pid) - cpu_before
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ok = [r for r in results if r["status"] == 200]
    stages: dict[str, list[float]] = {}
    for r in ok:
        for stage, ms in r["timings"].items():
            stages.setdefault(stage, []).append(ms)
    return {
        "benchmark": "http /api/ask, extractive generator, loopback",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "users": args.users,
        "duration_s": round(wall, 1),
        "corpus": str(args.corpus),
        "ingest_s": round(ingest_s, 1),
        "requests": len(results),
        "errors": len(results) - len(ok),
        "error_kinds": dict(Counter(f"{r['status']} {r['error'][:80]}" for r in results if r["status"] != 200)),
        "requests_per_s": round(len(ok) / wall, 1),
        "latency_ms": latency_summary(results),
        "refused_share": round(sum(bool(r["refused"]) for r in ok) / len(ok), 2) if ok else None,
        "server_cpu_cores_busy": round(server_cpu / wall, 2),
        "stage_ms_mean": {k: round(statistics.fmean(v), 1) for k, v in sorted(stages.items())},
        "database": ("PostgreSQL" + (f", +{args.db_delay_ms:g} ms a round trip" if args.db_delay_ms else "")
                     if args.postgres else "SQLite"),
        "settings": {"ask_workers": args.workers or "default (4)",
                     "processes": args.processes or "default (the usable CPUs)",
                     "rate_per_minute": args.rate_per_minute,
                     "load_generator": "httpx.AsyncClient in the same machine (shares the CPUs)"},
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of load (at most 600).")
    parser.add_argument("--corpus", type=Path, default=REPO / "knowledge")
    parser.add_argument("--workers", type=int, default=None, help="Questions answered at once by each server process.")
    parser.add_argument("--processes", type=int, default=None,
                        help="Worker processes of `assist serve` (ASSIST_SERVE__WORKERS); default the service's.")
    parser.add_argument("--rate-per-minute", type=float, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="The service's state in a throwaway PostgreSQL.")
    parser.add_argument("--db-delay-ms", type=float, default=0.0, help="Added to each round trip to PostgreSQL.")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "http.json")
    args = parser.parse_args()
    args.duration = min(args.duration, 600.0)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("requests_per_s", "latency_ms", "errors", "server_cpu_cores_busy")}))


if __name__ == "__main__":
    main()
