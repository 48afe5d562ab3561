"""Counters shared by replicas, in a real redis-server on loopback: two app instances share one rate limit, one
per-token share of questions in flight and one cap on answers in flight to the LLM; a killed replica's slots free
themselves, a live replica's do not.

Nothing asserts on time: the lease tests wait for a state (slots free again) with a generous safety deadline.
"""

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import redis

from assist.settings import DatabaseSettings, GeneratorSettings, QdrantSettings, RedisSettings, Settings
from serving.config import ServingSettings
from serving.counters import LocalCounters, RedisCounters, counters_for
from serving.service import GENERATOR_KEY, caller_key
from tests.serving.conftest import REPO, Api, started
from tests.serving.test_admission import SAFETY_S, HeldLLM, held_llm  # noqa: F401 - the fixture is used here too

pytestmark = pytest.mark.integration

FALL = "Vad gör jag om en brukare har ramlat?"
#: Short leases so that a dead holder's slots free themselves within seconds.
LEASE_S = 3.0


@contextmanager
def two_apps(built_store: Path, tmp_path: Path, redis_url: str | None, serving: ServingSettings,
             database_url: str | None = None, **generator: object) -> Iterator[tuple[Api, Api]]:
    """Two app instances as two replicas: one database (PostgreSQL as in production, or a SQLite file), one Redis,
    each its own copy of the store.
    """
    with ExitStack() as stack:
        apps = []
        for name in ("a", "b"):
            store = tmp_path / name / "qdrant"
            shutil.copytree(built_store, store)
            settings = Settings(
                data_dir=tmp_path, qdrant=QdrantSettings(path=store), database=DatabaseSettings(url=database_url),
                generator=GeneratorSettings(**generator),  # type: ignore[arg-type]
                redis=RedisSettings(url=redis_url),
            )
            apps.append(stack.enter_context(started(settings, serving)))
        yield apps[0], apps[1]


class TestRedisCounters:
    def test_two_replicas_share_one_cap_and_each_callers_share_is_its_own(self, redis_url: str) -> None:
        async def run() -> None:
            a, b = RedisCounters(url=redis_url, lease_s=30), RedisCounters(url=redis_url, lease_s=30)
            first, second = await a.take("caller:t1", 2), await b.take("caller:t1", 2)
            assert first is not None
            assert second is not None
            assert await a.take("caller:t1", 2) is None
            assert await b.take("caller:t1", 2) is None
            assert await b.held("caller:t1") == 2
            assert await a.take("caller:t2", 2) is not None  # another caller's slots are counted apart
            await a.give_back("caller:t1", first)
            assert await b.take("caller:t1", 2) is not None
            await a.close()  # a replica that stops gives back what it holds
            assert await b.held("caller:t1") == 2
            assert await b.held("caller:t2") == 0
            await b.close()

        asyncio.run(run())

    def test_a_killed_replicas_slots_free_themselves_while_a_live_ones_stay_held(
        self, redis_url: str, tmp_path: Path
    ) -> None:
        holder = (
            "import asyncio, sys\n"
            "from serving.counters import RedisCounters\n"
            "async def main():\n"
            "    c = RedisCounters(url=sys.argv[1], lease_s=float(sys.argv[2]))\n"
            "    await c.start()\n"
            "    assert await c.take('generator', 2) and await c.take('generator', 2)\n"
            "    print('held', flush=True)\n"
            "    await asyncio.sleep(600)\n"
            "asyncio.run(main())\n"
        )
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", holder, redis_url, str(LEASE_S)], cwd=REPO, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "held"

            async def run() -> None:
                other = RedisCounters(url=redis_url, lease_s=LEASE_S)
                # Three lease periods later the live holder still has both slots: it renews them.
                for _ in range(3):
                    await asyncio.sleep(LEASE_S)
                    assert await other.take("generator", 2) is None
                    assert await other.held("generator") == 2
                proc.kill()  # a replica that dies gives nothing back
                proc.wait(timeout=10)
                deadline = time.monotonic() + SAFETY_S
                while await other.held("generator") > 0:
                    assert time.monotonic() < deadline, "the dead replica's slots were never freed"
                    await asyncio.sleep(0.1)
                assert await other.take("generator", 2) is not None
                assert await other.take("generator", 2) is not None
                await other.close()

            asyncio.run(run())
        finally:
            proc.kill()
            proc.wait(timeout=10)

    def test_a_redis_that_cannot_be_reached_is_a_clear_503(self) -> None:
        from assist.errors import BackendUnavailableError
        from tests.servers import free_port

        async def run() -> None:
            counters = RedisCounters(url=f"redis://:s3cret@127.0.0.1:{free_port()}/0", timeout_s=0.5)
            with pytest.raises(BackendUnavailableError, match="cannot be reached") as err:
                await counters.take("generator", 2)
            assert "s3cret" not in str(err.value)
            assert err.value.status_code == 503
            await counters.close()

        asyncio.run(run())

    def test_without_a_url_the_counters_are_the_process_own(self) -> None:
        assert isinstance(counters_for(RedisSettings()), LocalCounters)
        assert isinstance(counters_for(RedisSettings(url="redis://127.0.0.1:6379/0")), RedisCounters)


def test_two_app_instances_share_one_rate_limit(
    built_store: Path, tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    serving = ServingSettings(rate_per_minute=0.5, rate_burst=3)
    with two_apps(built_store, tmp_path, redis_url, serving, postgres_url) as (a, b):
        admin = a.token("admin")
        statuses = [api.client.get("/api/feedback/export", headers=admin).status_code for api in (a, b, a)]
        assert statuses == [200, 200, 200]
        # The burst of 3 is spent on the two instances together: the next request is limited on either.
        for api in (b, a):
            resp = api.client.get("/api/feedback/export", headers=admin)
            assert resp.status_code == 429
            assert int(resp.headers["Retry-After"]) > 0
        # Another token has its own bucket.
        assert b.client.get("/api/feedback/export", headers=b.token("admin")).status_code == 200


def test_in_process_counters_are_per_instance(built_store: Path, tmp_path: Path) -> None:
    """The single-machine default: without Redis each instance has its own bucket (what Redis fixes)."""
    serving = ServingSettings(rate_per_minute=0.5, rate_burst=2)
    with two_apps(built_store, tmp_path, None, serving) as (a, b):
        admin = a.token("admin")
        assert [api.client.get("/api/feedback/export", headers=admin).status_code for api in (a, a, a)] == [
            200, 200, 429]
        assert b.client.get("/api/feedback/export", headers=admin).status_code == 200


def test_two_app_instances_share_a_tokens_questions_in_flight_and_the_llm_cap(
    built_store: Path, tmp_path: Path, redis_url: str, postgres_url: str,
    held_llm: HeldLLM,  # noqa: F811 - the fixture
) -> None:
    serving = ServingSettings(rate_per_minute=6000, rate_burst=1000, max_generator_in_flight=3,
                              max_in_flight_per_token=2)
    llm = {"backend": "openai", "api_base_url": held_llm.base_url, "model": "stand-in", "timeout_s": SAFETY_S}
    with two_apps(built_store, tmp_path, redis_url, serving, postgres_url, **llm) as (a, b), \
            ThreadPoolExecutor(4) as pool:
        x, y, z = a.token(), a.token(), b.token()

        def ask(api: Api, headers: dict[str, str]):  # type: ignore[no-untyped-def]
            return api.client.post("/api/ask", json={"question": FALL}, headers=headers)

        held = [pool.submit(ask, a, x), pool.submit(ask, b, x)]
        held_llm.wait_received(2)
        # X has one question on each instance: its share of 2 is spent on both together.
        for api in (a, b):
            refused = ask(api, x)
            assert refused.status_code == 429
            assert "2 questions" in refused.json()["error"]["message"]
        held.append(pool.submit(ask, b, y))
        held_llm.wait_received(3)
        # The LLM's cap of 3 is spent across the instances: Z is told the service is busy on A, which holds one.
        busy = ask(a, z)
        assert busy.status_code == 503
        assert "busy" in busy.json()["error"]["message"]
        assert held_llm.received == 3
        held_llm.release()
        assert [f.result(timeout=SAFETY_S).status_code for f in held] == [200, 200, 200]
        # Every slot was given back, on both instances.
        assert isinstance(a.services.counters, RedisCounters)
        shared = redis.Redis.from_url(redis_url)
        assert shared.zcard(f"assist:slots:{GENERATOR_KEY}") == 0
        x_info = a.services.tokens.verify(x["Authorization"].removeprefix("Bearer "))
        assert x_info is not None
        assert shared.zcard(f"assist:slots:{caller_key(x_info.token_id)}") == 0
        shared.close()
        assert ask(b, x).status_code == 200


def test_readyz_names_the_shared_counters_to_admins(built_store: Path, tmp_path: Path, redis_url: str) -> None:
    with two_apps(built_store, tmp_path, redis_url, ServingSettings()) as (a, _):
        body = a.client.get("/readyz", headers=a.token("admin")).json()
        assert body["checks"]["counters"]["ok"] is True
        assert "Redis at 127.0.0.1" in body["checks"]["counters"]["detail"]
        assert a.client.get("/readyz").json()["checks"]["counters"] == {"ok": True}  # no address for anyone
