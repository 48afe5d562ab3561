"""Two API replicas behind HAProxy on loopback, one killed mid-run: throughput, errors, and no lost feedback or audit.

Starts a throwaway PostgreSQL cluster and redis-server (tests/servers.py, the tests' own), ingests --corpus once and
gives each replica its own copy of the store, then runs the load of bench/bench_http.py (its simulated users, each
with its own token, a share of them also rating answers):

1. one replica alone, addressed directly, for --single-duration seconds;
2. two replicas behind Debian's haproxy running deploy/haproxy.cfg, for --duration seconds; --kill-at seconds in,
   one replica gets SIGKILL (no shutdown).

Then every acknowledged answer's audit entry and every acknowledged rating is looked up in PostgreSQL.
Writes bench/results/replicas.json. Only loopback is ever targeted; the load generator shares the machine.

    .venv/bin/python bench/bench_replicas.py --users 50 --duration 60 --kill-at 20
"""

import argparse
import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from bench_http import (  # noqa: E402
    HOST,
    build_store,
    cpu_seconds,
    free_port,
    latency_summary,
    make_tokens,
    start_server,
    user,
    wait_ready,
)
from common import write_result  # noqa: E402

from tests.servers import (  # noqa: E402
    HAPROXY_BINARY,
    POSTGRES_BINS,
    REDIS_BINARY,
    create_database,
    haproxy,
    postgres_cluster,
    redis_server,
    server_states,
)


async def load(base: str, tokens: list[tuple[str, str]], duration: float, *, feedback_share: float,
               warm: list[dict[str, Any]], during: Any = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                                         float, float]:
    """Every token asks back to back for `duration` s against `base`, after a 3 s warm-up whose answers go to `warm`
    (counted for the rows, not for the figures); `during(start)` runs alongside.

    Returns (answers, ratings, monotonic start, wall seconds).
    """
    answers: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        await asyncio.gather(*(user(client, r, t, time.monotonic() + 3, random.Random(i), out=warm)
                               for i, (r, t) in enumerate(tokens[:4])))
        start = time.monotonic()
        until = start + duration
        tasks = [user(client, role, token, until, random.Random(i), out=answers, feedback_share=feedback_share,
                      feedback_out=ratings) for i, (role, token) in enumerate(tokens)]
        side = [during(start)] if during else []
        await asyncio.wait_for(asyncio.gather(*tasks, *side), timeout=duration + 90)
    return answers, ratings, start, time.monotonic() - start


def window(rows: list[dict[str, Any]], start: float, end: float) -> dict[str, Any]:
    """Answers that ended in [start, end): count, answers/s, errors, p95."""
    inside = [r for r in rows if start <= r["ended"] < end]
    ok = [r for r in inside if r["status"] == 200]
    seconds = max(end - start, 1e-9)
    return {
        "seconds": round(seconds, 1), "requests": len(inside), "answers": len(ok),
        "answers_per_s": round(len(ok) / seconds, 1), "errors": len(inside) - len(ok),
        "p95_ms": latency_summary(inside)["p95"],
    }


def error_kinds(rows: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(f"{r['status']} {r.get('error', '')[:80]}".strip() for r in rows if r["status"] not in (200,
                                                                                                             201)))


def lost_rows(database_url: str, answers: list[dict[str, Any]], ratings: list[dict[str, Any]]) -> dict[str, Any]:
    """Acknowledged answers and ratings against the rows PostgreSQL holds."""
    from sqlalchemy import func, select  # noqa: PLC0415

    from serving.state import Database  # noqa: PLC0415
    from serving.state.models import AuditEntry, Feedback  # noqa: PLC0415

    acked_answers = {r["request_id"] for r in answers if r["status"] == 200}
    acked_ratings = {r["feedback_id"] for r in ratings if r["status"] == 201}
    db = Database(database_url)
    with db.begin() as conn:
        audited = set(conn.execute(select(AuditEntry.request_id).where(AuditEntry.status == 200)).scalars())
        rated = set(conn.execute(select(Feedback.feedback_id)).scalars())
        audit_rows = conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    db.close()
    return {
        "answers_acknowledged": len(acked_answers),
        "audit_rows_for_them": len(acked_answers & audited),
        "audit_rows_missing": len(acked_answers - audited),
        # Written, but the caller never got the answer (the replica died between writing and replying, or a
        # retried request was answered twice): extra rows, never lost ones.
        "audit_rows_without_acknowledgement": len(audited - acked_answers),
        "audit_rows_total": audit_rows,
        "ratings_acknowledged": len(acked_ratings),
        "rating_rows_for_them": len(acked_ratings & rated),
        "rating_rows_missing": len(acked_ratings - rated),
        "rating_rows_without_acknowledgement": len(rated - acked_ratings),
    }


def backend_counters(stats_csv: str) -> dict[str, int]:
    """HAProxy's retries and redispatches for the API backend."""
    lines = stats_csv.lstrip("# ").splitlines()
    header = lines[0].split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") == "assist_api" and row.get("svname") == "BACKEND":
            return {"retries": int(row.get("wretr") or 0), "redispatches": int(row.get("wredis") or 0)}
    return {}


async def run(args: argparse.Namespace) -> dict[str, Any]:  # noqa: PLR0915 - one scenario, read top to bottom
    work = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with postgres_cluster() as pg, redis_server() as redis_url:
            database_url = create_database(pg)
            ingest_s = build_store(args.corpus, work / "a")
            shutil.copytree(work / "a" / "qdrant", work / "b" / "qdrant")
            tokens = make_tokens(work, args.users, database_url=database_url)
            shared = {"ASSIST_DATABASE__URL": database_url, "ASSIST_REDIS__URL": redis_url}
            ports = [free_port(), free_port()]
            replicas = [f"{HOST}:{p}" for p in ports]
            procs = [start_server(work / name, port, args, shared) for name, port in zip("ab", ports, strict=True)]
            for proc, address in zip(procs, replicas, strict=True):
                await wait_ready(f"http://{address}", proc, timeout=180)

            # 1. One replica alone, addressed directly (the other idles).
            load_before = os.getloadavg()
            cpu_a = cpu_seconds(procs[0].pid)
            warm: list[dict[str, Any]] = []
            single, single_ratings, s0, single_wall = await load(
                f"http://{replicas[0]}", tokens, args.single_duration, feedback_share=args.feedback_share, warm=warm)
            single_cpu = (cpu_seconds(procs[0].pid) - cpu_a) / single_wall

            # 2. Both behind haproxy; one killed `kill_at` seconds in.
            with haproxy(replicas, work / "haproxy.log") as (balancer, stats):
                deadline = time.monotonic() + 60
                while server_states(httpx.get(stats, timeout=5).text) != {"api1": "UP", "api2": "UP"}:
                    if time.monotonic() > deadline:
                        raise SystemExit("haproxy did not see both replicas up")
                    await asyncio.sleep(0.2)
                marks: dict[str, float] = {}

                async def kill_one(start: float) -> None:
                    await asyncio.sleep(max(0.0, start + args.kill_at - time.monotonic()))
                    procs[1].send_signal(signal.SIGKILL)
                    marks["killed"] = time.monotonic()
                    async with httpx.AsyncClient(timeout=5) as client:
                        while "down_seen" not in marks and time.monotonic() < start + args.duration:
                            states = server_states((await client.get(stats)).text)
                            if states.get("api2", "").startswith("DOWN"):
                                marks["down_seen"] = time.monotonic()
                            await asyncio.sleep(0.2)

                cpu_b0 = [cpu_seconds(p.pid) for p in procs]
                pair, pair_ratings, p0, pair_wall = await load(
                    balancer, tokens, args.duration, feedback_share=args.feedback_share, warm=warm, during=kill_one)
                counters = backend_counters(httpx.get(stats, timeout=5).text)
                cpu_a_pair = (cpu_seconds(procs[0].pid) - cpu_b0[0]) / pair_wall
            load_after = os.getloadavg()
            procs[1].wait(timeout=10)
            rows = lost_rows(database_url, warm + single + pair, single_ratings + pair_ratings)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(work, ignore_errors=True)

    killed = marks.get("killed", p0 + pair_wall)
    down_seen = marks.get("down_seen")
    end = p0 + pair_wall
    after_kill = [r for r in pair if r["ended"] >= killed]
    return {
        "what": "POST /api/ask (extractive generator) and POST /api/feedback, loopback; two `assist serve` replicas "
                "sharing PostgreSQL 15 and Redis, each with its own store copy, behind haproxy (deploy/haproxy.cfg)",
        "users": args.users,
        "corpus": str(args.corpus.relative_to(REPO) if args.corpus.is_relative_to(REPO) else args.corpus),
        "ingest_s": round(ingest_s, 1),
        "feedback_share": args.feedback_share,
        "one_replica_direct": {
            **window(single, s0, s0 + single_wall),
            "latency_ms": latency_summary(single),
            "error_kinds": error_kinds(single),
            "replica_cpu_cores_busy": round(single_cpu, 2),
        },
        "two_replicas_haproxy": {
            "duration_s": round(pair_wall, 1),
            "kill_at_s": round(killed - p0, 1),
            "haproxy_marked_down_after_s": round(down_seen - killed, 1) if down_seen else None,
            "before_kill": window(pair, p0, killed),
            "after_kill": window(pair, killed, end),
            "between_kill_and_marked_down": window(pair, killed, down_seen) if down_seen else None,
            "whole_run": {**window(pair, p0, end), "latency_ms": latency_summary(pair)},
            "failed_while_replica_down": sum(r["status"] != 200 for r in after_kill),
            "ratings_failed_while_replica_down": sum(r["status"] != 201 for r in pair_ratings
                                                     if r["ended"] >= killed),
            "error_kinds": error_kinds(pair + pair_ratings),
            "haproxy_backend": counters,
            "surviving_replica_cpu_cores_busy": round(cpu_a_pair, 2),
        },
        "rows": rows,
        "load_average_before_after": [[round(x, 2) for x in load_before], [round(x, 2) for x in load_after]],
        "settings": {
            "ask_workers": args.workers or "default (4)", "rate_per_minute": args.rate_per_minute,
            "haproxy": "deploy/haproxy.cfg: leastconn, check GET /readyz every 2 s, fall 3, retries 3, "
                       "retry-on conn-failure empty-response response-timeout, redispatch",
            "load_generator": "httpx.AsyncClient in the same machine (shares the CPUs with both replicas, "
                              "PostgreSQL, Redis and haproxy)",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of load through haproxy (at most 300).")
    parser.add_argument("--kill-at", type=float, default=20.0, help="Seconds into that load one replica is killed.")
    parser.add_argument("--single-duration", type=float, default=30.0, help="Seconds of load on one replica alone.")
    parser.add_argument("--feedback-share", type=float, default=0.2, help="Share of answers the users rate.")
    parser.add_argument("--corpus", type=Path, default=REPO / "knowledge")
    parser.add_argument("--workers", type=int, default=None, help="Questions answered at once by each replica.")
    parser.add_argument("--rate-per-minute", type=float, default=100_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.duration = min(args.duration, 300.0)
    args.single_duration = min(args.single_duration, 300.0)
    missing = [name for name, found in (("postgresql", POSTGRES_BINS), ("redis-server", REDIS_BINARY),
                                        ("haproxy", HAPROXY_BINARY)) if not found]
    if missing:
        raise SystemExit(f"Install Debian's {', '.join(missing)} first (apt-get install {' '.join(missing)}).")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = asyncio.run(run(args))
    path = write_result("replicas", result, args.out)
    two = result["two_replicas_haproxy"]
    print(f"one replica {result['one_replica_direct']['answers_per_s']} answers/s; two behind haproxy "
          f"{two['before_kill']['answers_per_s']} answers/s; failed after the kill {two['failed_while_replica_down']}; "
          f"audit rows missing {result['rows']['audit_rows_missing']}, ratings missing "
          f"{result['rows']['rating_rows_missing']} -> {path}")


if __name__ == "__main__":
    main()
